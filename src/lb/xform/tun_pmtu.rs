//! ICMP errors about rvsd's own IPIP packets, above all path MTU discovery through a
//! TUN tunnel: frag-needed (a real server, or a router between director and real
//! server, could not forward the outer packet), as IPVS handles them in
//! `ip_vs_in_icmp` for `IPPROTO_IPIP`. Other destination-unreachable and
//! time-exceeded errors (a real server without IPIP answers protocol unreachable) are
//! relayed to the client the same way, type and code unchanged (recorded:
//! tests/fixtures/golden/oracle/ipvs_ttl_mtu.txt, type 3 code 2 from the VIP).
//!
//! The error arrives as `ip(hop -> director) | icmp 3/4 (mtu) | outer ip(director -> RIP,
//! proto 4) | inner ip(client -> VIP) | inner TCP/UDP ...`. [`parse`] reads it (nothing
//! written); the caller finds the connection by the inner tuple, lowers the tunnel MTU
//! of its dest (`Dest::learn_tun_mtu`) and, when the outer packet had DF (the client does
//! PMTU discovery), [`relay`] turns the frame in place into the frag-needed IPVS sends the
//! client: from the VIP, MTU = tunnel MTU − 20, quoting the inner packet as far as the
//! hop quoted it (recorded: tests/fixtures/oracle/egress, case F).

use std::net::Ipv4Addr;

use super::{frag, DropReason, Verdict};
use crate::lb::flow::{proto, FlowKey};
use crate::wire::icmp::{unreach_code, IcmpType};
use crate::wire::ipv4::MIN_HEADER_LEN;
use crate::wire::{icmp, IcmpError, IcmpPacket, IpProtocol, Ipv4At, Ipv4Packet, PacketBuf};

/// IP protocol number of IP-in-IP (RFC 2003).
const IPPROTO_IPIP: u8 = 4;

/// What an ICMP error about one of our IPIP packets says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TunnelError {
    /// Its type (destination unreachable or time exceeded, the errors IPVS's
    /// `ip_vs_in_icmp` looks at), relayed to the client as it is.
    pub msg_type: IcmpType,
    /// Its code, relayed as it is.
    pub code: u8,
    /// For frag-needed, the next-hop MTU the hop reported (0 from pre-RFC 1191 routers).
    pub mtu: u16,
    /// The quoted outer header's source: the director's address, if it is ours.
    pub outer_src: Ipv4Addr,
    /// The quoted outer header's destination: the real server.
    pub outer_dst: Ipv4Addr,
    /// DF of the quoted outer packet (copied from the client's packet by `tun`):
    /// only then is the error relayed to the client (IPVS: "Client uses PMTUD?").
    pub outer_df: bool,
    /// The inner packet's tuple as the client sent it (client -> VIP).
    pub inner: FlowKey,
}

/// Reads an ICMP destination unreachable or time exceeded quoting an IPIP packet whose
/// inner packet is TCP or UDP with its ports (IPVS needs them to find the connection);
/// `None` for anything else (left to the caller's other paths), including a wrong ICMP
/// checksum.
pub fn parse(frame: &[u8], at: Ipv4At) -> Option<TunnelError> {
    let ip = at.view(frame).ok()?;
    if ip.protocol() != IpProtocol::Icmp || ip.is_fragment() {
        return None;
    }
    let msg = IcmpPacket::new_checked(ip.payload()).ok()?;
    let msg_type = msg.msg_type();
    if !matches!(msg_type, IcmpType::DestUnreachable | IcmpType::TimeExceeded)
        || !msg.verify_checksum()
    {
        return None;
    }
    let quote = msg.payload();
    let outer = quoted_header(quote)?;
    if u8::from(outer.protocol()) != IPPROTO_IPIP || outer.is_fragment() {
        return None;
    }
    let inner_bytes = quote.get(outer.header_len()..)?;
    let inner = quoted_header(inner_bytes)?;
    let p = u8::from(inner.protocol());
    if p != proto::TCP && p != proto::UDP || inner.is_fragment() {
        return None;
    }
    let ports = inner_bytes.get(inner.header_len()..inner.header_len() + 4)?;
    Some(TunnelError {
        msg_type,
        code: msg.code(),
        mtu: msg.next_hop_mtu(),
        outer_src: outer.src_addr(),
        outer_dst: outer.dst_addr(),
        outer_df: outer.dont_frag(),
        inner: FlowKey {
            proto: p,
            saddr: inner.src_addr(),
            sport: u16::from_be_bytes([ports[0], ports[1]]),
            daddr: inner.dst_addr(),
            dport: u16::from_be_bytes([ports[2], ports[3]]),
        },
    })
}

/// A quoted IPv4 header: version 4, a header length that fits the quote. Its total
/// length may exceed the quote (a quote is a packet's start), so only the header's own
/// fields are read.
fn quoted_header(b: &[u8]) -> Option<Ipv4Packet<&[u8]>> {
    let first = *b.first()?;
    let hl = usize::from(first & 0x0f) * 4;
    if first >> 4 != 4 || hl < MIN_HEADER_LEN || b.len() < hl {
        return None;
    }
    Some(Ipv4Packet::new_unchecked(&b[..hl]))
}

impl TunnelError {
    /// True for frag-needed (type 3 code 4): the one that teaches a tunnel MTU.
    pub fn is_frag_needed(&self) -> bool {
        self.msg_type == IcmpType::DestUnreachable && self.code == unreach_code::FRAG_NEEDED
    }
}

