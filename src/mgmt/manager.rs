//! The management side's one owner of every published table: the service table, the
//! mark rules and the VIP/route tables (each behind a [`crate::snapshot::Publisher`]),
//! the connection-table handle and the rate estimators. Every run-time change (the
//! control socket of phase 6 will call these methods) is made on a copy of the live
//! table and published whole, so workers see it at once at their next loop, never half
//! applied. Runs on the management thread only.

use crate::ctl::{ErrorKind, Response};
use crate::dataplane::runtime::Views;
use crate::dataplane::{LbViews, Runtime};
use crate::lb::conn::{ConnTable, DestId};
use crate::lb::dest::Dest;
use crate::lb::mark::MarkTable;
use crate::lb::service::{self, DestConfig, ServiceConfig, ServiceKey, ServiceTable};
use crate::mgmt::apply::Context;
use crate::mgmt::control::{Command, CommandRx};
use crate::mgmt::rates::RateTracker;
use crate::net::{NetTables, PortIdx, Route};
use crate::snapshot::{Publisher, Reader};
use crossbeam::channel::RecvTimeoutError;
use std::collections::{HashMap, HashSet};
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Why a run-time change was refused; nothing was published then.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A service or real server change was refused, with ipvsadm's text.
    #[error("{0}")]
    Service(#[from] service::Error),
    /// A new dest could not be registered in the connection table.
    #[error("connection table: {0}")]
    Table(#[from] crate::lb::conn::ConnError),
    /// No data port with this index.
    #[error("no port {0}")]
    NoSuchPort(PortIdx),
    /// The port already answers for this VIP.
    #[error("port {port} already has VIP {addr}")]
    VipExists {
        /// Port index.
        port: PortIdx,
        /// The VIP.
        addr: Ipv4Addr,
    },
    /// The port has no such VIP.
    #[error("port {port} has no VIP {addr}")]
    NoSuchVip {
        /// Port index.
        port: PortIdx,
        /// The VIP.
        addr: Ipv4Addr,
    },
}

/// What a control request that succeeded changed, for the state file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Changed {
    /// Nothing the state file keeps (a listing, a refused change).
    Nothing,
    /// Something the state file keeps: written after a quiet period.
    State,
    /// A reload: written at once.
    Reloaded,
}

/// How often the management loop wakes up (reclaim, rates, worker health).
pub const TICK: Duration = Duration::from_millis(100);

/// What the management loop last reported about ARP address conflicts: the workers'
/// `drop_arp_conflict` total and each worker's last recorded conflict.
#[derive(Default)]
struct ConflictsSeen {
    count: u64,
    last: Vec<Option<(Ipv4Addr, [u8; 6])>>,
}

/// Logs a warning when the workers' `drop_arp_conflict` count rose (another station sent
/// ARP claiming one of our addresses or VIPs), naming the claimed address and claimant
/// of each worker whose last recorded conflict changed since `seen`. Workers do not log
/// (fast path): they count and record, this tick reports.
fn log_arp_conflicts(rt: &Runtime, seen: &mut ConflictsSeen) {
    let now = rt.counter(crate::dataplane::Counter::DropArpConflict);
    if now > seen.count {
        let last = rt.arp_conflicts();
        let changed: Vec<_> = last
            .iter()
            .enumerate()
            .filter(|(i, l)| l.is_some() && seen.last.get(*i) != Some(*l))
            .filter_map(|(_, l)| *l)
            .collect();
        // Same claimant again on the same worker: still worth a line, naming it.
        let report = if changed.is_empty() {
            last.iter().flatten().copied().collect()
        } else {
            changed
        };
        for (ip, mac) in report {
            log::warn!(
                "ARP address conflict: {} claims {ip}, one of our addresses or VIPs \
                 ({} conflicting ARP packets dropped so far)",
                crate::wire::EthernetAddress(mac),
                now
            );
        }
        seen.last = last;
    }
    seen.count = now;
}

