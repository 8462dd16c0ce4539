//! ARP (RFC 826) for Ethernet and IPv4, the only pairing rvs resolves.
//!
//! The appliance answers ARP for its own addresses and for the VIPs of NAT
//! services, learns neighbours (real servers, the gateway) from requests and
//! replies, and announces addresses with gratuitous ARP after a takeover
//! (RFC 5227 section 3 "ARP Announcement": a request whose sender and target
//! protocol addresses are both the announced address).
//!
//! [`ArpPacket::new_checked`] accepts only hardware length 6 and protocol length
//! 4, because the view's field layout depends on them; the hardware and protocol
//! *types* are readable and [`ArpRepr::parse`] rejects anything but
//! Ethernet/IPv4.

use std::net::Ipv4Addr;

use super::ethernet::EthernetAddress;
use super::{be16, Malformed};

mod field {
    use core::ops::Range;
    pub const HTYPE: Range<usize> = 0..2;
    pub const PTYPE: Range<usize> = 2..4;
    pub const HLEN: usize = 4;
    pub const PLEN: usize = 5;
    pub const OPER: Range<usize> = 6..8;
    pub const SHA: Range<usize> = 8..14;
    pub const SPA: Range<usize> = 14..18;
    pub const THA: Range<usize> = 18..24;
    pub const TPA: Range<usize> = 24..28;
    pub const LEN: usize = 28;
}

/// Bytes of an Ethernet/IPv4 ARP packet (without the Ethernet header).
pub const PACKET_LEN: usize = field::LEN;

/// ARP hardware type for Ethernet (RFC 826 `ares_hrd$Ethernet`).
pub const HTYPE_ETHERNET: u16 = 1;
/// ARP protocol type for IPv4 (the IPv4 EtherType).
pub const PTYPE_IPV4: u16 = 0x0800;

/// The ARP opcode. RARP and InARP opcodes are `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ArpOperation {
    /// 1: who-has.
    Request,
    /// 2: is-at.
    Reply,
    /// Anything else.
    Other(u16),
}

impl From<u16> for ArpOperation {
    fn from(v: u16) -> Self {
        match v {
            1 => ArpOperation::Request,
            2 => ArpOperation::Reply,
            o => ArpOperation::Other(o),
        }
    }
}

impl From<ArpOperation> for u16 {
    fn from(o: ArpOperation) -> u16 {
        match o {
            ArpOperation::Request => 1,
            ArpOperation::Reply => 2,
            ArpOperation::Other(v) => v,
        }
    }
}

/// A view of an ARP packet (the Ethernet payload) with 6-byte hardware and
/// 4-byte protocol addresses.
#[derive(Debug, Clone)]
pub struct ArpPacket<B> {
    buf: B,
}

fn ipv4_at(b: &[u8]) -> Ipv4Addr {
    Ipv4Addr::new(b[0], b[1], b[2], b[3])
}

fn mac_at(b: &[u8]) -> EthernetAddress {
    EthernetAddress([b[0], b[1], b[2], b[3], b[4], b[5]])
}

impl<B: AsRef<[u8]>> ArpPacket<B> {
    /// Wraps a buffer rvs built (at least [`PACKET_LEN`] bytes).
    pub fn new_unchecked(buf: B) -> Self {
        ArpPacket { buf }
    }

    /// Wraps untrusted bytes: at least 28 bytes with hardware length 6 and
    /// protocol length 4. Trailing Ethernet padding is allowed.
    pub fn new_checked(buf: B) -> Result<Self, Malformed> {
        let b = buf.as_ref();
        if b.len() < field::LEN || b[field::HLEN] != 6 || b[field::PLEN] != 4 {
            return Err(Malformed);
        }
        Ok(ArpPacket { buf })
    }

    /// Gives the buffer back.
    pub fn into_inner(self) -> B {
        self.buf
    }

    /// Hardware type (1 = Ethernet).
    pub fn hardware_type(&self) -> u16 {
        be16(&self.buf.as_ref()[field::HTYPE])
    }

    /// Protocol type (0x0800 = IPv4).
    pub fn protocol_type(&self) -> u16 {
        be16(&self.buf.as_ref()[field::PTYPE])
    }

    /// Hardware address length (6 once checked).
    pub fn hardware_len(&self) -> u8 {
        self.buf.as_ref()[field::HLEN]
    }

    /// Protocol address length (4 once checked).
    pub fn protocol_len(&self) -> u8 {
        self.buf.as_ref()[field::PLEN]
    }

    /// Opcode.
    pub fn operation(&self) -> ArpOperation {
        ArpOperation::from(be16(&self.buf.as_ref()[field::OPER]))
    }

    /// Sender hardware address: what a neighbour entry learns.
    pub fn source_hardware_addr(&self) -> EthernetAddress {
        mac_at(&self.buf.as_ref()[field::SHA])
    }

    /// Sender protocol address.
    pub fn source_protocol_addr(&self) -> Ipv4Addr {
        ipv4_at(&self.buf.as_ref()[field::SPA])
    }

    /// Target hardware address (zero in a request).
    pub fn target_hardware_addr(&self) -> EthernetAddress {
        mac_at(&self.buf.as_ref()[field::THA])
    }

