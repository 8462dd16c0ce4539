//! Brings the data plane up (EAL, pool, ports, exception-path taps, workers) and down
//! again in the reverse order, so a stopped rvsd leaves no device or thread behind.

use super::counters::{Counter, WorkerCounters};
use super::lbpath::{LbPath, LbViews};
use super::plan::Plan;
use super::vlan::Vlans;
use super::worker::{PortQueues, Worker};
use crate::dpdk::{
    self, Eal, Mempool, Port, PortConfig, PortStats, RingDrops, RxQueue, StartedPort, TxQueue,
};
use crate::net::{afpacket, exception, NeighTable, Net, NetTables, PortNet};
use crate::snapshot::Reader;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;

/// Why the data plane did not come up; each names the resource.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The exception path's tap name is already a kernel interface (another rvsd's tap,
    /// or any other device): creating it would share or clash with that interface.
    #[error("port {port}: exception-path interface {tap} already exists (another rvsd's tap or another device): choose another tap_name")]
    TapExists {
        /// The data port.
        port: String,
        /// The tap's kernel interface name.
        tap: String,
    },
    /// A DPDK step failed.
    #[error("{context}: {cause}")]
    Dpdk {
        /// Which port or step.
        context: String,
        /// DPDK's error.
        cause: dpdk::Error,
    },
    /// The exception path's kernel interface could not be set up.
    #[error(transparent)]
    Exception(#[from] exception::Error),
    /// A worker thread could not start.
    #[error("worker {index} (core {core}): {reason}")]
    Worker {
        /// Worker index.
        index: usize,
        /// Its core.
        core: usize,
        /// Why.
        reason: String,
    },
}

fn ctx(context: impl Into<String>) -> impl FnOnce(dpdk::Error) -> Error {
    let context = context.into();
    move |cause| Error::Dpdk { context, cause }
}

/// Where workers get their readers of the published tables: the management side
/// (`mgmt::Manager`, the one owner of every publisher) implements it, so the data plane
/// never names the management layer.
pub trait Views {
    /// A reader of the VIP/route snapshots (one per worker path).
    fn net_reader(&mut self) -> Reader<NetTables>;
    /// One worker's load-balancer views; `None` runs the appliance only.
    fn lb_views(&mut self) -> Option<LbViews>;
}

/// One data port's identity and state, for the control socket's `status`.
#[derive(Clone, Debug)]
pub struct PortInfo {
    /// Configured name.
    pub name: String,
    /// DPDK device string.
    pub device: String,
    /// The MAC the port answers with.
    pub mac: [u8; 6],
    /// Link state now.
    pub link: dpdk::LinkState,
    /// Device counters.
    pub stats: PortStats,
}

/// The running data plane. [`Runtime::stop`] releases things in a prompt order; soundness
/// does not depend on it (the `dpdk` types keep what they use alive).
pub struct Runtime {
    workers: Vec<JoinHandle<bool>>,
    stop: Arc<AtomicBool>,
    counters: Vec<Arc<WorkerCounters>>,
    /// Each worker's last ARP address conflict (`drop_arp_conflict`), for the log.
    arp_conflicts: Vec<Arc<crate::net::ArpConflictSlot>>,
    failed: Arc<AtomicBool>,
    ports: Vec<(String, StartedPort)>,
    /// af_packet interfaces as rvsd found them, put back once the ports are closed.
    ifaces: Vec<afpacket::Saved>,
    /// Kernel RX-ring drop counters of af_packet ports, by port index (DPDK 22.11's PMD
    /// reports none; they become the port's `imissed`). Dropped before the ports.
    ring_drops: Vec<(usize, RingDrops)>,
    taps: Vec<Option<(String, StartedPort)>>,
    /// Each data port's device string and MAC, aligned with `ports` (for `rvsadm status`).
    port_ids: Vec<(String, [u8; 6])>,
    /// The core each worker is pinned to, by worker index.
    cores: Vec<usize>,
    /// The workers' clock: TSC at start and TSC ticks per second (their `now_secs`).
    tsc: (u64, u64),
    neigh: Option<Arc<NeighTable>>,
    pool: Option<Arc<Mempool>>,
    eal: Option<Eal>,
}

