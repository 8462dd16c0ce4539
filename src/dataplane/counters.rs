//! Per-worker counters: every outcome of the worker loop, including NIC and TX drops.
//!
//! Each worker owns one [`WorkerCounters`] and is its only writer, so an increment is a
//! relaxed load and store (no locked read-modify-write on the fast path); the management
//! thread reads with relaxed loads and sums across workers. A reader may see a counter
//! one packet behind, which is all a statistic needs.

use std::sync::atomic::{AtomicU64, Ordering};

macro_rules! counters {
    ($($(#[$doc:meta])* $name:ident => $text:literal,)*) => {
        /// One counter of the worker loop.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        #[repr(usize)]
        pub enum Counter { $($(#[$doc])* $name,)* }

        impl Counter {
            /// Every counter, in display order.
            pub const ALL: &'static [Counter] = &[$(Counter::$name,)*];
            /// The name operators see (`rvsd` logs, later `rvsadm`).
            pub fn name(self) -> &'static str {
                match self { $(Counter::$name => $text,)* }
            }
        }
    };
}

counters! {
    /// Packets received from data ports.
    RxPkts => "rx_pkts",
    /// Bytes received from data ports.
    RxBytes => "rx_bytes",
    /// Packets handed to the transmit queues of data ports.
    TxPkts => "tx_pkts",
    /// ARP replies sent for our addresses and VIPs.
    ArpReplies => "arp_replies",
    /// Gratuitous ARP announcements sent at start.
    GratuitousArps => "gratuitous_arps",
    /// Broadcast ARP requests sent to resolve next hops (one per address per
    /// `retrans_time_ms` while packets wait for it, and at start for real servers and
    /// gateways).
    ArpRequests => "arp_requests",
    /// ARP probes sent to confirm a stale neighbour in use (unicast to its known MAC,
    /// then broadcast with `mcast_resolicit`).
    ArpProbes => "arp_probes",
    /// Packets held while their next hop was resolved (sent later and counted under
    /// their outcome, or dropped as `drop_neigh_unresolved`).
    NeighHeld => "neigh_held",
    /// ICMP echo replies sent.
    EchoReplies => "echo_replies",
    /// Packets routed (MACs rewritten, TTL decremented).
    Forwarded => "forwarded",
    /// New connections created (after scheduling).
    ConnsNew => "conns_new",
    /// NAT packets client -> real server.
    NatIn => "nat_in",
    /// NAT replies real server -> client.
    NatOut => "nat_out",
    /// DR packets sent to real servers.
    DrOut => "dr_out",
    /// TUN (IPIP) packets sent to real servers.
    TunOut => "tun_out",
    /// ICMP errors about a connection passed to its other end.
    IcmpRelated => "icmp_related",
    /// ICMP frag-needed sent to clients (TUN encapsulation too big with DF).
    TxIcmpFragNeeded => "tx_icmp_frag_needed",
    /// ICMP time-exceeded sent (TTL 1 to a VIP).
    TxIcmpTimeExceeded => "tx_icmp_time_exceeded",
    /// RSTs sent for TCP segments (not SYN) to a VIP service without a connection.
    TxTcpReset => "tx_tcp_reset",
    /// ICMP port unreachable sent for new flows with no available real server.
    TxIcmpPortUnreachable => "tx_icmp_port_unreachable",
    /// Packets handed up to the kernel (exception path).
    ToKernel => "to_kernel",
    /// Packets the kernel sent out through a port (exception path).
    FromKernel => "from_kernel",
    /// Packets fully handled by rvsd itself (ARP replies learnt from).
    Consumed => "consumed",
    /// Malformed packets.
    DropMalformed => "drop_malformed",
    /// Unicast frames for other MACs.
    DropOtherHost => "drop_other_host",
    /// Neither IPv4 nor ARP.
    DropUnknownEthertype => "drop_unknown_ethertype",
    /// ARP packets not for us.
    DropArpIgnored => "drop_arp_ignored",
    /// No route.
    DropNoRoute => "drop_no_route",
    /// Next hop unresolved and the packet could not be held (hold queue full) or was
    /// held longer than `mcast_solicit × retrans_time_ms`.
    DropNeighUnresolved => "drop_neigh_unresolved",
    /// TTL exceeded on forwarding.
    DropTtlExceeded => "drop_ttl_exceeded",
    /// Local traffic on a port without exception path.
    DropNoExceptionPath => "drop_no_exception_path",
    /// Not forwardable (broadcast/multicast destinations).
    DropNotForwardable => "drop_not_forwardable",
    /// Bad IPv4 header checksum on the LB path.
    DropBadIpChecksum => "drop_bad_ip_checksum",
    /// IPv4 fragments for a VIP (no reassembly).
    DropFragment => "drop_fragment",
    /// IPv4 options on the LB path.
    DropIpOptions => "drop_ip_options",
    /// Too big for the egress MTU without DF (no fragmentation).
    DropTooBig => "drop_too_big",
    /// No headroom for the TUN header.
    DropNoHeadroom => "drop_no_headroom",
    /// Bad ICMP checksum on a related error.
    DropBadIcmpChecksum => "drop_bad_icmp_checksum",
    /// ICMP error that matches no connection correctly.
    DropIcmpUnrelated => "drop_icmp_unrelated",
    /// Protocol the LB does not carry.
    DropUnsupportedProtocol => "drop_unsupported_protocol",
    /// VIP packet for a port without service.
    DropNoService => "drop_no_service",
    /// TCP non-SYN for a VIP without a connection entry.
    DropNoConn => "drop_no_conn",
    /// The scheduler found no available real server.
    DropNoDest => "drop_no_dest",
    /// The connection table is full: new flow refused.
    DropTableFull => "drop_table_full",
    /// A new flow lost its insert race to other workers `RACE_ROUNDS` times in a
    /// row, each winner already gone again (see `LbPath::flow`).
    DropConnRace => "drop_conn_race",
    /// The connection's real server was deleted (expire_nodest_conn off).
    DropDestUnavailable => "drop_dest_unavailable",
    /// Multi-segment mbufs (never produced at our MTUs).
    DropMultiSegment => "drop_multi_segment",
    /// Packets the NIC did not take after retries.
    DropTxFull => "drop_tx_full",
    /// TSC cycles spent in loop iterations that moved packets (cycles per packet =
    /// busy_cycles / rx_pkts, independent of the offered load).
    BusyCycles => "busy_cycles",
    /// Worker loop iterations (to see a worker is alive).
    Loops => "loops",
    /// 802.1Q-tagged frames on a port without VLANs, and QinQ frames (802.1ad, 0x9100,
    /// two tags): rvsd has no sub-interface for them (dataplane/vlan.rs).
    DropVlan => "drop_vlan",
    /// Tagged frames whose VLAN id is not a `[[vlan]]` of the trunk port they came in on.
    DropVlanUnknown => "drop_vlan_unknown",
    /// Datagrams rvs fragmented because they exceeded the egress MTU with DF clear
    /// (Linux's `FragOKs`; each also counts its outcome: nat_in, tun_out, forwarded...).
    FragOks => "frag_oks",
    /// Fragments rvs created and transmitted (Linux's `FragCreates`; a fragment held for
    /// an unresolved next hop is counted when it leaves).
    FragCreated => "frag_created",
    /// Datagrams that needed fragmenting but the mempool had no buffer for a fragment
    /// (the fragments already made are sent, the rest of the datagram is lost; Linux's
    /// `FragFails` on `-ENOMEM`).
    DropFragNobuf => "drop_frag_nobuf",
    /// Ethernet source broadcast, multicast, zero or the port's own MAC.
    DropBadEthSource => "drop_bad_eth_source",
    /// Ethernet destination all zeros.
    DropBadEthDestination => "drop_bad_eth_destination",
    /// Martian IPv4 source (0/8, 127/8, 224/4, 240/4, ours, a VIP).
    DropMartianSource => "drop_martian_source",
    /// Martian IPv4 destination (0/8, 127/8).
    DropMartianDestination => "drop_martian_destination",
    /// Malformed IPv4 option list.
    DropBadIpOptions => "drop_bad_ip_options",
    /// IPv4 source route option (LSRR/SSRR).
    DropSourceRoute => "drop_source_route",
    /// ARP from another station claiming one of our addresses or VIPs.
    DropArpConflict => "drop_arp_conflict",
    /// ARP whose sender hardware address is not unicast.
    DropArpBadSender => "drop_arp_bad_sender",
    /// TCP/UDP packets that would create state (a SYN, a new UDP flow, an ops datagram)
    /// whose L4 checksum is wrong, by the NIC's RX flag or in software (issue 10 item 4).
    DropBadL4Checksum => "drop_bad_l4_checksum",
    /// TCP/UDP packets to a VIP with source or destination port 0 (never a real flow).
    DropPortZero => "drop_port_zero",
    /// ICMP frag-needed about rvsd's own IPIP packets for a TUN connection (a real
    /// server or a hop on the tunnel path): the tunnel MTU toward that real server
    /// lowered, and relayed to the client from the VIP (counted as sent) when the outer
    /// packet had DF, else consumed (IPVS `ip_vs_in_icmp`).
    TunIcmpFragNeeded => "tun_icmp_frag_needed",
    /// Other ICMP errors (destination unreachable, time exceeded) about rvsd's own IPIP
    /// packets for a TUN connection, relayed to the client from the VIP with their type
    /// and code (IPVS `ip_vs_in_icmp`; e.g. protocol unreachable from a real server
    /// without IPIP).
    TunIcmpError => "tun_icmp_error",
    /// Transit packets the `[routing] transit` policy does not route.
    DropTransit => "drop_transit",
    /// IPv4 fragments taken in for reassembly (Linux `ReasmReqds`); each ends up sent
    /// as part of a datagram or under one `drop_frag_*` (or `drop_malformed`) counter.
    FragReasmReqds => "frag_reasm_reqds",
    /// Datagrams reassembled (Linux `ReasmOKs`); their fragments go on as one packet.
    FragReasmOk => "frag_reasm_ok",
    /// Fragments of datagrams not complete within `ipfrag_time` (Linux `ReasmTimeout`).
    DropFragTimeout => "drop_frag_timeout",
    /// Fragments of datagrams killed by an overlapping fragment or one disagreeing
    /// with the datagram's end (Linux `ReasmOverlaps`, RFC 5722 in spirit).
    DropFragOverlap => "drop_frag_overlap",
    /// Exact duplicate fragments (same offset and length), dropped alone.
    DropFragDup => "drop_frag_dup",
    /// Fragments dropped or evicted to keep reassembly within its memory bounds
    /// (`ipfrag_high_thresh`, the per-source share, the table's datagram and fragment
    /// limits).
    DropFragMem => "drop_frag_mem",
    /// Fragments of datagrams whose first fragment does not hold the whole TCP/UDP
    /// header (RFC 1858).
    DropFragTiny => "drop_frag_tiny",
    /// Fragments of datagrams longer than 65535 bytes (RFC 791).
    DropFragTooBig => "drop_frag_too_big",
    /// ICMP errors about a VIP's traffic quoting a non-first fragment: no ports, so no
    /// connection to relate them to (IPVS `ip_vs_in_icmp` leaves them alone).
    DropIcmpFragQuote => "drop_icmp_frag_quote",
    /// Traffic for a VIP in an Ethernet broadcast or multicast frame (IPVS schedules
    /// only `PACKET_HOST` frames).
    DropNotUnicast => "drop_not_unicast",
}

/// Number of counters.
pub const COUNTERS: usize = Counter::ALL.len();

/// One worker's counters.
pub struct WorkerCounters {
    cells: [AtomicU64; COUNTERS],
}

impl Default for WorkerCounters {
    fn default() -> Self {
        WorkerCounters {
            cells: std::array::from_fn(|_| AtomicU64::new(0)),
        }
    }
}

impl WorkerCounters {
    /// Adds `n` (owner thread only: plain load + store, see the module doc).
    #[inline]
    pub fn add(&self, c: Counter, n: u64) {
        let cell = &self.cells[c as usize];
        cell.store(
            cell.load(Ordering::Relaxed).wrapping_add(n),
            Ordering::Relaxed,
        );
    }

    /// Adds one.
    #[inline]
    pub fn inc(&self, c: Counter) {
        self.add(c, 1);
    }

    /// Sets a counter mirrored from elsewhere (e.g. a TX queue's own drop count).
    #[inline]
    pub fn set(&self, c: Counter, v: u64) {
        self.cells[c as usize].store(v, Ordering::Relaxed);
    }

    /// Reads one counter (any thread).
    pub fn get(&self, c: Counter) -> u64 {
        self.cells[c as usize].load(Ordering::Relaxed)
    }
}

impl Counter {
    /// The one mapping from the drop vocabulary ([`crate::drops::DropReason`], shared by
    /// `net` and `lb::xform`) to counters; a reason's counter has its `counter_name`.
    #[inline]
    pub fn of_drop(r: crate::drops::DropReason) -> Counter {
        use crate::drops::DropReason as R;
        match r {
            R::Malformed => Counter::DropMalformed,
            R::BadIpChecksum => Counter::DropBadIpChecksum,
            R::Fragment => Counter::DropFragment,
            R::IpOptions => Counter::DropIpOptions,
            R::TtlExceeded => Counter::DropTtlExceeded,
            R::TooBig => Counter::DropTooBig,
            R::NoHeadroom => Counter::DropNoHeadroom,
            R::BadIcmpChecksum => Counter::DropBadIcmpChecksum,
            R::IcmpUnrelated => Counter::DropIcmpUnrelated,
            R::UnsupportedProtocol => Counter::DropUnsupportedProtocol,
            R::NoService => Counter::DropNoService,
            R::OtherHost => Counter::DropOtherHost,
            R::UnknownEthertype => Counter::DropUnknownEthertype,
            R::ArpIgnored => Counter::DropArpIgnored,
            R::NoRoute => Counter::DropNoRoute,
            R::NeighUnresolved => Counter::DropNeighUnresolved,
            R::NoExceptionPath => Counter::DropNoExceptionPath,
            R::NotForwardable => Counter::DropNotForwardable,
            R::BadEthSource => Counter::DropBadEthSource,
            R::BadEthDestination => Counter::DropBadEthDestination,
            R::MartianSource => Counter::DropMartianSource,
            R::MartianDestination => Counter::DropMartianDestination,
            R::BadIpOptions => Counter::DropBadIpOptions,
            R::SourceRoute => Counter::DropSourceRoute,
            R::ArpConflict => Counter::DropArpConflict,
            R::ArpBadSender => Counter::DropArpBadSender,
            R::Transit => Counter::DropTransit,
            R::NotUnicast => Counter::DropNotUnicast,
        }
    }
}

#[cfg(test)]
mod drop_tests {
    use super::*;
    use crate::drops::DropReason;

    #[test]
    fn every_drop_reason_has_its_counter_under_the_same_name() {
        for r in DropReason::ALL {
            assert_eq!(Counter::of_drop(*r).name(), r.counter_name(), "{r:?}");
        }
    }
}
