//! A worker's queue of packets waiting for their next hop's MAC (Linux's `unres_qlen`
//! queue on an unresolved neighbour), so the first packet of a connection to a real
//! server nobody has talked to yet is delayed by one ARP round trip instead of being
//! dropped and retransmitted by the client a second later.
//!
//! Fixed capacity ([`HOLD_SLOTS`] per worker, allocated when the worker is built), at most
//! `per_neigh` packets per next hop; a packet beyond either limit, or held longer than
//! `timeout_secs`, is handed back to be dropped and counted `drop_neigh_unresolved`.
//! The worker calls [`UnresQueue::release`] once per loop; with nothing held that is
//! one comparison. Generic over the buffer so the testbed drives it without DPDK.

use super::counters::Counter;
use crate::net::{NeighTable, PortIdx};
use crate::wire::PacketBuf;
use std::net::Ipv4Addr;

/// Packets one worker may hold in all (a few unresolved next hops at a time, Linux's 3
/// each; more would only queue what a client will retransmit anyway).
pub const HOLD_SLOTS: usize = 64;

/// One held packet: ready to send except for its destination MAC.
struct Held<P> {
    pkt: P,
    port: PortIdx,
    next_hop: Ipv4Addr,
    counter: Counter,
    /// Cut into fragments of at most this many IP bytes when sent (DF clear, longer
    /// than the egress MTU; see `LbVerdict::Fragment`); None: sent as it is.
    frag_mtu: Option<u16>,
    since: u32,
}

/// What [`UnresQueue::release`] asks the worker to do.
pub enum Release<P> {
    /// The next hop resolved: its MAC is written in; send `pkt` out of `port`,
    /// counting `counter`.
    Send {
        /// The packet.
        pkt: P,
        /// Outgoing port.
        port: PortIdx,
        /// The outcome's counter (nat_in, forwarded, ...).
        counter: Counter,
        /// Some(mtu): fragment it to `mtu` IP bytes on the way out (`wire::fragment`).
        frag_mtu: Option<u16>,
    },
    /// Held too long: drop it, counting `drop_neigh_unresolved`.
    Expired(P),
    /// Still unresolved and due for another broadcast request for `next_hop`.
    Request {
        /// Port to ask on.
        port: PortIdx,
        /// The next hop.
        next_hop: Ipv4Addr,
    },
}

/// The per-worker hold queue.
pub struct UnresQueue<P> {
    slots: Vec<Option<Held<P>>>,
    held: usize,
    per_neigh: usize,
    timeout_secs: u32,
}

impl<P: PacketBuf> UnresQueue<P> {
    /// An empty queue holding at most `per_neigh` packets per next hop (0: hold
    /// nothing), each for at most `timeout_secs`.
    pub fn new(per_neigh: u32, timeout_secs: u32) -> Self {
        UnresQueue {
            slots: (0..HOLD_SLOTS).map(|_| None).collect(),
            held: 0,
            per_neigh: per_neigh as usize,
            timeout_secs,
        }
    }

    /// Packets held now.
    pub fn len(&self) -> usize {
        self.held
    }

    /// True when nothing is held.
    pub fn is_empty(&self) -> bool {
        self.held == 0
    }

    /// Holds `pkt` for `next_hop`; gives it back when the queue or the next hop's share
    /// is full (the caller drops and counts it).
    pub fn hold(
        &mut self,
        pkt: P,
        port: PortIdx,
        next_hop: Ipv4Addr,
        counter: Counter,
        now: u32,
    ) -> Result<(), P> {
        self.hold_fragmenting(pkt, port, next_hop, counter, None, now)
    }

    /// [`UnresQueue::hold`] for a datagram to be fragmented to `frag_mtu` when it
    /// leaves: held whole (one slot, so one oversize datagram does not take the next
    /// hop's whole `unres_qlen` share), fragmented at release.
    pub fn hold_fragmenting(
        &mut self,
        pkt: P,
        port: PortIdx,
        next_hop: Ipv4Addr,
        counter: Counter,
        frag_mtu: Option<u16>,
        now: u32,
    ) -> Result<(), P> {
        let mut same = 0;
        let mut free = None;
        for (i, s) in self.slots.iter().enumerate() {
            match s {
                Some(h) if h.next_hop == next_hop => same += 1,
                Some(_) => {}
                None => {
                    free.get_or_insert(i);
                }
            }
        }
        match free {
            Some(i) if same < self.per_neigh => {
                self.slots[i] = Some(Held {
                    pkt,
                    port,
                    next_hop,
                    counter,
                    frag_mtu,
                    since: now,
                });
                self.held += 1;
                Ok(())
            }
            _ => Err(pkt),
        }
    }

