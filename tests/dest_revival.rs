//! A real server deleted and re-added is the same server again, as in IPVS
//! (`ip_vs_trash_get_dest`): the management thread (`mgmt::Manager`) keeps deleted dests
//! in a trash and `-a` revives the same object, so its connections and persistence
//! templates resume on it and health-check flapping consumes no connection-table id.
//! Driven through the real LB path of the DPDK-free testbed.

use rvs::dataplane::{Counter, LbVerdict};
use rvs::lb::dest::{Dest, Fwd};
use rvs::lb::flow::proto;
use rvs::lb::service::{DestConfig, ServiceKey};
use rvs::mgmt::Manager;
use rvs::testkit::testbed::{self, director};
use rvs::wire::{HeadroomBuf, Ipv4Packet, PacketBuf, TcpPacket};
use std::net::Ipv4Addr;
use std::sync::Arc;

const SYN: u8 = 0x02;
const ACK: u8 = 0x10;
const SYNACK: u8 = 0x12;

fn a(d: u8) -> Ipv4Addr {
    Ipv4Addr::new(203, 0, 113, d)
}

fn key(vip: Ipv4Addr, vport: u16) -> ServiceKey {
    ServiceKey::Addr {
        proto: proto::TCP,
        vip,
        vport,
    }
}

fn nat(addr: Ipv4Addr, port: u16) -> DestConfig {
    DestConfig {
        fwd: Fwd::Nat,
        ..DestConfig::new(addr, port)
    }
}

fn client(sport: u16, vip: Ipv4Addr, vport: u16, flags: u8) -> HeadroomBuf {
    testbed::client_tcp(sport, vip, vport, flags)
}

fn ip_dst(b: &HeadroomBuf) -> (Ipv4Addr, u16) {
    let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
    let t = TcpPacket::new_checked(ip.payload()).unwrap();
    (ip.dst_addr(), t.dst_port())
}

fn dest_of(mgr: &Manager, k: &ServiceKey, addr: Ipv4Addr) -> Arc<Dest> {
    let svc = mgr.services().get(k).unwrap().clone();
    let d = svc.dests().iter().find(|d| d.addr == addr).cloned();
    d.expect("dest in service")
}

/// An ESTABLISHED NAT connection survives its server's `-d` + `-a`: its packets are
/// dropped while the server is deleted and flow to it again once it is re-added, on
/// the same `Dest` object (same table id, its ActiveConn still counting the connection).
/// Also across `-D` + `-A` of the whole service.
#[test]
fn deleted_then_re_added_server_resumes_its_connections() {
    for whole_service in [false, true] {
        let (mut lb, mut mgr) = director(1024, "rr");
        let k = key(a(10), 80);
        let sport = 40100 + u16::from(whole_service);
        let mut syn = client(sport, a(10), 80, SYN);
        assert!(matches!(lb.handle(0, &mut syn, 1), LbVerdict::Tx { .. }));
        let (rip, rport) = ip_dst(&syn);
        let mut synack = testbed::server_tcp(rip, rport, sport, SYNACK);
        assert!(matches!(lb.handle(0, &mut synack, 1), LbVerdict::Tx { .. }));
        let mut ack = client(sport, a(10), 80, ACK);
        assert!(matches!(lb.handle(0, &mut ack, 1), LbVerdict::Tx { .. }));
        let before = dest_of(&mgr, &k, rip);
        assert_eq!(before.active_conns(), 1, "ESTABLISHED");

        if whole_service {
            let config = mgr.services().get(&k).unwrap().config().clone();
            let others: Vec<_> = mgr.services().get(&k).unwrap().dests().to_vec();
            mgr.del_service(&k).unwrap();
            assert_eq!(mgr.trashed(), 3, "-D trashes every dest");
            mgr.add_service(config).unwrap();
            for d in others.iter().filter(|d| d.addr != rip) {
                mgr.add_dest(&k, &nat(d.addr, d.port)).unwrap();
            }
        } else {
            mgr.del_dest(&k, rip, rport).unwrap();
            assert_eq!(mgr.trashed(), 1);
        }
        let mut ack = client(sport, a(10), 80, ACK);
        assert_eq!(
            lb.handle(0, &mut ack, 2),
            LbVerdict::Drop(Counter::DropDestUnavailable),
            "deleted server: its connection's packets are dropped"
        );

        mgr.add_dest(&k, &nat(rip, rport)).unwrap();
        let after = dest_of(&mgr, &k, rip);
        assert!(Arc::ptr_eq(&before, &after), "the same dest, revived");
        assert_eq!(after.table_id(), before.table_id());
        assert!(after.is_available());
        assert_eq!(after.active_conns(), 1, "its connection still counts on it");
        assert_eq!(mgr.trashed(), 0);
        // As IPVS's `__ip_vs_update_dest`: the dest's stats carry on when it returns to
        // its service and restart from 0 when it joins a new incarnation of it.
        let svc = mgr.services().get(&k).unwrap().clone();
        let i = svc.dests().iter().position(|d| d.addr == rip).unwrap();
        let stats = svc.dest_stats()[i].clone();
        assert!(
            Arc::ptr_eq(&stats, &after.stats().unwrap().1),
            "listed = counted"
        );
        assert!(Arc::ptr_eq(svc.stats(), &after.stats().unwrap().0));
        let want = if whole_service { 0 } else { 2 }; // SYN, ACK
        assert_eq!(stats.sum().in_pkts, want, "whole_service={whole_service}");
        let mut ack = client(sport, a(10), 80, ACK);
        assert!(
            matches!(lb.handle(0, &mut ack, 3), LbVerdict::Tx { .. }),
            "whole_service={whole_service}"
        );
        assert_eq!(ip_dst(&ack), (rip, rport), "to the same server again");
        assert_eq!(stats.sum().in_pkts, want + 1, "counted on the listed dest");
        assert_eq!(svc.stats().sum().in_pkts, want + 1, "and on its service");
    }
}

