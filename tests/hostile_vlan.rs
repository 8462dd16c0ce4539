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

#[test]
fn tagged_frames_on_a_port_without_vlans_are_dropped_and_counted() {
    if !lab_available("tagged_frames_on_a_port_without_vlans_are_dropped_and_counted") {
        return;
    }
    let extra = service("203.0.113.10", "203.0.113.11", "nat");
    let run = run_pcap("vlanno", "tests/pcap/vlan.py", &extra, &["untagged"]);
    assert!(run.check.contains("vlan pcap check OK"), "{}", run.check);
    // Tagged ARP, ping, SYN to a VIP, routed packet, QinQ; the priority-tagged and the
    // untagged ping answered.
    for (name, n) in [
        ("drop_vlan", 5),
        ("drop_vlan_unknown", 0),
        ("echo_replies", 2),
        ("arp_replies", 0),
        ("conns_new", 0),
        ("forwarded", 0),
    ] {
        assert_eq!(run.counter(name), n, "{name}:\n{}", run.log);
    }
}

#[test]
fn vlan_sub_interfaces_answer_and_balance_with_their_own_tags() {
    if !lab_available("vlan_sub_interfaces_answer_and_balance_with_their_own_tags") {
        return;
    }
    let mut extra = format!(
        "{MAC}\n[[vlan]]\nname = \"v100\"\nport = \"ext\"\nid = 100\naddresses = [\"192.0.2.1/25\"]\n\
         \n[[vlan]]\nname = \"v200\"\nport = \"ext\"\nid = 200\naddresses = [\"192.0.2.129/25\"]\n"
    );
    extra.push_str(&service("192.0.2.10", "192.0.2.140", "nat"));
    extra.push_str(&service("192.0.2.20", "192.0.2.30", "dr"));
    extra.push_str(&service("192.0.2.12", "203.0.113.11", "nat"));
    extra.push_str(&service("192.0.2.11", "192.0.2.141", "nat"));
    let run = run_pcap("vlantrunk", "tests/pcap/vlan.py", &extra, &["trunk"]);
    assert!(run.check.contains("vlan pcap check OK"), "{}", run.check);
    for (name, n) in [
        ("arp_replies", 3),
        ("echo_replies", 3),
        ("nat_in", 3),
        ("nat_out", 1),
        ("dr_out", 1),
        ("neigh_held", 1),
        ("gratuitous_arps", 7),
        ("drop_vlan", 1),
        ("drop_vlan_unknown", 1),
    ] {
        assert_eq!(run.counter(name), n, "{name}:\n{}", run.log);
    }
}