    /// Once per loop: sends what resolved (MAC written in), expires what waited too
    /// long, and asks for the ARP requests that are due (one per next hop per interval,
    /// claimed from the shared table). Each outcome goes to `out`.
    pub fn release(&mut self, neigh: &NeighTable, now: u32, mut out: impl FnMut(Release<P>)) {
        if self.held == 0 {
            return;
        }
        for s in self.slots.iter_mut() {
            let Some(h) = s.as_ref() else { continue };
            if let Some(mac) = neigh.lookup_quiet(h.next_hop, now) {
                let Some(mut h) = s.take() else { continue };
                self.held -= 1;
                if let Some(d) = h.pkt.data_mut().get_mut(0..6) {
                    d.copy_from_slice(&mac);
                }
                out(Release::Send {
                    pkt: h.pkt,
                    port: h.port,
                    counter: h.counter,
                    frag_mtu: h.frag_mtu,
                });
            } else if now.wrapping_sub(h.since) >= self.timeout_secs {
                let Some(h) = s.take() else { continue };
                self.held -= 1;
                out(Release::Expired(h.pkt));
            } else if let crate::net::Neigh::Unknown { request: true } =
                neigh.lookup(h.next_hop, now)
            {
                out(Release::Request {
                    port: h.port,
                    next_hop: h.next_hop,
                });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::HeadroomBuf;

    const NH: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
    const MAC: [u8; 6] = [2, 0, 0, 0, 0, 0x11];

    fn pkt(tag: u8) -> HeadroomBuf {
        let mut f = [0u8; 60];
        f[59] = tag;
        HeadroomBuf::new(&f)
    }

    fn drain(q: &mut UnresQueue<HeadroomBuf>, t: &NeighTable, now: u32) -> Vec<String> {
        let mut v = Vec::new();
        q.release(t, now, |r| {
            v.push(match r {
                Release::Send {
                    pkt, port, counter, ..
                } => format!(
                    "send {} {:?} port {port} mac {:?}",
                    pkt.data()[59],
                    counter,
                    &pkt.data()[0..6]
                ),
                Release::Expired(p) => format!("expired {}", p.data()[59]),
                Release::Request { port, next_hop } => format!("request {next_hop} port {port}"),
            })
        });
        v
    }

    #[test]
    fn held_packets_leave_in_order_with_the_mac_once_resolved() {
        let t = NeighTable::new();
        let mut q = UnresQueue::new(3, 3);
        assert_eq!(
            t.lookup(NH, 1),
            crate::net::Neigh::Unknown { request: true }
        );
        for i in 0..3 {
            assert!(q.hold(pkt(i), 0, NH, Counter::NatIn, 1).is_ok());
        }
        // The fourth for the same next hop is refused (unres_qlen), another hop is not.
        assert!(q.hold(pkt(3), 0, NH, Counter::NatIn, 1).is_err());
        assert!(q
            .hold(pkt(9), 0, Ipv4Addr::new(192, 0, 2, 12), Counter::DrOut, 1)
            .is_ok());
        // Nothing resolved; the other hop was never asked for, so its request is due.
        assert_eq!(drain(&mut q, &t, 1), vec!["request 192.0.2.12 port 0"]);
        t.learn(NH, MAC, 1);
        let mac = format!("{:?}", &MAC[..]);
        assert_eq!(
            drain(&mut q, &t, 1),
            (0..3)
                .map(|i| format!("send {i} NatIn port 0 mac {mac}"))
                .collect::<Vec<_>>()
        );
        assert_eq!(q.len(), 1);
        // The other one: re-requested once per interval, then expired.
        assert_eq!(drain(&mut q, &t, 2), vec!["request 192.0.2.12 port 0"]);
        assert!(drain(&mut q, &t, 2).is_empty());
        assert_eq!(drain(&mut q, &t, 4), vec!["expired 9"]);
        assert!(q.is_empty());
    }

    #[test]
    fn capacity_is_bounded_and_unres_qlen_zero_holds_nothing() {
        let mut q = UnresQueue::new(u32::MAX, 3);
        for i in 0..HOLD_SLOTS {
            let nh = Ipv4Addr::from(0xC000_0200 + i as u32);
            assert!(q.hold(pkt(0), 0, nh, Counter::NatIn, 1).is_ok());
        }
        assert!(q.hold(pkt(0), 0, NH, Counter::NatIn, 1).is_err());
        let mut z = UnresQueue::new(0, 3);
        assert!(z.hold(pkt(0), 0, NH, Counter::NatIn, 1).is_err());
    }
}
