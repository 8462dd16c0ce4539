//! `ipvsadm -L`/`-l` (`-Ln`, `--stats`, `--rate`, `--thresholds`, `--persistent-conn`,
//! `--exact`, `-L -t|-u|-f service`): ipvsadm 1.31's `list_all`/`list_service`,
//! `print_title` and `print_service_entry` layouts (IPVSADM.md §3.1-3.4), byte for byte
//! (real-server lines keep their trailing padding).

use super::names::{truncate, Names, Proto};
use super::num::largenum;
use super::sort::listing_order;
use super::{Layout, CONN_TAB_SIZE, IPVS_VERSION};
use crate::adm::cmd::ListOpts;
use crate::ctl::views::{DestView, MethodView, ServiceKeyView, ServiceSpec, ServiceView};
use std::fmt::Write;
use std::net::Ipv4Addr;

/// IP_VS_SVC_F_SCHED1: `sh-fallback`, `mh-fallback`, `flag-1`.
const SCHED1: u8 = 1;
/// IP_VS_SVC_F_SCHED2: `sh-port`, `mh-port`, `flag-2`.
const SCHED2: u8 = 2;
/// IP_VS_SVC_F_SCHED3: `flag-3`.
const SCHED3: u8 = 4;

/// The whole table (`ipvsadm -L [-n] [...]`): the `IP Virtual Server version` line, the
/// column titles, then every service and its real servers in ipvsadm's order.
pub fn services(list: &[ServiceView], opts: &ListOpts) -> String {
    let mut out = format!("IP Virtual Server version {IPVS_VERSION} (size={CONN_TAB_SIZE})\n");
    let layout = Layout::of(opts);
    out.push_str(&title(layout));
    let mut names = Names::new(opts.numeric);
    for s in listing_order(list, opts.sort) {
        service_entry(&mut out, &s, layout, opts.exact, &mut names);
    }
    out
}

/// One service (`ipvsadm -L -t VIP:port [...]`): titles and the service (the list rvsd
/// returns for one key: one service), no version line.
pub fn service(list: &[ServiceView], opts: &ListOpts) -> String {
    let layout = Layout::of(opts);
    let mut out = title(layout);
    let mut names = Names::new(opts.numeric);
    for s in &listing_order(list, opts.sort) {
        service_entry(&mut out, s, layout, opts.exact, &mut names);
    }
    out
}

