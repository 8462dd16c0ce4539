//! Two workers, multi-queue ports (net_af_packet qpairs=2 spreads flows over queues by
//! hash, with no flow steering): 1000 concurrent NAT connections from several client
//! addresses all complete with correct bodies, although a reply often arrives on the
//! other worker's queue than its request; both workers carried traffic.

mod common;
use common::lab::lab_available;
use common::rvsd::Rvsd;
use common::topo::NatLab;

#[test]
fn two_workers_carry_1000_concurrent_nat_connections() {
    if !lab_available("two_workers_carry_1000_concurrent_nat_connections") {
        return;
    }
    let nat = NatLab::new();
    for extra in ["203.0.113.3/24", "203.0.113.4/24", "203.0.113.5/24"] {
        nat.lab
            .sh_ok("client", &format!("ip addr add {extra} dev eth0"));
    }
    let rvsd = nat.rvsd("lab-multicore.toml", &[]);
    let lab = &nat.lab;
    assert!(
        lab.wait_until("client", "curl -sf -m 2 http://203.0.113.10/", 15),
        "{}",
        rvsd.log_text()
    );
    let out = lab.sh_ok(
        "client",
        "ulimit -n 8192; /usr/bin/python3 tests/lab/many_clients.py 203.0.113.10 80 1000 203.0.113.2 203.0.113.3 203.0.113.4 203.0.113.5",
    );
    assert!(out.starts_with("ok 1000 "), "{out}");
    for rs in ["rs1=", "rs2=", "rs3="] {
        assert!(out.contains(rs), "{out}");
    }
    let log = rvsd.stop();
    let per_worker = |name: &str| -> Vec<u64> {
        let line = log
            .lines()
            .find(|l| l.contains(&format!("counter {name} = ")))
            .unwrap_or_else(|| panic!("{name} missing:\n{log}"));
        let inside = line
            .split("per worker [")
            .nth(1)
            .unwrap()
            .trim_end_matches(')')
            .trim_end_matches(']');
        inside
            .split(',')
            .map(|v| v.trim().parse().unwrap())
            .collect()
    };
    let rx = per_worker("rx_pkts");
    assert_eq!(rx.len(), 2);
    assert!(
        rx.iter().all(|&n| n > 100),
        "both workers must carry traffic: {rx:?}"
    );
    assert!(Rvsd::counter_in(&log, "conns_new") >= 1000, "{log}");
}
