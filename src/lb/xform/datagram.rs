//! The transforms for the fragments of a reassembled datagram (`dataplane::reasm`):
//! the datagram was scheduled once, on its first fragment's ports, and every fragment
//! follows that connection, as IPVS sends the datagram it reassembled (which Linux
//! then fragments again on output).
//!
//! - NAT: every fragment's IPv4 address is rewritten (header checksum updated); the
//!   first fragment (offset 0, which reassembly guarantees holds the whole TCP/UDP
//!   header) also gets the port and the L4 checksum update: the L4 checksum covers the
//!   whole datagram, and an incremental update (RFC 1624) of the pseudo header and port
//!   keeps it right whatever the later fragments carry.
//! - DR: each fragment is forwarded as it is (MACs, TTL).
//! - TUN: each fragment goes inside its own outer header; the real server decapsulates
//!   each and reassembles the inner datagram.
//!
//! Same checks as the whole-packet transforms (lengths, checksum already on the
//! [`Ipv4At`], no IP options, TTL, MTU) except that a fragment is accepted. A fragment
//! longer than the egress MTU (TUN: + 20) ends in [`Verdict::Fragment`] like a whole
//! packet: the worker's fragmenter (`wire::fragment`) splits it again, keeping its
//! offset and MF (as a router re-fragments a fragment). Never panics, never allocates.

use std::net::{Ipv4Addr, SocketAddrV4};

use super::nat::{self, End};
use super::tun::{encapsulate, Tunnel};
use super::{forward, ipv4_mut, mtu_step, ttl_step, ttl_then_mtu, DropReason, Egress, Verdict};
use crate::lb::dest::Fwd;
use crate::lb::flow::{proto as flow_proto, FlowKey};
use crate::wire::checksum;
use crate::wire::ethernet::HEADER_LEN as ETH_HEADER_LEN;
use crate::wire::ipip::OUTER_HEADER_LEN;
use crate::wire::{IpProtocol, Ipv4At, Ipv4Packet, PacketBuf, TcpFlags};

/// The shared checks for a fragment: a view within the frame and no IP options.
fn valid_fragment(frame: &[u8], at: Ipv4At) -> Result<Ipv4Packet<&[u8]>, DropReason> {
    if at.l3() < ETH_HEADER_LEN {
        return Err(DropReason::Malformed);
    }
    let ip = at.view(frame).map_err(|_| DropReason::Malformed)?;
    if ip.header_len() != crate::wire::ipv4::MIN_HEADER_LEN {
        return Err(DropReason::IpOptions);
    }
    Ok(ip)
}

/// The checks of a NAT fragment: for the first one the L4 header must be there.
fn check_nat(frame: &[u8], at: Ipv4At, first: bool) -> Result<Ipv4Addr, DropReason> {
    let ip = valid_fragment(frame, at)?;
    let l4 = ip.payload().len();
    let need = match ip.protocol() {
        IpProtocol::Tcp => 20,
        IpProtocol::Udp => 8,
        _ => return Err(DropReason::UnsupportedProtocol),
    };
    if first && (ip.frag_offset_bytes() != 0 || l4 < need) {
        return Err(DropReason::Malformed);
    }
    Ok(ip.dst_addr())
}

/// NAT request direction for one fragment (`first`: the offset-0 one): as
/// `nat_in_at`, the destination VIP:vport becomes `to`.
pub fn nat_in_fragment<P: PacketBuf>(
    pkt: &mut P,
    at: Ipv4At,
    to: SocketAddrV4,
    first: bool,
    eg: &Egress,
) -> Verdict {
    let l3 = at.l3();
    let vip = match check_nat(pkt.data(), at, first) {
        Ok(d) => d,
        Err(r) => return Verdict::Drop(r),
    };
    if let Some(v) = ttl_then_mtu(pkt, l3, 0, vip, eg) {
        return v;
    }
    nat::rewrite(pkt, l3, End::Dst, to, first);
    forward(pkt, l3, eg)
}

/// NAT reply direction for one fragment: as `nat_out_at`, the source RIP:rport becomes
/// `from`; `local_addr` is the source of ICMP errors about it.
pub fn nat_out_fragment<P: PacketBuf>(
    pkt: &mut P,
    at: Ipv4At,
    from: SocketAddrV4,
    local_addr: Ipv4Addr,
    first: bool,
    eg: &Egress,
) -> Verdict {
    let l3 = at.l3();
    if let Err(r) = check_nat(pkt.data(), at, first) {
        return Verdict::Drop(r);
    }
    if let Some(v) = ttl_step(pkt, l3, local_addr, eg) {
        return v;
    }
    if let Some(v) = mtu_step(pkt, l3, 0, local_addr, eg) {
        return v;
    }
    ipv4_mut(pkt, l3).decrement_ttl();
    nat::rewrite(pkt, l3, End::Src, from, first);
    forward(pkt, l3, eg)
}

