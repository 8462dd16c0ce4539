//! The whole load-balancing path (classify -> connection lookup / schedule with
//! persistence -> transform) on the DPDK-free testbed: the code the workers run.

use proptest::prelude::*;
use rvs::dataplane::{Counter, LbVerdict};
use rvs::lb::flow::proto;
use rvs::mgmt::Manager;
use rvs::testkit::testbed::{director, CLIENT_MAC, PORT_MAC};
use rvs::wire::{EthernetFrame, HeadroomBuf, Ipv4Packet, PacketBuf, TcpPacket};
use std::net::Ipv4Addr;

fn a(d: u8) -> Ipv4Addr {
    Ipv4Addr::new(203, 0, 113, d)
}

use rvs::testkit::testbed::tcp_frame as tcp;

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const SYNACK: u8 = 0x12;
const RST: u8 = 0x04;

fn syn(sport: u16, vip: Ipv4Addr, vport: u16) -> HeadroomBuf {
    from_client(sport, vip, vport, SYN)
}

/// A TCP segment with `flags` from the client (203.0.113.2:`sport`) to `vip`:`vport`.
fn from_client(sport: u16, vip: Ipv4Addr, vport: u16, flags: u8) -> HeadroomBuf {
    HeadroomBuf::new(&tcp(a(2), sport, vip, vport, flags, PORT_MAC, CLIENT_MAC))
}

/// A reply with `flags` from real server `rip`:8080 (its MAC ends in its last octet, as
/// the testbed's neighbours) to the client's port `cport`.
fn from_server(rip: Ipv4Addr, cport: u16, flags: u8) -> HeadroomBuf {
    let mac = [2, 0, 0, 0, 0, rip.octets()[3]];
    HeadroomBuf::new(&tcp(rip, 8080, a(2), cport, flags, PORT_MAC, mac))
}

/// A client's SYN to `vip`:`vport` that is a first fragment (MF set, header checksum
/// fixed).
fn fragment(sport: u16, vip: Ipv4Addr, vport: u16) -> HeadroomBuf {
    let mut frag = tcp(a(2), sport, vip, vport, SYN, PORT_MAC, CLIENT_MAC);
    frag[20] = 0x20; // MF
    Ipv4Packet::new_unchecked(&mut frag[14..34]).fill_checksum();
    HeadroomBuf::new(&frag)
}

/// The verdict for a frame sent on port 0 and counted as `counter`.
fn tx(counter: Counter) -> LbVerdict {
    LbVerdict::Tx { port: 0, counter }
}

/// Sets real server `rip` of TCP service `vip`:`vport` to weight 0 (quiescent).
fn quiesce(manager: &Manager, vip: Ipv4Addr, vport: u16, rip: Ipv4Addr) {
    let table = manager.services().clone();
    let svc = table.lookup(proto::TCP, vip, vport).unwrap();
    svc.dests()
        .iter()
        .find(|d| d.addr == rip)
        .unwrap()
        .set_weight(0);
}

fn ip_dst(b: &HeadroomBuf) -> (Ipv4Addr, u16) {
    let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
    assert!(ip.verify_checksum());
    let t = TcpPacket::new_checked(ip.payload()).unwrap();
    (ip.dst_addr(), t.dst_port())
}

#[test]
fn nat_both_ways_with_valid_checksums() {
    let (mut lb, _p) = director(1024, "rr");
    let mut b = syn(40000, a(10), 80);
    assert_eq!(lb.handle(0, &mut b, 1), tx(Counter::NatIn));
    let (rip, rport) = ip_dst(&b);
    assert_eq!(rport, 8080);
    let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
    let t = TcpPacket::new_checked(ip.payload()).unwrap();
    assert!(t.verify_checksum(ip.src_addr(), ip.dst_addr()));
    assert_eq!(
        EthernetFrame::new_checked(b.data()).unwrap().dst_addr().0[5],
        rip.octets()[3]
    );
    // The reply from that real server comes back as VIP:80.
    let mut r = from_server(rip, 40000, SYNACK);
    assert_eq!(lb.handle(0, &mut r, 1), tx(Counter::NatOut));
    let ip = Ipv4Packet::new_checked(&r.data()[14..]).unwrap();
    let t = TcpPacket::new_checked(ip.payload()).unwrap();
    assert_eq!((ip.src_addr(), t.src_port()), (a(10), 80));
    assert!(ip.verify_checksum() && t.verify_checksum(ip.src_addr(), ip.dst_addr()));
    assert_eq!(lb.conns_new, 1);
}