/// Owner of the publishers, the connection table and the rates.
pub struct Manager {
    services: Publisher<ServiceTable>,
    marks: Publisher<MarkTable>,
    net: Publisher<NetTables>,
    conns: Arc<ConnTable>,
    rates: RateTracker,
    /// Deleted dests (by `-d` or `-D`), as IPVS's trash (`ip_vs_trash_get_dest`):
    /// `-a` of the same server in the same service revives the same object; their
    /// table ids are recycled once nothing reaches them (see `Manager::recycle`).
    trash: HashMap<TrashKey, Trashed>,
    /// Dests gone from their service but not revivable, still to be recycled: pushed out
    /// of `trash` by a newer one of the same key (the server was re-added with another
    /// method), or replaced by `-e` with another method.
    limbo: Vec<Trashed>,
    /// Time of the last [`Manager::tick`] (creation before the first).
    now: Instant,
    /// The configuration last loaded (at start or by a reload), for what a reload
    /// compares: `None` for a Manager not built from a file (tests).
    config: Option<Arc<crate::config::Config>>,
    /// Where the EFFECTIVE table (published, what workers and `rvsadm -L` see) differs
    /// from the CONFIGURED one (the operator's, what the state file and reload keep)
    /// because of health checks: see `mgmt::health_table`.
    pub(crate) overlay: crate::mgmt::health_table::Overlay,
    /// The health keywords and checks of every service and real server (the file's and
    /// run-time changes): see `mgmt::health_conf`.
    pub(crate) health_conf: crate::mgmt::health_conf::HealthConf,
    /// The health monitor and its checker thread, driven by [`Manager::run`].
    pub(crate) health: crate::mgmt::health_loop::HealthLoop,
}

/// What identifies a trashed dest, as IPVS's trash lookup does: the service's key
/// (protocol, VIP, port or mark), the real server's address and its effective port.
type TrashKey = (ServiceKey, Ipv4Addr, u16);

/// One deleted dest kept for revival.
struct Trashed {
    dest: Arc<Dest>,
    /// The first service generation without it: once every worker reached it, no
    /// worker can schedule the dest any more.
    removed_gen: u64,
    /// Its service was deleted (`-D`) since: on revival the dest's stats restart from 0,
    /// as IPVS's `__ip_vs_update_dest` zeroes them when it binds a dest to a new service.
    service_gone: bool,
    /// When a recycling pass first found it unreachable and unused.
    idle_since: Option<Instant>,
}

/// How long an unreachable, unused deleted dest stays revivable before its id is
/// recycled: IPVS's `IP_VS_DEST_TRASH_PERIOD` (120 s; `ip_vs_dest_trash_expire` frees a
/// trashed dest one period after it first found it unreferenced), so a server re-added
/// within it keeps its stats as in IPVS.
pub const DEST_TRASH_PERIOD: Duration = Duration::from_secs(120);

impl Manager {
    /// Takes ownership of the initial tables; every dest of `services` is registered
    /// in `conns` before anything is published.
    pub fn new(
        conns: ConnTable,
        services: ServiceTable,
        marks: MarkTable,
        net: NetTables,
    ) -> Result<Manager, Error> {
        register_new_dests(&conns, &services)?;
        Ok(Manager {
            services: Publisher::new(services),
            marks: Publisher::new(marks),
            net: Publisher::new(net),
            conns: Arc::new(conns),
            rates: RateTracker::new(),
            trash: HashMap::new(),
            limbo: Vec::new(),
            now: Instant::now(),
            config: None,
            overlay: Default::default(),
            health_conf: Default::default(),
            health: Default::default(),
        })
    }

    /// The configuration last loaded (start or reload), if any: what a reload compares
    /// its restart-only sections with (`mgmt::reload`).
    pub fn config(&self) -> Option<&Arc<crate::config::Config>> {
        self.config.as_ref()
    }

    /// Records `cfg` as the configuration running now (rvsd at start, a reload after
    /// applying it). Its health keywords and checks become the running ones: run-time
    /// check changes (`rvsadm check`) are replaced by the file's, as run-time real
    /// servers are by a reload.
    pub fn set_config(&mut self, cfg: crate::config::Config) {
        self.health_conf = crate::mgmt::health_conf::HealthConf::from_config(&cfg);
        self.config = Some(Arc::new(cfg));
    }

    /// The connection table.
    pub fn conns(&self) -> &Arc<ConnTable> {
        &self.conns
    }

    /// The live service table.
    pub fn services(&self) -> &Arc<ServiceTable> {
        self.services.current()
    }

    /// The live mark rules.
    pub fn marks(&self) -> &Arc<MarkTable> {
        self.marks.current()
    }

    /// The live VIP/route tables.
    pub fn net(&self) -> &Arc<NetTables> {
        self.net.current()
    }

    /// The rate estimators.
    pub fn rates(&self) -> &RateTracker {
        &self.rates
    }

