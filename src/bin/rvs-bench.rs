//! rvs-bench: packets per core through the real worker loop, over in-process `net_ring`
//! ports, next to an io-forward baseline measured in the same run.
//!
//! Each scenario gets fresh ring ports (one RX and one TX ring per worker per port). A
//! generator thread, pinned away from the workers when the machine allows, keeps every
//! RX ring topped up with pre-built frames: it takes back what the workers transmitted
//! (from the TX rings), rewrites each mbuf from the scenario's next template, and enqueues
//! it again, so the measured loop sees no allocation and no packet building. The worker
//! counts `busy_cycles` (TSC cycles of loop iterations that moved packets), so
//! cycles/packet = busy_cycles / rx_pkts whatever the generator manages to offer.
//!
//! Figures are medians of `--runs` windows of `--secs` each, taken while the loop runs.
//! They are measurements, never pass/fail criteria (docs/BENCHMARKS.md).
//!
//! Adding a scenario: write a `frames` function (the templates, each with its in-port)
//! and a `setup` function (the `Net` and, once the load-balancing path is in the worker,
//! services and pre-populated connections), then add a row to [`scenarios`].

use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use rvs::dataplane::worker::{PortQueues, Worker};
use rvs::dataplane::{Counter, WorkerCounters};
use rvs::dpdk::{self, Eal, Mbuf, Mempool, Port, PortConfig, Ring, RingPort, RxBurst, BURST_SIZE};
use rvs::net::{Ipv4Net, Net, PortNet, Route, RouteTable};
use rvs::wire::ethernet::{EtherType, EthernetAddress, EthernetRepr};
use rvs::wire::ipv4::{IpProtocol, Ipv4Repr};
use rvs::wire::udp::UdpPacket;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Slots per RX ring (a power of two; holds one less).
const RX_RING_SIZE: u32 = 1024;
/// Slots per TX ring: room for everything the generator keeps in flight on two ports,
/// so a worker never finds a TX ring full while the generator is merely descheduled.
const TX_RING_SIZE: u32 = 2048;
/// Mbufs the generator keeps queued in each RX ring: deep enough to ride out a time
/// slice of the generator on a shared core, shallow enough to stay in cache.
const RX_FILL: usize = 512;
/// Mbufs in the pool: every ring full plus bursts in hand, with margin.
const POOL_MBUFS: u32 = 32 * 1024 - 1;
/// Per-lcore mempool cache.
const POOL_CACHE: u32 = 256;

#[derive(Parser, Debug)]
#[command(
    name = "rvs-bench",
    version,
    about = "Packets per core through the rvs worker loop over net_ring ports"
)]
struct Args {
    /// Seconds per measured window.
    #[arg(long, default_value_t = 2.0)]
    secs: f64,
    /// Measured windows per scenario (the table shows medians).
    #[arg(long, default_value_t = 5)]
    runs: usize,
    /// Seconds of traffic before the first window (caches, branch predictors, rings).
    #[arg(long, default_value_t = 0.5)]
    warmup_secs: f64,
    /// Run only these scenarios (by name, e.g. `route`, `route-2w`); default all.
    #[arg(long)]
    scenario: Vec<String>,
    /// EAL memory in MiB (no hugepages).
    #[arg(long, default_value_t = 2048)]
    mem_mb: u32,
    /// Print JSON (one object with every scenario) instead of the markdown table.
    #[arg(long)]
    json: bool,
    /// List the scenarios and exit.
    #[arg(long)]
    list: bool,
}

/// What a scenario can know about its ports when it builds frames and state.
struct Lab {
    /// MAC address of each port, by port index: `02:72:76:00:00:<index>`, for `net`
    /// and for frames (ring ports themselves have MAC 0 and do not filter).
    macs: Vec<[u8; 6]>,
}

/// One pre-built frame the generator offers on `port`'s RX rings.
struct Frame {
    /// Port index the frame arrives on.
    port: usize,
    /// The whole Ethernet frame, without FCS.
    bytes: Vec<u8>,
}