#[test]
fn service_and_dest_stats_count_conns_packets_and_bytes() {
    let (mut lb, publisher) = director(1024, "rr");
    let mut b = syn(40500, a(10), 80);
    lb.handle(0, &mut b, 1);
    let (rip, _) = ip_dst(&b);
    let mut r = from_server(rip, 40500, SYNACK);
    lb.handle(0, &mut r, 1);
    let mut again = from_client(40500, a(10), 80, ACK);
    lb.handle(0, &mut again, 1);
    let table = publisher.services().clone();
    let svc = table.lookup(proto::TCP, a(10), 80).unwrap();
    let s = svc.stats().sum();
    assert_eq!((s.conns, s.in_pkts, s.out_pkts), (1, 2, 1));
    assert_eq!(
        (s.in_bytes, s.out_bytes),
        (2 * 40, 40),
        "IP total length, as IPVS counts"
    );
    let i = svc.dests().iter().position(|d| d.addr == rip).unwrap();
    let d = svc.dest_stats()[i].sum();
    assert_eq!((d.conns, d.in_pkts, d.out_pkts), (1, 2, 1));
    for (j, other) in svc.dest_stats().iter().enumerate() {
        if j != i {
            assert_eq!(other.sum().in_pkts, 0);
        }
    }
}

#[test]
fn rr_spreads_new_connections_and_a_conn_stays_put() {
    let (mut lb, _p) = director(1024, "rr");
    let mut seen = Vec::new();
    for port in 0..6 {
        let mut b = syn(41000 + port, a(10), 80);
        lb.handle(0, &mut b, 1);
        seen.push(ip_dst(&b).0);
    }
    assert_eq!(&seen[0..3], &seen[3..6], "rr cycles over the three servers");
    assert_ne!(seen[0], seen[1]);
    // Another packet of the first connection goes to the same server.
    let mut b = from_client(41000, a(10), 80, ACK);
    lb.handle(0, &mut b, 2);
    assert_eq!(ip_dst(&b).0, seen[0]);
}

#[test]
fn persistence_pins_a_client_then_expires_after_its_conns() {
    let (mut lb, _p) = director(1024, "rr");
    let mut first = None;
    for port in 0..5 {
        let mut b = syn(42000 + port, a(40), 443);
        assert_eq!(lb.handle(0, &mut b, 1), tx(Counter::NatIn));
        let d = ip_dst(&b).0;
        assert_eq!(
            *first.get_or_insert(d),
            d,
            "persistent service must pin the client"
        );
    }
    // At t=261 the SYN entries have long timed out; the template's timer fired while it
    // still controlled them, so (as IPVS) it was re-armed for 60 s, and it is gone only
    // after that. A new connection is then scheduled anew: rr moves on.
    lb.sweep(261, 4096);
    let mut b = syn(42099, a(40), 443);
    lb.handle(0, &mut b, 262);
    assert_eq!(
        ip_dst(&b).0,
        first.unwrap(),
        "re-armed template still pins the client"
    );
    let later = 262 + 60 + 130;
    // First sweep: the connection goes, the template (due, still controlling it) is
    // re-armed once more; 61 s later it goes too.
    lb.sweep(later - 61, 4096);
    lb.sweep(later, 4096);
    // Neighbours learnt at t=0 are past their 300 s life: confirm them again.
    for d in [11u8, 12, 13] {
        lb.net().neigh().learn(a(d), [2, 0, 0, 0, 0, d], later);
    }
    let mut b = syn(42100, a(40), 443);
    assert_eq!(lb.handle(0, &mut b, later), tx(Counter::NatIn));
    assert_ne!(ip_dst(&b).0, first.unwrap(), "template should have expired");
}

