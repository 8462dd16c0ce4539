//! Run-time changes while traffic flows: the management thread (`mgmt::Manager`)
//! publishes hundreds of changes (VIPs, services, dests, mark rules) while two real
//! worker loops forward frames on a DPDK `net_ring` port (queue i = worker i). After
//! each change a frame that depends on it is offered, alternately to each worker, and
//! the test waits for the output that proves the worker saw it; an established NAT
//! connection keeps being forwarded on both workers throughout. A VIP added at run
//! time is announced by exactly one gratuitous ARP, from the announcing worker only.
//! Old snapshots are reclaimed once every worker looped, even by a worker that gets
//! no traffic at all (before, a worker refreshed only on new flows and pinned every
//! old table). One test: the EAL is once per process.

mod common;

use common::eal::{mbuf_with, root_or_skip, test_eal};
use rvs::dataplane::worker::{PortQueues, Worker};
use rvs::dataplane::{Counter, LbPath, Views, WorkerCounters};
use rvs::dpdk::{self, Mempool, Port, PortConfig, Ring};
use rvs::lb::dest::Fwd;
use rvs::lb::flow::proto;
use rvs::lb::mark::{MarkRule, MarkTable};
use rvs::lb::service::{DestConfig, ServiceConfig, ServiceKey};
use rvs::testkit::testbed::{self, tcp_frame, CLIENT_MAC, PORT_MAC};
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

const WORKERS: usize = 2;
const ROUNDS: u8 = 50;
/// Hang guard only: a change never seen would otherwise block forever.
const HANG: Duration = Duration::from_secs(10);

fn a(d: u8) -> Ipv4Addr {
    Ipv4Addr::new(203, 0, 113, d)
}

/// An ARP request from the client for `target`.
fn arp_request(target: Ipv4Addr) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0..6].copy_from_slice(&[0xff; 6]);
    f[6..12].copy_from_slice(&CLIENT_MAC);
    f[12..14].copy_from_slice(&[0x08, 0x06]);
    f[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 1]);
    f[22..28].copy_from_slice(&CLIENT_MAC);
    f[28..32].copy_from_slice(&a(2).octets());
    f[38..42].copy_from_slice(&target.octets());
    f
}

/// What an output frame is, as far as this test cares.
#[derive(Debug, PartialEq, Eq)]
enum Out {
    /// ARP with (operation, sender address, target address).
    Arp(u16, Ipv4Addr, Ipv4Addr),
    /// IPv4 TCP to (address, port) from source port.
    Tcp(Ipv4Addr, u16, u16),
    Other,
}

fn parse(f: &[u8]) -> Out {
    let ip = |o: usize| Ipv4Addr::new(f[o], f[o + 1], f[o + 2], f[o + 3]);
    match (f.get(12..14), f.len()) {
        (Some([0x08, 0x06]), n) if n >= 42 => {
            Out::Arp(u16::from_be_bytes([f[20], f[21]]), ip(28), ip(38))
        }
        (Some([0x08, 0x00]), n) if n >= 38 && f[23] == proto::TCP => Out::Tcp(
            ip(30),
            u16::from_be_bytes([f[36], f[37]]),
            u16::from_be_bytes([f[34], f[35]]),
        ),
        _ => Out::Other,
    }
}

/// The test's side of the port: feeds RX rings, drains TX rings.
struct Wire {
    pool: Arc<Mempool>,
    rx: Vec<Ring>,
    tx: Vec<Ring>,
    /// Output frames not yet matched, with the queue (= worker) that sent them.
    pending: Vec<(usize, Out)>,
    /// Gratuitous ARPs seen per (queue, address).
    garps: HashMap<(usize, Ipv4Addr), u32>,
    counters: Vec<Arc<WorkerCounters>>,
}

impl Wire {
    /// Every non-zero counter, per worker (printed when the test fails).
    fn counters(&self) -> String {
        let mut s = String::new();
        for c in Counter::ALL {
            let v: Vec<u64> = self.counters.iter().map(|w| w.get(*c)).collect();
            if v.iter().any(|x| *x != 0) {
                s += &format!("{} {:?}; ", c.name(), v);
            }
        }
        s
    }
}

impl Wire {
    fn send(&self, q: usize, bytes: &[u8]) {
        let mut v = vec![mbuf_with(&self.pool, bytes)];
        assert_eq!(self.rx[q].enqueue(&mut v), 1, "rx ring {q} has room");
    }

