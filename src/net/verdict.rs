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
    /// The packet's next hop was unresolved: the packet was dropped (counted as
    /// `drop_neigh_unresolved`) and its buffer reused for an ARP request.
    ArpRequest,
}

/// Why a packet was dropped. Each reason has a `drop_<reason>` counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DropReason {
    /// Truncated or inconsistent headers.
    Malformed,
    /// Unicast frame for another MAC (af_packet ports see the whole segment).
    OtherHost,
    /// Neither IPv4 nor ARP.
    UnknownEthertype,
    /// An ARP packet that is neither for us nor teaches us anything.
    ArpIgnored,
    /// Not for a local address and no route matches.
    NoRoute,
    /// The next hop's MAC is unknown (a request is on its way).
    NeighUnresolved,
    /// TTL would reach 0 on forwarding.
    TtlExceeded,
    /// For a local address, but this port has no exception path to the kernel.
    NoExceptionPath,
    /// For a VIP, but no virtual service takes it (and it is not a ping).
    NoService,
    /// Routing would send it back out of the port it came in on... to a broadcast
    /// or otherwise unforwardable destination.
    NotForwardable,
}

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
    /// Hand it to the kernel through the receiving port's exception path.
    ToKernel,
    /// Fully handled here (e.g. an ARP reply we learnt from): free it, no drop counted.
    Consumed,
    /// Drop it, counting the reason.
    Drop(DropReason),
}