/// What the loop under test needs. Grows with the worker: services, dests and
/// pre-populated connections go here when the load-balancing path lands.
struct Setup {
    /// Appliance networking (ports, routes, pre-learnt neighbours).
    net: Arc<Net>,
}

/// Which loop handles the packets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum LoopKind {
    /// The bench's own rx burst → tx burst (to the next port) loop: the cost of just
    /// moving packets through these ports, the ceiling every other figure is read against.
    IoFwd,
    /// The real `rvs::dataplane::worker::Worker` loop.
    Worker,
}

/// One row of the benchmark table.
struct Scenario {
    /// Name in the table and for `--scenario`.
    name: &'static str,
    /// What is measured, in one line.
    about: &'static str,
    /// Ring ports (each with one RX and one TX ring per worker).
    ports: usize,
    /// Worker cores.
    workers: usize,
    /// Which loop runs on the workers.
    kind: LoopKind,
    /// The frames the generator cycles through, each with its in-port.
    frames: fn(&Lab) -> Vec<Frame>,
    /// The state the loop needs (routes, neighbours; later services and connections).
    setup: fn(&Lab) -> Result<Setup>,
}

/// The scenarios, in table order. The first `io-fwd` row with the same worker count is
/// every other row's baseline.
fn scenarios() -> Vec<Scenario> {
    vec![
        Scenario {
            name: "io-fwd",
            about: "baseline: rx burst -> tx burst to the other port, nothing else",
            ports: 2,
            workers: 1,
            kind: LoopKind::IoFwd,
            frames: transit_udp_frames,
            setup: two_subnets,
        },
        Scenario {
            name: "route",
            about: "worker: transit IPv4/UDP 64-byte frames routed between two ports (LPM, neighbour, TTL, MACs)",
            ports: 2,
            workers: 1,
            kind: LoopKind::Worker,
            frames: transit_udp_frames,
            setup: two_subnets,
        },
        Scenario {
            name: "io-fwd-2w",
            about: "baseline with 2 workers",
            ports: 2,
            workers: 2,
            kind: LoopKind::IoFwd,
            frames: transit_udp_frames,
            setup: two_subnets,
        },
        Scenario {
            name: "route-2w",
            about: "route with 2 workers",
            ports: 2,
            workers: 2,
            kind: LoopKind::Worker,
            frames: transit_udp_frames,
            setup: two_subnets,
        },
    ]
}

/// Client side (port 0) and server side (port 1) of the transit scenarios.
const CLIENT_NET: &str = "198.51.100.0/24";
const CLIENT_LOCAL: &str = "198.51.100.1/24";
const CLIENT_HOST: Ipv4Addr = Ipv4Addr::new(198, 51, 100, 10);
const CLIENT_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x00, 0x10];
const SERVER_NET: &str = "203.0.113.0/24";
const SERVER_LOCAL: &str = "203.0.113.1/24";
const SERVER_HOST: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);
const SERVER_MAC: [u8; 6] = [0x02, 0, 0, 0, 0x01, 0x10];
/// Flows per direction (distinct source ports), so templates are not all one flow.
const TRANSIT_FLOWS: u16 = 16;

/// Minimum Ethernet frame without FCS: 64 bytes on the wire.
const FRAME_LEN: usize = 60;