#[test]
fn mark_service_keeps_a_client_on_one_server_across_80_and_443() {
    let (mut lb, _p) = director(1024, "rr");
    let mut servers = std::collections::BTreeSet::new();
    for (i, port) in [80u16, 443, 80, 443, 100].iter().enumerate() {
        let mut b = syn(43000 + i as u16, a(50), *port);
        assert_eq!(lb.handle(0, &mut b, 1), tx(Counter::NatIn));
        let (d, dport) = ip_dst(&b);
        assert_eq!(
            dport, *port,
            "mark service with port 0 dests keeps the packet's port"
        );
        servers.insert(d);
    }
    assert_eq!(servers.len(), 1, "{servers:?}");
    // Outside the mark's port range: not a service; the VIP address's stack resets it.
    let mut b = syn(43100, a(50), 8443);
    assert_eq!(lb.handle(0, &mut b, 1), tx(Counter::TxTcpReset));
}

/// A fragment, to a VIP (here one only a mark service covers) or not, goes to the
/// worker's reassembly table with its validated header; the datagram is scheduled
/// when complete (`LbPath::handle_datagram`, tests/hostile_frag.rs).
#[test]
fn fragments_are_handed_to_reassembly() {
    let (mut lb, _p) = director(1024, "rr");
    for dst in [a(50), a(10), Ipv4Addr::new(198, 51, 100, 9)] {
        assert!(matches!(
            lb.handle(0, &mut fragment(43200, dst, 80), 1),
            LbVerdict::Reassemble(at) if at.l3() == 14
        ));
    }
}

/// IPVS `ip_vs_service_find`: a packet's mark service wins over a `VIP:port` service
/// that matches too (tests/fixtures/oracle/semantics, "lookup").
#[test]
fn mark_service_comes_before_the_vip_port_service() {
    use rvs::lb::dest::Fwd;
    use rvs::lb::service::{DestConfig, ServiceConfig, ServiceKey};
    let (mut lb, mut publisher) = director(1024, "rr");
    // An address service on the mark's VIP:80, to one server on port 9090.
    let key = ServiceKey::Addr {
        proto: proto::TCP,
        vip: a(50),
        vport: 80,
    };
    publisher.add_service(ServiceConfig::new(key)).unwrap();
    let mut d = DestConfig::new(a(13), 9090);
    d.fwd = Fwd::Nat;
    publisher.add_dest(&key, &d).unwrap();
    for i in 0..4 {
        let mut b = syn(43210 + i, a(50), 80);
        assert!(matches!(lb.handle(0, &mut b, 1), LbVerdict::Tx { .. }));
        assert_eq!(ip_dst(&b).1, 80, "the mark service (port 0 dests) took it");
    }
}

#[test]
fn full_table_refuses_new_flows_and_keeps_existing_ones() {
    let (mut lb, _p) = director(2, "rr");
    let mut b1 = syn(44000, a(10), 80);
    let mut b2 = syn(44001, a(10), 80);
    assert!(matches!(lb.handle(0, &mut b1, 1), LbVerdict::Tx { .. }));
    assert!(matches!(lb.handle(0, &mut b2, 1), LbVerdict::Tx { .. }));
    let mut b3 = syn(44002, a(10), 80);
    assert_eq!(
        lb.handle(0, &mut b3, 1),
        LbVerdict::Drop(Counter::DropTableFull)
    );
    let mut again = from_client(44000, a(10), 80, ACK);
    assert_eq!(lb.handle(0, &mut again, 1), tx(Counter::NatIn));
}

#[test]
fn quiescent_server_gets_no_new_conns_but_keeps_its_own() {
    let (mut lb, publisher) = director(1024, "rr");
    let mut b = syn(45000, a(10), 80);
    lb.handle(0, &mut b, 1);
    let (busy, _) = ip_dst(&b);
    quiesce(&publisher, a(10), 80, busy);
    for port in 1..=9 {
        let mut n = syn(45000 + port, a(10), 80);
        lb.handle(0, &mut n, 2);
        assert_ne!(ip_dst(&n).0, busy, "weight 0 must get no new connection");
    }
    let mut old = from_client(45000, a(10), 80, ACK);
    assert_eq!(lb.handle(0, &mut old, 2), tx(Counter::NatIn));
    assert_eq!(ip_dst(&old).0, busy, "the existing connection continues");
}

