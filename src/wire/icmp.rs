//! ICMP for IPv4 (RFC 792): echo for the appliance's own addresses, and the
//! error messages a load balancer must understand and originate.
//!
//! - Errors about a balanced flow (e.g. frag-needed from a router between the
//!   director and a real server) quote the offending packet; NAT must rewrite
//!   the quoted addresses/ports like the flow's own packets, which is what
//!   [`QuotedIpv4`] gives access to. After such a rewrite call
//!   [`IcmpPacket::fill_checksum`]: the ICMP checksum covers the quote, and
//!   errors are rare enough for a full pass.
//! - rvs itself originates frag-needed (type 3 code 4, RFC 1191) when a TUN
//!   encapsulation would exceed the MTU with DF set, and time-exceeded when it
//!   forwards; [`IcmpError`] builds them.
//!
//! The view covers the ICMP message only (the IPv4 payload, cut at the IPv4
//! total length): the checksum covers exactly that.

use std::net::Ipv4Addr;

use super::checksum;
use super::ipv4::{self, IpProtocol, Ipv4Packet, Ipv4Repr};
use super::{be16, Malformed};

mod field {
    use core::ops::Range;
    pub const TYPE: usize = 0;
    pub const CODE: usize = 1;
    pub const CHECKSUM: Range<usize> = 2..4;
    pub const ECHO_IDENT: Range<usize> = 4..6;
    pub const ECHO_SEQ: Range<usize> = 6..8;
    /// RFC 1191: the low half of the "unused" word of type 3 code 4.
    pub const NEXT_HOP_MTU: Range<usize> = 6..8;
    pub const REST_OF_HEADER: Range<usize> = 4..8;
    pub const HEADER_LEN: usize = 8;
}

/// Bytes of the ICMP header (type, code, checksum, rest-of-header).
pub const HEADER_LEN: usize = field::HEADER_LEN;

/// Largest ICMP error datagram rvs sends, IPv4 header included: RFC 1812
/// section 4.3.2.3 lets a router quote as much as fits in 576 bytes, the
/// minimum every host must reassemble.
pub const MAX_ERROR_DATAGRAM_LEN: usize = 576;

/// Codes of Destination Unreachable (type 3) used by rvs.
pub mod unreach_code {
    /// Network unreachable.
    pub const NET: u8 = 0;
    /// Host unreachable (e.g. no ARP answer from a real server).
    pub const HOST: u8 = 1;
    /// Protocol unreachable.
    pub const PROTOCOL: u8 = 2;
    /// Port unreachable (no virtual service on that port).
    pub const PORT: u8 = 3;
    /// Fragmentation needed and DF set (RFC 1191: next-hop MTU is filled in).
    pub const FRAG_NEEDED: u8 = 4;
}

/// Codes of Time Exceeded (type 11).
pub mod time_exceeded_code {
    /// TTL reached zero in transit.
    pub const TTL: u8 = 0;
    /// Fragment reassembly time exceeded.
    pub const REASSEMBLY: u8 = 1;
}

/// The ICMP message types rvs distinguishes; others are `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IcmpType {
    /// 0: echo reply.
    EchoReply,
    /// 3: destination unreachable (frag-needed is code 4).
    DestUnreachable,
    /// 8: echo request (ping).
    EchoRequest,
    /// 11: time exceeded.
    TimeExceeded,
    /// Anything else (redirect, source quench, parameter problem...).
    Other(u8),
}

impl From<u8> for IcmpType {
    fn from(v: u8) -> Self {
        match v {
            0 => IcmpType::EchoReply,
            3 => IcmpType::DestUnreachable,
            8 => IcmpType::EchoRequest,
            11 => IcmpType::TimeExceeded,
            o => IcmpType::Other(o),
        }
    }
}

impl From<IcmpType> for u8 {
    fn from(t: IcmpType) -> u8 {
        match t {
            IcmpType::EchoReply => 0,
            IcmpType::DestUnreachable => 3,
            IcmpType::EchoRequest => 8,
            IcmpType::TimeExceeded => 11,
            IcmpType::Other(o) => o,
        }
    }
}

impl IcmpType {
    /// True for error messages, which quote an offending packet and must never
    /// be answered with another error (RFC 1812 section 4.3.2.7): destination
    /// unreachable (3), source quench (4), redirect (5), time exceeded (11),
    /// parameter problem (12).
    pub fn is_error(self) -> bool {
        matches!(u8::from(self), 3 | 4 | 5 | 11 | 12)
    }
}

