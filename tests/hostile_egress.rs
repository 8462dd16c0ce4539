//! Egress MTU through the real DPDK data path (net_pcap): a datagram longer than the
//! egress MTU with DF clear is fragmented on every egress (NAT in/out, DR, TUN's outer
//! packet, routed by the appliance), as Linux IPVS does (tests/fixtures/oracle/egress);
//! with DF set both the LB path and the appliance answer frag-needed. Tunnel PMTU:
//! a frag-needed from a hop about one of our IPIP packets is relayed to the client
//! (MTU − 20, from the VIP) and lowers the tunnel MTU for the packets after it. The cases
//! and the scapy checks (every fragment <= MTU, offsets and MF right, reassembly equals
//! the expected packet) are the table in tests/pcap/egress.py; the counters are checked
//! here.

mod common;
use common::lab::lab_available;
use common::pcap::{one_real_service, run_pcap_with};

/// UDP services: NAT .10:80 -> .11:8080, DR .20:80 -> .12, TUN .30:80 -> .13, NAT
/// .40:80 -> .14:8080 (a real server whose MAC is learnt only after the datagram came).
fn services() -> String {
    [
        ("203.0.113.10", "203.0.113.11", "nat", Some(8080)),
        ("203.0.113.20", "203.0.113.12", "dr", None),
        ("203.0.113.30", "203.0.113.13", "tun", None),
        ("203.0.113.40", "203.0.113.14", "nat", Some(8080)),
    ]
    .iter()
    .map(|&(vip, real, method, rport)| one_real_service("udp", vip, 80, real, method, rport))
    .collect()
}

/// The counters every run of the table must end with (untagged or on a VLAN).
const COUNTS: &[(&str, u64)] = &[
    ("nat_in", 2),
    ("nat_out", 1),
    ("dr_out", 1),
    ("tun_out", 4),
    ("forwarded", 1),
    ("frag_oks", 7),
    ("frag_created", 14),
    ("neigh_held", 1),
    ("tx_icmp_frag_needed", 4),
    ("tun_icmp_frag_needed", 1),
    ("tun_icmp_error", 1),
    ("tx_icmp_time_exceeded", 1),
    ("drop_ttl_exceeded", 0),
    ("drop_too_big", 0),
    ("drop_frag_nobuf", 0),
];

#[test]
fn oversize_datagrams_are_fragmented_and_tunnel_pmtu_is_learnt() {
    if !lab_available("oversize_datagrams_are_fragmented_and_tunnel_pmtu_is_learnt") {
        return;
    }
    let run = run_pcap_with(
        "egress",
        "tests/pcap/egress.py",
        &[(
            "addresses = [\"203.0.113.1/24\"]",
            "addresses = [\"203.0.113.1/24\"]\nmtu = 1400",
        )],
        &services(),
        &["untagged"],
    );
    assert!(run.check.contains("egress pcap check OK"), "{}", run.check);
    for (name, n) in COUNTS {
        assert_eq!(run.counter(name), *n, "{name}:\n{}", run.log);
    }
}

/// The same table on VLAN 100 of a trunk port (the VLAN has the parent's 1400 MTU):
/// every fragment is a frame of its own and leaves with the tag.
#[test]
fn fragments_leave_tagged_on_a_vlan() {
    if !lab_available("fragments_leave_tagged_on_a_vlan") {
        return;
    }
    let extra = format!(
        "\n[[vlan]]\nname = \"v100\"\nport = \"ext\"\nid = 100\naddresses = [\"203.0.113.1/24\"]\n{}",
        services()
    );
    let run = run_pcap_with(
        "egressvlan",
        "tests/pcap/egress.py",
        &[
            (
                "addresses = [\"203.0.113.1/24\"]",
                "addresses = [\"192.0.2.1/24\"]\nmtu = 1400",
            ),
            ("port = \"ext\"", "port = \"v100\""),
        ],
        &extra,
        &["vlan"],
    );
    assert!(run.check.contains("egress pcap check OK"), "{}", run.check);
    for (name, n) in COUNTS {
        assert_eq!(run.counter(name), *n, "{name}:\n{}", run.log);
    }
}