/// A 60-byte (64 on the wire) IPv4/UDP frame from `src` to `dst` into a port with MAC
/// `to_mac`, valid checksums, TTL 64.
fn udp_frame(
    from_mac: [u8; 6],
    to_mac: [u8; 6],
    src: Ipv4Addr,
    dst: Ipv4Addr,
    sport: u16,
    dport: u16,
) -> Vec<u8> {
    let mut b = vec![0u8; FRAME_LEN];
    let eth = EthernetRepr {
        dst_addr: EthernetAddress(to_mac),
        src_addr: EthernetAddress(from_mac),
        vlan_tci: None,
        ethertype: EtherType::Ipv4,
    };
    let l3 = eth.emit(&mut b).expect("60 bytes hold an Ethernet header");
    let ip = Ipv4Repr {
        src_addr: src,
        dst_addr: dst,
        protocol: IpProtocol::Udp,
        payload_len: (FRAME_LEN - l3 - 20) as u16,
        ttl: 64,
        tos: 0,
        ident: sport,
        dont_frag: true,
    };
    let l4 = l3 + ip.emit(&mut b[l3..]).expect("room for an IPv4 header");
    let mut udp = UdpPacket::new_unchecked(&mut b[l4..]);
    udp.set_src_port(sport);
    udp.set_dst_port(dport);
    udp.set_len((FRAME_LEN - l4) as u16);
    udp.fill_checksum(src, dst);
    b
}

/// Client → server frames on port 0 and server → client frames on port 1.
fn transit_udp_frames(lab: &Lab) -> Vec<Frame> {
    let mut v = Vec::new();
    for i in 0..TRANSIT_FLOWS {
        v.push(Frame {
            port: 0,
            bytes: udp_frame(
                CLIENT_MAC,
                lab.macs[0],
                CLIENT_HOST,
                SERVER_HOST,
                10_000 + i,
                9,
            ),
        });
        v.push(Frame {
            port: 1,
            bytes: udp_frame(
                SERVER_MAC,
                lab.macs[1],
                SERVER_HOST,
                CLIENT_HOST,
                9,
                10_000 + i,
            ),
        });
    }
    v
}

/// Port 0 on the client subnet, port 1 on the server subnet, both hosts' MACs already
/// learnt so no ARP happens in the measured loop.
fn two_subnets(lab: &Lab) -> Result<Setup> {
    let net = |s: &str| -> Result<Ipv4Net> { s.parse().map_err(|e| anyhow!("{s}: {e:?}")) };
    let ports = vec![
        PortNet {
            mac: lab.macs[0],
            addrs: vec![net(CLIENT_LOCAL)?],
            vips: vec![],
            exception_path: false,
        },
        PortNet {
            mac: lab.macs[1],
            addrs: vec![net(SERVER_LOCAL)?],
            vips: vec![],
            exception_path: false,
        },
    ];
    let routes = RouteTable::new(vec![
        Route {
            prefix: net(CLIENT_NET)?,
            via: None,
            port: 0,
        },
        Route {
            prefix: net(SERVER_NET)?,
            via: None,
            port: 1,
        },
    ]);
    let n = Arc::new(Net::new(ports, routes));
    n.neigh().learn(CLIENT_HOST, CLIENT_MAC, 0);
    n.neigh().learn(SERVER_HOST, SERVER_MAC, 0);
    Ok(Setup { net: n })
}

/// The median of one figure over the windows.
fn median(mut v: Vec<f64>) -> f64 {
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(|a, b| a.total_cmp(b));
    let m = v.len() / 2;
    if v.len() % 2 == 1 {
        v[m]
    } else {
        (v[m - 1] + v[m]) / 2.0
    }
}

/// What one scenario measured (medians over the windows).
struct Result1 {
    name: &'static str,
    about: &'static str,
    workers: usize,
    kind: LoopKind,
    /// Packets per second per worker, in millions.
    mpps_per_worker: f64,
    /// Sum over workers.
    mpps_total: f64,
    /// Busy TSC cycles per received packet.
    cycles_per_pkt: f64,
    /// The same in nanoseconds.
    ns_per_pkt: f64,
    /// Share of wall time the workers spent in loops that moved packets (low: the
    /// generator could not keep up, so Mpps understates the loop; cycles/packet holds).
    busy_share: f64,
    /// Share of wall time the workers were actually running (the rest, other processes
    /// had their core); `None` without /proc schedstat.
    on_cpu_share: Option<f64>,
    /// Packets per second of CPU time the workers actually got, in millions: Mpps per
    /// worker as if it had its core to itself (idle polling included).
    mpps_per_cpu_sec: Option<f64>,
    /// Totals over the whole scenario (warm-up included), for sanity.
    rx_pkts: u64,
    tx_pkts: u64,
    forwarded: u64,
    drops: u64,
}