/// Turns the frame (an error [`parse`] accepted, at `at`) into the error the client
/// gets: `err` (the same type and code; for frag-needed the client's MTU) from `vip`,
/// quoting the inner packet (what follows the quoted outer header, at most 548 bytes).
/// The MACs are those of a reply to the hop; the caller writes the ones toward the
/// client. `SendBack` on success.
pub fn relay<P: PacketBuf>(
    pkt: &mut P,
    at: Ipv4At,
    err: IcmpError,
    vip: Ipv4Addr,
    ident: u16,
) -> Verdict {
    let l3 = at.l3();
    // Bytes from the frame start to the inner packet: link header, the hop's IPv4
    // header, the ICMP header and the quoted outer header.
    let cut = {
        let Ok(ip) = at.view(pkt.data()) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        let Some(outer) = ip.payload().get(icmp::HEADER_LEN..).and_then(quoted_header) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        ip.header_len() + icmp::HEADER_LEN + outer.header_len()
    };
    // The link header moves forward onto the quoted outer header's last bytes; the
    // frame then starts `cut` bytes later with the inner packet at `l3`.
    let data = pkt.data_mut();
    if data.len() < l3 + cut + MIN_HEADER_LEN {
        return Verdict::Drop(DropReason::Malformed);
    }
    data.copy_within(0..l3, cut);
    if !pkt.adj(cut) {
        return Verdict::Drop(DropReason::Malformed);
    }
    frag::send_back_error(pkt, l3, err, vip, ident)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::HeadroomBuf;

    const CLIENT: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 7);
    const VIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
    const LOCAL: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 65);
    const RIP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 130);
    const HOP: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 66);

    fn header(src: Ipv4Addr, dst: Ipv4Addr, proto: u8, total: u16, df: bool) -> [u8; 20] {
        let mut h = [0u8; 20];
        h[0] = 0x45;
        h[2..4].copy_from_slice(&total.to_be_bytes());
        h[6] = if df { 0x40 } else { 0 };
        h[8] = 63;
        h[9] = proto;
        h[12..16].copy_from_slice(&src.octets());
        h[16..20].copy_from_slice(&dst.octets());
        Ipv4Packet::new_unchecked(&mut h[..]).fill_checksum();
        h
    }

    /// The router's frag-needed (MTU 1400) about our 1470-byte outer packet carrying
    /// a 1450-byte UDP datagram client:41006 -> VIP:54, quoting `quote_inner` bytes of it.
    fn error_frame(quote_inner: usize, outer_df: bool) -> Vec<u8> {
        let mut quote = header(LOCAL, RIP, 4, 1470, outer_df).to_vec();
        let mut inner = header(CLIENT, VIP, 17, 1450, true).to_vec();
        inner.extend_from_slice(&[0xa0, 0x2e, 0, 54, 0x05, 0x96, 0, 0]);
        inner.resize(1450, b'f');
        quote.extend_from_slice(&inner[..quote_inner]);
        let mut icmp_msg = vec![3, 4, 0, 0, 0, 0, 0x05, 0x78];
        icmp_msg.extend_from_slice(&quote);
        IcmpPacket::new_unchecked(&mut icmp_msg[..]).fill_checksum();
        let mut f = vec![2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0x66, 8, 0];
        f.extend_from_slice(&header(HOP, LOCAL, 1, 20 + icmp_msg.len() as u16, false));
        f.extend_from_slice(&icmp_msg);
        f
    }

    #[test]
    fn a_frag_needed_about_our_ipip_packet_is_read() {
        let f = error_frame(528, true);
        let at = Ipv4At::check(&f, 14).unwrap();
        let t = parse(&f, at).unwrap();
        assert_eq!(
            (t.mtu, t.outer_src, t.outer_dst, t.outer_df),
            (1400, LOCAL, RIP, true)
        );
        assert!(t.is_frag_needed());
        assert_eq!(
            t.inner,
            FlowKey {
                proto: 17,
                saddr: CLIENT,
                sport: 41006,
                daddr: VIP,
                dport: 54
            }
        );
        // Without the inner ports (RFC 792's 8 bytes only) there is no connection to name.
        let short = error_frame(8, true);
        assert_eq!(parse(&short, Ipv4At::check(&short, 14).unwrap()), None);
        let mut bad = f.clone();
        bad[14 + 20 + 2] ^= 1; // ICMP checksum
        assert_eq!(parse(&bad, Ipv4At::check(&bad, 14).unwrap()), None);
    }

    #[test]
    fn relayed_error_quotes_the_inner_packet_from_the_vip() {
        let f = error_frame(528, true);
        let at = Ipv4At::check(&f, 14).unwrap();
        let mut b = HeadroomBuf::new(&f);
        let v = relay(&mut b, at, IcmpError::frag_needed(1380), VIP, 7);
        assert_eq!(v, Verdict::SendBack(super::super::IcmpSent::FragNeeded));
        let out = b.data();
        let ip = Ipv4Packet::new_checked(&out[14..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!((ip.src_addr(), ip.dst_addr()), (VIP, CLIENT));
        assert_eq!(
            usize::from(ip.total_len()),
            20 + 8 + 528,
            "as the oracle's 556"
        );
        let msg = IcmpPacket::new_checked(ip.payload()).unwrap();
        assert!(msg.verify_checksum());
        assert_eq!(msg.next_hop_mtu(), 1380);
        assert_eq!(msg.payload(), &f[14 + 20 + 8 + 20..], "the inner packet");
    }
}
