//! Connection-table ids of deleted real servers are recycled (see `lb/conn/dests.rs` and
//! `mgmt::Manager`): only once no worker can schedule the dest (every service snapshot
//! that held it was reclaimed), no connection or template counts on it, and it sat
//! unused in the trash for IPVS's `IP_VS_DEST_TRASH_PERIOD`. Driven through the real LB
//! path of the DPDK-free testbed.

use rvs::dataplane::{Counter, LbVerdict, Views};
use rvs::lb::conn::{DestId, NewConn, TcpFlags};
use rvs::lb::dest::Fwd;
use rvs::lb::flow::proto;
use rvs::lb::flow::FlowKey;
use rvs::lb::service::{DestConfig, ServiceConfig, ServiceKey};
use rvs::mgmt::{Manager, DEST_TRASH_PERIOD};
use rvs::testkit::testbed::{director, tcp_frame, CLIENT_MAC, PORT_MAC};
use rvs::wire::{HeadroomBuf, Ipv4Packet, PacketBuf, TcpPacket};
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;

fn a(d: u8) -> Ipv4Addr {
    Ipv4Addr::new(203, 0, 113, d)
}

/// A NAT rr service on the testbed VIP 203.0.113.10, port 81, with no dests.
fn service(mgr: &mut Manager) -> ServiceKey {
    let k = ServiceKey::Addr {
        proto: proto::TCP,
        vip: a(10),
        vport: 81,
    };
    let mut sc = ServiceConfig::new(k);
    sc.sched = "rr".into();
    mgr.add_service(sc).unwrap();
    k
}

fn nat(addr: Ipv4Addr, port: u16) -> DestConfig {
    DestConfig {
        fwd: Fwd::Nat,
        ..DestConfig::new(addr, port)
    }
}

fn client(sport: u16, flags: u8) -> HeadroomBuf {
    HeadroomBuf::new(&tcp_frame(
        a(2),
        sport,
        a(10),
        81,
        flags,
        PORT_MAC,
        CLIENT_MAC,
    ))
}

fn ip_dst(b: &HeadroomBuf) -> (Ipv4Addr, u16) {
    let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
    let t = TcpPacket::new_checked(ip.payload()).unwrap();
    (ip.dst_addr(), t.dst_port())
}

fn id_of(mgr: &Manager, k: &ServiceKey, addr: Ipv4Addr, port: u16) -> DestId {
    let svc = mgr.services().get(k).unwrap().clone();
    let d = svc
        .dests()
        .iter()
        .find(|d| d.addr == addr && d.port == port);
    DestId(d.expect("dest").table_id().unwrap())
}

/// 70 000 distinct real servers (more than the 65 536 ids) are added, get a connection,
/// are deleted and expire, one after the other: never `TooManyDests`, and the ids in
/// use stay few.
#[test]
fn more_distinct_servers_than_ids_come_and_go() {
    let (mut lb, mut mgr) = director(64, "rr");
    let k = service(&mut mgr);
    let t0 = Instant::now();
    let mut now = 10u32;
    let mut top = 0;
    for i in 0..70_000u32 {
        let (addr, port) = (a(100 + (i % 100) as u8), 1000 + (i / 100) as u16);
        lb.net()
            .neigh()
            .learn(addr, [2, 0, 0, 0, 0, addr.octets()[3]], now);
        mgr.add_dest(&k, &nat(addr, port))
            .unwrap_or_else(|e| panic!("server {i}: {e}"));
        top = top.max(id_of(&mgr, &k, addr, port).index());
        let mut syn = client(1024 + (i % 60_000) as u16, SYN);
        assert!(matches!(lb.handle(0, &mut syn, now), LbVerdict::Tx { .. }));
        assert_eq!(ip_dst(&syn), (addr, port), "server {i}");
        mgr.del_dest(&k, addr, port).unwrap();
        now += 200; // past every SYN_RECV / CLOSE timeout
        lb.sweep(now, 64);
        lb.refresh();
        mgr.tick(t0 + (DEST_TRASH_PERIOD + Duration::from_secs(1)) * (i + 1));
    }
    assert!(
        top < 32,
        "ids are reused (the testbed holds 18), highest {top}"
    );
}

