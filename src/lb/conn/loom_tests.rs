//! Loom models of the connection table's races, run on the real table code
//! (its atomics come from `sync.rs`, which the `loom` feature switches to
//! loom's). One model per race the table must survive; each drives 2 threads
//! through the public or crate-level operations on a tiny table and checks the
//! invariants once both are done.
//!
//! Run (a few seconds per model at 3 preemptions):
//! ```text
//! LOOM_MAX_PREEMPTIONS=3 cargo test --features loom --lib lb::conn::loom_tests
//! ```
//! `scripts/test.sh` runs them so. Loom treats SeqCst accesses as AcqRel
//! (its README, "Unsupported features"), so the table's Dekker points carry a
//! `fence(SeqCst)` in loom builds only (`sync::dekker_fence`): that is what
//! SeqCst accesses already guarantee in the real build.

use std::net::Ipv4Addr;

use loom::sync::Arc;
use loom::thread;

use super::slot::Word;
use super::sync::Ordering;
use super::{ConnError, ConnRef, ConnState, ConnTable, DestId, NewConn, TcpFlags, TemplateKey};
use crate::lb::dest::{Dest, Fwd};
use crate::lb::flow::{proto, FlowKey};

const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const RIP1: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);
const RIP2: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 3);
/// Far beyond every timer the models set: a sweep at this tick expires all.
const LATER: u32 = 1_000_000;

fn table(max: u32) -> (ConnTable, std::sync::Arc<Dest>, DestId, DestId) {
    let t = ConnTable::new(max).unwrap();
    let d1 = std::sync::Arc::new(Dest::new(RIP1, 80, Fwd::Dr, 1));
    let d2 = std::sync::Arc::new(Dest::new(RIP2, 80, Fwd::Dr, 1));
    let id1 = t.register_dest(&d1).unwrap();
    let id2 = t.register_dest(&d2).unwrap();
    (t, d1, id1, id2)
}

fn conn(proto: u8, cport: u16, dest: DestId) -> NewConn {
    NewConn {
        proto,
        caddr: CLIENT,
        cport,
        vaddr: VIP,
        vport: 80,
        raddr: if dest.0 == 0 { RIP1 } else { RIP2 },
        rport: 80,
        fwd: Fwd::Dr,
        dest,
    }
}

fn inbound(c: &NewConn) -> FlowKey {
    FlowKey {
        proto: c.proto,
        saddr: c.caddr,
        sport: c.cport,
        daddr: c.vaddr,
        dport: c.vport,
    }
}

fn tkey(i: u8) -> TemplateKey {
    TemplateKey::new(
        proto::TCP,
        Ipv4Addr::new(198, 51, 100, i),
        Ipv4Addr::BROADCAST,
        VIP,
        80,
    )
}

/// Expires everything whose timer can run out, then checks nothing is left:
/// no live slot (a template re-armed forever would stay), no index cell.
fn assert_drains(t: &ConnTable) {
    t.sweep(LATER, t.max_conns());
    // A template is freed on the sweep after its last connection went.
    t.sweep(LATER, t.max_conns());
    assert_eq!(t.count(), 0, "an entry outlived every timer");
    assert_eq!(t.index.occupied(), 0, "an index cell outlived its entry");
    let mut free = 0;
    while t.slots.pop().is_some() {
        free += 1;
    }
    assert_eq!(
        free,
        t.max_conns(),
        "a slot never came back to the free stack"
    );
}

/// Race 1: a connection attaching to a template ref that went stale while the
/// template's slot is freed and reused by a new template. The late attacher's
/// count and un-count must cancel out on the slot, or the new template keeps a
/// count nobody drops and is re-armed forever (slot leaked, clients pinned).
#[test]
fn stale_attach_racing_slot_reuse_leaves_no_count() {
    loom::model(|| {
        let (t, _d, id1, _) = table(3);
        let t = Arc::new(t);
        let old = t.template_insert(&tkey(1), id1, 80, 300, 0).unwrap();
        let a = {
            let t = t.clone();
            thread::spawn(move || {
                let c = conn(proto::UDP, 1000, id1);
                match t.insert(&c, TcpFlags(0), Some(old), 0) {
                    Ok(h) => assert!(t.expire_now(h.conn)),
                    Err(e) => assert_eq!(e, ConnError::TemplateGone),
                }
            })
        };
        // The template's timer fires (forced here) and its slot is reused.
        let _ = t.expire_now(old);
        let new = t.template_insert(&tkey(2), id1, 80, 300, 0).unwrap();
        a.join().unwrap();
        let _ = t.expire_now(old);
        assert_eq!(t.template_controls(new), Some(0));
        assert_drains(&t);
    });
}

