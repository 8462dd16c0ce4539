//! rvsd's command line: version with the git commit, `--check-config` on good and bad
//! files, and a start-up failure that exits non-zero with one clear line naming the cause.

mod common;

use common::eal::root_or_skip;
use common::rvsd::{derived_config, start_refused, Rvsd};
use std::process::Command;

/// Tests that derive a config share one per-process temp dir ([`derived_config`]): one
/// at a time, also when the harness runs tests in parallel.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn rvsd() -> Command {
    Command::new(env!("CARGO_BIN_EXE_rvsd"))
}

#[test]
fn version_names_semver_and_commit() {
    let out = rvsd().arg("--version").output().unwrap();
    assert!(out.status.success());
    let s = String::from_utf8_lossy(&out.stdout);
    assert!(s.starts_with("rvsd 0.1.0 (git "), "{s}");
    let out = Command::new(env!("CARGO_BIN_EXE_rvsadm"))
        .arg("--version")
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&out.stdout).contains("(git "));
}

#[test]
fn check_config_accepts_every_example() {
    for entry in std::fs::read_dir("configs").unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let out = rvsd().arg("--check-config").arg(&path).output().unwrap();
            assert!(
                out.status.success(),
                "{}: {}",
                path.display(),
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
}

#[test]
fn bad_config_exits_non_zero_with_file_line_and_key() {
    let path = "tests/fixtures/config/unknown-key.toml";
    for flag in ["--check-config", "--config"] {
        let out = rvsd().arg(flag).arg(path).output().unwrap();
        assert_eq!(out.status.code(), Some(2), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "one line: {err}");
        assert!(err.starts_with(&format!("rvsd: {path}:")), "{err}");
        let line: usize = err
            .split(':')
            .nth(2)
            .unwrap()
            .trim()
            .parse()
            .expect("a line number");
        assert!(line > 0);
    }
}

#[test]
fn unknown_device_fails_start_up_with_one_line_naming_the_port() {
    if !root_or_skip() {
        return;
    }
    let dir = std::env::temp_dir().join(format!("rvsd-cli-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("bad-device.toml");
    let text = std::fs::read_to_string("configs/lab-appliance.toml")
        .unwrap()
        .replace(
            "net_af_packet0,iface=rvs-ext",
            "net_af_packet0,iface=rvs-nosuch0",
        )
        .replace("exception_path = true", "exception_path = false")
        .replace("rvs-appliance", &format!("rvs-cli-{}", std::process::id()));
    std::fs::write(&cfg, common::rvsd::private_socket(&text, &dir)).unwrap();
    let out = rvsd()
        .arg("--config")
        .arg(&cfg)
        .env("RUST_LOG", "off")
        .output()
        .unwrap();
    std::fs::remove_dir_all(&dir).ok();
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    let ours: Vec<&str> = err.lines().filter(|l| l.starts_with("rvsd: ")).collect();
    assert_eq!(ours.len(), 1, "{err}");
    assert!(
        ours[0].contains("port ext") && ours[0].contains("net_af_packet0"),
        "{err}"
    );
    // The real cause, not the stale "Operation not permitted" DPDK's -1 reads as.
    assert!(
        ours[0].contains("interface rvs-nosuch0 does not exist"),
        "{err}"
    );
    assert!(!ours[0].contains("not permitted"), "{err}");
}

// rvsadm's own command line (formerly refused here until phase 6) is tested by
// tests/rvsadm_cli.rs against a real rvsd.

/// Operator review: SIGHUP (keepalived's reload signal) killed rvsd without cleanup.
/// rvsd on a `net_null` port gets HUP, reloads its (unchanged) file and logs so, keeps
/// running, then stops on TERM with status 0.
#[test]
fn sighup_reloads_and_keeps_running() {
    if !root_or_skip() {
        return;
    }
    let _serial = one_at_a_time();
    let tag = format!("rvs-hup-{}", std::process::id());
    let (dir, cfg) = derived_config(
        "lab-appliance.toml",
        &[
            ("net_af_packet0,iface=rvs-ext", "net_null0"),
            ("exception_path = true", "exception_path = false"),
            ("rvs-appliance", &tag),
        ],
    );
    let mut rvsd = Rvsd::start(dir, cfg);
    // The same file again: the reload goes through the control channel and finds
    // nothing to change (tests/ctl_socket.rs and the reload tests cover the rest).
    let warning = "reload: configuration unchanged";
    let pid = rvsd.pid().to_string();
    let hup = || {
        let ok = Command::new("kill").arg("-HUP").arg(&pid).status().unwrap();
        assert!(ok.success());
    };
    hup();
    // Wait for the outcome (the process would be gone instead with HUP's default action).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !rvsd.log_text().contains(warning) {
        assert!(rvsd.running(), "rvsd died on SIGHUP:\n{}", rvsd.log_text());
        assert!(
            std::time::Instant::now() < deadline,
            "no warning:\n{}",
            rvsd.log_text()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    hup();
    assert!(rvsd.running(), "{}", rvsd.log_text());
    let log = rvsd.stop(); // asserts exit status 0
    assert!(log.contains("rvsd stopped"), "{log}");
}

/// Operator review: `workers = [7]` on a 2-core box logged "could not pin" and then
/// "worker 0 running on core 7". A worker or management core this process cannot run
/// on is a start-up error naming the key and the core (core 1000: no test box has it).
#[test]
fn missing_core_fails_start_up_naming_the_core() {
    if !root_or_skip() {
        return;
    }
    let _serial = one_at_a_time();
    for (key, from, to) in [
        ("cores.workers[0]", "workers = [0]", "workers = [1000]"),
        ("cores.management", "management = 0", "management = 1000"),
    ] {
        let tag = format!("rvs-core-{}", std::process::id());
        let (dir, cfg) = derived_config(
            "lab-appliance.toml",
            &[
                ("net_af_packet0,iface=rvs-ext", "net_null0"),
                ("exception_path = true", "exception_path = false"),
                ("rvs-appliance", &tag),
                (from, to),
            ],
        );
        assert!(std::fs::read_to_string(&cfg).unwrap().contains(to));
        // The old code came up and ran unpinned: start_refused does not wait for ever.
        let out = start_refused(&cfg);
        std::fs::remove_dir_all(&dir).ok();
        let Some(out) = out else {
            panic!("{key}: rvsd started on core 1000");
        };
        assert_eq!(out.status.code(), Some(1), "{key}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(err.lines().count(), 1, "{err}");
        assert!(
            err.starts_with(&format!(
                "rvsd: {key}: core 1000 is not usable on this machine"
            )),
            "{err}"
        );
    }
}

/// Operator review: two rvsd with the same tap name shared one kernel tap, and stopping
/// one set it down under the other. A tap name that is already a kernel interface is a
/// start-up error naming it (here a veth the test makes and removes).
#[test]
fn existing_tap_name_fails_start_up_naming_it() {
    if !root_or_skip() {
        return;
    }
    let _serial = one_at_a_time();
    let tap = format!("rvtap{}", std::process::id() % 100_000);
    let made = Command::new("ip")
        .args([
            "link",
            "add",
            &tap,
            "type",
            "veth",
            "peer",
            "name",
            &format!("{tap}p"),
        ])
        .status()
        .unwrap();
    assert!(made.success(), "cannot create veth {tap}");
    let tag = format!("rvs-tap-{}", std::process::id());
    let (dir, cfg) = derived_config(
        "lab-appliance.toml",
        &[
            ("net_af_packet0,iface=rvs-ext", "net_null0"),
            (
                "exception_path = true",
                &format!("exception_path = true\ntap_name = \"{tap}\""),
            ),
            ("rvs-appliance", &tag),
        ],
    );
    let out = start_refused(&cfg);
    let still_there = Command::new("ip")
        .args(["link", "show", &tap])
        .output()
        .unwrap()
        .status
        .success();
    let _ = Command::new("ip").args(["link", "del", &tap]).status();
    std::fs::remove_dir_all(&dir).ok();
    let out = out.expect("rvsd started on an existing tap name");
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains(&format!(
            "port ext: exception-path interface {tap} already exists"
        )),
        "{err}"
    );
    assert!(still_there, "rvsd removed an interface it did not make");
}