/// A view of an ICMP message.
#[derive(Debug, Clone)]
pub struct IcmpPacket<B> {
    buf: B,
}

impl<B: AsRef<[u8]>> IcmpPacket<B> {
    /// Wraps a buffer rvs built (at least 8 bytes).
    pub fn new_unchecked(buf: B) -> Self {
        IcmpPacket { buf }
    }

    /// Wraps untrusted bytes: the 8-byte header must be there. Pass the IPv4
    /// payload (already cut at total_len), since the checksum covers all of it.
    pub fn new_checked(buf: B) -> Result<Self, Malformed> {
        if buf.as_ref().len() < field::HEADER_LEN {
            return Err(Malformed);
        }
        Ok(IcmpPacket { buf })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }

    /// Message type.
    pub fn msg_type(&self) -> IcmpType {
        IcmpType::from(self.buf.as_ref()[field::TYPE])
    }

    /// Message code.
    pub fn code(&self) -> u8 {
        self.buf.as_ref()[field::CODE]
    }

    /// Checksum as written.
    pub fn checksum(&self) -> u16 {
        be16(&self.buf.as_ref()[field::CHECKSUM])
    }

    /// True when the whole message sums to 0xffff.
    pub fn verify_checksum(&self) -> bool {
        checksum::data(self.buf.as_ref()) == 0xffff
    }

    /// Echo identifier (meaningful for echo request/reply).
    pub fn echo_ident(&self) -> u16 {
        be16(&self.buf.as_ref()[field::ECHO_IDENT])
    }

    /// Echo sequence number (meaningful for echo request/reply).
    pub fn echo_seq(&self) -> u16 {
        be16(&self.buf.as_ref()[field::ECHO_SEQ])
    }

    /// Next-hop MTU of a frag-needed error (RFC 1191); 0 from old routers that
    /// predate RFC 1191, and meaningless for other types.
    pub fn next_hop_mtu(&self) -> u16 {
        be16(&self.buf.as_ref()[field::NEXT_HOP_MTU])
    }

    /// The 32-bit rest-of-header word, raw.
    pub fn rest_of_header(&self) -> u32 {
        super::be32(&self.buf.as_ref()[field::REST_OF_HEADER])
    }

    /// What follows the 8-byte header: echo data, or the quoted packet of an error.
    pub fn payload(&self) -> &[u8] {
        &self.buf.as_ref()[field::HEADER_LEN..]
    }

