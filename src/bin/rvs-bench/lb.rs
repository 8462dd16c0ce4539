//! Load-balancing scenarios: the worker's LB path (`rvs::dataplane::LbPath`) over the
//! testbed director (`rvs::testkit::testbed`: one port, NAT VIP 203.0.113.10:80,
//! DR .20:80, TUN .30:80, real servers .11-.13), with the connection table filled
//! beforehand through the same path by SYNs from `flows` distinct clients
//! (198.51.100.0/24, many source ports). The generator then offers packets of EVERY one
//! of those connections: each template frame is rewritten per packet to the next flow of
//! a walk over the whole flow set ([`FlowWalk`]), so a 10M row touches 10M table entries
//! and measures the memory system, not a warm corner of the table.

use super::scenarios::{Frame, Lab, Setup};
use anyhow::{bail, Result};
use rvs::dataplane::{LbPath, LbVerdict, Views};
use rvs::lb::flow::proto;
use rvs::testkit::testbed::{self, CLIENT_MAC, PORT_MAC};
use rvs::wire::checksum;
use rvs::wire::{HeadroomBuf, PacketBuf};
use std::net::Ipv4Addr;
use std::sync::Mutex;

/// Source ports used per client address.
const PORTS_PER_CLIENT: u32 = 60_000;
/// Flows checked against the table after populating (their real server must follow
/// the rr order the NAT reply templates assume).
const CHECKED: u32 = 64;

/// What the generator needs to know about the flows (the LB tables are in the setup's
/// manager).
pub struct LbState {
    /// Connections in the table: flows `0..flows` of [`client`].
    pub flows: u32,
    /// Real server of flow `i` is `reals[i % 3]` (rr over the three, checked).
    pub reals: [Ipv4Addr; 3],
}

/// Client address and source port of flow `i` (198.51.100.2 and up, 60 000 ports each:
/// 10M flows use 167 addresses of the /24).
pub fn client(i: u32) -> (Ipv4Addr, u16) {
    let host = 2 + i / PORTS_PER_CLIENT;
    (
        Ipv4Addr::new(198, 51, 100, host as u8),
        (1024 + i % PORTS_PER_CLIENT) as u16,
    )
}

/// A walk over flows `first, first + step, ...` (`count` of them) in an order with no
/// locality: position `k` is flow `first + step * ((k * stride) mod count)`, `stride`
/// coprime with `count` and near `count` × 0.618, so every flow comes once per round and
/// consecutive packets belong to flows far apart. Per packet the generator writes the
/// flow's client address (at `addr_at`) and port (at `port_at`) into a copy of the
/// template (an Ethernet/IPv4/TCP frame without IP options built for flow `first`) and
/// updates the IPv4 and TCP checksums incrementally (RFC 1624).
#[derive(Clone, Copy)]
pub struct FlowWalk {
    /// First flow.
    pub first: u32,
    /// Distance between the flows of this walk.
    pub step: u32,
    /// Flows in the walk.
    pub count: u32,
    /// Byte offset of the client IPv4 address in the frame (source 26, destination 30).
    pub addr_at: usize,
    /// Byte offset of the client TCP port (source 34, destination 36).
    pub port_at: usize,
    /// Added to the position each packet (see above).
    pub stride: u32,
}

/// Byte offset of the IPv4 header checksum in an Ethernet frame.
const IP_CSUM_AT: usize = 24;
/// Byte offset of the TCP checksum (IPv4 header without options).
const TCP_CSUM_AT: usize = 50;

impl FlowWalk {
    /// A walk over `count` flows from `first`, `step` apart.
    pub fn new(first: u32, step: u32, count: u32, addr_at: usize, port_at: usize) -> FlowWalk {
        let count = count.max(1);
        let mut stride = ((count as u64 * 618) / 1000).max(1) as u32 % count;
        while gcd(stride, count) != 1 {
            stride += 1;
        }
        FlowWalk {
            first,
            step,
            count,
            addr_at,
            port_at,
            stride,
        }
    }

    /// The position after `pos`.
    #[inline]
    pub fn next(&self, pos: u32) -> u32 {
        let n = pos as u64 + self.stride as u64;
        if n >= self.count as u64 {
            (n - self.count as u64) as u32
        } else {
            n as u32
        }
    }