/// A persistent client's template survives its server's `-d` + `-a`: its next
/// connection goes to the same server, whose PersistConn still counts the template.
#[test]
fn persistent_client_returns_to_the_re_added_server() {
    let (mut lb, mut mgr) = director(1024, "rr");
    let k = key(a(40), 443);
    let mut first = client(41001, a(40), 443, SYN);
    assert!(matches!(lb.handle(0, &mut first, 1), LbVerdict::Tx { .. }));
    let (rip, rport) = ip_dst(&first);
    let before = dest_of(&mgr, &k, rip);
    assert_eq!(before.persistent_conns(), 1);
    mgr.del_dest(&k, rip, rport).unwrap();
    mgr.add_dest(&k, &nat(rip, rport)).unwrap();
    let after = dest_of(&mgr, &k, rip);
    assert!(Arc::ptr_eq(&before, &after), "the same dest, revived");
    assert_eq!(
        after.persistent_conns(),
        1,
        "the template still points at it"
    );
    for sport in 41002..41006 {
        let mut b = client(sport, a(40), 443, SYN);
        assert!(matches!(lb.handle(0, &mut b, 2), LbVerdict::Tx { .. }));
        assert_eq!(ip_dst(&b).0, rip, "the template pins the client");
    }
}

/// Health checks flap a server: 100 000 `-d` + `-a` of the same server consume no
/// connection-table id (the table holds 65 536), and a new server afterwards gets the
/// next id as if nothing had happened.
#[test]
fn flapping_a_server_consumes_no_table_id() {
    let (_net, mut mgr) = testbed::setup(64, "rr");
    let k = key(a(10), 80);
    let max_id = mgr
        .services()
        .services()
        .iter()
        .flat_map(|s| s.dests().iter().map(|d| d.table_id().unwrap()))
        .max()
        .unwrap();
    let first = dest_of(&mgr, &k, a(11));
    for i in 0..100_000u32 {
        mgr.del_dest(&k, a(11), 8080).unwrap();
        let mut d = nat(a(11), 8080);
        d.weight = 1 + (i % 3) as i32;
        mgr.add_dest(&k, &d).unwrap();
    }
    let last = dest_of(&mgr, &k, a(11));
    assert!(Arc::ptr_eq(&first, &last));
    assert_eq!(
        last.weight(),
        1,
        "settings from the last -a (99 999 % 3 = 0)"
    );
    mgr.add_dest(&k, &nat(a(14), 8080)).unwrap();
    assert_eq!(dest_of(&mgr, &k, a(14)).table_id(), Some(max_id + 1));
}

/// Re-added with another forwarding method, the server is a new dest (rvs keeps the
/// method per dest; see `Manager::add_dest`), and the old one stays in the trash.
#[test]
fn re_added_with_another_method_is_a_new_dest() {
    let (_net, mut mgr) = testbed::setup(64, "rr");
    let k = key(a(10), 80);
    let before = dest_of(&mgr, &k, a(11));
    mgr.del_dest(&k, a(11), 8080).unwrap();
    let mut d = DestConfig::new(a(11), 80);
    d.fwd = Fwd::Dr;
    mgr.add_dest(&k, &d).unwrap();
    let after = dest_of(&mgr, &k, a(11));
    assert!(!Arc::ptr_eq(&before, &after));
    assert_eq!(after.fwd, Fwd::Dr);
    assert!(!before.is_available());
    assert_eq!(mgr.trashed(), 1);
}
