//! Several threads use one ConnTable at once: inserting, looking up from both
//! directions, racing on the same new flows, expiring and sweeping. Afterwards
//! nothing is lost or doubled and each dest's active/inactive/persistent
//! counters equal a recount of the table.

use std::net::Ipv4Addr;
use std::sync::Arc;
use std::thread;

use rvs::lb::conn::{
    ConnError, ConnState, ConnTable, DestId, Lookup, NewConn, TcpFlags, TcpState, TemplateKey,
};
use rvs::lb::dest::{Dest, Fwd};
use rvs::lb::flow::{proto, FlowKey};

const VIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const THREADS: u32 = 4;
const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const FIN: TcpFlags = TcpFlags(0x11);

fn dests(t: &ConnTable, n: u8) -> Vec<(Arc<Dest>, DestId)> {
    (0..n)
        .map(|i| {
            let d = Arc::new(Dest::new(Ipv4Addr::new(192, 0, 2, 10 + i), 80, Fwd::Nat, 1));
            let id = t.register_dest(&d).unwrap();
            (d, id)
        })
        .collect()
}

fn client(i: u32) -> (Ipv4Addr, u16) {
    (Ipv4Addr::from(0xC633_6400 | (i >> 16)), (i & 0xFFFF) as u16)
}

fn new_conn(i: u32, ds: &[(Arc<Dest>, DestId)]) -> NewConn {
    let (caddr, cport) = client(i);
    let (d, id) = &ds[i as usize % ds.len()];
    NewConn {
        proto: proto::TCP,
        caddr,
        cport,
        vaddr: VIP,
        vport: 80,
        raddr: d.addr,
        rport: 80,
        fwd: Fwd::Nat,
        dest: *id,
    }
}

fn inbound(c: &NewConn) -> FlowKey {
    FlowKey {
        proto: c.proto,
        saddr: c.caddr,
        sport: c.cport,
        daddr: VIP,
        dport: 80,
    }
}

fn reply(c: &NewConn) -> FlowKey {
    FlowKey {
        proto: c.proto,
        saddr: c.raddr,
        sport: 80,
        daddr: c.caddr,
        dport: c.cport,
    }
}

/// Recount active/inactive/templates per dest address from a snapshot and
/// compare with the dests' counters. Pass a `now` before every timer's end:
/// the listing hides entries whose timer ran out but that no sweep or lookup
/// has reclaimed yet, while their dest still counts them.
fn assert_accounting(t: &ConnTable, ds: &[(Arc<Dest>, DestId)], now: u32) {
    let snap = t.snapshot(now);
    for (d, _) in ds {
        let mine = snap.iter().filter(|e| e.raddr == d.addr);
        let (mut act, mut inact, mut tpl) = (0, 0, 0);
        for e in mine {
            match e.state {
                ConnState::Tcp(TcpState::Established) => act += 1,
                ConnState::Template { .. } => tpl += 1,
                _ => inact += 1,
            }
        }
        assert_eq!(
            (d.active_conns(), d.inactive_conns(), d.persistent_conns()),
            (act, inact, tpl),
            "dest {}",
            d.addr
        );
    }
}

