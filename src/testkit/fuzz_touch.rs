//! Parse-and-touch-everything drivers, one per parser, shared by the
//! `fuzz/` cargo-fuzz targets, the no-panic property tests and the
//! `tests/fuzz_corpus.rs` regression test, so all three exercise exactly the
//! same code.
//!
//! Each function feeds untrusted bytes to `new_checked`, and if that succeeds
//! calls every getter, then every setter on a copy (in a fixed stack buffer:
//! nothing here allocates). The wire contract is that none of this panics; a
//! panic is the bug the fuzzer is looking for. The returned value folds what
//! was read, so the optimiser cannot drop the calls; it means nothing else.

use core::hint::black_box;
use std::net::Ipv4Addr;

use crate::wire::arp::{ArpOperation, ArpPacket, ArpRepr};
use crate::wire::ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
use crate::wire::icmp::{may_send_error_about, IcmpError, IcmpPacket, IcmpType};
use crate::wire::ipip;
use crate::wire::ipv4::{IpProtocol, Ipv4Packet, Ipv4Repr};
use crate::wire::tcp::{TcpFlags, TcpPacket};
use crate::wire::udp::UdpPacket;

/// Largest input the setters are exercised on (longer inputs are cut for the
/// writable copy; the read-only pass sees all of it). Jumbo-frame sized.
const COPY_LEN: usize = 9216;

fn copy_of(data: &[u8]) -> ([u8; COPY_LEN], usize) {
    let mut b = [0u8; COPY_LEN];
    let n = data.len().min(COPY_LEN);
    b[..n].copy_from_slice(&data[..n]);
    (b, n)
}

const A1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
const A2: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 5);

/// Ethernet: header, tag, L3 info, payload, setters, repr round trip.
pub fn ethernet(data: &[u8]) -> u64 {
    let Ok(f) = EthernetFrame::new_checked(data) else {
        return 0;
    };
    let l3 = f.l3();
    let mut acc = u64::from(u16::from(f.ethertype()))
        + u64::from(f.vlan_id().unwrap_or(0))
        + u64::from(f.vlan_tci().unwrap_or(0))
        + l3.l3_offset as u64
        + f.header_len() as u64
        + f.payload().len() as u64
        + u64::from(f.dst_addr().0[0])
        + u64::from(f.src_addr().is_unicast());
    let repr = EthernetRepr::parse(&f);
    let (mut b, n) = copy_of(data);
    if let Ok(mut f) = EthernetFrame::new_checked(&mut b[..n]) {
        f.set_dst_addr(EthernetAddress::BROADCAST);
        f.set_src_addr(repr.dst_addr);
        acc += f.payload_mut().len() as u64;
        f.set_ethertype(EtherType::Vlan);
        acc += (f.payload().len() + f.l3().l3_offset) as u64;
        f.set_ethertype(EtherType::Other(0x86dd));
        acc += f.payload().len() as u64;
    }
    acc += repr.emit(&mut b[..n]).unwrap_or(0) as u64;
    black_box(acc)
}

/// ARP: every field, repr parse, reply/gratuitous emit, setters.
pub fn arp(data: &[u8]) -> u64 {
    let Ok(p) = ArpPacket::new_checked(data) else {
        return 0;
    };
    let mut acc = u64::from(p.hardware_type())
        + u64::from(p.protocol_type())
        + u64::from(p.hardware_len())
        + u64::from(p.protocol_len())
        + u64::from(u16::from(p.operation()))
        + u64::from(p.source_hardware_addr().0[5])
        + u64::from(u32::from(p.source_protocol_addr()))
        + u64::from(p.target_hardware_addr().0[5])
        + u64::from(u32::from(p.target_protocol_addr()));
    let (mut b, n) = copy_of(data);
    if let Ok(r) = ArpRepr::parse(&p) {
        acc += u64::from(r.is_gratuitous());
        acc += r
            .reply(EthernetAddress([2, 0, 0, 0, 0, 1]))
            .emit(&mut b[..n])
            .unwrap_or(0) as u64;
    }
    if let Ok(mut p) = ArpPacket::new_checked(&mut b[..n]) {
        p.set_operation(ArpOperation::Other(9));
        p.set_source_protocol_addr(A1);
        p.set_target_hardware_addr(EthernetAddress::UNSPECIFIED);
        acc += u64::from(u16::from(p.operation()));
    }
    black_box(acc)
}

