//! The scenario table: what traffic each benchmark row offers and what state the loop
//! under test gets. Add a row to [`scenarios`] with a `frames` and a `setup` function;
//! docs/BENCHMARKS.md "Adding a scenario" explains the shape.

use anyhow::{anyhow, Result};
use rvs::dataplane::{LbPath, Views};
use rvs::lb::conn::ConnTable;
use rvs::lb::mark::MarkTable;
use rvs::lb::service::ServiceTable;
use rvs::mgmt::Manager;
use rvs::net::{Ipv4Net, Net, NetTables, PortNet, Route};
use rvs::wire::ethernet::{EtherType, EthernetAddress, EthernetRepr};
use rvs::wire::ipv4::{IpProtocol, Ipv4Repr};
use rvs::wire::udp::UdpPacket;
use std::net::Ipv4Addr;
use std::sync::Mutex;

/// What a scenario can know about its ports when it builds frames and state.
pub struct Lab {
    /// MAC address of each port, by port index: `02:72:76:00:00:<index>`, for `net`
    /// and for frames (ring ports themselves have MAC 0 and do not filter).
    pub macs: Vec<[u8; 6]>,
}

/// One pre-built frame the generator offers on `port`'s RX rings.
pub struct Frame {
    /// Port index the frame arrives on.
    pub port: usize,
    /// The whole Ethernet frame, without FCS.
    pub bytes: Vec<u8>,
    /// When set, the frame is a template rewritten per packet for the next flow of this
    /// walk (LB rows: every connection in the table gets traffic).
    pub walk: Option<super::lb::FlowWalk>,
}

/// What the loop under test needs. Grows with the worker: services, dests and
/// pre-populated connections go here when the load-balancing path lands.
pub struct Setup {
    /// Appliance networking (ports, pre-learnt neighbours): each worker gets a view.
    pub net: Net,
    /// The owner of the published tables (routes, VIPs, services, marks): workers
    /// take their readers from it.
    pub mgr: Mutex<Manager>,
    /// The load-balancing state, for LB scenarios.
    pub lb: Option<super::lb::LbState>,
}

impl Setup {
    /// Worker `index`'s view of the appliance and, in LB scenarios, its LB path.
    pub fn worker_views(&self, index: usize) -> (Net, Option<LbPath>) {
        let mut mgr = self.mgr.lock().expect("bench manager lock");
        let net = self.net.view(mgr.net_reader());
        let lb = match (&self.lb, mgr.lb_views()) {
            (Some(_), Some(v)) => Some(LbPath::new(self.net.view(mgr.net_reader()), v, index)),
            _ => None,
        };
        (net, lb)
    }
}

/// Which loop handles the packets.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum LoopKind {
    /// The bench's own rx burst → tx burst (to the next port) loop: the cost of just
    /// moving packets through these ports, the ceiling every other figure is read against.
    IoFwd,
    /// The real `rvs::dataplane::worker::Worker` loop.
    Worker,
}

/// One row of the benchmark table.
pub struct Scenario {
    /// Name in the table and for `--scenario`.
    pub name: &'static str,
    /// What is measured, in one line.
    pub about: &'static str,
    /// Ring ports (each with one RX and one TX ring per worker).
    pub ports: usize,
    /// Worker cores.
    pub workers: usize,
    /// Which loop runs on the workers.
    pub kind: LoopKind,
    /// The frames the generator cycles through, each with its in-port.
    pub frames: fn(&Setup, &Lab) -> Vec<Frame>,
    /// The state the loop needs (routes, neighbours; later services and connections).
    pub setup: fn(&Lab) -> Result<Setup>,
}

