//! NAT (masquerading, `ipvsadm -m`): the request direction rewrites the
//! destination VIP:vport to the real server's RIP:rport, the reply direction
//! rewrites the source RIP:rport back to VIP:vport, so the client only ever
//! sees the VIP.
//!
//! Checksums are updated incrementally (RFC 1624): the IPv4 header checksum for
//! the address, the TCP/UDP checksum for the address (pseudo header) and the
//! port. A UDP checksum of 0 ("none", RFC 768) stays 0. Neither L4 checksum is
//! verified here: a wrong one stays wrong by exactly the same amount, so the
//! receiver drops it, as it would behind IPVS (which checks only when an
//! application helper must rewrite the payload). Only the first packet of a new
//! flow is verified, by the LB path before it creates state (`drop_bad_l4_checksum`).
//!
//! TTL and MTU follow IPVS: the request direction is sent by `ip_vs_nat_xmit`
//! (decrement, then MTU check: the frag-needed quote shows the decremented TTL
//! and the VIP the client used); the reply direction is routed by the kernel's
//! `ip_forward` (MTU check on the real server's packet as sent, then decrement).

use std::net::{Ipv4Addr, SocketAddrV4};

use super::{check_at, forward, ipv4_mut, mtu_step, ttl_step, ttl_then_mtu, valid_ipv4};
use super::{DropReason, Egress, Verdict};
use crate::wire::{IpProtocol, Ipv4At, PacketBuf, TcpPacket, UdpPacket};

/// Which end of the flow a NAT rewrite changes.
#[derive(Clone, Copy)]
pub(super) enum End {
    /// Destination address and port (request direction).
    Dst,
    /// Source address and port (reply direction).
    Src,
}

/// Request direction: a client's packet to VIP:vport, rewritten to `to`
/// (RIP:rport) and sent to the real server. ICMP errors rvs originates about it
/// come from the VIP (the packet's destination).
pub fn nat_in<P: PacketBuf>(pkt: &mut P, l3: usize, to: SocketAddrV4, eg: &Egress) -> Verdict {
    match check_at(pkt.data(), l3) {
        Ok(at) => nat_in_at(pkt, at, to, eg),
        Err(r) => Verdict::Drop(r),
    }
}

/// [`nat_in`] for a header the caller already checked (`at`: lengths and checksum).
pub fn nat_in_at<P: PacketBuf>(pkt: &mut P, at: Ipv4At, to: SocketAddrV4, eg: &Egress) -> Verdict {
    let l3 = at.l3();
    let vip = match check(pkt.data(), at) {
        Ok((_, dst)) => dst,
        Err(r) => return Verdict::Drop(r),
    };
    if let Some(v) = ttl_then_mtu(pkt, l3, 0, vip, eg) {
        return v;
    }
    rewrite(pkt, l3, End::Dst, to, true);
    forward(pkt, l3, eg)
}

/// Reply direction: a real server's packet from RIP:rport to the client,
/// rewritten to come from `from` (VIP:vport). `local_addr` is the director's own
/// address on the network the packet came from: the source of ICMP errors
/// about it, as the kernel router would pick.
pub fn nat_out<P: PacketBuf>(
    pkt: &mut P,
    l3: usize,
    from: SocketAddrV4,
    local_addr: Ipv4Addr,
    eg: &Egress,
) -> Verdict {
    match check_at(pkt.data(), l3) {
        Ok(at) => nat_out_at(pkt, at, from, local_addr, eg),
        Err(r) => Verdict::Drop(r),
    }
}

/// [`nat_out`] for a header the caller already checked (`at`: lengths and checksum).
pub fn nat_out_at<P: PacketBuf>(
    pkt: &mut P,
    at: Ipv4At,
    from: SocketAddrV4,
    local_addr: Ipv4Addr,
    eg: &Egress,
) -> Verdict {
    let l3 = at.l3();
    if let Err(r) = check(pkt.data(), at) {
        return Verdict::Drop(r);
    }
    if let Some(v) = ttl_step(pkt, l3, local_addr, eg) {
        return v;
    }
    if let Some(v) = mtu_step(pkt, l3, 0, local_addr, eg) {
        return v;
    }
    ipv4_mut(pkt, l3).decrement_ttl();
    rewrite(pkt, l3, End::Src, from, true);
    forward(pkt, l3, eg)
}

/// The shared checks plus a TCP/UDP header that fits; returns (source, destination).
pub(crate) fn check(frame: &[u8], at: Ipv4At) -> Result<(Ipv4Addr, Ipv4Addr), DropReason> {
    let ip = valid_ipv4(frame, at)?;
    let ok = match ip.protocol() {
        IpProtocol::Tcp => TcpPacket::new_checked(ip.payload()).is_ok(),
        IpProtocol::Udp => UdpPacket::new_checked(ip.payload()).is_ok(),
        _ => return Err(DropReason::UnsupportedProtocol),
    };
    if !ok {
        return Err(DropReason::Malformed);
    }
    Ok((ip.src_addr(), ip.dst_addr()))
}

/// Rewrites one end's address and, with `ports` (a whole packet, or the first fragment
/// of a datagram: the one with the L4 header), its port and the L4 checksum, with
/// incremental checksum updates. The packet passed `check` (or `datagram::check_nat`),
/// so the L4 view is sized.
pub(super) fn rewrite<P: PacketBuf>(
    pkt: &mut P,
    l3: usize,
    end: End,
    to: SocketAddrV4,
    ports: bool,
) {
    let mut ip = ipv4_mut(pkt, l3);
    let old = match end {
        End::Dst => ip.dst_addr(),
        End::Src => ip.src_addr(),
    };
    let new = *to.ip();
    match end {
        End::Dst => ip.set_dst_addr(new),
        End::Src => ip.set_src_addr(new),
    }
    if !ports {
        return;
    }
    let proto = ip.protocol();
    let l4 = ip.payload_mut();
    match proto {
        IpProtocol::Tcp => {
            let mut t = TcpPacket::new_unchecked(l4);
            t.update_checksum_for_addr(old, new);
            match end {
                End::Dst => t.set_dst_port(to.port()),
                End::Src => t.set_src_port(to.port()),
            }
        }
        IpProtocol::Udp => {
            let mut u = UdpPacket::new_unchecked(l4);
            u.update_checksum_for_addr(old, new);
            match end {
                End::Dst => u.set_dst_port(to.port()),
                End::Src => u.set_src_port(to.port()),
            }
        }
        _ => {}
    }
}
