//! IPv4 headers (RFC 791), options allowed.
//!
//! What [`Ipv4Packet::new_checked`] guarantees: version 4, IHL ≥ 5, the header
//! (IHL × 4 bytes) inside the buffer, and `header_len ≤ total_len ≤ buffer`.
//! A buffer *longer* than total_len is accepted because Ethernet pads frames
//! to 60 bytes; [`Ipv4Packet::payload`] therefore cuts at total_len, and L4
//! views built on it see exactly the L4 bytes the sender meant.
//!
//! The header checksum is not verified by `new_checked`: forwarding code
//! decides (and counts) that with [`Ipv4Packet::verify_checksum`], and NICs
//! that verify in hardware make the software check skippable.
//!
//! Setters keep the header checksum valid when it was valid: the address and
//! TTL setters update it incrementally (RFC 1624), the others too, so a caller
//! never has to remember which field is covered.

use std::net::Ipv4Addr;

use super::checksum;
use super::{be16, Malformed};

pub(super) mod field {
    use core::ops::Range;
    pub const VER_IHL: usize = 0;
    pub const DSCP_ECN: usize = 1;
    pub const LENGTH: Range<usize> = 2..4;
    pub const IDENT: Range<usize> = 4..6;
    pub const FLG_OFF: Range<usize> = 6..8;
    pub const TTL: usize = 8;
    pub const PROTOCOL: usize = 9;
    pub const CHECKSUM: Range<usize> = 10..12;
    pub const SRC_ADDR: Range<usize> = 12..16;
    pub const DST_ADDR: Range<usize> = 16..20;
    pub const MIN_HEADER_LEN: usize = 20;
}

/// Length of an IPv4 header without options, in bytes.
pub const MIN_HEADER_LEN: usize = field::MIN_HEADER_LEN;

/// Flag bits in the flags/fragment-offset word.
const FLAG_DF: u16 = 0x4000;
const FLAG_MF: u16 = 0x2000;
const FRAG_OFFSET_MASK: u16 = 0x1fff;

/// The IP protocol numbers rvs looks at; anything else is `Other` and
/// normally goes to the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum IpProtocol {
    /// 1: ICMP.
    Icmp,
    /// 4: IP-in-IP, the TUN method's encapsulation.
    IpIp,
    /// 6: TCP.
    Tcp,
    /// 17: UDP.
    Udp,
    /// Anything else (SCTP, GRE, VRRP...).
    Other(u8),
}

impl From<u8> for IpProtocol {
    fn from(v: u8) -> Self {
        match v {
            1 => IpProtocol::Icmp,
            4 => IpProtocol::IpIp,
            6 => IpProtocol::Tcp,
            17 => IpProtocol::Udp,
            o => IpProtocol::Other(o),
        }
    }
}

impl From<IpProtocol> for u8 {
    fn from(p: IpProtocol) -> u8 {
        match p {
            IpProtocol::Icmp => 1,
            IpProtocol::IpIp => 4,
            IpProtocol::Tcp => 6,
            IpProtocol::Udp => 17,
            IpProtocol::Other(o) => o,
        }
    }
}

/// A view of an IPv4 packet (header, options and payload).
#[derive(Debug, Clone)]
pub struct Ipv4Packet<B> {
    buf: B,
}

impl<B: AsRef<[u8]>> Ipv4Packet<B> {
    /// Wraps a buffer rvs built (or checked); accessors may panic if its length
    /// fields do not fit the buffer.
    pub fn new_unchecked(buf: B) -> Self {
        Ipv4Packet { buf }
    }

    /// Wraps untrusted bytes after the checks listed in the module doc.
    pub fn new_checked(buf: B) -> Result<Self, Malformed> {
        #[cfg(test)]
        verifications::bump_parse();
        let len = buf.as_ref().len();
        if len < field::MIN_HEADER_LEN {
            return Err(Malformed);
        }
        let p = Ipv4Packet { buf };
        let header_len = p.header_len();
        let total_len = usize::from(p.total_len());
        if p.version() != 4
            || header_len < field::MIN_HEADER_LEN
            || header_len > len
            || total_len < header_len
            || total_len > len
        {
            return Err(Malformed);
        }
        Ok(p)
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }

