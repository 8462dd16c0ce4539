//! ICMP errors rvs originates in place of a packet: frag-needed (type 3 code 4,
//! RFC 1191) when a packet with DF set does not fit the egress MTU — above all
//! TUN's extra 20 bytes — and time-exceeded (type 11 code 0) when the TTL runs out.
//!
//! What the error looks like, following what Linux sends for IPVS
//! (`ensure_mtu_is_adequate` / `decrement_ttl` → `icmp_send`):
//! - source: the VIP when the packet was addressed to a VIP (Linux's
//!   `icmp_send` answers from the packet's destination when that is a local
//!   address, and a VIP is local on a director); for NAT replies (addressed to
//!   the client) the director's own address on the receiving network;
//! - destination: the offending packet's source; TTL 64 (Linux's default
//!   `ip_default_ttl`); TOS = the offending TOS bits & 0x1e | 0xc0 (precedence
//!   "internetwork control", RFC 1812 section 4.3.2.5, as Linux); DF clear;
//! - the quote: the offending IPv4 packet as it is at that point (for the
//!   request direction after the TTL decrement, as IPVS quotes it), as much as
//!   fits a 576-byte datagram (RFC 1812 4.3.2.3; at least header + 8 bytes,
//!   RFC 792);
//! - frag-needed carries the next-hop MTU: the egress MTU minus what rvs adds
//!   (20 bytes for TUN, 0 otherwise).
//!
//! Built in place: 28 bytes are prepended (IPv4 + ICMP header), the Ethernet
//! header moves to the new front and the offending packet, already where the
//! quote belongs, is cut to the quote length. No copy of the payload, no allocation.

use std::net::Ipv4Addr;

use super::{DropReason, IcmpSent, Verdict};
use crate::wire::icmp::{self, IcmpType, MAX_ERROR_DATAGRAM_LEN};
use crate::wire::ipv4::MIN_HEADER_LEN as IP_HEADER_LEN;
use crate::wire::{
    EthernetAddress, IcmpError, IcmpPacket, IpProtocol, Ipv4Packet, Ipv4Repr, PacketBuf,
};

/// TTL of ICMP errors rvs originates (Linux's default `net.ipv4.ip_default_ttl`).
pub const ICMP_ERROR_TTL: u8 = 64;

/// IP precedence "internetwork control" (0xc0), which Linux ORs into the TOS of
/// the ICMP errors it sends.
const TOS_PREC_INTERNETWORK_CONTROL: u8 = 0xc0;
/// The TOS bits of the offending packet Linux keeps (`IPTOS_TOS_MASK`).
const TOS_MASK: u8 = 0x1e;

/// Bytes prepended in front of the offending packet: IPv4 + ICMP headers.
const ERROR_HEADERS_LEN: usize = IP_HEADER_LEN + icmp::HEADER_LEN;