    /// The name of data port `i`: its `[[port]]` name in the running config, or
    /// `port<i>` for a Manager not built from a file (tests).
    pub fn port_name(&self, i: PortIdx) -> String {
        self.config
            .as_ref()
            .and_then(|c| c.ports.get(i as usize))
            .map(|p| p.name.clone())
            .unwrap_or_else(|| format!("port{i}"))
    }

    /// The index of the port named `name` (as [`Manager::port_name`] names it).
    pub fn port_index(&self, name: &str) -> Option<PortIdx> {
        (0..self.net.current().ports())
            .map(|i| i as PortIdx)
            .find(|&i| self.port_name(i) == name)
    }

    /// Snapshots retired but still held because some worker has not yet moved past
    /// them (0 once every worker refreshed and [`Manager::tick`] ran).
    pub fn retired(&self) -> usize {
        self.services.retired() + self.marks.retired() + self.net.retired()
    }

    /// Generations published so far: (services, marks, VIPs/routes).
    pub fn generations(&self) -> (u64, u64, u64) {
        (
            self.services.generation(),
            self.marks.generation(),
            self.net.generation(),
        )
    }

    /// The periodic management work: frees snapshots every worker has moved past, recycles
    /// the table ids of deleted dests nothing reaches any more (see `recycle`), and
    /// samples the rates every 2 s. Call it often (rvsd: every 100 ms).
    pub fn tick(&mut self, now: Instant) {
        self.services.reclaim();
        self.marks.reclaim();
        self.net.reclaim();
        self.now = self.now.max(now);
        self.recycle();
        self.rates.poll(self.services.current(), now);
    }

    /// The management loop, until `stop` is set (SIGINT/SIGTERM) or a worker of
    /// `ctx.rt` died (then it returns true): ticks every [`TICK`] (with one step of the
    /// health monitor, `Manager::health_poll`; its targets are declared at start and
    /// after every change, `Manager::health_sync`) and, between ticks,
    /// waits on `commands` and answers each request at once, in arrival order, through
    /// [`crate::mgmt::apply::handle`] (the only place control requests change state).
    /// With `[control] state_file`, changes are written coalesced
    /// ([`crate::mgmt::state::Unsaved`]), a reload at once, and what is unsaved when the
    /// loop ends.
    pub fn run(&mut self, ctx: &Context, stop: &AtomicBool, commands: &CommandRx) -> bool {
        let mut conflicts = ConflictsSeen::default();
        let mut next_tick = Instant::now();
        let mut unsaved = crate::mgmt::state::Unsaved::default();
        let mut failed = false;
        let mut passive = crate::mgmt::passive::PassiveFeed::new();
        // What the configuration and the restored state watch (a no-op without checks).
        self.health_sync(Instant::now());
        while !stop.load(Ordering::Relaxed) {
            if ctx.rt.is_some_and(Runtime::failed) {
                failed = true;
                break;
            }
            let now = Instant::now();
            if now >= next_tick {
                self.tick(now);
                if let Some(rt) = ctx.rt {
                    log_arp_conflicts(rt, &mut conflicts);
                }
                // Never blocks: checks run on the Checker's thread.
                self.passive_poll(&mut passive, now);
                self.health_poll(now);
                next_tick = now + TICK;
            }
            self.save_state(&mut unsaved, now, false);
            let wake = unsaved.due().map_or(next_tick, |d| d.min(next_tick));
            match commands.recv_timeout(wake.saturating_duration_since(now)) {
                Ok(cmd) => {
                    let changed = self.answer(ctx, cmd);
                    // Also after a refused or half-failed request: cheap when nothing
                    // changed (the targets compare equal).
                    self.health_sync(Instant::now());
                    match changed {
                        Changed::Nothing => {}
                        Changed::State => unsaved.note(Instant::now()),
                        // A reload is written at once (it may replace much of the state).
                        Changed::Reloaded => {
                            unsaved.note(Instant::now());
                            self.save_state(&mut unsaved, Instant::now(), true);
                        }
                    }
                }
                Err(RecvTimeoutError::Timeout) => {}
                // No sender left (no control socket): just tick.
                Err(RecvTimeoutError::Disconnected) => {
                    std::thread::sleep(wake.saturating_duration_since(Instant::now()))
                }
            }
        }
        // A clean stop (or a dead worker) writes what is still unsaved.
        self.save_state(&mut unsaved, Instant::now(), true);
        failed
    }

