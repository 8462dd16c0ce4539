//! The network-namespace lab: hosts are namespaces, each lab network is a Linux bridge
//! inside a "switch" namespace of its own (so the root namespace's routing is untouched),
//! and the director's DPDK ports are veth ends left in the root namespace with no address
//! (DPDK owns them through `net_af_packet`). Every name carries a per-run prefix, and
//! `Drop` removes every namespace, veth and process the lab made, on success and on
//! panic alike. Offloads are off on every veth (see ARCHITECTURE.md: af_packet would see
//! partial checksums and 64 KiB segments otherwise).

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static SEQ: AtomicU32 = AtomicU32::new(0);

/// Why a lab test cannot run here.
pub fn require_root_and_tools() -> Result<(), String> {
    let uid = Command::new("id")
        .arg("-u")
        .output()
        .map_err(|e| e.to_string())?;
    if String::from_utf8_lossy(&uid.stdout).trim() != "0" {
        return Err("not root".into());
    }
    for tool in ["ip", "ethtool", "curl", "ping", "/usr/bin/python3"] {
        let ok = Command::new("sh")
            .arg("-c")
            .arg(format!("command -v {tool}"))
            .stdout(Stdio::null())
            .status()
            .map(|s| s.success())
            .unwrap_or(false);
        if !ok {
            return Err(format!("{tool} is missing (scripts/setup.sh installs it)"));
        }
    }
    Ok(())
}

/// Returns true when the test should go on; under `CI=true` a missing prerequisite is
/// a failure, never a silent skip.
pub fn lab_available(test: &str) -> bool {
    match require_root_and_tools() {
        Ok(()) => true,
        Err(why) => {
            if std::env::var("CI").as_deref() == Ok("true") {
                panic!("{test}: lab prerequisites missing under CI: {why}");
            }
            eprintln!("{test}: SKIPPED (lab prerequisites missing: {why})");
            false
        }
    }
}

fn run(cmd: &str) -> Output {
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .output()
        .expect("sh runs")
}

