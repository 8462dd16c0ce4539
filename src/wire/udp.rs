//! UDP datagram headers (RFC 768).
//!
//! The length field must be at least 8 and fit the buffer; the payload is cut
//! at it. A checksum of 0 means the sender computed none: rvs then leaves it 0
//! through every rewrite (RFC 768; the kernel's IPVS does the same), and a
//! computed 0 is sent as 0xffff. See [`checksum::update_udp`].

use std::net::Ipv4Addr;

use super::checksum;
use super::ipv4::IpProtocol;
use super::{be16, Malformed};

mod field {
    use core::ops::Range;
    pub const SRC_PORT: Range<usize> = 0..2;
    pub const DST_PORT: Range<usize> = 2..4;
    pub const LENGTH: Range<usize> = 4..6;
    pub const CHECKSUM: Range<usize> = 6..8;
    pub const HEADER_LEN: usize = 8;
}

/// Length of the UDP header in bytes.
pub const HEADER_LEN: usize = field::HEADER_LEN;

/// A view of a UDP datagram.
#[derive(Debug, Clone)]
pub struct UdpPacket<B> {
    buf: B,
}

impl<B: AsRef<[u8]>> UdpPacket<B> {
    /// Wraps a buffer rvs built or checked.
    pub fn new_unchecked(buf: B) -> Self {
        UdpPacket { buf }
    }

