//! Never forward more than the datagram (issue 10 item 2): frames with Ethernet padding
//! or junk after their IP datagram, through the real net_pcap path, on every path that
//! sends something (NAT in and out, related ICMP, DR, TUN, routing, echo reply). The
//! table is `tests/pcap/trim.py`: scapy checks that each output frame is exactly its
//! datagram, and the shared checker (`tests/pcap/wellformed.py`) that it is well formed.

mod common;
use common::lab::lab_available;
use common::pcap::{one_real_service, run_pcap};

#[test]
fn every_path_sends_exactly_the_datagram() {
    if !lab_available("every_path_sends_exactly_the_datagram") {
        return;
    }
    let services: String = [
        ("203.0.113.10", "203.0.113.11", "nat", Some(8080)),
        ("203.0.113.20", "203.0.113.12", "dr", None),
        ("203.0.113.30", "203.0.113.13", "tun", None),
    ]
    .iter()
    .map(|&(vip, real, method, rport)| one_real_service("tcp", vip, 80, real, method, rport))
    .collect();
    let run = run_pcap("trim", "tests/pcap/trim.py", &services, &[]);
    assert!(run.check.contains("trim pcap check OK"), "{}", run.check);
    for (name, n) in [
        ("nat_in", 1),
        ("nat_out", 1),
        ("icmp_related", 1),
        ("dr_out", 2),
        ("tun_out", 1),
        ("forwarded", 1),
        ("echo_replies", 1),
        ("drop_malformed", 0),
    ] {
        assert_eq!(run.counter(name), n, "{name}:\n{}", run.log);
    }
}
