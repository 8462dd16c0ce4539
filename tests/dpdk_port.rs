//! The safe DPDK layer against a real device: EAL without hugepages, a `net_af_packet`
//! port on a veth pair, a frame the kernel sends is received, and a frame we transmit
//! reaches the kernel (seen by a raw socket on the peer). One test: EAL is once per process.

mod common;

use common::eal::{eal_args, root_or_skip};
use rvs::dpdk::{Eal, Mempool, Port, PortConfig, RxBurst};
use std::process::Command;
use std::time::{Duration, Instant};

fn sh(cmd: &str) -> bool {
    Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

struct Veth(String);
impl Drop for Veth {
    fn drop(&mut self) {
        sh(&format!("ip link del {} 2>/dev/null", self.0));
    }
}

#[test]
fn af_packet_port_moves_frames_both_ways() {
    if !root_or_skip() {
        return;
    }
    let a = format!("rvt{}a", std::process::id() % 100000);
    let b = format!("rvt{}b", std::process::id() % 100000);
    assert!(sh(&format!("ip link add {a} type veth peer name {b}")));
    let _guard = Veth(a.clone());
    for i in [&a, &b] {
        assert!(sh(&format!(
            "ip link set {i} up && sysctl -qw net.ipv6.conf.{i}.disable_ipv6=1"
        )));
        sh(&format!(
            "ethtool -K {i} tx off tso off gso off gro off >/dev/null 2>&1"
        ));
    }
    let args = eal_args("rvt", &[]);
    let eal = Eal::init(&args).expect("EAL init");
    assert!(Eal::init(&args).is_err(), "second EAL init must be refused");
    let pool = Mempool::new(&eal, "test_pool", 2047, 32).expect("mempool");
    let port = Port::attach(&eal, &format!("net_af_packet0,iface={a}")).expect("attach");
    assert!(Port::attach(&eal, "net_nonexistent_driver0").is_err());
    let (port, mut rx, mut tx) = port.start(&PortConfig::default(), &pool).expect("start");
    assert_eq!(rx.len(), 1);
    let mac = port.mac().expect("mac");

    // Kernel -> DPDK: a broadcast frame with a marker sent from the peer end.
    let send = format!(
        "python3 -c \"import socket; s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(('{b}',0)); s.send(b'\\xff'*6 + b'\\x02\\x00\\x00\\x00\\x00\\x01' + b'\\x88\\xb5' + b'rvs-marker' + b'\\x00'*40)\""
    );
    assert!(sh(&send), "raw send");
    let mut burst = RxBurst::default();
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut got = false;
    while Instant::now() < deadline && !got {
        rx[0].rx_burst(&mut burst);
        while let Some(m) = burst.next_mbuf() {
            if m.data().windows(10).any(|w| w == b"rvs-marker") {
                got = true;
            }
        }
    }
    assert!(
        got,
        "frame sent by the kernel was not received by the DPDK port"
    );

    // DPDK -> kernel: capture on the peer with a raw socket while we transmit.
    let cap = std::process::Command::new("python3")
        .arg("-c")
        .arg(format!(
            "import socket,sys; s=socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b6)); s.bind(('{b}',0)); s.settimeout(5)\nwhile True:\n d=s.recv(2048)\n if b'rvs-tx' in d: print('seen'); break"
        ))
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("capture");
    std::thread::sleep(Duration::from_millis(500));
    for _ in 0..5 {
        let mut m = pool.alloc().expect("mbuf");
        assert!(m.append(60));
        let d = m.data_mut();
        d[0..6].copy_from_slice(&[0xff; 6]);
        d[6..12].copy_from_slice(&mac);
        d[12..14].copy_from_slice(&[0x88, 0xb6]);
        d[14..20].copy_from_slice(b"rvs-tx");
        tx[0].push(m);
        tx[0].flush();
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = cap.wait_with_output().expect("capture exits");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "seen");
    assert!(port.stats().opackets >= 1);
    assert!(port.link().up);
    drop(rx);
    drop(tx);
    drop(port);
}