impl Runtime {
    /// Brings everything in `plan` up, with each worker's readers taken from `views`,
    /// or fails with the first error (what was already brought up is torn down again
    /// by Drop).
    pub fn start(plan: &Plan, views: &mut dyn Views) -> Result<Runtime, Error> {
        let eal = Eal::init(&plan.eal_args).map_err(ctx("EAL"))?;
        let pool = Arc::new(
            Mempool::with_data_room(
                &eal,
                "rvs_pkts",
                plan.mbufs,
                plan.mbuf_cache,
                plan.mbuf_data_room,
            )
            .map_err(ctx("packet pool"))?,
        );
        let nq = plan.worker_cores.len().max(1) as u16;
        let mut rt = Runtime {
            workers: Vec::new(),
            stop: Arc::new(AtomicBool::new(false)),
            counters: Vec::new(),
            arp_conflicts: Vec::new(),
            failed: Arc::new(AtomicBool::new(false)),
            ports: Vec::new(),
            ifaces: Vec::new(),
            ring_drops: Vec::new(),
            taps: Vec::new(),
            port_ids: Vec::new(),
            cores: Vec::new(),
            tsc: (0, 1),
            neigh: None,
            pool: None,
            eal: None,
        };
        // Ports first, so that Drop closes them before the pool and the EAL go.
        let mut queues: Vec<Vec<PortQueues>> = (0..nq).map(|_| Vec::new()).collect();
        let mut port_nets = Vec::new();
        for (i, p) in plan.ports.iter().enumerate() {
            if let Some(iface) = afpacket::iface_of(&p.device) {
                let mut saved = afpacket::Saved::take(iface);
                match afpacket::isolate(iface, &mut saved) {
                    Ok(Some(warning)) => log::warn!("port {}: {warning}", p.name),
                    Ok(None) => {}
                    Err(e) => {
                        log::warn!("port {}: cannot keep the kernel off {iface}: {e}", p.name)
                    }
                }
                rt.ifaces.push(saved);
            }
            let mut port =
                Port::attach(&eal, &p.device).map_err(ctx(format!("port {}", p.name)))?;
            // The configured MAC: set on the device when its driver can (the NIC then
            // filters for it; af_packet sets the kernel interface's, restored at stop),
            // else used in software only (answers and sends with it; the tap takes it).
            let soft_mac = match p.mac {
                Some(m) => match port.set_mac(m).map_err(ctx(format!("port {}", p.name)))? {
                    true => None,
                    false => {
                        log::warn!(
                            "port {}: driver cannot set its MAC: {} used in software only",
                            p.name,
                            fmt_mac(&m)
                        );
                        Some(m)
                    }
                },
                None => None,
            };
            let cfg = PortConfig {
                queues: nq,
                rx_desc: p.rx_desc,
                tx_desc: p.tx_desc,
                mtu: p.mtu,
                promiscuous: p.promiscuous,
            };
            let (port, rx, tx) = port
                .start(&cfg, &pool)
                .map_err(ctx(format!("port {}", p.name)))?;
            if let Some(note) = rt.ifaces.last().and_then(|s| {
                (Some(s.iface()) == afpacket::iface_of(&p.device))
                    .then(|| s.keep_promisc())
                    .flatten()
            }) {
                log::info!("port {}: {note}", p.name);
            }
            if let Some(iface) = afpacket::iface_of(&p.device) {
                match RingDrops::find(iface) {
                    Ok(r) if r.sockets() > 0 => rt.ring_drops.push((i, r)),
                    Ok(_) => log::warn!(
                        "port {}: no packet socket on {iface}: ring drops unseen",
                        p.name
                    ),
                    Err(e) => log::warn!("port {}: ring drops unseen: {e}", p.name),
                }
            }
            let mac = match soft_mac {
                Some(m) => m,
                None => port.mac().map_err(ctx(format!("port {}", p.name)))?,
            };
            log::info!(
                "port {} ({}): mac {}, {} queue(s){}",
                p.name,
                p.device,
                fmt_mac(&mac),
                nq,
                if port.rss() { ", RSS" } else { "" }
            );
            rt.ports.push((p.name.clone(), port));
            rt.port_ids.push((p.device.clone(), mac));
            let mut tap_queues: Vec<Option<_>> = (0..nq).map(|_| None).collect();
            if let Some(tap) = &p.tap {
                if exception::iface_exists(tap) {
                    return Err(Error::TapExists {
                        port: p.name.clone(),
                        tap: tap.clone(),
                    });
                }
                let dev = format!("net_tap_rvs{i},iface={tap},mac={}", fmt_mac(&mac));
                let tport = Port::attach(&eal, &dev)
                    .map_err(ctx(format!("port {} exception path", p.name)))?;
                let tcfg = PortConfig {
                    queues: nq,
                    mtu: 0,
                    ..PortConfig::default()
                };
                let (tport, trx, ttx) = tport
                    .start(&tcfg, &pool)
                    .map_err(ctx(format!("port {} exception path", p.name)))?;
                rt.taps.push(Some((tap.clone(), tport)));
                let routes: Vec<_> = plan
                    .routes
                    .iter()
                    .filter(|r| r.port == i)
                    .map(|r| (r.prefix, r.via))
                    .collect();
                exception::configure(&p.name, tap, &p.addrs, p.mtu, &routes)?;
                log::info!("port {}: exception path on kernel interface {tap}", p.name);
                for (q, (r, t)) in trx.into_iter().zip(ttx).enumerate() {
                    tap_queues[q] = Some((r, t));
                }
            } else {
                rt.taps.push(None);
            }
            for (q, ((r, t), tap)) in rx.into_iter().zip(tx).zip(tap_queues).enumerate() {
                queues[q].push(PortQueues { rx: r, tx: t, tap });
            }
            port_nets.push(PortNet {
                mac,
                addrs: p.addrs.clone(),
                exception_path: p.tap.is_some(),
                mtu: p.mtu,
            });
        }
        // VLAN sub-interfaces: logical ports after the physical ones, with their parent's
        // MAC and MTU, their own addresses and their own tap (untagged frames: the worker
        // strips and pushes the tag, as for the data path).
        let mut vlan_taps: Vec<Vec<Option<(RxQueue, TxQueue)>>> =
            (0..nq).map(|_| Vec::new()).collect();
        for (j, v) in plan.vlans.iter().enumerate() {
            let (mac, mtu) = (port_nets[v.parent].mac, port_nets[v.parent].mtu);
            port_nets.push(PortNet {
                mac,
                addrs: v.addrs.clone(),
                exception_path: v.tap.is_some(),
                mtu,
            });
            let mut per_queue: Vec<Option<_>> = (0..nq).map(|_| None).collect();
            if let Some(tap) = &v.tap {
                if exception::iface_exists(tap) {
                    return Err(Error::TapExists {
                        port: v.name.clone(),
                        tap: tap.clone(),
                    });
                }
                let what = format!("vlan {} exception path", v.name);
                let dev = format!("net_tap_rvsv{j},iface={tap},mac={}", fmt_mac(&mac));
                let tport = Port::attach(&eal, &dev).map_err(ctx(what.clone()))?;
                let tcfg = PortConfig {
                    queues: nq,
                    mtu: 0,
                    ..PortConfig::default()
                };
                let (tport, trx, ttx) = tport.start(&tcfg, &pool).map_err(ctx(what))?;
                rt.taps.push(Some((tap.clone(), tport)));
                let logical = plan.ports.len() + j;
                let routes: Vec<_> = plan
                    .routes
                    .iter()
                    .filter(|r| r.port == logical)
                    .map(|r| (r.prefix, r.via))
                    .collect();
                exception::configure(&v.name, tap, &v.addrs, mtu, &routes)?;
                log::info!("vlan {}: exception path on kernel interface {tap}", v.name);
                for (q, (r, t)) in trx.into_iter().zip(ttx).enumerate() {
                    per_queue[q] = Some((r, t));
                }
            }
            for (q, t) in per_queue.into_iter().enumerate() {
                vlan_taps[q].push(t);
            }
            log::info!(
                "vlan {}: id {} on port {}",
                v.name,
                v.id,
                plan.ports[v.parent].name
            );
        }
        let vlans = Vlans::new(
            plan.ports.len(),
            &plan
                .vlans
                .iter()
                .map(|v| (v.parent, v.id))
                .collect::<Vec<_>>(),
        );
        // Every worker gets its own view (its own snapshot readers) of the same ports
        // and neighbour table.
        let base = Net::with_neigh(
            port_nets,
            views.net_reader(),
            crate::net::NeighTable::with_params(plan.neigh, plan.static_neighbours.clone()),
        )
        .with_transit(plan.transit.clone());
        rt.neigh = Some(base.neigh_handle());
        let mut nets: Vec<Net> = (1..plan.worker_cores.len())
            .map(|_| base.view(views.net_reader()))
            .collect();
        nets.insert(0, base);
        let mut vlan_taps = vlan_taps.into_iter();
        let tsc_hz = dpdk::tsc_hz();
        let tsc_start = dpdk::rdtsc();
        rt.tsc = (tsc_start, tsc_hz.max(1));
        for (index, ((core, ports), net)) in plan
            .worker_cores
            .iter()
            .copied()
            .zip(queues)
            .zip(nets)
            .enumerate()
        {
            let lb = views
                .lb_views()
                .map(|v| LbPath::new(net.view(views.net_reader()), v, index));
            let counters = Arc::new(WorkerCounters::default());
            rt.counters.push(counters.clone());
            rt.arp_conflicts.push(net.conflict_slot());
            let unres = super::worker::unres_queue(&net);
            let worker = Worker {
                index,
                ports,
                net,
                counters,
                stop: rt.stop.clone(),
                tsc_hz,
                tsc_start,
                pool: pool.clone(),
                announce: index == 0 && plan.gratuitous_arp,
                announced: 0,
                lb,
                unres,
                // Worker 0 asks for the real servers and gateways and sends the probes.
                prime: if index == 0 {
                    plan.prime.clone()
                } else {
                    Vec::new()
                },
                neigh_sweep: index == 0,
                vlans: vlans.clone(),
                vlan_taps: vlan_taps.next().unwrap_or_default(),
                reasm: super::reasm::Reasm::new(plan.reasm),
                reasm_out: super::worker::reasm_out(),
            };
            let failed = rt.failed.clone();
            let eal = eal.clone();
            let handle = std::thread::Builder::new()
                .name(format!("rvs-worker{index}"))
                .spawn(move || run_worker(worker, &eal, core, failed))
                .map_err(|e| Error::Worker {
                    index,
                    core,
                    reason: e.to_string(),
                })?;
            rt.workers.push(handle);
            rt.cores.push(core);
        }
        rt.pool = Some(pool);
        rt.eal = Some(eal);
        Ok(rt)
    }

