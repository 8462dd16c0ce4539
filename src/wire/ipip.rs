//! IP-in-IP encapsulation (RFC 2003), the LVS TUN method (`ipvsadm -i`).
//!
//! The director prepends an outer IPv4 header (protocol 4) addressed to the
//! real server, which decapsulates and answers the client directly from the
//! VIP. Following IPVS (`ip_vs_tunnel_xmit`), the outer header copies TOS,
//! TTL and DF from the inner one (RFC 2003 section 3.1 allows copying DF and
//! TOS; copying TTL keeps traceroute's view of the path honest), has no
//! options, and carries an identification chosen by the caller.
//!
//! Path MTU: an inner packet with DF set that would exceed the link MTU once
//! 20 bytes are added must be answered with ICMP frag-needed carrying
//! `mtu - OUTER_HEADER_LEN` (see [`super::icmp::IcmpError::frag_needed`]);
//! that policy lives with the caller, which knows the MTU.

use std::net::Ipv4Addr;

use super::ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr, MIN_HEADER_LEN};
use super::Malformed;

/// Bytes the outer header adds: what TUN mode needs as headroom in front of
/// the inner packet, and takes from the MTU.
pub const OUTER_HEADER_LEN: usize = MIN_HEADER_LEN;

/// The outer header for `inner`, from `src` (the director) to `dst` (the
/// real server), with TOS, TTL and DF copied from `inner`. `Malformed` when
/// the encapsulated packet would exceed 65535 bytes.
pub fn outer_repr<B: AsRef<[u8]>>(
    inner: &Ipv4Packet<B>,
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ident: u16,
) -> Result<Ipv4Repr, Malformed> {
    let inner_len = inner.total_len();
    if usize::from(inner_len) + OUTER_HEADER_LEN > usize::from(u16::MAX) {
        return Err(Malformed);
    }
    Ok(Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: IpProtocol::IpIp,
        payload_len: inner_len,
        ttl: inner.ttl(),
        tos: inner.tos(),
        ident,
        dont_frag: inner.dont_frag(),
    })
}

/// Encapsulates in place: `buf[OUTER_HEADER_LEN..]` holds the inner IPv4
/// packet (e.g. the mbuf data after prepending 20 bytes); writes the outer
/// header into `buf[..OUTER_HEADER_LEN]` and returns the total length of the
/// encapsulated packet. `Malformed` when the inner packet does not pass
/// [`Ipv4Packet::new_checked`] or the result would exceed 65535 bytes.
pub fn encapsulate(
    buf: &mut [u8],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ident: u16,
) -> Result<usize, Malformed> {
    let inner_bytes = buf.get(OUTER_HEADER_LEN..).ok_or(Malformed)?;
    let inner = Ipv4Packet::new_checked(inner_bytes)?;
    let repr = outer_repr(&inner, src, dst, ident)?;
    repr.emit(buf)?;
    Ok(OUTER_HEADER_LEN + usize::from(repr.payload_len))
}

/// The inner packet of an IP-in-IP packet. `Malformed` unless the outer packet
/// is valid IPv4 with protocol 4 and not a fragment (a fragment needs
/// reassembly first), and the inner packet is valid IPv4 too.
pub fn decapsulate(outer: &[u8]) -> Result<Ipv4Packet<&[u8]>, Malformed> {
    let outer = Ipv4Packet::new_checked(outer)?;
    if outer.protocol() != IpProtocol::IpIp || outer.is_fragment() {
        return Err(Malformed);
    }
    let hl = outer.header_len();
    let tl = usize::from(outer.total_len());
    let bytes = outer.into_inner();
    Ipv4Packet::new_checked(&bytes[hl..tl])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// scapy `IP(src=192.0.2.1, dst=203.0.113.5, id=9, flags=DF, ttl=63,
    /// proto=4, tos=0x10)/IP(src=198.51.100.7, dst=192.0.2.10, id=0x0101,
    /// flags=DF, ttl=63, tos=0x10)/TCP(sport=40000, dport=80, seq=1, flags=S,
    /// window=1024)`: a SYN tunnelled from director 192.0.2.1 to real server
    /// 203.0.113.5.
    const TUNNELLED_SYN: [u8; 60] = [
        0x45, 0x10, 0x00, 0x3c, 0x00, 0x09, 0x40, 0x00, 0x3f, 0x04, 0x3d, 0x9e, 0xc0, 0x00, 0x02,
        0x01, 0xcb, 0x00, 0x71, 0x05, 0x45, 0x10, 0x00, 0x28, 0x01, 0x01, 0x40, 0x00, 0x3f, 0x06,
        0x4e, 0x7a, 0xc6, 0x33, 0x64, 0x07, 0xc0, 0x00, 0x02, 0x0a, 0x9c, 0x40, 0x00, 0x50, 0x00,
        0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x50, 0x02, 0x04, 0x00, 0x23, 0x0c, 0x00, 0x00,
    ];

    const DIRECTOR: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
    const RIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 5);

    #[test]
    fn encapsulate_matches_scapy() {
        let mut b = [0u8; 64];
        b[20..60].copy_from_slice(&TUNNELLED_SYN[20..]);
        assert_eq!(encapsulate(&mut b, DIRECTOR, RIP, 9), Ok(60));
        assert_eq!(b[..60], TUNNELLED_SYN);
    }

    #[test]
    fn decapsulate_to_inner() {
        let inner = decapsulate(&TUNNELLED_SYN).unwrap();
        assert_eq!(inner.src_addr(), Ipv4Addr::new(198, 51, 100, 7));
        assert_eq!(inner.dst_addr(), Ipv4Addr::new(192, 0, 2, 10));
        assert_eq!(inner.protocol(), IpProtocol::Tcp);
        assert!(inner.verify_checksum());
        assert_eq!(inner.packet(), &TUNNELLED_SYN[20..]);
    }

    #[test]
    fn rejects_what_is_not_ipip() {
        // Not protocol 4.
        let mut b = TUNNELLED_SYN;
        b[9] = 6;
        assert_eq!(decapsulate(&b).err(), Some(Malformed));
        // Outer fragment.
        let mut b = TUNNELLED_SYN;
        b[6] = 0x20;
        assert_eq!(decapsulate(&b).err(), Some(Malformed));
        // Inner truncated: outer total length cuts it.
        let mut b = TUNNELLED_SYN;
        b[3] = 0x3b;
        assert_eq!(decapsulate(&b).err(), Some(Malformed));
        // Encapsulating garbage or into a too-short buffer.
        assert_eq!(
            encapsulate(&mut [0u8; 30], DIRECTOR, RIP, 1),
            Err(Malformed)
        );
        assert_eq!(
            encapsulate(&mut [0u8; 10], DIRECTOR, RIP, 1),
            Err(Malformed)
        );
    }

    #[test]
    fn too_big_to_encapsulate() {
        let mut b = vec![0u8; 65535];
        b[..20].copy_from_slice(&TUNNELLED_SYN[20..40]);
        let mut inner = Ipv4Packet::new_unchecked(&mut b[..]);
        inner.set_total_len(65535);
        let inner = Ipv4Packet::new_checked(&b[..]).unwrap();
        assert_eq!(outer_repr(&inner, DIRECTOR, RIP, 1), Err(Malformed));
    }
}