/// Counter snapshot of all workers.
fn snapshot(counters: &[Arc<WorkerCounters>], c: Counter) -> u64 {
    counters.iter().map(|w| w.get(c)).sum()
}

fn drops(counters: &[Arc<WorkerCounters>]) -> u64 {
    Counter::ALL
        .iter()
        .filter(|c| c.name().starts_with("drop_"))
        .map(|&c| snapshot(counters, c))
        .sum()
}

/// Nanoseconds the named threads of this process have spent running on a CPU, from
/// /proc (`schedstat`). On a shared machine a worker is not always on its core, and a
/// busy loop iteration that gets preempted counts the wait in `busy_cycles`; this says
/// how much of the core the workers really had. `None` without schedstat.
fn on_cpu_ns(names: &[String]) -> Option<u64> {
    let mut total = 0;
    let mut found = 0;
    for task in std::fs::read_dir("/proc/self/task").ok()?.flatten() {
        let comm = std::fs::read_to_string(task.path().join("comm")).unwrap_or_default();
        if !names.iter().any(|n| n == comm.trim_end()) {
            continue;
        }
        let stat = std::fs::read_to_string(task.path().join("schedstat")).ok()?;
        total += stat.split_whitespace().next()?.parse::<u64>().ok()?;
        found += 1;
    }
    (found == names.len()).then_some(total)
}

/// The cores to use: workers on cores 1.., the generator on core 0 (shared with the
/// workers when there are fewer cores than workers + 1).
struct Cores {
    ids: Vec<core_affinity::CoreId>,
}

impl Cores {
    fn worker(&self, q: usize) -> Option<core_affinity::CoreId> {
        if self.ids.is_empty() {
            return None;
        }
        Some(self.ids[(q + 1) % self.ids.len()])
    }
    fn generator(&self) -> Option<core_affinity::CoreId> {
        self.ids.first().copied()
    }
}

/// Pins and registers the calling thread with the EAL (mempool cache, lcore id).
fn enter_thread(core: Option<core_affinity::CoreId>) -> Result<()> {
    if let Some(c) = core {
        if !core_affinity::set_for_current(c) {
            eprintln!("rvs-bench: could not pin to core {}", c.id);
        }
    }
    dpdk::register_thread().context("EAL thread registration")?;
    Ok(())
}

/// One RX ring the generator feeds, and the templates it cycles through for it.
struct Feed {
    ring: Ring,
    templates: Vec<usize>,
    next: usize,
}

/// The generator loop: drain TX rings, top RX rings up to [`RX_FILL`] with mbufs
/// rewritten from templates, reusing transmitted mbufs and allocating only to replace
/// what the workers dropped. Returns the mbufs it offered.
fn generate(
    mut feeds: Vec<Feed>,
    drains: Vec<Ring>,
    frames: Arc<Vec<Frame>>,
    pool: Arc<Mempool>,
    stop: Arc<AtomicBool>,
) -> u64 {
    let mut spare: Vec<Mbuf> = Vec::with_capacity(POOL_MBUFS as usize);
    let mut batch: Vec<Mbuf> = Vec::with_capacity(BURST_SIZE);
    let mut offered = 0u64;
    while !stop.load(Ordering::Relaxed) {
        for d in &drains {
            let room = spare.capacity() - spare.len();
            d.dequeue(&mut spare, room);
        }
        for f in feeds.iter_mut() {
            if f.templates.is_empty() {
                continue;
            }
            let want = RX_FILL.saturating_sub(f.ring.len()).min(BURST_SIZE);
            for _ in 0..want {
                let Some(m) = spare.pop().or_else(|| pool.alloc()) else {
                    break;
                };
                let t = f.templates[f.next];
                f.next = (f.next + 1) % f.templates.len();
                match m.refill(&frames[t].bytes) {
                    Ok(m) => batch.push(m),
                    Err(m) => drop(m),
                }
            }
            offered += f.ring.enqueue(&mut batch) as u64;
            spare.append(&mut batch);
        }
    }
    offered
}

