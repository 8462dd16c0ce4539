//! The neighbour state machine, driven through time by hand (the worker clock is a
//! plain number of seconds, so no test sleeps).

use super::*;

const IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x11];
const KNOWN: Neigh = Neigh::Known { mac: MAC };

/// Every probe the housekeeping hands out at `now` (one full sweep of the table).
fn sweep(t: &NeighTable, now: u32) -> Vec<Probe> {
    let mut out = Vec::new();
    let mut cursor = 0;
    t.due_probes(&mut cursor, SLOTS, now, |p| out.push(p));
    out
}

#[test]
fn unknown_address_asks_for_one_request_per_interval() {
    let t = NeighTable::new();
    assert_eq!(t.lookup(IP, 10), Neigh::Unknown { request: true });
    assert_eq!(t.lookup(IP, 10), Neigh::Unknown { request: false });
    assert_eq!(t.lookup(IP, 11), Neigh::Unknown { request: true });
}

#[test]
fn stale_entry_in_use_gets_unicast_probes_after_the_delay_and_stays_usable() {
    let p = NeighParams::default();
    let t = NeighTable::new();
    t.learn(IP, MAC, 100);
    let stale = 100 + p.reachable_secs;
    // Reachable, then stale: used as is, nothing probed yet.
    assert_eq!(t.lookup(IP, 100), KNOWN);
    assert!(sweep(&t, stale).is_empty());
    assert_eq!(t.lookup(IP, stale), KNOWN); // in use from here (DELAY)
    assert!(sweep(&t, stale + p.delay_first_probe_secs - 1).is_empty());
    let first = stale + p.delay_first_probe_secs;
    assert_eq!(
        sweep(&t, first),
        vec![Probe {
            addr: IP,
            mac: Some(MAC)
        }]
    );
    // One probe per retransmission interval, the entry usable all along.
    assert!(sweep(&t, first).is_empty());
    assert_eq!(t.lookup(IP, first), KNOWN);
    assert_eq!(sweep(&t, first + 1).len(), 1);
    assert_eq!(t.lookup_quiet(IP, first + 1), Some(MAC));
}

#[test]
fn unused_stale_entry_is_never_probed_and_forgotten_after_gc_stale_time() {
    let p = NeighParams::default();
    let t = NeighTable::new();
    t.learn(IP, MAC, 0);
    let stale = p.reachable_secs;
    for now in stale..stale + p.gc_stale_secs {
        assert!(sweep(&t, now).is_empty());
        assert_eq!(t.lookup_quiet(IP, now), Some(MAC));
    }
    assert_eq!(t.lookup_quiet(IP, stale + p.gc_stale_secs), None);
    assert_eq!(
        t.lookup(IP, stale + p.gc_stale_secs),
        Neigh::Unknown { request: true }
    );
}

#[test]
fn entry_in_use_survives_long_past_the_old_expiry_while_probes_are_answered() {
    let t = NeighTable::new();
    t.learn(IP, MAC, 0);
    let mut probes = 0;
    // An hour of traffic; the neighbour never speaks first (a DR real server), it only
    // answers our probes.
    for now in 0..3600 {
        assert_eq!(t.lookup(IP, now), KNOWN, "at {now} s");
        for pr in sweep(&t, now) {
            assert_eq!(pr.mac, Some(MAC), "a unicast probe");
            probes += 1;
            t.learn(pr.addr, MAC, now); // the reply
        }
    }
    // One probe per reachable + delay period, no more.
    let p = NeighParams::default();
    let period = p.reachable_secs + p.delay_first_probe_secs;
    assert!(
        probes >= 3600 / period - 1 && probes <= 3600 / period + 1,
        "{probes}"
    );
}

#[test]
fn entry_dies_when_its_probes_go_unanswered_then_broadcast_resolution_starts() {
    let p = NeighParams {
        mcast_resolicit: 1,
        ..NeighParams::default()
    };
    let t = NeighTable::with_params(p, Vec::new());
    t.learn(IP, MAC, 0);
    let start = p.reachable_secs;
    assert_eq!(t.lookup(IP, start), KNOWN);
    let mut sent = Vec::new();
    let mut now = start;
    while now < start + 60 && t.lookup(IP, now) == KNOWN {
        sent.extend(sweep(&t, now));
        now += 1;
    }
    // ucast_solicit unicast probes to the known MAC, then the broadcast one.
    let unicast = Probe {
        addr: IP,
        mac: Some(MAC),
    };
    let broadcast = Probe {
        addr: IP,
        mac: None,
    };
    assert_eq!(sent, vec![unicast, unicast, unicast, broadcast]);
    // Failed one retransmission interval after the last probe.
    let last = start + p.delay_first_probe_secs + 3;
    assert_eq!(now, last + p.retrans_secs);
    assert_eq!(t.lookup_quiet(IP, now), None);
    // The failed entry stays unusable while broadcast requests go out, and no more
    // probes are handed out; a reply makes it reachable again.
    assert!(sweep(&t, now + 1).is_empty());
    assert_eq!(t.lookup(IP, now + 1), Neigh::Unknown { request: true });
    assert_eq!(t.lookup(IP, now + 1), Neigh::Unknown { request: false });
    assert_eq!(t.lookup_quiet(IP, now + 1), None);
    t.learn(IP, MAC, now + 2);
    assert_eq!(t.lookup(IP, now + 2), KNOWN);
}