#[test]
fn non_syn_without_conn_fragments_and_foreign_frames() {
    let (mut lb, _p) = director(1024, "rr");
    let mut b = from_client(46000, a(10), 80, RST);
    assert_eq!(
        lb.handle(0, &mut b, 1),
        LbVerdict::Drop(Counter::DropNoConn),
        "a RST without connection is never answered"
    );
    let mut other_mac = HeadroomBuf::new(&tcp(
        a(2),
        46001,
        a(10),
        80,
        SYN,
        [2, 0, 0, 0, 0, 0x77],
        CLIENT_MAC,
    ));
    assert_eq!(lb.handle(0, &mut other_mac, 1), LbVerdict::Pass);
    assert!(matches!(
        lb.handle(0, &mut fragment(46002, a(10), 80), 1),
        LbVerdict::Reassemble(_)
    ));
}

/// A segment that is not a SYN, to a VIP service, without a connection (e.g. after an
/// idle timeout): the RST the director's own stack sends under IPVS, so the client
/// fails fast (recorded: tests/fixtures/oracle/semantics, "noconn"); at most
/// `REPLIES_PER_SEC` a second per worker, the rest dropped as before.
#[test]
fn segment_without_connection_is_reset_within_a_budget() {
    use rvs::lb::xform::reply::REPLIES_PER_SEC;
    let (mut lb, _p) = director(1024, "rr");
    let mut b = from_client(46100, a(10), 80, ACK);
    let ack = TcpPacket::new_checked(&b.data()[34..])
        .unwrap()
        .ack_number();
    assert_eq!(lb.handle(0, &mut b, 1), tx(Counter::TxTcpReset));
    let f = EthernetFrame::new_checked(b.data()).unwrap();
    assert_eq!(f.dst_addr().0, CLIENT_MAC);
    let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
    assert!(ip.verify_checksum());
    assert_eq!((ip.src_addr(), ip.dst_addr()), (a(10), a(2)));
    let t = TcpPacket::new_checked(ip.payload()).unwrap();
    assert!(t.verify_checksum(a(10), a(2)));
    assert_eq!((t.src_port(), t.dst_port()), (80, 46100));
    assert!(t.rst() && !t.ack() && t.seq_number() == ack);
    for i in 1..REPLIES_PER_SEC {
        let mut b = from_client(46100, a(10), 80, ACK);
        assert!(
            matches!(lb.handle(0, &mut b, 1), LbVerdict::Tx { .. }),
            "{i}"
        );
    }
    let mut over = from_client(46100, a(10), 80, ACK);
    assert_eq!(
        lb.handle(0, &mut over, 1),
        LbVerdict::Drop(Counter::DropNoConn),
        "over the second's budget"
    );
    let mut next = from_client(46100, a(10), 80, ACK);
    assert!(matches!(lb.handle(0, &mut next, 2), LbVerdict::Tx { .. }));
}

/// No real server available for a new flow: ICMP port unreachable from the VIP, as
/// IPVS's `ip_vs_leave` (recorded for TCP and UDP: tests/fixtures/oracle/semantics).
#[test]
fn no_available_real_server_answers_port_unreachable() {
    let (mut lb, publisher) = director(1024, "rr");
    let table = publisher.services().clone();
    for (p, port) in [(proto::UDP, 53), (proto::TCP, 80)] {
        for d in table.lookup(p, a(10), port).unwrap().dests() {
            d.set_weight(0);
        }
    }
    for (mut b, len) in [(udp(46200, 53), 28), (syn(46201, a(10), 80), 40)] {
        assert_eq!(lb.handle(0, &mut b, 1), tx(Counter::TxIcmpPortUnreachable));
        let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!((ip.src_addr(), ip.dst_addr()), (a(10), a(2)));
        assert_eq!(ip.protocol(), rvs::wire::IpProtocol::Icmp);
        let icmp = rvs::wire::IcmpPacket::new_checked(ip.payload()).unwrap();
        assert!(icmp.verify_checksum());
        assert_eq!((u8::from(icmp.msg_type()), icmp.code()), (3, 3));
        assert_eq!(icmp.payload().len(), len, "the whole packet is quoted");
    }
}

