//! Answers the director gives in place of a packet it cannot forward, as an LVS
//! director's own stack does (recorded: `tests/fixtures/oracle/semantics/`):
//!
//! - [`tcp_reset`]: a TCP segment that is not a SYN reaches a VIP service with no
//!   connection (IPVS does not schedule it, the packet goes up to the director's
//!   stack, and the VIP is a local address with no listener, so `tcp_v4_send_reset`
//!   answers). RFC 9293 §3.10.7.1 (CLOSED): a segment carrying RST is never answered;
//!   one with ACK gets `<SEQ=SEG.ACK><CTL=RST>`; one without gets
//!   `<SEQ=0><ACK=SEG.SEQ+SEG.LEN><CTL=RST,ACK>` (SEG.LEN counts SYN and FIN).
//!   The recorded bytes: from VIP:vport, IPv4 ident 0, DF, TTL 64, TOS 0, a bare
//!   20-byte TCP header with window 0 and no options;
//! - [`port_unreachable`]: no real server is available for a new flow. IPVS
//!   (`ip_vs_leave`) answers ICMP destination unreachable, code 3 (port), from the
//!   VIP, for TCP and UDP alike; the error has the shape of every ICMP error rvs
//!   sends (see [`super::frag`]: TTL 64, TOS 0xc0, DF clear, the packet quoted up
//!   to 576 bytes), which is what the recording shows.
//!
//! Both work in place on the received frame (MACs swapped, sent back out of the port
//! it came in on): no allocation, no copy of the payload. Rate limiting is the
//! caller's ([`ReplyLimiter`]).

use std::net::Ipv4Addr;

use super::Verdict;
use crate::wire::ipv4::MIN_HEADER_LEN as IP_HEADER_LEN;
use crate::wire::tcp::MIN_HEADER_LEN as TCP_HEADER_LEN;
use crate::wire::{
    EthernetAddress, IcmpError, IpProtocol, Ipv4At, Ipv4Packet, Ipv4Repr, PacketBuf, TcpFlags,
    TcpPacket,
};

/// TTL of the RSTs rvs sends (Linux's default `ip_default_ttl`, recorded).
pub const RST_TTL: u8 = 64;

/// Replies allowed per second and per worker, for each kind of reply. Linux limits
/// its ICMP errors to 1000 a second (`icmp_msgs_per_sec`); the same figure bounds
/// what a flood of stray segments can make one worker send.
pub const REPLIES_PER_SEC: u32 = 1000;

/// A token bucket refilled once a second (the LB path's clock has one-second
/// ticks): at most `per_sec` replies in any one second. Per worker, so no shared
/// cache line, no atomic, no syscall.
#[derive(Clone, Copy, Debug)]
pub struct ReplyLimiter {
    per_sec: u32,
    tokens: u32,
    second: u32,
}

impl ReplyLimiter {
    /// A full bucket of `per_sec` tokens.
    pub fn new(per_sec: u32) -> Self {
        ReplyLimiter {
            per_sec,
            tokens: per_sec,
            second: 0,
        }
    }

    /// Takes a token at `now_secs`; false when this second's budget is spent.
    pub fn allow(&mut self, now_secs: u32) -> bool {
        if now_secs != self.second {
            self.second = now_secs;
            self.tokens = self.per_sec;
        }
        if self.tokens == 0 {
            return false;
        }
        self.tokens -= 1;
        true
    }
}