/// The scenarios, in table order. The first `io-fwd` row with the same worker count and
/// the same port count is a row's baseline (the "x io-fwd" column).
pub fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "io-fwd",
            about: "baseline: rx burst -> tx burst to the other port, nothing else",
            ports: 2,
            workers: 1,
            kind: LoopKind::IoFwd,
            frames: transit_udp_frames,
            setup: two_subnets,
        },
        Scenario {
            name: "route",
            about: "worker: transit IPv4/UDP 64-byte frames routed between two ports (LPM, neighbour, TTL, MACs)",
            ports: 2,
            workers: 1,
            kind: LoopKind::Worker,
            frames: transit_udp_frames,
            setup: two_subnets,
        },
        Scenario {
            name: "io-fwd-2w",
            about: "baseline with 2 workers",
            ports: 2,
            workers: 2,
            kind: LoopKind::IoFwd,
            frames: transit_udp_frames,
            setup: two_subnets,
        },
        Scenario {
            name: "route-2w",
            about: "route with 2 workers",
            ports: 2,
            workers: 2,
            kind: LoopKind::Worker,
            frames: transit_udp_frames,
            setup: two_subnets,
        },
        Scenario {
            name: "io-fwd-1p",
            about: "baseline for the 1-port (LB) rows: rx burst -> tx burst on the same single port",
            ports: 1,
            workers: 1,
            kind: LoopKind::IoFwd,
            frames: nat_in_frames,
            setup: lb_nat_1k,
        },
        Scenario {
            name: "dr-1k",
            about: "DR: ACKs of live connections, 1K in the table (lookup + state + MAC rewrite + TTL)",
            ports: 1,
            workers: 1,
            kind: LoopKind::Worker,
            frames: dr_frames,
            setup: lb_dr_1k,
        },
        Scenario {
            name: "dr-1m",
            about: "DR with 1M live connections",
            ports: 1,
            workers: 1,
            kind: LoopKind::Worker,
            frames: dr_frames,
            setup: lb_dr_1m,
        },
        Scenario {
            name: "dr-10m",
            about: "DR with 10M live connections",
            ports: 1,
            workers: 1,
            kind: LoopKind::Worker,
            frames: dr_frames,
            setup: lb_dr_10m,
        },
        Scenario {
            name: "tun-1k",
            about: "TUN: IPIP encapsulation of live connections, 1K in the table",
            ports: 1,
            workers: 1,
            kind: LoopKind::Worker,
            frames: tun_frames,
            setup: lb_tun_1k,
        },
        Scenario {
            name: "nat-in-1k",
            about: "NAT in: client -> VIP rewritten to RIP:8080, 1K in the table",
            ports: 1,
            workers: 1,
            kind: LoopKind::Worker,
            frames: nat_in_frames,
            setup: lb_nat_1k,
        },
        Scenario {
            name: "nat-in-1m",
            about: "NAT in with 1M live connections",
            ports: 1,
            workers: 1,
            kind: LoopKind::Worker,
            frames: nat_in_frames,
            setup: lb_nat_1m,
        },
        Scenario {
            name: "nat-in-10m",
            about: "NAT in with 10M live connections",
            ports: 1,
            workers: 1,
            kind: LoopKind::Worker,
            frames: nat_in_frames,
            setup: lb_nat_10m,
        },
        Scenario {
            name: "nat-out-1k",
            about: "NAT out: RIP:8080 -> client rewritten to VIP:80, 1K in the table",
            ports: 1,
            workers: 1,
            kind: LoopKind::Worker,
            frames: nat_out_frames,
            setup: lb_nat_1k,
        },
    ]
}

fn dr_frames(s: &Setup, l: &Lab) -> Vec<Frame> {
    super::lb::acks_to(s, l, super::lb::VIP_DR)
}
fn tun_frames(s: &Setup, l: &Lab) -> Vec<Frame> {
    super::lb::acks_to(s, l, super::lb::VIP_TUN)
}
fn nat_in_frames(s: &Setup, l: &Lab) -> Vec<Frame> {
    super::lb::acks_to(s, l, super::lb::VIP_NAT)
}
fn nat_out_frames(s: &Setup, l: &Lab) -> Vec<Frame> {
    super::lb::nat_replies(s, l)
}
fn lb_dr_1k(_: &Lab) -> Result<Setup> {
    super::lb::populate(1_000, super::lb::VIP_DR)
}
fn lb_dr_1m(_: &Lab) -> Result<Setup> {
    super::lb::populate(1_000_000, super::lb::VIP_DR)
}
fn lb_dr_10m(_: &Lab) -> Result<Setup> {
    super::lb::populate(10_000_000, super::lb::VIP_DR)
}
fn lb_tun_1k(_: &Lab) -> Result<Setup> {
    super::lb::populate(1_000, super::lb::VIP_TUN)
}
fn lb_nat_1k(_: &Lab) -> Result<Setup> {
    super::lb::populate(1_000, super::lb::VIP_NAT)
}
fn lb_nat_1m(_: &Lab) -> Result<Setup> {
    super::lb::populate(1_000_000, super::lb::VIP_NAT)
}
fn lb_nat_10m(_: &Lab) -> Result<Setup> {
    super::lb::populate(10_000_000, super::lb::VIP_NAT)
}