/// The io-forward baseline: what every packet costs before rvs looks at it. Counts the
/// same way the worker does (rx_pkts, busy_cycles per loop that moved packets).
fn io_fwd(mut ports: Vec<PortQueues>, counters: Arc<WorkerCounters>, stop: Arc<AtomicBool>) {
    let mut burst = RxBurst::default();
    let n = ports.len();
    while !stop.load(Ordering::Relaxed) {
        let t0 = dpdk::rdtsc();
        let mut work = 0;
        for p in 0..n {
            let got = ports[p].rx.rx_burst(&mut burst);
            if got == 0 {
                continue;
            }
            counters.add(Counter::RxPkts, got as u64);
            work += got;
            let out = (p + 1) % n;
            while let Some(m) = burst.next_mbuf() {
                ports[out].tx.push(m);
            }
            counters.add(Counter::TxPkts, got as u64);
        }
        for q in ports.iter_mut() {
            q.tx.flush();
        }
        counters.inc(Counter::Loops);
        if work > 0 {
            counters.add(Counter::BusyCycles, dpdk::rdtsc().wrapping_sub(t0));
        }
    }
}

/// The real worker, built the way the runtime builds it (no exception path, no
/// announcements). The one place to update when `Worker` grows fields.
fn build_worker(
    index: usize,
    ports: Vec<PortQueues>,
    setup: &Setup,
    counters: Arc<WorkerCounters>,
    stop: Arc<AtomicBool>,
    pool: Arc<Mempool>,
) -> Worker {
    Worker {
        index,
        ports,
        net: setup.net.clone(),
        counters,
        stop,
        tsc_hz: dpdk::tsc_hz(),
        tsc_start: dpdk::rdtsc(),
        pool,
        announce: false,
    }
}

