//! Ethernet II frames (IEEE 802.3 with an EtherType), with at most one IEEE
//! 802.1Q VLAN tag.
//!
//! The frame check sequence is not part of the view: NICs strip it on receive
//! and append it on transmit. Short frames arrive padded to 60 bytes, which is
//! why L3 views cut their payload at their own length field, not here.
//!
//! Only one tag is understood because rvs is an appliance on access or trunk
//! ports, not a provider bridge: a double-tagged (802.1ad, 0x88a8) frame shows
//! its outer EtherType as `Other(0x88a8)` and is left to the caller to drop.

use core::fmt;

use super::{be16, Malformed};

mod field {
    use core::ops::Range;
    pub const DST: Range<usize> = 0..6;
    pub const SRC: Range<usize> = 6..12;
    pub const ETHERTYPE: Range<usize> = 12..14;
    /// With an 802.1Q tag: PCP(3) DEI(1) VID(12), then the inner EtherType.
    pub const VLAN_TCI: Range<usize> = 14..16;
    pub const VLAN_ETHERTYPE: Range<usize> = 16..18;
    pub const HEADER_LEN: usize = 14;
    pub const VLAN_HEADER_LEN: usize = 18;
}

/// Length of an untagged Ethernet II header in bytes.
pub const HEADER_LEN: usize = field::HEADER_LEN;
/// Length of an Ethernet II header with one 802.1Q tag in bytes.
pub const VLAN_HEADER_LEN: usize = field::VLAN_HEADER_LEN;

/// A 48-bit MAC address: the one thing DR mode rewrites, and what ARP resolves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct EthernetAddress(pub [u8; 6]);

impl EthernetAddress {
    /// ff:ff:ff:ff:ff:ff, where ARP requests and gratuitous ARP go.
    pub const BROADCAST: EthernetAddress = EthernetAddress([0xff; 6]);
    /// 00:00:00:00:00:00, the "unknown" target hardware address of an ARP request.
    pub const UNSPECIFIED: EthernetAddress = EthernetAddress([0; 6]);

    /// Copies an address out of a 6-byte field; `None` when `b` is not 6 bytes.
    pub fn from_bytes(b: &[u8]) -> Option<Self> {
        <[u8; 6]>::try_from(b).ok().map(EthernetAddress)
    }

    /// The raw octets, for writing into a frame.
    pub fn as_bytes(&self) -> &[u8; 6] {
        &self.0
    }

    /// True for ff:ff:ff:ff:ff:ff.
    pub fn is_broadcast(&self) -> bool {
        *self == Self::BROADCAST
    }

    /// True when the I/G bit is set (broadcast included): such a source is
    /// forged, and such a destination is not a unicast for us.
    pub fn is_multicast(&self) -> bool {
        self.0[0] & 0x01 != 0
    }

    /// True for an address a NIC may carry as its own (not multicast, not zero).
    pub fn is_unicast(&self) -> bool {
        !self.is_multicast() && *self != Self::UNSPECIFIED
    }
}

impl fmt::Display for EthernetAddress {
    /// Lower-case colon-separated hex, the way `ip link` and ipvsadm's peers print it.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = &self.0;
        write!(
            f,
            "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
            b[0], b[1], b[2], b[3], b[4], b[5]
        )
    }
}

/// The EtherTypes rvs acts on; anything else is carried as `Other`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EtherType {
    /// 0x0800: IPv4, the only L3 rvs balances.
    Ipv4,
    /// 0x0806: ARP, answered for the appliance's addresses and VIPs.
    Arp,
    /// 0x8100: an IEEE 802.1Q VLAN tag follows.
    Vlan,
    /// Anything else (IPv6, LLDP, 802.1ad...), passed to the kernel or dropped.
    Other(u16),
}

impl From<u16> for EtherType {
    fn from(v: u16) -> Self {
        match v {
            0x0800 => EtherType::Ipv4,
            0x0806 => EtherType::Arp,
            0x8100 => EtherType::Vlan,
            o => EtherType::Other(o),
        }
    }
}

impl From<EtherType> for u16 {
    fn from(t: EtherType) -> u16 {
        match t {
            EtherType::Ipv4 => 0x0800,
            EtherType::Arp => 0x0806,
            EtherType::Vlan => 0x8100,
            EtherType::Other(o) => o,
        }
    }
}

