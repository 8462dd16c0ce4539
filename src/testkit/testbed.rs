//! A complete load-balancing path without DPDK, on one port, for tests, the fuzz
//! target and benchmarks: the same code the workers run, with a known topology.
//!
//! Port 0: MAC 02:00:00:00:00:01, 203.0.113.1/24, MTU 1500. Client 203.0.113.2
//! (02:..:02), real servers 203.0.113.11-.13 (02:..:11-13), all neighbours learnt;
//! more clients in 198.51.100.0/24 behind 203.0.113.2 (for benchmarks with many flows).
//! Services: NAT TCP 203.0.113.10:80 -> .11-.13:8080 (rr); DR TCP 203.0.113.20:80
//! (rr); TUN TCP 203.0.113.30:80 (rr); UDP 203.0.113.10:53 NAT (rr); persistent TCP
//! 203.0.113.40:443 (rr, -p 60); mark 1 = TCP 203.0.113.50 ports 80-443, persistent;
//! UDP 203.0.113.10:5353 NAT with one-packet scheduling (ops).

use crate::dataplane::{LbPath, Views};
use crate::lb::conn::ConnTable;
use crate::lb::dest::Fwd;
use crate::lb::flow::proto;
use crate::lb::mark::{MarkRule, MarkTable};
use crate::lb::service::{DestConfig, Persistence, ServiceConfig, ServiceKey, ServiceTable};
use crate::mgmt::Manager;
use crate::net::{NeighParams, NeighTable, Net, NetTables, PortNet, Route};
use crate::wire::Ipv4Net;
use std::net::Ipv4Addr;

/// The director's port MAC.
pub const PORT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
/// The client's MAC.
pub const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];
/// The client's address.
pub const CLIENT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 2);

/// Builds the testbed's state with a table of `max_conns` entries and the given
/// scheduler for the NAT service: a first view of the appliance (its neighbours
/// learnt) and the [`Manager`] owning every published table.
pub fn setup(max_conns: u32, nat_sched: &str) -> (Net, Manager) {
    build(max_conns, nat_sched, Options::default())
}

/// [`setup`] with the client and real servers as static neighbours: for benchmarks
/// whose worker clock may run past the reachable time, where probes to the generator's
/// hosts would go unanswered.
pub fn setup_static(max_conns: u32, nat_sched: &str) -> (Net, Manager) {
    let o = Options {
        static_neighbours: true,
        ..Options::default()
    };
    build(max_conns, nat_sched, o)
}

/// Variations of the testbed (all off in [`setup`]), chosen per input by the fuzz
/// drivers ([`crate::testkit::worker_path`]) so the paths that depend on the
/// topology are reached too.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    /// Client and real servers as static neighbours (else learnt at time 0).
    pub static_neighbours: bool,
    /// No neighbour known at start: every first packet to a next hop is held and
    /// an ARP request goes out (the hold queue, `dataplane::unres`).
    pub no_neighbours: bool,
    /// The port has an exception path (a tap to the kernel): `ToKernel` verdicts.
    pub exception_path: bool,
    /// A default route via 203.0.113.254 (a gateway never learnt): transit traffic is
    /// routed and held for its next hop.
    pub default_route: bool,
    /// A registry of 64 real servers in the connection table instead of
    /// [`crate::lb::conn::MAX_DESTS`] (`ConnTable::with_max_dests`): the director is
    /// built and dropped far faster, which a fuzz driver building one per input needs.
    pub small_dest_registry: bool,
    /// A VLAN sub-interface: logical port 1 = 802.1Q id [`VLAN_ID`] on port 0, with
    /// 192.0.2.1/24, a VLAN client 192.0.2.2 (MAC 02:..:22, learnt with the others)
    /// and a NAT VIP 192.0.2.10:80 balanced to the untagged real servers. The worker
    /// strips and pushes the tags (`dataplane::vlan::Vlans`, see [`Options::vlans`]).
    pub vlan: bool,
    /// The transit policy (`net::transit`): 0 routes all (a bare `Net`'s default), 1
    /// none (rvsd's default), 2 outbound with the VLAN port inside, 3 outbound with
    /// port 0 inside.
    pub transit: u8,
}

/// The 802.1Q id of [`Options::vlan`].
pub const VLAN_ID: u16 = 100;

impl Options {
    /// The worker's VLAN map for these options (none, or [`VLAN_ID`] on port 0 as
    /// logical port 1).
    pub fn vlans(&self) -> crate::dataplane::vlan::Vlans {
        if self.vlan {
            crate::dataplane::vlan::Vlans::new(1, &[(0, VLAN_ID)])
        } else {
            crate::dataplane::vlan::Vlans::default()
        }
    }
}

