//! The first look at a frame on the load-balancing path: is it IPv4 TCP/UDP (and with
//! which 5-tuple and TCP flags), an ICMP error quoting a TCP/UDP packet (and about which
//! flow), or something else the appliance handles. Read-only; never panics; allocates
//! nothing.
//!
//! This is the one parse of a frame on the worker (issue 15): the IPv4 header
//! checksum of every IPv4 frame is verified here, once, and the result travels in
//! [`Classified`] as an [`Ipv4At`] that the connection lookup, the transforms and the
//! appliance use without parsing or verifying again.

use super::flow::{proto, FlowKey};
use crate::wire::ethernet::{EtherType, EthernetFrame};
use crate::wire::icmp::IcmpPacket;
use crate::wire::ipv4::{IpProtocol, Ipv4Packet};
use crate::wire::tcp::{TcpFlags, TcpPacket};
use crate::wire::udp::UdpPacket;
use crate::wire::Ipv4At;

/// Where things are in a frame that the load balancer may handle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Classified {
    /// An unfragmented IPv4 TCP or UDP packet.
    Flow {
        /// The packet's 5-tuple as seen on the wire.
        key: FlowKey,
        /// Offset of the IPv4 header in the frame.
        l3: usize,
        /// TCP flags (empty for UDP).
        tcp_flags: TcpFlags,
        /// The validated IPv4 header; `None` when its checksum is wrong.
        hdr: Option<Ipv4At>,
    },
    /// An IPv4 fragment of TCP/UDP: no ports to look at until its datagram is
    /// reassembled (`dataplane::reasm`; first fragments included).
    Fragment {
        /// Destination address (to tell a VIP fragment from others).
        daddr: std::net::Ipv4Addr,
        /// Protocol.
        proto: u8,
        /// The validated IPv4 header (for the appliance); `None` when its checksum is
        /// wrong.
        hdr: Option<Ipv4At>,
    },
    /// An ICMP error quoting a TCP/UDP packet; `inner` is the quoted packet's tuple as it
    /// was sent (so the flow it is about is `inner` seen from the other side).
    IcmpError {
        /// The quoted packet's 5-tuple.
        inner: FlowKey,
        /// The ICMP message's own outer tuple (ports 0).
        outer: FlowKey,
        /// Offset of the outer IPv4 header.
        l3: usize,
        /// The validated outer IPv4 header; `None` when its checksum is wrong.
        hdr: Option<Ipv4At>,
    },
    /// An unfragmented IPv4 TCP or UDP packet whose L4 header is malformed (TCP data
    /// offset < 5 or beyond the datagram, UDP length < 8 or beyond it): no tuple to
    /// look up; the LB path drops it when it is for a VIP (`drop_malformed`).
    BadL4 {
        /// Destination address (to tell a VIP from others).
        daddr: std::net::Ipv4Addr,
        /// Protocol.
        proto: u8,
        /// The validated IPv4 header; `None` when its checksum is wrong.
        hdr: Option<Ipv4At>,
    },
    /// An ICMP error quoting a later TCP/UDP fragment (offset non-zero): its 8 quoted
    /// bytes are data, not ports, so it cannot be related to any connection.
    IcmpFragQuote {
        /// The validated outer IPv4 header; `None` when its checksum is wrong.
        hdr: Option<Ipv4At>,
    },
    /// Anything else (ARP, ICMP echo, other protocols, malformed): the appliance decides.
    Other {
        /// The validated IPv4 header when there is one (for the appliance); `None` for
        /// non-IPv4, malformed IPv4 or a wrong header checksum.
        hdr: Option<Ipv4At>,
    },
}

impl Classified {
    /// The validated IPv4 header of any kind of frame, if it has one.
    pub fn ipv4(&self) -> Option<Ipv4At> {
        match *self {
            Classified::Flow { hdr, .. }
            | Classified::Fragment { hdr, .. }
            | Classified::IcmpError { hdr, .. }
            | Classified::BadL4 { hdr, .. }
            | Classified::IcmpFragQuote { hdr }
            | Classified::Other { hdr } => hdr,
        }
    }
}

/// Classifies a frame.
pub fn classify(frame: &[u8]) -> Classified {
    match EthernetFrame::new_checked(frame) {
        Ok(eth) => classify_eth(eth),
        Err(_) => Classified::Other { hdr: None },
    }
}

