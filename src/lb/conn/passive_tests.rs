//! Passive detection through the real table: packets and expiries of new
//! connections judged as failed openings (`passive.rs`), once per connection.

use std::net::Ipv4Addr;
use std::sync::Arc;

use super::table::{ConnTable, Lookup, NewConn};
use super::{ConnState, DestId, TcpFlags, TcpState};
use crate::lb::dest::{Dest, Fwd};
use crate::lb::flow::{proto, FlowKey};

const SYN: TcpFlags = TcpFlags::SYN;
const ACK: TcpFlags = TcpFlags::ACK;
const RST: TcpFlags = TcpFlags::RST;

const CLIENT: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 2);
const VIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 1);
const RIP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 2);

fn setup(fwd: Fwd) -> (ConnTable, DestId) {
    let t = ConnTable::new(64).unwrap();
    let d = Arc::new(Dest::new(RIP, 8080, fwd, 1));
    let id = t.register_dest(&d).unwrap();
    (t, id)
}

fn open(t: &ConnTable, id: DestId, fwd: Fwd, cport: u16, now: u32) {
    let c = NewConn {
        proto: proto::TCP,
        caddr: CLIENT,
        cport,
        vaddr: VIP,
        vport: 80,
        raddr: RIP,
        rport: 8080,
        fwd,
        dest: id,
    };
    let h = t.insert(&c, SYN, None, now).unwrap();
    assert!(!h.failed_opening, "a first SYN is no failure");
}

fn client(cport: u16) -> FlowKey {
    FlowKey {
        proto: proto::TCP,
        saddr: CLIENT,
        sport: cport,
        daddr: VIP,
        dport: 80,
    }
}

fn server(cport: u16) -> FlowKey {
    FlowKey {
        proto: proto::TCP,
        saddr: RIP,
        sport: 8080,
        daddr: CLIENT,
        dport: cport,
    }
}

/// (failed_opening, state) of a packet that must hit its entry.
fn send(t: &ConnTable, key: &FlowKey, flags: TcpFlags, now: u32) -> (bool, ConnState) {
    match t.lookup(key, flags, now) {
        Lookup::Hit(h) => (h.failed_opening, h.state),
        other => panic!("expected a hit, got {other:?}"),
    }
}

/// The dests the sweep reported as failed openings at `now`.
fn swept(t: &ConnTable, now: u32) -> Vec<DestId> {
    let mut failed = Vec::new();
    t.sweep_counting(now, t.max_conns(), |d| failed.push(d));
    failed
}

#[test]
fn nat_real_server_resetting_the_syn_counts_once() {
    let (t, id) = setup(Fwd::Nat);
    open(&t, id, Fwd::Nat, 1000, 5);
    let rst = RST | ACK;
    assert_eq!(
        send(&t, &server(1000), rst, 5),
        (true, ConnState::Tcp(TcpState::Close))
    );
    assert!(!send(&t, &server(1000), rst, 5).0, "counted once");
    // Its CLOSE timer runs out: the failure was counted already.
    assert!(swept(&t, 5 + 10).is_empty());
    assert_eq!(t.count(), 0);
}

#[test]
fn nat_syn_sent_again_without_answer_counts_once_and_a_duplicate_never() {
    let (t, id) = setup(Fwd::Nat);
    open(&t, id, Fwd::Nat, 1001, 7);
    // The same SYN again in the tick that created the entry: a duplicate.
    assert!(!send(&t, &client(1001), SYN, 7).0);
    // One second later: the client's retransmission, nothing came back.
    assert_eq!(
        send(&t, &client(1001), SYN, 8),
        (true, ConnState::Tcp(TcpState::SynRecv))
    );
    assert!(!send(&t, &client(1001), SYN, 10).0, "counted once");
    assert!(swept(&t, 10 + 60).is_empty(), "nor again at expiry");
    assert_eq!(t.count(), 0);
}

#[test]
fn nat_answered_opening_is_never_a_failure() {
    let (t, id) = setup(Fwd::Nat);
    open(&t, id, Fwd::Nat, 1002, 0);
    assert!(!send(&t, &server(1002), SYN | ACK, 0).0);
    // The SYN-ACK was lost on the way to the client: it sends its SYN again.
    assert!(!send(&t, &client(1002), SYN, 1).0);
    // The server then resets the half-open connection; it had answered.
    assert!(!send(&t, &server(1002), RST, 2).0);
    // An answered entry that expires in SYN_RECV is no failed opening either.
    open(&t, id, Fwd::Nat, 1003, 0);
    assert!(!send(&t, &server(1003), SYN | ACK, 0).0);
    assert!(swept(&t, 100).is_empty());
    // Nor is a reset of an established connection.
    open(&t, id, Fwd::Nat, 1004, 100);
    send(&t, &server(1004), SYN | ACK, 100);
    assert_eq!(
        send(&t, &client(1004), ACK, 100),
        (false, ConnState::Tcp(TcpState::Established))
    );
    assert!(!send(&t, &server(1004), RST, 101).0);
}

