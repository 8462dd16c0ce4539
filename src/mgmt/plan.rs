//! Turns a validated configuration into the data plane's [`Plan`] (what to bring up, in
//! plain types): the one place where config values become runtime values for `dataplane`,
//! so neither `dataplane` nor `net` imports `config`.

use crate::config::{Config, ServiceKey};
use crate::dataplane::{Plan, PortPlan, RoutePlan, VlanPlan};
use crate::net::{NeighParams, NetTables, Route};
use crate::wire::Ipv4Net;
use std::net::Ipv4Addr;

/// The data-plane part of a validated configuration. The `[[port]]` devices are
/// appended to the EAL arguments (`--vdev` / `-a`), because some PMDs (net_pcap) can
/// only be created at EAL init; exception-path taps are hot-plugged later, once the
/// port's MAC is known.
pub fn plan(cfg: &Config) -> Plan {
    let ports = cfg
        .physical_ports()
        .iter()
        .map(|p| PortPlan {
            name: p.name.clone(),
            device: p.device.to_string(),
            addrs: p.addresses.clone(),
            tap: p.exception_path.as_ref().map(|e| e.tap_name.clone()),
            mtu: p.mtu,
            promiscuous: p.promiscuous,
            rx_desc: p.rx_desc,
            tx_desc: p.tx_desc,
            mac: p.mac,
        })
        .collect();
    let routes = cfg
        .routes
        .iter()
        .filter_map(|r| {
            let port = cfg.ports.iter().position(|p| p.name == r.port)?;
            Some(RoutePlan {
                prefix: r.prefix,
                via: r.via,
                port,
            })
        })
        .collect();
    Plan {
        eal_args: cfg
            .eal
            .args
            .iter()
            .cloned()
            .chain(
                cfg.physical_ports()
                    .iter()
                    .flat_map(|p| p.device.eal_args()),
            )
            .collect(),
        ports,
        vlans: cfg
            .ports
            .iter()
            .filter_map(|p| {
                p.vlan.map(|v| VlanPlan {
                    name: p.name.clone(),
                    parent: v.parent,
                    id: v.id,
                    addrs: p.addresses.clone(),
                    tap: p.exception_path.as_ref().map(|e| e.tap_name.clone()),
                })
            })
            .collect(),
        worker_cores: cfg.cores.workers.clone(),
        mgmt_core: Some(cfg.cores.management),
        routes,
        mbufs: cfg.tables.mbufs,
        mbuf_cache: cfg.tables.mbuf_cache,
        mbuf_data_room: cfg.tables.mbuf_data_room,
        gratuitous_arp: cfg.settings.gratuitous_arp,
        neigh: neigh_params(&cfg.neighbour),
        static_neighbours: cfg
            .neighbour
            .statics
            .iter()
            .map(|s| (s.addr, s.mac))
            .collect(),
        prime: prime_of(cfg),
        transit: crate::net::Transit::new(
            cfg.routing.transit,
            cfg.ports.iter().map(|p| p.inside).collect(),
        ),
        reasm: reasm_params(cfg),
    }
}

/// Bytes one held fragment costs with the default pool: its mbuf's buffer (DPDK's
/// `RTE_MBUF_DEFAULT_BUF_SIZE`, 2048 bytes of data room + 128 of headroom); with
/// `[tables] mbuf_data_room` set, that room + 128.
pub const FRAG_TRUESIZE: u64 = 2048 + 128;

/// Each worker's reassembly bounds from `[fragments]`, scaled down so that all workers'
/// tables together never hold more than a quarter of the mbuf pool (the rest must keep
/// the RX rings filled): thresholds in bytes of mbufs, like Linux's truesize.
pub fn reasm_params(cfg: &Config) -> crate::dataplane::reasm::ReasmParams {
    let f = &cfg.fragments;
    let workers = cfg.cores.workers.len().max(1) as u64;
    let truesize = u64::from(cfg.tables.mbuf_data_room) + 128;
    let pool_share = u64::from(cfg.tables.mbufs) / 4 / workers * truesize;
    let high = f.ipfrag_high_thresh.min(pool_share);
    crate::dataplane::reasm::ReasmParams {
        high_thresh: high,
        low_thresh: f.ipfrag_low_thresh.min(high),
        source_thresh: f.ipfrag_source_thresh.min(high),
        time_secs: f.ipfrag_time,
        truesize,
    }
}

