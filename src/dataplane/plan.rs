//! What the runtime is asked to bring up: the parts of the configuration the data plane
//! needs, in plain types, so the runtime does not depend on the config file's shape.

use crate::wire::Ipv4Net;
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
    /// MAC to set on the device at start (None: the device's own).
    pub mac: Option<[u8; 6]>,
}

/// One VLAN sub-interface (`[[vlan]]`): a logical port whose index follows the physical
/// ports' (`Plan::ports.len() + its position in Plan::vlans`).
#[derive(Clone, Debug)]
pub struct VlanPlan {
    /// Operator's name ("v100").
    pub name: String,
    /// Index in [`Plan::ports`] of the physical port carrying its tagged frames.
    pub parent: usize,
    /// 802.1Q VLAN id, 1..4094.
    pub id: u16,
    /// Local addresses with their prefix lengths.
    pub addrs: Vec<Ipv4Net>,
    /// Kernel interface name of its exception path (untagged frames), if enabled.
    pub tap: Option<String>,
}

/// One static route.
#[derive(Clone, Debug)]
pub struct RoutePlan {
    /// Destination prefix.
    pub prefix: Ipv4Net,
    /// Next hop (None: on-link).
    pub via: Option<Ipv4Addr>,
    /// Index of the outgoing port (physical, or `ports.len() + i` for the i-th VLAN).
    pub port: usize,
}

/// Everything the runtime brings up.
#[derive(Clone, Debug)]
pub struct Plan {
    /// EAL arguments (without argv[0]).
    pub eal_args: Vec<String>,
    /// Physical data ports, in config order (their index is the `PortIdx`).
    pub ports: Vec<PortPlan>,
    /// VLAN sub-interfaces: `PortIdx` `ports.len() + i` for the i-th.
    pub vlans: Vec<VlanPlan>,
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
    /// Bytes of data per mbuf after the headroom (`[tables] mbuf_data_room`).
    pub mbuf_data_room: u32,
    /// Send gratuitous ARP for local addresses and VIPs at start.
    pub gratuitous_arp: bool,
    /// Neighbour timers and limits (`[neighbour]`).
    pub neigh: crate::net::NeighParams,
    /// Static neighbours (address, MAC).
    pub static_neighbours: Vec<(Ipv4Addr, [u8; 6])>,
    /// What is routed besides load-balancer traffic (`[routing] transit`, `inside`).
    pub transit: crate::net::Transit,
    /// Addresses whose next hops are resolved at start: the configured real servers and
    /// the routes' gateways.
    pub prime: Vec<Ipv4Addr>,
    /// Each worker's reassembly bounds (`[fragments]`, scaled to the pool).
    pub reasm: super::reasm::ReasmParams,
}
