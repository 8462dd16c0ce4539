//! Issue 15: a frame's Ethernet and IPv4 headers are parsed, and the IPv4 header
//! checksum verified, once on its way through a worker (`LbPath::handle`, then
//! `Net::handle_at` on `LbVerdict::Pass`), counted by the test-only counters in
//! `wire::ipv4::verifications` (checksum verifications, `Ipv4Packet::new_checked`
//! parses). Before issue 15 a forwarded NAT packet was verified twice and parsed
//! three times.

use crate::dataplane::{Counter, LbPath, LbVerdict};
use crate::net::{TxKind, Verdict};
use crate::testkit::testbed::{self, tcp_frame, CLIENT_MAC, PORT_MAC};
use crate::wire::ipv4::verifications;
use crate::wire::{HeadroomBuf, IcmpPacket, Ipv4Packet, PacketBuf, TcpPacket};
use std::net::Ipv4Addr;

/// What the worker loop did with a frame: the LB verdict, and the appliance's when
/// the LB path passed it on (as `dataplane::worker::poll_port`).
#[derive(Debug, PartialEq, Eq)]
enum Step {
    Lb(LbVerdict),
    Net(Verdict),
}

/// Runs `frame` through the LB path and, on `Pass`, the appliance; returns the
/// outcome and (IPv4 header checksums verified, IPv4 headers parsed) on the way.
fn step(lb: &mut LbPath, frame: &[u8]) -> (Step, (u64, u64)) {
    let (out, n, _) = step_out(lb, frame);
    (out, n)
}

/// [`step`], also returning the frame as it leaves.
fn step_out(lb: &mut LbPath, frame: &[u8]) -> (Step, (u64, u64), Vec<u8>) {
    let before = (verifications::count(), verifications::parses());
    let mut b = HeadroomBuf::new(frame);
    let out = match lb.handle(0, &mut b, 1) {
        LbVerdict::Pass => Step::Net(lb.net().handle_at(0, &mut b, lb.passed_ipv4(), 1)),
        v => Step::Lb(v),
    };
    let n = (
        verifications::count() - before.0,
        verifications::parses() - before.1,
    );
    (out, n, b.data().to_vec())
}

fn a(d: u8) -> Ipv4Addr {
    Ipv4Addr::new(203, 0, 113, d)
}

/// An ICMP echo request 203.0.113.2 → `dst` with 4 bytes of data.
fn ping(dst: Ipv4Addr) -> Vec<u8> {
    let mut f = vec![0u8; 14 + 20 + 12];
    f[0..6].copy_from_slice(&PORT_MAC);
    f[6..12].copy_from_slice(&CLIENT_MAC);
    f[12..14].copy_from_slice(&[0x08, 0x00]);
    f[14] = 0x45;
    f[16..18].copy_from_slice(&32u16.to_be_bytes());
    f[22] = 64;
    f[23] = 1;
    f[26..30].copy_from_slice(&a(2).octets());
    f[30..34].copy_from_slice(&dst.octets());
    Ipv4Packet::new_unchecked(&mut f[14..34]).fill_checksum();
    f[34] = 8; // echo request
    f[38..46].copy_from_slice(&[0, 7, 0, 1, b'r', b'v', b's', b'!']);
    IcmpPacket::new_unchecked(&mut f[34..]).fill_checksum();
    f
}

/// A broadcast ARP request from the client for `tpa`.
fn arp_request(tpa: Ipv4Addr) -> Vec<u8> {
    let mut f = vec![0xffu8; 6];
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 1]);
    f.extend_from_slice(&CLIENT_MAC);
    f.extend_from_slice(&a(2).octets());
    f.extend_from_slice(&[0; 6]);
    f.extend_from_slice(&tpa.octets());
    f
}

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

#[test]
fn forwarded_lb_packets_are_parsed_and_verified_once() {
    let (mut lb, _mgr) = testbed::director(64, "rr");
    let syn = |vip: u8| tcp_frame(a(2), 40000, a(vip), 80, SYN, PORT_MAC, CLIENT_MAC);
    // The real server the NAT flow went to, for its reply below.
    let (out, n, sent) = step_out(&mut lb, &syn(10));
    assert!(matches!(out, Step::Lb(LbVerdict::Tx { .. })), "{out:?}");
    assert_eq!(n, (1, 1), "a new NAT flow");
    let ip = Ipv4Packet::new_checked(&sent[14..]).unwrap();
    let (rip, rport) = (
        ip.dst_addr(),
        TcpPacket::new_checked(ip.payload()).unwrap().dst_port(),
    );
    for (vip, counter) in [
        (10, Counter::NatIn),
        (20, Counter::DrOut),
        (30, Counter::TunOut),
    ] {
        let (out, n) = step(&mut lb, &syn(vip));
        assert!(
            matches!(out, Step::Lb(LbVerdict::Tx { counter: c, .. }) if c == counter),
            "{out:?}"
        );
        // TUN: `wire::ipip::encapsulate` bounds-checks the inner header it wraps
        // (a parse, no checksum), and debug builds re-parse the outer header it built.
        let want = match (vip, cfg!(debug_assertions)) {
            (30, true) => (1, 3),
            (30, false) => (1, 2),
            _ => (1, 1),
        };
        assert_eq!(n, want, "a {counter:?} SYN");
        let (out, n) = step(&mut lb, &syn(vip));
        assert!(matches!(out, Step::Lb(LbVerdict::Tx { .. })), "{out:?}");
        assert_eq!(n, want, "a {counter:?} packet of a known flow");
    }
    // The NAT reply from that real server.
    let reply = tcp_frame(
        rip,
        rport,
        a(2),
        40000,
        SYN | ACK,
        PORT_MAC,
        [2, 0, 0, 0, 0, 0x11],
    );
    let (out, n) = step(&mut lb, &reply);
    assert!(
        matches!(
            out,
            Step::Lb(LbVerdict::Tx {
                counter: Counter::NatOut,
                ..
            })
        ),
        "{out:?}"
    );
    assert_eq!(n, (1, 1), "a NAT reply");
}

#[test]
fn frames_passed_to_the_appliance_are_parsed_and_verified_once() {
    let (mut lb, _mgr) = testbed::director(64, "rr");
    for dst in [a(1), a(10)] {
        let (out, n) = step(&mut lb, &ping(dst));
        assert_eq!(
            out,
            Step::Net(Verdict::Tx {
                port: 0,
                kind: TxKind::EchoReply
            })
        );
        assert_eq!(n, (1, 1), "an echo request to {dst}");
    }
    // TCP to the director's own address: no service, so the LB path passes it on
    // (and the appliance, without an exception path, drops it).
    let ssh = tcp_frame(a(2), 40000, a(1), 22, SYN, PORT_MAC, CLIENT_MAC);
    let (out, n) = step(&mut lb, &ssh);
    assert!(matches!(out, Step::Net(Verdict::Drop(_))), "{out:?}");
    assert_eq!(n, (1, 1), "TCP without a service");
    let (out, n) = step(&mut lb, &arp_request(a(1)));
    assert_eq!(
        out,
        Step::Net(Verdict::Tx {
            port: 0,
            kind: TxKind::ArpReply
        })
    );
    assert_eq!(n, (0, 0), "an ARP request has no IPv4 header");
}
