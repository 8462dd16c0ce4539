//! ICMP errors about a NATed connection ("related" ICMP in IPVS words,
//! `ip_vs_in_icmp`/`ip_vs_out_icmp` → `ip_vs_nat_icmp`).
//!
//! An error quotes the start of the packet that caused it. Behind a NAT
//! director the quote shows the addresses the *sender of that packet* used,
//! so the quote must be translated like the connection's own packets, or the
//! receiver cannot match the error to its socket (and PMTU discovery breaks):
//! - [`icmp_out`]: from the real-server side (the real server's port
//!   unreachable, a router's frag-needed) about a packet client → RIP:rport,
//!   going to the client: the outer source becomes the VIP (always, as IPVS
//!   does, even when a router sent it: the client knows only the VIP), the
//!   quoted destination RIP:rport becomes VIP:vport;
//! - [`icmp_in`]: from the client side about a packet VIP:vport → client,
//!   going to the real server: the outer destination VIP becomes the RIP and the
//!   quoted source VIP:vport becomes RIP:rport.
//!
//! The quoted header's checksum is kept valid incrementally; the quoted TCP/UDP
//! checksum is left alone (IPVS does the same: the quote is usually cut, so no
//! one can verify it). The ICMP checksum is verified first (a bad one is a drop,
//! like IPVS's "checksum error" path) and then recomputed over the whole
//! message, since errors are rare and short (≤ 576 bytes).
//!
//! For DR and TUN connections IPVS forwards related ICMP unchanged with the
//! connection's own method: call [`super::dr`] or [`super::tun`] instead.

use std::net::SocketAddrV4;

use super::{check_at, checked_ipv4, forward, ipv4_mut, ttl_then_mtu, valid_ipv4};
use super::{DropReason, Egress, Verdict};
use crate::lb::flow::FlowKey;
use crate::wire::{IcmpPacket, IpProtocol, Ipv4At, Ipv4Packet, PacketBuf};

/// The flow key of the packet an ICMP error at `l3` quotes, as that packet was
/// sent. For an error from the client side it reads VIP:vport → client (look
/// the connection up by its [`reversed`] key); from the real-server side it reads
/// client → RIP:rport. Only TCP and UDP quotes are keys; anything else is
/// [`DropReason::IcmpUnrelated`]. The ICMP checksum is not checked here (the
/// transforms do it).
pub fn quoted_flow(frame: &[u8], l3: usize) -> Result<FlowKey, DropReason> {
    let ip = checked_ipv4(frame, l3)?;
    quoted_key(&ip)
}

/// A flow key seen from the other end (source and destination swapped).
pub fn reversed(k: &FlowKey) -> FlowKey {
    FlowKey {
        proto: k.proto,
        saddr: k.daddr,
        sport: k.dport,
        daddr: k.saddr,
        dport: k.sport,
    }
}

fn quoted_key(ip: &Ipv4Packet<&[u8]>) -> Result<FlowKey, DropReason> {
    if ip.protocol() != IpProtocol::Icmp {
        return Err(DropReason::IcmpUnrelated);
    }
    let msg = IcmpPacket::new_checked(ip.payload()).map_err(|_| DropReason::Malformed)?;
    let q = msg.quoted().map_err(|_| DropReason::IcmpUnrelated)?;
    match q.protocol() {
        IpProtocol::Tcp | IpProtocol::Udp => Ok(FlowKey {
            proto: u8::from(q.protocol()),
            saddr: q.src_addr(),
            sport: q.src_port(),
            daddr: q.dst_addr(),
            dport: q.dst_port(),
        }),
        _ => Err(DropReason::IcmpUnrelated),
    }
}

/// Checks shared by both directions: a TCP/UDP-quoting error with a valid ICMP checksum.
fn check(frame: &[u8], at: Ipv4At) -> Result<(), DropReason> {
    let ip = valid_ipv4(frame, at)?;
    quoted_key(&ip)?;
    if !IcmpPacket::new_unchecked(ip.payload()).verify_checksum() {
        return Err(DropReason::BadIcmpChecksum);
    }
    Ok(())
}

/// Error from the client side about our packet VIP:vport → client: sends it on
/// to the real server `to` (RIP:rport) of that connection.
pub fn icmp_in<P: PacketBuf>(pkt: &mut P, l3: usize, to: SocketAddrV4, eg: &Egress) -> Verdict {
    match check_at(pkt.data(), l3) {
        Ok(at) => icmp_in_at(pkt, at, to, eg),
        Err(r) => Verdict::Drop(r),
    }
}

/// [`icmp_in`] for a header the caller already checked (`at`: lengths and checksum).
pub fn icmp_in_at<P: PacketBuf>(pkt: &mut P, at: Ipv4At, to: SocketAddrV4, eg: &Egress) -> Verdict {
    rewrite(pkt, at, Dir::In, to, eg)
}

/// Error from the real-server side about a packet client → RIP:rport: sends it
/// on to the client as an error about `from` (VIP:vport).
pub fn icmp_out<P: PacketBuf>(pkt: &mut P, l3: usize, from: SocketAddrV4, eg: &Egress) -> Verdict {
    match check_at(pkt.data(), l3) {
        Ok(at) => icmp_out_at(pkt, at, from, eg),
        Err(r) => Verdict::Drop(r),
    }
}

/// [`icmp_out`] for a header the caller already checked (`at`: lengths and checksum).
pub fn icmp_out_at<P: PacketBuf>(
    pkt: &mut P,
    at: Ipv4At,
    from: SocketAddrV4,
    eg: &Egress,
) -> Verdict {
    rewrite(pkt, at, Dir::Out, from, eg)
}

#[derive(Clone, Copy)]
enum Dir {
    In,
    Out,
}

fn rewrite<P: PacketBuf>(
    pkt: &mut P,
    at: Ipv4At,
    dir: Dir,
    addr: SocketAddrV4,
    eg: &Egress,
) -> Verdict {
    let l3 = at.l3();
    if let Err(r) = check(pkt.data(), at) {
        return Verdict::Drop(r);
    }
    // No ICMP error is ever sent about an ICMP error, so these only drop; the
    // source address is never used.
    if let Some(v) = ttl_then_mtu(pkt, l3, 0, *addr.ip(), eg) {
        return v;
    }
    let mut ip = ipv4_mut(pkt, l3);
    match dir {
        Dir::In => ip.set_dst_addr(*addr.ip()),
        Dir::Out => ip.set_src_addr(*addr.ip()),
    }
    let mut msg = IcmpPacket::new_unchecked(ip.payload_mut());
    {
        let Ok(mut q) = msg.quoted_mut() else {
            return Verdict::Drop(DropReason::IcmpUnrelated);
        };
        match dir {
            Dir::In => {
                q.set_src_addr(*addr.ip());
                q.set_src_port(addr.port());
            }
            Dir::Out => {
                q.set_dst_addr(*addr.ip());
                q.set_dst_port(addr.port());
            }
        }
    }
    msg.fill_checksum();
    forward(pkt, l3, eg)
}
