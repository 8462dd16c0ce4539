//! The forwarding transforms: what the director does to a packet once the
//! connection (and so the real server and method) is known.
//!
//! | function | method | rewrite |
//! |---|---|---|
//! | [`nat_in`] | NAT (`-m`), client → real server | dst VIP:vport → RIP:rport |
//! | [`nat_out`] | NAT, real server → client | src RIP:rport → VIP:vport |
//! | [`icmp_in`] | NAT, ICMP error from the client side | outer dst VIP → RIP, quoted src VIP:vport → RIP:rport |
//! | [`icmp_out`] | NAT, ICMP error from the real-server side | outer src → VIP, quoted dst RIP:rport → VIP:vport |
//! | [`dr`] | DR (`-g`) | MACs only (and the TTL, as IPVS) |
//! | [`tun`] | TUN (`-i`) | prepend an outer IPv4 header to the RIP |
//!
//! Contract:
//! - each function takes the whole Ethernet frame in a [`PacketBuf`] and the
//!   offset of its IPv4 header (14, or 18 behind a VLAN tag), and ends in a
//!   [`Verdict`]; its `*_at` twin takes an [`Ipv4At`] instead (a header whose
//!   lengths and checksum the caller's one parse already checked, as
//!   `dataplane::LbPath` does) and does not parse or verify it again: the offset
//!   entry points are `Ipv4At::check` + the `*_at` twin, for callers holding
//!   untrusted bytes (golden tests, benchmarks, the fuzz target); **no input bytes make any of them panic**, and none allocates,
//!   locks, logs or makes a syscall: worker threads call them per packet;
//! - on [`Verdict::Forward`] the frame is ready to send: source and destination
//!   MACs are written from the [`Egress`] (the caller resolved the next hop; it
//!   may overwrite them later with [`set_macs`]);
//! - on [`Verdict::Fragment`] the frame is ready as for `Forward` but longer than
//!   the egress MTU with DF clear: the caller cuts it into fragments of at most
//!   `Egress::mtu` bytes (`wire::fragment`, with buffers from its pool) and sends those;
//! - on [`Verdict::SendBack`] the frame was replaced by an ICMP error to the
//!   packet's sender (frag-needed or time-exceeded), MACs swapped;
//! - on [`Verdict::Drop`] the frame content is unspecified (it may be half rewritten).
//!
//! Order of checks, shared by all transforms (the outcome table is `docs/DROPS.md`):
//! frame/IPv4 lengths → IPv4 header checksum → fragment → IP options → L4 lengths
//! (NAT) → TTL → MTU → rewrite. The transforms never verify TCP/UDP checksums:
//! incremental updates (RFC 1624) carry a wrong checksum through unchanged, so the
//! end host still drops a corrupted segment, exactly as with IPVS; the LB path
//! verifies them only for a packet that would create state (`dataplane::lbpath`), and
//! asks [`admits`] before creating it whether the transform would forward.
//!
//! TTL: as Linux IPVS (`__ip_vs_get_out_rt` → `decrement_ttl`, and `ip_forward`
//! for NAT replies), every method decrements the TTL — DR and TUN included — and
//! a TTL ≤ 1 is answered with ICMP time-exceeded (from the VIP for packets sent
//! to a VIP, as Linux's `icmp_send` picks the local destination address).

pub mod admit;
pub mod datagram;
pub mod dr;
pub mod frag;
pub mod icmp_related;
pub mod nat;
pub mod reply;
pub mod tun;
pub mod tun_pmtu;
pub mod verdict;

#[cfg(test)]
mod proptests;

pub use admit::admits;
pub use dr::{dr, dr_at};
pub use icmp_related::{icmp_in, icmp_in_at, icmp_out, icmp_out_at, quoted_flow};
pub use nat::{nat_in, nat_in_at, nat_out, nat_out_at};
pub use reply::{port_unreachable, port_unreachable_at, tcp_reset, ReplyLimiter};
pub use tun::{tun, tun_at, Tunnel};
pub use verdict::{DropReason, IcmpSent, Verdict};