fn touch_ipv4_read<B: AsRef<[u8]>>(p: &Ipv4Packet<B>) -> u64 {
    u64::from(p.version())
        + p.header_len() as u64
        + u64::from(p.dscp())
        + u64::from(p.ecn())
        + u64::from(p.total_len())
        + u64::from(p.ident())
        + u64::from(p.dont_frag())
        + u64::from(p.more_frags())
        + u64::from(p.frag_offset_bytes())
        + u64::from(p.is_fragment())
        + u64::from(p.ttl())
        + u64::from(u8::from(p.protocol()))
        + u64::from(p.checksum())
        + u64::from(p.verify_checksum())
        + u64::from(u32::from(p.src_addr()))
        + u64::from(u32::from(p.dst_addr()))
        + p.options().len() as u64
        + p.header().len() as u64
        + p.payload().len() as u64
        + p.packet().len() as u64
        + u64::from(p.pseudo_header_sum())
        + u64::from(may_send_error_about(p))
}

/// IPv4: every getter, every setter, repr round trip, IPIP both ways, and an
/// ICMP error quoting it.
pub fn ipv4(data: &[u8]) -> u64 {
    let Ok(p) = Ipv4Packet::new_checked(data) else {
        return 0;
    };
    let mut acc = touch_ipv4_read(&p);
    let repr = Ipv4Repr::parse(&p);
    if let Ok(inner) = ipip::decapsulate(data) {
        acc += touch_ipv4_read(&inner);
    }
    if let Ok(o) = ipip::outer_repr(&p, A1, A2, 7) {
        acc += u64::from(o.payload_len);
    }
    let mut err = [0u8; 600];
    acc += IcmpError::frag_needed(1480)
        .emit_ipv4(&mut err, A1, 64, 1, data)
        .unwrap_or(0) as u64;
    let (mut b, n) = copy_of(data);
    if let Ok(mut p) = Ipv4Packet::new_checked(&mut b[..n]) {
        p.set_src_addr(A1);
        p.set_dst_addr(A2);
        acc += u64::from(p.decrement_ttl());
        p.set_ttl(0);
        p.set_tos(0xff);
        p.set_ident(1);
        p.set_dont_frag(true);
        p.set_protocol(IpProtocol::Other(200));
        acc += p.payload_mut().len() as u64;
        // Length fields made inconsistent by setters must not panic either.
        for tl in [0, 19, 65535] {
            p.set_total_len(tl);
            acc += (p.payload().len() + p.packet().len() + p.options().len()) as u64;
            acc += p.payload_mut().len() as u64;
        }
        p.fill_checksum();
        acc += u64::from(p.verify_checksum());
    }
    if n >= 20 {
        acc += ipip::encapsulate(&mut b[..n], A1, A2, 3).unwrap_or(0) as u64;
    }
    acc += repr.emit(&mut b[..n]).unwrap_or(0) as u64;
    black_box(acc)
}

/// ICMP: header, echo fields, echo-reply conversion, quoted packet both ways.
pub fn icmp(data: &[u8]) -> u64 {
    let Ok(p) = IcmpPacket::new_checked(data) else {
        return 0;
    };
    let mut acc = u64::from(u8::from(p.msg_type()))
        + u64::from(p.msg_type().is_error())
        + u64::from(p.code())
        + u64::from(p.checksum())
        + u64::from(p.verify_checksum())
        + u64::from(p.echo_ident())
        + u64::from(p.echo_seq())
        + u64::from(p.next_hop_mtu())
        + u64::from(p.rest_of_header())
        + p.payload().len() as u64;
    if let Ok(q) = p.quoted() {
        acc += q.header_len() as u64
            + u64::from(q.total_len())
            + u64::from(q.ident())
            + u64::from(q.ttl())
            + u64::from(u8::from(q.protocol()))
            + u64::from(u32::from(q.src_addr()))
            + u64::from(u32::from(q.dst_addr()))
            + u64::from(q.verify_checksum())
            + q.l4_head().len() as u64
            + u64::from(q.src_port())
            + u64::from(q.dst_port())
            + q.l4().len() as u64;
    }
    let (mut b, n) = copy_of(data);
    if let Ok(mut p) = IcmpPacket::new_checked(&mut b[..n]) {
        acc += u64::from(p.make_echo_reply().is_ok());
        if let Ok(mut q) = p.quoted_mut() {
            q.set_src_addr(A1);
            q.set_dst_addr(A2);
            q.set_src_port(1);
            q.set_dst_port(2);
        }
        p.set_msg_type(IcmpType::Other(42));
        p.set_code(1);
        p.set_echo_ident(1);
        p.set_echo_seq(2);
        p.set_rest_of_header(3);
        acc += p.payload_mut().len() as u64;
        p.fill_checksum();
        acc += u64::from(p.verify_checksum());
    }
    black_box(acc)
}