/// DR for one fragment: as `dr_at`.
pub fn dr_fragment<P: PacketBuf>(pkt: &mut P, at: Ipv4At, eg: &Egress) -> Verdict {
    let vip = match valid_fragment(pkt.data(), at) {
        Ok(ip) => ip.dst_addr(),
        Err(r) => return Verdict::Drop(r),
    };
    if let Some(v) = ttl_then_mtu(pkt, at.l3(), 0, vip, eg) {
        return v;
    }
    forward(pkt, at.l3(), eg)
}

/// TUN for one fragment: as `tun_at`, inside its own outer header.
pub fn tun_fragment<P: PacketBuf>(
    pkt: &mut P,
    at: Ipv4At,
    tunnel: &Tunnel,
    eg: &Egress,
) -> Verdict {
    let (vip, len) = match valid_fragment(pkt.data(), at) {
        Ok(ip) => (ip.dst_addr(), usize::from(ip.total_len())),
        Err(r) => return Verdict::Drop(r),
    };
    encapsulate(pkt, at.l3(), vip, len, tunnel, eg)
}

/// The 5-tuple and TCP flags of a reassembled datagram, from its first fragment (at
/// `at` in `frame`, offset 0, holding the whole L4 header: `dataplane::reasm` checked).
pub fn first_key(frame: &[u8], at: Ipv4At) -> Option<(FlowKey, TcpFlags)> {
    let ip = at.view(frame).ok()?;
    let p = ip.payload();
    let proto = u8::from(ip.protocol());
    let flags = match proto {
        flow_proto::TCP if p.len() >= 20 => TcpFlags(p[13]),
        flow_proto::UDP if p.len() >= 8 => TcpFlags(0),
        _ => return None,
    };
    Some((
        FlowKey {
            proto,
            saddr: ip.src_addr(),
            sport: u16::from_be_bytes([p[0], p[1]]),
            daddr: ip.dst_addr(),
            dport: u16::from_be_bytes([p[2], p[3]]),
        },
        flags,
    ))
}

/// True when the TCP/UDP checksum of the datagram whose first fragment is at `at` in
/// `first` and whose later fragments are `rest` (in offset order) verifies over the
/// whole datagram (pseudo header with the datagram's L4 length, RFC 793 / RFC 768); a
/// UDP checksum of 0 ("none") passes. Every fragment but the last holds a multiple of 8
/// bytes, so the 16-bit words line up across fragments.
pub fn l4_checksum_ok<P: PacketBuf>(first: &[u8], at: Ipv4At, rest: &[(P, Ipv4At)]) -> bool {
    let Ok(ip) = at.view(first) else {
        return false;
    };
    let proto = u8::from(ip.protocol());
    let p = ip.payload();
    if proto == flow_proto::UDP && p.get(6..8) == Some(&[0, 0]) {
        return true;
    }
    let mut len = p.len();
    let mut acc = u64::from(checksum::data(p));
    for (pkt, at) in rest {
        let Ok(ip) = at.view(pkt.data()) else {
            return false;
        };
        len += ip.payload().len();
        acc += u64::from(checksum::data(ip.payload()));
    }
    let Ok(len) = u16::try_from(len) else {
        return false;
    };
    acc += u64::from(checksum::pseudo_header(
        ip.src_addr(),
        ip.dst_addr(),
        proto,
        len,
    ));
    checksum::fold(acc) == 0xffff
}

