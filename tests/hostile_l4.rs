//! No state from what is dropped, and L4 validity before any state (issue 10 item 4).
//!
//! Through the real net_pcap path (`tests/pcap/l4.py` holds the table): a first packet
//! that is dropped or answered instead of forwarded (TTL expired, IP options, too big
//! with DF, bad TCP/UDP checksum) leaves no connection entry, which the same flow's next
//! segment proves by getting the RST of a VIP without an entry; port 0 and malformed
//! TCP/UDP headers are dropped with their own counters; TCP/UDP to a VIP port without a
//! service is answered as a Linux director's stack does (RST, port unreachable). In process, on the testbed, the
//! connection table itself is read: no entry and no template after each kind of drop,
//! and the NIC's RX checksum verdict is used where it is given.

mod common;
use common::lab::lab_available;
use common::pcap::run_pcap;
use rvs::dataplane::{Counter, LbVerdict};
use rvs::lb::service::{DestConfig, Persistence, ServiceConfig, ServiceKey};
use rvs::testkit::testbed::{director, tcp_frame, CLIENT_MAC, PORT_MAC};
use rvs::wire::{HeadroomBuf, Ipv4Packet, PacketBuf, RxL4Checksum, TcpPacket, UdpPacket};
use std::net::Ipv4Addr;

fn a(d: u8) -> Ipv4Addr {
    Ipv4Addr::new(203, 0, 113, d)
}

#[test]
fn dropped_first_packets_leave_no_entry_through_net_pcap() {
    if !lab_available("dropped_first_packets_leave_no_entry_through_net_pcap") {
        return;
    }
    let services = "\n[[service]]\nproto = \"tcp\"\nvip = \"203.0.113.10\"\nport = 80\n\
        scheduler = \"rr\"\n[[service.real]]\naddr = \"203.0.113.11\"\nmethod = \"nat\"\nport = 8080\n\
        \n[[service]]\nproto = \"tcp\"\nvip = \"203.0.113.30\"\nport = 80\nscheduler = \"rr\"\n\
        [[service.real]]\naddr = \"203.0.113.13\"\nmethod = \"tun\"\n\
        \n[[service]]\nproto = \"udp\"\nvip = \"203.0.113.10\"\nport = 53\nscheduler = \"rr\"\n\
        [[service.real]]\naddr = \"203.0.113.11\"\nmethod = \"nat\"\n";
    let run = run_pcap("l4", "tests/pcap/l4.py", services, &[]);
    assert!(run.check.contains("l4 pcap check OK"), "{}", run.check);
    for (name, n) in [
        ("conns_new", 3),
        ("nat_in", 4),
        ("tun_out", 0),
        ("tx_icmp_time_exceeded", 1),
        ("tx_icmp_frag_needed", 1),
        ("tx_tcp_reset", 6),
        ("tx_icmp_port_unreachable", 1),
        ("drop_ip_options", 1),
        ("drop_bad_l4_checksum", 4),
        ("drop_port_zero", 2),
        ("drop_malformed", 4),
        ("drop_no_service", 1),
    ] {
        assert_eq!(run.counter(name), n, "{name}:\n{}", run.log);
    }
}

/// A frame whose NIC RX checksum verdict is given (a DPDK port with RX checksum offload
/// sets it in the mbuf's `ol_flags`; `HeadroomBuf` has none).
struct Flagged(HeadroomBuf, RxL4Checksum);

impl PacketBuf for Flagged {
    fn data(&self) -> &[u8] {
        self.0.data()
    }
    fn data_mut(&mut self) -> &mut [u8] {
        self.0.data_mut()
    }
    fn prepend(&mut self, n: usize) -> bool {
        self.0.prepend(n)
    }
    fn adj(&mut self, n: usize) -> bool {
        self.0.adj(n)
    }
    fn set_len(&mut self, len: usize) -> bool {
        self.0.set_len(len)
    }
    fn headroom(&self) -> usize {
        self.0.headroom()
    }
    fn rx_l4_checksum(&self) -> RxL4Checksum {
        self.1
    }
}

const SYN: u8 = 0x02;

