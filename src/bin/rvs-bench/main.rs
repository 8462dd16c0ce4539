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
//! They are measurements, never pass/fail criteria (docs/BENCHMARKS.md). What is checked
//! is the accounting (`accounting.rs`): once everything has stopped, every packet offered
//! must be found in a counter or a ring, or the run fails.
//!
//! Layout: `scenarios.rs` holds the table (add rows there: a `frames` function for the
//! templates, each with its in-port, and a `setup` function for the `Net`, services and
//! pre-populated connections); `lb.rs` the LB rows' state and their flow walks;
//! `accounting.rs` the packet accounting; `report.rs` the figures and their table/JSON;
//! this file the ports, the generator, the loops and the measuring.

mod accounting;
mod lb;
mod report;
mod scenarios;

use accounting::{Accounts, Generated};
use anyhow::{anyhow, bail, Context, Result};
use clap::Parser;
use report::{json, markdown, median, Measured};
use rvs::dataplane::worker::{PortQueues, Worker};
use rvs::dataplane::{Counter, WorkerCounters};
use rvs::dpdk::{
    self, Eal, Mbuf, Mempool, Port, PortConfig, Ring, RxBurst, StartedPort, BURST_SIZE,
};
use scenarios::{scenarios, Frame, Lab, LoopKind, Scenario, Setup};
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
pub(crate) struct Args {
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
    /// New connections per scheduler for this many distinct flows (0 = skip that table).
    #[arg(long, default_value_t = 1_000_000)]
    new_conns: u32,
    /// Test hook for tests/bench_smoke.rs: the generator frees this many transmitted
    /// packets without counting them, which the accounting check must catch.
    #[arg(long, default_value_t = 0, hide = true)]
    test_lose_packets: u64,
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
fn enter_thread(eal: &Eal, core: Option<core_affinity::CoreId>) -> Result<()> {
    if let Some(c) = core {
        if !core_affinity::set_for_current(c) {
            eprintln!("rvs-bench: could not pin to core {}", c.id);
        }
    }
    dpdk::register_thread(eal).context("EAL thread registration")?;
    Ok(())
}

/// One RX ring the generator feeds, the templates it cycles through for it, and each
/// template's position in its flow walk.
struct Feed {
    ring: Ring,
    templates: Vec<usize>,
    cursors: Vec<u32>,
    next: usize,
}

/// The generator loop: drain TX rings, top RX rings up to [`RX_FILL`] with mbufs
/// rewritten from templates (and, for walking templates, for the next flow), reusing
/// transmitted mbufs and allocating only to replace what the workers dropped. Runs
/// until `stop`, which the caller sets only once the workers have exited, so the final
/// ring contents it reports are exact.
fn generate(
    mut feeds: Vec<Feed>,
    drains: Vec<Ring>,
    frames: Arc<Vec<Frame>>,
    pool: Arc<Mempool>,
    stop: Arc<AtomicBool>,
    mut lose: u64,
) -> Generated {
    let mut spare: Vec<Mbuf> = Vec::with_capacity(POOL_MBUFS as usize);
    let mut batch: Vec<Mbuf> = Vec::with_capacity(BURST_SIZE);
    let mut g = Generated::default();
    while !stop.load(Ordering::Relaxed) {
        for d in &drains {
            let room = spare.capacity() - spare.len();
            let before = spare.len();
            g.returned += d.dequeue(&mut spare, room) as u64;
            // Test hook: lose packets the loop delivered, uncounted.
            while lose > 0 && spare.len() > before {
                drop(spare.pop());
                g.returned -= 1;
                lose -= 1;
            }
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
                let frame = &frames[f.templates[f.next]];
                match m.refill(&frame.bytes) {
                    Ok(mut m) => {
                        if let Some(w) = &frame.walk {
                            let pos = &mut f.cursors[f.next];
                            w.apply(m.data_mut(), *pos);
                            *pos = w.next(*pos);
                        }
                        batch.push(m);
                    }
                    Err(m) => drop(m),
                }
                f.next = (f.next + 1) % f.templates.len();
            }
            g.offered += f.ring.enqueue(&mut batch) as u64;
            spare.append(&mut batch);
        }
    }
    g.queued_rx = feeds.iter().map(|f| f.ring.len() as u64).sum();
    g.queued_tx = drains.iter().map(|d| d.len() as u64).sum();
    g
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
        let refused: u64 = ports.iter().map(|q| q.tx.drop_tx_full).sum();
        counters.set(Counter::DropTxFull, refused);
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
    let (net, lb) = setup.worker_views(index);
    let unres = rvs::dataplane::worker::unres_queue(&net);
    Worker {
        index,
        ports,
        net,
        counters,
        stop,
        tsc_hz: dpdk::tsc_hz(),
        tsc_start: dpdk::rdtsc(),
        pool,
        announce: false,
        announced: 0,
        unres,
        lb,
        prime: Vec::new(),
        neigh_sweep: index == 0,
        vlans: Default::default(),
        vlan_taps: Vec::new(),
        reasm: rvs::dataplane::reasm::Reasm::new(Default::default()),
        reasm_out: rvs::dataplane::worker::reasm_out(),
    }
}