/// Classifies a frame whose Ethernet header the caller already parsed (the LB path
/// checks its destination MAC first), without parsing it again.
pub fn classify_eth(eth: EthernetFrame<&[u8]>) -> Classified {
    let l3i = eth.l3();
    let frame = eth.into_inner();
    if l3i.ethertype != EtherType::Ipv4 {
        return Classified::Other { hdr: None };
    }
    let l3 = l3i.l3_offset;
    let Some(ip_bytes) = frame.get(l3..) else {
        return Classified::Other { hdr: None };
    };
    let Ok(ip) = Ipv4Packet::new_checked(ip_bytes) else {
        return Classified::Other { hdr: None };
    };
    // The frame's one header checksum verification (see the module doc).
    let hdr = Ipv4At::verify(&ip, l3).ok();
    let (saddr, daddr) = (ip.src_addr(), ip.dst_addr());
    let p = ip.protocol();
    let pnum = u8::from(p);
    if matches!(p, IpProtocol::Tcp | IpProtocol::Udp) && ip.is_fragment() {
        return Classified::Fragment {
            daddr,
            proto: pnum,
            hdr,
        };
    }
    match p {
        IpProtocol::Tcp => match TcpPacket::new_checked(ip.payload()) {
            Ok(t) => Classified::Flow {
                key: FlowKey {
                    proto: proto::TCP,
                    saddr,
                    sport: t.src_port(),
                    daddr,
                    dport: t.dst_port(),
                },
                l3,
                tcp_flags: t.flags(),
                hdr,
            },
            Err(_) => Classified::BadL4 {
                daddr,
                proto: pnum,
                hdr,
            },
        },
        IpProtocol::Udp => match UdpPacket::new_checked(ip.payload()) {
            Ok(u) => Classified::Flow {
                key: FlowKey {
                    proto: proto::UDP,
                    saddr,
                    sport: u.src_port(),
                    daddr,
                    dport: u.dst_port(),
                },
                l3,
                tcp_flags: TcpFlags(0),
                hdr,
            },
            Err(_) => Classified::BadL4 {
                daddr,
                proto: pnum,
                hdr,
            },
        },
        IpProtocol::Icmp if !ip.is_fragment() => {
            let Ok(icmp) = IcmpPacket::new_checked(ip.payload()) else {
                return Classified::Other { hdr };
            };
            if !icmp.msg_type().is_error() {
                return Classified::Other { hdr };
            }
            let Ok(q) = icmp.quoted() else {
                return Classified::Other { hdr };
            };
            let qp = u8::from(q.protocol());
            if qp != proto::TCP && qp != proto::UDP {
                return Classified::Other { hdr };
            }
            if q.frag_offset_bytes() != 0 {
                return Classified::IcmpFragQuote { hdr };
            }
            Classified::IcmpError {
                inner: FlowKey {
                    proto: qp,
                    saddr: q.src_addr(),
                    sport: q.src_port(),
                    daddr: q.dst_addr(),
                    dport: q.dst_port(),
                },
                outer: FlowKey {
                    proto: proto::ICMP,
                    saddr,
                    sport: 0,
                    daddr,
                    dport: 0,
                },
                l3,
                hdr,
            }
        }
        _ => Classified::Other { hdr },
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    /// scapy: Ether()/IP(src=203.0.113.2, dst=203.0.113.10)/TCP(sport=40000, dport=80, flags="S")
    fn syn() -> Vec<u8> {
        let mut f = vec![0u8; 14 + 20 + 20];
        f[12] = 0x08;
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&40u16.to_be_bytes());
        ip[8] = 64;
        ip[9] = 6;
        ip[12..16].copy_from_slice(&[203, 0, 113, 2]);
        ip[16..20].copy_from_slice(&[203, 0, 113, 10]);
        let mut p = Ipv4Packet::new_unchecked(&mut f[14..34]);
        p.fill_checksum();
        let t = &mut f[34..54];
        t[0..2].copy_from_slice(&40000u16.to_be_bytes());
        t[2..4].copy_from_slice(&80u16.to_be_bytes());
        t[12] = 0x50;
        t[13] = 0x02;
        f
    }

    #[test]
    fn tcp_syn_gives_its_tuple_and_flags() {
        match classify(&syn()) {
            Classified::Flow {
                key,
                l3,
                tcp_flags,
                hdr,
            } => {
                assert_eq!(l3, 14);
                assert_eq!(hdr.map(|h| h.l3()), Some(14), "checksum verified");
                assert_eq!(key.proto, proto::TCP);
                assert_eq!(
                    (key.saddr, key.sport),
                    (Ipv4Addr::new(203, 0, 113, 2), 40000)
                );
                assert_eq!((key.daddr, key.dport), (Ipv4Addr::new(203, 0, 113, 10), 80));
                assert!(tcp_flags.contains(TcpFlags::SYN));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn fragments_and_garbage_are_not_flows() {
        let mut f = syn();
        f[14 + 6] = 0x20; // MF
        Ipv4Packet::new_unchecked(&mut f[14..34]).fill_checksum();
        assert!(matches!(classify(&f), Classified::Fragment { .. }));
        let s = syn();
        for n in 0..s.len() {
            let _ = classify(&s[..n]);
        }
        assert_eq!(classify(&s[..40]), Classified::Other { hdr: None });
    }

    #[test]
    fn malformed_tcp_and_udp_headers_are_bad_l4_not_other() {
        let mut f = syn();
        f[34 + 12] = 0x40; // data offset 4
        assert!(matches!(
            classify(&f),
            Classified::BadL4 {
                proto: 6,
                hdr: Some(_),
                ..
            }
        ));
        f[34 + 12] = 0x60; // data offset 6: 24 bytes, beyond the 20-byte segment
        assert!(matches!(classify(&f), Classified::BadL4 { proto: 6, .. }));
        let mut u = syn();
        u[14 + 9] = 17;
        Ipv4Packet::new_unchecked(&mut u[14..34]).fill_checksum();
        for bad_len in [7u16, 21] {
            u[34 + 4..34 + 6].copy_from_slice(&bad_len.to_be_bytes());
            assert!(
                matches!(classify(&u), Classified::BadL4 { proto: 17, .. }),
                "UDP length {bad_len}"
            );
        }
        u[34 + 4..34 + 6].copy_from_slice(&20u16.to_be_bytes());
        assert!(matches!(classify(&u), Classified::Flow { .. }));
    }
}
