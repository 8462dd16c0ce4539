//! `ipvsadm -S [-n]` / `ipvsadm-save [-n]`: the table as commands `ipvsadm -R` (and
//! `rvsadm -R`) reads back (IPVSADM.md §4). ipvsadm 1.31's `print_service_entry` with
//! `FMT_RULE`: no header; services always in ipvsadm's sorted order (`-S` takes no
//! `--nosort`); per service one `-A` line, then its `-a` lines.
//!
//! `-A <svc> -s <sched>[ -p <timeout>[ -M <mask>]][ -o][ -b <flags>]`: the mask only for
//! a persistent service whose mask is not /32, `-b` by the scheduler's flag names.
//! `-a <svc> -r <dest> -g|-i|-m -w <weight>`, a tunnel dest followed by ` --tun-type ipip`
//! (ipvsadm 1.31 writes the tunnel type of every `-i` dest; rvs tunnels are IPIP).
//! Thresholds (`-x`/`-y`), timeouts and counters are not saved, as ipvsadm. Without `-n`
//! hosts and ports are written as names (ipvsadm does: `-A -t www.example.com:http`).

use super::names::Names;
use super::services::{mask_text, proto_of, sched_flag_text};
use super::sort::listing_order;
use crate::ctl::views::{MethodView, ServiceKeyView, ServiceView};
use std::fmt::Write;

/// The save text of `list`; `numeric` = `-n`.
pub fn save(list: &[ServiceView], numeric: bool) -> String {
    let mut names = Names::new(numeric);
    let mut out = String::new();
    for s in listing_order(list, true) {
        let proto = proto_of(&s.spec.key);
        let svc = match s.spec.key {
            ServiceKeyView::Tcp { vip, port } => {
                format!("-t {}", names.addr_port(vip, port, proto))
            }
            ServiceKeyView::Udp { vip, port } => {
                format!("-u {}", names.addr_port(vip, port, proto))
            }
            ServiceKeyView::Fwmark { mark } => format!("-f {mark}"),
        };
        let _ = write!(out, "-A {svc} -s {}", s.spec.scheduler);
        if let Some(timeout) = s.spec.persistent {
            let _ = write!(out, " -p {timeout}");
            if let Some(mask) = mask_text(s.spec.netmask) {
                let _ = write!(out, " -M {mask}");
            }
        }
        if s.spec.ops {
            out.push_str(" -o");
        }
        if let Some(flags) = sched_flag_text(&s.spec) {
            let _ = write!(out, " -b {flags}");
        }
        out.push('\n');
        for d in &s.dests {
            let method = match d.method {
                MethodView::Nat => "-m",
                MethodView::Dr => "-g",
                MethodView::Tun => "-i",
            };
            let _ = write!(
                out,
                "-a {svc} -r {} {method} -w {}",
                names.addr_port(d.addr, d.port, proto),
                d.weight
            );
            if d.method == MethodView::Tun {
                out.push_str(" --tun-type ipip");
            }
            out.push('\n');
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adm::format::services::tests::{dst, sample, svc, tcp};

    #[test]
    fn save_format_as_ipvsadm_md_4() {
        let mut list = sample();
        list[0]
            .dests
            .push(dst("192.168.10.6", 0, MethodView::Tun, 3));
        assert_eq!(
            save(&list, true),
            "-A -t 207.175.44.110:80 -s wlc -p 300 -M 255.255.255.0\n\
             -a -t 207.175.44.110:80 -r 192.168.10.1:80 -m -w 1\n\
             -a -t 207.175.44.110:80 -r 192.168.10.2:80 -m -w 2\n\
             -A -u 10.0.0.1:53 -s sh -b sh-fallback,sh-port\n\
             -a -u 10.0.0.1:53 -r 10.0.1.1:53 -g -w 1\n\
             -A -f 1 -s rr\n\
             -a -f 1 -r 192.168.10.5:0 -i -w 1 --tun-type ipip\n\
             -a -f 1 -r 192.168.10.6:0 -i -w 3 --tun-type ipip\n"
        );
    }

    #[test]
    fn ops_flags_and_what_is_not_saved() {
        let mut s = svc(
            ServiceKeyView::Udp {
                vip: "203.0.113.10".parse().unwrap(),
                port: 5060,
            },
            "rr",
        );
        s.spec.persistent = Some(360);
        s.spec.ops = true;
        s.spec.flags = vec!["flag-2".into()];
        let mut d = dst("192.0.2.11", 5060, MethodView::Nat, 0);
        d.u_threshold = 100;
        d.l_threshold = 50;
        s.dests = vec![d];
        // /32 mask not written; -o before -b; thresholds never saved; weight 0 kept.
        assert_eq!(
            save(&[s], true),
            "-A -u 203.0.113.10:5060 -s rr -p 360 -o -b flag-2\n\
             -a -u 203.0.113.10:5060 -r 192.0.2.11:5060 -m -w 0\n"
        );
        // A mask is written only for a persistent service.
        let mut t = svc(tcp("203.0.113.10", 80), "wlc");
        t.spec.netmask = "255.255.255.0".parse().unwrap();
        assert_eq!(save(&[t], true), "-A -t 203.0.113.10:80 -s wlc\n");
    }

    #[test]
    fn without_n_names_are_written() {
        let http = crate::adm::format::testdata::getent_name("services", "80/tcp")
            .unwrap_or_else(|| "80".into());
        let s = svc(tcp("203.0.113.10", 80), "wlc");
        assert_eq!(
            save(&[s], false),
            format!("-A -t 203.0.113.10:{http} -s wlc\n")
        );
    }
}
