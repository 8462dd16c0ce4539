//! The transit policy (issue 10 item 6), table-driven through the real DPDK path:
//! `tests/pcap/transit.py` holds the table (load-balancer traffic, the director's own,
//! transit, no route) and the outcome of each under the policy in force, checks rvsd's
//! output with scapy and prints the counters; this side compares them with rvsd's.
//! Run with rvsd's default (`[routing]` left out: "none") and with `transit = "all"`
//! (configs/lab-appliance.toml, which routes on purpose), and with `transit = "outbound"`
//! where a `[[vlan]]` sub-interface of the one net_pcap port, marked inside, is the
//! private network: its host's DNS query, ping, SYN and NTP query go out, and exactly
//! their replies (and the ICMP error quoting one) come back, nothing else (issue 10
//! review finding 1: replies were dropped). Also `net::transit`'s and
//! `net::appliance`'s unit tests.

mod common;
use common::lab::lab_available;
use common::pcap::{run_pcap_with, PcapRun};

const SERVICE: &str = "\n[[service]]\nproto = \"tcp\"\nvip = \"203.0.113.10\"\nport = 80\n\
                       scheduler = \"rr\"\n[[service.real]]\naddr = \"203.0.113.11\"\n\
                       method = \"nat\"\nport = 8080\n";

fn assert_expected(run: &PcapRun) {
    let mut n = 0;
    for line in run.check.lines() {
        if let Some((name, want)) = line.strip_prefix("expect ").and_then(|r| r.split_once(' ')) {
            assert_eq!(
                run.counter(name),
                want.parse::<u64>().unwrap(),
                "{name}:\n{}",
                run.log
            );
            n += 1;
        }
    }
    assert!(n >= 3, "{}", run.check);
    for (name, v) in [("nat_in", 1), ("nat_out", 1), ("echo_replies", 1)] {
        assert_eq!(run.counter(name), v, "{name}:\n{}", run.log);
    }
}

#[test]
fn by_default_only_load_balancer_and_own_traffic_passes() {
    if !lab_available("by_default_only_load_balancer_and_own_traffic_passes") {
        return;
    }
    let run = run_pcap_with(
        "trnone",
        "tests/pcap/transit.py",
        &[("[routing]\ntransit = \"all\"", "")],
        SERVICE,
        &["none"],
    );
    assert_expected(&run);
}

#[test]
fn transit_all_routes_everything_with_a_route() {
    if !lab_available("transit_all_routes_everything_with_a_route") {
        return;
    }
    let run = run_pcap_with("trall", "tests/pcap/transit.py", &[], SERVICE, &["all"]);
    assert_expected(&run);
}

/// The inside network of the "outbound" run: VLAN 100 on the one port, 192.0.2.0/25.
const INSIDE_VLAN: &str = "\n[[vlan]]\nname = \"v100\"\nport = \"ext\"\nid = 100\n\
                           addresses = [\"192.0.2.1/25\"]\ninside = true\n";

#[test]
fn transit_outbound_lets_inside_flows_out_and_only_their_replies_back() {
    if !lab_available("transit_outbound_lets_inside_flows_out_and_only_their_replies_back") {
        return;
    }
    let run = run_pcap_with(
        "trout",
        "tests/pcap/transit.py",
        &[("transit = \"all\"", "transit = \"outbound\"")],
        &format!("{SERVICE}{INSIDE_VLAN}"),
        &["outbound"],
    );
    assert_expected(&run);
    // The four flows out and their four replies in, one in two fragments (transit.py's
    // table).
    assert_eq!(run.counter("forwarded"), 10, "{}", run.log);
    assert!(
        run.check.contains("transit check OK (outbound)"),
        "{}",
        run.check
    );
}
