//! Frames lost before rvsd sees them are counted: with a tiny af_packet RX ring
//! (`framecnt=2`) a burst from a real kernel overflows it, and the port's `imissed` in
//! rvsd's shutdown log must equal the frames the interface received that the port never
//! read (the kernel's own count, `/sys/class/net/IF/statistics/rx_packets`).

mod common;
use common::lab::{lab_available, Lab};
use common::rvsd::{derived_config, Rvsd};

fn rx_packets(iface: &str) -> u64 {
    std::fs::read_to_string(format!("/sys/class/net/{iface}/statistics/rx_packets"))
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

/// `key N` from rvsd's `port NAME: ...` shutdown line.
fn port_stat(log: &str, port: &str, key: &str) -> u64 {
    let line = log
        .lines()
        .find(|l| l.contains(&format!("port {port}: ipackets")))
        .unwrap_or_else(|| panic!("no stats line for port {port}:\n{log}"));
    line.split(&format!("{key} "))
        .nth(1)
        .and_then(|r| r.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {key} in {line}"))
}

#[test]
fn af_packet_ring_drops_show_as_imissed() {
    if !lab_available("af_packet_ring_drops_show_as_imissed") {
        return;
    }
    let mut lab = Lab::new();
    let p = lab.prefix().to_string();
    let veth = format!("{p}x");
    lab.network("ext");
    lab.host("client");
    lab.attach("client", "ext", "eth0", "203.0.113.2/24");
    lab.director_port("ext", &veth);
    let (dir, cfg) = derived_config(
        "lab-appliance.toml",
        &[
            ("iface=rvs-ext", &format!("iface={veth},framecnt=2")),
            ("exception_path = true", "exception_path = false"),
            ("rvs-appliance", &format!("rvs-{p}")),
            // No gateway: rvsd has no neighbour to resolve or refresh, so the only
            // frames the interface receives are the burst's.
            (
                "[[route]]\nprefix = \"198.51.100.0/24\"\nvia = \"203.0.113.2\"\nport = \"ext\"",
                "",
            ),
        ],
    );
    // The interface is quiet until rvsd starts (and its packet sockets exist from the
    // moment the port is probed): count from here, so rvsd's own start-up ARP exchange
    // is in both sides of the equation.
    let before = rx_packets(&veth);
    let rvsd = Rvsd::start(dir, cfg);
    // No ARP in the burst: the client knows the director's MAC for good.
    let mac = std::fs::read_to_string(format!("/sys/class/net/{veth}/address")).unwrap();
    lab.sh_ok(
        "client",
        &format!(
            "ip neigh replace 203.0.113.1 lladdr {} dev eth0 nud permanent",
            mac.trim()
        ),
    );
    lab.sh_ok(
        "client",
        "/usr/bin/python3 -c \"import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n\
         for i in range(20000): s.sendto(b'x' * 64, ('203.0.113.1', 9))\"",
    );
    // Let the worker empty the ring, then read everything.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let log = rvsd.stop();
    let received = rx_packets(&veth) - before;
    let read = port_stat(&log, "ext", "ipackets");
    let missed = port_stat(&log, "ext", "imissed");
    assert!(received >= 20000, "the burst did not arrive: {received}");
    assert!(
        missed > 0,
        "a 2-frame ring overflowed, yet imissed is 0:\n{log}"
    );
    // Every frame the interface received was read or counted as missed; the kernel's
    // count may differ by a stray control frame (an ARP exchange rvsd starts on its own).
    assert!(
        (read + missed).abs_diff(received) <= 2,
        "read {read} + missed {missed} != received {received}:\n{log}"
    );
}