/// IPVS `conn_reuse_mode` on DR (tests/fixtures/oracle/semantics, "reuse mode"): a
/// client's new SYN from the port of a connection it closed (FIN_WAIT: a DR director
/// sees only the client's side) stays on the old server with modes 0 and 1, and is
/// scheduled afresh with modes 2 and 3 (bit 2: FIN_WAIT of a DR/TUN entry).
#[test]
fn conn_reuse_mode_on_dr_as_recorded() {
    use rvs::lb::conn::Settings;
    const FINACK: u8 = 0x11;
    for (mode, rescheduled) in [(1u8, false), (3, true), (0, false), (2, true)] {
        let (mut lb, _p) = director(1024, "rr");
        lb.conns().set_settings(Settings {
            conn_reuse_mode: mode,
            ..Settings::default()
        });
        let sport = 41000 + u16::from(mode) * 10;
        let send = |lb: &mut rvs::dataplane::LbPath, flags: u8, t: u32| {
            let mut b = from_client(sport, a(20), 80, flags);
            assert_eq!(lb.handle(0, &mut b, t), tx(Counter::DrOut), "mode {mode}");
            EthernetFrame::new_checked(b.data()).unwrap().dst_addr().0
        };
        let first = send(&mut lb, SYN, 1);
        assert_eq!(send(&mut lb, ACK, 1), first);
        assert_eq!(send(&mut lb, FINACK, 1), first);
        let again = send(&mut lb, SYN, 2);
        assert_eq!(again != first, rescheduled, "mode {mode}");
    }
}

/// IPVS `sloppy_tcp`: any segment but a RST may create a connection (recorded: an ACK
/// to a DR service makes an ESTABLISHED entry; a RST makes none).
#[test]
fn sloppy_tcp_schedules_a_segment_without_syn() {
    use rvs::lb::conn::Settings;
    let (mut lb, _p) = director(1024, "rr");
    lb.conns().set_settings(Settings {
        sloppy_tcp: true,
        ..Settings::default()
    });
    let mut b = from_client(41101, a(20), 80, ACK);
    assert_eq!(lb.handle(0, &mut b, 1), tx(Counter::DrOut));
    assert_eq!(lb.conns_new, 1);
    let mut r = from_client(41102, a(20), 80, RST);
    assert_eq!(
        lb.handle(0, &mut r, 1),
        LbVerdict::Drop(Counter::DropNoConn)
    );
    assert_eq!(lb.conns_new, 1);
}

/// One-packet scheduling with persistence (tests/fixtures/oracle/ops_persist): the
/// template decides the server, so every datagram of a client goes to it, and no
/// datagram keeps a connection entry.
#[test]
fn one_packet_scheduling_with_persistence_follows_the_template() {
    use rvs::lb::service::{Persistence, ServiceConfig, ServiceKey};
    let (mut lb, mut manager) = director(1024, "rr");
    let key = ServiceKey::Addr {
        proto: proto::UDP,
        vip: a(10),
        vport: 5353,
    };
    let mut c = ServiceConfig::new(key);
    c.sched = "rr".into();
    c.ops = true;
    c.persistence = Some(Persistence {
        timeout_secs: 60,
        netmask: Ipv4Addr::BROADCAST,
    });
    manager.edit_service(c).unwrap();
    let mut servers = std::collections::BTreeSet::new();
    for sport in 40041..40047 {
        let mut b = udp(sport, 5353);
        assert_eq!(lb.handle(0, &mut b, 1), tx(Counter::NatIn));
        servers.insert(Ipv4Packet::new_checked(&b.data()[14..]).unwrap().dst_addr());
    }
    assert_eq!(
        servers.len(),
        1,
        "all to the template's server: {servers:?}"
    );
    assert_eq!(lb.conns_new, 0, "one-packet connections keep no entry");
}