/// `print_title`: the two column-title lines of `layout`, built with ipvsadm's widths.
fn title(layout: Layout) -> String {
    const PROT: &str = "Prot LocalAddress:Port";
    const REMOTE: &str = "  -> RemoteAddress:Port";
    match layout {
        Layout::Plain => format!(
            "{PROT} Scheduler Flags\n{REMOTE}           Forward Weight ActiveConn InActConn\n"
        ),
        Layout::TunInfo => format!(
            "{PROT} Scheduler Flags\n{REMOTE}           Forward TunnelInfo    Weight ActiveConn InActConn\n"
        ),
        Layout::Stats => format!(
            "{PROT:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n{REMOTE}\n",
            "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        ),
        Layout::Rate => format!(
            "{PROT:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n{REMOTE}\n",
            "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        ),
        Layout::Thresholds => format!(
            "{PROT:<33} {:<10} {:<10} {:<10} {:<10}\n{REMOTE}\n",
            "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        ),
        Layout::PersistentConn => format!(
            "{PROT:<33} {:<9} {:<11} {:<10} {:<10}\n{REMOTE}\n",
            "Weight", "PersistConn", "ActiveConn", "InActConn"
        ),
    }
}

/// The protocol a service's ports are named for. IPVS reports no protocol for a fwmark
/// service, so ipvsadm prints its dests' ports as numbers even without `-n`
/// (recorded: `-a -f 1 -r 192.0.2.12:80 -m -w 1` from `ipvsadm -S`).
pub(crate) fn proto_of(key: &ServiceKeyView) -> Proto {
    match key {
        ServiceKeyView::Tcp { .. } => Proto::Tcp,
        ServiceKeyView::Udp { .. } => Proto::Udp,
        ServiceKeyView::Fwmark { .. } => Proto::Other,
    }
}

/// The service column: `TCP  addr:port` (cut to 33 bytes), `UDP  ...`, `FWM  mark`.
fn service_name(key: &ServiceKeyView, names: &mut Names) -> String {
    match *key {
        ServiceKeyView::Tcp { vip, port } => {
            let s = format!("TCP  {}", names.addr_port(vip, port, Proto::Tcp));
            truncate(&s, 33).to_string()
        }
        ServiceKeyView::Udp { vip, port } => {
            let s = format!("UDP  {}", names.addr_port(vip, port, Proto::Udp));
            truncate(&s, 33).to_string()
        }
        ServiceKeyView::Fwmark { mark } => format!("FWM  {mark}"),
    }
}

/// The IP_VS_SVC_F_SCHED* bits of `-b` flag names (IPVS shares the bits: `sh-fallback`,
/// `mh-fallback` and `flag-1` are one bit; unknown names set nothing).
pub(crate) fn sched_bits(flags: &[String]) -> u8 {
    flags.iter().fold(0, |bits, f| {
        bits | match f.as_str() {
            "sh-fallback" | "mh-fallback" | "flag-1" => SCHED1,
            "sh-port" | "mh-port" | "flag-2" => SCHED2,
            "flag-3" => SCHED3,
            _ => 0,
        }
    })
}

/// `print_sched_flags`: the set bits by the scheduler's names, comma-joined. `None` when
/// no bit is set (ipvsadm then prints no flag part at all); an empty string when bits are
/// set that the scheduler has no name for (`sh` with flag-3: ipvsadm prints ` ()`).
pub(crate) fn sched_flag_text(spec: &ServiceSpec) -> Option<String> {
    let bits = sched_bits(&spec.flags);
    if bits == 0 {
        return None;
    }
    let named: &[(u8, &str)] = match spec.scheduler.as_str() {
        "sh" => &[(SCHED1, "sh-fallback"), (SCHED2, "sh-port")],
        "mh" => &[(SCHED1, "mh-fallback"), (SCHED2, "mh-port")],
        _ => &[(SCHED1, "flag-1"), (SCHED2, "flag-2"), (SCHED3, "flag-3")],
    };
    let words: Vec<&str> = named
        .iter()
        .filter(|(bit, _)| bits & bit != 0)
        .map(|(_, name)| *name)
        .collect();
    Some(words.join(","))
}

/// `inet_ntoa` of a persistence mask, `None` for /32 (not printed).
pub(crate) fn mask_text(mask: Ipv4Addr) -> Option<String> {
    (mask != Ipv4Addr::BROADCAST).then(|| mask.to_string())
}

/// ipvsadm's Forward column.
fn forward_name(m: MethodView) -> &'static str {
    match m {
        MethodView::Nat => "Masq",
        MethodView::Dr => "Route",
        MethodView::Tun => "Tunnel",
    }
}

/// `print_service_entry` for a listing: the service line, then its real servers.
fn service_entry(
    out: &mut String,
    s: &ServiceView,
    layout: Layout,
    exact: bool,
    names: &mut Names,
) {
    let svc = service_name(&s.spec.key, names);
    match layout {
        Layout::Stats => {
            let st = &s.stats;
            let _ = write!(out, "{svc:<33}");
            for v in [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes] {
                out.push_str(&largenum(v, exact));
            }
        }
        Layout::Rate => {
            let r = &s.rates;
            let _ = write!(out, "{svc:<33}");
            for v in [r.cps, r.inpps, r.outpps, r.inbps, r.outbps] {
                out.push_str(&largenum(v, exact));
            }
        }
        Layout::Plain | Layout::Thresholds | Layout::PersistentConn | Layout::TunInfo => {
            let _ = write!(out, "{svc} {}", s.spec.scheduler);
            if let Some(flags) = sched_flag_text(&s.spec) {
                let _ = write!(out, " ({flags})");
            }
            if let Some(timeout) = s.spec.persistent {
                let _ = write!(out, " persistent {timeout}");
                if let Some(mask) = mask_text(s.spec.netmask) {
                    let _ = write!(out, " mask {mask}");
                }
            }
            if s.spec.ops {
                out.push_str(" ops");
            }
        }
    }
    out.push('\n');
    let proto = proto_of(&s.spec.key);
    for d in &s.dests {
        dest_entry(out, d, layout, exact, names, proto);
    }
}

/// One real-server line.
fn dest_entry(
    out: &mut String,
    d: &DestView,
    layout: Layout,
    exact: bool,
    names: &mut Names,
    proto: Proto,
) {
    let full = names.addr_port(d.addr, d.port, proto);
    let dname = truncate(&full, 28);
    match layout {
        Layout::Plain => {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<7} {:<6} {:<10} {:<10}",
                forward_name(d.method),
                d.weight,
                d.active_conns,
                d.inactive_conns
            );
        }
        Layout::TunInfo => {
            // ipvsadm's fwd_tun_info: the tunnel type of a tunnel dest (rvs tunnels are
            // IPIP), `n/a` for any other.
            let info = if d.method == MethodView::Tun {
                "ipip"
            } else {
                "n/a"
            };
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<7} {info:<13} {:<6} {:<10} {:<10}",
                forward_name(d.method),
                d.weight,
                d.active_conns,
                d.inactive_conns
            );
        }
        Layout::Stats => {
            let st = &d.stats;
            let _ = write!(out, "  -> {dname:<28}");
            for v in [st.conns, st.inpkts, st.outpkts, st.inbytes, st.outbytes] {
                out.push_str(&largenum(v, exact));
            }
            out.push('\n');
        }
        Layout::Rate => {
            // ipvsadm prints a dest's CPS and packet rates with %8u, never scaled.
            let r = &d.rates;
            let _ = write!(
                out,
                "  -> {dname:<28} {:>8} {:>8} {:>8}",
                r.cps, r.inpps, r.outpps
            );
            out.push_str(&largenum(r.inbps, exact));
            out.push_str(&largenum(r.outbps, exact));
            out.push('\n');
        }
        Layout::Thresholds => {
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<10} {:<10} {:<10} {:<10}",
                d.u_threshold, d.l_threshold, d.active_conns, d.inactive_conns
            );
        }
        Layout::PersistentConn => {
            // %-9u of the weight: a negative weight (never accepted) would print as unsigned.
            let _ = writeln!(
                out,
                "  -> {dname:<28} {:<9} {:<11} {:<10} {:<10}",
                d.weight as u32, d.persistent_conns, d.active_conns, d.inactive_conns
            );
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::adm::format::testdata::{self, getent_name, oracle_blocks, parse_services};

    pub(crate) fn svc(key: ServiceKeyView, sched: &str) -> ServiceView {
        let mut s = testdata::service(key);
        s.spec.scheduler = sched.into();
        s
    }

    pub(crate) fn dst(a: &str, port: u16, method: MethodView, weight: i32) -> DestView {
        DestView {
            method,
            weight,
            ..testdata::dest(a.parse().unwrap(), port)
        }
    }

    pub(crate) fn tcp(a: &str, port: u16) -> ServiceKeyView {
        ServiceKeyView::Tcp {
            vip: a.parse().unwrap(),
            port,
        }
    }

    fn numeric() -> ListOpts {
        ListOpts {
            numeric: true,
            ..ListOpts::default()
        }
    }

    /// IPVSADM.md §3.1's sample table, given in an order ipvsadm's sort must undo.
    pub(crate) fn sample() -> Vec<ServiceView> {
        let mut fwm = svc(ServiceKeyView::Fwmark { mark: 1 }, "rr");
        fwm.dests = vec![dst("192.168.10.5", 0, MethodView::Tun, 1)];
        let mut dns = svc(
            ServiceKeyView::Udp {
                vip: "10.0.0.1".parse().unwrap(),
                port: 53,
            },
            "sh",
        );
        dns.spec.flags = vec!["sh-fallback".into(), "sh-port".into()];
        let mut d = dst("10.0.1.1", 53, MethodView::Dr, 1);
        d.inactive_conns = 4;
        dns.dests = vec![d];
        let mut web = svc(tcp("207.175.44.110", 80), "wlc");
        web.spec.persistent = Some(300);
        web.spec.netmask = "255.255.255.0".parse().unwrap();
        let mut d2 = dst("192.168.10.2", 80, MethodView::Nat, 2);
        d2.active_conns = 3;
        d2.inactive_conns = 12;
        web.dests = vec![d2, dst("192.168.10.1", 80, MethodView::Nat, 1)];
        vec![fwm, dns, web]
    }

    #[test]
    fn plain_listing_as_ipvsadm_md_3_1() {
        // Note the trailing padding of every real-server line (`%-10u` last).
        assert_eq!(
            services(&sample(), &numeric()),
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port Scheduler Flags\n\
             \x20 -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n\
             TCP  207.175.44.110:80 wlc persistent 300 mask 255.255.255.0\n\
             \x20 -> 192.168.10.1:80              Masq    1      0          0         \n\
             \x20 -> 192.168.10.2:80              Masq    2      3          12        \n\
             UDP  10.0.0.1:53 sh (sh-fallback,sh-port)\n\
             \x20 -> 10.0.1.1:53                  Route   1      0          4         \n\
             FWM  1 rr\n\
             \x20 -> 192.168.10.5:0               Tunnel  1      0          0         \n"
        );
    }

    #[test]
    fn every_recorded_numeric_listing_is_reproduced_byte_for_byte() {
        // Each `ipvsadm -Ln [--stats ...]` listing in the oracle recordings, parsed back
        // into views, handed over in reverse order (services and dests), and formatted:
        // the text, ipvsadm's sort included, must be the recording exactly.
        let mut checked = 0;
        for block in oracle_blocks("IP Virtual Server version") {
            let mut views = parse_services(&block);
            views.reverse();
            for v in &mut views {
                v.dests.reverse();
            }
            let opts = ListOpts {
                stats: block.contains("OutBytes\n"),
                rate: block.contains("OutBPS\n"),
                thresholds: block.contains("Uthreshold"),
                persistent_conn: block.contains("PersistConn"),
                exact: true,
                ..numeric()
            };
            assert_eq!(services(&views, &opts), block, "recorded:\n{block}");
            checked += 1;
        }
        assert!(checked >= 5, "only {checked} recorded listings");
    }

    #[test]
    fn stats_and_rate_columns_scale_unless_exact() {
        let mut s = svc(tcp("20.20.20.1", 2020), "wlc");
        s.stats = testdata::stats([401, 8_939_187, 8_953_980, 830_843_000, 1_135_000_000]);
        let mut d = dst("17.17.17.1", 5001, MethodView::Nat, 1);
        d.stats = testdata::stats([134, 3_026_088, 3_031_335, 281_255_000, 384_268_000]);
        s.dests = vec![d];
        let opts = ListOpts {
            stats: true,
            ..numeric()
        };
        // IPVSADM.md §3.2's sample, real output.
        assert_eq!(
            services(std::slice::from_ref(&s), &opts),
            "IP Virtual Server version 1.2.1 (size=4096)\n\
             Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n\
             \x20 -> RemoteAddress:Port\n\
             TCP  20.20.20.1:2020                   401  8939187  8953980  830843K    1135M\n\
             \x20 -> 17.17.17.1:5001                   134  3026088  3031335  281255K  384268K\n"
        );
        let exact = ListOpts {
            exact: true,
            ..opts
        };
        assert!(services(std::slice::from_ref(&s), &exact).contains(
            "TCP  20.20.20.1:2020                   401  8939187  8953980 830843000 1135000000\n"
        ));

        // --rate: a dest's CPS/InPPS/OutPPS are %8u, never scaled; the BPS columns are.
        let mut r = svc(tcp("10.0.0.1", 80), "wlc");
        r.rates = testdata::rates([12, 340, 300, 41_000, 250_000]);
        let mut d = dst("10.0.1.1", 80, MethodView::Nat, 1);
        d.rates = testdata::rates([123_456_789, 170, 150, 200_000_000, 125_000]);
        r.dests = vec![d];
        let rate = ListOpts {
            rate: true,
            ..numeric()
        };
        assert_eq!(
            service(std::slice::from_ref(&r), &rate),
            "Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS\n\
             \x20 -> RemoteAddress:Port\n\
             TCP  10.0.0.1:80                        12      340      300    41000   250000\n\
             \x20 -> 10.0.1.1:80                  123456789      170      150  200000K   125000\n"
        );
    }

    #[test]
    fn thresholds_and_persistent_conn_layouts() {
        let mut s = svc(tcp("10.0.0.1", 443), "wlc");
        s.spec.persistent = Some(360);
        let mut d = dst("10.0.1.1", 443, MethodView::Dr, 1);
        d.u_threshold = 1000;
        d.l_threshold = 750;
        d.active_conns = 3;
        d.inactive_conns = 9;
        d.persistent_conns = 5;
        s.dests = vec![d];
        let th = ListOpts {
            thresholds: true,
            ..numeric()
        };
        assert_eq!(
            service(std::slice::from_ref(&s), &th),
            "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n\
             \x20 -> RemoteAddress:Port\n\
             TCP  10.0.0.1:443 wlc persistent 360\n\
             \x20 -> 10.0.1.1:443                 1000       750        3          9         \n"
        );
        let pc = ListOpts {
            persistent_conn: true,
            ..numeric()
        };
        assert_eq!(
            service(std::slice::from_ref(&s), &pc),
            "Prot LocalAddress:Port            Weight    PersistConn ActiveConn InActConn \n\
             \x20 -> RemoteAddress:Port\n\
             TCP  10.0.0.1:443 wlc persistent 360\n\
             \x20 -> 10.0.1.1:443                 1         5           3          9         \n"
        );
        // Precedence: --stats wins over everything given with it.
        let both = ListOpts {
            stats: true,
            thresholds: true,
            ..numeric()
        };
        assert!(service(std::slice::from_ref(&s), &both)
            .starts_with("Prot LocalAddress:Port               Conns"));
    }

    #[test]
    fn flags_ops_and_unnamed_scheduler_bits() {
        let mut s = svc(
            ServiceKeyView::Udp {
                vip: "203.0.113.10".parse().unwrap(),
                port: 53,
            },
            "rr",
        );
        s.spec.ops = true;
        // As recorded (tests/fixtures/oracle/udp_ops): `UDP  203.0.113.10:53 rr ops`.
        assert!(service(std::slice::from_ref(&s), &numeric())
            .contains("\nUDP  203.0.113.10:53 rr ops\n"));
        s.spec.flags = vec!["flag-1".into(), "flag-3".into()];
        s.spec.persistent = Some(60);
        assert!(service(std::slice::from_ref(&s), &numeric())
            .contains("\nUDP  203.0.113.10:53 rr (flag-1,flag-3) persistent 60 ops\n"));
        // mh names the shared bits its own way; sh has no name for flag-3.
        s.spec.scheduler = "mh".into();
        s.spec.flags = vec!["flag-1".into(), "mh-port".into()];
        assert!(
            service(std::slice::from_ref(&s), &numeric()).contains(" mh (mh-fallback,mh-port) ")
        );
        s.spec.scheduler = "sh".into();
        s.spec.flags = vec!["flag-3".into()];
        assert!(service(std::slice::from_ref(&s), &numeric()).contains(" sh () persistent"));
    }

    #[test]
    fn nosort_keeps_rvsds_order_and_single_service_has_no_version_line() {
        let opts = ListOpts {
            sort: false,
            ..numeric()
        };
        let text = services(&sample(), &opts);
        let firsts: Vec<&str> = text
            .lines()
            .filter(|l| !l.starts_with(' ') && !l.starts_with("Prot") && !l.starts_with("IP "))
            .collect();
        assert_eq!(
            firsts,
            [
                "FWM  1 rr",
                "UDP  10.0.0.1:53 sh (sh-fallback,sh-port)",
                "TCP  207.175.44.110:80 wlc persistent 300 mask 255.255.255.0"
            ]
        );
        assert!(text.contains("192.168.10.2:80              Masq    2      3          12        \n  -> 192.168.10.1:80"));
        let one = service(&sample()[2..], &numeric());
        assert!(one.starts_with("Prot LocalAddress:Port Scheduler Flags\n"));
    }

    #[test]
    fn names_without_n_and_the_28_and_33_byte_cuts() {
        let http = getent_name("services", "80/tcp").unwrap_or_else(|| "80".into());
        let host = getent_name("hosts", "127.0.0.1").unwrap_or_else(|| "127.0.0.1".into());
        let mut s = svc(tcp("127.0.0.1", 80), "rr");
        s.dests = vec![dst("203.0.113.77", 40999, MethodView::Nat, 1)];
        let text = services(&[s], &ListOpts::default());
        let svc_line = format!("TCP  {host}:{http}");
        assert!(
            text.contains(&format!("\n{} rr\n", truncate(&svc_line, 33))),
            "{text}"
        );
        assert!(
            text.contains(
                "\n  -> 203.0.113.77:40999           Masq    1      0          0         \n"
            ),
            "{text}"
        );
        // A name longer than the column is cut, not widened (ipvsadm's dname[28] = 0).
        assert_eq!(
            truncate("1.31.31.31.dyn.idknet.com:5001", 28),
            "1.31.31.31.dyn.idknet.com:50"
        );
    }
}
