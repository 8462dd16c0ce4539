//! The one drop vocabulary: why the director dropped a packet, whichever layer decided
//! (the appliance in `net`, the transforms in `lb::xform`, the LB path). Every reason
//! has exactly one `drop_<reason>` counter ([`DropReason::counter_name`]); the data
//! plane maps reasons to its counters in one place (`dataplane::Counter::of_drop`), and
//! docs/DROPS.md lists them all.

/// Why a packet was dropped. One variant per reason, one `drop_<reason>` counter per
/// variant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum DropReason {
    /// Truncated or inconsistent headers (Ethernet, IPv4, TCP, UDP or ICMP lengths
    /// that do not add up), or an L3 offset outside the frame.
    Malformed,
    /// The IPv4 header checksum is wrong: a router must not forward it (RFC 1812 5.2.2).
    BadIpChecksum,
    /// A fragment (MF set or offset non-zero) handed to a whole-packet transform. Only
    /// the first fragment carries ports; the worker reassembles fragments first
    /// (`dataplane::reasm`) and sends them through `xform::datagram` instead.
    Fragment,
    /// An IPv4 header with options (IHL > 5): rare, often hostile (source routing),
    /// and not worth a slow path in a director.
    IpOptions,
    /// TTL ≤ 1 and no ICMP time-exceeded may be sent about it (RFC 1812 4.3.2.7:
    /// e.g. the packet is itself an ICMP error).
    TtlExceeded,
    /// Bigger than the egress MTU with DF set where no ICMP error may be sent about
    /// it (or routed by the appliance, which sends no ICMP errors), or too big for a
    /// fragmentation the MTU makes impossible; DF clear is fragmented (`wire::fragment`).
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
    /// Unicast frame for another MAC (af_packet ports see the whole segment).
    OtherHost,
    /// Neither IPv4 nor ARP.
    UnknownEthertype,
    /// An ARP packet that is neither for us nor teaches us anything.
    ArpIgnored,
    /// Not for a local address and no route matches.
    NoRoute,
    /// The next hop's MAC is unknown and the packet could not be held (hold queue
    /// full, or held too long).
    NeighUnresolved,
    /// For a local address, but this port has no exception path to the kernel.
    NoExceptionPath,
    /// Routing would send it back out of the port it came in on... to a broadcast
    /// or otherwise unforwardable destination.
    NotForwardable,
    /// Ethernet source broadcast, multicast, all zeros or the receiving port's own MAC
    /// (`net::martian`): no genuine station sends from it, and an answer would go to a
    /// group or to ourselves.
    BadEthSource,
    /// Ethernet destination all zeros (`net::martian`).
    BadEthDestination,
    /// IPv4 source 0/8, 127/8, 224/4, 240/4 (255.255.255.255 included), or one of the
    /// director's own addresses, VIPs or subnet broadcasts: a martian source (Linux
    /// `ip_route_input_slow`, `fib_validate_source`).
    MartianSource,
    /// IPv4 destination 0/8 or 127/8: a martian destination (Linux
    /// `ip_route_input_slow`).
    MartianDestination,
    /// An IPv4 option list that is not well formed (RFC 791: an option other than
    /// EOL/NOP without a length ≥ 2 that fits the header), on any path.
    BadIpOptions,
    /// A loose or strict source route option (LSRR 0x83, SSRR 0x89), on any path
    /// (Linux `accept_source_route = 0`).
    SourceRoute,
    /// An ARP packet whose sender IP is one of the director's addresses or VIPs from
    /// another station: an address conflict, never answered nor learnt (logged by the
    /// management thread).
    ArpConflict,
    /// An ARP packet whose sender hardware address is not unicast (broadcast,
    /// multicast, all zeros): never answered nor learnt.
    ArpBadSender,
    /// A packet neither for the director nor load-balancer traffic that the transit
    /// policy does not route (`[routing] transit`, `net::transit`).
    Transit,
    /// Traffic for a VIP in an Ethernet broadcast or multicast frame: IPVS schedules
    /// only frames addressed to the host (`PACKET_HOST`), so it is no service's
    /// (review finding 11).
    NotUnicast,
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
        DropReason::OtherHost,
        DropReason::UnknownEthertype,
        DropReason::ArpIgnored,
        DropReason::NoRoute,
        DropReason::NeighUnresolved,
        DropReason::NoExceptionPath,
        DropReason::NotForwardable,
        DropReason::BadEthSource,
        DropReason::BadEthDestination,
        DropReason::MartianSource,
        DropReason::MartianDestination,
        DropReason::BadIpOptions,
        DropReason::SourceRoute,
        DropReason::ArpConflict,
        DropReason::ArpBadSender,
        DropReason::Transit,
        DropReason::NotUnicast,
    ];

    /// The counter operators see (`drop_<reason>`).
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
            DropReason::OtherHost => "drop_other_host",
            DropReason::UnknownEthertype => "drop_unknown_ethertype",
            DropReason::ArpIgnored => "drop_arp_ignored",
            DropReason::NoRoute => "drop_no_route",
            DropReason::NeighUnresolved => "drop_neigh_unresolved",
            DropReason::NoExceptionPath => "drop_no_exception_path",
            DropReason::NotForwardable => "drop_not_forwardable",
            DropReason::BadEthSource => "drop_bad_eth_source",
            DropReason::BadEthDestination => "drop_bad_eth_destination",
            DropReason::MartianSource => "drop_martian_source",
            DropReason::MartianDestination => "drop_martian_destination",
            DropReason::BadIpOptions => "drop_bad_ip_options",
            DropReason::SourceRoute => "drop_source_route",
            DropReason::ArpConflict => "drop_arp_conflict",
            DropReason::ArpBadSender => "drop_arp_bad_sender",
            DropReason::Transit => "drop_transit",
            DropReason::NotUnicast => "drop_not_unicast",
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
