//! Taking real servers out of rotation, NAT lab: a quiescent real server (weight 0,
//! LVS's way to drain a server) gets no new connections, and a real server removed
//! from the configuration gets no traffic once rvsd runs with the new configuration.
//!
//! What is not here: quiescing a server while a connection to it is running (weight set
//! to 0 under a live connection, which must carry on) needs a run-time change, i.e. the
//! control socket (phase 4); rvsd can only change services by restarting, which ends
//! every connection. The connection table's unit tests cover existing entries
//! continuing after their dest's weight drops to 0.

mod common;
use common::lab::lab_available;
use common::rvsd::Rvsd;
use common::scenario::{curl_n, serial};
use common::topo::{tally, NatLab};

/// rs1's `[[service.real]]` block in lab-nat.toml (the TCP service).
const RS1: &str = "addr = \"192.0.2.11\"\nport = 8080\nmethod = \"nat\"\nweight = 1\n";
/// rs3's whole `[[service.real]]` block in lab-nat.toml.
const RS3_BLOCK: &str =
    "[[service.real]]\naddr = \"192.0.2.13\"\nport = 8080\nmethod = \"nat\"\nweight = 1\n";

fn count(t: &std::collections::BTreeMap<String, usize>, s: &str) -> usize {
    *t.get(s).unwrap_or(&0)
}

/// Starts rvsd on lab-nat.toml with `extra` replacements (each must apply), waits for
/// the VIP, runs `n` requests and returns rvsd and the tally of who answered.
fn run_requests(
    nat: &NatLab,
    extra: &[(&str, &str)],
    n: usize,
) -> (Rvsd, std::collections::BTreeMap<String, usize>) {
    let rvsd = nat.rvsd("lab-nat.toml", extra);
    let cfg = std::fs::read_to_string(&rvsd.config).unwrap();
    for (from, to) in extra {
        assert!(
            !cfg.contains(from) || cfg.contains(to),
            "replacement {from:?} did not apply"
        );
    }
    let lab = &nat.lab;
    assert!(
        lab.wait_until("client", "curl -sf -m 2 http://203.0.113.10/", 15),
        "VIP not answering:\n{}",
        rvsd.log_text()
    );
    let t = tally(&curl_n(lab, "client", "http://203.0.113.10/", n, ""));
    assert_eq!(t.get("FAIL"), None, "{t:?}");
    (rvsd, t)
}

/// `-a ... -r 192.0.2.11:8080 -m -w 0` from the start: wlc (the example's scheduler)
/// never picks the quiescent rs1; rs2 and rs3 share the load.
#[test]
fn nat_weight_zero_server_gets_no_new_connections() {
    if !lab_available("nat_weight_zero_server_gets_no_new_connections") {
        return;
    }
    let _serial = serial();
    let nat = NatLab::new();
    let rs1_quiesced = RS1.replace("weight = 1", "weight = 0");
    let (rvsd, t) = run_requests(&nat, &[(RS1, &rs1_quiesced)], 60);
    assert!(
        std::fs::read_to_string(&rvsd.config)
            .unwrap()
            .contains(&rs1_quiesced),
        "rs1 was not set to weight 0"
    );
    assert_eq!(
        count(&t, "rs1"),
        0,
        "the quiescent server was scheduled: {t:?}"
    );
    assert_eq!(count(&t, "rs2") + count(&t, "rs3"), 60, "{t:?}");
    assert!(
        count(&t, "rs2") >= 20 && count(&t, "rs3") >= 20,
        "wlc must share between rs2 and rs3: {t:?}"
    );
    let log = rvsd.stop();
    assert_eq!(Rvsd::counter_in(&log, "drop_no_dest"), 0, "{log}");
}

/// Removing rs3 from the configuration and restarting rvsd: rr over the remaining two,
/// nothing reaches rs3 (which still runs and would answer).
#[test]
fn nat_removed_server_gets_no_traffic_after_restart() {
    if !lab_available("nat_removed_server_gets_no_traffic_after_restart") {
        return;
    }
    let _serial = serial();
    let nat = NatLab::new();
    let rr = ("scheduler = \"wlc\"", "scheduler = \"rr\"");
    let (rvsd, before) = run_requests(&nat, &[rr], 30);
    assert!(
        (1..=3).all(|i| count(&before, &format!("rs{i}")) >= 9),
        "rr over three servers: {before:?}"
    );
    rvsd.stop();

    let (rvsd, after) = run_requests(&nat, &[rr, (RS3_BLOCK, "")], 30);
    assert!(
        !std::fs::read_to_string(&rvsd.config)
            .unwrap()
            .contains("192.0.2.13\"\nport = 8080"),
        "rs3 was not removed from the config"
    );
    assert_eq!(
        count(&after, "rs3"),
        0,
        "a removed server got traffic: {after:?}"
    );
    assert!(
        count(&after, "rs1") >= 14 && count(&after, "rs2") >= 14,
        "rr over the remaining two: {after:?}"
    );
    // rs3 itself is still up: only the director stopped sending it traffic.
    let direct = nat
        .lab
        .sh_ok("rs3", "curl -sf -m 2 http://192.0.2.13:8080/");
    assert_eq!(direct.trim(), "rs3");
    rvsd.stop();
}