/// The data plane's neighbour parameters from `[neighbour]`: milliseconds rounded up to
/// whole seconds (the worker clock's unit).
pub fn neigh_params(n: &crate::config::Neighbour) -> NeighParams {
    NeighParams {
        reachable_secs: n.base_reachable_time_ms.div_ceil(1000),
        delay_first_probe_secs: n.delay_first_probe_time,
        retrans_secs: n.retrans_time_ms.div_ceil(1000).max(1),
        ucast_solicit: n.ucast_solicit,
        mcast_resolicit: n.mcast_resolicit,
        mcast_solicit: n.mcast_solicit,
        gc_stale_secs: n.gc_stale_time,
        unres_qlen: n.unres_qlen,
    }
}

/// The addresses whose next hops a worker asks for at start: route gateways and real
/// servers, each once, in file order.
fn prime_of(cfg: &Config) -> Vec<Ipv4Addr> {
    let mut out: Vec<Ipv4Addr> = Vec::new();
    let reals = cfg
        .services
        .iter()
        .flat_map(|s| s.reals.iter().map(|r| r.addr));
    for a in cfg.routes.iter().filter_map(|r| r.via).chain(reals) {
        if !out.contains(&a) {
            out.push(a);
        }
    }
    out
}

/// The VIP/route tables workers start with: each port's VIPs ([`vips_of`]), its
/// connected routes (from its addresses) and the static `[[route]]`s.
pub fn net_tables(cfg: &Config) -> NetTables {
    let mut routes = Vec::new();
    for (i, p) in cfg.ports.iter().enumerate() {
        for a in &p.addresses {
            routes.push(Route {
                prefix: Ipv4Net {
                    addr: a.network(),
                    len: a.len,
                },
                via: None,
                port: i as u8,
            });
        }
    }
    for r in &cfg.routes {
        if let Some(port) = cfg.ports.iter().position(|p| p.name == r.port) {
            routes.push(Route {
                prefix: r.prefix,
                via: r.via,
                port: port as u8,
            });
        }
    }
    let mut t = NetTables::new(cfg.ports.len(), routes);
    for (i, p) in cfg.ports.iter().enumerate() {
        for vip in vips_of(cfg, &p.name) {
            t.add_vip(i as u8, vip, 0);
        }
    }
    t
}

/// The VIPs a port answers ARP for: those of the address services whose ARP port it is,
/// and the single addresses (/32 rules) of the marks of mark services whose ARP port it is.
fn vips_of(cfg: &Config, port: &str) -> Vec<Ipv4Addr> {
    let mut vips = Vec::new();
    for s in cfg
        .services
        .iter()
        .filter(|s| s.arp_port.as_deref() == Some(port))
    {
        match s.key {
            ServiceKey::Addr { vip, .. } => vips.push(vip),
            ServiceKey::Mark(m) => vips.extend(
                cfg.marks
                    .iter()
                    .filter(|mk| mk.mark == m)
                    .flat_map(|mk| mk.rules.iter())
                    .filter(|r| r.vip.len == 32)
                    .map(|r| r.vip.addr),
            ),
        }
    }
    vips.sort();
    vips.dedup();
    vips
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mark_only_vips_are_answered_for_on_their_port() {
        let text = std::fs::read_to_string("configs/lab-tun.toml").unwrap();
        // Move the mark rules to a VIP no address service uses.
        let text = text.replace(
            "{ proto = \"udp\", vip = \"192.0.2.10\"",
            "{ proto = \"udp\", vip = \"192.0.2.77\"",
        );
        let cfg = Config::from_str_named(&text, "lab-tun.toml").unwrap();
        let vips: Vec<Ipv4Addr> = net_tables(&cfg).vips(0).iter().map(|v| v.addr).collect();
        assert!(vips.contains(&Ipv4Addr::new(192, 0, 2, 77)), "{vips:?}");
        assert!(vips.contains(&Ipv4Addr::new(192, 0, 2, 10)), "{vips:?}");
    }

    #[test]
    fn neighbour_limits_agree_with_the_data_plane_and_prime_lists_reals_and_gateways() {
        assert_eq!(
            crate::config::MAX_UNRES_QLEN as usize,
            crate::dataplane::unres::HOLD_SLOTS
        );
        let text = std::fs::read_to_string("configs/lab-appliance.toml").unwrap();
        let cfg = Config::from_str_named(&text, "lab-appliance.toml").unwrap();
        let gws: Vec<Ipv4Addr> = cfg.routes.iter().filter_map(|r| r.via).collect();
        assert!(!gws.is_empty());
        assert_eq!(plan(&cfg).prime, gws);
        let text = std::fs::read_to_string("configs/lab-nat.toml").unwrap();
        let cfg = Config::from_str_named(&text, "lab-nat.toml").unwrap();
        let p = plan(&cfg);
        assert_eq!(
            p.prime,
            [11, 12, 13].map(|d| Ipv4Addr::new(192, 0, 2, d)).to_vec()
        );
        assert_eq!(p.neigh, NeighParams::default(), "Linux defaults");
    }
}