/// `expire_nodest_conn` (tests/fixtures/oracle/semantics, section 7): the real server of
/// a DR connection is deleted. Off, the connection's packets are dropped and the entry
/// left to time out; on, the entry is expired, so the next ACK gets the director's RST
/// and a new SYN from the same port goes to another server.
#[test]
fn deleted_real_server_with_and_without_expire_nodest_conn() {
    use rvs::lb::conn::Settings;
    use rvs::lb::service::ServiceKey;
    for expire in [false, true] {
        let (mut lb, mut manager) = director(1024, "rr");
        lb.conns().set_settings(Settings {
            expire_nodest_conn: expire,
            ..Settings::default()
        });
        let sport = 41200 + u16::from(expire);
        let frame = |flags| from_client(sport, a(20), 80, flags);
        let mut b = frame(SYN);
        assert!(matches!(lb.handle(0, &mut b, 1), LbVerdict::Tx { .. }));
        let mac = EthernetFrame::new_checked(b.data()).unwrap().dst_addr().0;
        let rip = Ipv4Addr::new(203, 0, 113, mac[5]);
        let key = ServiceKey::Addr {
            proto: proto::TCP,
            vip: a(20),
            vport: 80,
        };
        manager.del_dest(&key, rip, 80).unwrap();
        let mut ack = frame(ACK);
        let want = if expire {
            Counter::TxTcpReset
        } else {
            Counter::DropDestUnavailable
        };
        let got = match lb.handle(0, &mut ack, 2) {
            LbVerdict::Tx { counter, .. } | LbVerdict::Drop(counter) => counter,
            other => panic!("{other:?}"),
        };
        assert_eq!(got, want, "expire_nodest_conn={expire}");
        let mut syn2 = frame(SYN);
        let v = lb.handle(0, &mut syn2, 2);
        if expire {
            assert!(matches!(v, LbVerdict::Tx { .. }));
            let mac2 = EthernetFrame::new_checked(syn2.data())
                .unwrap()
                .dst_addr()
                .0;
            assert_ne!(mac2, mac, "rescheduled to another server");
        } else {
            assert_eq!(v, LbVerdict::Drop(Counter::DropDestUnavailable));
        }
    }
}

/// `expire_quiescent_template` (tests/fixtures/oracle/semantics, section 8): with the
/// template's server at weight 0, a persistent client's new connection still goes to it
/// (setting off), or leaves it once the setting is on.
#[test]
fn quiescent_template_as_recorded() {
    use rvs::lb::conn::Settings;
    let (mut lb, publisher) = director(1024, "rr");
    let mut first = syn(41301, a(40), 443);
    assert!(matches!(lb.handle(0, &mut first, 1), LbVerdict::Tx { .. }));
    let server = ip_dst(&first).0;
    quiesce(&publisher, a(40), 443, server);
    let mut second = syn(41302, a(40), 443);
    assert!(matches!(lb.handle(0, &mut second, 2), LbVerdict::Tx { .. }));
    assert_eq!(ip_dst(&second).0, server, "the template still decides");
    lb.conns().set_settings(Settings {
        expire_quiescent_template: true,
        ..Settings::default()
    });
    let mut third = syn(41303, a(40), 443);
    assert!(matches!(lb.handle(0, &mut third, 3), LbVerdict::Tx { .. }));
    assert_ne!(
        ip_dst(&third).0,
        server,
        "the quiesced server's template is dropped"
    );
}

fn udp(sport: u16, dport: u16) -> HeadroomBuf {
    let mut f = tcp(a(2), sport, a(10), dport, 0, PORT_MAC, CLIENT_MAC);
    f.truncate(42);
    f[14 + 9] = proto::UDP;
    f[14 + 2..14 + 4].copy_from_slice(&28u16.to_be_bytes());
    Ipv4Packet::new_unchecked(&mut f[14..34]).fill_checksum();
    f[34..36].copy_from_slice(&sport.to_be_bytes());
    f[36..38].copy_from_slice(&dport.to_be_bytes());
    f[38..40].copy_from_slice(&8u16.to_be_bytes());
    f[40..42].copy_from_slice(&[0, 0]); // no UDP checksum
    HeadroomBuf::new(&f)
}

#[test]
fn one_packet_scheduling_schedules_every_datagram_and_keeps_no_entry() {
    let (mut lb, _p) = director(1024, "rr");
    let mut dests = Vec::new();
    for _ in 0..4 {
        let mut b = udp(49000, 5353);
        assert_eq!(lb.handle(0, &mut b, 1), tx(Counter::NatIn));
        dests.push(Ipv4Packet::new_checked(&b.data()[14..]).unwrap().dst_addr());
    }
    assert_ne!(
        dests[0], dests[1],
        "ops + rr: consecutive datagrams of one socket alternate"
    );
    assert_eq!(lb.conns_new, 0, "ops keeps no connection entry");
    // Without ops, one socket sticks to one server.
    let mut first = None;
    for _ in 0..3 {
        let mut b = udp(49001, 53);
        lb.handle(0, &mut b, 1);
        let d = Ipv4Packet::new_checked(&b.data()[14..]).unwrap().dst_addr();
        assert_eq!(*first.get_or_insert(d), d);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    /// No byte sequence panics the path (and state stays usable afterwards).
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
        let (mut lb, _p) = director(64, "wlc");
        let mut b = HeadroomBuf::new(&bytes);
        let _ = lb.handle(0, &mut b, 1);
        let mut s = syn(47000, a(10), 80);
        prop_assert_eq!(lb.handle(0, &mut s, 1), tx(Counter::NatIn));
    }

    /// Mutating any byte of a valid SYN never panics.
    #[test]
    fn mutated_syns_never_panic(pos in 0usize..54, val in any::<u8>(), cut in 0usize..55) {
        let (mut lb, _p) = director(64, "rr");
        let mut f = tcp(a(2), 48000, a(10), 80, SYN, PORT_MAC, CLIENT_MAC);
        f[pos] = val;
        f.truncate(cut.max(1));
        let _ = lb.handle(0, &mut HeadroomBuf::new(&f), 1);
    }
}