    /// The packet quoted by an error message; `Malformed` for a non-error type
    /// or a quote too short to hold an IPv4 header and 8 bytes of L4.
    pub fn quoted(&self) -> Result<QuotedIpv4<&[u8]>, Malformed> {
        if !self.msg_type().is_error() {
            return Err(Malformed);
        }
        QuotedIpv4::new_checked(self.payload())
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> IcmpPacket<B> {
    /// Sets the type (checksum not updated: call [`fill_checksum`](Self::fill_checksum)).
    pub fn set_msg_type(&mut self, t: IcmpType) {
        self.buf.as_mut()[field::TYPE] = u8::from(t);
    }

    /// Sets the code (checksum not updated).
    pub fn set_code(&mut self, c: u8) {
        self.buf.as_mut()[field::CODE] = c;
    }

    /// Writes the checksum field as given.
    pub fn set_checksum(&mut self, c: u16) {
        self.buf.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Sets the echo identifier (checksum not updated).
    pub fn set_echo_ident(&mut self, v: u16) {
        self.buf.as_mut()[field::ECHO_IDENT].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the echo sequence number (checksum not updated).
    pub fn set_echo_seq(&mut self, v: u16) {
        self.buf.as_mut()[field::ECHO_SEQ].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the whole rest-of-header word (checksum not updated); for
    /// frag-needed this is `mtu as u32` (RFC 1191: unused half is zero).
    pub fn set_rest_of_header(&mut self, v: u32) {
        self.buf.as_mut()[field::REST_OF_HEADER].copy_from_slice(&v.to_be_bytes());
    }

    /// Computes and writes the checksum over the whole message.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let c = checksum::finish(checksum::data(self.buf.as_ref()));
        self.set_checksum(c);
    }

    /// Turns an echo request into its echo reply in place (type 8 → 0, data,
    /// ident and sequence kept), recomputing the checksum over the whole
    /// message as Linux's `icmp_reply` does. An RFC 1624 incremental update
    /// would give 0x0000 where the full sum gives 0xffff when every word of the
    /// reply is zero (type 0, code 0, ident 0, sequence 0, no data): both
    /// verify, but receivers and checkers expect Linux's 0xffff (review
    /// finding 6). `Malformed` if it is not an echo request. The caller swaps
    /// the IPv4 addresses.
    pub fn make_echo_reply(&mut self) -> Result<(), Malformed> {
        if self.msg_type() != IcmpType::EchoRequest {
            return Err(Malformed);
        }
        self.buf.as_mut()[field::TYPE] = 0;
        self.fill_checksum();
        Ok(())
    }

    /// Payload, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        &mut self.buf.as_mut()[field::HEADER_LEN..]
    }

    /// The quoted packet of an error message, writable (for NAT of errors).
    pub fn quoted_mut(&mut self) -> Result<QuotedIpv4<&mut [u8]>, Malformed> {
        if !self.msg_type().is_error() {
            return Err(Malformed);
        }
        QuotedIpv4::new_checked(self.payload_mut())
    }
}

/// The IPv4 header plus at least 8 bytes of L4 quoted inside an ICMP error.
///
/// Unlike [`Ipv4Packet`] it does not require the quoted total length to fit:
/// routers quote only the start of the offending packet (RFC 792: header and 8
/// bytes). The 8 bytes hold both ports for TCP and UDP, which is all a
/// connection lookup needs.
#[derive(Debug, Clone)]
pub struct QuotedIpv4<B> {
    buf: B,
}

/// The quoted header's field layout is IPv4's.
use ipv4::field as qf;

impl<B: AsRef<[u8]>> QuotedIpv4<B> {
    /// Wraps untrusted bytes: version 4, IHL ≥ 5, and header + 8 bytes present.
    pub fn new_checked(buf: B) -> Result<Self, Malformed> {
        let b = buf.as_ref();
        if b.len() < qf::MIN_HEADER_LEN {
            return Err(Malformed);
        }
        let hl = usize::from(b[qf::VER_IHL] & 0x0f) * 4;
        if b[qf::VER_IHL] >> 4 != 4 || hl < qf::MIN_HEADER_LEN || hl + 8 > b.len() {
            return Err(Malformed);
        }
        Ok(QuotedIpv4 { buf })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }

    fn ip(&self) -> Ipv4Packet<&[u8]> {
        // Field getters of Ipv4Packet only index the fixed header, which
        // new_checked has sized; payload()/packet() are never called on it.
        Ipv4Packet::new_unchecked(self.buf.as_ref())
    }

    /// Quoted header length in bytes.
    pub fn header_len(&self) -> usize {
        self.ip().header_len()
    }

    /// Quoted total length (of the original packet, not of the quote).
    pub fn total_len(&self) -> u16 {
        self.ip().total_len()
    }

    /// Quoted identification.
    pub fn ident(&self) -> u16 {
        self.ip().ident()
    }

    /// Quoted fragment offset in bytes: non-zero for a later fragment, whose first 8
    /// bytes are data, not ports.
    pub fn frag_offset_bytes(&self) -> u16 {
        self.ip().frag_offset_bytes()
    }

    /// Quoted TTL.
    pub fn ttl(&self) -> u8 {
        self.ip().ttl()
    }

    /// Quoted protocol: which table the flow lives in.
    pub fn protocol(&self) -> IpProtocol {
        self.ip().protocol()
    }

    /// Quoted source address (for an error about our outgoing packet: us/VIP/RIP).
    pub fn src_addr(&self) -> Ipv4Addr {
        self.ip().src_addr()
    }

    /// Quoted destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        self.ip().dst_addr()
    }

    /// True when the quoted header's own checksum is right.
    pub fn verify_checksum(&self) -> bool {
        self.ip().verify_checksum()
    }

    /// The first 8 bytes of the quoted L4 header.
    pub fn l4_head(&self) -> &[u8] {
        let hl = self.header_len();
        &self.buf.as_ref()[hl..hl + 8]
    }

    /// Quoted source port (first 2 L4 bytes; TCP and UDP).
    pub fn src_port(&self) -> u16 {
        be16(&self.l4_head()[0..2])
    }

    /// Quoted destination port (bytes 2..4 of L4; TCP and UDP).
    pub fn dst_port(&self) -> u16 {
        be16(&self.l4_head()[2..4])
    }

    /// All quoted L4 bytes (at least 8).
    pub fn l4(&self) -> &[u8] {
        let hl = self.header_len();
        &self.buf.as_ref()[hl..]
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> QuotedIpv4<B> {
    fn ip_mut(&mut self) -> Ipv4Packet<&mut [u8]> {
        Ipv4Packet::new_unchecked(self.buf.as_mut())
    }

    /// Rewrites the quoted source address, updating the quoted header's
    /// checksum incrementally (the ICMP checksum is the caller's: see module doc).
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        self.ip_mut().set_src_addr(a);
    }

    /// Rewrites the quoted destination address (quoted header checksum kept).
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        self.ip_mut().set_dst_addr(a);
    }

    /// Rewrites the quoted source port. The quoted L4 checksum is left alone,
    /// as IPVS does: the quote is usually truncated, so nobody can verify it.
    pub fn set_src_port(&mut self, p: u16) {
        let hl = self.header_len();
        self.buf.as_mut()[hl..hl + 2].copy_from_slice(&p.to_be_bytes());
    }

    /// Rewrites the quoted destination port (see [`set_src_port`](Self::set_src_port)).
    pub fn set_dst_port(&mut self, p: u16) {
        let hl = self.header_len();
        self.buf.as_mut()[hl + 2..hl + 4].copy_from_slice(&p.to_be_bytes());
    }
}

/// RFC 1812 section 4.3.2.7: whether an ICMP error may be sent about
/// `offending`. Not about an ICMP error, not about a fragment other than the
/// first, not to a source that is not a unicast host (zero, loopback,
/// broadcast, multicast, class E), and not about a packet to multicast or
/// broadcast (what we can see of it at L3).
pub fn may_send_error_about<B: AsRef<[u8]>>(offending: &Ipv4Packet<B>) -> bool {
    if offending.frag_offset_bytes() != 0 {
        return false;
    }
    let src = offending.src_addr();
    let dst = offending.dst_addr();
    if src.is_unspecified()
        || src.is_loopback()
        || src.is_broadcast()
        || src.is_multicast()
        || src.octets()[0] >= 240
        || dst.is_multicast()
        || dst.is_broadcast()
    {
        return false;
    }
    if offending.protocol() == IpProtocol::Icmp {
        match offending.payload().first() {
            Some(&t) if !IcmpType::from(t).is_error() => {}
            _ => return false,
        }
    }
    true
}

/// An ICMP error to originate: type, code and (for frag-needed) the MTU.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IcmpError {
    /// Message type (an error type: 3 or 11 normally).
    pub msg_type: IcmpType,
    /// Message code.
    pub code: u8,
    /// Next-hop MTU for type 3 code 4 (RFC 1191), 0 otherwise.
    pub next_hop_mtu: u16,
}

impl IcmpError {
    /// Destination unreachable, fragmentation needed and DF set, with the MTU
    /// the sender must drop to (for TUN: the link MTU minus the 20-byte outer header).
    pub fn frag_needed(next_hop_mtu: u16) -> Self {
        IcmpError {
            msg_type: IcmpType::DestUnreachable,
            code: unreach_code::FRAG_NEEDED,
            next_hop_mtu,
        }
    }

