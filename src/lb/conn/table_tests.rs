//! Unit tests of the table: both-direction lookup, state/accounting, timeouts,
//! full table, expiry, conn reuse, nodest, duplicates.

use std::net::Ipv4Addr;
use std::sync::Arc;

use super::super::{ConnError, DestId, Settings, TcpFlags, TcpState, TimeoutTriple};
use super::*;

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const FIN: TcpFlags = TcpFlags(0x11);
const RST: TcpFlags = TcpFlags::RST;

const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const RIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn setup(max: u32, fwd: Fwd) -> (ConnTable, Arc<Dest>, DestId) {
    let t = ConnTable::new(max).unwrap();
    let d = Arc::new(Dest::new(RIP, 8080, fwd, 1));
    let id = t.register_dest(&d).unwrap();
    (t, d, id)
}

fn nc(proto: u8, cport: u16, fwd: Fwd, dest: DestId) -> NewConn {
    NewConn {
        proto,
        caddr: CLIENT,
        cport,
        vaddr: VIP,
        vport: 80,
        raddr: RIP,
        rport: 8080,
        fwd,
        dest,
    }
}

fn inbound(proto: u8, cport: u16) -> FlowKey {
    FlowKey {
        proto,
        saddr: CLIENT,
        sport: cport,
        daddr: VIP,
        dport: 80,
    }
}

fn reply(proto: u8, cport: u16) -> FlowKey {
    FlowKey {
        proto,
        saddr: RIP,
        sport: 8080,
        daddr: CLIENT,
        dport: cport,
    }
}

fn state(l: Lookup) -> ConnState {
    match l {
        Lookup::Hit(h) => h.state,
        other => panic!("expected a hit, got {other:?}"),
    }
}

fn tcp(s: TcpState) -> ConnState {
    ConnState::Tcp(s)
}

#[test]
fn nat_entry_found_from_both_directions() {
    let (t, _d, id) = setup(16, Fwd::Nat);
    let h = t
        .insert(&nc(proto::TCP, 1000, Fwd::Nat, id), SYN, None, 0)
        .unwrap();
    assert_eq!(h.state, tcp(TcpState::SynRecv));
    let r = t.lookup(&reply(proto::TCP, 1000), SYN | ACK, 0);
    match r {
        Lookup::Hit(h) => {
            assert_eq!(h.dir, Dir::Out);
            assert_eq!(
                (h.caddr, h.cport, h.vaddr, h.vport),
                (CLIENT, 1000, VIP, 80)
            );
        }
        other => panic!("{other:?}"),
    }
    let i = t.lookup(&inbound(proto::TCP, 1000), ACK, 0);
    assert!(matches!(i, Lookup::Hit(Hit { dir: Dir::In, .. })));
    // Another client port is another connection.
    assert_eq!(t.lookup(&inbound(proto::TCP, 1001), ACK, 0), Lookup::Miss);
    // UDP with the same numbers is another protocol.
    assert_eq!(t.lookup(&inbound(proto::UDP, 1000), ACK, 0), Lookup::Miss);
}

#[test]
fn dr_entry_has_no_reply_tuple_and_uses_input_only_table() {
    let (t, _d, id) = setup(16, Fwd::Dr);
    t.insert(&nc(proto::TCP, 1000, Fwd::Dr, id), SYN, None, 0)
        .unwrap();
    assert_eq!(
        t.lookup(&reply(proto::TCP, 1000), SYN | ACK, 0),
        Lookup::Miss
    );
    assert_eq!(
        state(t.lookup(&inbound(proto::TCP, 1000), ACK, 0)),
        tcp(TcpState::Established)
    );
    // INPUT-ONLY: a client FIN on ESTABLISHED goes to FIN_WAIT (NAT would say CLOSE_WAIT).
    assert_eq!(
        state(t.lookup(&inbound(proto::TCP, 1000), FIN, 1)),
        tcp(TcpState::FinWait)
    );
}

