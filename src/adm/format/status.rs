//! rvs's own listings, which ipvsadm has no counterpart for: `rvsadm status` (ports,
//! link, workers, per-reason drops, connection-table fill, uptime, version),
//! `rvsadm vip list` and `rvsadm mark list`. Plain aligned text for people; scripts use
//! `--json` ([`super::json`]).

use crate::ctl::views::{MarkRuleView, StatusView, VipView};
use std::fmt::Write;

/// `rvsadm status` as text. Sections in a fixed order; counters by name in name order;
/// only non-zero per-worker counters and drops (as rvsd reports them).
pub fn status(s: &StatusView) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "rvsd {}", s.version);
    let _ = writeln!(out, "config:      {}", s.config_file);
    let _ = writeln!(
        out,
        "uptime:      {} ({} s)",
        uptime(s.uptime_secs),
        s.uptime_secs
    );
    let _ = writeln!(out, "services:    {}", s.services);
    let _ = writeln!(
        out,
        "connections: {} of {} ({})",
        s.conns,
        s.max_conns,
        fill(s.conns, s.max_conns)
    );
    let _ = writeln!(out, "ports:");
    if s.ports.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for p in &s.ports {
        let speed = if p.speed_mbps == 0 {
            "speed unknown".to_string()
        } else {
            format!("{} Mbit/s", p.speed_mbps)
        };
        let _ = writeln!(
            out,
            "  {} {} {} link {} {}",
            p.name,
            p.device,
            p.mac,
            if p.link_up { "up" } else { "down" },
            speed
        );
        let _ = writeln!(
            out,
            "    rx {}  tx {}  imissed {}  rx_nombuf {}  oerrors {}",
            p.ipackets, p.opackets, p.imissed, p.rx_nombuf, p.oerrors
        );
    }
    let _ = writeln!(out, "workers:");
    if s.workers.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    for w in &s.workers {
        let _ = writeln!(out, "  worker {} on core {}", w.id, w.core);
        let width = w.counters.keys().map(String::len).max().unwrap_or(0);
        for (name, v) in &w.counters {
            let _ = writeln!(out, "    {name:<width$} {v}");
        }
    }
    let _ = writeln!(out, "drops:");
    if s.drops.is_empty() {
        let _ = writeln!(out, "  (none)");
    }
    let width = s.drops.keys().map(String::len).max().unwrap_or(0);
    for (name, v) in &s.drops {
        let _ = writeln!(out, "  {name:<width$} {v}");
    }
    health(&mut out, s);
    out
}

/// The `health:` section (only when some service has health checks): one line per real
/// server: service, server, state, effective/configured weight, checker, failures, last
/// result.
fn health(out: &mut String, s: &StatusView) {
    if s.health.is_empty() {
        return;
    }
    let _ = writeln!(out, "health:");
    for h in &s.health {
        let svc = crate::mgmt::state::key_text(&h.service);
        let weight = h
            .weight
            .map_or_else(|| "out".to_string(), |w| w.to_string());
        let _ = writeln!(
            out,
            "  {svc} -> {}:{}{} {} weight {weight}/{} {} failures {}{}",
            h.addr,
            h.port,
            if h.sorry { " (sorry server)" } else { "" },
            h.health.state,
            h.health.configured_weight,
            h.health.checker.as_deref().unwrap_or("-"),
            h.health.consecutive_failures,
            h.health
                .last_result
                .as_deref()
                .map_or_else(String::new, |r| format!(": {r}"))
        );
    }
}

/// `3d 04:05:06`, or `04:05:06` under a day.
fn uptime(secs: u64) -> String {
    let (d, rem) = (secs / 86_400, secs % 86_400);
    let hms = format!("{:02}:{:02}:{:02}", rem / 3600, rem % 3600 / 60, rem % 60);
    if d > 0 {
        format!("{d}d {hms}")
    } else {
        hms
    }
}

/// Table fill as a percentage with one decimal (integer arithmetic: no rounding up to
/// a full table that is not full).
fn fill(used: u64, cap: u64) -> String {
    if cap == 0 {
        return "no table".into();
    }
    let permille = (u128::from(used) * 1000 / u128::from(cap)) as u64;
    format!("{}.{}% full", permille / 10, permille % 10)
}