/// Client side (port 0) and server side (port 1) of the transit scenarios.
const CLIENT_NET: &str = "198.51.100.0/24";
const CLIENT_LOCAL: &str = "198.51.100.1/24";
const CLIENT_HOST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x00, 0x10];
const SERVER_NET: &str = "203.0.113.0/24";
const SERVER_LOCAL: &str = "203.0.113.1/24";
const SERVER_HOST: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x10];
/// Flows per direction (distinct source ports), so templates are not all one flow.
const TRANSIT_FLOWS: u16 = 16;

/// Minimum Ethernet frame without FCS: 64 bytes on the wire.
const FRAME_LEN: usize = 60;

/// A 60-byte (64 on the wire) IPv4/UDP frame from `src` to `dst` into a port with MAC
/// `to_mac`, valid checksums, TTL 64.
fn udp_frame(
    from_mac: [u8; 6],
    to_mac: [u8; 6],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
) -> Vec<u8> {
    let mut b = vec![0u8; FRAME_LEN];
    let eth = EthernetRepr {
        dst_addr: EthernetAddress(to_mac),
        src_addr: EthernetAddress(from_mac),
        vlan_tci: None,
        ethertype: EtherType::Ipv4,
    };
    let l3 = eth.emit(&mut b).expect("60 bytes hold an Ethernet header");
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: IpProtocol::Udp,
        payload_len: (FRAME_LEN - l3 - 20) as u16,
        ttl: 64,
        tos: 0,
        ident: sport,
        dont_frag: true,
    };
    let l4 = l3 + ip.emit(&mut b[l3..]).expect("room for an IPv4 header");
    let mut udp = UdpPacket::new_unchecked(&mut b[l4..]);
    udp.set_src_port(sport);
    udp.set_dst_port(dport);
    udp.set_len((FRAME_LEN - l4) as u16);
    udp.fill_checksum(src, dst);
    b
}

/// Client → server frames on port 0 and server → client frames on port 1.
fn transit_udp_frames(_setup: &Setup, lab: &Lab) -> Vec<Frame> {
    let mut v = Vec::new();
    for i in 0..TRANSIT_FLOWS {
        v.push(Frame {
            port: 0,
            bytes: udp_frame(
                CLIENT_MAC,
                lab.macs[0],
                CLIENT_HOST,
                SERVER_HOST,
                10_000 + i,
                9,
            ),
            walk: None,
        });
        v.push(Frame {
            port: 1,
            bytes: udp_frame(
                SERVER_MAC,
                lab.macs[1],
                SERVER_HOST,
                CLIENT_HOST,
                9,
                10_000 + i,
            ),
            walk: None,
        });
    }
    v
}

/// Port 0 on the client subnet, port 1 on the server subnet, both hosts' MACs already
/// learnt so no ARP happens in the measured loop.
fn two_subnets(lab: &Lab) -> Result<Setup> {
    let net = |s: &str| -> Result<Ipv4Net> { s.parse().map_err(|e| anyhow!("{s}: {e:?}")) };
    let ports = vec![
        PortNet {
            mac: lab.macs[0],
            addrs: vec![net(CLIENT_LOCAL)?],
            exception_path: false,
            mtu: 1500,
        },
        PortNet {
            mac: lab.macs[1],
            addrs: vec![net(SERVER_LOCAL)?],
            exception_path: false,
            mtu: 1500,
        },
    ];
    let routes = vec![
        Route {
            prefix: net(CLIENT_NET)?,
            via: None,
            port: 0,
        },
        Route {
            prefix: net(SERVER_NET)?,
            via: None,
            port: 1,
        },
    ];
    let mut mgr = Manager::new(
        ConnTable::new(1)?,
        ServiceTable::new(1),
        MarkTable::new(),
        NetTables::new(2, routes),
    )?;
    // Static neighbours: the generator's hosts never answer ARP probes, and a run may
    // outlast the reachable time.
    let neigh = rvs::net::NeighTable::with_params(
        rvs::net::NeighParams::default(),
        vec![(CLIENT_HOST, CLIENT_MAC), (SERVER_HOST, SERVER_MAC)],
    );
    let n = Net::with_neigh(ports, mgr.net_reader(), neigh);
    Ok(Setup {
        net: n,
        mgr: Mutex::new(mgr),
        lb: None,
    })
}