/// A client SYN to `vip`:`vport` from port `sport`, with `edit` applied to the frame
/// (the IPv4 header checksum refreshed after it).
fn syn_with(sport: u16, vip: Ipv4Addr, vport: u16, edit: impl Fn(&mut Vec<u8>)) -> Vec<u8> {
    let mut f = tcp_frame(a(2), sport, vip, vport, SYN, PORT_MAC, CLIENT_MAC);
    f.truncate(54);
    edit(&mut f);
    let hl = usize::from(f[14] & 15) * 4;
    Ipv4Packet::new_unchecked(&mut f[14..14 + hl]).fill_checksum();
    // The TCP checksum over what the edit made of the segment (the bad-checksum cases
    // spoil it after this).
    let total = usize::from(u16::from_be_bytes([f[16], f[17]]));
    let (src, dst) = (a(2), vip);
    if f[23] == 6 {
        TcpPacket::new_unchecked(&mut f[14 + hl..14 + total]).fill_checksum(src, dst);
    }
    f
}

/// Spoils the TCP checksum of a frame made by [`syn_with`] (no IP options).
fn spoil(mut f: Vec<u8>) -> Vec<u8> {
    f[50] ^= 0xff;
    f
}

fn tx(counter: Counter) -> LbVerdict {
    LbVerdict::Tx { port: 0, counter }
}