    /// Writes `[control] state_file` when `unsaved` is due at `now` (or has anything,
    /// when `force`); a failed write is logged and the changes stand.
    fn save_state(&self, unsaved: &mut crate::mgmt::state::Unsaved, now: Instant, force: bool) {
        let Some(path) = self.config().and_then(|c| c.control.state_file.clone()) else {
            *unsaved = Default::default();
            return;
        };
        let Some(n) = unsaved.take(now, force) else {
            return;
        };
        match crate::mgmt::state::save(self, &path) {
            Ok(()) => log::info!("state file {}: saved ({n} change(s))", path.display()),
            Err(e) => log::error!("state file {}: not saved: {e}", path.display()),
        }
    }

    /// Carries out one request and sends its response (a client that went away in the
    /// meantime is no error); says whether it changed what the state file keeps. A
    /// panic in a handler is a bug: it is logged and answered with an `internal` error,
    /// and rvsd goes on: workers only ever see tables published whole, so a change cut
    /// short by the panic was never seen by them.
    fn answer(&mut self, ctx: &Context, cmd: Command) -> Changed {
        let id = cmd.envelope.id;
        let request = cmd.envelope.request;
        let what = format!("{request:?}");
        let changed = match request {
            crate::ctl::proto::Request::Reload => Changed::Reloaded,
            ref r if crate::mgmt::state::is_mutating(r) => Changed::State,
            _ => Changed::Nothing,
        };
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            crate::mgmt::apply::handle(self, ctx, request)
        }));
        let (response, changed) = match result {
            Ok(Ok(body)) => (Response::ok(id, body), changed),
            Ok(Err(e)) => (Response::err(id, e.kind, e.message), Changed::Nothing),
            Err(_) => {
                log::error!("control request {what} panicked; state unchanged");
                let r = Response::err(
                    id,
                    ErrorKind::Internal,
                    "rvsd failed to carry out the request (a bug: see its log)",
                );
                (r, Changed::Nothing)
            }
        };
        let _ = cmd.reply.send(response);
        changed
    }

    /// Logs every service's and real server's counters and rates (`ipvsadm -L --stats`
    /// and `--rate` columns), as rvsd does at shutdown until the control socket can
    /// show them.
    pub fn log_stats(&self) {
        crate::mgmt::services::log_stats(self.services.current(), &self.rates);
    }

    /// Applies `change` to a copy of the service table, registers the dests it added,
    /// and publishes it; on error nothing is published.
    fn change_services(
        &mut self,
        change: impl FnOnce(&mut ServiceTable) -> Result<(), service::Error>,
    ) -> Result<(), Error> {
        let old = self.services.current().clone();
        let mut t = ServiceTable::clone(&old);
        change(&mut t)?;
        register_new_dests(&self.conns, &t)?;
        self.services.publish(t);
        self.trash_deleted(&old);
        Ok(())
    }

    /// Puts every registered dest of `old` (the table before a change) that the change
    /// deleted (`-d`, `-D`: marked unavailable) into the trash.
    fn trash_deleted(&mut self, old: &ServiceTable) {
        let new = self.services.current().clone();
        let removed_gen = self.services.generation();
        for svc in old.services() {
            let key = svc.config().key;
            let now_svc = new.get(&key);
            if now_svc.is_some_and(|n| Arc::ptr_eq(n, svc)) {
                continue; // untouched by this change
            }
            let service_gone = now_svc.is_none();
            let kept: HashSet<*const Dest> = now_svc
                .map(|n| n.dests().iter().map(Arc::as_ptr).collect())
                .unwrap_or_default();
            for d in svc.dests() {
                if d.table_id().is_none() || kept.contains(&Arc::as_ptr(d)) {
                    continue;
                }
                if d.is_available() {
                    // Replaced by `-e` with another method: its connections go on with
                    // it; not revivable, its id is recycled once they are gone.
                    self.limbo.push(Trashed {
                        dest: d.clone(),
                        removed_gen,
                        service_gone,
                        idle_since: None,
                    });
                    continue;
                }
                let t = Trashed {
                    dest: d.clone(),
                    removed_gen,
                    service_gone,
                    idle_since: None,
                };
                if let Some(older) = self.trash.insert((key, d.addr, d.port), t) {
                    // A dest the server left behind when re-added with another method.
                    self.limbo.push(older);
                }
            }
            if service_gone {
                // Dests deleted earlier from this service now outlive it too.
                self.trash
                    .iter_mut()
                    .filter(|(k, _)| k.0 == key)
                    .for_each(|(_, t)| t.service_gone = true);
            }
        }
    }

    /// Releases the connection-table ids of trashed dests nothing can reach any more
    /// (see `lb/conn/dests.rs`): every worker moved past the service tables that held
    /// the dest, no connection or template counts on it, and it has been so for
    /// [`DEST_TRASH_PERIOD`] (as of the last tick). The dest leaves the trash (a later
    /// `-a` of the server makes a new one). Runs on every tick and before `-A`/`-a`
    /// (never between a trash lookup and its use).
    fn recycle(&mut self) {
        let held = self.services.oldest_held();
        let now = self.now;
        let conns = &self.conns;
        let keep = |t: &mut Trashed| {
            let d = &t.dest;
            let unused =
                d.active_conns() == 0 && d.inactive_conns() == 0 && d.persistent_conns() == 0;
            if t.removed_gen > held || !unused {
                return true;
            }
            let since = *t.idle_since.get_or_insert(now);
            if now.saturating_duration_since(since) < DEST_TRASH_PERIOD {
                return true;
            }
            if let Some(id) = d.table_id() {
                conns.release_dest(DestId(id));
            }
            false
        };
        self.trash.retain(|_, t| keep(t));
        self.limbo.retain_mut(keep);
    }

    /// Dests deleted and not yet recycled (IPVS's trash).
    pub fn trashed(&self) -> usize {
        self.trash.len() + self.limbo.len()
    }

    /// `ipvsadm -A`: adds a service. When dests of an earlier service with the same key
    /// wait in the trash, the new service counts into that service's stats block, zeroed
    /// (a revived dest counts its packets into the block it was registered with).
    pub fn add_service(&mut self, config: ServiceConfig) -> Result<(), Error> {
        self.recycle();
        let reuse = self
            .trash
            .iter()
            .filter(|(k, _)| k.0 == config.key)
            .find_map(|(_, t)| t.dest.stats().map(|s| s.0.clone()));
        match reuse {
            None => self.change_services(|t| t.add_service(config)),
            Some(stats) => self.change_services(|t| {
                t.add_service_with_stats(config, stats.clone())?;
                stats.zero();
                Ok(())
            }),
        }
    }

    /// `ipvsadm -E`: edits a service (scheduler, flags, persistence).
    pub fn edit_service(&mut self, config: ServiceConfig) -> Result<(), Error> {
        self.change_services(|t| t.edit_service(config))
    }

    /// `ipvsadm -D` on the effective table only (see `Manager::del_service` for the
    /// operator's): deletes a service (its connections live on until they expire).
    pub(crate) fn table_del_service(&mut self, key: &ServiceKey) -> Result<(), Error> {
        self.change_services(|t| t.del_service(key))
    }

    /// `ipvsadm -C` on the effective table only (see `Manager::clear`): deletes every
    /// service in one published change (their dests go to the trash, their connections
    /// live on until they expire).
    pub(crate) fn table_clear(&mut self) -> Result<(), Error> {
        self.change_services(|t| {
            t.clear();
            Ok(())
        })
    }

    /// `ipvsadm -Z`: zeroes the counters and rates of one service and its dests, or of
    /// every service (`None`). Nothing is published: counters are read through a zero
    /// point (see [`crate::lb::stats::Stats::zero`]).
    pub fn zero(&mut self, key: Option<&ServiceKey>) -> Result<(), Error> {
        let table = self.services.current().clone();
        let svcs: Vec<_> = match key {
            Some(k) => vec![table.get(k).ok_or(service::Error::NoSuchService)?],
            None => table.services(),
        };
        for svc in svcs {
            svc.stats().zero();
            svc.dest_stats().iter().for_each(|s| s.zero());
        }
        self.rates.zero(&table, key.copied());
        Ok(())
    }

    /// `ipvsadm -a` on the effective table only (the operator's `-a` is
    /// `Manager::add_dest`; health checks re-add a DOWN server through this): adds a
    /// real server to a service. A server deleted from this service
    /// (or from an earlier service with the same key) and still in the trash is revived
    /// as IPVS does (`ip_vs_trash_get_dest`): the same `Dest`, so the same table id, its
    /// connections and templates resume counting on it and a persistent client returns
    /// to it; weight and thresholds come from `d`. One difference from IPVS: IPVS also
    /// revives a dest re-added with another forwarding method (its connections keep
    /// the method each was created with); rvs keeps the method in the `Dest`, so a new
    /// method gives a new dest, as `-e` does, and the old one stays in the trash.
    pub(crate) fn table_add_dest(&mut self, key: &ServiceKey, d: &DestConfig) -> Result<(), Error> {
        // Before the trash lookup, so a dest chosen for revival cannot be recycled under it.
        self.recycle();
        let revive = self.services.current().get(key).and_then(|svc| {
            let tk = (*key, d.addr, svc.effective_port(d));
            let t = self.trash.get(&tk)?;
            let (svc_stats, dest_stats) = t.dest.stats()?;
            (t.dest.fwd == d.fwd && Arc::ptr_eq(svc_stats, svc.stats()))
                .then(|| (tk, t.dest.clone(), dest_stats.clone(), t.service_gone))
        });
        let Some((tk, dest, stats, service_gone)) = revive else {
            return self.change_services(|t| t.add_dest(key, d));
        };
        self.change_services(|t| {
            t.revive_dest(key, d, &dest, &stats)?;
            if service_gone {
                stats.zero();
            }
            Ok(())
        })?;
        self.trash.remove(&tk);
        Ok(())
    }

    /// `ipvsadm -e` on the effective table only (see `Manager::edit_dest`): edits a
    /// real server (weight, method, thresholds).
    pub(crate) fn table_edit_dest(
        &mut self,
        key: &ServiceKey,
        d: &DestConfig,
    ) -> Result<(), Error> {
        self.change_services(|t| t.edit_dest(key, d))
    }

    /// `ipvsadm -d` on the effective table only (see `Manager::del_dest`): deletes a
    /// real server.
    pub(crate) fn table_del_dest(
        &mut self,
        key: &ServiceKey,
        addr: Ipv4Addr,
        port: u16,
    ) -> Result<(), Error> {
        self.change_services(|t| t.del_dest(key, addr, port))
    }

    /// Replaces every mark rule at once.
    pub fn set_marks(&mut self, marks: MarkTable) {
        self.marks.publish(marks);
    }

    /// Makes `port` answer ARP and ping for `addr`; the announcing worker sends a
    /// gratuitous ARP for it when it sees the new snapshot.
    pub fn add_vip(&mut self, port: PortIdx, addr: Ipv4Addr) -> Result<(), Error> {
        let mut t = NetTables::clone(self.net.current());
        if port as usize >= t.ports() {
            return Err(Error::NoSuchPort(port));
        }
        // Stamped with the generation this publish will have.
        if !t.add_vip(port, addr, self.net.generation() + 1) {
            return Err(Error::VipExists { port, addr });
        }
        self.net.publish(t);
        Ok(())
    }

    /// Stops answering for VIP `addr` on `port`.
    pub fn remove_vip(&mut self, port: PortIdx, addr: Ipv4Addr) -> Result<(), Error> {
        let mut t = NetTables::clone(self.net.current());
        if port as usize >= t.ports() {
            return Err(Error::NoSuchPort(port));
        }
        if !t.remove_vip(port, addr) {
            return Err(Error::NoSuchVip { port, addr });
        }
        self.net.publish(t);
        Ok(())
    }

    /// Stops answering for VIP `addr` on every port that has it, in one published
    /// change; returns those ports ([`Error::NoSuchVip`] for port 0 when none has it).
    pub fn remove_vip_everywhere(&mut self, addr: Ipv4Addr) -> Result<Vec<PortIdx>, Error> {
        let mut t = NetTables::clone(self.net.current());
        let ports: Vec<PortIdx> = (0..t.ports())
            .map(|i| i as PortIdx)
            .filter(|&p| t.remove_vip(p, addr))
            .collect();
        if ports.is_empty() {
            return Err(Error::NoSuchVip { port: 0, addr });
        }
        self.net.publish(t);
        Ok(ports)
    }

    /// Replaces the whole route table (connected and static routes) of the data path;
    /// the exception path's kernel routes stay as configured at start.
    pub fn set_routes(&mut self, routes: Vec<Route>) -> Result<(), Error> {
        let mut t = NetTables::clone(self.net.current());
        if let Some(r) = routes.iter().find(|r| r.port as usize >= t.ports()) {
            return Err(Error::NoSuchPort(r.port));
        }
        t.set_routes(routes);
        self.net.publish(t);
        Ok(())
    }
}