/// Replaces the IPv4 packet at `l3` (already accepted by `checked_ipv4`) by the
/// ICMP error `err` about it, from `src`, and returns `SendBack`; a drop when
/// the buffer has no headroom for the 28 extra bytes.
pub(crate) fn send_back_error<P: PacketBuf>(
    pkt: &mut P,
    l3: usize,
    err: IcmpError,
    src: Ipv4Addr,
    ident: u16,
) -> Verdict {
    let (dst, tos, quote_len, old_dst_mac, old_src_mac) = {
        let data = pkt.data();
        let ip = Ipv4Packet::new_unchecked(&data[l3..]);
        let max_quote = MAX_ERROR_DATAGRAM_LEN - ERROR_HEADERS_LEN;
        (
            ip.src_addr(),
            ip.tos(),
            // A quote of a quote (a relayed error) may hold less than the packet's
            // total length: never more than the bytes present.
            usize::from(ip.total_len())
                .min(max_quote)
                .min(data.len().saturating_sub(l3)),
            EthernetAddress::from_bytes(&data[0..6]).unwrap_or_default(),
            EthernetAddress::from_bytes(&data[6..12]).unwrap_or_default(),
        )
    };
    if !pkt.prepend(ERROR_HEADERS_LEN) {
        return Verdict::Drop(DropReason::NoHeadroom);
    }
    let data = pkt.data_mut();
    data.copy_within(ERROR_HEADERS_LEN..ERROR_HEADERS_LEN + l3, 0);
    let len = l3 + ERROR_HEADERS_LEN + quote_len;
    // Shrinks (or keeps) the frame: the quote never exceeds the offending packet.
    if !pkt.set_len(len) {
        return Verdict::Drop(DropReason::Malformed);
    }
    let data = pkt.data_mut();
    {
        let mut msg = IcmpPacket::new_unchecked(&mut data[l3 + IP_HEADER_LEN..len]);
        msg.set_msg_type(err.msg_type);
        msg.set_code(err.code);
        msg.set_rest_of_header(u32::from(err.next_hop_mtu));
        msg.fill_checksum();
    }
    let repr = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: IpProtocol::Icmp,
        payload_len: (icmp::HEADER_LEN + quote_len) as u16,
        ttl: ICMP_ERROR_TTL,
        tos: tos & TOS_MASK | TOS_PREC_INTERNETWORK_CONTROL,
        ident,
        dont_frag: false,
    };
    if repr.emit(&mut data[l3..]).is_err() {
        return Verdict::Drop(DropReason::Malformed);
    }
    super::set_macs(data, old_dst_mac, old_src_mac);
    Verdict::SendBack(match (err.msg_type, err.code) {
        (IcmpType::TimeExceeded, _) => IcmpSent::TimeExceeded,
        (_, icmp::unreach_code::PORT) => IcmpSent::PortUnreachable,
        _ => IcmpSent::FragNeeded,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::HeadroomBuf;

    /// Ethernet + a 1500-byte IPv4/UDP packet with DF, valid header checksum.
    fn big_frame() -> Vec<u8> {
        let mut f = vec![0u8; 14 + 1500];
        f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 0xfe]);
        f[12] = 0x08;
        let repr = Ipv4Repr {
            src_addr: Ipv4Addr::new(203, 0, 113, 7),
            dst_addr: Ipv4Addr::new(192, 0, 2, 10),
            protocol: IpProtocol::Udp,
            payload_len: 1480,
            ttl: 64,
            tos: 0x2b,
            ident: 1,
            dont_frag: true,
        };
        repr.emit(&mut f[14..]).unwrap();
        f
    }

    #[test]
    fn quote_is_cut_so_the_error_is_576_bytes() {
        let f = big_frame();
        let mut buf = HeadroomBuf::new(&f);
        let v = send_back_error(
            &mut buf,
            14,
            IcmpError::frag_needed(1400),
            Ipv4Addr::new(192, 0, 2, 10),
            9,
        );
        assert_eq!(v, Verdict::SendBack(IcmpSent::FragNeeded));
        let out = buf.data();
        assert_eq!(out.len(), 14 + MAX_ERROR_DATAGRAM_LEN);
        let ip = Ipv4Packet::new_checked(&out[14..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.tos(), 0x2b & 0x1e | 0xc0);
        assert_eq!(ip.ttl(), ICMP_ERROR_TTL);
        assert!(!ip.dont_frag());
        let msg = IcmpPacket::new_checked(ip.payload()).unwrap();
        assert!(msg.verify_checksum());
        assert_eq!(msg.next_hop_mtu(), 1400);
        assert_eq!(
            msg.payload(),
            &f[14..14 + 548],
            "the quote is the packet's start"
        );
    }

    #[test]
    fn no_headroom_is_a_counted_drop() {
        let f = big_frame();
        let mut buf = HeadroomBuf::with_room(&f, 27, f.len());
        let v = send_back_error(
            &mut buf,
            14,
            IcmpError::ttl_exceeded(),
            Ipv4Addr::LOCALHOST,
            0,
        );
        assert_eq!(v, Verdict::Drop(DropReason::NoHeadroom));
    }
}