/// TCP: every getter, checksum verify/fill, every incremental setter.
pub fn tcp(data: &[u8]) -> u64 {
    let Ok(p) = TcpPacket::new_checked(data) else {
        return 0;
    };
    let mut acc = u64::from(p.src_port())
        + u64::from(p.dst_port())
        + u64::from(p.seq_number())
        + u64::from(p.ack_number())
        + p.header_len() as u64
        + u64::from(p.flags().0)
        + u64::from(p.fin())
        + u64::from(p.syn())
        + u64::from(p.rst())
        + u64::from(p.psh())
        + u64::from(p.ack())
        + u64::from(p.urg())
        + u64::from(p.ece())
        + u64::from(p.cwr())
        + u64::from(p.window())
        + u64::from(p.checksum())
        + u64::from(p.urgent())
        + p.options().len() as u64
        + p.payload().len() as u64
        + u64::from(p.verify_checksum(A1, A2));
    let (mut b, n) = copy_of(data);
    if let Ok(mut p) = TcpPacket::new_checked(&mut b[..n]) {
        p.set_src_port(1);
        p.set_dst_port(2);
        p.set_seq_number(3);
        p.set_ack_number(4);
        p.set_flags(TcpFlags::SYN | TcpFlags::ACK);
        p.set_window(5);
        p.set_urgent(6);
        for hl in [0, 8, 60] {
            p.set_header_len(hl);
            acc += (p.options().len() + p.payload().len() + p.payload_mut().len()) as u64;
        }
        p.set_header_len(20);
        p.update_checksum_for_addr(A1, A2);
        acc += p.payload_mut().len() as u64;
        p.fill_checksum(A2, A1);
        acc += u64::from(p.verify_checksum(A2, A1));
    }
    black_box(acc)
}

/// UDP: every getter, checksum verify/fill, every incremental setter.
pub fn udp(data: &[u8]) -> u64 {
    let Ok(p) = UdpPacket::new_checked(data) else {
        return 0;
    };
    let mut acc = u64::from(p.src_port())
        + u64::from(p.dst_port())
        + u64::from(p.len())
        + u64::from(p.is_empty())
        + u64::from(p.checksum())
        + p.payload().len() as u64
        + u64::from(p.verify_checksum(A1, A2));
    let (mut b, n) = copy_of(data);
    if let Ok(mut p) = UdpPacket::new_checked(&mut b[..n]) {
        p.set_src_port(1);
        p.set_dst_port(2);
        p.update_checksum_for_addr(A1, A2);
        acc += p.payload_mut().len() as u64;
        for len in [0, 7, 65535] {
            p.set_len(len);
            acc += (p.payload().len() + p.payload_mut().len()) as u64;
            acc += u64::from(p.verify_checksum(A1, A2));
        }
        p.fill_checksum(A2, A1);
        acc += u64::from(p.verify_checksum(A2, A1));
    }
    black_box(acc)
}

/// A whole frame as the data path sees it: Ethernet, then ARP or IPv4, then
/// ICMP/TCP/UDP on the IPv4 payload. Used by the corpus test on every file.
pub fn frame(data: &[u8]) -> u64 {
    let mut acc = ethernet(data);
    let Ok(f) = EthernetFrame::new_checked(data) else {
        return acc;
    };
    let l3 = f.l3();
    let payload = f.payload();
    match l3.ethertype {
        EtherType::Arp => acc += arp(payload),
        EtherType::Ipv4 => {
            acc += ipv4(payload);
            if let Ok(ip) = Ipv4Packet::new_checked(payload) {
                acc += match ip.protocol() {
                    IpProtocol::Icmp => icmp(ip.payload()),
                    IpProtocol::Tcp => tcp(ip.payload()),
                    IpProtocol::Udp => udp(ip.payload()),
                    IpProtocol::IpIp => ipv4(ip.payload()),
                    IpProtocol::Other(_) => 0,
                };
            }
        }
        EtherType::Vlan | EtherType::Other(_) => {}
    }
    black_box(acc)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_and_tiny_inputs() {
        for len in 0..64 {
            let z = [0u8; 64];
            let f = [0xffu8; 64];
            for d in [&z[..len], &f[..len]] {
                ethernet(d);
                arp(d);
                ipv4(d);
                icmp(d);
                tcp(d);
                udp(d);
                frame(d);
            }
        }
    }
}