/// Where the L3 header starts and what it is, after looking through at most
/// one VLAN tag. Returned by [`EthernetFrame::l3`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct L3Info {
    /// The 12-bit VLAN id if the frame carried an 802.1Q tag.
    pub vlan_id: Option<u16>,
    /// The EtherType of what follows the (possibly tagged) header.
    pub ethertype: EtherType,
    /// Byte offset of the L3 header in the frame (14, or 18 when tagged).
    pub l3_offset: usize,
}

/// A view of an Ethernet II frame, tagged or not.
#[derive(Debug, Clone)]
pub struct EthernetFrame<B> {
    buf: B,
}

impl<B: AsRef<[u8]>> EthernetFrame<B> {
    /// Wraps a buffer rvs built or already checked; accessors may panic on a
    /// buffer shorter than the header.
    pub fn new_unchecked(buf: B) -> Self {
        EthernetFrame { buf }
    }

    /// Wraps untrusted bytes: at least 14 bytes, and 18 when the EtherType says
    /// an 802.1Q tag follows, so [`l3`](Self::l3) and [`payload`](Self::payload)
    /// never fail afterwards.
    pub fn new_checked(buf: B) -> Result<Self, Malformed> {
        let b = buf.as_ref();
        if b.len() < field::HEADER_LEN {
            return Err(Malformed);
        }
        if be16(&b[field::ETHERTYPE]) == 0x8100 && b.len() < field::VLAN_HEADER_LEN {
            return Err(Malformed);
        }
        Ok(EthernetFrame { buf })
    }

    /// Gives the buffer back, e.g. to hand the mbuf data on.
    pub fn into_inner(self) -> B {
        self.buf
    }

