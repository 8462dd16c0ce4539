//! Never forward more than the datagram (issue 10 item 2): frames with Ethernet padding
//! or junk after their IP datagram, through the real net_pcap path, on every path that
//! sends something (NAT in and out, related ICMP, DR, TUN, routing, echo reply). The
//! table is `tests/pcap/trim.py`: scapy checks that each output frame is exactly its
//! datagram, and the shared checker (`tests/pcap/wellformed.py`) that it is well formed.

mod common;
use common::lab::lab_available;
use common::pcap::run_pcap;

#[test]
fn every_path_sends_exactly_the_datagram() {
    if !lab_available("every_path_sends_exactly_the_datagram") {
        return;
    }
    let mut services = String::new();
    for (vip, real, method, port) in [
        ("203.0.113.10", "203.0.113.11", "nat", "\nport = 8080"),
        ("203.0.113.20", "203.0.113.12", "dr", ""),
        ("203.0.113.30", "203.0.113.13", "tun", ""),
    ] {
        services.push_str(&format!(
            "\n[[service]]\nproto = \"tcp\"\nvip = \"{vip}\"\nport = 80\nscheduler = \"rr\"\n\
             [[service.real]]\naddr = \"{real}\"\nmethod = \"{method}\"{port}\n"
        ));
    }
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
