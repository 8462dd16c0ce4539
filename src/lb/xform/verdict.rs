//! What a forwarding transform decided: every path through `lb::xform` ends in
//! exactly one [`Verdict`], and each drop reason and each ICMP error sent has a
//! counter (see `docs/DROPS.md`, which lists them all).

/// The outcome of one transform on one packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// The frame was rewritten in place (addresses, TTL, checksums, MACs from the
    /// [`Egress`](super::Egress) given): transmit it on the egress port.
    Forward,
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

/// Why the load balancer dropped a packet. One variant per reason, one
/// `drop_<reason>` counter per variant (`counter_name`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Truncated or inconsistent headers (Ethernet, IPv4, TCP, UDP or ICMP lengths
    /// that do not add up), or an L3 offset outside the frame.
    Malformed,
    /// The IPv4 header checksum is wrong: a router must not forward it (RFC 1812 5.2.2).
    BadIpChecksum,
    /// A fragment (MF set or offset non-zero). Only the first fragment carries ports,
    /// and rvs does not reassemble, so no fragment can be matched to a connection.
    Fragment,
    /// An IPv4 header with options (IHL > 5): rare, often hostile (source routing),
    /// and not worth a slow path in a director.
    IpOptions,
    /// TTL ≤ 1 and no ICMP time-exceeded may be sent about it (RFC 1812 4.3.2.7:
    /// e.g. the packet is itself an ICMP error).
    TtlExceeded,
    /// Bigger than the egress MTU with DF clear (rvs never fragments), or with DF
    /// set where no ICMP error may be sent about it.
    TooBig,
    /// Not enough headroom in the buffer to prepend a header (TUN, ICMP errors).
    NoHeadroom,
    /// An ICMP error whose own checksum is wrong: it is rewritten with a full
    /// checksum pass, which would otherwise launder the corruption.
    BadIcmpChecksum,
    /// An ICMP message that is not an error about a TCP or UDP packet (echo,
    /// another quoted protocol, a quote shorter than IPv4 header + 8 bytes).
    IcmpUnrelated,
    /// NAT of a protocol without ports (only TCP and UDP are translated).
    UnsupportedProtocol,
    /// Addressed to a VIP, but no virtual service matches protocol and port
    /// (decided by the caller, which owns the service table).
    NoService,
}

impl DropReason {
    /// Every reason, in display order.
    pub const ALL: &'static [DropReason] = &[
        DropReason::Malformed,
        DropReason::BadIpChecksum,
        DropReason::Fragment,
        DropReason::IpOptions,
        DropReason::TtlExceeded,
        DropReason::TooBig,
        DropReason::NoHeadroom,
        DropReason::BadIcmpChecksum,
        DropReason::IcmpUnrelated,
        DropReason::UnsupportedProtocol,
        DropReason::NoService,
    ];

    /// The counter operators see.
    pub fn counter_name(self) -> &'static str {
        match self {
            DropReason::Malformed => "drop_malformed",
            DropReason::BadIpChecksum => "drop_bad_ip_checksum",
            DropReason::Fragment => "drop_fragment",
            DropReason::IpOptions => "drop_ip_options",
            DropReason::TtlExceeded => "drop_ttl_exceeded",
            DropReason::TooBig => "drop_too_big",
            DropReason::NoHeadroom => "drop_no_headroom",
            DropReason::BadIcmpChecksum => "drop_bad_icmp_checksum",
            DropReason::IcmpUnrelated => "drop_icmp_unrelated",
            DropReason::UnsupportedProtocol => "drop_unsupported_protocol",
            DropReason::NoService => "drop_no_service",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counter_names_are_unique_and_prefixed() {
        let mut names: Vec<_> = DropReason::ALL.iter().map(|r| r.counter_name()).collect();
        assert!(names.iter().all(|n| n.starts_with("drop_")));
        names.sort();
        names.dedup();
        assert_eq!(names.len(), DropReason::ALL.len());
    }
}