#[test]
fn active_inactive_accounting_follows_established() {
    let (t, d, id) = setup(16, Fwd::Nat);
    t.insert(&nc(proto::TCP, 1, Fwd::Nat, id), SYN, None, 0)
        .unwrap();
    assert_eq!((d.active_conns(), d.inactive_conns()), (0, 1));
    t.lookup(&reply(proto::TCP, 1), SYN | ACK, 0);
    t.lookup(&inbound(proto::TCP, 1), ACK, 0);
    assert_eq!((d.active_conns(), d.inactive_conns()), (1, 0));
    // Data packets keep it active and count once.
    t.lookup(&inbound(proto::TCP, 1), ACK, 0);
    t.lookup(&reply(proto::TCP, 1), ACK, 0);
    assert_eq!((d.active_conns(), d.inactive_conns()), (1, 0));
    assert_eq!(
        state(t.lookup(&inbound(proto::TCP, 1), FIN, 0)),
        tcp(TcpState::CloseWait)
    );
    assert_eq!((d.active_conns(), d.inactive_conns()), (0, 1));
    // UDP is always inactive.
    t.insert(&nc(proto::UDP, 2, Fwd::Nat, id), TcpFlags::NONE, None, 0)
        .unwrap();
    assert_eq!((d.active_conns(), d.inactive_conns()), (0, 2));
    // Expiry unbinds.
    assert_eq!(t.sweep(10_000, 16), 2);
    assert_eq!((d.active_conns(), d.inactive_conns()), (0, 0));
    assert_eq!(t.count(), 0);
}

#[test]
fn mid_flow_ack_creates_established_and_counts_active() {
    let (t, d, id) = setup(4, Fwd::Nat);
    let h = t
        .insert(&nc(proto::TCP, 9, Fwd::Nat, id), ACK, None, 0)
        .unwrap();
    assert_eq!(h.state, tcp(TcpState::Established));
    assert_eq!((d.active_conns(), d.inactive_conns()), (1, 0));
    assert!(t.expire_now(h.conn));
    assert_eq!((d.active_conns(), d.inactive_conns()), (0, 0));
}

#[test]
fn timers_follow_state_and_runtime_set() {
    let (t, _d, id) = setup(16, Fwd::Nat);
    t.insert(&nc(proto::TCP, 1, Fwd::Nat, id), SYN, None, 100)
        .unwrap();
    let exp = |t: &ConnTable, now| t.snapshot(now)[0].expire_secs;
    assert_eq!(exp(&t, 100), 60); // SYN_RECV
    t.lookup(&inbound(proto::TCP, 1), ACK, 110);
    assert_eq!(exp(&t, 110), 900); // ESTABLISHED
    t.timeouts().set(TimeoutTriple {
        tcp_secs: 100,
        tcpfin_secs: 50,
        udp_secs: 40,
    });
    // Running timer not shortened until the next packet.
    assert_eq!(exp(&t, 111), 899);
    t.lookup(&inbound(proto::TCP, 1), ACK, 111);
    assert_eq!(exp(&t, 111), 100);
    t.lookup(&reply(proto::TCP, 1), FIN, 112);
    assert_eq!(exp(&t, 112), 50); // FIN_WAIT via --set tcpfin
    t.lookup(&inbound(proto::TCP, 1), FIN, 113);
    assert_eq!(exp(&t, 113), 120); // TIME_WAIT fixed
    t.insert(&nc(proto::UDP, 2, Fwd::Nat, id), TcpFlags::NONE, None, 113)
        .unwrap();
    let udp = t
        .snapshot(113)
        .into_iter()
        .find(|e| e.proto == proto::UDP)
        .unwrap();
    assert_eq!((udp.state.name(), udp.expire_secs), ("UDP", 40));
}

