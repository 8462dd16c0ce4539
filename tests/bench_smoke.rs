//! The benchmark harness end to end, very short: `rvs-bench` brings up the EAL, ring
//! ports, the generator and a real worker, and must account for every packet it
//! offered (forwarded + dropped + still queued), or fail. Only counts are checked,
//! never timings (docs/BENCHMARKS.md).

mod common;

use common::eal::root_or_skip;
use std::process::{Command, Output};

/// The unsigned integer after `"key":` in one scenario's JSON object.
fn field(json: &str, key: &str) -> u64 {
    let at = json
        .find(&format!("\"{key}\":"))
        .unwrap_or_else(|| panic!("{key} not in {json}"))
        + key.len()
        + 3;
    let digits: String = json[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().unwrap()
}

/// The JSON object of scenario `name`.
fn row<'a>(json: &'a str, name: &str) -> &'a str {
    let start = json
        .find(&format!("{{\"name\":\"{name}\""))
        .unwrap_or_else(|| panic!("no {name} in {json}"));
    let len = json[start..].find('}').unwrap();
    &json[start..=start + len]
}

fn bench(extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_rvs-bench"))
        .args(["--secs", "0.2", "--runs", "1", "--warmup-secs", "0.05"])
        .args(["--mem-mb", "512", "--json", "--new-conns", "0"])
        .args(extra)
        .output()
        .expect("run rvs-bench")
}

#[test]
fn every_offered_packet_is_accounted_for_and_a_lost_one_fails_the_run() {
    if !root_or_skip() {
        return;
    }
    let out = bench(&["--scenario", "route", "--scenario", "dr-1k"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rvs-bench failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    for name in ["route", "dr-1k"] {
        let r = row(&stdout, name);
        let f = |k| field(r, k);
        assert!(f("rx_pkts") > 0 && f("forwarded") > 0, "{r}");
        assert_eq!(f("drops"), 0, "these frames must not be dropped: {r}");
        assert_eq!(
            f("offered") + f("generated"),
            f("delivered") + f("drops") + f("local") + f("queued"),
            "{r}"
        );
    }
    // The 1K row offers traffic from every one of its 1000 connections.
    assert_eq!(field(row(&stdout, "dr-1k"), "flows"), 1000);

    // A packet that goes uncounted fails the run, loudly.
    let out = bench(&["--scenario", "route", "--test-lose-packets", "1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "a lost packet must fail the run");
    assert!(
        stderr.contains("ACCOUNTING FAILED") && stderr.contains("1 packet(s) vanished"),
        "{stderr}"
    );
}
