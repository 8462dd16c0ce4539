//! Validate before answering (issue 10 item 3), table-driven through the real DPDK
//! path: `tests/pcap/answer.py` holds the table (IP options on every path, ICMP echo
//! well-formedness, ARP sender validation), checks rvsd's output with scapy and prints
//! the counters each kind must reach; this side compares them with rvsd's and checks
//! the address conflict was logged by the management thread.

mod common;
use common::lab::lab_available;
use common::pcap::run_pcap_with;

#[test]
fn only_well_formed_requests_are_answered() {
    if !lab_available("only_well_formed_requests_are_answered") {
        return;
    }
    let extra = "\n[[route]]\nprefix = \"0.0.0.0/0\"\nvia = \"203.0.113.2\"\nport = \"ext\"\n\
                 \n[[service]]\nproto = \"tcp\"\nvip = \"203.0.113.10\"\nport = 80\n\
                 scheduler = \"rr\"\n[[service.real]]\naddr = \"203.0.113.11\"\nmethod = \"nat\"\nport = 8080\n";
    let run = run_pcap_with("answer", "tests/pcap/answer.py", &[], extra, &[]);
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
    assert!(n >= 8, "{}", run.check);
    // The SYNs with source routes or bad options left no connection: only the control's.
    assert_eq!(run.counter("conns_new"), 1, "{}", run.log);
    assert!(
        run.log
            .contains("ARP address conflict: 02:00:00:00:00:66 claims 203.0.113."),
        "the management thread logs the conflict:\n{}",
        run.log
    );
}