/// The gateway of [`Options::default_route`].
pub const GATEWAY: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 254);

/// [`setup`] with the variations `o`.
pub fn setup_with(max_conns: u32, nat_sched: &str, o: Options) -> (Net, Manager) {
    build(max_conns, nat_sched, o)
}

fn build(max_conns: u32, nat_sched: &str, o: Options) -> (Net, Manager) {
    let a = |d: u8| Ipv4Addr::new(203, 0, 113, d);
    let vips = vec![a(10), a(20), a(30), a(40), a(50)];
    let port = PortNet {
        mac: PORT_MAC,
        addrs: vec![Ipv4Net {
            addr: a(1),
            len: 24,
        }],
        exception_path: o.exception_path,
        mtu: 1500,
    };
    let mut routes = vec![
        Route {
            prefix: Ipv4Net {
                addr: a(0),
                len: 24,
            },
            via: None,
            port: 0,
        },
        Route {
            prefix: Ipv4Net {
                addr: Ipv4Addr::new(198, 51, 100, 0),
                len: 24,
            },
            via: Some(a(2)),
            port: 0,
        },
    ];
    if o.default_route {
        routes.push(Route {
            prefix: Ipv4Net {
                addr: Ipv4Addr::UNSPECIFIED,
                len: 0,
            },
            via: Some(GATEWAY),
            port: 0,
        });
    }
    let b = |d: u8| Ipv4Addr::new(192, 0, 2, d);
    let mut ports = vec![port];
    if o.vlan {
        ports.push(PortNet {
            mac: PORT_MAC,
            addrs: vec![Ipv4Net {
                addr: b(1),
                len: 24,
            }],
            exception_path: false,
            mtu: 1500,
        });
        routes.push(Route {
            prefix: Ipv4Net {
                addr: b(0),
                len: 24,
            },
            via: None,
            port: 1,
        });
    }
    let mut tables = NetTables::new(ports.len(), routes);
    for v in vips {
        tables.add_vip(0, v, 0);
    }
    if o.vlan {
        tables.add_vip(1, b(10), 0);
    }
    let mut table = ServiceTable::new(1);
    let mut add = |key: ServiceKey, sched: &str, fwd: Fwd, port: u16, persist: Option<u32>| {
        let mut sc = ServiceConfig::new(key);
        sc.sched = sched.to_string();
        sc.ops = matches!(key, ServiceKey::Addr { vport: 5353, .. });
        sc.persistence = persist.map(|t| Persistence {
            timeout_secs: t,
            netmask: Ipv4Addr::BROADCAST,
        });
        table.add_service(sc).expect("testbed service");
        for d in [11u8, 12, 13] {
            let mut dc = DestConfig::new(a(d), port);
            dc.fwd = fwd;
            table.add_dest(&key, &dc).expect("testbed dest");
        }
    };
    add(
        ServiceKey::Addr {
            proto: proto::TCP,
            vip: a(10),
            vport: 80,
        },
        nat_sched,
        Fwd::Nat,
        8080,
        None,
    );
    add(
        ServiceKey::Addr {
            proto: proto::UDP,
            vip: a(10),
            vport: 53,
        },
        "rr",
        Fwd::Nat,
        53,
        None,
    );
    add(
        ServiceKey::Addr {
            proto: proto::UDP,
            vip: a(10),
            vport: 5353,
        },
        "rr",
        Fwd::Nat,
        5353,
        None,
    );
    add(
        ServiceKey::Addr {
            proto: proto::TCP,
            vip: a(20),
            vport: 80,
        },
        "rr",
        Fwd::Dr,
        80,
        None,
    );
    add(
        ServiceKey::Addr {
            proto: proto::TCP,
            vip: a(30),
            vport: 80,
        },
        "rr",
        Fwd::Tun,
        80,
        None,
    );
    add(
        ServiceKey::Addr {
            proto: proto::TCP,
            vip: a(40),
            vport: 443,
        },
        "rr",
        Fwd::Nat,
        443,
        Some(60),
    );
    add(ServiceKey::Mark(1), "rr", Fwd::Nat, 0, Some(60));
    if o.vlan {
        add(
            ServiceKey::Addr {
                proto: proto::TCP,
                vip: b(10),
                vport: 80,
            },
            "rr",
            Fwd::Nat,
            8080,
            None,
        );
    }
    let mut marks = MarkTable::new();
    marks
        .add(MarkRule {
            mark: 1,
            proto: Some(proto::TCP),
            daddr: a(50),
            prefix_len: 32,
            dport_min: 80,
            dport_max: 443,
        })
        .expect("testbed mark");
    let conns = if o.small_dest_registry {
        ConnTable::with_max_dests(max_conns, 64)
    } else {
        ConnTable::new(max_conns)
    }
    .expect("testbed table");
    let mut mgr = Manager::new(conns, table, marks, tables).expect("testbed dests");
    let mut neighbours: Vec<(Ipv4Addr, [u8; 6])> = std::iter::once((a(2), CLIENT_MAC))
        .chain([11u8, 12, 13].map(|d| (a(d), [2, 0, 0, 0, 0, d])))
        .collect();
    if o.vlan {
        neighbours.push((b(2), [2, 0, 0, 0, 0, 0x22]));
    }
    use crate::net::transit::{Transit, TransitMode};
    let transit = match o.transit & 3 {
        0 => Transit::default(),
        1 => Transit::new(TransitMode::None, Vec::new()),
        2 => Transit::new(TransitMode::Outbound, vec![false, true]),
        _ => Transit::new(TransitMode::Outbound, vec![true, false]),
    };
    if o.no_neighbours {
        return (Net::new(ports, mgr.net_reader()).with_transit(transit), mgr);
    }
    if o.static_neighbours {
        let neigh = NeighTable::with_params(NeighParams::default(), neighbours);
        let net = Net::with_neigh(ports, mgr.net_reader(), neigh);
        return (net.with_transit(transit), mgr);
    }
    let net = Net::new(ports, mgr.net_reader()).with_transit(transit);
    for (addr, mac) in neighbours {
        net.neigh().learn(addr, mac, 0);
    }
    (net, mgr)
}