/// Race 2: a packet that moves a controlled connection to ESTABLISHED marks its
/// template ASSURED; meanwhile the connection and the template expire and the
/// template's slot is reused by another connection. The late mark must not
/// land on the slot's new entry (whose state bits it would change).
#[test]
fn assure_never_touches_a_reused_template_slot() {
    loom::model(|| {
        let (t, _d, id1, _) = table(3);
        let t = Arc::new(t);
        let tmpl = t.template_insert(&tkey(1), id1, 80, 300, 0).unwrap();
        let c = conn(proto::TCP, 1000, id1);
        let ch = t.insert(&c, TcpFlags::SYN, Some(tmpl), 0).unwrap();
        let a = {
            let t = t.clone();
            thread::spawn(move || {
                let _ = t.lookup(&inbound(&c), TcpFlags::ACK, 1);
            })
        };
        let _ = t.expire_now(ch.conn);
        let _ = t.expire_now(tmpl);
        // A RST-only first packet: state CLOSE (6), which a stray `| 1` turns into CLOSE_WAIT.
        let d = conn(proto::TCP, 2000, id1);
        let dh = t.insert(&d, TcpFlags::RST, None, 1);
        a.join().unwrap();
        if let Ok(dh) = dh {
            let now = t.find(&inbound(&d), 1).map(|h| h.state);
            assert_eq!(now, Some(dh.state), "another entry's late ASSURED mark");
            assert!(matches!(dh.state, ConnState::Tcp(_)));
        }
        let _ = t.expire_now(ch.conn);
        let _ = t.expire_now(tmpl);
        assert_drains(&t);
    });
}

/// Race 3: two workers create the same new flow while a third entry ahead of
/// them on the probe path is deleted, so the second inserter's cell lands
/// before the first's. Exactly one of them may stay, and it is the one whose
/// insert returned Ok (a racer never evicts an entry already handed out).
#[test]
fn racing_inserts_around_a_delete_leave_one_entry() {
    loom::model(|| {
        let (t, _d, id1, id2) = table(3);
        let flow = conn(proto::UDP, 1000, id1);
        let home = |c: &NewConn| {
            t.index.home(t.hash(
                c.proto,
                u32::from(c.caddr),
                c.cport,
                u32::from(c.vaddr),
                c.vport,
            ))
        };
        // An entry sharing the flow's home bucket: it takes the first cell there.
        let other = (2000..)
            .map(|p| conn(proto::UDP, p, id1))
            .find(|c| home(c) == home(&flow))
            .unwrap();
        let x = t.insert(&other, TcpFlags(0), None, 0).unwrap();
        let t = Arc::new(t);
        let a = {
            let t = t.clone();
            thread::spawn(move || t.insert(&flow, TcpFlags(0), None, 0).is_ok())
        };
        assert!(t.expire_now(x.conn));
        let mut f2 = flow;
        f2.dest = id2;
        f2.raddr = RIP2;
        let b_ok = t.insert(&f2, TcpFlags(0), None, 0).is_ok();
        let a_ok = a.join().unwrap();
        let live = t.count();
        assert!(!(a_ok && b_ok), "both racers kept an entry for one flow");
        // Never both back out: one insert returns Ok and its entry is the one left.
        assert!(a_ok || b_ok, "both racers backed out");
        assert_eq!(live, 1);
        assert_drains(&t);
    });
}