/// Runs one scenario: fresh ring ports, generator, workers, `runs` windows; tears all
/// down again (workers, generator, then ports and their rings).
fn run_scenario(
    eal: &Eal,
    seq: usize,
    sc: &Scenario,
    pool: &Arc<Mempool>,
    cores: &Cores,
    args: &Args,
) -> Result<Measured> {
    let w = sc.workers;
    let mut ports: Vec<StartedPort> = Vec::new();
    let mut feeds: Vec<Feed> = Vec::new();
    let mut drains: Vec<Ring> = Vec::new();
    // queues[q] = queue q of every port, for worker q.
    let mut queues: Vec<Vec<PortQueues>> = (0..w).map(|_| Vec::new()).collect();
    let mut macs = Vec::new();
    let mut feed_port = Vec::new();
    for p in 0..sc.ports {
        let rx: Vec<Ring> = (0..w)
            .map(|q| Ring::new(eal, &format!("rb{seq}p{p}q{q}rx"), RX_RING_SIZE))
            .collect::<Result<_, _>>()?;
        let tx: Vec<Ring> = (0..w)
            .map(|q| Ring::new(eal, &format!("rb{seq}p{p}q{q}tx"), TX_RING_SIZE))
            .collect::<Result<_, _>>()?;
        let name = format!("rb{seq}p{p}");
        let rx_refs: Vec<&Ring> = rx.iter().collect();
        let tx_refs: Vec<&Ring> = tx.iter().collect();
        let port = Port::from_rings(&name, &rx_refs, &tx_refs)
            .with_context(|| format!("{}: port {p}", sc.name))?;
        let cfg = PortConfig {
            queues: w as u16,
            mtu: 0,
            ..PortConfig::default()
        };
        let (port, rxq, txq) = port
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
                cursors: Vec::new(),
                next: 0,
            });
        }
        drains.extend(tx);
    }
    let lab = Lab { macs };
    let setup = (sc.setup)(&lab)?;
    let frames = Arc::new((sc.frames)(&setup, &lab));
    for (f, &(p, q)) in feeds.iter_mut().zip(&feed_port) {
        f.templates = (0..frames.len()).filter(|&i| frames[i].port == p).collect();
        // Start each queue at a different template, and each walk at a different
        // flow, so workers see different flows.
        if !f.templates.is_empty() {
            f.next = q % f.templates.len();
        }
        f.cursors = f
            .templates
            .iter()
            .map(|&t| frames[t].walk.map_or(0, |w| (q as u32 * 7919) % w.count))
            .collect();
    }

    let stop = Arc::new(AtomicBool::new(false));
    let gen_stop = Arc::new(AtomicBool::new(false));
    let gen_core = cores.generator();
    let lose = args.test_lose_packets;
    let generator: JoinHandle<Result<Generated>> = {
        let (frames, pool, stop, eal) =
            (frames.clone(), pool.clone(), gen_stop.clone(), eal.clone());
        std::thread::Builder::new()
            .name("rvs-bench-gen".into())
            .spawn(move || {
                enter_thread(&eal, gen_core)?;
                Ok(generate(feeds, drains, frames, pool, stop, lose))
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
        let eal = eal.clone();
        let name = match sc.kind {
            LoopKind::IoFwd => format!("rvs-bench-io{q}"),
            LoopKind::Worker => format!("rvs-worker{q}"),
        };
        names.push(name.clone());
        let handle = match sc.kind {
            LoopKind::IoFwd => std::thread::Builder::new().name(name).spawn(move || {
                enter_thread(&eal, core)?;
                io_fwd(pq, c, stop);
                Ok(())
            })?,
            LoopKind::Worker => {
                let worker = build_worker(q, pq, &setup, c, stop, pool.clone());
                std::thread::Builder::new().name(name).spawn(move || {
                    enter_thread(&eal, core)?;
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
    // Workers are gone: the generator takes back what they sent last, then stops.
    gen_stop.store(true, Ordering::Relaxed);
    let mut generated = Generated::default();
    match generator.join() {
        Ok(Ok(g)) => generated = g,
        Ok(Err(e)) => failure = Some(anyhow!("{}: generator: {e:#}", sc.name)),
        Err(_) => failure = Some(anyhow!("{}: generator panicked", sc.name)),
    }
    // Workers and generator are gone: close the ports, then their rings go.
    drop(ports);
    if let Some(e) = failure {
        return Err(e);
    }
    let accounts = Accounts::collect(generated, &counters);
    if let Err(e) = accounts.check() {
        bail!(
            "{}: ACCOUNTING FAILED, the counters do not account for every packet: {e}",
            sc.name
        );
    }
    let total = median(mpps);
    let cycles = median(cpp);
    Ok(Measured {
        name: sc.name,
        about: sc.about,
        workers: w,
        ports: sc.ports,
        flows: frames
            .iter()
            .map(|f| f.walk.map_or(1, |w| w.count as u64))
            .sum(),
        accounts,
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
        forwarded: [
            Counter::Forwarded,
            Counter::NatIn,
            Counter::NatOut,
            Counter::DrOut,
            Counter::TunOut,
        ]
        .iter()
        .map(|&c| snapshot(&counters, c))
        .sum(),
        drops: drops(&counters),
    })
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
    let pool =
        Arc::new(Mempool::new(&eal, "rvs_bench", POOL_MBUFS, POOL_CACHE).context("packet pool")?);
    let mut results = Vec::new();
    for (seq, sc) in table.iter().enumerate() {
        if !args.scenario.is_empty() && !args.scenario.iter().any(|n| n == sc.name) {
            continue;
        }
        eprintln!("rvs-bench: {} ({} worker(s))", sc.name, sc.workers);
        results.push(run_scenario(&eal, seq, sc, &pool, &cores, &args)?);
    }
    let tsc_hz = dpdk::tsc_hz();
    if args.json {
        print!("{}", json(&results, tsc_hz));
    } else {
        print!("{}", markdown(&results, tsc_hz, cores.ids.len(), &args));
    }
    if args.new_conns > 0 && !args.json {
        println!();
        println!(
            "New connections ({} distinct SYNs through the LB path into an empty table, one thread, \
             NAT service with 3 real servers; schedule + insert + transform + copying the frame in):",
            args.new_conns
        );
        println!();
        println!("| scheduler | ns/new conn | new conns/s (M) |");
        println!("|---|---:|---:|");
        for sched in rvs::lb::sched::NAMES {
            let ns = lb::new_conn_ns(args.new_conns, sched)?;
            println!("| {sched} | {ns:.0} | {:.2} |", 1e3 / ns);
        }
    }
    drop(pool);
    drop(eal);
    Ok(())
}