#[test]
fn no_entry_and_no_template_from_a_dropped_first_packet() {
    let (mut lb, mut manager) = director(1024, "rr");
    let ttl1 = |f: &mut Vec<u8>| f[22] = 1;
    // 1481 bytes: over the 1480 a TUN packet may have on a 1500 MTU; 1501: over 1500.
    let big = |len: u16| {
        move |f: &mut Vec<u8>| {
            f.resize(14 + usize::from(len), 0x5a);
            f[16..18].copy_from_slice(&len.to_be_bytes());
        }
    };
    let options = |f: &mut Vec<u8>| {
        // IHL 6: a 4-byte option word (no-ops) before the TCP header.
        f.splice(34..34, [1, 1, 1, 0]);
        f[14] = 0x46;
        f[16..18].copy_from_slice(&44u16.to_be_bytes());
    };
    // (what, VIP, port, edit, headroom, verdict); .10:80 NAT, .20:80 DR, .30:80 TUN,
    // .40:443 persistent (a template would come first), .50 mark service (persistent).
    type Edit = Box<dyn Fn(&mut Vec<u8>)>;
    let cases: Vec<(&str, u8, u16, Edit, usize, LbVerdict)> = vec![
        (
            "TTL 1, NAT",
            10,
            80,
            Box::new(ttl1),
            128,
            tx(Counter::TxIcmpTimeExceeded),
        ),
        (
            "TTL 1, DR",
            20,
            80,
            Box::new(ttl1),
            128,
            tx(Counter::TxIcmpTimeExceeded),
        ),
        (
            "TTL 1, persistent",
            40,
            443,
            Box::new(ttl1),
            128,
            tx(Counter::TxIcmpTimeExceeded),
        ),
        (
            "TTL 1, mark",
            50,
            80,
            Box::new(ttl1),
            128,
            tx(Counter::TxIcmpTimeExceeded),
        ),
        (
            "too big, DF, TUN",
            30,
            80,
            Box::new(big(1481)),
            128,
            tx(Counter::TxIcmpFragNeeded),
        ),
        (
            "too big, DF, persistent",
            40,
            443,
            Box::new(big(1501)),
            128,
            tx(Counter::TxIcmpFragNeeded),
        ),
        (
            "no headroom, TUN",
            30,
            80,
            Box::new(|_: &mut Vec<u8>| {}),
            0,
            LbVerdict::Drop(Counter::DropNoHeadroom),
        ),
        (
            "IP options",
            10,
            80,
            Box::new(options),
            128,
            LbVerdict::Drop(Counter::DropIpOptions),
        ),
        (
            "IP options, persistent",
            40,
            443,
            Box::new(options),
            128,
            LbVerdict::Drop(Counter::DropIpOptions),
        ),
        (
            "bad TCP checksum",
            10,
            80,
            Box::new(|_: &mut Vec<u8>| {}),
            128,
            LbVerdict::Drop(Counter::DropBadL4Checksum),
        ),
        (
            "bad TCP checksum, persistent",
            40,
            443,
            Box::new(|_: &mut Vec<u8>| {}),
            128,
            LbVerdict::Drop(Counter::DropBadL4Checksum),
        ),
    ];
    for (i, (what, vip, vport, edit, headroom, want)) in cases.into_iter().enumerate() {
        let f = syn_with(43000 + i as u16, a(vip), vport, edit);
        let f = if what.starts_with("bad TCP checksum") {
            spoil(f)
        } else {
            f
        };
        let mut b = HeadroomBuf::with_room(&f, headroom, 2048);
        assert_eq!(lb.handle(0, &mut b, 1), want, "{what}");
        assert_eq!(
            lb.conns().count(),
            0,
            "{what}: an entry or template was left"
        );
        assert_eq!(lb.conns_new, 0, "{what}");
    }
    // A real server nothing routes to (192.0.2.99: the testbed routes only 203.0.113.0/24
    // and 198.51.100.0/24), on a persistent service: no route, no entry, no template.
    let key = ServiceKey::Addr {
        proto: 6,
        vip: a(60),
        vport: 80,
    };
    let mut sc = ServiceConfig::new(key);
    sc.persistence = Some(Persistence {
        timeout_secs: 60,
        netmask: Ipv4Addr::BROADCAST,
    });
    manager.add_service(sc).unwrap();
    manager
        .add_dest(&key, &DestConfig::new(Ipv4Addr::new(192, 0, 2, 99), 80))
        .unwrap();
    lb.refresh();
    let mut b = HeadroomBuf::new(&syn_with(43300, a(60), 80, |_| {}));
    assert_eq!(
        lb.handle(0, &mut b, 1),
        LbVerdict::Drop(Counter::DropNoRoute),
        "no route"
    );
    assert_eq!(
        lb.conns().count(),
        0,
        "no route: an entry or template was left"
    );
    // A one-packet-scheduled (ops) datagram keeps no entry anyway: its checksum is
    // verified all the same (it is scheduled and counted as a connection).
    let mut u = syn_with(43200, a(10), 5353, |f: &mut Vec<u8>| {
        f[23] = 17;
        f.truncate(14 + 20 + 12);
        f[16..18].copy_from_slice(&32u16.to_be_bytes());
        f[38..40].copy_from_slice(&12u16.to_be_bytes());
        f[40..42].copy_from_slice(&[0, 0]);
        f[42..46].copy_from_slice(b"ops!");
    });
    UdpPacket::new_unchecked(&mut u[34..46]).fill_checksum(a(2), a(10));
    let mut spoilt = u.clone();
    spoilt[45] ^= 1;
    let mut b = HeadroomBuf::new(&spoilt);
    assert_eq!(
        lb.handle(0, &mut b, 1),
        LbVerdict::Drop(Counter::DropBadL4Checksum),
        "ops"
    );
    let mut b = HeadroomBuf::new(&u);
    assert_eq!(
        lb.handle(0, &mut b, 1),
        tx(Counter::NatIn),
        "ops, right checksum"
    );
    assert_eq!(lb.conns().count(), 0, "ops keeps no entry");
    // The NIC's verdict wins over the bytes: a correct SYN it calls bad is dropped, a
    // corrupted one it calls good goes on (the port verified what it received).
    let ok = syn_with(43100, a(10), 80, |_| {});
    let mut b = Flagged(HeadroomBuf::new(&ok), RxL4Checksum::Bad);
    assert_eq!(
        lb.handle(0, &mut b, 1),
        LbVerdict::Drop(Counter::DropBadL4Checksum)
    );
    assert_eq!(lb.conns().count(), 0);
    let bad = spoil(syn_with(43101, a(10), 80, |_| {}));
    let mut b = Flagged(HeadroomBuf::new(&bad), RxL4Checksum::Good);
    assert_eq!(lb.handle(0, &mut b, 1), tx(Counter::NatIn));
    let mut b = Flagged(HeadroomBuf::new(&ok), RxL4Checksum::Unknown);
    assert_eq!(
        lb.handle(0, &mut b, 1),
        tx(Counter::NatIn),
        "software: right"
    );
    assert_eq!(lb.conns().count(), 2);
    assert_eq!(lb.conns_new, 2);
}
