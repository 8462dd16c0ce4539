//! A full connection table end to end: with `[tables] max_conns = 8` and eight slow
//! downloads holding every entry, new connections are dropped (and counted as
//! `drop_table_full`) while the held ones finish intact, and rvsd keeps running.
//!
//! DR lets the test see the table empty again: a closed DR connection waits in FIN_WAIT
//! for `tcpfin` (1 s here). A closed NAT connection waits in CLOSE_WAIT (60 s) and then
//! TIME_WAIT (120 s), fixed IPVS timeouts, so the NAT test only checks that rvsd keeps
//! running and answering while its table stays full.

mod common;
use common::lab::{lab_available, Lab};
use common::rvsd::Rvsd;
use common::scenario::{curl_n, serial, slow_get, Background};
use common::topo::{tally, NatLab, OneArmed, OneArmedLab};
use std::time::Duration;

const HELD: usize = 8;
const BYTES: usize = 1_000_000;

/// Starts `HELD` downloads of `BYTES` at 100 kB/s (10 s each) from the client and waits
/// until all of them are established.
fn hold_table(lab: &Lab, vip: &str) -> Vec<Background> {
    let held: Vec<Background> = (0..HELD)
        .map(|_| slow_get(lab, "client", vip, 80, BYTES, 100_000))
        .collect();
    let probe = format!("test $(ss -Htn state established dst {vip} | wc -l) -eq {HELD}");
    assert!(
        lab.wait_until("client", &probe, 15),
        "the held downloads did not all connect: {}",
        lab.sh_ok("client", "ss -tn")
    );
    held
}

/// Every held download completed with the full, intact body.
fn check_held(held: Vec<Background>) {
    for (i, b) in held.into_iter().enumerate() {
        let out = b.finish(60);
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "held download {i} failed: {out:?}");
        assert_eq!(text.trim(), format!("{BYTES} 200 ok"), "held download {i}");
    }
}

/// Three new connections while the table is full: none may get through (else the
/// test fails with rvsd's counters).
fn check_new_connections_fail(
    lab: &Lab,
    url: &str,
    rvsd: Rvsd,
    held: &mut Vec<Background>,
) -> Rvsd {
    for _ in 0..3 {
        let out = lab.sh("client", &format!("curl -sf -m 3 {url}"));
        if out.status.success() {
            let ss = lab.sh_ok("client", "ss -tn");
            let ended: Vec<String> = held
                .drain(..)
                .filter_map(|mut b| (!b.running()).then(|| format!("{:?}", b.finish(1))))
                .collect();
            panic!(
                "a new connection got through a full table: {}\nheld downloads that ended: {ended:?}\n{ss}\n{}",
                String::from_utf8_lossy(&out.stdout),
                rvsd.stop()
            );
        }
    }
    rvsd
}

/// `-t 192.0.2.10:80 -s rr` (DR, no persistence) in an 8-entry table with tcpfin 1 s.
#[test]
fn dr_full_table_drops_new_flows_keeps_held_ones_and_recovers() {
    if !lab_available("dr_full_table_drops_new_flows_keeps_held_ones_and_recovers") {
        return;
    }
    let _serial = serial();
    let dr = OneArmedLab::new(OneArmed::Dr);
    let rvsd = dr.rvsd(
        "lab-dr.toml",
        &[
            ("persistent = 300\n", ""),
            ("netmask = \"255.255.255.255\"\n", ""),
            (
                "[[service]]",
                "[tables]\nmax_conns = 8\n\n[timeouts]\ntcp = 900\ntcpfin = 1\nudp = 300\n\n[[service]]",
            ),
        ],
    );
    let cfg = std::fs::read_to_string(&rvsd.config).unwrap();
    assert!(cfg.contains("max_conns = 8") && !cfg.contains("persistent"));
    let lab = &dr.lab;
    assert!(
        lab.wait_until("client", "curl -sf -m 2 http://192.0.2.10/", 15),
        "{}",
        rvsd.log_text()
    );
    // Let the probes' entries (FIN_WAIT, 1 s) expire so all 8 slots are free.
    std::thread::sleep(Duration::from_secs(3));
    let mut held = hold_table(lab, "192.0.2.10");
    let rvsd = check_new_connections_fail(lab, "http://192.0.2.10/", rvsd, &mut held);
    check_held(held);
    // The held entries are now in FIN_WAIT (1 s): once they expire, rvsd serves again.
    std::thread::sleep(Duration::from_secs(3));
    let t = tally(&curl_n(lab, "client", "http://192.0.2.10/", 20, ""));
    assert_eq!(
        t.get("FAIL"),
        None,
        "no recovery after the table drained: {t:?}"
    );
    assert_eq!(t.values().sum::<usize>(), 20, "{t:?}");
    lab.sh_ok("client", "ping -c 2 -W 2 192.0.2.1");
    let log = rvsd.stop();
    assert!(Rvsd::counter_in(&log, "drop_table_full") > 0, "{log}");
    assert!(
        Rvsd::counter_in(&log, "conns_new") >= (HELD + 20) as u64,
        "{log}"
    );
}

/// NAT with an 8-entry table: same overflow, and rvsd keeps answering ARP and ping
/// while closed connections still hold the table (CLOSE_WAIT/TIME_WAIT).
#[test]
fn nat_full_table_drops_new_flows_and_rvsd_keeps_answering() {
    if !lab_available("nat_full_table_drops_new_flows_and_rvsd_keeps_answering") {
        return;
    }
    let _serial = serial();
    let nat = NatLab::new();
    let rvsd = nat.rvsd(
        "lab-nat.toml",
        &[("[timeouts]", "[tables]\nmax_conns = 8\n\n[timeouts]")],
    );
    assert!(std::fs::read_to_string(&rvsd.config)
        .unwrap()
        .contains("max_conns = 8"));
    let lab = &nat.lab;
    // One probe only: each closed NAT connection holds its entry for minutes.
    assert!(
        lab.wait_until("client", "ping -c 1 -W 1 203.0.113.1", 15),
        "{}",
        rvsd.log_text()
    );
    let mut held = hold_table(lab, "203.0.113.10");
    let rvsd = check_new_connections_fail(lab, "http://203.0.113.10/", rvsd, &mut held);
    check_held(held);
    // ARP (flush the client's entry first) and ping still answered by the director.
    lab.sh_ok("client", "ip neigh flush dev eth0");
    lab.sh_ok("client", "ping -c 2 -W 2 203.0.113.1");
    let log = rvsd.stop();
    assert!(Rvsd::counter_in(&log, "drop_table_full") > 0, "{log}");
    assert!(Rvsd::counter_in(&log, "arp_replies") >= 2, "{log}");
}