use std::net::Ipv4Addr;

use crate::wire::ethernet::HEADER_LEN as ETH_HEADER_LEN;
use crate::wire::icmp::may_send_error_about;
use crate::wire::{EthernetAddress, IcmpError, Ipv4At, Ipv4Error, Ipv4Packet, PacketBuf};

/// Where a forwarded packet goes: the caller fills it from the port and the
/// neighbour table before calling a transform.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Egress {
    /// MAC of the egress port (the frame's new source MAC).
    pub port_mac: EthernetAddress,
    /// MAC of the next hop: the real server (DR, NAT on-link), a router, or the client's router.
    pub next_hop_mac: EthernetAddress,
    /// IP MTU of the egress port in bytes (1500 on plain Ethernet).
    pub mtu: u16,
    /// A fresh IPv4 identification for any header this transform creates (the TUN
    /// outer header, an ICMP error): a per-worker counter stepped per packet, workers
    /// starting 16384 apart. A DF-clear TUN outer packet may be fragmented, so its
    /// ident only has to differ from the other datagrams to the same real server still
    /// being reassembled there (Linux's `ipfrag_time`, 30 s).
    pub ident: u16,
}

/// Writes the source and destination MACs of a frame; false when the frame is
/// shorter than an Ethernet header (nothing written).
pub fn set_macs(frame: &mut [u8], src: EthernetAddress, dst: EthernetAddress) -> bool {
    match frame.get_mut(..12) {
        Some(m) => {
            m[..6].copy_from_slice(dst.as_bytes());
            m[6..].copy_from_slice(src.as_bytes());
            true
        }
        None => false,
    }
}

/// The IPv4 packet of a frame, after the checks every transform shares:
/// lengths, header checksum, not a fragment, no options.
pub(crate) fn checked_ipv4(frame: &[u8], l3: usize) -> Result<Ipv4Packet<&[u8]>, DropReason> {
    valid_ipv4(frame, check_at(frame, l3)?)
}

/// The offset entry points' first step: lengths and header checksum (verified here,
/// once), for a header at `l3` that is not inside the Ethernet header.
pub(crate) fn check_at(frame: &[u8], l3: usize) -> Result<Ipv4At, DropReason> {
    if l3 < ETH_HEADER_LEN {
        return Err(DropReason::Malformed);
    }
    Ipv4At::check(frame, l3).map_err(|e| match e {
        Ipv4Error::Malformed => DropReason::Malformed,
        Ipv4Error::BadChecksum => DropReason::BadIpChecksum,
    })
}

/// [`checked_ipv4`] for a header already checked (`at`): the remaining shared
/// checks (not a fragment, no options) on its view, without a new parse or checksum.
pub(crate) fn valid_ipv4(frame: &[u8], at: Ipv4At) -> Result<Ipv4Packet<&[u8]>, DropReason> {
    if at.l3() < ETH_HEADER_LEN {
        return Err(DropReason::Malformed);
    }
    let ip = at.view(frame).map_err(|_| DropReason::Malformed)?;
    if ip.is_fragment() {
        return Err(DropReason::Fragment);
    }
    if ip.header_len() != crate::wire::ipv4::MIN_HEADER_LEN {
        return Err(DropReason::IpOptions);
    }
    Ok(ip)
}

/// The IPv4 view of a frame whose header `checked_ipv4`/`valid_ipv4` accepted (mutable).
pub(crate) fn ipv4_mut<P: PacketBuf>(pkt: &mut P, l3: usize) -> Ipv4Packet<&mut [u8]> {
    // checked_ipv4 sized this slice; the view is only used for header fields and
    // payload_mut, which stay inside total_len.
    Ipv4Packet::new_unchecked(&mut pkt.data_mut()[l3..])
}