#[test]
fn full_table_refuses_new_and_keeps_existing() {
    let (t, d, id) = setup(3, Fwd::Nat);
    for p in 0..3 {
        t.insert(&nc(proto::TCP, p, Fwd::Nat, id), SYN, None, 0)
            .unwrap();
    }
    assert_eq!(
        t.insert(&nc(proto::TCP, 99, Fwd::Nat, id), SYN, None, 0),
        Err(ConnError::Full)
    );
    assert_eq!(d.inactive_conns(), 3);
    for p in 0..3 {
        assert!(matches!(
            t.lookup(&inbound(proto::TCP, p), ACK, 1),
            Lookup::Hit(_)
        ));
        assert!(matches!(
            t.lookup(&reply(proto::TCP, p), ACK, 1),
            Lookup::Hit(_)
        ));
    }
    assert_eq!(t.lookup(&inbound(proto::TCP, 99), SYN, 1), Lookup::Miss);
    // Freeing one makes room again.
    t.lookup(&inbound(proto::TCP, 0), RST, 2);
    assert_eq!(t.sweep(2 + 10, 3), 1);
    assert!(t
        .insert(&nc(proto::TCP, 99, Fwd::Nat, id), SYN, None, 12)
        .is_ok());
}

#[test]
fn lazy_expiry_on_lookup_reclaims() {
    let (t, d, id) = setup(2, Fwd::Nat);
    t.insert(&nc(proto::TCP, 1, Fwd::Nat, id), SYN, None, 0)
        .unwrap();
    assert!(matches!(
        t.lookup(&inbound(proto::TCP, 1), SYN, 59),
        Lookup::Hit(_)
    ));
    // Re-armed at 59 for 60 s: alive at 118, gone at 119.
    assert!(t.find(&inbound(proto::TCP, 1), 118).is_some());
    assert_eq!(t.lookup(&reply(proto::TCP, 1), ACK, 119), Lookup::Miss);
    assert_eq!(t.count(), 0);
    assert_eq!(d.inactive_conns(), 0);
}

#[test]
fn sweep_is_bounded_and_covers_everything() {
    let (t, d, id) = setup(100, Fwd::Dr);
    for p in 0..100 {
        t.insert(&nc(proto::UDP, p, Fwd::Dr, id), TcpFlags::NONE, None, 0)
            .unwrap();
    }
    assert_eq!(t.sweep(299, 100), 0);
    let mut total = 0;
    for _ in 0..10 {
        let n = t.sweep(300, 10);
        assert!(n <= 10);
        total += n;
    }
    assert_eq!(total, 100);
    assert_eq!(d.inactive_conns(), 0);
}

#[test]
fn syn_on_time_wait_or_close_reschedules() {
    for (end, name) in [(FIN, "time_wait"), (RST, "close")] {
        let (t, d, id) = setup(8, Fwd::Nat);
        t.insert(&nc(proto::TCP, 1, Fwd::Nat, id), SYN, None, 0)
            .unwrap();
        t.lookup(&inbound(proto::TCP, 1), ACK, 0);
        if end == FIN {
            t.lookup(&reply(proto::TCP, 1), FIN, 0);
            assert_eq!(
                state(t.lookup(&inbound(proto::TCP, 1), FIN, 0)),
                tcp(TcpState::TimeWait)
            );
        } else {
            assert_eq!(
                state(t.lookup(&inbound(proto::TCP, 1), RST, 0)),
                tcp(TcpState::Close)
            );
        }
        assert_eq!(
            t.lookup(&inbound(proto::TCP, 1), SYN, 1),
            Lookup::Reschedule,
            "{name}"
        );
        assert_eq!(t.count(), 0, "{name}");
        assert_eq!((d.active_conns(), d.inactive_conns()), (0, 0));
        assert_eq!(t.lookup(&inbound(proto::TCP, 1), SYN, 1), Lookup::Miss);
    }
}

