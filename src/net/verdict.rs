//! The outcome of handling one packet: every path through the per-packet code ends in
//! exactly one of these, and each has a counter.

use super::route::PortIdx;

/// Why a packet was sent (for counters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TxKind {
    /// An ARP reply for one of our addresses or VIPs, built in place of the request.
    ArpReply,
    /// An ICMP echo reply for one of our addresses, built in place of the request.
    EchoReply,
    /// A routed packet (MACs rewritten, TTL decremented).
    Forward,
    /// ICMP frag-needed built in place of a routed packet with DF set that is longer
    /// than its egress MTU (Linux `ip_forward`), sent back out of the receiving port.
    FragNeeded,
    /// ICMP time exceeded built in place of a routed packet whose TTL would reach 0
    /// (RFC 1812 5.3.1, Linux `ip_forward`), sent back out of the receiving port.
    TimeExceeded,
}

pub use crate::drops::DropReason;

/// What to do with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Send the (rewritten) packet out of `port`.
    Tx {
        /// Outgoing port.
        port: PortIdx,
        /// Why, for counters.
        kind: TxKind,
    },
    /// Routed, but the next hop is unresolved: the frame is ready except for its
    /// destination MAC (zero); hold it until `next_hop` resolves (and send the ARP
    /// request for it when `request`). See [`crate::net::nexthop`].
    Hold {
        /// Outgoing port.
        port: PortIdx,
        /// The next hop whose MAC is awaited.
        next_hop: std::net::Ipv4Addr,
        /// True when this caller sends the broadcast ARP request.
        request: bool,
    },
    /// Routed (as `Tx`, or `Hold` when `hold` is set), but longer than the egress
    /// port's `mtu` with DF clear: cut it into fragments of at most `mtu` IP bytes
    /// (`wire::fragment`, RFC 791, as Linux's `ip_forward` → `ip_fragment`) and send those.
    Fragment {
        /// Outgoing port.
        port: PortIdx,
        /// The egress MTU in IP bytes.
        mtu: u16,
        /// The unresolved next hop and whether this caller sends the ARP request.
        hold: Option<(std::net::Ipv4Addr, bool)>,
    },
    /// Hand it to the kernel through the receiving port's exception path.
    ToKernel,
    /// Fully handled here (e.g. an ARP reply we learnt from): free it, no drop counted.
    Consumed,
    /// Drop it, counting the reason.
    Drop(DropReason),
}
