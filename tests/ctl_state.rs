//! rvsd with a persisted state file (`[control] state_file`, `mgmt::state`): a state
//! file that cannot be restored stops rvsd at start with one line naming the file
//! (never silently ignored), and a good one is restored over the config's services.

mod common;

use common::eal::root_or_skip;
use common::rvsd::{derived_config, start_refused, Rvsd};

/// `derived_config` shares one per-process temp dir: one test at a time.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// lab-appliance.toml on a `net_null` port, unique file prefix and socket, with
/// `state_file` in the test's dir.
fn config(tag: &str) -> (std::path::PathBuf, std::path::PathBuf, std::path::PathBuf) {
    let prefix = format!("rvs-{tag}-{}", std::process::id());
    let (dir, cfg) = derived_config(
        "lab-appliance.toml",
        &[
            ("net_af_packet0,iface=rvs-ext", "net_null0"),
            ("exception_path = true", "exception_path = false"),
            ("rvs-appliance", &prefix),
        ],
    );
    let state = dir.join("state.json");
    // derived_config already put the socket in the test's dir (common::rvsd::private_socket).
    let sock_line = format!("socket = \"{}\"", dir.join("rvsd.sock").display());
    let text = std::fs::read_to_string(&cfg).unwrap().replacen(
        &sock_line,
        &format!(
            "socket = \"{}\"\nstate_file = \"{}\"",
            dir.join("rvsd.sock").display(),
            state.display()
        ),
        1,
    );
    assert!(
        text.contains("state_file"),
        "no [control] socket line to extend"
    );
    std::fs::write(&cfg, text).unwrap();
    (dir, cfg, state)
}

#[test]
fn an_unreadable_state_file_stops_rvsd_naming_it() {
    if !root_or_skip() {
        return;
    }
    let _serial = one_at_a_time();
    let (dir, cfg, state) = config("badstate");
    std::fs::write(&state, "{\"version\":1,\"services\":[").unwrap();
    let out = start_refused(&cfg);
    let _ = std::fs::remove_dir_all(&dir);
    let out = out.expect("rvsd started with a broken state file");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("rvsd: state file {}: ", state.display())),
        "{err}"
    );
}

#[test]
fn a_missing_state_file_is_a_first_start() {
    if !root_or_skip() {
        return;
    }
    let _serial = one_at_a_time();
    let (dir, cfg, state) = config("nostate");
    assert!(!state.exists());
    let rvsd = Rvsd::start(dir, cfg);
    let log = rvsd.stop();
    assert!(!log.contains("restored the running state"), "{log}");
}
