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
                        // Two racers may both back out (each saw the other):
                        // then look again, as the LB path schedules afresh.
                        loop {
                            match t.lookup(&inbound(&c), SYN, 0) {
                                Lookup::Hit(_) => break,
                                Lookup::Miss => match t.insert(&c, SYN, None, 0) {
                                    Ok(_) => {
                                        made += 1;
                                        break;
                                    }
                                    Err(ConnError::Exists(_)) => continue,
                                    Err(e) => panic!("{e}"),
                                },
                                other => panic!("{other:?}"),
                            }
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

/// Real LB-path workers (`LbPath::flow`, the code the workers run) all handle
/// the SYNs of the same new flows at once, for a persistent service (one
/// template per client address) and a plain rr service. Whatever insert race a
/// worker loses, it re-uses the winner's entry or schedules afresh: no SYN is
/// dropped (a lost race used to be counted `drop_table_full` when the winner
/// was gone), every worker sends one flow to one real server, and every flow
/// of one client goes where that client's template points.
#[test]
fn lb_workers_racing_on_the_same_new_flows_agree_and_never_drop() {
    use rvs::dataplane::{LbPath, LbVerdict, Views};
    use rvs::testkit::testbed::{self, tcp_frame, CLIENT_MAC, PORT_MAC};
    use rvs::wire::{HeadroomBuf, Ipv4Packet, PacketBuf, TcpPacket};
    use std::collections::HashMap;

    const WORKERS: usize = 4;
    const CLIENTS: u8 = 60;
    const PORTS: u16 = 8;
    for round in 0..4u16 {
        let (net, mut mgr) = testbed::setup(100_000, "rr");
        let conns = mgr.conns().clone();
        let paths: Vec<LbPath> = (0..WORKERS)
            .map(|w| {
                let view = net.view(mgr.net_reader());
                LbPath::new(view, mgr.lb_views().expect("LB views"), w)
            })
            .collect();
        // All workers handle each SYN at the same moment.
        let go = std::sync::Barrier::new(WORKERS);
        // (vip, client, sport) -> real server, as each worker sent it.
        type Sent = ((u8, u8, u16), Result<(Ipv4Addr, u16), LbVerdict>);
        let sent: Vec<Vec<Sent>> = thread::scope(|s| {
            let hs: Vec<_> = paths
                .into_iter()
                .map(|mut lb| {
                    let go = &go;
                    s.spawn(move || {
                        let mut out = Vec::new();
                        for c in 1..=CLIENTS {
                            for p in 0..PORTS {
                                for vip in [40u8, 10] {
                                    let (vport, sport) = if vip == 40 { (443, p) } else { (80, p) };
                                    let sport = 20_000 + round * 100 + sport;
                                    let frame = tcp_frame(
                                        Ipv4Addr::new(198, 51, 100, c),
                                        sport,
                                        Ipv4Addr::new(203, 0, 113, vip),
                                        vport,
                                        0x02,
                                        PORT_MAC,
                                        CLIENT_MAC,
                                    );
                                    let mut b = HeadroomBuf::new(&frame);
                                    go.wait();
                                    let v = lb.handle(0, &mut b, 1);
                                    // Checked after the join: a panic here would
                                    // leave the other workers at the barrier.
                                    let to = matches!(v, LbVerdict::Tx { .. }).then(|| {
                                        let ip = Ipv4Packet::new_checked(&b.data()[14..]).ok()?;
                                        let t = TcpPacket::new_checked(ip.payload()).ok()?;
                                        Some((ip.dst_addr(), t.dst_port()))
                                    });
                                    out.push(((vip, c, sport), to.flatten().ok_or(v)));
                                }
                            }
                        }
                        out
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut flow_to: HashMap<(u8, u8, u16), (Ipv4Addr, u16)> = HashMap::new();
        let mut client_to: HashMap<u8, Ipv4Addr> = HashMap::new();
        for (k, rs) in sent.iter().flatten() {
            let rs = rs
                .as_ref()
                .unwrap_or_else(|v| panic!("flow {k:?} dropped: {v:?}"));
            assert_eq!(*flow_to.entry(*k).or_insert(*rs), *rs, "flow {k:?}");
            if k.0 == 40 {
                assert_eq!(*client_to.entry(k.1).or_insert(rs.0), rs.0, "client {k:?}");
            }
        }
        let n_flows = usize::from(CLIENTS) * usize::from(PORTS) * 2;
        assert_eq!(flow_to.len(), n_flows);
        // One entry per flow, one template per client.
        assert_eq!(conns.count(), n_flows + usize::from(CLIENTS));
    }
}

/// Many threads churn one small table in phases: new flows raced by every
/// thread (half of them under persistence templates raced the same way),
/// state changes from both directions, forced deletes and sweeps, all on a
/// few thousand keys so that deletes free probe-path cells under racing
/// inserts. After every phase: one entry per connection tuple and per
/// template key, every persistent connection on its template's server, each
/// dest's active/inactive/persistent counters equal to a recount. At the end,
/// once everything has expired, every slot is back on the free list.
#[test]
fn phased_churn_keeps_one_entry_per_key_and_exact_counts() {
    use std::collections::HashMap;

    const CAP: u32 = 8_192;
    const WORKERS: u32 = 8;
    const FLOWS: u32 = 1_500;
    const NETS: u32 = 40;
    const ITER: u32 = 5_000;
    let t = ConnTable::new(CAP).unwrap();
    let ds = dests(&t, 3);
    let flow = |f: u32| {
        let persistent = f.is_multiple_of(2);
        let caddr = Ipv4Addr::from(0xC633_6400 | (f % NETS));
        (persistent, caddr, 10_000 + (f / NETS) as u16)
    };
    for phase in 0..6u32 {
        // Every timer of the previous phase has run out by now.
        let now = phase * 10_000;
        thread::scope(|s| {
            for k in 0..WORKERS {
                let (t, ds) = (&t, &ds);
                s.spawn(move || {
                    for j in 0..ITER {
                        let f = (j.wrapping_mul(7_919) + k * 104_729 + phase) % FLOWS;
                        let (persistent, caddr, cport) = flow(f);
                        let vport = if persistent { 443 } else { 80 };
                        let key = FlowKey {
                            proto: proto::TCP,
                            saddr: caddr,
                            sport: cport,
                            daddr: VIP,
                            dport: vport,
                        };
                        match (j + k) % 8 {
                            0..=4 => {
                                for _ in 0..16 {
                                    if !matches!(t.lookup(&key, SYN, now), Lookup::Miss) {
                                        break;
                                    }
                                    let (tpl, id) = if persistent {
                                        let tk = TemplateKey::new(
                                            proto::TCP,
                                            caddr,
                                            Ipv4Addr::BROADCAST,
                                            VIP,
                                            443,
                                        );
                                        match t.template_lookup(&tk, now) {
                                            Some(h) => (Some(h.template), h.dest),
                                            None => {
                                                let id = ds[(j % 3) as usize].1;
                                                match t.template_insert(&tk, id, 443, 300, now) {
                                                    Ok(r) => (Some(r), id),
                                                    Err(ConnError::Exists(_)) => continue,
                                                    Err(e) => panic!("{e}"),
                                                }
                                            }
                                        }
                                    } else {
                                        (None, ds[(j % 3) as usize].1)
                                    };
                                    let c = NewConn {
                                        proto: proto::TCP,
                                        caddr,
                                        cport,
                                        vaddr: VIP,
                                        vport,
                                        raddr: t.dest(id).unwrap().addr,
                                        rport: 80,
                                        fwd: Fwd::Nat,
                                        dest: id,
                                    };
                                    match t.insert(&c, SYN, tpl, now) {
                                        Ok(_) => break,
                                        Err(ConnError::Exists(_))
                                        | Err(ConnError::TemplateGone) => {}
                                        Err(e) => panic!("{e}"),
                                    }
                                }
                            }
                            5 => {
                                if let Some(h) = t.find(&key, now) {
                                    let back = FlowKey {
                                        proto: proto::TCP,
                                        saddr: h.raddr,
                                        sport: h.rport,
                                        daddr: caddr,
                                        dport: cport,
                                    };
                                    t.lookup(&back, TcpFlags(0x12), now);
                                    t.lookup(&key, ACK, now);
                                }
                            }
                            6 => {
                                if let Some(h) = t.find(&key, now) {
                                    t.expire_now(h.conn);
                                }
                            }
                            _ => {
                                t.sweep(now, 64);
                            }
                        }
                    }
                });
            }
        });
        // Reap what the previous phase left (lookups only reap what they meet).
        while t.sweep(now, CAP) > 0 {}
        let snap = t.snapshot(now);
        let mut per_tuple: HashMap<(Ipv4Addr, u16, u16), u32> = HashMap::new();
        let mut tpl_of: HashMap<Ipv4Addr, Ipv4Addr> = HashMap::new();
        for e in &snap {
            if let ConnState::Template { .. } = e.state {
                let prev = tpl_of.insert(e.caddr, e.raddr);
                assert!(
                    prev.is_none(),
                    "phase {phase}: two templates for {}",
                    e.caddr
                );
            } else {
                *per_tuple.entry((e.caddr, e.cport, e.vport)).or_default() += 1;
            }
        }
        for (k, n) in &per_tuple {
            assert_eq!(*n, 1, "phase {phase}: {n} entries for {k:?}");
        }
        for e in snap.iter().filter(|e| e.vport == 443) {
            if !matches!(e.state, ConnState::Template { .. }) {
                assert_eq!(
                    tpl_of.get(&e.caddr),
                    Some(&e.raddr),
                    "phase {phase}: {}:{} off its template's server",
                    e.caddr,
                    e.cport
                );
            }
        }
        assert_accounting(&t, &ds, now);
    }
    // Everything runs out: a template goes once its last connection has gone
    // and its 60 s re-arm has run out too.
    for now in [1_000_000, 2_000_000] {
        while t.sweep(now, CAP) > 0 {}
    }
    assert_eq!(t.count(), 0);
    for (d, _) in &ds {
        assert_eq!(
            (d.active_conns(), d.inactive_conns(), d.persistent_conns()),
            (0, 0, 0)
        );
    }
    // Every slot is back on the free list: the table fills up exactly once more.
    for i in 0..CAP {
        t.insert(&new_conn(i, &ds), SYN, None, 0)
            .unwrap_or_else(|e| panic!("slot {i}: {e}"));
    }
    assert_eq!(
        t.insert(&new_conn(CAP, &ds), SYN, None, 0),
        Err(ConnError::Full)
    );
}
