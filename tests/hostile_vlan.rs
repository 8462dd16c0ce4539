//! 802.1Q VLANs and the configured port MAC through the real net_pcap path: the frames and
//! the expected outputs are the tables of `tests/pcap/vlan.py` (checked there by scapy,
//! and every output frame by `tests/pcap/wellformed.py`); here the counters say why each
//! dropped frame was dropped.

mod common;
use common::lab::lab_available;
use common::pcap::run_pcap;

/// The MAC the tests give the port (not net_pcap's own, so a frame sent with the
/// device's MAC fails the check).
const MAC: &str = "mac = \"02:00:00:00:aa:01\"\n";

/// A one-real service `vip:80` → `real` by `method` (NAT to port 8080).
fn service(vip: &str, real: &str, method: &str) -> String {
    let port = if method == "nat" { "\nport = 8080" } else { "" };
    format!(
        "\n[[service]]\nproto = \"tcp\"\nvip = \"{vip}\"\nport = 80\nscheduler = \"rr\"\n\
         [[service.real]]\naddr = \"{real}\"\nmethod = \"{method}\"{port}\n"
    )
}

#[test]
fn port_mac_from_the_config_is_used_in_every_frame() {
    if !lab_available("port_mac_from_the_config_is_used_in_every_frame") {
        return;
    }
    let extra = format!("{MAC}{}", service("203.0.113.10", "203.0.113.11", "nat"));
    let run = run_pcap("vlanmac", "tests/pcap/vlan.py", &extra, &["mac"]);
    assert!(run.check.contains("vlan pcap check OK"), "{}", run.check);
    for (name, n) in [("arp_replies", 1), ("echo_replies", 1), ("nat_in", 1)] {
        assert_eq!(run.counter(name), n, "{name}:\n{}", run.log);
    }
}