/// Race 3 for templates: two workers create the template of one client
/// network at once, each pinned to the server its scheduler picked. Exactly
/// one wins, and the template found afterwards is the winner's (so every
/// connection of that client goes to one server).
#[test]
fn racing_template_inserts_pin_one_server() {
    loom::model(|| {
        let (t, _d, id1, id2) = table(2);
        let t = Arc::new(t);
        let a = {
            let t = t.clone();
            thread::spawn(move || t.template_insert(&tkey(1), id1, 80, 300, 0))
        };
        let b = t.template_insert(&tkey(1), id2, 80, 300, 0);
        let a = a.join().unwrap();
        let winner = match (a, b) {
            (Ok(_), Err(ConnError::Exists(_))) => id1,
            (Err(ConnError::Exists(_)), Ok(_)) => id2,
            other => panic!("not exactly one winner: {other:?}"),
        };
        assert_eq!(t.template_lookup(&tkey(1), 0).map(|h| h.dest), Some(winner));
        assert_eq!(t.count(), 1);
        assert_drains(&t);
    });
}

/// Race 4: a template found with its dest deleted is taken out of the index
/// (invalidated) while its timer fires on another thread. Exactly one of them
/// must remove its index cell, and remove it while the key is still valid.
#[test]
fn invalidate_racing_expiry_leaves_no_index_cell() {
    loom::model(|| {
        let (t, d1, id1, _) = table(2);
        let t = Arc::new(t);
        let tmpl = t.template_insert(&tkey(1), id1, 80, 300, 0).unwrap();
        d1.set_unavailable();
        let a = {
            let t = t.clone();
            thread::spawn(move || assert!(t.template_lookup(&tkey(1), 0).is_none()))
        };
        let _ = t.expire_now(tmpl);
        a.join().unwrap();
        let _ = t.expire_now(tmpl);
        assert_drains(&t);
    });
}

/// Sanity of the model set-up itself: the free stack and the control word
/// carry a slot through expire and reuse with a new generation.
#[test]
fn expire_and_reuse_bumps_generation() {
    loom::model(|| {
        let (t, _d, id1, _) = table(1);
        let h = t
            .insert(&conn(proto::UDP, 1, id1), TcpFlags(0), None, 0)
            .unwrap();
        assert!(t.expire_now(h.conn));
        let h2 = t
            .insert(&conn(proto::UDP, 2, id1), TcpFlags(0), None, 0)
            .unwrap();
        let w = Word::unpack(
            t.slots
                .get(h2.conn.idx)
                .unwrap()
                .word
                .load(Ordering::SeqCst),
        );
        assert_eq!(w.gen, h.conn.gen + 1);
        assert!(!t.expire_now(ConnRef { ..h.conn }));
    });
}

/// Race 6: `ipvsadm -Lc` (`ConnTable::snapshot`, the control socket's `ListConns`)
/// reading the one slot while a worker expires its entry and a new entry takes the
/// slot. The listing shows nothing, the old entry whole, or the new one whole: never
/// the old entry's client with the new one's server (the generation re-check of
/// `Slots::read`).
#[test]
fn listing_racing_slot_reuse_shows_whole_entries() {
    // The listing's read of a slot is eleven Relaxed loads, each of which loom lets
    // return any value the writer stored: at the suite's 3 preemptions the model ran
    // for over 15 minutes, at 2 over 10. A torn row needs only one preemption (the
    // reader stopped inside the read of the slot while the writer expires and
    // reuses it), so a bound of 1 still finds it; it takes about 3 CPU-minutes.
    let mut b = loom::model::Builder::new();
    b.preemption_bound = Some(1);
    b.check(|| {
        let (t, _d, id1, id2) = table(1);
        let h = t
            .insert(&conn(proto::UDP, 1, id1), TcpFlags(0), None, 0)
            .unwrap();
        let t = Arc::new(t);
        let listing = {
            let t = t.clone();
            thread::spawn(move || t.snapshot(0))
        };
        assert!(t.expire_now(h.conn));
        t.insert(&conn(proto::UDP, 2, id2), TcpFlags(0), None, 0)
            .unwrap();
        let rows = listing.join().unwrap();
        assert!(rows.len() <= 1, "{rows:?}");
        for r in rows {
            let want = match r.cport {
                1 => RIP1,
                2 => RIP2,
                p => panic!("client port {p} from no entry: {r:?}"),
            };
            assert_eq!(r.raddr, want, "a torn row: {r:?}");
        }
    });
}