    /// Time exceeded in transit (TTL reached 0 while forwarding).
    pub fn ttl_exceeded() -> Self {
        IcmpError {
            msg_type: IcmpType::TimeExceeded,
            code: time_exceeded_code::TTL,
            next_hop_mtu: 0,
        }
    }

    /// Destination unreachable with the given code (see [`unreach_code`]).
    pub fn unreachable(code: u8) -> Self {
        IcmpError {
            msg_type: IcmpType::DestUnreachable,
            code,
            next_hop_mtu: 0,
        }
    }

    /// Writes the ICMP message (header + quote, checksum filled) at the start
    /// of `buf`, quoting the start of `offending` (a whole IPv4 packet): as much
    /// as `max_quote` and `buf` allow, never less than its header + 8 bytes (or
    /// the whole packet if shorter). Returns the message length.
    fn emit_message(
        &self,
        buf: &mut [u8],
        offending: &[u8],
        max_quote: usize,
    ) -> Result<usize, Malformed> {
        let off = Ipv4Packet::new_checked(offending)?;
        let whole = off.packet();
        let min_quote = whole.len().min(off.header_len() + 8);
        let room = buf.len().checked_sub(field::HEADER_LEN).ok_or(Malformed)?;
        let quote_len = whole.len().min(max_quote).min(room);
        if quote_len < min_quote {
            return Err(Malformed);
        }
        let len = field::HEADER_LEN + quote_len;
        let mut p = IcmpPacket::new_unchecked(&mut buf[..len]);
        p.set_msg_type(self.msg_type);
        p.set_code(self.code);
        p.set_rest_of_header(u32::from(self.next_hop_mtu));
        p.payload_mut().copy_from_slice(&whole[..quote_len]);
        p.fill_checksum();
        Ok(len)
    }

