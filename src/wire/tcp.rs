//! TCP segment headers (RFC 9293), as far as a layer-4 director needs them.
//!
//! rvs never terminates TCP: it reads ports and flags (for the LVS state
//! machine: SYN, FIN, RST, ACK), and in NAT mode rewrites a port and an
//! address. Options and payload are left untouched; the checksum is kept valid
//! by RFC 1624 incremental update, including the IPv4 pseudo-header part when
//! an address changes ([`TcpPacket::update_checksum_for_addr`]).
//!
//! The view covers the segment only (the IPv4 payload cut at total length),
//! because the checksum covers exactly that.

use std::net::Ipv4Addr;

use super::checksum;
use super::{be16, be32, Malformed};

mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const SEQ_NUM: Range<usize> = 4..8;
    pub const ACK_NUM: Range<usize> = 8..12;
    /// Data offset (4 bits), reserved (4 bits), flags (8 bits).
    pub const OFF_FLAGS: Range<usize> = 12..14;
    pub const WINDOW: Range<usize> = 14..16;
    pub const CHECKSUM: Range<usize> = 16..18;
    pub const URGENT: Range<usize> = 18..20;
    pub const MIN_HEADER_LEN: usize = 20;
}

/// Length of a TCP header without options, in bytes.
pub const MIN_HEADER_LEN: usize = field::MIN_HEADER_LEN;

/// The eight TCP flag bits (RFC 9293 and RFC 3168 for ECE/CWR), as a set.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TcpFlags(pub u8);

impl TcpFlags {
    /// No more data from sender.
    pub const FIN: TcpFlags = TcpFlags(0x01);
    /// No flag at all (UDP packets passed to the connection table, or a bare segment).
    pub const NONE: TcpFlags = TcpFlags(0);
    /// Synchronize sequence numbers: a new connection.
    pub const SYN: TcpFlags = TcpFlags(0x02);
    /// Reset the connection.
    pub const RST: TcpFlags = TcpFlags(0x04);
    /// Push.
    pub const PSH: TcpFlags = TcpFlags(0x08);
    /// The acknowledgment field is significant.
    pub const ACK: TcpFlags = TcpFlags(0x10);
    /// The urgent pointer is significant.
    pub const URG: TcpFlags = TcpFlags(0x20);
    /// ECN echo (RFC 3168).
    pub const ECE: TcpFlags = TcpFlags(0x40);
    /// Congestion window reduced (RFC 3168).
    pub const CWR: TcpFlags = TcpFlags(0x80);

    /// True when every bit of `other` is set here.
    pub fn contains(self, other: TcpFlags) -> bool {
        self.0 & other.0 == other.0
    }
}

impl core::ops::BitOr for TcpFlags {
    type Output = TcpFlags;
    fn bitor(self, rhs: TcpFlags) -> TcpFlags {
        TcpFlags(self.0 | rhs.0)
    }
}

/// A view of a TCP segment.
#[derive(Debug, Clone)]
pub struct TcpPacket<B> {
    buf: B,
}

impl<B: AsRef<[u8]>> TcpPacket<B> {
    /// Wraps a buffer rvs built or checked.
    pub fn new_unchecked(buf: B) -> Self {
        TcpPacket { buf }
    }

    /// Wraps untrusted bytes: 20 bytes at least, data offset ≥ 5 and the
    /// header (options included) inside the buffer.
    pub fn new_checked(buf: B) -> Result<Self, Malformed> {
        let len = buf.as_ref().len();
        if len < field::MIN_HEADER_LEN {
            return Err(Malformed);
        }
        let p = TcpPacket { buf };
        let hl = p.header_len();
        if hl < field::MIN_HEADER_LEN || hl > len {
            return Err(Malformed);
        }
        Ok(p)
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }

    /// Source port.
    pub fn src_port(&self) -> u16 {
        be16(&self.buf.as_ref()[field::SRC_PORT])
    }

    /// Destination port.
    pub fn dst_port(&self) -> u16 {
        be16(&self.buf.as_ref()[field::DST_PORT])
    }

    /// Sequence number.
    pub fn seq_number(&self) -> u32 {
        be32(&self.buf.as_ref()[field::SEQ_NUM])
    }