    /// True when a worker died (panicked or could not register): rvsd must exit.
    pub fn failed(&self) -> bool {
        self.failed.load(Ordering::Relaxed)
    }

    /// Sum of one counter over all workers.
    pub fn counter(&self, c: Counter) -> u64 {
        self.counters.iter().map(|w| w.get(c)).sum()
    }

    /// Each worker's last ARP address conflict (claimed address, claimant's MAC), if
    /// it saw one.
    pub fn arp_conflicts(&self) -> Vec<Option<(Ipv4Addr, [u8; 6])>> {
        self.arp_conflicts.iter().map(|s| s.last()).collect()
    }

    /// One counter per worker.
    pub fn counter_per_worker(&self, c: Counter) -> Vec<u64> {
        self.counters.iter().map(|w| w.get(c)).collect()
    }

    /// Device counters per port (name, stats).
    /// For af_packet ports `imissed` is the kernel's count of frames dropped on the
    /// port's full RX rings (`PACKET_STATISTICS`), which the PMD does not report.
    pub fn port_stats(&self) -> Vec<(String, PortStats)> {
        self.ports
            .iter()
            .enumerate()
            .map(|(i, (n, p))| {
                let mut s = p.stats();
                for (_, r) in self.ring_drops.iter().filter(|(at, _)| *at == i) {
                    s.imissed += r.read().drops;
                }
                (n.clone(), s)
            })
            .collect()
    }