/// The TTL and MTU steps of forwarding, in the order IPVS applies them to
/// packets it sends on (`__ip_vs_get_out_rt`: `decrement_ttl`, then
/// `ensure_mtu_is_adequate`): TTL ≤ 1 → time-exceeded; decrement; then
/// `len + overhead > mtu` → frag-needed (DF set) or drop (DF clear).
/// `icmp_src` is the address ICMP errors come from. Returns `None` to go on.
pub(crate) fn ttl_then_mtu<P: PacketBuf>(
    pkt: &mut P,
    l3: usize,
    overhead: u16,
    icmp_src: Ipv4Addr,
    eg: &Egress,
) -> Option<Verdict> {
    if let Some(v) = ttl_step(pkt, l3, icmp_src, eg) {
        return Some(v);
    }
    ipv4_mut(pkt, l3).decrement_ttl();
    mtu_step(pkt, l3, overhead, icmp_src, eg)
}

/// TTL ≤ 1: time-exceeded to the sender where RFC 1812 allows an error, else a drop.
pub(crate) fn ttl_step<P: PacketBuf>(
    pkt: &mut P,
    l3: usize,
    icmp_src: Ipv4Addr,
    eg: &Egress,
) -> Option<Verdict> {
    let ip = Ipv4Packet::new_unchecked(&pkt.data()[l3..]);
    if ip.ttl() > 1 {
        return None;
    }
    if !may_send_error_about(&ip) {
        return Some(Verdict::Drop(DropReason::TtlExceeded));
    }
    Some(frag::send_back_error(
        pkt,
        l3,
        IcmpError::ttl_exceeded(),
        icmp_src,
        eg.ident,
    ))
}

/// Too big for the egress MTU once `overhead` bytes are added: frag-needed with
/// next-hop MTU `mtu - overhead` when DF is set (a drop when no ICMP error may be sent
/// about the packet); with DF clear `None`: the transform goes on and its
/// [`forward`] says [`Verdict::Fragment`] (IPVS's `ensure_mtu_is_adequate` lets
/// DF-clear packets through to `ip_fragment`).
pub(crate) fn mtu_step<P: PacketBuf>(
    pkt: &mut P,
    l3: usize,
    overhead: u16,
    icmp_src: Ipv4Addr,
    eg: &Egress,
) -> Option<Verdict> {
    let ip = Ipv4Packet::new_unchecked(&pkt.data()[l3..]);
    if u32::from(ip.total_len()) + u32::from(overhead) <= u32::from(eg.mtu) {
        return None;
    }
    if !ip.dont_frag() {
        return None;
    }
    if !may_send_error_about(&ip) {
        return Some(Verdict::Drop(DropReason::TooBig));
    }
    let next_hop_mtu = eg.mtu.saturating_sub(overhead);
    Some(frag::send_back_error(
        pkt,
        l3,
        IcmpError::frag_needed(next_hop_mtu),
        icmp_src,
        eg.ident,
    ))
}