    /// Acknowledgment number.
    pub fn ack_number(&self) -> u32 {
        be32(&self.buf.as_ref()[field::ACK_NUM])
    }

    /// Header length in bytes (data offset × 4), options included.
    pub fn header_len(&self) -> usize {
        usize::from(self.buf.as_ref()[field::OFF_FLAGS.start] >> 4) * 4
    }

    /// All eight flag bits.
    pub fn flags(&self) -> TcpFlags {
        TcpFlags(self.buf.as_ref()[field::OFF_FLAGS.start + 1])
    }

    /// FIN flag.
    pub fn fin(&self) -> bool {
        self.flags().contains(TcpFlags::FIN)
    }

    /// SYN flag.
    pub fn syn(&self) -> bool {
        self.flags().contains(TcpFlags::SYN)
    }

    /// RST flag.
    pub fn rst(&self) -> bool {
        self.flags().contains(TcpFlags::RST)
    }

    /// PSH flag.
    pub fn psh(&self) -> bool {
        self.flags().contains(TcpFlags::PSH)
    }

    /// ACK flag.
    pub fn ack(&self) -> bool {
        self.flags().contains(TcpFlags::ACK)
    }

    /// URG flag.
    pub fn urg(&self) -> bool {
        self.flags().contains(TcpFlags::URG)
    }

    /// ECE flag.
    pub fn ece(&self) -> bool {
        self.flags().contains(TcpFlags::ECE)
    }

    /// CWR flag.
    pub fn cwr(&self) -> bool {
        self.flags().contains(TcpFlags::CWR)
    }

    /// Receive window.
    pub fn window(&self) -> u16 {
        be16(&self.buf.as_ref()[field::WINDOW])
    }

    /// Checksum as written.
    pub fn checksum(&self) -> u16 {
        be16(&self.buf.as_ref()[field::CHECKSUM])
    }

    /// Urgent pointer.
    pub fn urgent(&self) -> u16 {
        be16(&self.buf.as_ref()[field::URGENT])
    }

    /// (options start, header end) clamped to the buffer, so slicing never
    /// panics even after `set_header_len` made the field disagree with it;
    /// for a checked, unmodified segment this is (20, data offset × 4).
    fn spans(&self) -> (usize, usize) {
        let hl = self.header_len().min(self.buf.as_ref().len());
        (field::MIN_HEADER_LEN.min(hl), hl)
    }

    /// Option bytes, untouched by rvs.
    pub fn options(&self) -> &[u8] {
        let (os, hl) = self.spans();
        &self.buf.as_ref()[os..hl]
    }

    /// Segment data after the header.
    pub fn payload(&self) -> &[u8] {
        let (_, hl) = self.spans();
        &self.buf.as_ref()[hl..]
    }