/// Runs one scenario: fresh ring ports, generator, workers, `runs` windows; tears all
/// down again (workers, generator, then ports and their rings).
fn run_scenario(
    seq: usize,
    sc: &Scenario,
    pool: &Arc<Mempool>,
    cores: &Cores,
    args: &Args,
) -> Result<Result1> {
    let w = sc.workers;
    let mut ports: Vec<RingPort> = Vec::new();
    let mut feeds: Vec<Feed> = Vec::new();
    let mut drains: Vec<Ring> = Vec::new();
    // queues[q] = queue q of every port, for worker q.
    let mut queues: Vec<Vec<PortQueues>> = (0..w).map(|_| Vec::new()).collect();
    let mut macs = Vec::new();
    let mut feed_port = Vec::new();
    for p in 0..sc.ports {
        let rx: Vec<Ring> = (0..w)
            .map(|q| Ring::new(&format!("rb{seq}p{p}q{q}rx"), RX_RING_SIZE))
            .collect::<Result<_, _>>()?;
        let tx: Vec<Ring> = (0..w)
            .map(|q| Ring::new(&format!("rb{seq}p{p}q{q}tx"), TX_RING_SIZE))
            .collect::<Result<_, _>>()?;
        let name = format!("rb{seq}p{p}");
        let rx_refs: Vec<&Ring> = rx.iter().collect();
        let tx_refs: Vec<&Ring> = tx.iter().collect();
        let mut port = Port::from_rings(&name, &rx_refs, &tx_refs)
            .with_context(|| format!("{}: port {p}", sc.name))?;
        let cfg = PortConfig {
            queues: w as u16,
            mtu: 0,
            ..PortConfig::default()
        };
        let (rxq, txq) = port
            .start(&cfg, pool)
            .with_context(|| format!("{}: start port {p}", sc.name))?;
        // Ring ports have MAC 0 and no MAC filter: the scenario's `Net` gets these.
        macs.push([0x02, 0x72, 0x76, 0x00, 0x00, p as u8]);
        for (q, (r, t)) in rxq.into_iter().zip(txq).enumerate() {
            queues[q].push(PortQueues {
                rx: r,
                tx: t,
                tap: None,
            });
        }
        ports.push(port);
        for (q, ring) in rx.into_iter().enumerate() {
            feed_port.push((p, q));
            feeds.push(Feed {
                ring,
                templates: Vec::new(),
                next: 0,
            });
        }
        drains.extend(tx);
    }
    let lab = Lab { macs };
    let frames = Arc::new((sc.frames)(&lab));
    for (f, &(p, q)) in feeds.iter_mut().zip(&feed_port) {
        f.templates = (0..frames.len()).filter(|&i| frames[i].port == p).collect();
        // Start each queue at a different template so workers see different flows.
        if !f.templates.is_empty() {
            f.next = q % f.templates.len();
        }
    }
    let setup = (sc.setup)(&lab)?;

    let stop = Arc::new(AtomicBool::new(false));
    let gen_core = cores.generator();
    let generator: JoinHandle<Result<u64>> = {
        let (frames, pool, stop) = (frames.clone(), pool.clone(), stop.clone());
        std::thread::Builder::new()
            .name("rvs-bench-gen".into())
            .spawn(move || {
                enter_thread(gen_core)?;
                Ok(generate(feeds, drains, frames, pool, stop))
            })?
    };
    let mut counters = Vec::new();
    let mut names = Vec::new();
    let mut workers: Vec<JoinHandle<Result<()>>> = Vec::new();
    for (q, pq) in queues.into_iter().enumerate() {
        let c = Arc::new(WorkerCounters::default());
        counters.push(c.clone());
        let core = cores.worker(q);
        let stop = stop.clone();
        let name = match sc.kind {
            LoopKind::IoFwd => format!("rvs-bench-io{q}"),
            LoopKind::Worker => format!("rvs-worker{q}"),
        };
        names.push(name.clone());
        let handle = match sc.kind {
            LoopKind::IoFwd => std::thread::Builder::new().name(name).spawn(move || {
                enter_thread(core)?;
                io_fwd(pq, c, stop);
                Ok(())
            })?,
            LoopKind::Worker => {
                let worker = build_worker(q, pq, &setup, c, stop, pool.clone());
                std::thread::Builder::new().name(name).spawn(move || {
                    enter_thread(core)?;
                    worker.run();
                    Ok(())
                })?
            }
        };
        workers.push(handle);
    }

    let tsc_hz = dpdk::tsc_hz().max(1) as f64;
    std::thread::sleep(Duration::from_secs_f64(args.warmup_secs));
    let (mut mpps, mut cpp, mut busy) = (Vec::new(), Vec::new(), Vec::new());
    let (mut on_cpu, mut mpps_cpu) = (Vec::new(), Vec::new());
    for _ in 0..args.runs {
        let (rx0, cy0, t0, cpu0) = (
            snapshot(&counters, Counter::RxPkts),
            snapshot(&counters, Counter::BusyCycles),
            Instant::now(),
            on_cpu_ns(&names),
        );
        std::thread::sleep(Duration::from_secs_f64(args.secs));
        let (rx1, cy1, wall) = (
            snapshot(&counters, Counter::RxPkts),
            snapshot(&counters, Counter::BusyCycles),
            t0.elapsed().as_secs_f64(),
        );
        let (rx, cy) = (rx1.wrapping_sub(rx0) as f64, cy1.wrapping_sub(cy0) as f64);
        if let (Some(a), Some(b)) = (cpu0, on_cpu_ns(&names)) {
            let run_s = b.saturating_sub(a) as f64 / 1e9;
            on_cpu.push(run_s / (wall * w as f64));
            mpps_cpu.push(if run_s > 0.0 { rx / run_s / 1e6 } else { 0.0 });
        }
        mpps.push(rx / wall / 1e6);
        cpp.push(if rx > 0.0 { cy / rx } else { 0.0 });
        busy.push(cy / (wall * tsc_hz * w as f64));
    }
    stop.store(true, Ordering::Relaxed);
    let mut failure = None;
    for (q, h) in workers.into_iter().enumerate() {
        match h.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => failure = Some(anyhow!("{}: worker {q}: {e:#}", sc.name)),
            Err(_) => failure = Some(anyhow!("{}: worker {q} panicked", sc.name)),
        }
    }
    match generator.join() {
        Ok(Ok(_offered)) => {}
        Ok(Err(e)) => failure = Some(anyhow!("{}: generator: {e:#}", sc.name)),
        Err(_) => failure = Some(anyhow!("{}: generator panicked", sc.name)),
    }
    // Workers and generator are gone: close the ports, then their rings go.
    drop(ports);
    if let Some(e) = failure {
        return Err(e);
    }
    let total = median(mpps);
    let cycles = median(cpp);
    Ok(Result1 {
        name: sc.name,
        about: sc.about,
        workers: w,
        kind: sc.kind,
        mpps_per_worker: total / w as f64,
        mpps_total: total,
        cycles_per_pkt: cycles,
        ns_per_pkt: cycles / tsc_hz * 1e9,
        busy_share: median(busy),
        on_cpu_share: (!on_cpu.is_empty()).then(|| median(on_cpu)),
        mpps_per_cpu_sec: (!mpps_cpu.is_empty()).then(|| median(mpps_cpu)),
        rx_pkts: snapshot(&counters, Counter::RxPkts),
        tx_pkts: snapshot(&counters, Counter::TxPkts),
        forwarded: snapshot(&counters, Counter::Forwarded),
        drops: drops(&counters),
    })
}

