//! What the runtime is asked to bring up: the parts of the configuration the data plane
//! needs, in plain types, so the runtime does not depend on the config file's shape.

use crate::config::Ipv4Net;
use std::net::Ipv4Addr;

/// One data port.
#[derive(Clone, Debug)]
pub struct PortPlan {
    /// Operator's name for the port ("ext").
    pub name: String,
    /// DPDK device string (vdev args or PCI address).
    pub device: String,
    /// Local addresses with their prefix lengths (connected routes follow from them).
    pub addrs: Vec<Ipv4Net>,
    /// VIPs answered for by ARP on this port (phase 3 services).
    pub vips: Vec<Ipv4Addr>,
    /// Kernel interface name for the exception path, if enabled.
    pub tap: Option<String>,
    /// MTU.
    pub mtu: u16,
    /// Accept any destination MAC at the NIC.
    pub promiscuous: bool,
    /// RX descriptors per queue.
    pub rx_desc: u16,
    /// TX descriptors per queue.
    pub tx_desc: u16,
}

/// One static route.
#[derive(Clone, Debug)]
pub struct RoutePlan {
    /// Destination prefix.
    pub prefix: Ipv4Net,
    /// Next hop (None: on-link).
    pub via: Option<Ipv4Addr>,
    /// Index of the outgoing port in [`Plan::ports`].
    pub port: usize,
}

/// Everything the runtime brings up.
#[derive(Clone, Debug)]
pub struct Plan {
    /// EAL arguments (without argv[0]).
    pub eal_args: Vec<String>,
    /// Data ports, in config order (their index is the `PortIdx`).
    pub ports: Vec<PortPlan>,
    /// One worker per listed core.
    pub worker_cores: Vec<usize>,
    /// Core for the management thread (the main thread pins itself there), if any.
    pub mgmt_core: Option<usize>,
    /// Static routes.
    pub routes: Vec<RoutePlan>,
    /// Mbufs in the packet pool.
    pub mbufs: u32,
    /// Per-lcore mbuf cache.
    pub mbuf_cache: u32,
    /// Send gratuitous ARP for local addresses and VIPs at start.
    pub gratuitous_arp: bool,
}

impl Plan {
    /// The data-plane part of a validated configuration. The `[[port]]` devices are
    /// appended to the EAL arguments (`--vdev` / `-a`), because some PMDs (net_pcap) can
    /// only be created at EAL init; exception-path taps are hot-plugged later, once the
    /// port's MAC is known.
    pub fn from_config(cfg: &crate::config::Config) -> Plan {
        let ports = cfg
            .ports
            .iter()
            .map(|p| PortPlan {
                name: p.name.clone(),
                device: p.device.to_string(),
                addrs: p.addresses.clone(),
                vips: vips_of(cfg, &p.name),
                tap: p.exception_path.as_ref().map(|e| e.tap_name.clone()),
                mtu: p.mtu,
                promiscuous: p.promiscuous,
                rx_desc: p.rx_desc,
                tx_desc: p.tx_desc,
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
                .chain(cfg.ports.iter().flat_map(|p| p.device.eal_args()))
                .collect(),
            ports,
            worker_cores: cfg.cores.workers.clone(),
            mgmt_core: Some(cfg.cores.management),
            routes,
            mbufs: cfg.tables.mbufs,
            mbuf_cache: cfg.tables.mbuf_cache,
            gratuitous_arp: cfg.settings.gratuitous_arp,
        }
    }
}

/// The VIPs a port answers ARP for: those of the address services whose ARP port it is,
/// and the single addresses (/32 rules) of the marks of mark services whose ARP port it is.
fn vips_of(cfg: &crate::config::Config, port: &str) -> Vec<Ipv4Addr> {
    let mut vips = Vec::new();
    for s in cfg
        .services
        .iter()
        .filter(|s| s.arp_port.as_deref() == Some(port))
    {
        match s.key {
            crate::config::ServiceKey::Addr { vip, .. } => vips.push(vip),
            crate::config::ServiceKey::Mark(m) => vips.extend(
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
        let cfg = crate::config::Config::from_str_named(&text, "lab-tun.toml").unwrap();
        let plan = Plan::from_config(&cfg);
        let vips = &plan.ports[0].vips;
        assert!(vips.contains(&Ipv4Addr::new(192, 0, 2, 77)), "{vips:?}");
        assert!(vips.contains(&Ipv4Addr::new(192, 0, 2, 10)), "{vips:?}");
    }
}