/// Writes the egress MACs and returns `Forward`, or `Fragment` when the IPv4 packet
/// at `l3` (as the transform left it: for TUN the outer packet) is longer than the
/// egress MTU (`mtu_step` let it through: DF clear).
pub(crate) fn forward<P: PacketBuf>(pkt: &mut P, l3: usize, eg: &Egress) -> Verdict {
    set_macs(pkt.data_mut(), eg.port_mac, eg.next_hop_mac);
    if crate::wire::fragment::exceeds_mtu(pkt.data(), l3, eg.mtu) {
        Verdict::Fragment
    } else {
        Verdict::Forward
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::HeadroomBuf;

    /// A UDP packet from 203.0.113.7:40000 to 192.0.2.10:80, TTL 64, DF, 4 bytes
    /// of data "rvs!", UDP checksum 0 (none); bytes from scapy.
    const UDP_FRAME: [u8; 46] = [
        0x02, 0, 0, 0, 0, 0x01, 0x02, 0, 0, 0, 0, 0xfe, 0x08, 0x00, // ethernet
        0x45, 0x00, 0x00, 0x20, 0x12, 0x34, 0x40, 0x00, 0x40, 0x11, 0x2a, 0x87, // ipv4
        203, 0, 113, 7, 192, 0, 2, 10, //
        0x9c, 0x40, 0x00, 0x50, 0x00, 0x0c, 0x00, 0x00, b'r', b'v', b's', b'!', // udp
    ];

    fn eg() -> Egress {
        Egress {
            port_mac: EthernetAddress([2, 0, 0, 0, 0, 1]),
            next_hop_mac: EthernetAddress([2, 0, 0, 0, 0, 0x11]),
            mtu: 1500,
            ident: 0x4242,
        }
    }

    #[test]
    fn fixture_is_valid_ipv4() {
        assert!(checked_ipv4(&UDP_FRAME, 14).is_ok());
    }

    #[test]
    fn set_macs_writes_both_and_refuses_short_frames() {
        let mut f = UDP_FRAME;
        let (a, b) = (EthernetAddress([1; 6]), EthernetAddress([2; 6]));
        assert!(set_macs(&mut f, a, b));
        assert_eq!((&f[0..6], &f[6..12]), (&[2u8; 6][..], &[1u8; 6][..]));
        assert!(!set_macs(&mut f[..11], a, b));
    }

    #[test]
    fn l3_offset_inside_the_ethernet_header_is_malformed() {
        let mut shifted = [0u8; 46];
        shifted[..40].copy_from_slice(&UDP_FRAME[6..]);
        assert_eq!(
            checked_ipv4(&shifted, 8).err(),
            Some(DropReason::Malformed),
            "an IPv4 header at 8 would overlap the MACs the transforms write"
        );
    }

    #[test]
    fn checks_run_in_the_documented_order() {
        // A fragment with a bad checksum is a checksum drop: the checksum comes first.
        let mut f = UDP_FRAME;
        f[14 + 6] = 0x20; // MF, DF cleared; header checksum now wrong
        assert_eq!(checked_ipv4(&f, 14).err(), Some(DropReason::BadIpChecksum));
        Ipv4Packet::new_unchecked(&mut f[14..]).fill_checksum();
        assert_eq!(checked_ipv4(&f, 14).err(), Some(DropReason::Fragment));
    }

    #[test]
    fn ttl_one_becomes_time_exceeded_from_the_given_source() {
        let mut f = UDP_FRAME;
        Ipv4Packet::new_unchecked(&mut f[14..]).set_ttl(1);
        let mut buf = HeadroomBuf::new(&f);
        let vip = Ipv4Addr::new(192, 0, 2, 10);
        let v = ttl_then_mtu(&mut buf, 14, 0, vip, &eg());
        assert_eq!(v, Some(Verdict::SendBack(IcmpSent::TimeExceeded)));
        let ip = Ipv4Packet::new_checked(&buf.data()[14..]).unwrap();
        assert_eq!(ip.src_addr(), vip);
        assert_eq!(ip.dst_addr(), Ipv4Addr::new(203, 0, 113, 7));
        assert_eq!(
            usize::from(ip.total_len()),
            20 + 8 + 32,
            "whole 32-byte packet quoted"
        );
        assert_eq!(
            &buf.data()[0..6],
            &UDP_FRAME[6..12],
            "back to the sender's MAC"
        );
    }

    #[test]
    fn mtu_overhead_counts_towards_the_limit() {
        let mut buf = HeadroomBuf::new(&UDP_FRAME);
        let e = Egress { mtu: 52, ..eg() };
        let src = Ipv4Addr::new(192, 0, 2, 10);
        assert_eq!(
            mtu_step(&mut buf, 14, 20, src, &e),
            None,
            "32 + 20 = 52 fits"
        );
        let e = Egress { mtu: 51, ..eg() };
        assert_eq!(
            mtu_step(&mut buf, 14, 20, src, &e),
            Some(Verdict::SendBack(IcmpSent::FragNeeded))
        );
        let icmp = &buf.data()[14 + 20..];
        assert_eq!(
            u16::from_be_bytes([icmp[6], icmp[7]]),
            31,
            "next-hop MTU = 51 - 20"
        );
    }
}