/// Replaces the TCP segment at `l3` by the RST the director's stack would send
/// (see the module doc) and returns true; false, with nothing written, when no RST is
/// due: the segment carries RST itself, or does not parse.
pub fn tcp_reset<P: PacketBuf>(pkt: &mut P, l3: usize) -> bool {
    let parsed = (|| {
        let data = pkt.data();
        let ip = Ipv4Packet::new_checked(data.get(l3..)?).ok()?;
        let tcp = TcpPacket::new_checked(ip.payload()).ok()?;
        let flags = tcp.flags();
        if flags.contains(TcpFlags::RST) || l3 < 12 {
            return None;
        }
        // SEG.LEN: data plus one for SYN and one for FIN (RFC 9293 §3.4).
        let seg_len = (tcp.payload().len() as u32)
            .wrapping_add(u32::from(flags.contains(TcpFlags::SYN)))
            .wrapping_add(u32::from(flags.contains(TcpFlags::FIN)));
        let with_ack = flags.contains(TcpFlags::ACK);
        let (seq, ack) = if with_ack {
            (tcp.ack_number(), 0)
        } else {
            (0, tcp.seq_number().wrapping_add(seg_len))
        };
        Some((
            ip.dst_addr(),
            ip.src_addr(),
            tcp.dst_port(),
            tcp.src_port(),
            seq,
            ack,
            with_ack,
            (
                EthernetAddress::from_bytes(&data[0..6]).unwrap_or_default(),
                EthernetAddress::from_bytes(&data[6..12]).unwrap_or_default(),
            ),
        ))
    })();
    let Some((src, dst, sport, dport, seq, ack, with_ack, macs)) = parsed else {
        return false;
    };
    let len = l3 + IP_HEADER_LEN + TCP_HEADER_LEN;
    // The offending segment had an IPv4 and a TCP header, so this only shrinks.
    if !pkt.set_len(len) {
        return false;
    }
    let data = pkt.data_mut();
    let repr = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: IpProtocol::Tcp,
        payload_len: TCP_HEADER_LEN as u16,
        ttl: RST_TTL,
        tos: 0,
        ident: 0,
        dont_frag: true,
    };
    if repr.emit(&mut data[l3..]).is_err() {
        return false;
    }
    let mut tcp = TcpPacket::new_unchecked(&mut data[l3 + IP_HEADER_LEN..len]);
    tcp.set_src_port(sport);
    tcp.set_dst_port(dport);
    tcp.set_seq_number(seq);
    tcp.set_ack_number(ack);
    tcp.set_header_len(TCP_HEADER_LEN as u8);
    tcp.set_flags(if with_ack {
        TcpFlags::RST
    } else {
        TcpFlags(TcpFlags::RST.0 | TcpFlags::ACK.0)
    });
    tcp.set_window(0);
    tcp.set_urgent(0);
    tcp.fill_checksum(src, dst);
    super::set_macs(data, macs.0, macs.1);
    true
}

/// Replaces the packet at `l3` (TCP or UDP to `vip`) by ICMP port unreachable from
/// `vip` (IPVS `ip_vs_leave`): `SendBack`, or a drop when the buffer has no headroom.
/// `None`, with nothing written, when no ICMP error may be sent about the packet
/// (RFC 1812 4.3.2.7) or its header fails the shared checks.
pub fn port_unreachable<P: PacketBuf>(
    pkt: &mut P,
    l3: usize,
    vip: Ipv4Addr,
    ident: u16,
) -> Option<Verdict> {
    port_unreachable_at(pkt, super::check_at(pkt.data(), l3).ok()?, vip, ident)
}

