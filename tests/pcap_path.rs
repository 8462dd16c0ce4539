//! Golden pcaps through the real data path: rvsd with a `net_pcap` port reads a crafted
//! input pcap (made by scapy) and writes what it transmits to an output pcap, which scapy
//! dissects and checks (an independent dissector: a fixture cannot agree with our bug).

mod common;
use common::lab::lab_available;
use common::pcap::{one_real_service, run_pcap};
use common::rvsd::Rvsd;

#[test]
fn appliance_golden_pcap() {
    if !lab_available("appliance_golden_pcap") {
        return;
    }
    // A VIP for the ARP case: a one-real service on 203.0.113.10.
    let log = run_pcap(
        "pcap",
        "tests/pcap/appliance.py",
        "\n[[service]]\nproto = \"tcp\"\nvip = \"203.0.113.10\"\nport = 80\nscheduler = \"rr\"\n\
         [[service.real]]\naddr = \"203.0.113.20\"\nmethod = \"dr\"\n",
        &[],
    )
    .log;
    assert_eq!(Rvsd::counter_in(&log, "arp_replies"), 2, "{log}");
    assert_eq!(Rvsd::counter_in(&log, "echo_replies"), 1, "{log}");
    assert_eq!(Rvsd::counter_in(&log, "gratuitous_arps"), 2, "{log}");
    assert_eq!(Rvsd::counter_in(&log, "drop_arp_ignored"), 1, "{log}");
    assert_eq!(Rvsd::counter_in(&log, "drop_malformed"), 2, "{log}");
    assert_eq!(Rvsd::counter_in(&log, "drop_other_host"), 1, "{log}");
    assert_eq!(Rvsd::counter_in(&log, "drop_unknown_ethertype"), 1, "{log}");
}

#[test]
fn load_balancing_golden_pcap() {
    if !lab_available("load_balancing_golden_pcap") {
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
    let log = run_pcap("pcaplb", "tests/pcap/lb.py", &services, &[]).log;
    for (name, n) in [
        ("nat_in", 1),
        ("nat_out", 1),
        ("icmp_related", 1),
        ("dr_out", 1),
        ("tun_out", 1),
        ("tx_icmp_frag_needed", 1),
        ("conns_new", 3),
        ("tx_tcp_reset", 1),
        ("drop_no_conn", 0),
        // x2, a lone first fragment, is held for reassembly (never completed).
        ("drop_fragment", 0),
        ("frag_reasm_reqds", 1),
        ("drop_bad_ip_checksum", 1),
    ] {
        assert_eq!(Rvsd::counter_in(&log, name), n, "{name}:\n{log}");
    }
}