/// [`super::admits`] for the first fragment of a reassembled datagram: would
/// [`nat_in_fragment`] / [`dr_fragment`] / [`tun_fragment`] forward it (whole or in
/// fragments)? Asked before a new flow's entry is created; reads only.
pub fn admits<P: PacketBuf>(pkt: &P, at: Ipv4At, fwd: Fwd, eg: &Egress) -> bool {
    let frame = pkt.data();
    let Ok(ip) = valid_fragment(frame, at) else {
        return false;
    };
    super::admit::ttl_and_size_admit(&ip, fwd, eg)
        && match fwd {
            Fwd::Nat => check_nat(frame, at, ip.frag_offset_bytes() == 0).is_ok(),
            Fwd::Dr => true,
            Fwd::Tun => pkt.headroom() >= OUTER_HEADER_LEN,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::{EthernetAddress, HeadroomBuf, Ipv4Packet, UdpPacket};

    const CLIENT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);
    const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
    const RIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);

    fn eg() -> Egress {
        Egress {
            port_mac: EthernetAddress([2, 0, 0, 0, 0, 1]),
            next_hop_mac: EthernetAddress([2, 0, 0, 0, 0, 0x11]),
            mtu: 1500,
            ident: 7,
        }
    }

    /// A 48-byte UDP datagram CLIENT:40000 -> VIP:53 (checksum filled) cut into two
    /// fragments: UDP header + 16 bytes, then the last 24.
    fn fragments() -> Vec<(HeadroomBuf, Ipv4At)> {
        let mut udp = [0u8; 48];
        udp[0..2].copy_from_slice(&40000u16.to_be_bytes());
        udp[2..4].copy_from_slice(&53u16.to_be_bytes());
        udp[4..6].copy_from_slice(&48u16.to_be_bytes());
        for (i, b) in udp[8..].iter_mut().enumerate() {
            *b = i as u8 * 3;
        }
        UdpPacket::new_unchecked(&mut udp[..]).fill_checksum(CLIENT, VIP);
        [(0usize, 24usize, true), (24, 48, false)]
            .iter()
            .map(|&(a, b, more)| {
                let mut f = vec![0u8; 14 + 20 + (b - a)];
                f[12] = 0x08;
                let ip = &mut f[14..34];
                ip[0] = 0x45;
                ip[2..4].copy_from_slice(&((20 + b - a) as u16).to_be_bytes());
                ip[4..6].copy_from_slice(&99u16.to_be_bytes());
                let fo = (a / 8) as u16 | if more { 0x2000 } else { 0 };
                ip[6..8].copy_from_slice(&fo.to_be_bytes());
                ip[8] = 64;
                ip[9] = 17;
                ip[12..16].copy_from_slice(&CLIENT.octets());
                ip[16..20].copy_from_slice(&VIP.octets());
                Ipv4Packet::new_unchecked(&mut f[14..34]).fill_checksum();
                f[34..].copy_from_slice(&udp[a..b]);
                let at = Ipv4At::check(&f, 14).unwrap();
                (HeadroomBuf::new(&f), at)
            })
            .collect()
    }

    #[test]
    fn nat_rewrites_every_fragment_and_keeps_the_whole_datagram_checksum_right() {
        let mut fr = fragments();
        let (first, rest) = fr.split_first().unwrap();
        assert!(l4_checksum_ok(first.0.data(), first.1, rest));
        let (key, _) = first_key(first.0.data(), first.1).unwrap();
        assert_eq!(
            (key.saddr, key.sport, key.daddr, key.dport),
            (CLIENT, 40000, VIP, 53)
        );
        assert!(admits(&first.0, first.1, Fwd::Nat, &eg()));
        let to = SocketAddrV4::new(RIP, 5353);
        for (i, (b, at)) in fr.iter_mut().enumerate() {
            assert_eq!(nat_in_fragment(b, *at, to, i == 0, &eg()), Verdict::Forward);
        }
        let fr: Vec<(HeadroomBuf, Ipv4At)> = fr
            .into_iter()
            .map(|(b, _)| {
                let at = Ipv4At::check(b.data(), 14).expect("header checksum right");
                (b, at)
            })
            .collect();
        let (first, rest) = fr.split_first().unwrap();
        let (key, _) = first_key(first.0.data(), first.1).unwrap();
        assert_eq!((key.daddr, key.dport), (RIP, 5353));
        let later = rest[0].1.view(rest[0].0.data()).unwrap();
        assert_eq!((later.dst_addr(), later.ttl()), (RIP, 63));
        assert!(
            l4_checksum_ok(first.0.data(), first.1, rest),
            "the incremental update in the first fragment covers the whole datagram"
        );
    }

    #[test]
    fn a_later_fragment_is_no_first_fragment_and_dr_tun_forward_fragments() {
        let mut fr = fragments();
        let (b, at) = &mut fr[1];
        assert_eq!(
            check_nat(b.data(), *at, true),
            Err(DropReason::Malformed),
            "a later fragment cannot be a NAT first fragment"
        );
        assert_eq!(dr_fragment(b, *at, &eg()), Verdict::Forward);
        let (b, at) = &mut fr[0];
        let t = Tunnel {
            src_addr: Ipv4Addr::new(192, 0, 2, 1),
            dst_addr: RIP,
        };
        assert_eq!(tun_fragment(b, *at, &t, &eg()), Verdict::Forward);
        let outer = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
        assert_eq!((outer.dst_addr(), u8::from(outer.protocol())), (RIP, 4));
        let inner = Ipv4Packet::new_checked(outer.payload()).unwrap();
        assert!(
            inner.more_frags(),
            "the inner packet is still the first fragment"
        );
    }
}