    /// Destination MAC.
    pub fn dst_addr(&self) -> EthernetAddress {
        let b = &self.buf.as_ref()[field::DST];
        EthernetAddress([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// Source MAC.
    pub fn src_addr(&self) -> EthernetAddress {
        let b = &self.buf.as_ref()[field::SRC];
        EthernetAddress([b[0], b[1], b[2], b[3], b[4], b[5]])
    }

    /// The outer EtherType (`Vlan` for a tagged frame; see [`l3`](Self::l3)).
    pub fn ethertype(&self) -> EtherType {
        EtherType::from(be16(&self.buf.as_ref()[field::ETHERTYPE]))
    }

    /// The VLAN id (low 12 bits of the TCI) when tagged.
    pub fn vlan_id(&self) -> Option<u16> {
        self.vlan_tci().map(|tci| tci & 0x0fff)
    }

    /// The whole 802.1Q tag control information (PCP, DEI, VID) when tagged,
    /// so a reply can keep the priority of the request.
    pub fn vlan_tci(&self) -> Option<u16> {
        self.tag().map(|(tci, _)| tci)
    }

    /// (TCI, inner EtherType) of a tagged frame. `get` rather than indexing:
    /// `set_ethertype(Vlan)` on an untagged 14-byte frame must not make an
    /// accessor panic; such a frame reads as untagged.
    fn tag(&self) -> Option<(u16, u16)> {
        let b = self.buf.as_ref();
        if self.ethertype() != EtherType::Vlan {
            return None;
        }
        let tci = b.get(field::VLAN_TCI)?;
        let inner = b.get(field::VLAN_ETHERTYPE)?;
        Some((be16(tci), be16(inner)))
    }

    /// VLAN id, inner EtherType and L3 offset in one call: what the classifier
    /// needs before it builds the L3 view.
    pub fn l3(&self) -> L3Info {
        match self.tag() {
            Some((tci, inner)) => L3Info {
                vlan_id: Some(tci & 0x0fff),
                ethertype: EtherType::from(inner),
                l3_offset: field::VLAN_HEADER_LEN,
            },
            None => L3Info {
                vlan_id: None,
                ethertype: self.ethertype(),
                l3_offset: field::HEADER_LEN,
            },
        }
    }

    /// Header length in bytes: 14, or 18 when tagged.
    pub fn header_len(&self) -> usize {
        self.l3().l3_offset
    }

    /// The L3 bytes after the (possibly tagged) header, padding included.
    pub fn payload(&self) -> &[u8] {
        let off = self.header_len();
        &self.buf.as_ref()[off..]
    }
}

impl<B: AsRef<[u8]> + AsMut<[u8]>> EthernetFrame<B> {
    /// Sets the destination MAC (DR mode's whole rewrite).
    pub fn set_dst_addr(&mut self, a: EthernetAddress) {
        self.buf.as_mut()[field::DST].copy_from_slice(&a.0);
    }

    /// Sets the source MAC.
    pub fn set_src_addr(&mut self, a: EthernetAddress) {
        self.buf.as_mut()[field::SRC].copy_from_slice(&a.0);
    }

    /// Sets the outer EtherType. Writing `Vlan` on a frame too short for a tag
    /// is the caller's bug; accessors then read it as untagged (no panic).
    pub fn set_ethertype(&mut self, t: EtherType) {
        self.buf.as_mut()[field::ETHERTYPE].copy_from_slice(&u16::from(t).to_be_bytes());
    }

    /// The L3 bytes after the header, for in-place rewrites.
    pub fn payload_mut(&mut self) -> &mut [u8] {
        let off = self.header_len();
        &mut self.buf.as_mut()[off..]
    }
}

/// The fields of an Ethernet header, for building frames rvs sends (ARP
/// replies, ICMP errors, TUN-encapsulated packets).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct EthernetRepr {
    /// Destination MAC.
    pub dst_addr: EthernetAddress,
    /// Source MAC.
    pub src_addr: EthernetAddress,
    /// 802.1Q tag control information (PCP/DEI/VID) to insert, if any.
    pub vlan_tci: Option<u16>,
    /// EtherType of the payload (inner EtherType when tagged).
    pub ethertype: EtherType,
}

impl EthernetRepr {
    /// Reads the header of a frame (inner EtherType when tagged).
    pub fn parse<B: AsRef<[u8]>>(frame: &EthernetFrame<B>) -> Self {
        let l3 = frame.l3();
        EthernetRepr {
            dst_addr: frame.dst_addr(),
            src_addr: frame.src_addr(),
            vlan_tci: frame.vlan_tci(),
            ethertype: l3.ethertype,
        }
    }

    /// Bytes [`emit`](Self::emit) writes: 14, or 18 with a tag.
    pub fn header_len(&self) -> usize {
        match self.vlan_tci {
            Some(_) => field::VLAN_HEADER_LEN,
            None => field::HEADER_LEN,
        }
    }

    /// Writes the header at the start of `buf` and returns its length;
    /// `Malformed` when `buf` is shorter than [`header_len`](Self::header_len).
    pub fn emit(&self, buf: &mut [u8]) -> Result<usize, Malformed> {
        let len = self.header_len();
        if buf.len() < len {
            return Err(Malformed);
        }
        buf[field::DST].copy_from_slice(&self.dst_addr.0);
        buf[field::SRC].copy_from_slice(&self.src_addr.0);
        match self.vlan_tci {
            Some(tci) => {
                buf[field::ETHERTYPE].copy_from_slice(&0x8100u16.to_be_bytes());
                buf[field::VLAN_TCI].copy_from_slice(&tci.to_be_bytes());
                buf[field::VLAN_ETHERTYPE]
                    .copy_from_slice(&u16::from(self.ethertype).to_be_bytes());
            }
            None => buf[field::ETHERTYPE].copy_from_slice(&u16::from(self.ethertype).to_be_bytes()),
        }
        Ok(len)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// ARP who-has 192.0.2.10 tell 192.0.2.1, scapy-built, untagged.
    const ARP_REQUEST: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0xc0, 0x00,
        0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02, 0x0a,
    ];

    /// The same request on VLAN 100, priority 3 (`Dot1Q(vlan=100, prio=3)`).
    const VLAN_ARP: [u8; 46] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x52, 0x54, 0x00, 0x12, 0x34, 0x56, 0x81, 0x00, 0x60,
        0x64, 0x08, 0x06, 0x00, 0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x52, 0x54, 0x00, 0x12,
        0x34, 0x56, 0xc0, 0x00, 0x02, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xc0, 0x00, 0x02,
        0x0a,
    ];

    const HOST_MAC: EthernetAddress = EthernetAddress([0x52, 0x54, 0x00, 0x12, 0x34, 0x56]);

    #[test]
    fn deconstruct_untagged() {
        let f = EthernetFrame::new_checked(&ARP_REQUEST[..]).unwrap();
        assert_eq!(f.dst_addr(), EthernetAddress::BROADCAST);
        assert_eq!(f.src_addr(), HOST_MAC);
        assert_eq!(f.ethertype(), EtherType::Arp);
        assert_eq!(
            f.l3(),
            L3Info {
                vlan_id: None,
                ethertype: EtherType::Arp,
                l3_offset: 14
            }
        );
        assert_eq!(f.payload(), &ARP_REQUEST[14..]);
        assert_eq!(f.src_addr().to_string(), "52:54:00:12:34:56");
        assert!(f.dst_addr().is_broadcast() && f.dst_addr().is_multicast());
        assert!(f.src_addr().is_unicast());
    }

    #[test]
    fn deconstruct_tagged() {
        let f = EthernetFrame::new_checked(&VLAN_ARP[..]).unwrap();
        assert_eq!(f.ethertype(), EtherType::Vlan);
        assert_eq!(f.vlan_id(), Some(100));
        assert_eq!(f.vlan_tci(), Some(0x6064));
        let l3 = f.l3();
        assert_eq!(l3.vlan_id, Some(100));
        assert_eq!(l3.ethertype, EtherType::Arp);
        assert_eq!(l3.l3_offset, 18);
        assert_eq!(f.payload(), &ARP_REQUEST[14..]);
    }

    #[test]
    fn truncated() {
        assert_eq!(
            EthernetFrame::new_checked(&ARP_REQUEST[..13]).err(),
            Some(Malformed)
        );
        assert!(EthernetFrame::new_checked(&ARP_REQUEST[..14]).is_ok());
        // A VLAN EtherType with no room for the tag.
        assert_eq!(
            EthernetFrame::new_checked(&VLAN_ARP[..17]).err(),
            Some(Malformed)
        );
        let f = EthernetFrame::new_checked(&VLAN_ARP[..18]).unwrap();
        assert!(f.payload().is_empty());
        // Turned into "tagged" by a setter without room for the tag: no panic.
        let mut b = [0u8; 14];
        let mut f = EthernetFrame::new_checked(&mut b[..]).unwrap();
        f.set_ethertype(EtherType::Vlan);
        assert_eq!(f.l3().l3_offset, 14);
        assert_eq!(f.vlan_id(), None);
        assert!(f.payload_mut().is_empty());
    }

    #[test]
    fn unknown_ethertype_is_other() {
        let mut b = ARP_REQUEST;
        b[12..14].copy_from_slice(&[0x88, 0xa8]);
        let f = EthernetFrame::new_checked(&b[..]).unwrap();
        assert_eq!(f.ethertype(), EtherType::Other(0x88a8));
        assert_eq!(f.l3().l3_offset, 14);
    }

    #[test]
    fn construct_and_emit() {
        let mut b = [0u8; 46];
        let repr = EthernetRepr::parse(&EthernetFrame::new_checked(&VLAN_ARP[..]).unwrap());
        assert_eq!(repr.emit(&mut b), Ok(18));
        b[18..].copy_from_slice(&VLAN_ARP[18..]);
        assert_eq!(b, VLAN_ARP);

        let mut b = ARP_REQUEST;
        let mut f = EthernetFrame::new_unchecked(&mut b[..]);
        f.set_dst_addr(HOST_MAC);
        f.set_src_addr(EthernetAddress([2, 0, 0, 0, 0, 1]));
        f.set_ethertype(EtherType::Ipv4);
        f.payload_mut()[0] = 0x45;
        assert_eq!(f.dst_addr(), HOST_MAC);
        assert_eq!(f.ethertype(), EtherType::Ipv4);
        assert_eq!(b[14], 0x45);

        let short = EthernetRepr {
            dst_addr: HOST_MAC,
            src_addr: HOST_MAC,
            vlan_tci: None,
            ethertype: EtherType::Ipv4,
        };
        assert_eq!(short.emit(&mut [0u8; 13]), Err(Malformed));
    }
}
