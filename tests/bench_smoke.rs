//! The benchmark harness end to end, very short: `rvs-bench --scenario route` brings up
//! the EAL, ring ports, the generator and a real worker, and reports packets received
//! and forwarded. Only counts are checked, never timings (docs/BENCHMARKS.md).

use std::process::Command;

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// The unsigned integer after `"key":` in the bench's one-line JSON.
fn field(json: &str, key: &str) -> Option<u64> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let digits: String = json[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect();
    digits.parse().ok()
}

#[test]
fn route_scenario_moves_packets_through_the_worker() {
    if !is_root() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI needs root for the benchmark smoke test (DPDK EAL)"
        );
        eprintln!("skipped: not root");
        return;
    }
    let out = Command::new(env!("CARGO_BIN_EXE_rvs-bench"))
        .args([
            "--scenario",
            "route",
            "--secs",
            "0.2",
            "--runs",
            "1",
            "--warmup-secs",
            "0.05",
            "--mem-mb",
            "512",
            "--json",
        ])
        .output()
        .expect("run rvs-bench");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "rvs-bench failed: {}\n{stdout}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("\"name\":\"route\""), "{stdout}");
    let rx = field(&stdout, "rx_pkts").expect("rx_pkts in the JSON");
    let fwd = field(&stdout, "forwarded").expect("forwarded in the JSON");
    let drops = field(&stdout, "drops").expect("drops in the JSON");
    assert!(rx > 0, "no packet reached the worker: {stdout}");
    assert!(fwd > 0, "the worker forwarded nothing: {stdout}");
    assert_eq!(drops, 0, "routed frames must not be dropped: {stdout}");
}
