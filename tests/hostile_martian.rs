//! Martian frames and addresses (issue 10 item 1), table-driven through the real DPDK
//! path: `tests/pcap/martian.py` holds the table (frame -> dropped with which counter,
//! or the one output frame of a sane control), checks rvsd's output with scapy and
//! prints the counters each kind must reach; this side compares them with rvsd's.
//! Run once with a service (the LB path parses and screens every IPv4 frame) and once
//! without (the appliance does), so neither path lets a martian through.

mod common;
use common::lab::lab_available;
use common::pcap::{run_pcap_with, PcapRun};

/// A default route via the client: before the fix a packet to 0.0.0.0 went out on it.
const DEFAULT_ROUTE: &str =
    "\n[[route]]\nprefix = \"0.0.0.0/0\"\nvia = \"203.0.113.2\"\nport = \"ext\"\n";

/// Every `expect COUNTER N` line of the check's output matches rvsd's counter.
fn assert_expected(run: &PcapRun, at_least: usize) {
    let mut n = 0;
    for line in run.check.lines() {
        let Some(rest) = line.strip_prefix("expect ") else {
            continue;
        };
        let (name, want) = rest.split_once(' ').unwrap();
        let want: u64 = want.parse().unwrap();
        assert_eq!(run.counter(name), want, "{name}:\n{}", run.log);
        n += 1;
    }
    assert!(
        n >= at_least,
        "the check printed {n} expectations:\n{}",
        run.check
    );
}

#[test]
fn martians_are_dropped_and_counted_on_the_lb_path() {
    if !lab_available("martians_are_dropped_and_counted_on_the_lb_path") {
        return;
    }
    let extra = format!(
        "{DEFAULT_ROUTE}\n[[service]]\nproto = \"tcp\"\nvip = \"203.0.113.10\"\nport = 80\n\
         scheduler = \"rr\"\n[[service.real]]\naddr = \"203.0.113.11\"\nmethod = \"nat\"\nport = 8080\n"
    );
    let run = run_pcap_with("martlb", "tests/pcap/martian.py", &[], &extra, &["lb"]);
    assert_expected(&run, 4);
    for (name, n) in [
        ("conns_new", 1),
        ("nat_in", 1),
        ("echo_replies", 1),
        ("arp_replies", 1),
    ] {
        assert_eq!(run.counter(name), n, "{name}:\n{}", run.log);
    }
}

#[test]
fn martians_are_dropped_and_counted_by_the_appliance() {
    if !lab_available("martians_are_dropped_and_counted_by_the_appliance") {
        return;
    }
    let run = run_pcap_with(
        "martap",
        "tests/pcap/martian.py",
        &[],
        DEFAULT_ROUTE,
        &["appliance"],
    );
    assert_expected(&run, 4);
    for (name, n) in [("echo_replies", 1), ("arp_replies", 1), ("forwarded", 1)] {
        assert_eq!(run.counter(name), n, "{name}:\n{}", run.log);
    }
}
