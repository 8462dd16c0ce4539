//! rvsd leaves the kernel interfaces behind its `net_af_packet` ports as it found them:
//! the promiscuous flag (which DPDK's port start replays from the port's own setting)
//! and the sysctls rvsd sets to keep the host kernel off the interface.

mod common;
use common::lab::{lab_available, Lab};
use common::rvsd::{derived_config, Rvsd};

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