    /// The flow at position `pos`.
    #[inline]
    pub fn flow(&self, pos: u32) -> u32 {
        self.first + self.step * pos
    }

    /// Rewrites `frame` (a copy of the template) for the flow at position `pos`.
    #[inline]
    pub fn apply(&self, frame: &mut [u8], pos: u32) {
        let (addr, port) = client(self.flow(pos));
        let (a, p) = (self.addr_at, self.port_at);
        let old_addr = Ipv4Addr::new(frame[a], frame[a + 1], frame[a + 2], frame[a + 3]);
        let old_port = u16::from_be_bytes([frame[p], frame[p + 1]]);
        frame[a..a + 4].copy_from_slice(&addr.octets());
        frame[p..p + 2].copy_from_slice(&port.to_be_bytes());
        let ip = u16::from_be_bytes([frame[IP_CSUM_AT], frame[IP_CSUM_AT + 1]]);
        let ip = checksum::update_addr(ip, old_addr, addr);
        frame[IP_CSUM_AT..IP_CSUM_AT + 2].copy_from_slice(&ip.to_be_bytes());
        let tcp = u16::from_be_bytes([frame[TCP_CSUM_AT], frame[TCP_CSUM_AT + 1]]);
        let tcp = checksum::update(checksum::update_addr(tcp, old_addr, addr), old_port, port);
        frame[TCP_CSUM_AT..TCP_CSUM_AT + 2].copy_from_slice(&tcp.to_be_bytes());
    }
}

fn gcd(mut a: u32, mut b: u32) -> u32 {
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a
}

use rvs::testkit::testbed::tcp_frame as tcp;

/// Fills a table of `flows` connections to `vip`:80 (rr over the three real servers).
pub fn populate(flows: u32, vip: Ipv4Addr) -> Result<Setup> {
    let max = flows + flows / 8 + 4096;
    // Static neighbours: a long run's worker clock may pass the reachable time, and the
    // generator never answers ARP probes.
    let (net, mut mgr) = testbed::setup_static(max, "rr");
    let views = mgr.lb_views().expect("LB views");
    let mut path = LbPath::new(net.view(mgr.net_reader()), views, 0);
    for i in 0..flows {
        let (c, cport) = client(i);
        let mut b = HeadroomBuf::new(&tcp(c, cport, vip, 80, 0x02, PORT_MAC, CLIENT_MAC));
        match path.handle(0, &mut b, 1) {
            LbVerdict::Tx { .. } => {}
            other => bail!("populating flow {i}: {other:?}"),
        }
    }
    // Which real server each flow got is in the table; rr hands them out in turn.
    let server = |i: u32| -> Result<Ipv4Addr> {
        let (c, cport) = client(i);
        let key = rvs::lb::flow::FlowKey {
            proto: proto::TCP,
            saddr: c,
            sport: cport,
            daddr: vip,
            dport: 80,
        };
        match mgr.conns().find(&key, 1) {
            Some(hit) => Ok(hit.raddr),
            None => bail!("flow {i} is not in the table"),
        }
    };
    let reals = [server(0)?, server(1 % flows)?, server(2 % flows)?];
    for k in 0..CHECKED {
        let i = (k as u64 * flows as u64 / CHECKED as u64) as u32;
        if server(i)? != reals[(i % 3) as usize] {
            bail!("flow {i}: real server does not follow rr order");
        }
    }
    drop(path);
    Ok(Setup {
        net,
        mgr: Mutex::new(mgr),
        lb: Some(LbState { flows, reals }),
    })
}

/// ACK packets client -> `vip`:80 of every connection: one template walked over all flows.
pub fn acks_to(setup: &Setup, _lab: &Lab, vip: Ipv4Addr) -> Vec<Frame> {
    let lb = setup.lb.as_ref().expect("LB scenario has LB state");
    let (c, cport) = client(0);
    vec![Frame {
        port: 0,
        bytes: tcp(c, cport, vip, 80, 0x10, PORT_MAC, CLIENT_MAC),
        walk: Some(FlowWalk::new(0, 1, lb.flows, 26, 34)),
    }]
}