    /// Writes the ICMP message only (for a caller that builds the IPv4 header
    /// itself); quotes up to 548 bytes so the datagram stays ≤ 576 bytes.
    pub fn emit(&self, buf: &mut [u8], offending: &[u8]) -> Result<usize, Malformed> {
        let max_quote = MAX_ERROR_DATAGRAM_LEN - ipv4::MIN_HEADER_LEN - field::HEADER_LEN;
        self.emit_message(buf, offending, max_quote)
    }

    /// Writes a whole IPv4 datagram (20-byte header from `src` to the
    /// offending packet's source, protocol ICMP, the given TTL and ident, DF
    /// clear) carrying this error, at most 576 bytes. Returns its length.
    /// `Malformed` when `offending` is not a valid IPv4 packet or `buf` cannot
    /// hold the header, the ICMP header and the minimal quote.
    pub fn emit_ipv4(
        &self,
        buf: &mut [u8],
        src: Ipv4Addr,
        ttl: u8,
        ident: u16,
        offending: &[u8],
    ) -> Result<usize, Malformed> {
        let dst = Ipv4Packet::new_checked(offending)?.src_addr();
        let hl = ipv4::MIN_HEADER_LEN;
        let body = buf.get_mut(hl..).ok_or(Malformed)?;
        let icmp_len = self.emit(body, offending)?;
        let repr = Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            protocol: IpProtocol::Icmp,
            payload_len: icmp_len as u16,
            ttl,
            tos: 0,
            ident,
            dont_frag: false,
        };
        repr.emit(buf)?;
        Ok(hl + icmp_len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ICMP part of scapy `IP(198.51.100.7 > 192.0.2.10)/ICMP(type=8,
    /// id=0x4242, seq=7)/b"rvs-ping-payload"`.
    const ECHO_REQUEST: [u8; 24] = [
        0x08, 0x00, 0x94, 0x84, 0x42, 0x42, 0x00, 0x07, 0x72, 0x76, 0x73, 0x2d, 0x70, 0x69, 0x6e,
        0x67, 0x2d, 0x70, 0x61, 0x79, 0x6c, 0x6f, 0x61, 0x64,
    ];

    /// scapy `ICMP(type=0, id=0x4242, seq=7)/b"rvs-ping-payload"`.
    const ECHO_REPLY: [u8; 24] = [
        0x00, 0x00, 0x9c, 0x84, 0x42, 0x42, 0x00, 0x07, 0x72, 0x76, 0x73, 0x2d, 0x70, 0x69, 0x6e,
        0x67, 0x2d, 0x70, 0x61, 0x79, 0x6c, 0x6f, 0x61, 0x64,
    ];

    /// The offending packet: scapy `IP(src=198.51.100.7, dst=192.0.2.10,
    /// id=0x0101, flags=DF, ttl=64, tos=0x10)/TCP(sport=40000, dport=80,
    /// seq=0x11223344, flags=S, window=64240, options=[MSS 1460, SAckOK,
    /// Timestamp (1,0), NOP, WScale 7])`.
    const TCP_SYN: [u8; 60] = [
        0x45, 0x10, 0x00, 0x3c, 0x01, 0x01, 0x40, 0x00, 0x40, 0x06, 0x4d, 0x66, 0xc6, 0x33, 0x64,
        0x07, 0xc0, 0x00, 0x02, 0x0a, 0x9c, 0x40, 0x00, 0x50, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00,
        0x00, 0x00, 0xa0, 0x02, 0xfa, 0xf0, 0x7f, 0xd2, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04,
        0x02, 0x08, 0x0a, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    /// scapy `IP(src=192.0.2.254, dst=198.51.100.7, id=0x77, ttl=64)/
    /// ICMP(type=3, code=4, nexthopmtu=1400)/Raw(bytes(TCP_SYN)[:28])`: a
    /// frag-needed quoting only header + 8 bytes, as RFC 792 routers do.
    const FRAG_NEEDED_SHORT: [u8; 56] = [
        0x45, 0x00, 0x00, 0x38, 0x00, 0x77, 0x00, 0x00, 0x40, 0x01, 0x8d, 0x15, 0xc0, 0x00, 0x02,
        0xfe, 0xc6, 0x33, 0x64, 0x07, 0x03, 0x04, 0x16, 0x8d, 0x00, 0x00, 0x05, 0x78, 0x45, 0x10,
        0x00, 0x3c, 0x01, 0x01, 0x40, 0x00, 0x40, 0x06, 0x4d, 0x66, 0xc6, 0x33, 0x64, 0x07, 0xc0,
        0x00, 0x02, 0x0a, 0x9c, 0x40, 0x00, 0x50, 0x11, 0x22, 0x33, 0x44,
    ];

    #[test]
    fn deconstruct_echo() {
        let p = IcmpPacket::new_checked(&ECHO_REQUEST[..]).unwrap();
        assert_eq!(p.msg_type(), IcmpType::EchoRequest);
        assert_eq!(p.code(), 0);
        assert_eq!(p.checksum(), 0x9484);
        assert!(p.verify_checksum());
        assert_eq!(p.echo_ident(), 0x4242);
        assert_eq!(p.echo_seq(), 7);
        assert_eq!(p.payload(), b"rvs-ping-payload");
        assert_eq!(p.quoted().err(), Some(Malformed));
    }

    #[test]
    fn echo_request_to_reply_in_place() {
        let mut b = ECHO_REQUEST;
        let mut p = IcmpPacket::new_checked(&mut b[..]).unwrap();
        p.make_echo_reply().unwrap();
        assert!(p.verify_checksum());
        assert_eq!(b, ECHO_REPLY);
        let mut p = IcmpPacket::new_checked(&mut b[..]).unwrap();
        assert_eq!(p.make_echo_reply(), Err(Malformed));
    }

    /// An all-zero reply (ident 0, sequence 0, no data) carries 0xffff, the full
    /// sum, not the 0x0000 an incremental update gives (review finding 6).
    #[test]
    fn all_zero_echo_reply_checksum_is_0xffff() {
        let mut b = [8, 0, 0xf7, 0xff, 0, 0, 0, 0];
        let mut p = IcmpPacket::new_checked(&mut b[..]).unwrap();
        assert!(p.verify_checksum());
        p.make_echo_reply().unwrap();
        assert!(p.verify_checksum());
        assert_eq!(b, [0, 0, 0xff, 0xff, 0, 0, 0, 0]);
    }

    #[test]
    fn deconstruct_frag_needed_short_quote() {
        let ip = Ipv4Packet::new_checked(&FRAG_NEEDED_SHORT[..]).unwrap();
        assert!(ip.verify_checksum());
        let p = IcmpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(p.msg_type(), IcmpType::DestUnreachable);
        assert_eq!(p.code(), unreach_code::FRAG_NEEDED);
        assert_eq!(p.next_hop_mtu(), 1400);
        assert!(p.verify_checksum());
        let q = p.quoted().unwrap();
        assert_eq!(q.header_len(), 20);
        assert_eq!(q.total_len(), 60); // the original's, larger than the quote
        assert_eq!(q.protocol(), IpProtocol::Tcp);
        assert_eq!(q.src_addr(), Ipv4Addr::new(198, 51, 100, 7));
        assert_eq!(q.dst_addr(), Ipv4Addr::new(192, 0, 2, 10));
        assert_eq!(q.src_port(), 40000);
        assert_eq!(q.dst_port(), 80);
        assert_eq!(q.ident(), 0x0101);
        assert_eq!(q.ttl(), 64);
        assert!(q.verify_checksum());
        assert_eq!(q.l4_head(), &TCP_SYN[20..28]);
        assert_eq!(q.l4(), &TCP_SYN[20..28]);
    }

    #[test]
    fn truncated_quote_and_header() {
        assert_eq!(
            IcmpPacket::new_checked(&ECHO_REQUEST[..7]).err(),
            Some(Malformed)
        );
        let icmp = &FRAG_NEEDED_SHORT[20..];
        // 7 bytes of L4 is not enough to find the ports.
        let p = IcmpPacket::new_checked(&icmp[..icmp.len() - 1]).unwrap();
        assert_eq!(p.quoted().err(), Some(Malformed));
        // A quote whose IHL points past the bytes.
        let mut b = [0u8; 36];
        b.copy_from_slice(icmp);
        b[8] = 0x46;
        let p = IcmpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.quoted().err(), Some(Malformed));
        b[8] = 0x65;
        let p = IcmpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.quoted().err(), Some(Malformed));
    }

