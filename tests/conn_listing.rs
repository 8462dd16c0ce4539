//! `ipvsadm -Lc` (`ConnTable::snapshot`, what the control socket's `ListConns` lists)
//! while workers insert and expire entries in the same slots: every listed row is one
//! whole entry, never a mix of a slot's old and new contents (the listing reads with
//! the slots' generation-checked read and skips a slot recycled under it). This runs
//! the real atomics on real threads; the interleaving that would tear a row is
//! model-checked by the loom model `listing_racing_slot_reuse_shows_whole_entries`
//! (src/lb/conn/loom_tests.rs), which finds the torn row when the re-check is removed.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::Arc;
use std::thread;

use rvs::lb::conn::{ConnError, ConnState, ConnTable, DestId, NewConn, TcpFlags, TcpState};
use rvs::lb::dest::{Dest, Fwd};
use rvs::lb::flow::proto;

const VIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const WRITERS: u32 = 2;
/// Entries each writer keeps alive: it expires entry `i - WINDOW` after inserting `i`.
const WINDOW: u32 = 1;
/// Snapshots the reader takes while the writers churn.
const SNAPSHOTS: u32 = 20_000;

/// Entry `i` of writer `w`: every field is a function of `(w, i)`, so a row mixing two
/// entries' fields is recognisable.
fn entry(w: u32, i: u32, ds: &[(Arc<Dest>, DestId)]) -> NewConn {
    let (d, id) = &ds[(i % ds.len() as u32) as usize];
    NewConn {
        proto: proto::TCP,
        caddr: Ipv4Addr::new(198, 51, 100, w as u8),
        cport: 1024 + (i % 60_000) as u16,
        vaddr: VIP,
        vport: 80,
        raddr: d.addr,
        rport: 8000 + (i % 60_000 % 997) as u16,
        fwd: Fwd::Nat,
        dest: *id,
    }
}

#[test]
fn listing_during_churn_shows_only_whole_entries() {
    // A small table: the writers recycle every slot thousands of times.
    let t = ConnTable::new(8).unwrap();
    let ds: Vec<_> = (0..5u8)
        .map(|i| {
            let d = Arc::new(Dest::new(
                Ipv4Addr::new(192, 0, 2, 10 + i),
                8000,
                Fwd::Nat,
                1,
            ));
            let id = t.register_dest(&d).unwrap();
            (d, id)
        })
        .collect();
    let warm = AtomicU32::new(0);
    let done = AtomicBool::new(false);
    let rows = AtomicU32::new(0);
    let churned = AtomicU32::new(0);
    thread::scope(|s| {
        for w in 0..WRITERS {
            let (t, ds, warm, done) = (&t, &ds, &warm, &done);
            s.spawn(move || {
                // One entry that never changes: every snapshot lists it whole.
                let keep = entry(w, 59_999, ds);
                t.insert(&keep, TcpFlags::SYN, None, 1).unwrap();
                let mut live = std::collections::VecDeque::new();
                let mut i = 0u32;
                while !done.load(Ordering::Acquire) {
                    let c = entry(w, i % 59_999, ds);
                    match t.insert(&c, TcpFlags::SYN, None, 1) {
                        Ok(hit) => live.push_back(hit.conn),
                        Err(ConnError::Full) => {}
                        Err(e) => panic!("{e}"),
                    }
                    if live.len() as u32 > WINDOW {
                        t.expire_now(live.pop_front().unwrap());
                    } else if live.len() as u32 == WINDOW && i == WINDOW - 1 {
                        warm.fetch_add(1, Ordering::Release);
                    }
                    i = i.wrapping_add(1);
                }
            });
        }
        let (t, ds, warm, done, rows, churned) = (&t, &ds, &warm, &done, &rows, &churned);
        s.spawn(move || {
            while warm.load(Ordering::Acquire) < WRITERS {
                std::hint::spin_loop();
            }
            for _ in 0..SNAPSHOTS {
                for e in t.snapshot(1) {
                    let w = u32::from(e.caddr.octets()[3]);
                    let i = u32::from(e.cport - 1024);
                    let want = entry(w, i, ds);
                    assert!(w < WRITERS && e.caddr == want.caddr, "{e:?}");
                    assert_eq!(
                        (e.proto, e.vaddr, e.vport, e.raddr, e.rport, e.fwd),
                        (proto::TCP, VIP, 80, want.raddr, want.rport, Some(Fwd::Nat)),
                        "a torn row: {e:?}"
                    );
                    assert_eq!(e.state, ConnState::Tcp(TcpState::SynRecv), "{e:?}");
                    assert!(e.expire_secs <= 60, "{e:?}");
                    rows.fetch_add(1, Ordering::Relaxed);
                    if i != 59_999 {
                        churned.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
            done.store(true, Ordering::Release);
        });
    });
    // Every snapshot listed each writer's unchanging entry; the churned ones it met
    // (WINDOW per writer are alive at any time) were all whole.
    assert!(rows.load(Ordering::Relaxed) >= SNAPSHOTS * WRITERS);
    eprintln!("{} churned rows checked", churned.load(Ordering::Relaxed));
}