/// Replies real server:8080 -> client of every NAT connection: one template per real
/// server, each walked over that server's flows.
pub fn nat_replies(setup: &Setup, _lab: &Lab) -> Vec<Frame> {
    let lb = setup.lb.as_ref().expect("LB scenario has LB state");
    (0..3u32.min(lb.flows))
        .map(|r| {
            let rip = lb.reals[r as usize];
            let (c, cport) = client(r);
            Frame {
                port: 0,
                bytes: tcp(
                    rip,
                    8080,
                    c,
                    cport,
                    0x10,
                    PORT_MAC,
                    [2, 0, 0, 0, 0, rip.octets()[3]],
                ),
                walk: Some(FlowWalk::new(r, 3, (lb.flows - r).div_ceil(3), 30, 36)),
            }
        })
        .collect()
}

/// The NAT, DR and TUN VIPs of the testbed.
pub const VIP_NAT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
/// DR VIP.
pub const VIP_DR: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 20);
/// TUN VIP.
pub const VIP_TUN: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 30);

/// New connections: SYNs of `n` distinct flows through a fresh table, on this thread
/// (no rings: a SYN can open a connection only once, and recycled templates would
/// hit existing entries). Returns ns per new connection (schedule + insert +
/// transform), including copying each prepared frame into the buffer.
pub fn new_conn_ns(n: u32, sched: &str) -> Result<f64> {
    let (net, mut mgr) = testbed::setup(n + n / 8 + 4096, sched);
    let views = mgr.lb_views().expect("LB views");
    let mut path = LbPath::new(net, views, 0);
    let frames: Vec<Vec<u8>> = (0..n)
        .map(|i| {
            let (c, p) = client(i);
            tcp(c, p, VIP_NAT, 80, 0x02, PORT_MAC, CLIENT_MAC)
        })
        .collect();
    let mut b = HeadroomBuf::new(&frames[0]);
    let t0 = std::time::Instant::now();
    for f in &frames {
        b.set_len(f.len());
        b.data_mut().copy_from_slice(f);
        if !matches!(path.handle(0, &mut b, 1), LbVerdict::Tx { .. }) {
            anyhow::bail!("SYN not forwarded");
        }
    }
    Ok(t0.elapsed().as_nanos() as f64 / n as f64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_walk_visits_every_flow_once_per_round() {
        for count in [1u32, 2, 3, 1000, 4096, 33_333] {
            let w = FlowWalk::new(0, 1, count, 26, 34);
            let mut seen = vec![false; count as usize];
            let mut pos = 0;
            for _ in 0..count {
                assert!(!seen[pos as usize], "count {count}: {pos} twice");
                seen[pos as usize] = true;
                pos = w.next(pos);
            }
            assert_eq!(pos, 0, "count {count}: round does not close");
        }
    }

    #[test]
    fn a_rewritten_template_equals_the_frame_built_for_that_flow() {
        let (c0, p0) = client(0);
        let vip = VIP_NAT;
        let w = FlowWalk::new(0, 1, 10_000_000, 26, 34);
        for pos in [1u32, 59_999, 60_000, 9_999_999] {
            let mut f = tcp(c0, p0, vip, 80, 0x10, PORT_MAC, CLIENT_MAC);
            w.apply(&mut f, pos);
            let (c, p) = client(pos);
            assert_eq!(
                f,
                tcp(c, p, vip, 80, 0x10, PORT_MAC, CLIENT_MAC),
                "flow {pos}"
            );
        }
        // Replies: the client is the destination.
        let rip = Ipv4Addr::new(203, 0, 113, 12);
        let w = FlowWalk::new(1, 3, 1000, 30, 36);
        let (c1, p1) = client(1);
        let mut f = tcp(rip, 8080, c1, p1, 0x10, PORT_MAC, CLIENT_MAC);
        w.apply(&mut f, 7);
        let (c, p) = client(1 + 3 * 7);
        assert_eq!(f, tcp(rip, 8080, c, p, 0x10, PORT_MAC, CLIENT_MAC));
    }
}
