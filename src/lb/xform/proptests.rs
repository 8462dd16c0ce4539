//! Property tests of the transforms:
//! - random TCP/UDP packets through random NAT rewrites (both directions) and
//!   related-ICMP rewrites come out with IPv4, TCP, UDP and ICMP checksums equal
//!   to a full recomputation (and a UDP checksum of 0 stays 0);
//! - arbitrary bytes, at any L3 offset and with any headroom, never make a
//!   transform panic, and whatever is forwarded or sent back is valid IPv4.

use std::net::{Ipv4Addr, SocketAddrV4};

use proptest::prelude::*;

use super::*;
use crate::wire::{
    EthernetAddress, HeadroomBuf, IcmpPacket, IpProtocol, Ipv4Packet, Ipv4Repr, PacketBuf,
    TcpPacket, UdpPacket,
};

fn eg(mtu: u16) -> Egress {
    Egress {
        port_mac: EthernetAddress([2, 0, 0, 0, 0, 1]),
        next_hop_mac: EthernetAddress([2, 0, 0, 0, 0, 2]),
        mtu,
        ident: 7,
    }
}

/// Ethernet + IPv4 (no options) + TCP or UDP header + payload, all checksums right.
fn frame(
    proto: IpProtocol,
    src: SocketAddrV4,
    dst: SocketAddrV4,
    ttl: u8,
    payload: &[u8],
    udp_csum0: bool,
) -> Vec<u8> {
    let l4h = if proto == IpProtocol::Tcp { 20 } else { 8 };
    let l4_len = l4h + payload.len();
    let mut f = vec![0u8; 14 + 20 + l4_len];
    f[12] = 0x08;
    let repr = Ipv4Repr {
        src_addr: *src.ip(),
        dst_addr: *dst.ip(),
        protocol: proto,
        payload_len: l4_len as u16,
        ttl,
        tos: 0,
        ident: 1,
        dont_frag: true,
    };
    repr.emit(&mut f[14..]).unwrap();
    let l4 = &mut f[34..];
    l4[0..2].copy_from_slice(&src.port().to_be_bytes());
    l4[2..4].copy_from_slice(&dst.port().to_be_bytes());
    l4[l4h..].copy_from_slice(payload);
    if proto == IpProtocol::Tcp {
        l4[12] = 5 << 4;
        TcpPacket::new_unchecked(&mut l4[..]).fill_checksum(*src.ip(), *dst.ip());
    } else {
        l4[4..6].copy_from_slice(&(l4_len as u16).to_be_bytes());
        if !udp_csum0 {
            UdpPacket::new_unchecked(&mut l4[..]).fill_checksum(*src.ip(), *dst.ip());
        }
    }
    f
}

/// Asserts the IPv4 packet at 14 and its L4 checksums equal a full recomputation.
fn assert_checksums_full(f: &[u8], udp_csum0: bool) {
    let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
    let mut copy = f[14..].to_vec();
    let mut ipc = Ipv4Packet::new_unchecked(&mut copy[..]);
    ipc.fill_checksum();
    assert_eq!(ip.checksum(), ipc.checksum(), "IPv4 header checksum");
    let (s, d) = (ip.src_addr(), ip.dst_addr());
    match ip.protocol() {
        IpProtocol::Tcp => {
            let got = TcpPacket::new_checked(ip.payload()).unwrap().checksum();
            let mut l4 = ip.payload().to_vec();
            let mut t = TcpPacket::new_unchecked(&mut l4[..]);
            t.fill_checksum(s, d);
            assert_eq!(got, t.checksum(), "TCP checksum");
        }
        IpProtocol::Udp => {
            let got = UdpPacket::new_checked(ip.payload()).unwrap().checksum();
            if udp_csum0 {
                assert_eq!(got, 0, "UDP checksum 0 stays 0");
                return;
            }
            let mut l4 = ip.payload().to_vec();
            let mut u = UdpPacket::new_unchecked(&mut l4[..]);
            u.fill_checksum(s, d);
            assert_eq!(got, u.checksum(), "UDP checksum");
        }
        IpProtocol::Icmp => {
            assert!(IcmpPacket::new_checked(ip.payload())
                .unwrap()
                .verify_checksum());
        }
        _ => {}
    }
}

