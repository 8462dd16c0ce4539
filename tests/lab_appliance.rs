//! Phase 1 in the lab: rvsd owns a DPDK port (`net_af_packet` on a veth) on the client
//! network. A client namespace gets ARP and ping replies from the director's address; a
//! TCP server run by the director's kernel on that address is reachable from the client
//! (exception path); the director's kernel reaches lab servers through the DPDK port,
//! on-link and via a static route; and shutdown leaves no tap, namespace or process.

mod common;
use common::lab::{lab_available, Lab};
use common::rvsd::{derived_config, Rvsd};
use std::process::{Command, Stdio};

struct Killer(std::process::Child);
impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
fn appliance_answers_arp_ping_and_carries_kernel_traffic() {
    if !lab_available("appliance_answers_arp_ping_and_carries_kernel_traffic") {
        return;
    }
    let mut lab = Lab::new();
    let p = lab.prefix().to_string();
    let veth = format!("{p}x");
    let tap = format!("{p}t");
    lab.network("ext");
    lab.network("far");
    lab.host("client");
    lab.host("farsrv");
    lab.attach("client", "ext", "eth0", "203.0.113.2/24");
    lab.attach("client", "far", "eth1", "198.51.100.1/24");
    lab.attach("farsrv", "far", "eth0", "198.51.100.5/24");
    lab.sh_ok("client", "sysctl -qw net.ipv4.ip_forward=1");
    lab.sh_ok("farsrv", "ip route add default via 198.51.100.1");
    lab.director_port("ext", &veth);
    lab.spawn(
        "client",
        "/usr/bin/python3 -m http.server 8080 --bind 203.0.113.2",
    );
    lab.spawn(
        "farsrv",
        "/usr/bin/python3 -m http.server 8080 --bind 198.51.100.5",
    );

    let (dir, cfg) = derived_config(
        "lab-appliance.toml",
        &[
            ("iface=rvs-ext", &format!("iface={veth}")),
            (
                "exception_path = true",
                &format!("exception_path = true\ntap_name = \"{tap}\""),
            ),
            ("rvs-appliance", &format!("rvs-{p}")),
        ],
    );
    let rvsd = Rvsd::start(dir, cfg);
    let rvsd_pid = rvsd.pid();
    let port_mac = std::fs::read_to_string(format!("/sys/class/net/{tap}/address"))
        .expect("the exception-path tap exists while rvsd runs")
        .trim()
        .to_string();

    // ARP + ping from the client, through the DPDK port. rvsd's own start-up request for
    // its gateway (the client) already taught the client our MAC: forget it, so the
    // client has to ask.
    let ping = lab.sh_ok(
        "client",
        "ip neigh flush dev eth0 && ping -c 3 -i 0.3 -W 2 203.0.113.1",
    );
    assert!(ping.contains("3 received"), "{ping}");
    assert!(
        !ping.contains("duplicates"),
        "only rvsd may answer, not the host kernel too: {ping}"
    );
    let neigh = lab.sh_ok("client", "ip neigh show 203.0.113.1");
    assert!(
        neigh.contains(&port_mac),
        "client resolved 203.0.113.1 to {neigh}, port MAC is {port_mac}"
    );

    // A TCP server of the director's kernel on its local address, reached by the client.
    let server = Command::new("/usr/bin/python3")
        .args(["-m", "http.server", "8081", "--bind", "203.0.113.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kernel-side server");
    let _server = Killer(server);
    assert!(lab.wait_until(
        "client",
        "curl -sf -m 2 -o /dev/null http://203.0.113.1:8081/",
        15
    ));

    // The director's kernel reaches lab servers through the DPDK port: on-link and routed.
    for url in ["http://203.0.113.2:8080/", "http://198.51.100.5:8080/"] {
        let ok = (0..30).any(|_| {
            let st = Command::new("curl")
                .args(["-sf", "-m", "2", "-o", "/dev/null", url])
                .status();
            if st.map(|s| s.success()).unwrap_or(false) {
                return true;
            }
            std::thread::sleep(std::time::Duration::from_millis(300));
            false
        });
        assert!(ok, "director kernel could not reach {url}");
    }

    let log = rvsd.stop();
    assert!(Rvsd::counter_in(&log, "echo_replies") >= 3, "{log}");
    assert!(Rvsd::counter_in(&log, "arp_replies") >= 1, "{log}");
    assert!(Rvsd::counter_in(&log, "to_kernel") >= 1, "{log}");
    assert!(Rvsd::counter_in(&log, "from_kernel") >= 1, "{log}");

    // Shutdown leaves no tap and no process; the lab leaves no namespace.
    assert!(
        !std::path::Path::new(&format!("/sys/class/net/{tap}")).exists(),
        "tap {tap} left behind"
    );
    assert!(
        !std::path::Path::new(&format!("/proc/{rvsd_pid}")).exists(),
        "rvsd process left behind"
    );
    let namespaces = lab.namespaces();
    drop(lab);
    let list = String::from_utf8_lossy(
        &Command::new("ip")
            .args(["netns", "list"])
            .output()
            .unwrap()
            .stdout,
    )
    .into_owned();
    for ns in namespaces {
        assert!(
            !list
                .lines()
                .any(|l| l.split_whitespace().next() == Some(ns.as_str())),
            "namespace {ns} left behind"
        );
    }
    assert!(!std::path::Path::new(&format!("/sys/class/net/{veth}")).exists());
}

/// The exception path refuses a port address the host already has on another interface
/// (here the af_packet veth itself carries 203.0.113.1), with one line naming the port,
/// the address and the interface, instead of silently taking it over. rvsd runs inside
/// a lab namespace so the root namespace's addresses are not touched.
#[test]
fn exception_path_refuses_an_address_another_interface_has() {
    if !lab_available("exception_path_refuses_an_address_another_interface_has") {
        return;
    }
    let mut lab = Lab::new();
    let p = lab.prefix().to_string();
    lab.network("ext");
    lab.host("dir");
    lab.attach("dir", "ext", "eth0", "203.0.113.1/24");
    // A directory of its own (derived_config's is shared with the other test of this
    // binary, which may run in parallel).
    let dir = std::env::temp_dir().join(format!("rvs-test-{p}-conflict"));
    std::fs::create_dir_all(&dir).unwrap();
    let cfg = dir.join("conflict.toml");
    let text = std::fs::read_to_string("configs/lab-appliance.toml")
        .unwrap()
        .replace("iface=rvs-ext", "iface=eth0")
        .replace("rvs-appliance", &format!("rvs-{p}"));
    std::fs::write(&cfg, common::rvsd::private_socket(&text, &dir)).unwrap();
    // `timeout`: the old code started and ran; the test then fails instead of hanging.
    let out = lab.sh(
        "dir",
        &format!(
            "timeout 30 {} --config {}",
            env!("CARGO_BIN_EXE_rvsd"),
            cfg.display()
        ),
    );
    std::fs::remove_dir_all(&dir).ok();
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    let ours: Vec<&str> = err.lines().filter(|l| l.starts_with("rvsd: ")).collect();
    assert_eq!(ours.len(), 1, "{err}");
    assert!(
        ours[0].contains(
            "port ext address 203.0.113.1 is already a local address of host interface eth0"
        ),
        "{err}"
    );
}