fn must(cmd: &str) {
    let out = run(cmd);
    assert!(
        out.status.success(),
        "lab command failed: {cmd}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A lab. Drop tears it all down.
pub struct Lab {
    prefix: String,
    namespaces: Vec<String>,
    root_links: Vec<String>,
    children: Vec<Child>,
}

impl Lab {
    /// An empty lab with a unique prefix (≤ 7 characters, so names fit IFNAMSIZ).
    pub fn new() -> Lab {
        let n = SEQ.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("l{}{}", std::process::id() % 10000, n);
        Lab {
            prefix,
            namespaces: Vec::new(),
            root_links: Vec::new(),
            children: Vec::new(),
        }
    }

    /// The run's unique prefix (use it to make config names unique too).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The namespace name of a host or switch.
    pub fn ns(&self, name: &str) -> String {
        format!("{}{}", self.prefix, name)
    }

    fn add_ns(&mut self, name: &str) -> String {
        let ns = self.ns(name);
        must(&format!("ip netns add {ns}"));
        self.namespaces.push(ns.clone());
        must(&format!(
            "ip netns exec {ns} sh -c 'ip link set lo up; sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0'"
        ));
        ns
    }

    /// A host namespace.
    pub fn host(&mut self, name: &str) {
        self.add_ns(name);
    }

    /// A lab network: a bridge in a switch namespace of its own.
    pub fn network(&mut self, name: &str) {
        let ns = self.add_ns(&format!("sw{name}"));
        must(&format!(
            "ip -n {ns} link add br0 type bridge && ip -n {ns} link set br0 up"
        ));
    }

    /// Plugs `host` into `network` with `addr` ("203.0.113.2/24") on interface `ifname`.
    pub fn attach(&mut self, host: &str, network: &str, ifname: &str, addr: &str) {
        let (h, sw) = (self.ns(host), self.ns(&format!("sw{network}")));
        let peer = format!("{}{}{}", self.prefix, host, network)
            .chars()
            .take(15)
            .collect::<String>();
        must(&format!(
            "ip link add {ifname} netns {h} type veth peer name {peer} netns {sw}"
        ));
        must(&format!("ip -n {sw} link set {peer} master br0 up"));
        must(&format!(
            "ip -n {h} addr add {addr} dev {ifname} && ip -n {h} link set {ifname} up"
        ));
        must(&format!(
            "ip netns exec {h} ethtool -K {ifname} tx off tso off gso off gro off >/dev/null"
        ));
        must(&format!(
            "ip netns exec {sw} ethtool -K {peer} tx off tso off gso off gro off >/dev/null"
        ));
    }

    /// Plugs the director into `network`: veth `ifname` stays in the root namespace,
    /// up, without address, for a `net_af_packet` port.
    pub fn director_port(&mut self, network: &str, ifname: &str) {
        let sw = self.ns(&format!("sw{network}"));
        let peer = format!("{}d{}", self.prefix, network)
            .chars()
            .take(15)
            .collect::<String>();
        run(&format!("ip link del {ifname} 2>/dev/null"));
        must(&format!(
            "ip link add {ifname} type veth peer name {peer} netns {sw}"
        ));
        self.root_links.push(ifname.to_string());
        must(&format!("ip -n {sw} link set {peer} master br0 up"));
        must(&format!("sysctl -qw net.ipv6.conf.{ifname}.disable_ipv6=1"));
        must(&format!("ip link set {ifname} up"));
        must(&format!(
            "ethtool -K {ifname} tx off tso off gso off gro off >/dev/null"
        ));
        must(&format!(
            "ip netns exec {sw} ethtool -K {peer} tx off tso off gso off gro off >/dev/null"
        ));
    }

    /// Plugs a director running inside namespace `host` into `network`: veth `ifname`
    /// in `host`, up, without address, for a `net_af_packet` port (as [`Lab::director_port`],
    /// for an rvsd started with `ip netns exec`, whose exception-path taps and kernel
    /// sockets, e.g. health checks, then stay in the lab).
    pub fn director_port_in(&mut self, host: &str, network: &str, ifname: &str) {
        let (h, sw) = (self.ns(host), self.ns(&format!("sw{network}")));
        let peer = format!("{}d{}", self.prefix, network)
            .chars()
            .take(15)
            .collect::<String>();
        must(&format!(
            "ip link add {ifname} netns {h} type veth peer name {peer} netns {sw}"
        ));
        must(&format!("ip -n {sw} link set {peer} master br0 up"));
        must(&format!("ip -n {h} link set {ifname} up"));
        must(&format!(
            "ip netns exec {h} ethtool -K {ifname} tx off tso off gso off gro off >/dev/null"
        ));
        must(&format!(
            "ip netns exec {sw} ethtool -K {peer} tx off tso off gso off gro off >/dev/null"
        ));
    }

    /// Runs a shell command inside `host`.
    pub fn sh(&self, host: &str, cmd: &str) -> Output {
        Command::new("ip")
            .args(["netns", "exec", &self.ns(host), "sh", "-c", cmd])
            .output()
            .expect("ip netns exec runs")
    }

    /// Runs a shell command inside `host` and returns stdout, failing the test on error.
    pub fn sh_ok(&self, host: &str, cmd: &str) -> String {
        let out = self.sh(host, cmd);
        assert!(
            out.status.success(),
            "in {host}: {cmd}\nstdout: {}\nstderr: {}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Starts a long-running process inside `host`; it is killed (by pid) and reaped on Drop.
    pub fn spawn(&mut self, host: &str, cmd: &str) -> u32 {
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.ns(host),
                "sh",
                "-c",
                &format!("exec {cmd}"),
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn in namespace");
        let pid = child.id();
        self.children.push(child);
        pid
    }

    /// Waits until `probe` (a shell command in `host`) succeeds, up to `secs`.
    pub fn wait_until(&self, host: &str, probe: &str, secs: u64) -> bool {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while Instant::now() < deadline {
            if self.sh(host, probe).status.success() {
                return true;
            }
            std::thread::sleep(Duration::from_millis(200));
        }
        false
    }

    /// Names of every namespace this lab made.
    pub fn namespaces(&self) -> Vec<String> {
        self.namespaces.clone()
    }
}

impl Default for Lab {
    fn default() -> Self {
        Self::new()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for c in self.children.iter_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        for l in &self.root_links {
            run(&format!("ip link del {l} 2>/dev/null"));
        }
        for ns in self.namespaces.iter().rev() {
            // Processes started with `ip netns exec` outside `spawn` (none should be left)
            // would keep a namespace's veths alive; the netns itself goes regardless.
            run(&format!("ip netns del {ns} 2>/dev/null"));
        }
    }
}