#[test]
fn syn_on_other_states_or_with_reuse_off_reopens() {
    let (t, _d, id) = setup(8, Fwd::Nat);
    t.insert(&nc(proto::TCP, 1, Fwd::Nat, id), SYN, None, 0)
        .unwrap();
    t.lookup(&inbound(proto::TCP, 1), ACK, 0);
    assert_eq!(
        state(t.lookup(&inbound(proto::TCP, 1), FIN, 0)),
        tcp(TcpState::CloseWait)
    );
    assert_eq!(
        state(t.lookup(&inbound(proto::TCP, 1), SYN, 0)),
        tcp(TcpState::SynRecv)
    );
    t.lookup(&inbound(proto::TCP, 1), RST, 0);
    t.set_settings(Settings {
        conn_reuse_mode: 0,
        ..Settings::default()
    });
    assert_eq!(
        state(t.lookup(&inbound(proto::TCP, 1), SYN, 0)),
        tcp(TcpState::SynRecv)
    );
}

#[test]
fn fin_wait_reuse_only_for_dr_with_mode_bit_2() {
    for (mode, want_resched) in [(1u8, false), (3, true)] {
        let (t, _d, id) = setup(8, Fwd::Dr);
        t.set_settings(Settings {
            conn_reuse_mode: mode,
            ..Settings::default()
        });
        t.insert(&nc(proto::TCP, 1, Fwd::Dr, id), SYN, None, 0)
            .unwrap();
        t.lookup(&inbound(proto::TCP, 1), ACK, 0);
        assert_eq!(
            state(t.lookup(&inbound(proto::TCP, 1), FIN, 0)),
            tcp(TcpState::FinWait)
        );
        let r = t.lookup(&inbound(proto::TCP, 1), SYN, 0);
        assert_eq!(r == Lookup::Reschedule, want_resched, "mode {mode}: {r:?}");
    }
}

#[test]
fn deleted_dest_drops_or_expires_per_setting() {
    let (t, d, id) = setup(8, Fwd::Nat);
    t.insert(&nc(proto::TCP, 1, Fwd::Nat, id), SYN, None, 0)
        .unwrap();
    d.set_unavailable();
    assert_eq!(
        t.lookup(&inbound(proto::TCP, 1), ACK, 1),
        Lookup::DestUnavailable
    );
    // Replies are not checked (IPVS checks the dest on the way in only).
    assert!(matches!(
        t.lookup(&reply(proto::TCP, 1), ACK, 1),
        Lookup::Hit(_)
    ));
    assert_eq!(t.count(), 1);
    t.set_settings(Settings {
        expire_nodest_conn: true,
        ..Settings::default()
    });
    assert_eq!(
        t.lookup(&inbound(proto::TCP, 1), ACK, 2),
        Lookup::Reschedule
    );
    assert_eq!(t.count(), 0);
    assert_eq!(d.inactive_conns(), 0);
}

#[test]
fn expire_nodest_makes_syn_to_quiesced_dest_reschedule() {
    let (t, d, id) = setup(8, Fwd::Nat);
    t.insert(&nc(proto::TCP, 1, Fwd::Nat, id), SYN, None, 0)
        .unwrap();
    t.lookup(&inbound(proto::TCP, 1), ACK, 0);
    d.set_weight(0);
    // Default: weight 0 alone changes nothing for existing entries.
    assert!(matches!(
        t.lookup(&inbound(proto::TCP, 1), SYN, 0),
        Lookup::Hit(_)
    ));
    t.set_settings(Settings {
        expire_nodest_conn: true,
        ..Settings::default()
    });
    assert_eq!(
        t.lookup(&inbound(proto::TCP, 1), SYN, 0),
        Lookup::Reschedule
    );
}

#[test]
fn duplicate_insert_is_refused() {
    let (t, d, id) = setup(8, Fwd::Nat);
    let first = t
        .insert(&nc(proto::TCP, 1, Fwd::Nat, id), SYN, None, 0)
        .unwrap();
    match t.insert(&nc(proto::TCP, 1, Fwd::Nat, id), SYN, None, 0) {
        Err(ConnError::Exists(r)) => assert_eq!(r, first.conn),
        other => panic!("{other:?}"),
    }
    assert_eq!(t.count(), 1);
    assert_eq!(d.inactive_conns(), 1);
}