/// cycles/packet of this row over the io-fwd row with the same worker count.
fn ratio(r: &Result1, all: &[Result1]) -> Option<f64> {
    let base = all
        .iter()
        .find(|b| b.kind == LoopKind::IoFwd && b.workers == r.workers)?;
    (base.cycles_per_pkt > 0.0).then(|| r.cycles_per_pkt / base.cycles_per_pkt)
}

fn markdown(results: &[Result1], tsc_hz: u64, cores: usize, args: &Args) -> String {
    let mut s = String::new();
    s.push_str(&format!(
        "Medians of {} windows of {:.1} s after {:.1} s warm-up; 60-byte frames (64 on the wire); \
         TSC {:.3} GHz; {} core(s) online, generator on core 0.\n\n",
        args.runs,
        args.secs,
        args.warmup_secs,
        tsc_hz as f64 / 1e9,
        cores
    ));
    s.push_str("| scenario | workers | Mpps/worker | Mpps total | cycles/pkt | ns/pkt | x io-fwd | busy | on-CPU | Mpps/CPU-s | drops |\n");
    s.push_str("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for r in results {
        let x = ratio(r, results).map_or("-".to_string(), |x| format!("{x:.2}"));
        s.push_str(&format!(
            "| {} | {} | {:.2} | {:.2} | {:.0} | {:.1} | {} | {:.0}% | {} | {} | {} |\n",
            r.name,
            r.workers,
            r.mpps_per_worker,
            r.mpps_total,
            r.cycles_per_pkt,
            r.ns_per_pkt,
            x,
            r.busy_share * 100.0,
            r.on_cpu_share
                .map_or("-".to_string(), |x| format!("{:.0}%", x * 100.0)),
            r.mpps_per_cpu_sec
                .map_or("-".to_string(), |x| format!("{x:.2}")),
            r.drops
        ));
    }
    s.push('\n');
    for r in results {
        s.push_str(&format!("- `{}`: {}\n", r.name, r.about));
    }
    s
}