/// One worker's LB path over a fresh testbed (the manager is returned so the
/// snapshots stay alive and can be changed).
pub fn director(max_conns: u32, nat_sched: &str) -> (LbPath, Manager) {
    let (net, mut mgr) = setup(max_conns, nat_sched);
    let views = mgr.lb_views().expect("the manager has LB views");
    (LbPath::new(net, views, 0), mgr)
}

/// A 60-byte Ethernet + IPv4 (DF) + TCP frame with valid checksums, for tests and
/// benchmarks driving the testbed.
pub fn tcp_frame(
    src: Ipv4Addr,
    sport: u16,
    dst: Ipv4Addr,
    dport: u16,
    flags: u8,
    dst_mac: [u8; 6],
    src_mac: [u8; 6],
) -> Vec<u8> {
    use crate::wire::{Ipv4Packet, TcpPacket};
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&dst_mac);
    f[6..12].copy_from_slice(&src_mac);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&40u16.to_be_bytes());
    f[20] = 0x40; // DF
    f[22] = 64;
    f[23] = proto::TCP;
    f[26..30].copy_from_slice(&src.octets());
    f[30..34].copy_from_slice(&dst.octets());
    Ipv4Packet::new_unchecked(&mut f[14..34]).fill_checksum();
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&dport.to_be_bytes());
    f[46] = 0x50;
    f[47] = flags;
    TcpPacket::new_unchecked(&mut f[34..54]).fill_checksum(src, dst);
    f
}

/// A [`tcp_frame`] from the [`CLIENT`] port `sport` to `vip:vport` as it arrives on
/// port 0, in a buffer for [`LbPath::handle`]: the packet the tests driving the
/// director send most, built in one place.
pub fn client_tcp(sport: u16, vip: Ipv4Addr, vport: u16, flags: u8) -> crate::wire::HeadroomBuf {
    crate::wire::HeadroomBuf::new(&tcp_frame(
        CLIENT, sport, vip, vport, flags, PORT_MAC, CLIENT_MAC,
    ))
}

/// A [`tcp_frame`] from real server `rip:rport` (one of .11-.13, MAC 02:..:<its last
/// octet>) back to the [`CLIENT`]'s port `cport`, as it arrives on port 0: a NAT
/// server's answer.
pub fn server_tcp(rip: Ipv4Addr, rport: u16, cport: u16, flags: u8) -> crate::wire::HeadroomBuf {
    crate::wire::HeadroomBuf::new(&tcp_frame(
        rip,
        rport,
        CLIENT,
        cport,
        flags,
        PORT_MAC,
        [2, 0, 0, 0, 0, rip.octets()[3]],
    ))
}