#[test]
fn stale_ref_cannot_touch_a_reused_slot() {
    let (t, d, id) = setup(1, Fwd::Nat);
    let a = t
        .insert(&nc(proto::TCP, 1, Fwd::Nat, id), SYN, None, 0)
        .unwrap();
    assert!(t.expire_now(a.conn));
    let b = t
        .insert(&nc(proto::TCP, 2, Fwd::Nat, id), SYN, None, 0)
        .unwrap();
    assert_eq!(a.conn.idx, b.conn.idx);
    assert!(!t.expire_now(a.conn));
    assert_eq!(t.count(), 1);
    assert_eq!(d.inactive_conns(), 1);
}

#[test]
fn unknown_dest_and_bad_capacity() {
    let (t, _d, _) = setup(2, Fwd::Nat);
    assert_eq!(
        t.insert(&nc(proto::TCP, 1, Fwd::Nat, DestId(77)), SYN, None, 0),
        Err(ConnError::UnknownDest)
    );
    assert!(matches!(ConnTable::new(0), Err(ConnError::BadCapacity(0))));
    assert_eq!(t.count(), 0);
}

#[test]
fn register_dest_is_idempotent() {
    let (t, d, id) = setup(2, Fwd::Nat);
    assert_eq!(t.register_dest(&d).unwrap(), id);
    let other = Arc::new(Dest::new(RIP, 1, Fwd::Nat, 1));
    assert_ne!(t.register_dest(&other).unwrap(), id);
    assert!(Arc::ptr_eq(&t.dest(id).unwrap(), &d));
}

#[test]
fn memory_is_within_budget() {
    let t = ConnTable::new(100_000).unwrap();
    assert!(t.bytes_per_conn() <= 128, "{} B/conn", t.bytes_per_conn());
}

#[test]
fn listing_row_matches_ipvsadm_layout() {
    let (t, _d, id) = setup(4, Fwd::Nat);
    t.insert(&nc(proto::TCP, 40800, Fwd::Nat, id), SYN, None, 0)
        .unwrap();
    t.lookup(&inbound(proto::TCP, 40800), ACK, 0);
    let rows: Vec<String> = t.snapshot(1).iter().map(|e| e.ipvsadm_row()).collect();
    assert_eq!(
        rows,
        ["TCP 14:59  ESTABLISHED 198.51.100.2:40800 203.0.113.1:80     192.0.2.2:8080"]
    );
}

/// The race a released id must survive: an entry still names a dest whose id the
/// management thread released (it read the counters at 0 just as the entry was made)
/// and gave to a new dest. The entry's packets find no dest (a miss, as for a deleted
/// dest's expired entry); they never reach the new dest, whose counters stay untouched.
#[test]
fn an_entry_naming_a_released_id_never_reaches_the_dest_that_reuses_it() {
    let (t, old, id) = setup(16, Fwd::Nat);
    t.insert(&nc(proto::TCP, 41000, Fwd::Nat, id), SYN, None, 0)
        .unwrap();
    assert_eq!(old.inactive_conns(), 1);
    assert!(t.release_dest(id));
    let new = Arc::new(Dest::new(Ipv4Addr::new(192, 0, 2, 3), 8080, Fwd::Nat, 1));
    let new_id = t.register_dest(&new).unwrap();
    assert_eq!(new_id.index(), id.index(), "the slot is reused");
    assert!(t.dest(id).is_none());
    assert!(matches!(
        t.lookup(&inbound(proto::TCP, 41000), ACK, 1),
        Lookup::Miss
    ));
    assert_eq!((new.active_conns(), new.inactive_conns()), (0, 0));
    assert!(t
        .insert(&nc(proto::TCP, 41001, Fwd::Nat, id), SYN, None, 1)
        .is_err());
    assert_eq!(new.inactive_conns(), 0, "a stale id binds nothing");
}