/// `rvsadm vip list`: one `ADDRESS PORT` line each, in the given order.
pub fn vips(list: &[VipView]) -> String {
    let mut out = String::new();
    for v in list {
        let _ = writeln!(out, "{:<15} {}", v.addr, v.port);
    }
    out
}

/// `rvsadm mark list`: one line each, in `rvsadm mark add`'s own words, so a line can
/// be pasted back after `rvsadm mark add`.
pub fn mark_rules(list: &[MarkRuleView]) -> String {
    let mut out = String::new();
    for r in list {
        let _ = write!(out, "{} --vip {}", r.mark, r.vip);
        if let Some(p) = &r.protocol {
            let _ = write!(out, " --protocol {p}");
        }
        if let Some(p) = &r.ports {
            let _ = write!(out, " --ports {p}");
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::views::{PortView, WorkerView};
    use std::collections::BTreeMap;

    #[test]
    fn status_text_shows_every_part() {
        let mut counters = BTreeMap::new();
        counters.insert("rx_pkts".to_string(), 1200u64);
        counters.insert("drop_no_service".to_string(), 3u64);
        let mut drops = BTreeMap::new();
        drops.insert("drop_no_service".to_string(), 3u64);
        drops.insert("drop_martian_source".to_string(), 1u64);
        let s = StatusView {
            version: "0.1.0 (git abc1234)".into(),
            uptime_secs: 93_784,
            ports: vec![PortView {
                name: "lan".into(),
                device: "net_null0".into(),
                mac: "02:00:00:00:00:01".into(),
                link_up: true,
                speed_mbps: 10_000,
                ipackets: 1200,
                opackets: 1100,
                imissed: 0,
                rx_nombuf: 0,
                oerrors: 2,
            }],
            workers: vec![WorkerView {
                id: 0,
                core: 1,
                counters,
            }],
            drops,
            conns: 1,
            max_conns: 3,
            services: 2,
            config_file: "/etc/rvs/rvs.toml".into(),
            health: vec![],
        };
        assert_eq!(
            status(&s),
            "rvsd 0.1.0 (git abc1234)\n\
             config:      /etc/rvs/rvs.toml\n\
             uptime:      1d 02:03:04 (93784 s)\n\
             services:    2\n\
             connections: 1 of 3 (33.3% full)\n\
             ports:\n\
             \x20 lan net_null0 02:00:00:00:00:01 link up 10000 Mbit/s\n\
             \x20   rx 1200  tx 1100  imissed 0  rx_nombuf 0  oerrors 2\n\
             workers:\n\
             \x20 worker 0 on core 1\n\
             \x20   drop_no_service 3\n\
             \x20   rx_pkts         1200\n\
             drops:\n\
             \x20 drop_martian_source 1\n\
             \x20 drop_no_service     3\n"
        );
    }

    #[test]
    fn empty_parts_say_none() {
        let s = StatusView {
            version: "v".into(),
            uptime_secs: 5,
            ports: vec![],
            workers: vec![],
            drops: BTreeMap::new(),
            conns: 0,
            max_conns: 0,
            services: 0,
            config_file: "c".into(),
            health: vec![],
        };
        let t = status(&s);
        assert!(t.contains("uptime:      00:00:05 (5 s)\n"));
        assert!(t.contains("connections: 0 of 0 (no table)\n"));
        assert!(t.contains("ports:\n  (none)\nworkers:\n  (none)\ndrops:\n  (none)\n"));
    }

    #[test]
    fn vip_and_mark_lists() {
        let v = [VipView {
            addr: "203.0.113.10".parse().unwrap(),
            port: "lan".into(),
        }];
        assert_eq!(vips(&v), "203.0.113.10    lan\n");
        let r = [
            MarkRuleView {
                mark: 1,
                protocol: Some("tcp".into()),
                vip: "203.0.113.0/24".into(),
                ports: Some("8000-8099".into()),
            },
            MarkRuleView {
                mark: 2,
                protocol: None,
                vip: "203.0.113.9/32".into(),
                ports: None,
            },
        ];
        assert_eq!(
            mark_rules(&r),
            "1 --vip 203.0.113.0/24 --protocol tcp --ports 8000-8099\n2 --vip 203.0.113.9/32\n"
        );
    }
}
