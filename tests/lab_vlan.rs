//! VLAN sub-interfaces in the lab, with real Linux hosts: rvsd's af_packet port is a trunk
//! carrying VLAN 100 (a client, 198.51.100.0/25) and VLAN 200 (a real server,
//! 198.51.100.128/25). The lab kernel has no 8021q module and no bridge VLAN filtering, so
//! each host reaches the trunk through `tests/lab/vlan_tagger.py`, a userspace access port
//! (tag on the way in, untag on the way out); the trunk side of rvsd is real: tags go
//! through the kernel's packet socket (TP_STATUS_VLAN_VALID) and DPDK's af_packet PMD.
//! The client pings and resolves rvsd's VLAN address (the configured port MAC) and
//! fetches a page through a NAT service whose real server is on the other VLAN, and a
//! page from a server of the director's own kernel on VLAN 100's exception-path tap; at
//! stop rvsd puts the interface's own MAC back and the tap is gone.

mod common;
use common::lab::{lab_available, Lab};
use common::rvsd::{derived_config, Rvsd};
use std::process::{Command, Stdio};

/// Kills (by its own handle) the kernel-side server this test started.
struct Killer(std::process::Child);
impl Drop for Killer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

const MAC: &str = "02:00:00:00:aa:01";

/// `host` behind an access port of VLAN `vid` on `network`: host's `eth0` (`addr`) ↔
/// a tagger namespace ↔ the trunk bridge.
fn vlan_host(lab: &mut Lab, host: &str, network: &str, vid: u16, addr: &str) {
    let tagger = format!("t{vid}");
    lab.host(host);
    lab.host(&tagger);
    // The tagger's trunk leg: an address-less interface would do, attach wants one.
    lab.attach(
        &tagger,
        network,
        "trunk",
        &format!("203.0.113.{}/32", vid / 10),
    );
    let h = lab.ns(host);
    lab.sh_ok(
        &tagger,
        &format!(
            "ip link add access type veth peer name eth0 netns {h} && ip link set access up \
             && ethtool -K access tx off tso off gso off gro off rxvlan off txvlan off >/dev/null"
        ),
    );
    lab.sh_ok(
        &tagger,
        "ethtool -K trunk rxvlan off txvlan off >/dev/null 2>&1; true",
    );
    lab.sh_ok(
        host,
        &format!(
            "ip addr add {addr} dev eth0 && ip link set eth0 up \
             && ethtool -K eth0 tx off tso off gso off gro off >/dev/null"
        ),
    );
    lab.spawn(
        &tagger,
        &format!("/usr/bin/python3 tests/lab/vlan_tagger.py access trunk {vid}"),
    );
}

#[test]
fn linux_hosts_on_two_vlans_reach_rvsd_and_each_other_through_nat() {
    if !lab_available("linux_hosts_on_two_vlans_reach_rvsd_and_each_other_through_nat") {
        return;
    }
    let mut lab = Lab::new();
    let p = lab.prefix().to_string();
    let veth = format!("{p}x");
    lab.network("trunk");
    lab.director_port("trunk", &veth);
    let own_mac = std::fs::read_to_string(format!("/sys/class/net/{veth}/address"))
        .unwrap()
        .trim()
        .to_string();
    vlan_host(&mut lab, "client", "trunk", 100, "198.51.100.2/25");
    vlan_host(&mut lab, "real", "trunk", 200, "198.51.100.140/25");
    lab.sh_ok("client", "ip route add default via 198.51.100.1");
    lab.sh_ok("real", "ip route add default via 198.51.100.129");
    lab.spawn(
        "real",
        "/usr/bin/python3 -m http.server 8080 --bind 198.51.100.140",
    );

    let tap = format!("{p}v");
    let vlans = format!(
        "exception_path = false\nmac = \"{MAC}\"\n\n\
         [[vlan]]\nname = \"v100\"\nport = \"ext\"\nid = 100\naddresses = [\"198.51.100.1/25\"]\n\
         exception_path = true\ntap_name = \"{tap}\"\n\n\
         [[vlan]]\nname = \"v200\"\nport = \"ext\"\nid = 200\naddresses = [\"198.51.100.129/25\"]\n\n\
         [[service]]\nproto = \"tcp\"\nvip = \"198.51.100.10\"\nport = 80\nscheduler = \"rr\"\n\
         [[service.real]]\naddr = \"198.51.100.140\"\nport = 8080\nmethod = \"nat\"\n\n"
    );
    let (dir, cfg) = derived_config(
        "lab-appliance.toml",
        &[
            ("iface=rvs-ext", &format!("iface={veth}")),
            // The port keys go into [[port]], the tables before [[route]].
            ("exception_path = true", &vlans),
            ("rvs-appliance", &format!("rvs-{p}")),
        ],
    );
    let rvsd = Rvsd::start(dir, cfg);
    let during = std::fs::read_to_string(format!("/sys/class/net/{veth}/address")).unwrap();
    assert_eq!(
        during.trim(),
        MAC,
        "the af_packet PMD set the kernel interface's MAC"
    );

    let ping = lab.sh_ok("client", "ping -c 3 -i 0.3 -W 2 198.51.100.1");
    assert!(ping.contains("3 received"), "{ping}");
    let neigh = lab.sh_ok("client", "ip neigh show 198.51.100.1");
    assert!(
        neigh.contains(MAC),
        "client resolved 198.51.100.1 to {neigh}"
    );
    let ping = lab.sh_ok("real", "ping -c 2 -i 0.3 -W 2 198.51.100.129");
    assert!(ping.contains("2 received"), "{ping}");
    assert!(
        lab.wait_until(
            "client",
            "curl -sf -m 2 -o /dev/null http://198.51.100.10/",
            15
        ),
        "NAT from VLAN 100 to a real server on VLAN 200:\n{}",
        rvsd.log_text()
    );

    // The director's kernel behind VLAN 100's tap (the exception path), reached by the
    // client through the trunk: untagged on the tap, tagged on the wire.
    let server = Command::new("/usr/bin/python3")
        .args(["-m", "http.server", "8081", "--bind", "198.51.100.1"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("kernel-side server");
    let _server = Killer(server);
    assert!(
        lab.wait_until(
            "client",
            "curl -sf -m 2 -o /dev/null http://198.51.100.1:8081/",
            15
        ),
        "kernel server on VLAN 100's tap:\n{}",
        rvsd.log_text()
    );

    // Full-size segments: 1500-byte datagrams in 1518-byte tagged frames both ways.
    let size = std::fs::metadata("Cargo.lock").unwrap().len();
    let got = lab.sh_ok(
        "client",
        "curl -sf -m 10 -o /dev/null -w '%{size_download}' http://198.51.100.10/Cargo.lock",
    );
    assert_eq!(
        got.trim(),
        size.to_string(),
        "whole file through NAT across VLANs"
    );

    let log = rvsd.stop();
    assert!(Rvsd::counter_in(&log, "echo_replies") >= 5, "{log}");
    assert!(Rvsd::counter_in(&log, "nat_in") >= 1, "{log}");
    assert!(Rvsd::counter_in(&log, "nat_out") >= 1, "{log}");
    assert!(Rvsd::counter_in(&log, "to_kernel") >= 1, "{log}");
    assert!(Rvsd::counter_in(&log, "from_kernel") >= 1, "{log}");
    assert!(
        !std::path::Path::new(&format!("/sys/class/net/{tap}")).exists(),
        "the VLAN's tap is gone after stop"
    );
    let after = std::fs::read_to_string(format!("/sys/class/net/{veth}/address")).unwrap();
    assert_eq!(after.trim(), own_mac, "the interface's own MAC is back");
}