fn json(results: &[Result1], tsc_hz: u64) -> String {
    let rows: Vec<String> = results
        .iter()
        .map(|r| {
            format!(
                "{{\"name\":\"{}\",\"workers\":{},\"mpps_per_worker\":{:.4},\"mpps_total\":{:.4},\
                 \"cycles_per_pkt\":{:.2},\"ns_per_pkt\":{:.3},\"ratio_to_io_fwd\":{},\
                 \"busy_share\":{:.4},\"on_cpu_share\":{},\"mpps_per_cpu_sec\":{},\"rx_pkts\":{},\"tx_pkts\":{},\"forwarded\":{},\"drops\":{}}}",
                r.name,
                r.workers,
                r.mpps_per_worker,
                r.mpps_total,
                r.cycles_per_pkt,
                r.ns_per_pkt,
                ratio(r, results).map_or("null".to_string(), |x| format!("{x:.4}")),
                r.busy_share,
                r.on_cpu_share
                    .map_or("null".to_string(), |x| format!("{x:.4}")),
                r.mpps_per_cpu_sec
                    .map_or("null".to_string(), |x| format!("{x:.4}")),
                r.rx_pkts,
                r.tx_pkts,
                r.forwarded,
                r.drops
            )
        })
        .collect();
    format!(
        "{{\"tsc_hz\":{tsc_hz},\"scenarios\":[{}]}}\n",
        rows.join(",")
    )
}

fn main() -> Result<()> {
    let args = Args::parse();
    let table = scenarios();
    if args.list {
        for s in &table {
            println!("{:<12} {} worker(s): {}", s.name, s.workers, s.about);
        }
        return Ok(());
    }
    for name in &args.scenario {
        if !table.iter().any(|s| s.name == name) {
            bail!("unknown scenario {name:?} (see --list)");
        }
    }
    // Duration::from_secs_f64 panics on negative or huge values: refuse them here.
    let sane = |x: f64| x.is_finite() && (0.0..=3600.0).contains(&x);
    if !sane(args.secs) || args.secs == 0.0 || !sane(args.warmup_secs) || args.runs == 0 {
        bail!("--secs must be in (0, 3600], --warmup-secs in [0, 3600], --runs >= 1");
    }
    let eal_args: Vec<String> = [
        "--no-huge".to_string(),
        "-m".to_string(),
        args.mem_mb.to_string(),
        "--no-pci".to_string(),
        "--no-shconf".to_string(),
        "--file-prefix".to_string(),
        format!("rvsbench{}", std::process::id()),
        "-l".to_string(),
        "0".to_string(),
        "--log-level=lib.eal:error".to_string(),
    ]
    .to_vec();
    // Before EAL init: the EAL pins this thread to its main lcore, after which only
    // that core would be listed.
    let cores = Cores {
        ids: core_affinity::get_core_ids().unwrap_or_default(),
    };
    let eal = Eal::init(&eal_args).context("EAL")?;
    let pool = Arc::new(Mempool::new("rvs_bench", POOL_MBUFS, POOL_CACHE).context("packet pool")?);
    let mut results = Vec::new();
    for (seq, sc) in table.iter().enumerate() {
        if !args.scenario.is_empty() && !args.scenario.iter().any(|n| n == sc.name) {
            continue;
        }
        eprintln!("rvs-bench: {} ({} worker(s))", sc.name, sc.workers);
        results.push(run_scenario(seq, sc, &pool, &cores, &args)?);
    }
    let tsc_hz = dpdk::tsc_hz();
    if args.json {
        print!("{}", json(&results, tsc_hz));
    } else {
        print!("{}", markdown(&results, tsc_hz, cores.ids.len(), &args));
    }
    drop(pool);
    drop(eal);
    Ok(())
}
