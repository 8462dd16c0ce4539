//! What a forwarding transform decided: every path through `lb::xform` ends in
//! exactly one [`Verdict`], and each drop reason and each ICMP error sent has a
//! counter (see `docs/DROPS.md`, which lists them all).

/// The outcome of one transform on one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The frame was rewritten in place (addresses, TTL, checksums, MACs from the
    /// [`Egress`](super::Egress) given): transmit it on the egress port.
    Forward,
    /// As `Forward`, but the IPv4 packet (for TUN the outer one) is longer than the
    /// egress MTU and DF is clear: cut it into fragments of at most
    /// [`Egress::mtu`](super::Egress) bytes (`wire::fragment`, RFC 791, as Linux's
    /// `ip_fragment` after IPVS's xmit) and transmit those on the egress port.
    Fragment,
    /// The frame was replaced in place by an ICMP error about it, addressed to the
    /// packet's sender, with the MACs swapped: transmit it back out of the port it
    /// came in on.
    SendBack(IcmpSent),
    /// Drop the packet and count the reason.
    Drop(DropReason),
}

/// Which ICMP error a [`Verdict::SendBack`] carries; each has a `tx_icmp_<kind>` counter.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum IcmpSent {
    /// Type 3 code 4 (RFC 1191): the packet had DF set and does not fit the egress MTU.
    FragNeeded,
    /// Type 11 code 0: the TTL would reach 0 here (RFC 1812 section 5.3.1).
    TimeExceeded,
    /// Type 3 code 3: no real server available for a new flow (IPVS `ip_vs_leave`).
    PortUnreachable,
}

impl IcmpSent {
    /// Counter name.
    pub fn counter_name(self) -> &'static str {
        match self {
            IcmpSent::FragNeeded => "tx_icmp_frag_needed",
            IcmpSent::TimeExceeded => "tx_icmp_time_exceeded",
            IcmpSent::PortUnreachable => "tx_icmp_port_unreachable",
        }
    }

    /// Every kind, in display order.
    pub const ALL: &'static [IcmpSent] = &[
        IcmpSent::FragNeeded,
        IcmpSent::TimeExceeded,
        IcmpSent::PortUnreachable,
    ];
}

pub use crate::drops::DropReason;