    /// Each data port as `rvsadm status` shows it: name, device, MAC, link and device
    /// counters (see [`Runtime::port_stats`] for af_packet's `imissed`).
    pub fn port_info(&self) -> Vec<PortInfo> {
        self.port_stats()
            .into_iter()
            .zip(&self.ports)
            .zip(&self.port_ids)
            .map(|(((name, stats), (_, port)), (device, mac))| PortInfo {
                name,
                device: device.clone(),
                mac: *mac,
                link: port.link(),
                stats,
            })
            .collect()
    }

    /// The core each worker is pinned to, by worker index.
    pub fn worker_cores(&self) -> &[usize] {
        &self.cores
    }

    /// The workers' clock now: whole seconds since the data plane started, the `now`
    /// of the connection table's timers (so expiry times can be listed).
    pub fn now_secs(&self) -> u32 {
        (dpdk::rdtsc().wrapping_sub(self.tsc.0) / self.tsc.1) as u32
    }

    /// The neighbour table all workers share (None before the ports came up).
    pub fn neigh(&self) -> Option<&Arc<NeighTable>> {
        self.neigh.as_ref()
    }

    /// Stops workers, then closes taps and ports, then frees the pool and the EAL.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        for w in self.workers.drain(..) {
            if !w.join().unwrap_or(false) {
                self.failed.store(true, Ordering::Relaxed);
            }
        }
        // Queue handles died with the workers; now devices can go (the ring-drop
        // readers first: they hold the af_packet sockets open).
        self.ring_drops.clear();
        for (name, tap) in self.taps.drain(..).flatten() {
            drop(tap);
            if exception::iface_exists(&name) {
                log::warn!("exception path interface {name} still exists after close");
            }
        }
        self.ports.clear();
        for saved in self.ifaces.drain(..) {
            for failure in saved.restore() {
                log::warn!("cannot restore {failure}");
            }
        }
        self.pool = None;
        self.eal = None;
    }
}