    /// Wraps untrusted bytes: 8 bytes at least, and 8 ≤ length field ≤ buffer.
    pub fn new_checked(buf: B) -> Result<Self, Malformed> {
        let b = buf.as_ref();
        if b.len() < field::HEADER_LEN {
            return Err(Malformed);
        }
        let len = usize::from(be16(&b[field::LENGTH]));
        if len < field::HEADER_LEN || len > b.len() {
            return Err(Malformed);
        }
        Ok(UdpPacket { buf })
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

    /// Length field: header + payload in bytes.
    pub fn len(&self) -> u16 {
        be16(&self.buf.as_ref()[field::LENGTH])
    }

    /// True when the datagram carries no payload (length field 8).
    pub fn is_empty(&self) -> bool {
        usize::from(self.len()) <= field::HEADER_LEN
    }

    /// Checksum as written (0 = none).
    pub fn checksum(&self) -> u16 {
        be16(&self.buf.as_ref()[field::CHECKSUM])
    }

    /// (payload start, datagram end) clamped to the buffer, so slicing never
    /// panics even after `set_len` made the field disagree with it; for a
    /// checked, unmodified datagram this is (8, length field).
    fn spans(&self) -> (usize, usize) {
        let end = usize::from(self.len()).min(self.buf.as_ref().len());
        (field::HEADER_LEN.min(end), end)
    }

    /// The datagram cut at its length field.
    fn datagram(&self) -> &[u8] {
        let (_, end) = self.spans();
        &self.buf.as_ref()[..end]
    }

    /// Payload, cut at the length field.
    pub fn payload(&self) -> &[u8] {
        let (start, end) = self.spans();
        &self.buf.as_ref()[start..end]
    }

    /// True when the checksum is 0 (none) or the datagram and IPv4 pseudo
    /// header sum to 0xffff.
    pub fn verify_checksum(&self, src: Ipv4Addr, dst: Ipv4Addr) -> bool {
        if self.checksum() == 0 {
            return true;
        }
        let ph = checksum::pseudo_header(src, dst, IpProtocol::Udp.into(), self.len());
        checksum::combine(&[ph, checksum::data(self.datagram())]) == 0xffff
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> UdpPacket<B> {
    fn set16_keep_csum(&mut self, range: core::ops::Range<usize>, new: u16) {
        let b = self.buf.as_mut();
        let old = be16(&b[range.clone()]);
        b[range].copy_from_slice(&new.to_be_bytes());
        let c = checksum::update_udp(be16(&b[field::CHECKSUM]), old, new);
        b[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Sets the source port, updating the checksum incrementally (0 stays 0).
    pub fn set_src_port(&mut self, port: u16) {
        self.set16_keep_csum(field::SRC_PORT, port);
    }

    /// Sets the destination port, updating the checksum incrementally (0 stays 0).
    pub fn set_dst_port(&mut self, port: u16) {
        self.set16_keep_csum(field::DST_PORT, port);
    }

    /// Sets the length field. The checksum is updated for it twice, since the
    /// length appears both in the header and in the pseudo header. Views
    /// checked before relied on the old value: check again.
    pub fn set_len(&mut self, len: u16) {
        let old = self.len();
        self.set16_keep_csum(field::LENGTH, len);
        let c = checksum::update_udp(self.checksum(), old, len);
        self.set_checksum(c);
    }

    /// Writes the checksum field as given (0 to send none).
    pub fn set_checksum(&mut self, c: u16) {
        self.buf.as_mut()[field::CHECKSUM].copy_from_slice(&c.to_be_bytes());
    }

    /// Computes and writes the checksum over the pseudo header and the
    /// datagram (cut at its length field); a computed 0 is written as 0xffff.
    pub fn fill_checksum(&mut self, src: Ipv4Addr, dst: Ipv4Addr) {
        self.set_checksum(0);
        let ph = checksum::pseudo_header(src, dst, IpProtocol::Udp.into(), self.len());
        let c = checksum::finish_udp(checksum::combine(&[ph, checksum::data(self.datagram())]));
        self.set_checksum(c);
    }

    /// Adjusts the checksum for an IPv4 address change in the pseudo header
    /// (NAT); a checksum of 0 stays 0.
    pub fn update_checksum_for_addr(&mut self, old: Ipv4Addr, new: Ipv4Addr) {
        let c = checksum::update_udp_u32(self.checksum(), u32::from(old), u32::from(new));
        self.set_checksum(c);
    }

    /// Payload, writable, cut at the length field.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let (start, end) = self.spans();
        &mut self.buf.as_mut()[start..end]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const SRC: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 7);
    const DST: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 10);
    const RIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 5);

    /// UDP part of scapy `IP(src=198.51.100.7, dst=192.0.2.10)/UDP(
    /// sport=53000, dport=53)/<12-byte DNS header>`.
    const DNS: [u8; 20] = [
        0xcf, 0x08, 0x00, 0x35, 0x00, 0x14, 0x31, 0x0e, 0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    /// scapy: the same datagram to 203.0.113.5:5353 (after NAT).
    const DNS_NATED: [u8; 20] = [
        0xcf, 0x08, 0x14, 0xe9, 0x00, 0x14, 0xa2, 0x5e, 0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00,
        0x00, 0x00, 0x00, 0x00, 0x00,
    ];

    #[test]
    fn deconstruct() {
        let p = UdpPacket::new_checked(&DNS[..]).unwrap();
        assert_eq!(p.src_port(), 53000);
        assert_eq!(p.dst_port(), 53);
        assert_eq!(p.len(), 20);
        assert!(!p.is_empty());
        assert_eq!(p.checksum(), 0x310e);
        assert!(p.verify_checksum(SRC, DST));
        assert!(!p.verify_checksum(SRC, RIP));
        assert_eq!(p.payload(), &DNS[8..]);
    }

    #[test]
    fn nat_rewrite_matches_scapy() {
        let mut b = DNS;
        let mut p = UdpPacket::new_checked(&mut b[..]).unwrap();
        p.set_dst_port(5353);
        p.update_checksum_for_addr(DST, RIP);
        assert!(p.verify_checksum(SRC, RIP));
        assert_eq!(b, DNS_NATED);
    }

    #[test]
    fn zero_checksum_stays_zero() {
        let mut b = DNS;
        b[6] = 0;
        b[7] = 0;
        let mut p = UdpPacket::new_checked(&mut b[..]).unwrap();
        assert!(p.verify_checksum(SRC, DST));
        p.set_dst_port(5353);
        p.set_src_port(1);
        p.update_checksum_for_addr(DST, RIP);
        assert_eq!(p.checksum(), 0);
    }

    #[test]
    fn computed_zero_sent_as_ffff() {
        // Choose a payload word that makes the sum exactly 0xffff: then the
        // checksum would be 0 and must go out as 0xffff.
        let mut b = DNS;
        b[8] = 0;
        b[9] = 0;
        let mut p = UdpPacket::new_checked(&mut b[..]).unwrap();
        p.fill_checksum(SRC, DST);
        let c = p.checksum();
        // Adding `c` to the payload word makes the total sum 0xffff.
        p.payload_mut()[0..2].copy_from_slice(&c.to_be_bytes());
        p.fill_checksum(SRC, DST);
        assert_eq!(p.checksum(), 0xffff);
        assert!(p.verify_checksum(SRC, DST));
    }

    #[test]
    fn construct_and_len_change() {
        let mut b = [0u8; 24];
        let mut p = UdpPacket::new_unchecked(&mut b[..]);
        p.set_src_port(53000);
        p.set_dst_port(53);
        p.set_len(20);
        p.payload_mut().copy_from_slice(&DNS[8..]);
        p.fill_checksum(SRC, DST);
        assert_eq!(b[..20], DNS);
        // Growing the datagram by 4 zero bytes keeps the checksum valid.
        let mut p = UdpPacket::new_unchecked(&mut b[..]);
        p.set_len(24);
        assert!(p.verify_checksum(SRC, DST));
        assert_eq!(p.payload().len(), 16);
    }

    #[test]
    fn truncated_and_inconsistent() {
        assert_eq!(UdpPacket::new_checked(&DNS[..7]).err(), Some(Malformed));
        // Length field 20 > buffer 19.
        assert_eq!(UdpPacket::new_checked(&DNS[..19]).err(), Some(Malformed));
        let mut b = DNS;
        b[5] = 7; // length < 8
        assert_eq!(UdpPacket::new_checked(&b[..]).err(), Some(Malformed));
        // Buffer longer than the length field: payload cut at the field.
        let mut b = [0u8; 30];
        b[..20].copy_from_slice(&DNS);
        let p = UdpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.payload().len(), 12);
        assert!(p.verify_checksum(SRC, DST));
    }
}