impl Views for Manager {
    fn net_reader(&mut self) -> Reader<NetTables> {
        self.net.reader()
    }

    fn lb_views(&mut self) -> Option<LbViews> {
        Some(LbViews {
            conns: self.conns.clone(),
            services: self.services.reader(),
            marks: self.marks.reader(),
        })
    }
}

/// Registers every dest of `table` not yet known to the connection table and records
/// its id and stats in the dest, before the table is published to workers.
pub fn register_new_dests(conns: &ConnTable, table: &ServiceTable) -> Result<(), Error> {
    for svc in table.services() {
        for (d, ds) in svc.dests().iter().zip(svc.dest_stats()) {
            if d.table_id().is_some() {
                continue;
            }
            let id = conns.register_dest(d)?;
            d.set_table_id(id.0);
            d.set_stats(svc.stats().clone(), ds.clone());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::flow::proto;

    #[test]
    fn every_change_reaches_a_refreshing_reader_and_old_tables_are_freed() {
        let (net, mut mgr) = crate::testkit::testbed::setup(64, "rr");
        let mut view = net.view(mgr.net_reader());
        drop(net);
        let mut lb = mgr.lb_views().expect("views");
        for i in 0..50u8 {
            let vip = Ipv4Addr::new(203, 0, 113, 100 + i);
            mgr.add_vip(0, vip).unwrap();
            view.refresh();
            assert!(view.tables().is_vip_of(0, vip), "round {i}: added");
            let key = ServiceKey::Addr {
                proto: proto::TCP,
                vip,
                vport: 80,
            };
            mgr.add_service(ServiceConfig::new(key)).unwrap();
            mgr.set_marks(MarkTable::clone(mgr.marks()));
            lb.services.refresh();
            lb.marks.refresh();
            assert!(
                lb.services.table().get(&key).is_some(),
                "round {i}: service"
            );
            mgr.remove_vip(0, vip).unwrap();
            mgr.del_service(&key).unwrap();
            view.refresh();
            lb.services.refresh();
            assert!(!view.tables().is_vip(vip), "round {i}: removed");
            assert!(
                lb.services.table().get(&key).is_none(),
                "round {i}: deleted"
            );
            mgr.tick(Instant::now());
            assert_eq!(mgr.retired(), 0, "round {i}: reclaimed");
        }
    }

    #[test]
    fn refused_changes_publish_nothing() {
        let (_net, mut mgr) = crate::testkit::testbed::setup(64, "rr");
        let before = mgr.generations();
        let vip = Ipv4Addr::new(203, 0, 113, 10);
        assert!(matches!(
            mgr.add_vip(0, vip),
            Err(Error::VipExists { port: 0, .. })
        ));
        assert!(matches!(mgr.add_vip(7, vip), Err(Error::NoSuchPort(7))));
        assert!(matches!(
            mgr.remove_vip(0, Ipv4Addr::new(203, 0, 113, 99)),
            Err(Error::NoSuchVip { .. })
        ));
        let key = ServiceKey::Addr {
            proto: proto::TCP,
            vip,
            vport: 80,
        };
        assert!(matches!(
            mgr.add_service(ServiceConfig::new(key)),
            Err(Error::Service(_))
        ));
        assert!(matches!(
            mgr.set_routes(vec![Route {
                prefix: "0.0.0.0/0".parse().unwrap(),
                via: None,
                port: 3,
            }]),
            Err(Error::NoSuchPort(3))
        ));
        assert_eq!(mgr.generations(), before, "nothing published");
        assert_eq!(mgr.retired(), 0);
    }

    #[test]
    fn new_dests_are_registered_before_publication() {
        let (_net, mut mgr) = crate::testkit::testbed::setup(64, "rr");
        let key = ServiceKey::Addr {
            proto: proto::TCP,
            vip: Ipv4Addr::new(203, 0, 113, 10),
            vport: 80,
        };
        let d = DestConfig::new(Ipv4Addr::new(203, 0, 113, 14), 8080);
        mgr.add_dest(&key, &d).unwrap();
        let svc = mgr.services().get(&key).unwrap().clone();
        let new = svc.dests().iter().find(|x| x.addr == d.addr).unwrap();
        let id = new.table_id().expect("registered");
        assert!(mgr.conns().dest(crate::lb::conn::DestId(id)).is_some());
    }
}
