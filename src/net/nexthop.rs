//! The one next-hop resolver: route lookup, neighbour lookup and the send-or-hold
//! decision, used by the appliance's routing and by the load balancer's transforms
//! alike, so both treat an unresolved neighbour the same way.
//!
//! A packet whose next hop is unresolved is not dropped: the caller finishes it with
//! an all-zero destination MAC and hands it to the worker's hold queue
//! (`dataplane::unres`), which writes the MAC in once the neighbour answers (Linux's
//! `unres_qlen` queue on an INCOMPLETE neighbour).

use super::appliance::Net;
use super::neigh::Neigh;
use super::route::PortIdx;
use std::net::Ipv4Addr;

/// Where a packet to some address goes next.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// Send now: out of `port`, from `port_mac` to `mac`.
    Ready {
        /// Outgoing port.
        port: PortIdx,
        /// The outgoing port's MAC (the frame's source).
        port_mac: [u8; 6],
        /// The next hop's MAC (the frame's destination).
        mac: [u8; 6],
        /// The next hop's address (on-link).
        next_hop: Ipv4Addr,
    },
    /// The next hop `next_hop` is unresolved: build the frame with a zero destination
    /// MAC and hold it; when `request`, the caller also sends the broadcast ARP request
    /// (at most one caller per address per retransmission interval is told so).
    Hold {
        /// Outgoing port.
        port: PortIdx,
        /// The outgoing port's MAC.
        port_mac: [u8; 6],
        /// The next hop whose MAC is awaited.
        next_hop: Ipv4Addr,
        /// True when this caller sends the ARP request.
        request: bool,
    },
    /// No route to the address (or a route to a port that does not exist).
    NoRoute,
}

impl Net {
    /// Resolves the next hop toward `dst` at `now_secs`: longest-prefix route, then the
    /// neighbour table (a stale entry is marked in use so it gets probed).
    #[inline]
    pub fn resolve(&self, dst: Ipv4Addr, now_secs: u32) -> Resolution {
        let Some(nh) = self.routes().lookup(dst) else {
            return Resolution::NoRoute;
        };
        let Some(out) = self.ports().get(nh.port as usize) else {
            return Resolution::NoRoute;
        };
        match self.neigh().lookup(nh.addr, now_secs) {
            Neigh::Known { mac } => Resolution::Ready {
                port: nh.port,
                port_mac: out.mac,
                mac,
                next_hop: nh.addr,
            },
            Neigh::Unknown { request } => Resolution::Hold {
                port: nh.port,
                port_mac: out.mac,
                next_hop: nh.addr,
                request,
            },
        }
    }

    /// The next hops of `addrs` (real servers, gateways) that are not resolved yet and
    /// whose request this caller should send now, with their ports: what a worker asks
    /// for at start so the first connection does not wait for ARP.
    pub fn prime(&self, addrs: &[Ipv4Addr], now_secs: u32) -> Vec<(PortIdx, Ipv4Addr)> {
        let mut out: Vec<(PortIdx, Ipv4Addr)> = Vec::new();
        for &a in addrs {
            if let Resolution::Hold {
                port,
                next_hop,
                request: true,
                ..
            } = self.resolve(a, now_secs)
            {
                if !out.iter().any(|&(_, n)| n == next_hop) {
                    out.push((port, next_hop));
                }
            }
        }
        out
    }
}
