//! Persistence template tests (IPVSADM.md §8).

use std::net::Ipv4Addr;
use std::sync::Arc;

use super::super::{ConnError, ConnTable, DestId, Lookup, NewConn, Settings, TcpFlags};
use super::*;
use crate::lb::dest::{Dest, Fwd};
use crate::lb::flow::{proto, FlowKey};

const VIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const MASK24: Ipv4Addr = Ipv4Addr::new(255, 255, 255, 0);

fn setup() -> (ConnTable, Vec<(Arc<Dest>, DestId)>) {
    let t = ConnTable::new(64).unwrap();
    let ds = (1..=2)
        .map(|i| {
            let d = Arc::new(Dest::new(Ipv4Addr::new(192, 0, 2, i), 443, Fwd::Nat, 1));
            let id = t.register_dest(&d).unwrap();
            (d, id)
        })
        .collect();
    (t, ds)
}

fn client(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(198, 51, 100, last)
}

fn conn(c: Ipv4Addr, cport: u16, d: &Dest, id: DestId) -> NewConn {
    NewConn {
        proto: proto::TCP,
        caddr: c,
        cport,
        vaddr: VIP,
        vport: 443,
        raddr: d.addr,
        rport: 443,
        fwd: Fwd::Nat,
        dest: id,
    }
}

#[test]
fn key_masks_client_and_fwmark_uses_proto_0() {
    let k = TemplateKey::new(proto::TCP, client(77), MASK24, VIP, 443);
    assert_eq!(k.caddr, Ipv4Addr::new(198, 51, 100, 0));
    let f = TemplateKey::fwmark(client(77), Ipv4Addr::BROADCAST, 1);
    assert_eq!(
        (f.proto, f.vaddr, f.vport),
        (0, Ipv4Addr::new(0, 0, 0, 1), 0)
    );
}

#[test]
fn miss_insert_hit_same_network() {
    let (t, ds) = setup();
    let (d1, id1) = &ds[0];
    let k = TemplateKey::new(proto::TCP, client(7), MASK24, VIP, 443);
    assert!(t.template_lookup(&k, 0).is_none());
    let tpl = t.template_insert(&k, *id1, 443, 360, 0).unwrap();
    assert_eq!(d1.persistent_conns(), 1);
    // Another client of the same /24 finds it.
    let k2 = TemplateKey::new(proto::TCP, client(200), MASK24, VIP, 443);
    let hit = t.template_lookup(&k2, 10).unwrap();
    assert_eq!((hit.template, hit.dest, hit.rport), (tpl, *id1, 443));
    // Other port, other protocol, other VIP: no.
    assert!(t
        .template_lookup(
            &TemplateKey::new(proto::TCP, client(7), MASK24, VIP, 80),
            10
        )
        .is_none());
    assert!(t
        .template_lookup(
            &TemplateKey::new(proto::UDP, client(7), MASK24, VIP, 443),
            10
        )
        .is_none());
    // A template is not a connection: packet lookups never see it.
    let pkt = FlowKey {
        proto: proto::TCP,
        saddr: Ipv4Addr::new(198, 51, 100, 0),
        sport: 0,
        daddr: VIP,
        dport: 443,
    };
    assert_eq!(t.lookup(&pkt, TcpFlags::ACK, 10), Lookup::Miss);
    // Listing shows it as NONE with client port 0.
    let row = t
        .snapshot(10)
        .iter()
        .map(|e| e.ipvsadm_row())
        .next()
        .unwrap();
    assert_eq!(
        row,
        "TCP 05:50  NONE        198.51.100.0:0     203.0.113.1:443    192.0.2.1:443"
    );
    assert_eq!(
        t.template_insert(&k, *id1, 443, 360, 10),
        Err(ConnError::Exists(tpl))
    );
}