    #[test]
    fn nat_rewrite_of_quote() {
        let mut b = FRAG_NEEDED_SHORT;
        let mut ip = Ipv4Packet::new_checked(&mut b[..]).unwrap();
        let mut p = IcmpPacket::new_checked(ip.payload_mut()).unwrap();
        {
            let mut q = p.quoted_mut().unwrap();
            q.set_dst_addr(Ipv4Addr::new(203, 0, 113, 5));
            q.set_src_addr(Ipv4Addr::new(198, 51, 100, 8));
            q.set_dst_port(8080);
            q.set_src_port(40001);
            assert!(q.verify_checksum());
            assert_eq!(q.dst_port(), 8080);
            assert_eq!(q.src_port(), 40001);
        }
        assert!(!p.verify_checksum());
        p.fill_checksum();
        assert!(p.verify_checksum());
    }

    #[test]
    fn emit_frag_needed_matches_scapy() {
        let mut out = [0u8; 600];
        // Quote limited to header + 8 by the buffer: exactly the scapy capture.
        let n = IcmpError::frag_needed(1400)
            .emit_ipv4(
                &mut out[..56],
                Ipv4Addr::new(192, 0, 2, 254),
                64,
                0x77,
                &TCP_SYN,
            )
            .unwrap();
        assert_eq!(n, 56);
        assert_eq!(out[..56], FRAG_NEEDED_SHORT);
        // With room, the whole 60-byte packet is quoted.
        let n = IcmpError::frag_needed(1400)
            .emit_ipv4(&mut out, Ipv4Addr::new(192, 0, 2, 254), 64, 1, &TCP_SYN)
            .unwrap();
        assert_eq!(n, 20 + 8 + 60);
        let ip = Ipv4Packet::new_checked(&out[..n]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.dst_addr(), Ipv4Addr::new(198, 51, 100, 7));
        let p = IcmpPacket::new_checked(ip.payload()).unwrap();
        assert!(p.verify_checksum());
        assert_eq!(p.payload(), &TCP_SYN[..]);
        // Too small for header + 8 of quote.
        assert_eq!(
            IcmpError::ttl_exceeded().emit_ipv4(
                &mut out[..55],
                Ipv4Addr::LOCALHOST,
                64,
                1,
                &TCP_SYN
            ),
            Err(Malformed)
        );
        // Garbage as the offending packet.
        assert_eq!(
            IcmpError::unreachable(unreach_code::PORT).emit(&mut out, &[0x45, 0]),
            Err(Malformed)
        );
    }