fn sock() -> impl Strategy<Value = SocketAddrV4> {
    (any::<u32>(), any::<u16>()).prop_map(|(a, p)| SocketAddrV4::new(Ipv4Addr::from(a), p))
}

/// A unicast-looking source so ICMP errors may be sent about it.
fn unicast_sock() -> impl Strategy<Value = SocketAddrV4> {
    (1u8..224, any::<[u8; 3]>(), any::<u16>()).prop_map(|(a, r, p)| {
        SocketAddrV4::new(
            Ipv4Addr::new(if a == 127 { 10 } else { a }, r[0], r[1], r[2]),
            p,
        )
    })
}

fn proto() -> impl Strategy<Value = IpProtocol> {
    prop_oneof![Just(IpProtocol::Tcp), Just(IpProtocol::Udp)]
}

proptest! {
    #[test]
    fn nat_in_checksums_equal_full_recompute(
        p in proto(), client in sock(), vip in sock(), rip in sock(),
        ttl in 2u8.., payload in proptest::collection::vec(any::<u8>(), 0..300),
        csum0 in any::<bool>(),
    ) {
        let csum0 = csum0 && p == IpProtocol::Udp;
        let mut buf = HeadroomBuf::new(&frame(p, client, vip, ttl, &payload, csum0));
        prop_assert_eq!(nat_in(&mut buf, 14, rip, &eg(1500)), Verdict::Forward);
        let f = buf.data();
        assert_checksums_full(f, csum0);
        let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
        prop_assert_eq!(ip.dst_addr(), *rip.ip());
        prop_assert_eq!(ip.src_addr(), *client.ip());
        prop_assert_eq!(ip.ttl(), ttl - 1);
        prop_assert_eq!(u16::from_be_bytes([f[36], f[37]]), rip.port());
    }

    #[test]
    fn nat_out_checksums_equal_full_recompute(
        p in proto(), client in sock(), vip in sock(), rip in sock(),
        ttl in 2u8.., payload in proptest::collection::vec(any::<u8>(), 0..300),
        csum0 in any::<bool>(),
    ) {
        let csum0 = csum0 && p == IpProtocol::Udp;
        let mut buf = HeadroomBuf::new(&frame(p, rip, client, ttl, &payload, csum0));
        let v = nat_out(&mut buf, 14, vip, Ipv4Addr::new(10, 0, 0, 1), &eg(1500));
        prop_assert_eq!(v, Verdict::Forward);
        let f = buf.data();
        assert_checksums_full(f, csum0);
        let ip = Ipv4Packet::new_checked(&f[14..]).unwrap();
        prop_assert_eq!(ip.src_addr(), *vip.ip());
        prop_assert_eq!(u16::from_be_bytes([f[34], f[35]]), vip.port());
    }

    /// An error from the real-server side about client → RIP:rport, rewritten for
    /// the client: every checksum still right, and quoted_flow names the flow.
    #[test]
    fn icmp_out_checksums_equal_full_recompute(
        p in proto(), client in unicast_sock(), vip in sock(), rip in unicast_sock(),
        quote_l4 in 8usize..64, code in 0u8..16, ttl in 2u8..,
        payload in proptest::collection::vec(any::<u8>(), 64..100),
    ) {
        let orig = frame(p, client, rip, 64, &payload, false);
        let quote = &orig[14..14 + 20 + quote_l4];
        let mut f = vec![0u8; 14 + 20 + 8 + quote.len()];
        f[12] = 0x08;
        let repr = Ipv4Repr {
            src_addr: *rip.ip(), dst_addr: *client.ip(), protocol: IpProtocol::Icmp,
            payload_len: (8 + quote.len()) as u16, ttl, tos: 0, ident: 3, dont_frag: false,
        };
        repr.emit(&mut f[14..]).unwrap();
        f[34] = 3;
        f[35] = code;
        f[42..].copy_from_slice(quote);
        IcmpPacket::new_unchecked(&mut f[34..]).fill_checksum();
        let key = quoted_flow(&f, 14).unwrap();
        prop_assert_eq!((key.saddr, key.sport, key.daddr, key.dport),
                        (*client.ip(), client.port(), *rip.ip(), rip.port()));
        let mut buf = HeadroomBuf::new(&f);
        prop_assert_eq!(icmp_out(&mut buf, 14, vip, &eg(1500)), Verdict::Forward);
        let out = buf.data();
        assert_checksums_full(out, false);
        let key = quoted_flow(out, 14).unwrap();
        prop_assert_eq!((key.daddr, key.dport), (*vip.ip(), vip.port()));
        let ip = Ipv4Packet::new_checked(&out[14..]).unwrap();
        let q = IcmpPacket::new_checked(ip.payload()).unwrap();
        prop_assert!(q.quoted().unwrap().verify_checksum());
    }

    /// No byte sequence makes any transform panic, whatever the L3 offset and
    /// headroom; a forwarded or sent-back frame is valid IPv4.
    #[test]
    fn no_input_panics_any_transform(
        bytes in proptest::collection::vec(any::<u8>(), 0..200),
        l3 in 0usize..24, headroom in 0usize..64, mtu in 0u16..1600, which in 0u8..6,
    ) {
        let mut buf = HeadroomBuf::with_room(&bytes, headroom, 256);
        let a = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 11), 8080);
        let t = Tunnel { src_addr: Ipv4Addr::new(198, 51, 100, 1), dst_addr: *a.ip() };
        let e = eg(mtu);
        let v = match which {
            0 => nat_in(&mut buf, l3, a, &e),
            1 => nat_out(&mut buf, l3, a, *a.ip(), &e),
            2 => dr(&mut buf, l3, &e),
            3 => tun(&mut buf, l3, &t, &e),
            4 => icmp_in(&mut buf, l3, a, &e),
            _ => icmp_out(&mut buf, l3, a, &e),
        };
        let _ = quoted_flow(&bytes, l3);
        if !matches!(v, Verdict::Drop(_)) {
            let ip = Ipv4Packet::new_checked(&buf.data()[l3..]).unwrap();
            prop_assert!(ip.verify_checksum());
        }
    }

    /// Valid IPv4 headers with random contents after them (so the checks past the
    /// header are reached far more often than with raw bytes).
    #[test]
    fn no_valid_header_panics_any_transform(
        proto_n in prop_oneof![Just(1u8), Just(4), Just(6), Just(17), any::<u8>()],
        ttl in any::<u8>(), df in any::<bool>(), tos in any::<u8>(),
        body in proptest::collection::vec(any::<u8>(), 0..120),
        mtu in 0u16..300, which in 0u8..6, headroom in 0usize..40,
    ) {
        let mut f = vec![0u8; 14 + 20 + body.len()];
        f[12] = 0x08;
        let repr = Ipv4Repr {
            src_addr: Ipv4Addr::new(203, 0, 113, 7), dst_addr: Ipv4Addr::new(192, 0, 2, 10),
            protocol: IpProtocol::from(proto_n), payload_len: body.len() as u16,
            ttl, tos, ident: 9, dont_frag: df,
        };
        repr.emit(&mut f[14..]).unwrap();
        f[34..].copy_from_slice(&body);
        let mut buf = HeadroomBuf::with_room(&f, headroom, 512);
        let a = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 11), 8080);
        let t = Tunnel { src_addr: Ipv4Addr::new(198, 51, 100, 1), dst_addr: *a.ip() };
        let e = eg(mtu);
        let v = match which {
            0 => nat_in(&mut buf, 14, a, &e),
            1 => nat_out(&mut buf, 14, a, *a.ip(), &e),
            2 => dr(&mut buf, 14, &e),
            3 => tun(&mut buf, 14, &t, &e),
            4 => icmp_in(&mut buf, 14, a, &e),
            _ => icmp_out(&mut buf, 14, a, &e),
        };
        if !matches!(v, Verdict::Drop(_)) {
            let ip = Ipv4Packet::new_checked(&buf.data()[14..]).unwrap();
            prop_assert!(ip.verify_checksum());
            if let Verdict::SendBack(_) = v {
                prop_assert!(IcmpPacket::new_checked(ip.payload()).unwrap().verify_checksum());
                prop_assert!(ip.total_len() <= 576);
            }
        }
    }

    /// `admits` (asked before a new flow creates state) answers exactly as the
    /// transforms do: true iff nat_in / dr / tun forward the same frame (whole or in
    /// fragments).
    #[test]
    fn admits_agrees_with_the_transforms(
        p in proto(), client in unicast_sock(), vip in sock(), rip in sock(),
        ttl in 0u8..4, len in 0usize..1600, mtu in 1200u16..1700,
        headroom in prop_oneof![Just(0usize), Just(19), Just(20), Just(128)],
        df in any::<bool>(), options in any::<bool>(), mf in any::<bool>(),
        method in 0u8..3,
    ) {
        let mut f = frame(p, client, vip, ttl, &vec![0x5a; len], false);
        {
            let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
            ip.set_dont_frag(df);
        }
        if mf {
            f[14 + 6] |= 0x20;
            Ipv4Packet::new_unchecked(&mut f[14..]).fill_checksum();
        }
        if options {
            // IHL 6 with a no-op option word: the header grows into the L4 bytes.
            f[14] = 0x46;
            f[34..38].copy_from_slice(&[1, 1, 1, 0]);
            Ipv4Packet::new_unchecked(&mut f[14..]).fill_checksum();
        }
        let buf = HeadroomBuf::with_room(&f, headroom, 2048);
        let Ok(at) = crate::wire::Ipv4At::check(buf.data(), 14) else {
            return Ok(());
        };
        let e = eg(mtu);
        let (fwd, v) = {
            let mut b = buf.clone();
            match method {
                0 => (crate::lb::dest::Fwd::Nat, nat_in_at(&mut b, at, rip, &e)),
                1 => (crate::lb::dest::Fwd::Dr, dr_at(&mut b, at, &e)),
                _ => {
                    let t = Tunnel { src_addr: Ipv4Addr::new(192, 0, 2, 1), dst_addr: *rip.ip() };
                    (crate::lb::dest::Fwd::Tun, tun_at(&mut b, at, &t, &e))
                }
            }
        };
        let forwards = matches!(v, Verdict::Forward | Verdict::Fragment);
        prop_assert_eq!(admits(&buf, at, fwd, &e), forwards, "{:?}", v);
    }

    /// The same for a reassembled datagram's fragments: `datagram::admits` answers true
    /// iff `nat_in_fragment` (as the first fragment when its offset is 0) / `dr_fragment`
    /// / `tun_fragment` forward the fragment.
    #[test]
    fn datagram_admits_agrees_with_the_fragment_transforms(
        p in proto(), client in unicast_sock(), vip in sock(), rip in sock(),
        ttl in 0u8..4, len in 0usize..1600, mtu in 1200u16..1700,
        headroom in prop_oneof![Just(0usize), Just(19), Just(20), Just(128)],
        df in any::<bool>(), options in any::<bool>(), offset_units in prop_oneof![Just(0u16), 1u16..400],
        method in 0u8..3,
    ) {
        let mut f = frame(p, client, vip, ttl, &vec![0x5a; len], false);
        {
            let mut ip = Ipv4Packet::new_unchecked(&mut f[14..]);
            ip.set_dont_frag(df);
        }
        // MF and the offset: always a fragment.
        let word = u16::from_be_bytes([f[14 + 6], f[14 + 7]]) & 0x4000 | 0x2000 | offset_units;
        f[14 + 6..14 + 8].copy_from_slice(&word.to_be_bytes());
        Ipv4Packet::new_unchecked(&mut f[14..]).fill_checksum();
        if options {
            f[14] = 0x46;
            f[34..38].copy_from_slice(&[1, 1, 1, 0]);
            Ipv4Packet::new_unchecked(&mut f[14..]).fill_checksum();
        }
        let buf = HeadroomBuf::with_room(&f, headroom, 2048);
        let Ok(at) = crate::wire::Ipv4At::check(buf.data(), 14) else {
            return Ok(());
        };
        let e = eg(mtu);
        let first = offset_units == 0;
        let (fwd, v) = {
            let mut b = buf.clone();
            match method {
                0 => (crate::lb::dest::Fwd::Nat, datagram::nat_in_fragment(&mut b, at, rip, first, &e)),
                1 => (crate::lb::dest::Fwd::Dr, datagram::dr_fragment(&mut b, at, &e)),
                _ => {
                    let t = Tunnel { src_addr: Ipv4Addr::new(192, 0, 2, 1), dst_addr: *rip.ip() };
                    (crate::lb::dest::Fwd::Tun, datagram::tun_fragment(&mut b, at, &t, &e))
                }
            }
        };
        let forwards = matches!(v, Verdict::Forward | Verdict::Fragment);
        prop_assert_eq!(datagram::admits(&buf, at, fwd, &e), forwards, "{:?}", v);
    }
}