/// Passive detection on the worker's path: failed openings are counted in the
/// worker's block of the real server's stats (a NAT server's RST to the SYN, the
/// client's SYN sent again with no answer, an unanswered NAT entry that expires; a
/// DR client's SYN sent again), and nothing else is.
#[test]
fn failed_openings_are_counted_per_real_server() {
    let (mut lb, publisher) = director(1024, "rr");
    let failures = |vip: Ipv4Addr, rip: Ipv4Addr| {
        let table = publisher.services().clone();
        let svc = table.lookup(proto::TCP, vip, 80).unwrap();
        let i = svc.dests().iter().position(|d| d.addr == rip).unwrap();
        svc.dest_stats()[i].failed_openings()
    };
    // NAT: the real server resets the SYN.
    let mut b = syn(42000, a(10), 80);
    assert_eq!(lb.handle(0, &mut b, 1), tx(Counter::NatIn));
    let (rst_rip, _) = ip_dst(&b);
    let mut r = from_server(rst_rip, 42000, RST | ACK);
    assert_eq!(lb.handle(0, &mut r, 1), tx(Counter::NatOut));
    assert_eq!(failures(a(10), rst_rip), 1);
    // NAT: an answered connection is no failure.
    let mut b = syn(42001, a(10), 80);
    lb.handle(0, &mut b, 1);
    let (ok_rip, _) = ip_dst(&b);
    assert_ne!(ok_rip, rst_rip, "rr");
    lb.handle(0, &mut from_server(ok_rip, 42001, SYNACK), 1);
    lb.handle(0, &mut from_client(42001, a(10), 80, ACK), 1);
    assert_eq!(failures(a(10), ok_rip), 0);
    // NAT: the client sends its SYN again a second later, nothing came back.
    let mut b = syn(42002, a(10), 80);
    lb.handle(0, &mut b, 1);
    let (silent_rip, _) = ip_dst(&b);
    assert_eq!(
        lb.handle(0, &mut syn(42002, a(10), 80), 2),
        tx(Counter::NatIn)
    );
    assert_eq!(failures(a(10), silent_rip), 1);
    // DR: the client's SYN again.
    let mut b = syn(42004, a(20), 80);
    assert_eq!(lb.handle(0, &mut b, 2), tx(Counter::DrOut));
    let mac = EthernetFrame::new_checked(b.data()).unwrap().dst_addr().0[5];
    let dr_rip = a(mac);
    assert_eq!(
        lb.handle(0, &mut syn(42004, a(20), 80), 3),
        tx(Counter::DrOut)
    );
    assert_eq!(failures(a(20), dr_rip), 1);
    // NAT: a SYN never sent again whose entry expires (SYN_RECV, 60 s): the sweep.
    let mut b = syn(42003, a(10), 80);
    lb.handle(0, &mut b, 3);
    let (expired_rip, _) = ip_dst(&b);
    let before = failures(a(10), expired_rip);
    lb.sweep(62, 1024);
    assert_eq!(failures(a(10), expired_rip), before, "not due at 62");
    lb.sweep(63, 1024);
    assert_eq!(failures(a(10), expired_rip), before + 1);
    // The whole service: exactly the four NAT failures and the DR one.
    let total = |vip| -> u64 { [11, 12, 13].map(|d| failures(vip, a(d))).iter().sum() };
    assert_eq!((total(a(10)), total(a(20))), (3, 1));
}