#[test]
fn nat_unanswered_expiry_is_reported_by_the_sweep_once() {
    let (t, id) = setup(Fwd::Nat);
    open(&t, id, Fwd::Nat, 1005, 0);
    assert!(swept(&t, 59).is_empty(), "not due yet");
    assert_eq!(swept(&t, 60), vec![id]);
    assert!(swept(&t, 61).is_empty());
    assert_eq!(t.count(), 0);
}

#[test]
fn a_lookup_leaves_an_expired_failed_opening_to_the_sweep() {
    let (t, id) = setup(Fwd::Nat);
    open(&t, id, Fwd::Nat, 1006, 0);
    // The client comes back on the same port after the entry expired: a miss, and
    // the entry is not reclaimed there (the lookup could not count it).
    assert_eq!(t.lookup(&client(1006), SYN, 60), Lookup::Miss);
    assert_eq!(t.count(), 1);
    // A new connection on that tuple is made and found beside the old one.
    open(&t, id, Fwd::Nat, 1006, 60);
    assert_eq!(t.count(), 2);
    assert_eq!(swept(&t, 61), vec![id], "the old one, counted by the sweep");
    assert_eq!(
        send(&t, &server(1006), SYN | ACK, 61),
        (false, ConnState::Tcp(TcpState::SynRecv))
    );
    assert_eq!(t.count(), 1);
}

#[test]
fn forced_expiry_and_udp_are_never_failures() {
    let (t, id) = setup(Fwd::Nat);
    // Flushed (or rescheduled) while unanswered in SYN_RECV: not the server's doing.
    open(&t, id, Fwd::Nat, 1007, 0);
    let Some(h) = t.find(&client(1007), 0) else {
        panic!("no entry")
    };
    assert!(t.expire_now(h.conn));
    assert!(swept(&t, 100).is_empty());
    // A UDP entry that got no reply and expires.
    let udp = NewConn {
        proto: proto::UDP,
        caddr: CLIENT,
        cport: 1009,
        vaddr: VIP,
        vport: 53,
        raddr: RIP,
        rport: 53,
        fwd: Fwd::Nat,
        dest: id,
    };
    t.insert(&udp, TcpFlags::NONE, None, 0).unwrap();
    assert!(swept(&t, 1000).is_empty());
    assert_eq!(t.count(), 0);
}

#[test]
fn dr_and_tun_count_the_clients_syn_sent_again_once() {
    for fwd in [Fwd::Dr, Fwd::Tun] {
        let (t, id) = setup(fwd);
        open(&t, id, fwd, 2000, 0);
        assert!(!send(&t, &client(2000), SYN, 0).0, "{fwd:?} duplicate");
        assert_eq!(
            send(&t, &client(2000), SYN, 1),
            (true, ConnState::Tcp(TcpState::SynRecv)),
            "{fwd:?}"
        );
        assert!(!send(&t, &client(2000), SYN, 3).0, "{fwd:?} once");
        // The director never sees the server's side: expiry alone (what a
        // spoofed-source SYN flood leaves behind) is not counted.
        open(&t, id, fwd, 2001, 0);
        assert!(swept(&t, 200).is_empty(), "{fwd:?}");
        // A completed handshake (the client's ACK), then a SYN: no failed opening.
        open(&t, id, fwd, 2002, 200);
        assert_eq!(
            send(&t, &client(2002), ACK, 200),
            (false, ConnState::Tcp(TcpState::Established))
        );
        assert!(!send(&t, &client(2002), SYN, 201).0, "{fwd:?}");
    }
}

#[test]
fn workers_racing_on_one_retransmission_count_it_exactly_once() {
    for round in 0..50u16 {
        let (t, id) = setup(Fwd::Nat);
        open(&t, id, Fwd::Nat, 3000 + round, 0);
        let failed: usize = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..4)
                .map(|_| {
                    sc.spawn(|| {
                        (0..8)
                            .filter(|_| send(&t, &client(3000 + round), SYN, 1).0)
                            .count()
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).sum()
        });
        assert_eq!(failed, 1, "round {round}");
    }
}
