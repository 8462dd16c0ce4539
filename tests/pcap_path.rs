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

/// Passive detection through the real data path: three SYNs that the NAT real server
/// answers with a RST, and one it answers with a SYN-ACK, are three failed openings
/// (the real server's line in the shutdown stats); with `[service.passive] failures =
/// 4` the real server stays UP (its MISC_CHECK always succeeds).
#[test]
fn passive_detection_golden_pcap() {
    if !lab_available("passive_detection_golden_pcap") {
        return;
    }
    let run = run_pcap(
        "pcappassive",
        "tests/pcap/passive.py",
        &passive_service(4),
        &[],
    );
    assert!(run.check.contains("check OK"), "{}", run.check);
    assert_eq!(
        (run.counter("nat_in"), run.counter("nat_out")),
        (4, 4),
        "{}",
        run.log
    );
    assert!(!run.log.contains("DOWN"), "3 failures < 4:\n{}", run.log);
    let dest = run
        .log
        .lines()
        .find(|l| l.contains("-> 203.0.113.11:8080 Nat"))
        .unwrap_or_else(|| panic!("no real server stats line:\n{}", run.log));
    assert!(dest.ends_with("; passive failures 3"), "{dest}");
}

/// The same through the management loop: with `[service.passive] failures = 3` the three
/// failed openings take the real server DOWN at once, for that reason (its MISC_CHECK
/// always succeeds and would run again only after delay_loop = 60 s); DOWN without
/// `inhibit_on_failure`, it leaves the table (no stats line at shutdown).
#[test]
fn passive_failures_take_a_real_server_down_golden_pcap() {
    if !lab_available("passive_failures_take_a_real_server_down_golden_pcap") {
        return;
    }
    let run = run_pcap(
        "pcappassive",
        "tests/pcap/passive.py",
        &passive_service(3),
        &[],
    );
    assert!(run.check.contains("check OK"), "{}", run.check);
    let down = "real server 203.0.113.11:8080 DOWN: passive: 3 failed connections in 10 s";
    assert!(run.log.contains(down), "no passive DOWN:\n{}", run.log);
    assert!(
        !run.log.contains("-> 203.0.113.11:8080 Nat"),
        "still in the table:\n{}",
        run.log
    );
}

/// tests/pcap/passive.py's NAT service, checked by a MISC_CHECK that always succeeds
/// (every 60 s), with passive detection at `failures` within 10 s.
fn passive_service(failures: u32) -> String {
    format!(
        "\n[[service]]\nproto = \"tcp\"\nvip = \"203.0.113.10\"\nport = 80\nscheduler = \"rr\"\n\
         delay_loop = 60\n[service.check.MISC_CHECK]\nmisc_path = \"/bin/true\"\n\
         [service.passive]\nfailures = {failures}\ninterval = 10\n\
         [[service.real]]\naddr = \"203.0.113.11\"\nport = 8080\nmethod = \"nat\"\n"
    )
}