#[test]
fn static_entries_never_expire_are_never_probed_nor_overwritten() {
    let gw = Ipv4Addr::new(192, 0, 2, 254);
    let gw_mac = [2, 0, 0, 0, 2, 0x54];
    let t = NeighTable::with_params(NeighParams::default(), vec![(gw, gw_mac)]);
    t.learn(gw, [2, 0, 0, 0, 0, 0x99], 5);
    for now in [0, 100, 10_000, u32::MAX] {
        assert_eq!(t.lookup(gw, now), Neigh::Known { mac: gw_mac });
        assert_eq!(t.lookup_quiet(gw, now), Some(gw_mac));
        assert!(sweep(&t, now).is_empty());
    }
    assert_eq!(t.entries(10_000), vec![(gw, gw_mac, 0)]);
}

#[test]
fn probes_and_multicast_are_not_learnt() {
    let t = NeighTable::new();
    t.learn(Ipv4Addr::UNSPECIFIED, MAC, 1);
    t.learn(IP, [0x01, 0, 0x5e, 0, 0, 1], 1);
    assert!(t.entries(1).is_empty());
}

#[test]
fn colliding_address_evicts_and_never_returns_wrong_mac() {
    let t = NeighTable::new();
    // Find another address in the same slot.
    let a = u32::from(IP);
    let other = (1..u32::MAX)
        .map(|d| a.wrapping_add(d))
        .find(|&b| index(b) == index(a))
        .unwrap();
    t.learn(IP, MAC, 5);
    t.learn(Ipv4Addr::from(other), [2, 0, 0, 0, 0, 0x22], 5);
    assert!(matches!(t.lookup(IP, 5), Neigh::Unknown { .. }));
}

#[test]
fn concurrent_learning_and_lookup_never_mixes_entries() {
    let t = std::sync::Arc::new(NeighTable::new());
    let addrs: Vec<Ipv4Addr> = (0..512u32)
        .map(|i| Ipv4Addr::from(0xC000_0200 + i))
        .collect();
    let mac_of = |a: Ipv4Addr| {
        let o = a.octets();
        [2, 0, o[0], o[1], o[2], o[3]]
    };
    let writers: Vec<_> = (0..2)
        .map(|_| {
            let (t, addrs) = (t.clone(), addrs.clone());
            std::thread::spawn(move || {
                for _ in 0..200 {
                    for &a in &addrs {
                        t.learn(a, mac_of(a), 1);
                    }
                }
            })
        })
        .collect();
    for _ in 0..200 {
        for &a in &addrs {
            if let Neigh::Known { mac } = t.lookup(a, 1) {
                assert_eq!(mac, mac_of(a));
            }
        }
    }
    for w in writers {
        w.join().unwrap();
    }
}

/// Operator review: at worker-clock second 0 the request stamp was stored as 1, so
/// `0 - 1` wrapped and every lookup in the first second claimed a request (64 914
/// broadcasts in 0.73 s for one unresolved real server).
#[test]
fn second_zero_claims_one_request_per_interval_too() {
    let t = NeighTable::new();
    assert_eq!(t.lookup(IP, 0), Neigh::Unknown { request: true });
    for _ in 0..1000 {
        assert_eq!(t.lookup(IP, 0), Neigh::Unknown { request: false });
    }
    assert_eq!(t.lookup(IP, 1), Neigh::Unknown { request: true });
    assert_eq!(t.lookup(IP, 1), Neigh::Unknown { request: false });
    assert_eq!(t.lookup(IP, 2), Neigh::Unknown { request: true });
}

/// A stale entry first used at second 0 waits `delay_first_probe_secs` for its first
/// probe, like one used at any other second (same wrap as the request stamp).
#[test]
fn stale_entry_marked_at_second_zero_waits_for_the_probe_delay() {
    let p = NeighParams {
        reachable_secs: 0,
        ..NeighParams::default()
    };
    let t = NeighTable::with_params(p, Vec::new());
    t.learn(IP, MAC, 0);
    assert_eq!(t.lookup(IP, 0), KNOWN); // stale at once, in use from second 0
    for now in 0..p.delay_first_probe_secs {
        assert!(sweep(&t, now).is_empty(), "probe at {now}");
    }
    assert_eq!(sweep(&t, p.delay_first_probe_secs).len(), 1);
}