#[test]
fn new_conn_rearms_and_template_outlives_its_conns() {
    let (t, ds) = setup();
    let (d1, id1) = &ds[0];
    let k = TemplateKey::new(proto::TCP, client(7), Ipv4Addr::BROADCAST, VIP, 443);
    let tpl = t.template_insert(&k, *id1, 443, 100, 0).unwrap();
    // A connection at t=50 re-arms the template to 50 + 100.
    let h = t
        .insert(&conn(client(7), 1, d1, *id1), TcpFlags::SYN, Some(tpl), 50)
        .unwrap();
    t.lookup(
        &FlowKey {
            proto: proto::TCP,
            saddr: client(7),
            sport: 1,
            daddr: VIP,
            dport: 443,
        },
        TcpFlags::ACK,
        50,
    );
    assert_eq!(t.template_controls(tpl), Some(1));
    let tpl_state = |t: &ConnTable, now| {
        t.snapshot(now)
            .iter()
            .find(|e| e.cport == 0)
            .unwrap()
            .state
            .name()
    };
    assert_eq!(tpl_state(&t, 50), "ASSURED");
    assert!(t.template_lookup(&k, 149).is_some());
    // At 150 the timer runs out but the connection (ESTABLISHED till 950) is
    // alive: the template is re-armed for 60 s, not removed.
    assert_eq!(t.sweep(150, 64), 0);
    assert_eq!(t.template_controls(tpl), Some(1));
    let left = t
        .snapshot(150)
        .iter()
        .find(|e| e.cport == 0)
        .unwrap()
        .expire_secs;
    assert_eq!(left, 60);
    // The connection ends; the template stays until its own timer...
    assert!(t.expire_now(h.conn));
    assert_eq!(t.template_controls(tpl), Some(0));
    assert!(t.template_lookup(&k, 209).is_some());
    // ...then goes.
    assert_eq!(t.sweep(210, 64), 1);
    assert!(t.template_lookup(&k, 210).is_none());
    assert_eq!(d1.persistent_conns(), 0);
    assert_eq!(t.count(), 0);
}

#[test]
fn lazy_lookup_rearms_template_with_live_conns() {
    let (t, ds) = setup();
    let (d1, id1) = &ds[0];
    let k = TemplateKey::new(proto::UDP, client(9), Ipv4Addr::BROADCAST, VIP, 443);
    let tpl = t.template_insert(&k, *id1, 443, 30, 0).unwrap();
    let mut c = conn(client(9), 5, d1, *id1);
    c.proto = proto::UDP;
    t.insert(&c, TcpFlags::NONE, Some(tpl), 0).unwrap(); // UDP alive till 300
    assert_eq!(t.template_lookup(&k, 31).map(|h| h.template), Some(tpl));
}

#[test]
fn deleted_dest_invalidates_template() {
    let (t, ds) = setup();
    let (d1, id1) = &ds[0];
    let (_d2, id2) = &ds[1];
    let k = TemplateKey::new(proto::TCP, client(7), Ipv4Addr::BROADCAST, VIP, 443);
    let old = t.template_insert(&k, *id1, 443, 100, 0).unwrap();
    t.insert(&conn(client(7), 1, d1, *id1), TcpFlags::SYN, Some(old), 0)
        .unwrap();
    d1.set_unavailable();
    assert!(t.template_lookup(&k, 1).is_none());
    // The caller schedules again and makes a new template; the old one lingers
    // (still counted as PersistConn of the old dest) until it may expire.
    let new = t.template_insert(&k, *id2, 443, 100, 1).unwrap();
    assert_eq!(t.template_lookup(&k, 2).map(|h| h.dest), Some(*id2));
    assert_ne!(new, old);
    assert_eq!(d1.persistent_conns(), 1);
    // The SYN_RECV connection expires at 60; the old template at 100 (no
    // connection left), the new one at 101.
    assert_eq!(t.sweep(60, 64), 1);
    assert_eq!(t.sweep(100, 64), 1);
    assert_eq!(d1.persistent_conns(), 0);
    assert_eq!(t.sweep(101, 64), 1);
    assert_eq!(t.count(), 0);
}

#[test]
fn quiescent_dest_keeps_template_unless_setting() {
    let (t, ds) = setup();
    let (d1, id1) = &ds[0];
    let k = TemplateKey::new(proto::TCP, client(7), Ipv4Addr::BROADCAST, VIP, 443);
    t.template_insert(&k, *id1, 443, 100, 0).unwrap();
    d1.set_weight(0);
    assert!(t.template_lookup(&k, 1).is_some());
    t.set_settings(Settings {
        expire_quiescent_template: true,
        ..Settings::default()
    });
    assert!(t.template_lookup(&k, 1).is_none());
}

#[test]
fn insert_under_expired_template_is_refused() {
    let (t, ds) = setup();
    let (d1, id1) = &ds[0];
    let k = TemplateKey::new(proto::TCP, client(7), Ipv4Addr::BROADCAST, VIP, 443);
    let tpl = t.template_insert(&k, *id1, 443, 10, 0).unwrap();
    assert_eq!(t.sweep(10, 64), 1);
    assert_eq!(
        t.insert(&conn(client(7), 1, d1, *id1), TcpFlags::SYN, Some(tpl), 10),
        Err(ConnError::TemplateGone)
    );
    assert_eq!(t.count(), 0);
    assert_eq!(d1.inactive_conns(), 0);
}
