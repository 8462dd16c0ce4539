//! Load-balancing scenarios: the worker's LB path (`rvs::dataplane::LbPath`) over the
//! testbed director (`rvs::testkit::testbed`: one port, NAT VIP 203.0.113.10:80,
//! DR .20:80, TUN .30:80, real servers .11-.13), with the connection table filled
//! beforehand through the same path by SYNs from `FLOWS` distinct clients
//! (198.51.100.0/24, many source ports). The generator then offers packets of up to
//! [`SAMPLED`] of those connections, spread evenly over the table, so lookups touch
//! memory all over a 10M-entry table, not one hot corner of it.

use super::scenarios::{Frame, Lab, Setup};
use anyhow::Result;
use rvs::dataplane::{LbPath, LbVerdict, Views};
use rvs::lb::flow::proto;
use rvs::testkit::testbed::{self, CLIENT_MAC, PORT_MAC};
use rvs::wire::{HeadroomBuf, PacketBuf};
use std::net::Ipv4Addr;
use std::sync::Mutex;

/// Connections the generator cycles through (its templates).
pub const SAMPLED: u32 = 4096;
/// Source ports used per client address.
const PORTS_PER_CLIENT: u32 = 60_000;

/// The sampled connections' real servers (the LB tables are in the setup's manager).
pub struct LbState {
    /// (client, client port, real server) of the sampled connections, per VIP kind.
    pub sampled: Vec<(Ipv4Addr, u16, Ipv4Addr)>,
}

fn client(i: u32) -> (Ipv4Addr, u16) {
    let host = 2 + i / PORTS_PER_CLIENT; // 198.51.100.2 ..
    (
        Ipv4Addr::new(198, 51, 100, host as u8),
        (1024 + i % PORTS_PER_CLIENT) as u16,
    )
}

use rvs::testkit::testbed::tcp_frame as tcp;

/// Fills a table of `flows` connections to `vip`:80 and remembers the sampled ones.
pub fn populate(flows: u32, vip: Ipv4Addr) -> Result<Setup> {
    let max = flows + flows / 8 + 4096;
    let (net, mut mgr) = testbed::setup(max, "rr");
    let views = mgr.lb_views().expect("LB views");
    let mut path = LbPath::new(net.view(mgr.net_reader()), views, 0);
    let stride = (flows / SAMPLED).max(1);
    let mut sampled = Vec::new();
    for i in 0..flows {
        let (c, cport) = client(i);
        let mut b = HeadroomBuf::new(&tcp(c, cport, vip, 80, 0x02, PORT_MAC, CLIENT_MAC));
        match path.handle(0, &mut b, 1) {
            LbVerdict::Tx { .. } => {}
            other => anyhow::bail!("populating flow {i}: {other:?}"),
        }
        if i % stride == 0 && sampled.len() < SAMPLED as usize {
            // DR/TUN keep the destination (the TUN one is inside the outer header);
            // which server got the flow is in the table.
            let key = rvs::lb::flow::FlowKey {
                proto: proto::TCP,
                saddr: c,
                sport: cport,
                daddr: vip,
                dport: 80,
            };
            let hit = mgr
                .conns()
                .find(&key, 1)
                .ok_or_else(|| anyhow::anyhow!("flow {i} not in the table"))?;
            sampled.push((c, cport, hit.raddr));
        }
    }
    drop(path);
    Ok(Setup {
        net,
        mgr: Mutex::new(mgr),
        lb: Some(LbState { sampled }),
    })
}

/// ACK packets client -> `vip`:80 of the sampled connections.
pub fn acks_to(setup: &Setup, _lab: &Lab, vip: Ipv4Addr) -> Vec<Frame> {
    let lb = setup.lb.as_ref().expect("LB scenario has LB state");
    lb.sampled
        .iter()
        .map(|&(c, cport, _)| Frame {
            port: 0,
            bytes: tcp(c, cport, vip, 80, 0x10, PORT_MAC, CLIENT_MAC),
        })
        .collect()
}

/// Replies real server:8080 -> client of the sampled NAT connections.
pub fn nat_replies(setup: &Setup, _lab: &Lab) -> Vec<Frame> {
    let lb = setup.lb.as_ref().expect("LB scenario has LB state");
    lb.sampled
        .iter()
        .map(|&(c, cport, rip)| Frame {
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
