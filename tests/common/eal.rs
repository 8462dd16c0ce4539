//! DPDK EAL set-up shared by the tests that drive the real DPDK layer on virtual
//! devices: the root check (skip locally, fail under `CI=true`), the EAL arguments
//! (no hugepages, no PCI, no shared config, a per-run file prefix, one lcore) and an
//! mbuf filled with given bytes. The EAL starts once per process, so each test binary
//! that uses it has one test that calls [`test_eal`].

use rvs::dpdk::{Eal, Mbuf, Mempool};
use std::process::Command;

/// Whether this process runs as root (uid 0, as `id -u` says); false if `id` fails.
pub fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
        .unwrap_or(false)
}

/// Returns true when a test that needs root (the DPDK EAL) should go on. Not root: under
/// `CI=true` this is a failure (CI must never pass by skipping), elsewhere a skip with a
/// message.
pub fn root_or_skip() -> bool {
    if is_root() {
        return true;
    }
    assert!(
        std::env::var("CI").as_deref() != Ok("true"),
        "CI needs root for this test (DPDK EAL)"
    );
    eprintln!("skipped: not root (DPDK EAL)");
    false
}

/// EAL arguments for a test: no hugepages (256 MiB of ordinary memory), no PCI scan, no
/// shared config, file prefix `<prefix><pid>` (so parallel runs do not collide), lcore 0
/// only, EAL logs at error level, and one `--vdev=<vdev>` per entry of `vdevs`.
pub fn eal_args(prefix: &str, vdevs: &[&str]) -> Vec<String> {
    let mut args: Vec<String> = [
        "--no-huge",
        "-m",
        "256",
        "--no-pci",
        "--no-shconf",
        &format!("--file-prefix={prefix}{}", std::process::id()),
        "-l",
        "0",
        "--log-level=lib.eal:error",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    args.extend(vdevs.iter().map(|v| format!("--vdev={v}")));
    args
}

/// Starts the EAL with [`eal_args`]; panics if it does not start (once per process).
pub fn test_eal(prefix: &str, vdevs: &[&str]) -> Eal {
    Eal::init(&eal_args(prefix, vdevs)).expect("EAL init")
}

/// An mbuf from `pool` holding exactly `bytes`; panics if the pool is empty or the
/// bytes do not fit one mbuf.
pub fn mbuf_with(pool: &Mempool, bytes: &[u8]) -> Mbuf {
    let m = pool.alloc().expect("pool has mbufs");
    m.refill(bytes).ok().expect("the bytes fit an mbuf")
}