/// A worker that has not refreshed still holds the service table with a deleted dest,
/// so that dest's id is not recycled however long the manager waits; the worker can
/// still schedule it, and the connection it makes there keeps the dest (and its id)
/// after the worker refreshed. Only when that connection is gone and the trash period
/// passed does the id go to a new server, in a new generation that the old id never
/// reaches.
#[test]
fn a_worker_on_an_old_snapshot_keeps_a_deleted_dest_and_its_id() {
    let (mut lb, mut mgr) = director(64, "rr");
    let k = service(&mut mgr);
    let (old, port) = (a(11), 8081);
    mgr.add_dest(&k, &nat(old, port)).unwrap();
    // Worker B: its views, not refreshed while the manager works.
    let mut b = mgr.lb_views().unwrap();
    let old_id = id_of(&mgr, &k, old, port);
    mgr.del_dest(&k, old, port).unwrap();
    mgr.add_dest(&k, &nat(a(12), port)).unwrap();
    lb.refresh();
    let t0 = Instant::now();
    let mut t = t0;
    for _ in 0..3 {
        t += DEST_TRASH_PERIOD * 2;
        mgr.tick(t);
    }
    assert_eq!(
        mgr.trashed(),
        1,
        "worker B still holds the table with the dest"
    );
    assert!(mgr.conns().dest(old_id).is_some(), "not recycled");
    assert_ne!(id_of(&mgr, &k, a(12), port).index(), old_id.index());

    // Worker B schedules from its old table, as a worker mid-loop does.
    let flow = FlowKey {
        proto: proto::TCP,
        saddr: a(2),
        sport: 40000,
        daddr: a(10),
        dport: 81,
    };
    let svc = b.services.table().get(&k).unwrap().clone();
    let (_, d) = svc.schedule(&flow).unwrap();
    assert_eq!(d.addr, old);
    let id = DestId(d.table_id().unwrap());
    assert_eq!(id, old_id);
    let dest = b.conns.dest(id).expect("still registered");
    let new = NewConn {
        proto: proto::TCP,
        caddr: a(2),
        cport: 40000,
        vaddr: a(10),
        vport: 81,
        raddr: dest.addr,
        rport: dest.port,
        fwd: dest.fwd,
        dest: id,
    };
    drop(dest);
    b.conns.insert(&new, TcpFlags::SYN, None, 10).unwrap();
    b.services.refresh();
    drop(svc);
    for _ in 0..3 {
        t += DEST_TRASH_PERIOD * 2;
        mgr.tick(t);
    }
    assert_eq!(mgr.trashed(), 1, "its connection keeps it");
    // Its next packet is still the deleted server's (dropped: expire_nodest_conn off).
    let mut ack = client(40000, ACK);
    assert_eq!(
        lb.handle(0, &mut ack, 11),
        LbVerdict::Drop(Counter::DropDestUnavailable)
    );

    // The connection expires; one trash period later the id is recycled.
    lb.sweep(300, 64);
    t += Duration::from_secs(1);
    mgr.tick(t);
    assert_eq!(mgr.trashed(), 1, "idle, but not yet for a trash period");
    t += DEST_TRASH_PERIOD;
    mgr.tick(t);
    assert_eq!(mgr.trashed(), 0);
    assert!(mgr.conns().dest(old_id).is_none(), "released");
    lb.net().neigh().learn(a(13), [2, 0, 0, 0, 0, 13], 300);
    mgr.add_dest(&k, &nat(a(13), port)).unwrap();
    let reused = id_of(&mgr, &k, a(13), port);
    assert_eq!(reused.index(), old_id.index(), "the slot is reused");
    assert_ne!(reused, old_id, "in a new generation");
    assert!(
        mgr.conns().dest(old_id).is_none(),
        "the old id never finds the new dest"
    );
}

/// `-e` with another forwarding method replaces the dest (its connections keep the old
/// method); the replaced dest's id is recycled once nothing reaches it, so 70 000 method
/// changes never run out of ids.
#[test]
fn dests_replaced_by_a_method_change_give_their_ids_back() {
    let (mut lb, mut mgr) = director(64, "rr");
    let k = service(&mut mgr);
    // DR and TUN dests of an address service get the service port.
    let dr = DestConfig::new(a(11), 81);
    mgr.add_dest(&k, &dr).unwrap();
    let t0 = Instant::now();
    for i in 0..70_000u32 {
        let fwd = if i % 2 == 0 { Fwd::Tun } else { Fwd::Dr };
        mgr.edit_dest(&k, &DestConfig { fwd, ..dr })
            .unwrap_or_else(|e| panic!("change {i}: {e}"));
        lb.refresh();
        mgr.tick(t0 + (DEST_TRASH_PERIOD + Duration::from_secs(1)) * (i + 1));
    }
    let idx = id_of(&mgr, &k, a(11), 81).index();
    assert!(
        idx < 32,
        "ids are reused (the testbed holds 18), highest {idx}"
    );
}