    /// IP version (4 once checked).
    pub fn version(&self) -> u8 {
        self.buf.as_ref()[field::VER_IHL] >> 4
    }

    /// Header length in bytes (IHL × 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.buf.as_ref()[field::VER_IHL] & 0x0f) * 4
    }

    /// The DSCP (upper 6 bits of the old TOS byte).
    pub fn dscp(&self) -> u8 {
        self.buf.as_ref()[field::DSCP_ECN] >> 2
    }

    /// The ECN bits (lower 2 bits of the old TOS byte).
    pub fn ecn(&self) -> u8 {
        self.buf.as_ref()[field::DSCP_ECN] & 0x03
    }

    /// The whole TOS byte (DSCP and ECN), which TUN copies to the outer header.
    pub fn tos(&self) -> u8 {
        self.buf.as_ref()[field::DSCP_ECN]
    }

    /// Total length in bytes (header + payload), from the header.
    pub fn total_len(&self) -> u16 {
        be16(&self.buf.as_ref()[field::LENGTH])
    }

    /// Identification (for fragment reassembly).
    pub fn ident(&self) -> u16 {
        be16(&self.buf.as_ref()[field::IDENT])
    }

    fn flags_offset(&self) -> u16 {
        be16(&self.buf.as_ref()[field::FLG_OFF])
    }

    /// Don't Fragment: a packet too big for the next hop gets ICMP
    /// frag-needed instead of being fragmented (path MTU discovery).
    pub fn dont_frag(&self) -> bool {
        self.flags_offset() & FLAG_DF != 0
    }

    /// More Fragments.
    pub fn more_frags(&self) -> bool {
        self.flags_offset() & FLAG_MF != 0
    }

    /// Fragment offset in bytes (the field counts 8-byte units).
    pub fn frag_offset_bytes(&self) -> u16 {
        (self.flags_offset() & FRAG_OFFSET_MASK) << 3
    }

    /// True for any piece of a fragmented datagram (first included): only the
    /// first carries ports, so the load balancer cannot classify the others.
    pub fn is_fragment(&self) -> bool {
        self.flags_offset() & (FLAG_MF | FRAG_OFFSET_MASK) != 0
    }

    /// Time to live.
    pub fn ttl(&self) -> u8 {
        self.buf.as_ref()[field::TTL]
    }

    /// The payload's protocol.
    pub fn protocol(&self) -> IpProtocol {
        IpProtocol::from(self.buf.as_ref()[field::PROTOCOL])
    }

    /// The header checksum as written.
    pub fn checksum(&self) -> u16 {
        be16(&self.buf.as_ref()[field::CHECKSUM])
    }

    /// (options start, header end, packet end), clamped to the buffer so that
    /// slicing never panics even after a setter (e.g. `set_total_len`) made
    /// the fields disagree with the buffer; for a checked, unmodified packet
    /// these are exactly (20, IHL × 4, total_len).
    fn spans(&self) -> (usize, usize, usize) {
        let len = self.buf.as_ref().len();
        let hl = self.header_len().min(len);
        let tl = usize::from(self.total_len()).min(len).max(hl);
        (field::MIN_HEADER_LEN.min(hl), hl, tl)
    }

    /// True when the header (options included) sums to 0xffff.
    pub fn verify_checksum(&self) -> bool {
        #[cfg(test)]
        verifications::bump();
        let (_, hl, _) = self.spans();
        checksum::data(&self.buf.as_ref()[..hl]) == 0xffff
    }

    /// Source address.
    pub fn src_addr(&self) -> Ipv4Addr {
        let b = &self.buf.as_ref()[field::SRC_ADDR];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Destination address.
    pub fn dst_addr(&self) -> Ipv4Addr {
        let b = &self.buf.as_ref()[field::DST_ADDR];
        Ipv4Addr::new(b[0], b[1], b[2], b[3])
    }

    /// Options bytes (between the fixed header and the payload), untouched by rvs.
    pub fn options(&self) -> &[u8] {
        let (os, hl, _) = self.spans();
        &self.buf.as_ref()[os..hl]
    }

    /// The header bytes (options included).
    pub fn header(&self) -> &[u8] {
        let (_, hl, _) = self.spans();
        &self.buf.as_ref()[..hl]
    }

    /// The payload, cut at total_len (Ethernet padding excluded).
    pub fn payload(&self) -> &[u8] {
        let (_, hl, tl) = self.spans();
        &self.buf.as_ref()[hl..tl]
    }

    /// The whole packet, cut at total_len.
    pub fn packet(&self) -> &[u8] {
        let (_, _, tl) = self.spans();
        &self.buf.as_ref()[..tl]
    }

    /// The pseudo-header sum for this packet's L4 payload (RFC 9293 3.1),
    /// protocol and length taken from this header.
    pub fn pseudo_header_sum(&self) -> u16 {
        let l4_len = self.total_len().saturating_sub(self.header_len() as u16);
        checksum::pseudo_header(
            self.src_addr(),
            self.dst_addr(),
            self.buf.as_ref()[field::PROTOCOL],
            l4_len,
        )
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> Ipv4Packet<B> {
    fn write16_keep_csum(&mut self, range: core::ops::Range<usize>, new: u16) {
        let b = self.buf.as_mut();
        let old = be16(&b[range.clone()]);
        b[range].copy_from_slice(&new.to_be_bytes());
        let c = checksum::update(be16(&b[field::CHECKSUM]), old, new);
        b[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Sets the source address, updating the header checksum incrementally.
    /// TCP/UDP checksums cover it through the pseudo header: adjust those too.
    pub fn set_src_addr(&mut self, a: Ipv4Addr) {
        let old = self.src_addr();
        let b = self.buf.as_mut();
        b[field::SRC_ADDR].copy_from_slice(&a.octets());
        let c = checksum::update_addr(be16(&b[field::CHECKSUM]), old, a);
        b[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Sets the destination address, updating the header checksum
    /// incrementally (the NAT rewrite of a VIP to a real server).
    pub fn set_dst_addr(&mut self, a: Ipv4Addr) {
        let old = self.dst_addr();
        let b = self.buf.as_mut();
        b[field::DST_ADDR].copy_from_slice(&a.octets());
        let c = checksum::update_addr(be16(&b[field::CHECKSUM]), old, a);
        b[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Sets the TTL, updating the checksum incrementally.
    pub fn set_ttl(&mut self, ttl: u8) {
        let b = self.buf.as_ref();
        let word = u16::from_be_bytes([ttl, b[field::PROTOCOL]]);
        self.write16_keep_csum(field::TTL..field::TTL + 2, word);
    }

    /// Forwarding's TTL decrement (RFC 1812 section 5.3.1), updating the
    /// checksum incrementally; returns the new TTL. A TTL already 0 stays 0:
    /// callers check `ttl() <= 1` first and answer with ICMP time-exceeded.
    pub fn decrement_ttl(&mut self) -> u8 {
        let ttl = self.ttl().saturating_sub(1);
        self.set_ttl(ttl);
        ttl
    }

    /// Sets the protocol, updating the checksum incrementally.
    pub fn set_protocol(&mut self, p: IpProtocol) {
        let b = self.buf.as_ref();
        let word = u16::from_be_bytes([b[field::TTL], u8::from(p)]);
        self.write16_keep_csum(field::TTL..field::TTL + 2, word);
    }

    /// Sets the TOS byte (DSCP and ECN), updating the checksum incrementally.
    pub fn set_tos(&mut self, tos: u8) {
        let b = self.buf.as_ref();
        let word = u16::from_be_bytes([b[field::VER_IHL], tos]);
        self.write16_keep_csum(field::VER_IHL..field::VER_IHL + 2, word);
    }

    /// Sets the total length, updating the header checksum incrementally.
    /// Views built before with `new_checked` relied on the old value: build
    /// them again.
    pub fn set_total_len(&mut self, len: u16) {
        self.write16_keep_csum(field::LENGTH, len);
    }

    /// Sets the identification, updating the checksum incrementally.
    pub fn set_ident(&mut self, ident: u16) {
        self.write16_keep_csum(field::IDENT, ident);
    }

    /// Sets DF, keeping MF and the offset; updates the checksum incrementally.
    pub fn set_dont_frag(&mut self, df: bool) {
        let w = self.flags_offset() & !FLAG_DF | if df { FLAG_DF } else { 0 };
        self.write16_keep_csum(field::FLG_OFF, w);
    }

    /// Writes the checksum field as given.
    pub fn set_checksum(&mut self, c: u16) {
        self.buf.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Computes and writes the header checksum over the whole header.
    pub fn fill_checksum(&mut self) {
        self.set_checksum(0);
        let (_, hl, _) = self.spans();
        let c = checksum::finish(checksum::data(&self.buf.as_ref()[..hl]));
        self.set_checksum(c);
    }

    /// The payload (cut at total_len), for in-place L4 rewrites.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (_, hl, tl) = self.spans();
        &mut self.buf.as_mut()[hl..tl]
    }
}

/// The fields of an option-less IPv4 header, for headers rvs builds: the TUN
/// outer header and the header of ICMP errors it originates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Repr {
    /// Source address.
    pub src_addr: Ipv4Addr,
    /// Destination address.
    pub dst_addr: Ipv4Addr,
    /// Payload protocol.
    pub protocol: IpProtocol,
    /// Payload length in bytes (total length minus 20).
    pub payload_len: u16,
    /// Time to live.
    pub ttl: u8,
    /// TOS byte (DSCP and ECN).
    pub tos: u8,
    /// Identification.
    pub ident: u16,
    /// Don't Fragment.
    pub dont_frag: bool,
}

impl Ipv4Repr {
    /// Reads the fields of a packet (options, MF and offset are not kept).
    pub fn parse<B: AsRef<[u8]>>(p: &Ipv4Packet<B>) -> Self {
        Ipv4Repr {
            src_addr: p.src_addr(),
            dst_addr: p.dst_addr(),
            protocol: p.protocol(),
            payload_len: p.total_len().saturating_sub(p.header_len() as u16),
            ttl: p.ttl(),
            tos: p.tos(),
            ident: p.ident(),
            dont_frag: p.dont_frag(),
        }
    }

    /// Writes a 20-byte header with a valid checksum at the start of `buf` and
    /// returns 20. `Malformed` when `buf` is shorter than 20 bytes or
    /// `payload_len` does not fit the 16-bit total length.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Malformed> {
        if buf.len() < field::MIN_HEADER_LEN {
            return Err(Malformed);
        }
        let total = self
            .payload_len
            .checked_add(field::MIN_HEADER_LEN as u16)
            .ok_or(Malformed)?;
        let b = &mut buf[..field::MIN_HEADER_LEN];
        b[field::VER_IHL] = 0x45;
        b[field::DSCP_ECN] = self.tos;
        b[field::LENGTH].copy_from_slice(&total.to_be_bytes());
        b[field::IDENT].copy_from_slice(&self.ident.to_be_bytes());
        let flg = if self.dont_frag { FLAG_DF } else { 0 };
        b[field::FLG_OFF].copy_from_slice(&flg.to_be_bytes());
        b[field::TTL] = self.ttl;
        b[field::PROTOCOL] = u8::from(self.protocol);
        b[field::SRC_ADDR].copy_from_slice(&self.src_addr.octets());
        b[field::DST_ADDR].copy_from_slice(&self.dst_addr.octets());
        Ipv4Packet::new_unchecked(b).fill_checksum();
        Ok(field::MIN_HEADER_LEN)
    }
}

/// Unit-test instrumentation: how many IPv4 header checksums this thread verified
/// and how many headers it parsed (`new_checked`), so tests can prove a frame's header
/// is parsed and checked once on its way through the worker (issue 15). Test builds
/// only: release, bench and fuzz builds carry no counter.
#[cfg(test)]
pub(crate) mod verifications {
    use std::cell::Cell;

    thread_local! {
        static COUNT: Cell<u64> = const { Cell::new(0) };
        static PARSES: Cell<u64> = const { Cell::new(0) };
    }

    pub(super) fn bump() {
        COUNT.with(|c| c.set(c.get() + 1));
    }

    pub(super) fn bump_parse() {
        PARSES.with(|c| c.set(c.get() + 1));
    }

    /// Checksum verifications on this thread so far.
    pub(crate) fn count() -> u64 {
        COUNT.with(Cell::get)
    }

    /// `Ipv4Packet::new_checked` calls on this thread so far.
    pub(crate) fn parses() -> u64 {
        PARSES.with(Cell::get)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// scapy `IP(src=198.51.100.7, dst=192.0.2.10, id=0x1234, flags=DF,
    /// ttl=64)/ICMP(type=8, id=0x4242, seq=7)/b"rvs-ping-payload"`, padded
    /// with 4 zero bytes the way an Ethernet driver would.
    const ECHO: [u8; 48] = [
        0x45, 0x00, 0x00, 0x2c, 0x12, 0x34, 0x40, 0x00, 0x40, 0x01, 0x3c, 0x58, 0xc6, 0x33, 0x64,
        0x07, 0xc0, 0x00, 0x02, 0x0a, 0x08, 0x00, 0x94, 0x84, 0x42, 0x42, 0x00, 0x07, 0x72, 0x76,
        0x73, 0x2d, 0x70, 0x69, 0x6e, 0x67, 0x2d, 0x70, 0x61, 0x79, 0x6c, 0x6f, 0x61, 0x64, 0, 0,
        0, 0,
    ];

    /// scapy `IP(src=198.51.100.7, dst=192.0.2.10, id=3, ttl=5,
    /// options=[IPOption_RR(routers=["0.0.0.0"])])/UDP(sport=1, dport=2)`:
    /// IHL 7 (8 bytes of record-route option).
    const WITH_OPTIONS: [u8; 36] = [
        0x47, 0x00, 0x00, 0x24, 0x00, 0x03, 0x00, 0x00, 0x05, 0x11, 0xbc, 0x7a, 0xc6, 0x33, 0x64,
        0x07, 0xc0, 0x00, 0x02, 0x0a, 0x07, 0x07, 0x04, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x01,
        0x00, 0x02, 0x00, 0x08, 0x13, 0x96,
    ];

    #[test]
    fn deconstruct() {
        let p = Ipv4Packet::new_checked(&ECHO[..]).unwrap();
        assert_eq!(p.version(), 4);
        assert_eq!(p.header_len(), 20);
        assert_eq!(p.dscp(), 0);
        assert_eq!(p.ecn(), 0);
        assert_eq!(p.total_len(), 44);
        assert_eq!(p.ident(), 0x1234);
        assert!(p.dont_frag());
        assert!(!p.more_frags());
        assert_eq!(p.frag_offset_bytes(), 0);
        assert!(!p.is_fragment());
        assert_eq!(p.ttl(), 64);
        assert_eq!(p.protocol(), IpProtocol::Icmp);
        assert_eq!(p.checksum(), 0x3c58);
        assert!(p.verify_checksum());
        assert_eq!(p.src_addr(), Ipv4Addr::new(198, 51, 100, 7));
        assert_eq!(p.dst_addr(), Ipv4Addr::new(192, 0, 2, 10));
        assert!(p.options().is_empty());
        // The padding is not payload.
        assert_eq!(p.payload(), &ECHO[20..44]);
        assert_eq!(p.packet().len(), 44);
    }

    #[test]
    fn deconstruct_options() {
        let p = Ipv4Packet::new_checked(&WITH_OPTIONS[..]).unwrap();
        assert_eq!(p.header_len(), 28);
        assert_eq!(p.options(), &WITH_OPTIONS[20..28]);
        assert_eq!(p.protocol(), IpProtocol::Udp);
        assert!(p.verify_checksum());
        assert_eq!(p.payload(), &WITH_OPTIONS[28..]);
        assert_eq!(
            p.pseudo_header_sum(),
            checksum::pseudo_header(p.src_addr(), p.dst_addr(), 17, 8)
        );
    }

    #[test]
    fn truncated_and_inconsistent() {
        assert_eq!(Ipv4Packet::new_checked(&ECHO[..19]).err(), Some(Malformed));
        // total_len 44 > buffer 43
        assert_eq!(Ipv4Packet::new_checked(&ECHO[..43]).err(), Some(Malformed));
        assert!(Ipv4Packet::new_checked(&ECHO[..44]).is_ok());
        // Options cut off: IHL 7 but only 27 bytes.
        assert_eq!(
            Ipv4Packet::new_checked(&WITH_OPTIONS[..27]).err(),
            Some(Malformed)
        );
        let bad = |f: &dyn Fn(&mut [u8; 48])| {
            let mut b = ECHO;
            f(&mut b);
            Ipv4Packet::new_checked(&b[..]).err()
        };
        assert_eq!(bad(&|b| b[0] = 0x44), Some(Malformed)); // IHL 4
        assert_eq!(bad(&|b| b[0] = 0x65), Some(Malformed)); // version 6
        assert_eq!(bad(&|b| b[0] = 0x4f), Some(Malformed)); // IHL 15 = 60 > 48
        assert_eq!(bad(&|b| b[3] = 19), Some(Malformed)); // total < header
        assert_eq!(bad(&|b| b[2] = 0xff), Some(Malformed)); // total > buffer
                                                            // An unknown protocol is not malformed.
        let mut b = ECHO;
        b[9] = 132;
        assert_eq!(
            Ipv4Packet::new_checked(&b[..]).unwrap().protocol(),
            IpProtocol::Other(132)
        );
    }

    #[test]
    fn fragments() {
        let mut b = ECHO;
        b[6] = 0x20; // MF, offset 0: first fragment
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert!(p.more_frags() && !p.dont_frag() && p.is_fragment());
        b[6] = 0x00;
        b[7] = 0xb9; // offset 185*8 = 1480, last fragment
        let p = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert!(!p.more_frags() && p.is_fragment());
        assert_eq!(p.frag_offset_bytes(), 1480);
    }

    #[test]
    fn rewrites_keep_checksum() {
        let mut b = ECHO;
        let mut p = Ipv4Packet::new_checked(&mut b[..]).unwrap();
        assert_eq!(p.decrement_ttl(), 63);
        assert!(p.verify_checksum());
        p.set_dst_addr(Ipv4Addr::new(203, 0, 113, 5));
        p.set_src_addr(Ipv4Addr::new(192, 0, 2, 1));
        p.set_ident(0xbeef);
        p.set_dont_frag(false);
        p.set_tos(0xb8);
        p.set_protocol(IpProtocol::Udp);
        p.set_total_len(40);
        assert!(p.verify_checksum());
        let c = p.checksum();
        p.fill_checksum();
        assert_eq!(p.checksum(), c);
        assert_eq!(p.dscp(), 46);
        assert_eq!(p.total_len(), 40);
        p.payload_mut()[0] = 0;
        assert_eq!(b[20], 0);
        // TTL 0 saturates instead of wrapping to 255.
        let mut p = Ipv4Packet::new_unchecked(&mut b[..]);
        p.set_ttl(0);
        assert_eq!(p.decrement_ttl(), 0);
        assert!(p.verify_checksum());
    }

    #[test]
    fn construct_and_emit() {
        let repr = Ipv4Repr::parse(&Ipv4Packet::new_checked(&ECHO[..]).unwrap());
        assert_eq!(repr.payload_len, 24);
        let mut out = [0u8; 20];
        assert_eq!(repr.emit(&mut out), Ok(20));
        assert_eq!(out[..], ECHO[..20]);
        assert_eq!(repr.emit(&mut [0u8; 19]), Err(Malformed));
        let too_big = Ipv4Repr {
            payload_len: 65516,
            ..repr
        };
        assert_eq!(too_big.emit(&mut out), Err(Malformed));
    }
}