/// [`port_unreachable`] for a header the caller already checked (`at`: lengths and
/// checksum).
pub fn port_unreachable_at<P: PacketBuf>(
    pkt: &mut P,
    at: Ipv4At,
    vip: Ipv4Addr,
    ident: u16,
) -> Option<Verdict> {
    let l3 = at.l3();
    let ip = super::valid_ipv4(pkt.data(), at).ok()?;
    if !crate::wire::icmp::may_send_error_about(&ip) {
        return None;
    }
    Some(super::frag::send_back_error(
        pkt,
        l3,
        IcmpError::unreachable(crate::wire::icmp::unreach_code::PORT),
        vip,
        ident,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::xform::IcmpSent;
    use crate::wire::HeadroomBuf;

    fn hex(s: &str) -> Vec<u8> {
        (0..s.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
            .collect()
    }

    /// An Ethernet frame around a probe of the oracle recording: 198.51.100.2:sport
    /// -> 203.0.113.1:dport with the given flags, seq, ack and payload, TTL 64.
    fn probe(sport: u16, dport: u16, flags: u8, seq: u32, ack: u32, payload: usize) -> Vec<u8> {
        let mut f = vec![0u8; 14 + 40 + payload];
        f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 1, 2, 0, 0, 0, 0, 2]);
        f[12] = 0x08;
        let src = Ipv4Addr::new(198, 51, 100, 2);
        let dst = Ipv4Addr::new(203, 0, 113, 1);
        Ipv4Repr {
            src_addr: src,
            dst_addr: dst,
            protocol: IpProtocol::Tcp,
            payload_len: (20 + payload) as u16,
            ttl: 64,
            tos: 0,
            ident: 1,
            dont_frag: false,
        }
        .emit(&mut f[14..])
        .unwrap();
        let mut t = TcpPacket::new_unchecked(&mut f[34..]);
        t.set_src_port(sport);
        t.set_dst_port(dport);
        t.set_seq_number(seq);
        t.set_ack_number(ack);
        t.set_header_len(20);
        t.set_flags(TcpFlags(flags));
        t.set_window(512);
        t.fill_checksum(src, dst);
        f
    }

    /// The IPv4 bytes of each answer in tests/fixtures/oracle/semantics/recording.txt
    /// ("noconn"): rvs must send the same bytes.
    #[test]
    fn resets_equal_the_recorded_kernel_answers() {
        let cases = [
            // ACK: RST seq = SEG.ACK.
            (
                40001,
                80,
                0x10,
                1000,
                5000,
                0,
                "45000028000040004006d498cb007101c633640200509c41000013880000000050040000998f0000",
            ),
            // PSH+ACK with 10 bytes.
            (
                40002,
                80,
                0x18,
                2000,
                7000,
                10,
                "45000028000040004006d498cb007101c633640200509c4200001b58000000005004000091be0000",
            ),
            // FIN without ACK: RST+ACK, ack = seq + 1.
            (
                40003,
                80,
                0x01,
                3000,
                0,
                0,
                "45000028000040004006d498cb007101c633640200509c430000000000000bb950140000a14c0000",
            ),
            // No flags, 5 bytes: ack = seq + 5.
            (
                40004,
                80,
                0x00,
                4000,
                0,
                5,
                "45000028000040004006d498cb007101c633640200509c440000000000000fa5501400009d5f0000",
            ),
            // FIN+ACK.
            (
                40005,
                80,
                0x11,
                4500,
                9000,
                0,
                "45000028000040004006d498cb007101c633640200509c4500002328000000005004000089eb0000",
            ),
            // DR service :81.
            (
                40011,
                81,
                0x10,
                1000,
                5000,
                0,
                "45000028000040004006d498cb007101c633640200519c4b00001388000000005004000099840000",
            ),
        ];
        for (sport, dport, flags, seq, ack, n, want) in cases {
            let mut b = HeadroomBuf::new(&probe(sport, dport, flags, seq, ack, n));
            assert!(tcp_reset(&mut b, 14));
            assert_eq!(&b.data()[14..], &hex(want)[..], "probe from {sport}");
            assert_eq!(&b.data()[..12], &[2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1]);
        }
    }

    #[test]
    fn a_reset_is_never_answered() {
        for flags in [0x04, 0x14] {
            let mut b = HeadroomBuf::new(&probe(40006, 80, flags, 5000, 6000, 0));
            let before = b.data().to_vec();
            assert!(!tcp_reset(&mut b, 14));
            assert_eq!(b.data(), &before[..], "nothing written");
        }
    }

    #[test]
    fn truncated_segments_are_malformed_not_panics() {
        let f = probe(40001, 80, 0x10, 1, 2, 0);
        for cut in 0..f.len() {
            let mut b = HeadroomBuf::new(&f[..cut]);
            assert!(!tcp_reset(&mut b, 14), "cut at {cut}");
        }
    }

    /// The recorded answer to a SYN with no real server, but for the IPv4 ident
    /// (the kernel's is random, rvs's a per-worker counter).
    #[test]
    fn port_unreachable_equals_the_recorded_kernel_answer() {
        let want = hex("45c00044dd3e000040013683cb007101c63364020303634f00000000450000280001000040061498c6336402cb0071019c550053000000640000000050020200aa9e0000");
        let mut b = HeadroomBuf::new(&probe(40021, 83, 0x02, 100, 0, 0));
        let v = port_unreachable(&mut b, 14, Ipv4Addr::new(203, 0, 113, 1), 0xdd3e);
        assert_eq!(v, Some(Verdict::SendBack(IcmpSent::PortUnreachable)));
        assert_eq!(&b.data()[14..], &want[..]);
    }

    #[test]
    fn limiter_spends_a_budget_per_second() {
        let mut l = ReplyLimiter::new(3);
        assert!((0..3).all(|_| l.allow(7)));
        assert!(!l.allow(7));
        assert!(l.allow(8));
    }
}