#[test]
fn racing_inserts_of_the_same_flows_make_one_entry_each() {
    let t = ConnTable::new(50_000).unwrap();
    let ds = dests(&t, 3);
    let n = 20_000u32;
    let created: Vec<u32> = thread::scope(|s| {
        let hs: Vec<_> = (0..THREADS)
            .map(|k| {
                let (t, ds) = (&t, &ds);
                s.spawn(move || {
                    let mut made = 0;
                    // Every thread tries every flow, each starting elsewhere.
                    for j in 0..n {
                        let i = (j + k * n / THREADS) % n;
                        let c = new_conn(i, ds);
                        match t.lookup(&inbound(&c), SYN, 0) {
                            Lookup::Hit(_) => {}
                            Lookup::Miss => match t.insert(&c, SYN, None, 0) {
                                Ok(_) => made += 1,
                                Err(ConnError::Exists(_)) => {}
                                Err(e) => panic!("{e}"),
                            },
                            other => panic!("{other:?}"),
                        }
                        // Reply seen by whichever thread: SYN-ACK, then the client's ACK.
                        assert!(matches!(
                            t.lookup(&reply(&c), TcpFlags(0x12), 0),
                            Lookup::Hit(_)
                        ));
                        assert!(matches!(t.lookup(&inbound(&c), ACK, 0), Lookup::Hit(_)));
                    }
                    made
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(
        created.iter().sum::<u32>(),
        n,
        "per-thread creations {created:?}"
    );
    assert_eq!(t.count(), n as usize);
    for i in 0..n {
        let c = new_conn(i, &ds);
        let h = t.find(&inbound(&c), 0).expect("entry lost");
        assert_eq!(h.state, ConnState::Tcp(TcpState::Established));
        assert!(t.find(&reply(&c), 0).is_some());
    }
    assert_accounting(&t, &ds, 0);
    assert_eq!(ds.iter().map(|(d, _)| d.active_conns()).sum::<u32>(), n);
}

#[test]
fn churn_with_lookups_expiry_and_sweeps_keeps_counts_exact() {
    let t = ConnTable::new(4_096).unwrap();
    let ds = dests(&t, 4);
    let rounds = 40u32;
    let per_round = 400u32;
    thread::scope(|s| {
        for k in 0..THREADS {
            let (t, ds) = (&t, &ds);
            s.spawn(move || {
                for r in 0..rounds {
                    let now = r * 100; // every round, older entries time out
                    for j in 0..per_round {
                        let i = (k << 24) | (r << 12) | j;
                        let c = new_conn(i, ds);
                        match t.insert(&c, SYN, None, now) {
                            Ok(_) | Err(ConnError::Full) => {}
                            Err(e) => panic!("{e}"),
                        }
                        // Some established, some closed, some left half-open.
                        match j % 3 {
                            0 => {
                                t.lookup(&inbound(&c), ACK, now);
                            }
                            1 => {
                                t.lookup(&inbound(&c), ACK, now);
                                t.lookup(&reply(&c), FIN, now);
                                t.lookup(&inbound(&c), FIN, now);
                            }
                            _ => {}
                        }
                        // Look at another thread's flows of this round too.
                        let other = new_conn((((k + 1) % THREADS) << 24) | (r << 12) | j, ds);
                        t.lookup(&reply(&other), ACK, now);
                        t.sweep(now, 8);
                    }
                }
            });
        }
    });
    let end = rounds * 100;
    let _ = end;
    assert_accounting(&t, &ds, 0);
    // Everything runs out eventually.
    while t.sweep(u32::MAX - 1, 4_096) > 0 {}
    assert_eq!(t.count(), 0);
    for (d, _) in &ds {
        assert_eq!(
            (d.active_conns(), d.inactive_conns(), d.persistent_conns()),
            (0, 0, 0)
        );
    }
}

#[test]
fn concurrent_persistent_clients_share_templates() {
    let t = ConnTable::new(20_000).unwrap();
    let ds = dests(&t, 2);
    let nets = 64u32;
    let per_thread = 2_000u32;
    thread::scope(|s| {
        for k in 0..THREADS {
            let (t, ds) = (&t, &ds);
            s.spawn(move || {
                for j in 0..per_thread {
                    let net = j % nets;
                    let caddr = Ipv4Addr::from(0xC600_0000 | (net << 8) | k);
                    let key = TemplateKey::new(
                        proto::TCP,
                        caddr,
                        Ipv4Addr::new(255, 255, 255, 0),
                        VIP,
                        443,
                    );
                    let now = j / 500; // slowly moving clock, nothing expires
                    let (tpl, dest) = loop {
                        if let Some(h) = t.template_lookup(&key, now) {
                            break (h.template, h.dest);
                        }
                        let id = ds[(net % 2) as usize].1;
                        match t.template_insert(&key, id, 443, 600, now) {
                            Ok(r) => break (r, id),
                            Err(ConnError::Exists(_)) => continue,
                            Err(e) => panic!("{e}"),
                        }
                    };
                    let d = t.dest(dest).unwrap();
                    let c = NewConn {
                        proto: proto::TCP,
                        caddr,
                        cport: (j + 1) as u16,
                        vaddr: VIP,
                        vport: 443,
                        raddr: d.addr,
                        rport: 443,
                        fwd: Fwd::Nat,
                        dest,
                    };
                    t.insert(&c, SYN, Some(tpl), now).unwrap();
                }
            });
        }
    });
    // One template per client network, each pinned to its first dest.
    let snap = t.snapshot(10);
    let tpls: Vec<_> = snap
        .iter()
        .filter(|e| matches!(e.state, ConnState::Template { .. }))
        .collect();
    assert_eq!(tpls.len(), nets as usize);
    for e in &tpls {
        let net = (u32::from(e.caddr) >> 8) & 0xFF;
        assert_eq!(e.raddr, ds[(net % 2) as usize].0.addr);
    }
    assert_eq!(snap.len() - tpls.len(), (THREADS * per_thread) as usize);
    assert_accounting(&t, &ds, 10);
    // Connections (SYN_RECV, 60 s) go first, then the templates (600 s after their last use).
    while t.sweep(100, 20_000) > 0 {}
    assert_eq!(t.count(), nets as usize);
    while t.sweep(10_000, 20_000) > 0 {}
    assert_eq!(t.count(), 0);
    assert_accounting(&t, &ds, 10_000);
}