impl Drop for Runtime {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// Pins the thread, registers it with the EAL, runs the loop, and turns a panic into a
/// logged failure instead of a silent death. Returns false on failure.
fn run_worker(worker: Worker, eal: &Eal, core: usize, failed: Arc<AtomicBool>) -> bool {
    let index = worker.index;
    if !core_affinity::set_for_current(core_affinity::CoreId { id: core }) {
        // Running unpinned would make "running on core N" a lie and share a core
        // with who knows what: a worker that cannot own its core is a failure.
        log::error!("worker {index}: could not pin to core {core}; rvsd will stop");
        failed.store(true, Ordering::Relaxed);
        return false;
    }
    if let Err(e) = dpdk::register_thread(eal) {
        log::error!("worker {index}: {e}");
        failed.store(true, Ordering::Relaxed);
        return false;
    }
    log::info!("worker {index} running on core {core}");
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || worker.run())) {
        Ok(()) => true,
        Err(_) => {
            log::error!("worker {index} panicked; rvsd will stop");
            failed.store(true, Ordering::Relaxed);
            false
        }
    }
}

/// `aa:bb:cc:dd:ee:ff`, as net_tap's `mac=` and operators expect.
pub fn fmt_mac(m: &[u8; 6]) -> String {
    format!(
        "{:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}",
        m[0], m[1], m[2], m[3], m[4], m[5]
    )
}