    /// Target protocol address: the address being asked about.
    pub fn target_protocol_addr(&self) -> Ipv4Addr {
        ipv4_at(&self.buf.as_ref()[field::TPA])
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> ArpPacket<B> {
    /// Sets hardware type.
    pub fn set_hardware_type(&mut self, v: u16) {
        self.buf.as_mut()[field::HTYPE].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets protocol type.
    pub fn set_protocol_type(&mut self, v: u16) {
        self.buf.as_mut()[field::PTYPE].copy_from_slice(&v.to_be_bytes());
    }

    /// Sets the address lengths (6 and 4 for Ethernet/IPv4).
    pub fn set_lengths(&mut self, hardware_len: u8, protocol_len: u8) {
        let b = self.buf.as_mut();
        b[field::HLEN] = hardware_len;
        b[field::PLEN] = protocol_len;
    }

    /// Sets the opcode.
    pub fn set_operation(&mut self, op: ArpOperation) {
        self.buf.as_mut()[field::OPER].copy_from_slice(&u16::from(op).to_be_bytes());
    }

    /// Sets sender hardware address.
    pub fn set_source_hardware_addr(&mut self, a: EthernetAddress) {
        self.buf.as_mut()[field::SHA].copy_from_slice(&a.0);
    }

    /// Sets sender protocol address.
    pub fn set_source_protocol_addr(&mut self, a: Ipv4Addr) {
        self.buf.as_mut()[field::SPA].copy_from_slice(&a.octets());
    }

    /// Sets target hardware address.
    pub fn set_target_hardware_addr(&mut self, a: EthernetAddress) {
        self.buf.as_mut()[field::THA].copy_from_slice(&a.0);
    }

    /// Sets target protocol address.
    pub fn set_target_protocol_addr(&mut self, a: Ipv4Addr) {
        self.buf.as_mut()[field::TPA].copy_from_slice(&a.octets());
    }
}

/// The meaning of an Ethernet/IPv4 ARP packet, for parsing what arrives and
/// building what rvs sends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ArpRepr {
    /// Request, reply, or another opcode.
    pub operation: ArpOperation,
    /// Sender MAC.
    pub source_hardware_addr: EthernetAddress,
    /// Sender IPv4 address.
    pub source_protocol_addr: Ipv4Addr,
    /// Target MAC (zero in requests).
    pub target_hardware_addr: EthernetAddress,
    /// Target IPv4 address.
    pub target_protocol_addr: Ipv4Addr,
}

impl ArpRepr {
    /// Reads a packet; `Malformed` unless it is Ethernet/IPv4 ARP.
    pub fn parse<B: AsRef<[u8]>>(p: &ArpPacket<B>) -> Result<Self, Malformed> {
        if p.hardware_type() != HTYPE_ETHERNET
            || p.protocol_type() != PTYPE_IPV4
            || p.hardware_len() != 6
            || p.protocol_len() != 4
        {
            return Err(Malformed);
        }
        Ok(ArpRepr {
            operation: p.operation(),
            source_hardware_addr: p.source_hardware_addr(),
            source_protocol_addr: p.source_protocol_addr(),
            target_hardware_addr: p.target_hardware_addr(),
            target_protocol_addr: p.target_protocol_addr(),
        })
    }

    /// A who-has request from `(mac, ip)` for `target` (send to broadcast).
    pub fn request(mac: EthernetAddress, ip: Ipv4Addr, target: Ipv4Addr) -> Self {
        ArpRepr {
            operation: ArpOperation::Request,
            source_hardware_addr: mac,
            source_protocol_addr: ip,
            target_hardware_addr: EthernetAddress::UNSPECIFIED,
            target_protocol_addr: target,
        }
    }

    /// The is-at reply to this request, saying `our_mac` owns the asked
    /// address (send unicast to the requester's MAC).
    pub fn reply(&self, our_mac: EthernetAddress) -> Self {
        ArpRepr {
            operation: ArpOperation::Reply,
            source_hardware_addr: our_mac,
            source_protocol_addr: self.target_protocol_addr,
            target_hardware_addr: self.source_hardware_addr,
            target_protocol_addr: self.source_protocol_addr,
        }
    }

    /// A gratuitous ARP announcing that `mac` now owns `ip`, in the RFC 5227
    /// "announcement" form (a request with sender = target address), which is
    /// what keepalived sends after a VRRP takeover. Send to broadcast.
    pub fn gratuitous(mac: EthernetAddress, ip: Ipv4Addr) -> Self {
        ArpRepr {
            operation: ArpOperation::Request,
            source_hardware_addr: mac,
            source_protocol_addr: ip,
            target_hardware_addr: EthernetAddress::UNSPECIFIED,
            target_protocol_addr: ip,
        }
    }

    /// True when sender and target protocol addresses are equal: a gratuitous
    /// ARP (announcement or RFC 5227 probe reply), which updates neighbour
    /// entries but asks nothing.
    pub fn is_gratuitous(&self) -> bool {
        self.source_protocol_addr == self.target_protocol_addr
    }

    /// Writes the 28-byte packet at the start of `buf`; returns [`PACKET_LEN`],
    /// or `Malformed` when `buf` is shorter.
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Malformed> {
        if buf.len() < field::LEN {
            return Err(Malformed);
        }
        let mut p = ArpPacket::new_unchecked(buf);
        p.set_hardware_type(HTYPE_ETHERNET);
        p.set_protocol_type(PTYPE_IPV4);
        p.set_lengths(6, 4);
        p.set_operation(self.operation);
        p.set_source_hardware_addr(self.source_hardware_addr);
        p.set_source_protocol_addr(self.source_protocol_addr);
        p.set_target_hardware_addr(self.target_hardware_addr);
        p.set_target_protocol_addr(self.target_protocol_addr);
        Ok(field::LEN)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Ethernet payload of a scapy-built `ARP(op=1, hwsrc=52:54:00:12:34:56,
    /// psrc=192.0.2.1, pdst=192.0.2.10)`.
    const REQUEST: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc0,
        0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x0a,
    ];

    /// scapy `ARP(op=2, hwsrc=02:00:00:00:00:0a, psrc=192.0.2.10,
    /// hwdst=52:54:00:12:34:56, pdst=192.0.2.1)`: the answer to `REQUEST`.
    const REPLY: [u8; 28] = [
        0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x02, 0x02, 0x00, 0x00, 0x00, 0x00, 0x0a, 0xc0,
        0x00, 0x02, 0x0a, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc0, 0x00, 0x02, 0x01,
    ];

    const CLIENT_MAC: EthernetAddress = EthernetAddress([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);
    const OUR_MAC: EthernetAddress = EthernetAddress([0x02, 0, 0, 0, 0, 0x0a]);

    #[test]
    fn deconstruct() {
        let p = ArpPacket::new_checked(&REQUEST[..]).unwrap();
        assert_eq!(p.hardware_type(), 1);
        assert_eq!(p.protocol_type(), 0x0800);
        assert_eq!(p.operation(), ArpOperation::Request);
        assert_eq!(p.source_hardware_addr(), CLIENT_MAC);
        assert_eq!(p.source_protocol_addr(), Ipv4Addr::new(192, 0, 2, 1));
        assert_eq!(p.target_hardware_addr(), EthernetAddress::UNSPECIFIED);
        assert_eq!(p.target_protocol_addr(), Ipv4Addr::new(192, 0, 2, 10));
        let r = ArpRepr::parse(&p).unwrap();
        assert!(!r.is_gratuitous());
    }

    #[test]
    fn reply_to_request_matches_scapy_bytes() {
        let req = ArpRepr::parse(&ArpPacket::new_checked(&REQUEST[..]).unwrap()).unwrap();
        let mut out = [0u8; 28];
        assert_eq!(req.reply(OUR_MAC).emit(&mut out), Ok(28));
        assert_eq!(out, REPLY);
        let back = ArpRepr::parse(&ArpPacket::new_checked(&out[..]).unwrap()).unwrap();
        assert_eq!(back.operation, ArpOperation::Reply);
    }

    #[test]
    fn construct_request_and_gratuitous() {
        let mut out = [0u8; 28];
        ArpRepr::request(
            CLIENT_MAC,
            Ipv4Addr::new(192, 0, 2, 1),
            Ipv4Addr::new(192, 0, 2, 10),
        )
        .emit(&mut out)
        .unwrap();
        assert_eq!(out, REQUEST);
        let g = ArpRepr::gratuitous(OUR_MAC, Ipv4Addr::new(192, 0, 2, 100));
        g.emit(&mut out).unwrap();
        let back = ArpRepr::parse(&ArpPacket::new_checked(&out[..]).unwrap()).unwrap();
        assert_eq!(back, g);
        assert!(back.is_gratuitous());
        assert_eq!(g.emit(&mut [0u8; 27]), Err(Malformed));
    }

    #[test]
    fn truncated_and_inconsistent() {
        assert_eq!(
            ArpPacket::new_checked(&REQUEST[..27]).err(),
            Some(Malformed)
        );
        // Padding after the packet (60-byte minimum frame) is fine.
        let mut padded = [0u8; 46];
        padded[..28].copy_from_slice(&REQUEST);
        assert!(ArpPacket::new_checked(&padded[..]).is_ok());
        // hlen/plen that do not match the layout.
        let mut b = REQUEST;
        b[4] = 8;
        assert_eq!(ArpPacket::new_checked(&b[..]).err(), Some(Malformed));
        let mut b = REQUEST;
        b[5] = 16;
        assert_eq!(ArpPacket::new_checked(&b[..]).err(), Some(Malformed));
        // A readable packet of another hardware type is not Ethernet ARP.
        let mut b = REQUEST;
        b[1] = 6;
        let p = ArpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(ArpRepr::parse(&p), Err(Malformed));
        // Unknown opcodes are Other, not errors.
        let mut b = REQUEST;
        b[7] = 3;
        let p = ArpPacket::new_checked(&b[..]).unwrap();
        assert_eq!(p.operation(), ArpOperation::Other(3));
    }
}
