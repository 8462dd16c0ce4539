//! `ipvsadm -L -c` (`-Lnc`, `-Lc --persistent-conn`): ipvsadm 1.31's `list_conn` /
//! `print_conn` layout (IPVSADM.md §3.5). ipvsadm reads /proc/net/ip_vs_conn and prints
//! its entries in the kernel's hash order, unsorted; rvs prints them in the order rvsd
//! returns them. No version line.

use super::names::{Names, Proto};
use crate::adm::cmd::ListOpts;
use crate::ctl::views::ConnView;
use std::fmt::Write;

/// The connection table as `ipvsadm -L -c [-n]` prints it. With `--persistent-conn`
/// the title gains ipvsadm's `pe name` and `pe_data` columns; rows carry them only for
/// entries with persistence-engine data, which rvs never has (no `--pe`), so rows keep the
/// plain layout, as ipvsadm's rows for such entries.
pub fn conns(list: &[ConnView], opts: &ListOpts) -> String {
    let mut out = String::from("IPVS connection entries\n");
    if opts.persistent_conn {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} {:<18} {:<16} pe_data",
            "state", "source", "virtual", "destination", "pe name"
        );
    } else {
        let _ = writeln!(
            out,
            "pro expire {:<11} {:<18} {:<18} destination",
            "state", "source", "virtual"
        );
    }
    let mut names = Names::new(opts.numeric);
    for c in list {
        let proto = Proto::of_conn_column(&c.protocol);
        let source = names.addr_port(c.client_addr, c.client_port, proto);
        let virt = names.addr_port(c.vaddr, c.vport, proto);
        let dest = names.addr_port(c.daddr, c.dport, proto);
        let _ = writeln!(
            out,
            "{:<3} {:<6} {:<11} {source:<18} {virt:<18} {dest}",
            c.protocol,
            expire(c.expires_secs),
            c.state
        );
    }
    out
}

/// `%02d:%02d` of minutes and seconds (minutes unbounded: `180:03`).
fn expire(secs: u32) -> String {
    format!("{:02}:{:02}", secs / 60, secs % 60)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adm::format::testdata::{oracle_blocks, parse_conn_rows};

    fn numeric() -> ListOpts {
        ListOpts {
            numeric: true,
            ..ListOpts::default()
        }
    }

    #[test]
    fn every_recorded_lnc_listing_is_reproduced_byte_for_byte() {
        // Every `IPVS connection entries` block ipvsadm 1.31 printed in the oracle
        // recordings (NAT, DR, templates, UDP, after --set): parse its rows into
        // ConnViews, format them, compare the whole text.
        let mut checked = 0;
        for block in oracle_blocks("IPVS connection entries") {
            let rows = parse_conn_rows(&block);
            assert_eq!(conns(&rows, &numeric()), block, "block:\n{block}");
            checked += 1;
        }
        assert!(checked >= 20, "only {checked} -Lnc listings found");
    }

    #[test]
    fn long_minutes_and_templates() {
        let c = ConnView {
            protocol: "TCP".into(),
            client_addr: "198.51.100.0".parse().unwrap(),
            client_port: 0,
            vaddr: "203.0.113.1".parse().unwrap(),
            vport: 82,
            daddr: "192.0.2.2".parse().unwrap(),
            dport: 82,
            state: "NONE".into(),
            expires_secs: 180 * 60 + 3,
            template: true,
        };
        assert_eq!(
            conns(&[c], &numeric()),
            "IPVS connection entries\n\
             pro expire state       source             virtual            destination\n\
             TCP 180:03 NONE        198.51.100.0:0     203.0.113.1:82     192.0.2.2:82\n"
        );
    }

    #[test]
    fn persistent_conn_title_has_the_pe_columns() {
        let opts = ListOpts {
            persistent_conn: true,
            ..numeric()
        };
        assert_eq!(
            conns(&[], &opts),
            "IPVS connection entries\n\
             pro expire state       source             virtual            destination        pe name          pe_data\n"
        );
    }
}