    fn drain(&mut self) {
        for (q, ring) in self.tx.iter().enumerate() {
            let mut out = Vec::new();
            ring.dequeue(&mut out, 64);
            for m in out {
                match parse(m.data()) {
                    Out::Arp(1, s, t) if s == t => *self.garps.entry((q, s)).or_default() += 1,
                    o => self.pending.push((q, o)),
                }
            }
        }
    }

    /// Waits for an output from queue `q` that `want` accepts, and consumes it.
    fn expect(&mut self, q: usize, what: &str, want: impl Fn(&Out) -> bool) -> Out {
        let t0 = Instant::now();
        loop {
            self.drain();
            if let Some(i) = self.pending.iter().position(|(pq, o)| *pq == q && want(o)) {
                return self.pending.swap_remove(i).1;
            }
            assert!(
                t0.elapsed() < HANG,
                "never saw {what} on queue {q}: {:?}; counters: {}",
                self.pending,
                self.counters()
            );
            std::thread::yield_now();
        }
    }

    /// Waits until queue `q` has sent a gratuitous ARP for `vip`.
    fn expect_garp(&mut self, q: usize, vip: Ipv4Addr) {
        let t0 = Instant::now();
        while !self.garps.contains_key(&(q, vip)) {
            self.drain();
            assert!(
                t0.elapsed() < HANG,
                "no gratuitous ARP for {vip} on queue {q}"
            );
            std::thread::yield_now();
        }
    }
}

/// Waits until every worker finished two more loops, so each started a loop, and
/// refreshed its snapshots, after this call. A frame a worker polls in the loop during
/// which a change was published may still meet the tables of that loop's start (the
/// snapshot contract: changes take effect at the next loop), so a frame that tests a
/// change is sent only after this.
fn wait_loops(counters: &[Arc<WorkerCounters>]) {
    let start: Vec<u64> = counters.iter().map(|c| c.get(Counter::Loops)).collect();
    let t0 = Instant::now();
    while counters
        .iter()
        .zip(&start)
        .any(|(c, s)| c.get(Counter::Loops) < s + 2)
    {
        assert!(t0.elapsed() < HANG, "workers stopped looping");
        std::thread::yield_now();
    }
}

fn nat_service(vip: Ipv4Addr) -> ServiceKey {
    ServiceKey::Addr {
        proto: proto::TCP,
        vip,
        vport: 80,
    }
}

fn nat_dest(d: u8, weight: i32) -> DestConfig {
    DestConfig {
        fwd: Fwd::Nat,
        weight,
        ..DestConfig::new(a(d), 8080)
    }
}