    #[test]
    fn quote_capped_at_576() {
        let mut big = [0u8; 1500];
        big[..20].copy_from_slice(&TCP_SYN[..20]);
        let mut ip = Ipv4Packet::new_unchecked(&mut big[..]);
        ip.set_total_len(1500);
        let mut out = [0u8; 2000];
        let n = IcmpError::frag_needed(1280)
            .emit_ipv4(&mut out, Ipv4Addr::new(192, 0, 2, 254), 64, 1, &big)
            .unwrap();
        assert_eq!(n, MAX_ERROR_DATAGRAM_LEN);
    }

    #[test]
    fn rfc1812_error_policy() {
        let syn = Ipv4Packet::new_checked(&TCP_SYN[..]).unwrap();
        assert!(may_send_error_about(&syn));
        // About an ICMP error: never.
        let err = Ipv4Packet::new_checked(&FRAG_NEEDED_SHORT[..]).unwrap();
        assert!(!may_send_error_about(&err));
        // Non-first fragment: never.
        let mut b = TCP_SYN;
        b[7] = 1;
        assert!(!may_send_error_about(&Ipv4Packet::new_unchecked(&b[..])));
        // Broadcast source: never.
        let mut b = TCP_SYN;
        b[12..16].copy_from_slice(&[255; 4]);
        assert!(!may_send_error_about(&Ipv4Packet::new_unchecked(&b[..])));
    }
}
