//! rvsd leaves the kernel interfaces behind its `net_af_packet` ports as it found them:
//! the promiscuous flag (which DPDK's port start replays from the port's own setting)
//! and the sysctls rvsd sets to keep the host kernel off the interface.

mod common;
use common::lab::{lab_available, Lab};
use common::rvsd::{derived_config, start_refused, Rvsd};

fn promisc(iface: &str) -> bool {
    let flags = std::fs::read_to_string(format!("/sys/class/net/{iface}/flags")).unwrap();
    u32::from_str_radix(flags.trim().trim_start_matches("0x"), 16).unwrap() & 0x100 != 0
}

fn sysctls(iface: &str) -> Vec<String> {
    ["ipv4/conf/{}/rp_filter", "ipv4/conf/{}/arp_ignore"]
        .iter()
        .map(|p| {
            let path = format!("/proc/sys/net/{}", p.replace("{}", iface));
            std::fs::read_to_string(path).unwrap().trim().to_string()
        })
        .collect()
}

/// Tests here share one per-process derived-config dir: one at a time, also when the
/// harness runs tests in parallel.
fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

fn run_rvsd(lab: &Lab, veth: &str, port_extra: &str) -> String {
    let p = lab.prefix();
    let (dir, cfg) = derived_config(
        "lab-appliance.toml",
        &[
            ("iface=rvs-ext", &format!("iface={veth}")),
            (
                "exception_path = true",
                &format!("exception_path = false\n{port_extra}"),
            ),
            ("rvs-appliance", &format!("rvs-{p}")),
        ],
    );
    Rvsd::start(dir, cfg).stop()
}

#[test]
fn rvsd_restores_promiscuity_and_sysctls_of_its_interfaces() {
    if !lab_available("rvsd_restores_promiscuity_and_sysctls_of_its_interfaces") {
        return;
    }
    let _serial = one_at_a_time();
    let mut lab = Lab::new();
    let veth = format!("{}x", lab.prefix());
    lab.network("ext");
    lab.director_port("ext", &veth);
    let set = |on: bool| {
        let mode = if on { "on" } else { "off" };
        let st = std::process::Command::new("ip")
            .args(["link", "set", &veth, "promisc", mode])
            .status()
            .unwrap();
        assert!(st.success());
    };

    // The operator made it promiscuous; rvsd's port does not ask for it.
    set(true);
    std::fs::write(format!("/proc/sys/net/ipv4/conf/{veth}/rp_filter"), "0").unwrap();
    std::fs::write(format!("/proc/sys/net/ipv4/conf/{veth}/arp_ignore"), "0").unwrap();
    let before = sysctls(&veth);
    let log = run_rvsd(&lab, &veth, "");
    assert!(
        promisc(&veth),
        "rvsd cleared a promiscuous flag it did not set:\n{log}"
    );
    assert_eq!(sysctls(&veth), before, "sysctls not restored:\n{log}");

    // The reverse: not promiscuous, the port asks for it; afterwards it is off again.
    set(false);
    let log = run_rvsd(&lab, &veth, "promiscuous = true");
    assert!(log.contains("rvsd stopped"), "{log}");
    assert!(
        !promisc(&veth),
        "rvsd left a promiscuous flag it set:\n{log}"
    );
    assert_eq!(sysctls(&veth), before, "sysctls not restored:\n{log}");
}

/// Operator review: two rvsd on the same ports both ran (every packet forwarded twice).
/// A second rvsd on the interface the first one holds exits 1 with one line naming the
/// port, the device and the first one's pid, before touching the interface; the first
/// keeps running and stops cleanly.
#[test]
fn second_rvsd_on_the_same_interface_is_refused() {
    if !lab_available("second_rvsd_on_the_same_interface_is_refused") {
        return;
    }
    let _serial = one_at_a_time();
    let mut lab = Lab::new();
    let veth = format!("{}x", lab.prefix());
    lab.network("ext");
    lab.director_port("ext", &veth);
    let p = lab.prefix().to_string();
    let (dir, cfg) = derived_config(
        "lab-appliance.toml",
        &[
            ("iface=rvs-ext", &format!("iface={veth}")),
            ("exception_path = true", "exception_path = false"),
            ("rvs-appliance", &format!("rvs-{p}")),
        ],
    );
    let mut first = Rvsd::start(dir, cfg.clone());
    // The old code brought the second one up too: start_refused does not wait for ever.
    let Some(out) = start_refused(&cfg) else {
        panic!("a second rvsd runs on {veth}:\n{}", first.log_text());
    };
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!(
            "rvsd: port ext: device net_af_packet0,iface={veth}"
        )) && err.contains(&format!(
            "is already used by another rvsd (pid {})",
            first.pid()
        )) && err.contains(&format!("rvs-af_packet-{veth}.lock")),
        "first pid {}: {err}",
        first.pid()
    );
    assert!(first.running(), "{}", first.log_text());
    let log = first.stop();
    assert!(log.contains("rvsd stopped"), "{log}");
}