#[test]
fn hundreds_of_changes_while_workers_forward() {
    if !root_or_skip() {
        return;
    }
    let eal = test_eal("rvchg", &[]);
    let pool = Arc::new(Mempool::new(&eal, "chg_pool", 4095, 0).expect("mempool"));
    let rx: Vec<Ring> = (0..WORKERS)
        .map(|q| Ring::new(&eal, &format!("chg_rx{q}"), 256).expect("ring"))
        .collect();
    let tx: Vec<Ring> = (0..WORKERS)
        .map(|q| Ring::new(&eal, &format!("chg_tx{q}"), 1024).expect("ring"))
        .collect();
    let port = Port::from_rings(
        "chg_port",
        &rx.iter().collect::<Vec<_>>(),
        &tx.iter().collect::<Vec<_>>(),
    )
    .expect("ring port");
    let cfg = PortConfig {
        queues: WORKERS as u16,
        mtu: 0,
        ..PortConfig::default()
    };
    let (_port, rxq, txq) = port.start(&cfg, &pool).expect("start");

    // The testbed director (port MAC 02:..:01, 203.0.113.1/24, NAT 203.0.113.10:80,
    // mark 1 NAT, real servers .11-.13 learnt) under the real Manager.
    let (net, mut mgr) = testbed::setup(4096, "rr");
    let first_services = Arc::downgrade(mgr.services());
    let first_marks = Arc::downgrade(mgr.marks());
    let first_net = Arc::downgrade(mgr.net());
    let stop = Arc::new(AtomicBool::new(false));
    let counters: Vec<Arc<WorkerCounters>> = (0..WORKERS)
        .map(|_| Arc::new(WorkerCounters::default()))
        .collect();
    let (tsc_hz, tsc_start) = (dpdk::tsc_hz(), dpdk::rdtsc());
    let mut threads = Vec::new();
    for (index, (r, t)) in rxq.into_iter().zip(txq).enumerate() {
        let views = mgr.lb_views().expect("LB views");
        let wnet = net.view(mgr.net_reader());
        let unres = rvs::dataplane::worker::unres_queue(&wnet);
        let worker = Worker {
            index,
            ports: vec![PortQueues {
                rx: r,
                tx: t,
                tap: None,
            }],
            net: wnet,
            unres,
            prime: Vec::new(),
            neigh_sweep: index == 0,
            counters: counters[index].clone(),
            stop: stop.clone(),
            tsc_hz,
            tsc_start,
            pool: pool.clone(),
            announce: index == 0,
            announced: 0,
            lb: Some(LbPath::new(net.view(mgr.net_reader()), views, index)),
            vlans: Default::default(),
            vlan_taps: Vec::new(),
            reasm: rvs::dataplane::reasm::Reasm::new(Default::default()),
            reasm_out: rvs::dataplane::worker::reasm_out(),
        };
        let eal = eal.clone();
        threads.push(std::thread::spawn(move || {
            dpdk::register_thread(&eal).expect("EAL thread registration");
            worker.run();
        }));
    }
    drop(net);
    let mut wire = Wire {
        pool: pool.clone(),
        rx,
        tx,
        pending: Vec::new(),
        garps: HashMap::new(),
        counters: counters.clone(),
    };

    // An established NAT connection on each worker: it must keep flowing throughout.
    for q in 0..WORKERS {
        let sport = 40_000 + q as u16;
        wire.send(
            q,
            &tcp_frame(a(2), sport, a(10), 80, 0x02, PORT_MAC, CLIENT_MAC),
        );
        wire.expect(
            q,
            "NAT SYN",
            |o| matches!(o, Out::Tcp(_, 8080, p) if *p == sport),
        );
    }
    let established = |q: usize| {
        tcp_frame(
            a(2),
            40_000 + q as u16,
            a(10),
            80,
            0x10,
            PORT_MAC,
            CLIENT_MAC,
        )
    };

    let mut changes = 0u32;
    let mut sport = 1024u16;
    for round in 0..ROUNDS {
        let vip = a(100 + round);
        // Alternate which worker must see each change first.
        let (q, other) = ((round as usize) % WORKERS, (round as usize + 1) % WORKERS);
        for w in 0..WORKERS {
            wire.send(w, &established(w));
        }

        // A VIP added at run time answers ARP on every worker and is announced once.
        mgr.add_vip(0, vip).expect("add VIP");
        changes += 1;
        wait_loops(&counters);
        wire.send(q, &arp_request(vip));
        wire.expect(q, "ARP reply for the new VIP", |o| {
            *o == Out::Arp(2, vip, a(2))
        });
        wire.send(other, &arp_request(vip));
        wire.expect(other, "ARP reply for the new VIP", |o| {
            *o == Out::Arp(2, vip, a(2))
        });
        wire.expect_garp(0, vip);

        // A new service with one real server: its first SYN is scheduled there.
        let key = nat_service(vip);
        mgr.add_service(ServiceConfig {
            sched: "rr".into(),
            ..ServiceConfig::new(key)
        })
        .expect("add service");
        mgr.add_dest(&key, &nat_dest(11, 1)).expect("add dest");
        changes += 2;
        wait_loops(&counters);
        sport += 1;
        wire.send(
            q,
            &tcp_frame(a(2), sport, vip, 80, 0x02, PORT_MAC, CLIENT_MAC),
        );
        wire.expect(q, "SYN to the new service", |o| {
            *o == Out::Tcp(a(11), 8080, sport)
        });

        // A second dest, then the first quiesced (weight 0): new SYNs go to .12.
        mgr.add_dest(&key, &nat_dest(12, 1)).expect("add dest");
        mgr.edit_dest(&key, &nat_dest(11, 0)).expect("edit dest");
        changes += 2;
        wait_loops(&counters);
        for w in [other, q] {
            sport += 1;
            wire.send(
                w,
                &tcp_frame(a(2), sport, vip, 80, 0x02, PORT_MAC, CLIENT_MAC),
            );
            wire.expect(w, "SYN after the weight change", |o| {
                *o == Out::Tcp(a(12), 8080, sport)
            });
        }

        // New mark rules: VIP:81 becomes mark 1 (NAT to .11-.13, port kept).
        let mut marks = MarkTable::new();
        for r in mgr.marks().rules() {
            marks.add(*r).expect("existing rule");
        }
        marks
            .add(MarkRule {
                proto: Some(proto::TCP),
                dport_min: 81,
                dport_max: 81,
                ..MarkRule::vip(1, vip)
            })
            .expect("mark rule");
        mgr.set_marks(marks);
        changes += 1;
        wait_loops(&counters);
        sport += 1;
        wire.send(
            other,
            &tcp_frame(a(2), sport, vip, 81, 0x02, PORT_MAC, CLIENT_MAC),
        );
        wire.expect(
            other,
            "SYN matched by the new mark rule",
            |o| matches!(o, Out::Tcp(d, 81, p) if [a(11), a(12), a(13)].contains(d) && *p == sport),
        );

        // Removal: the service, the dest and the VIP go; ARP for it is ignored.
        mgr.del_dest(&key, a(11), 8080).expect("del dest");
        mgr.del_service(&key).expect("del service");
        mgr.remove_vip(0, vip).expect("remove VIP");
        mgr.set_marks(MarkTable::clone(mgr.marks()));
        changes += 4;
        wait_loops(&counters);
        let ignored = counters[q].get(Counter::DropArpIgnored);
        wire.send(q, &arp_request(vip));
        let t0 = Instant::now();
        while counters[q].get(Counter::DropArpIgnored) == ignored {
            if t0.elapsed() > HANG {
                for c in Counter::ALL {
                    let v: Vec<u64> = counters.iter().map(|w| w.get(*c)).collect();
                    if v.iter().any(|x| *x != 0) {
                        eprintln!("{} {:?}", c.name(), v);
                    }
                }
                wire.drain();
                panic!(
                    "round {round}: ARP for a removed VIP not ignored: {:?}",
                    wire.pending
                );
            }
            std::thread::yield_now();
        }

        // The established connections were forwarded all along.
        for w in 0..WORKERS {
            let p = 40_000 + w as u16;
            wire.expect(
                w,
                "established NAT traffic",
                |o| matches!(o, Out::Tcp(_, 8080, sp) if *sp == p),
            );
        }
    }
    assert!(changes >= 500, "{changes} changes published");
    let (gs, gm, gn) = mgr.generations();
    assert_eq!(gs, u64::from(ROUNDS) * 6, "service generations");
    assert_eq!(gm, u64::from(ROUNDS) * 2, "mark generations");
    assert_eq!(gn, u64::from(ROUNDS) * 2, "VIP generations");
    wire.drain();
    for round in 0..ROUNDS {
        let vip = a(100 + round);
        assert_eq!(
            wire.garps.get(&(0, vip)),
            Some(&1),
            "one announcement of {vip}"
        );
        assert_eq!(
            wire.garps.get(&(1, vip)),
            None,
            "worker 1 does not announce"
        );
    }

    // Worker 1 now gets no traffic at all; more changes are published, and once every
    // worker looped, no retired snapshot is left: nothing old is pinned.
    for round in 0..20 {
        mgr.add_vip(0, a(200 + round)).expect("add VIP");
        mgr.set_marks(MarkTable::clone(mgr.marks()));
        mgr.add_service(ServiceConfig::new(nat_service(a(200 + round))))
            .expect("add service");
    }
    wait_loops(&counters);
    mgr.tick(Instant::now());
    assert_eq!(mgr.retired(), 0, "every old snapshot reclaimed");
    assert!(
        first_services.upgrade().is_none(),
        "first service table freed"
    );
    assert!(first_marks.upgrade().is_none(), "first mark table freed");
    assert!(first_net.upgrade().is_none(), "first VIP/route table freed");
    let live: Weak<_> = Arc::downgrade(mgr.services());
    assert_eq!(
        live.strong_count(),
        1 + WORKERS,
        "the live table is held by the manager and each worker's reader only"
    );

    stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("worker ran to the end");
    }
    for c in &counters {
        assert_eq!(c.get(Counter::DropNoService), 0);
    }
}