    /// True when the segment and the IPv4 pseudo header sum to 0xffff.
    /// A segment longer than 65535 bytes cannot come from IPv4 and fails.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        let b = self.buf.as_ref();
        let Ok(len) = u16::try_from(b.len()) else {
            return false;
        };
        let ph = checksum::pseudo_header(src, dst, super::ipv4::IpProtocol::Tcp.into(), len);
        checksum::combine(&[ph, checksum::data(b)]) == 0xffff
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> TcpPacket<B> {
    fn set16_keep_csum(&mut self, range: core::ops::Range<usize>, new: u16) {
        let b = self.buf.as_mut();
        let old = be16(&b[range.clone()]);
        b[range].copy_from_slice(&new.to_be_bytes());
        let c = checksum::update(be16(&b[field::CHECKSUM]), old, new);
        b[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    fn set32_keep_csum(&mut self, range: core::ops::Range<usize>, new: u32) {
        let b = self.buf.as_mut();
        let old = be32(&b[range.clone()]);
        b[range].copy_from_slice(&new.to_be_bytes());
        let c = checksum::update_u32(be16(&b[field::CHECKSUM]), old, new);
        b[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Sets the source port, updating the checksum incrementally (NAT reply
    /// direction: RIP:rport → VIP:vport).
    pub fn set_src_port(&mut self, port: u16) {
        self.set16_keep_csum(field::SRC_PORT, port);
    }

    /// Sets the destination port, updating the checksum incrementally (NAT
    /// request direction: VIP:vport → RIP:rport).
    pub fn set_dst_port(&mut self, port: u16) {
        self.set16_keep_csum(field::DST_PORT, port);
    }

    /// Sets the sequence number, updating the checksum incrementally.
    pub fn set_seq_number(&mut self, v: u32) {
        self.set32_keep_csum(field::SEQ_NUM, v);
    }

    /// Sets the acknowledgment number, updating the checksum incrementally.
    pub fn set_ack_number(&mut self, v: u32) {
        self.set32_keep_csum(field::ACK_NUM, v);
    }

    /// Sets the flag bits (data offset kept), updating the checksum incrementally.
    pub fn set_flags(&mut self, flags: TcpFlags) {
        let off = self.buf.as_ref()[field::OFF_FLAGS.start];
        self.set16_keep_csum(field::OFF_FLAGS, u16::from_be_bytes([off, flags.0]));
    }

    /// Sets the header length in bytes (a multiple of 4, 20..=60; the caller
    /// builds the header, so views checked before must be checked again).
    pub fn set_header_len(&mut self, len_bytes: u8) {
        let fl = self.flags().0;
        self.set16_keep_csum(
            field::OFF_FLAGS,
            u16::from_be_bytes([((len_bytes / 4) & 0x0f) << 4, fl]),
        );
    }

    /// Sets the window, updating the checksum incrementally.
    pub fn set_window(&mut self, v: u16) {
        self.set16_keep_csum(field::WINDOW, v);
    }

    /// Sets the urgent pointer, updating the checksum incrementally.
    pub fn set_urgent(&mut self, v: u16) {
        self.set16_keep_csum(field::URGENT, v);
    }

    /// Writes the checksum field as given.
    pub fn set_checksum(&mut self, c: u16) {
        self.buf.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Computes and writes the checksum over the pseudo header and the whole
    /// segment. A segment longer than 65535 bytes is left as it is.
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        let Ok(len) = u16::try_from(self.buf.as_ref().len()) else {
            return;
        };
        self.set_checksum(0);
        let ph = checksum::pseudo_header(src, dst, super::ipv4::IpProtocol::Tcp.into(), len);
        let c = checksum::finish(checksum::combine(&[ph, checksum::data(self.buf.as_ref())]));
        self.set_checksum(c);
    }

    /// Adjusts the checksum for a change of an IPv4 address in the pseudo
    /// header: call it with the old and new address whenever the IPv4 source
    /// or destination is rewritten (NAT), since the TCP checksum covers them.
    pub fn update_checksum_for_addr(&mut self, old: Ipv4Addr, new: Ipv4Addr) {
        let c = checksum::update_addr(self.checksum(), old, new);
        self.set_checksum(c);
    }

    /// Segment data, writable.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (_, hl) = self.spans();
        &mut self.buf.as_mut()[hl..]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
    const DST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);

    /// TCP part of scapy `IP(src=198.51.100.7, dst=192.0.2.10)/TCP(
    /// sport=40000, dport=80, seq=0x11223344, flags=S, window=64240,
    /// options=[MSS 1460, SAckOK, Timestamp (1,0), NOP, WScale 7])`.
    const SYN: [u8; 40] = [
        0x9c, 0x40, 0x00, 0x50, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0x7f, 0xd2, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    /// scapy: the same segment from 198.51.100.7:40000 to 203.0.113.5:8080,
    /// i.e. after the NAT rewrite VIP 192.0.2.10:80 → RIP 203.0.113.5:8080.
    const SYN_NATED: [u8; 40] = [
        0x9c, 0x40, 0x1f, 0x90, 0x11, 0x22, 0x33, 0x44, 0x00, 0x00, 0x00, 0x00, 0xa0, 0x02, 0xfa,
        0xf0, 0xe6, 0x96, 0x00, 0x00, 0x02, 0x04, 0x05, 0xb4, 0x04, 0x02, 0x08, 0x0a, 0x00, 0x00,
        0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x01, 0x03, 0x03, 0x07,
    ];

    /// scapy `TCP(sport=80, dport=40000, seq=1, ack=2, flags="FA")/b"bye"`
    /// from 192.0.2.10 to 198.51.100.7.
    const FIN_ACK_DATA: [u8; 23] = [
        0x00, 0x50, 0x9c, 0x40, 0x00, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x02, 0x50, 0x11, 0x20,
        0x00, 0x3f, 0x7e, 0x00, 0x00, 0x62, 0x79, 0x65,
    ];

    #[test]
    fn deconstruct() {
        let p = TcpPacket::new_checked(&SYN[..]).unwrap();
        assert_eq!(p.src_port(), 40000);
        assert_eq!(p.dst_port(), 80);
        assert_eq!(p.seq_number(), 0x11223344);
        assert_eq!(p.ack_number(), 0);
        assert_eq!(p.header_len(), 40);
        assert!(p.syn() && !p.ack() && !p.fin() && !p.rst());
        assert!(!p.psh() && !p.urg() && !p.ece() && !p.cwr());
        assert_eq!(p.flags(), TcpFlags::SYN);
        assert_eq!(p.window(), 64240);
        assert_eq!(p.checksum(), 0x7fd2);
        assert_eq!(p.urgent(), 0);
        assert_eq!(p.options().len(), 20);
        assert!(p.payload().is_empty());
        assert!(p.verify_checksum(SRC, DST));
        assert!(!p.verify_checksum(DST, SRC.to_bits().wrapping_add(1).into()));
    }

    #[test]
    fn fin_ack_with_payload() {
        let p = TcpPacket::new_checked(&FIN_ACK_DATA[..]).unwrap();
        assert!(p.verify_checksum(DST, SRC));
        assert_eq!(p.flags(), TcpFlags::FIN | TcpFlags::ACK);
        assert_eq!(p.payload(), b"bye");
    }

    #[test]
    fn nat_rewrite_matches_scapy() {
        let mut b = SYN;
        let mut p = TcpPacket::new_checked(&mut b[..]).unwrap();
        let rip = Ipv4Addr::new(203, 0, 113, 5);
        p.set_dst_port(8080);
        p.update_checksum_for_addr(DST, rip);
        assert!(p.verify_checksum(SRC, rip));
        assert_eq!(b, SYN_NATED);
    }

    #[test]
    fn setters_keep_checksum() {
        let mut b = FIN_ACK_DATA;
        let mut p = TcpPacket::new_checked(&mut b[..]).unwrap();
        p.set_src_port(1);
        p.set_seq_number(0xdeadbeef);
        p.set_ack_number(0xfeedface);
        p.set_flags(TcpFlags::RST | TcpFlags::ECE | TcpFlags::CWR | TcpFlags::URG);
        p.set_window(1);
        p.set_urgent(9);
        assert!(p.verify_checksum(DST, SRC));
        assert!(p.rst() && p.ece() && p.cwr() && p.urg());
        assert_eq!(p.header_len(), 20);
        let c = p.checksum();
        p.fill_checksum(DST, SRC);
        assert_eq!(c, p.checksum());
        p.payload_mut()[0] = b'B';
        assert!(!p.verify_checksum(DST, SRC));
    }

    #[test]
    fn construct() {
        let mut b = [0u8; 23];
        let mut p = TcpPacket::new_unchecked(&mut b[..]);
        p.set_src_port(80);
        p.set_dst_port(40000);
        p.set_seq_number(1);
        p.set_ack_number(2);
        p.set_header_len(20);
        p.set_flags(TcpFlags::FIN | TcpFlags::ACK);
        p.set_window(8192);
        p.payload_mut().copy_from_slice(b"bye");
        p.fill_checksum(DST, SRC);
        assert_eq!(b, FIN_ACK_DATA);
    }

    #[test]
    fn truncated_and_inconsistent() {
        assert_eq!(TcpPacket::new_checked(&SYN[..19]).err(), Some(Malformed));
        // Data offset 10 (40 bytes) but only 39.
        assert_eq!(TcpPacket::new_checked(&SYN[..39]).err(), Some(Malformed));
        let mut b = SYN;
        b[12] = 0x40; // data offset 4
        assert_eq!(TcpPacket::new_checked(&b[..]).err(), Some(Malformed));
        b[12] = 0xf0; // 60 > 40
        assert_eq!(TcpPacket::new_checked(&b[..]).err(), Some(Malformed));
    }
}
