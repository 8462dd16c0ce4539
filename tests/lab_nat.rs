//! NAT end to end: a two-armed director balances real curl clients over three real
//! servers (real kernels, real TCP) that use it as their gateway.

mod common;
use common::lab::lab_available;
use common::rvsd::Rvsd;
use common::topo::{tally, ten_mb_both_ways, NatLab};

#[test]
fn nat_rr_balances_300_requests_and_carries_10mb_both_ways() {
    if !lab_available("nat_rr_balances_300_requests_and_carries_10mb_both_ways") {
        return;
    }
    let nat = NatLab::new();
    let rvsd = nat.rvsd(
        "lab-nat.toml",
        &[("scheduler = \"wlc\"", "scheduler = \"rr\"")],
    );
    let lab = &nat.lab;
    assert!(
        lab.wait_until("client", "curl -sf -m 2 http://203.0.113.10/", 15),
        "VIP not answering:\n{}",
        rvsd.log_text()
    );
    let out = lab.sh_ok(
        "client",
        "for i in $(seq 300); do curl -sf -m 5 http://203.0.113.10/ || echo FAIL; done",
    );
    let t = tally(&out);
    assert_eq!(t.get("FAIL"), None, "{t:?}");
    // rr: the first probe above took one turn; 300 more make 100 each, give or take that one.
    let counts: Vec<usize> = (1..=3)
        .map(|i| *t.get(&format!("rs{i}")).unwrap_or(&0))
        .collect();
    assert_eq!(counts.iter().sum::<usize>(), 300, "{t:?}");
    assert!(
        counts.iter().all(|&c| (99..=101).contains(&c)),
        "rr must spread evenly: {t:?}"
    );

    ten_mb_both_ways(lab, "client", "203.0.113.10");

    let log = rvsd.stop();
    assert!(Rvsd::counter_in(&log, "conns_new") >= 303, "{log}");
    // The service's own counters (ipvsadm --stats columns) are logged at shutdown.
    let svc = log
        .lines()
        .find(|l| l.contains("vport: 80 } rr: conns "))
        .unwrap_or_else(|| panic!("no service stats line:\n{log}"));
    let conns: u64 = svc
        .split("conns ")
        .nth(1)
        .unwrap()
        .split_whitespace()
        .next()
        .unwrap()
        .parse()
        .unwrap();
    assert!(conns >= 303, "{svc}");
    assert!(
        svc.contains("outpkts ") && !svc.contains("outpkts 0 "),
        "{svc}"
    );
    assert!(
        Rvsd::counter_in(&log, "nat_in") > 0 && Rvsd::counter_in(&log, "nat_out") > 0,
        "{log}"
    );
}
