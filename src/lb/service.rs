//! Virtual services (`ipvsadm -A/-E/-D`), their real servers (`-a/-e/-d`) and the
//! service table that workers look services up in.
//!
//! Snapshots: a [`ServiceTable`] is immutable once published. The management thread
//! owns a working copy (cheap: services are `Arc`s), applies ipvsadm-style commands to
//! it (copy-on-write of the one service they touch), and publishes it through a
//! [`Publisher`]. Each worker owns a [`TableReader`] and calls
//! [`TableReader::refresh`] once per loop: one atomic load when nothing changed, no
//! lock ever. Old tables are freed by the management thread only after every reader
//! has moved past them, so a worker never frees memory on the fast path.
//!
//! Dest order: a service's dests are kept in IPVS list order (newest first, since IPVS
//! adds at the list head); schedulers break ties on it. A [`DestIdx`] is valid only in
//! the snapshot it came from: connections keep the `Arc<Dest>`.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::lb::dest::{Dest, DestIdx, Fwd};
use crate::lb::flow::{proto, FlowKey};
use crate::lb::sched::{new_scheduler, SchedFlags, SchedParams, Scheduler};
use crate::lb::stats::Stats;

/// `-p` without a value (ipvsadm's `IPVS_SVC_PERSISTENT_TIMEOUT`; the man page's 300 is wrong).
pub const DEFAULT_PERSISTENT_TIMEOUT_SECS: u32 = 360;
/// Largest `-p` ipvsadm accepts (31 days).
pub const MAX_PERSISTENT_TIMEOUT_SECS: u32 = 2_678_400;

/// What identifies a virtual service.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ServiceKey {
    /// `-t`/`-u VIP:port`; port 0 = every port of the VIP (persistent services only).
    Addr {
        /// [`proto::TCP`] or [`proto::UDP`].
        proto: u8,
        /// Virtual IP.
        vip: Ipv4Addr,
        /// Virtual port, 0 = all ports.
        vport: u16,
    },
    /// `-f MARK`: everything [`crate::lb::mark`] gives this mark, as one service.
    Mark(u32),
}

/// Client affinity (`-p [secs] [-M mask]`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Persistence {
    /// Template lifetime after its last controlled connection ends.
    pub timeout_secs: u32,
    /// Client addresses equal under this mask share a template (default /32).
    pub netmask: Ipv4Addr,
}

impl Default for Persistence {
    fn default() -> Self {
        Persistence {
            timeout_secs: DEFAULT_PERSISTENT_TIMEOUT_SECS,
            netmask: Ipv4Addr::BROADCAST,
        }
    }
}

/// Everything `-A`/`-E` sets. `-E` replaces all of it (omitted options take defaults).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceConfig {
    /// The service's identity.
    pub key: ServiceKey,
    /// Scheduler name (`-s`, default `wlc`).
    pub sched: String,
    /// `-b` bits.
    pub flags: SchedFlags,
    /// `-p`; `None` = not persistent.
    pub persistence: Option<Persistence>,
    /// `-o` one-packet scheduling (UDP and mark services only).
    pub ops: bool,
    /// mh table size (rvs extension; see [`crate::lb::sched::mh`]).
    pub mh_table_size: u32,
}

impl ServiceConfig {
    /// ipvsadm's defaults for a service `key`: wlc, not persistent, no flags.
    pub fn new(key: ServiceKey) -> Self {
        ServiceConfig {
            key,
            sched: "wlc".into(),
            flags: SchedFlags::default(),
            persistence: None,
            ops: false,
            mh_table_size: crate::lb::sched::mh::DEFAULT_TABLE_SIZE,
        }
    }
}

/// Everything `-a`/`-e` sets for one real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DestConfig {
    /// Real server address.
    pub addr: Ipv4Addr,
    /// Real server port (forced to the service port for DR/TUN on non-mark services).
    pub port: u16,
    /// `-g`/`-i`/`-m` (default `-g`).
    pub fwd: Fwd,
    /// `-w` (default 1, 0 = quiescent).
    pub weight: i32,
    /// `-x` (0 = off).
    pub u_threshold: u32,
    /// `-y` (0 = off).
    pub l_threshold: u32,
}

impl DestConfig {
    /// ipvsadm's defaults: DR, weight 1, no thresholds.
    pub fn new(addr: Ipv4Addr, port: u16) -> Self {
        DestConfig {
            addr,
            port,
            fwd: Fwd::Dr,
            weight: 1,
            u_threshold: 0,
            l_threshold: 0,
        }
    }
}

/// Refusals, worded as ipvsadm prints them so rvsadm can print `to_string()`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// `-A` of an existing service (EEXIST).
    #[error("Service already exists")]
    ServiceExists,
    /// `-E`/`-D`/`-Z`/`-L` of a missing service (ESRCH).
    #[error("No such service")]
    NoSuchService,
    /// `-a`/`-e`/`-d` on a missing service (ESRCH, real-server commands).
    #[error("Service not defined")]
    ServiceNotDefined,
    /// `-a` of an existing dest (EEXIST).
    #[error("Destination already exists")]
    DestExists,
    /// `-e`/`-d` of a missing dest (ENOENT).
    #[error("No such destination")]
    NoSuchDest,
    /// Unknown `-s` (or bad mh table size) (ENOENT).
    #[error("Scheduler or persistence engine not found")]
    SchedulerNotFound,
    /// Port 0 without `-p`.
    #[error("Zero port specified for non-persistent service")]
    ZeroPortNonPersistent,
    /// `-o` on a TCP service.
    #[error("One-Packet Scheduling is only for UDP virtual services")]
    OpsOnlyUdp,
    /// `-y` above `-x`, bad weight or timeout (ERANGE / EINVAL in the kernel).
    #[error("Numerical result out of range")]
    OutOfRange,
    /// A protocol other than TCP/UDP (EINVAL).
    #[error("Invalid operation.  Possibly wrong module version, address not unicast, ...")]
    Invalid,
    /// More dests than a [`DestIdx`] can number.
    #[error("Memory allocation problem")]
    TooManyDests,
}

/// One virtual service snapshot.
#[derive(Debug)]
pub struct Service {
    config: ServiceConfig,
    /// IPVS list order (newest first).
    dests: Vec<Arc<Dest>>,
    /// Aligned with `dests`.
    dest_stats: Vec<Arc<Stats>>,
    sched: Box<dyn Scheduler>,
    stats: Arc<Stats>,
}

impl Service {
    /// A service with no dests, validated as ipvsadm and the kernel do; `workers` sizes
    /// the per-worker stats blocks.
    pub fn new(config: ServiceConfig, workers: usize) -> Result<Service, Error> {
        Service::with_stats(config, Arc::new(Stats::new(workers)))
    }

    /// As [`Service::new`], counting into `stats`: the management side hands back the
    /// stats block of a deleted incarnation of the same service (zeroed) when dests of
    /// it wait in its trash, because a revived dest keeps counting into the service
    /// block it was registered with (see [`crate::mgmt::Manager`]).
    pub fn with_stats(config: ServiceConfig, stats: Arc<Stats>) -> Result<Service, Error> {
        let sched = validate(&config)?;
        let mut s = Service {
            config,
            dests: Vec::new(),
            dest_stats: Vec::new(),
            sched,
            stats,
        };
        s.sched.rebuild(&s.dests);
        Ok(s)
    }

    /// The `-A`/`-E` settings.
    pub fn config(&self) -> &ServiceConfig {
        &self.config
    }
    /// Dests in IPVS list order (newest first).
    pub fn dests(&self) -> &[Arc<Dest>] {
        &self.dests
    }
    /// Per-dest stats, aligned with [`Service::dests`].
    pub fn dest_stats(&self) -> &[Arc<Stats>] {
        &self.dest_stats
    }
    /// Service totals.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }
    /// The scheduler's ipvsadm name.
    pub fn sched_name(&self) -> &'static str {
        self.sched.name()
    }

    /// Fast path: choose a dest for a new connection of `flow`. `None` = IPVS's "no
    /// destination available" (the caller counts it and answers as IPVS would).
    pub fn schedule(&self, flow: &FlowKey) -> Option<(DestIdx, &Arc<Dest>)> {
        let i = self.sched.pick(&self.dests, flow)?;
        self.dests.get(i.0 as usize).map(|d| (i, d))
    }

    /// `-E`: a copy with `config` (same key) fully replacing the settings; dests and
    /// counters carry over, the scheduler is kept (state and all) unless it changed.
    pub fn edited(&self, config: ServiceConfig) -> Result<Service, Error> {
        let fresh = validate(&config)?;
        let same = config.sched == self.config.sched
            && config.flags == self.config.flags
            && config.mh_table_size == self.config.mh_table_size;
        let mut sched = if same { self.sched.fork() } else { fresh };
        sched.rebuild(&self.dests);
        Ok(Service {
            config,
            dests: self.dests.clone(),
            dest_stats: self.dest_stats.clone(),
            sched,
            stats: self.stats.clone(),
        })
    }

    /// The port a dest really gets: the service port for DR/TUN on a non-mark service.
    pub fn effective_port(&self, d: &DestConfig) -> u16 {
        match (self.config.key, d.fwd) {
            (ServiceKey::Addr { vport, .. }, Fwd::Dr | Fwd::Tun) => vport,
            _ => d.port,
        }
    }

    fn find(&self, addr: Ipv4Addr, port: u16) -> Option<usize> {
        self.dests
            .iter()
            .position(|d| d.addr == addr && d.port == port)
    }

    fn with(&self, dests: Vec<Arc<Dest>>, dest_stats: Vec<Arc<Stats>>) -> Service {
        let mut sched = self.sched.fork();
        sched.rebuild(&dests);
        Service {
            config: self.config.clone(),
            dests,
            dest_stats,
            sched,
            stats: self.stats.clone(),
        }
    }

    /// `-a`: a copy with a new dest at the head of the list.
    pub fn with_dest_added(&self, d: &DestConfig) -> Result<Service, Error> {
        check_dest(d)?;
        let port = self.effective_port(d);
        if self.find(d.addr, port).is_some() {
            return Err(Error::DestExists);
        }
        self.check_room()?;
        let new = Arc::new(
            Dest::new(d.addr, port, d.fwd, d.weight).with_thresholds(d.u_threshold, d.l_threshold),
        );
        Ok(self.with_at_head(new, Arc::new(Stats::new(self.stats.workers()))))
    }

    /// `-a` of a dest found in the management side's trash (IPVS
    /// `ip_vs_trash_get_dest` + `__ip_vs_update_dest`): the same `Dest` object goes
    /// back at the head of the list, available again, with weight and thresholds from
    /// `d`, so its table id, counters, connections and templates carry on. `dest` must
    /// have `d`'s address, effective port and forwarding method ([`Error::Invalid`]
    /// otherwise); `stats` is its own stats block. Nothing is changed on error.
    pub fn with_dest_revived(
        &self,
        d: &DestConfig,
        dest: &Arc<Dest>,
        stats: &Arc<Stats>,
    ) -> Result<Service, Error> {
        check_dest(d)?;
        let port = self.effective_port(d);
        if (dest.addr, dest.port, dest.fwd) != (d.addr, port, d.fwd) {
            return Err(Error::Invalid);
        }
        if self.find(d.addr, port).is_some() {
            return Err(Error::DestExists);
        }
        self.check_room()?;
        dest.set_weight(d.weight);
        dest.set_thresholds(d.u_threshold, d.l_threshold);
        dest.set_available();
        Ok(self.with_at_head(dest.clone(), stats.clone()))
    }

    fn check_room(&self) -> Result<(), Error> {
        if self.dests.len() >= u16::MAX as usize - 1 {
            return Err(Error::TooManyDests);
        }
        Ok(())
    }

    /// A copy with `dest` at the head of the list (IPVS adds at the head).
    fn with_at_head(&self, dest: Arc<Dest>, stats: Arc<Stats>) -> Service {
        let mut dests = Vec::with_capacity(self.dests.len() + 1);
        dests.push(dest);
        dests.extend(self.dests.iter().cloned());
        let mut all = vec![stats];
        all.extend(self.dest_stats.iter().cloned());
        self.with(dests, all)
    }

    /// `-e`: weight and thresholds change in place (connections see them at once); a
    /// new forwarding method gives a new `Dest` at the same list position, so existing
    /// connections keep the method they were created with, as IPVS conns do.
    pub fn with_dest_edited(&self, d: &DestConfig) -> Result<Service, Error> {
        check_dest(d)?;
        let port = self.effective_port(d);
        let i = self.find(d.addr, port).ok_or(Error::NoSuchDest)?;
        let mut dests = self.dests.clone();
        if dests[i].fwd != d.fwd {
            dests[i] = Arc::new(Dest::new(d.addr, port, d.fwd, d.weight));
        }
        dests[i].set_weight(d.weight);
        dests[i].set_thresholds(d.u_threshold, d.l_threshold);
        Ok(self.with(dests, self.dest_stats.clone()))
    }

    /// `-d`: a copy without the dest, which is marked unavailable (its connections are
    /// then handled per `expire_nodest_conn`).
    pub fn with_dest_removed(&self, addr: Ipv4Addr, port: u16) -> Result<Service, Error> {
        let port = match self.config.key {
            // DR/TUN dests were stored with the service port; try it as well.
            ServiceKey::Addr { vport, .. } if self.find(addr, port).is_none() => vport,
            _ => port,
        };
        let i = self.find(addr, port).ok_or(Error::NoSuchDest)?;
        let mut dests = self.dests.clone();
        let mut stats = self.dest_stats.clone();
        dests.remove(i).set_unavailable();
        stats.remove(i);
        Ok(self.with(dests, stats))
    }
}

fn validate(c: &ServiceConfig) -> Result<Box<dyn Scheduler>, Error> {
    if let ServiceKey::Addr {
        proto: p, vport, ..
    } = c.key
    {
        if p != proto::TCP && p != proto::UDP {
            return Err(Error::Invalid);
        }
        if vport == 0 && c.persistence.is_none() {
            return Err(Error::ZeroPortNonPersistent);
        }
        if c.ops && p == proto::TCP {
            return Err(Error::OpsOnlyUdp);
        }
    }
    if let Some(p) = c.persistence {
        if p.timeout_secs == 0 || p.timeout_secs > MAX_PERSISTENT_TIMEOUT_SECS {
            return Err(Error::OutOfRange);
        }
    }
    new_scheduler(
        &c.sched,
        &SchedParams {
            flags: c.flags,
            mh_table_size: c.mh_table_size,
        },
    )
    .ok_or(Error::SchedulerNotFound)
}

/// The kernel's checks of `-a`/`-e` (`ip_vs_add_dest`/`ip_vs_edit_dest`): a negative
/// weight or `-y` above `-x` is ERANGE. Any weight ≥ 0 is taken (the oracle recording
/// `add-dest-weight-65536` lists `-w 65536` as 65536).
fn check_dest(d: &DestConfig) -> Result<(), Error> {
    if d.weight < 0 || (d.l_threshold > d.u_threshold) {
        return Err(Error::OutOfRange);
    }
    Ok(())
}

/// All services, as one immutable snapshot.
#[derive(Debug, Clone, Default)]
pub struct ServiceTable {
    by_key: HashMap<ServiceKey, Arc<Service>>,
    /// Keys in the order their services were added (`-E` keeps the place), for the
    /// control socket's listing (IPVS lists in hash order; rvsadm sorts).
    order: Vec<ServiceKey>,
    workers: usize,
}

impl ServiceTable {
    /// An empty table whose services count stats for `workers` workers.
    pub fn new(workers: usize) -> Self {
        ServiceTable {
            by_key: HashMap::new(),
            order: Vec::new(),
            workers: workers.max(1),
        }
    }

    /// The service of a new flow, in IPVS's order (`ip_vs_service_find`): the service
    /// of the packet's mark first, then the exact `VIP:port` service, then the VIP's
    /// port-0 service (recorded: tests/fixtures/oracle/semantics, "lookup").
    pub fn find(
        &self,
        mark: Option<u32>,
        proto: u8,
        vip: Ipv4Addr,
        vport: u16,
    ) -> Option<&Arc<Service>> {
        mark.and_then(|m| self.lookup_mark(m))
            .or_else(|| self.lookup(proto, vip, vport))
    }

    /// The address services only: the exact `VIP:port` service, then the VIP's
    /// port-0 service (see [`ServiceTable::find`] for the order with marks).
    pub fn lookup(&self, proto: u8, vip: Ipv4Addr, vport: u16) -> Option<&Arc<Service>> {
        self.by_key
            .get(&ServiceKey::Addr { proto, vip, vport })
            .or_else(|| {
                self.by_key.get(&ServiceKey::Addr {
                    proto,
                    vip,
                    vport: 0,
                })
            })
    }

    /// The service of a mark (`-f`).
    pub fn lookup_mark(&self, mark: u32) -> Option<&Arc<Service>> {
        self.by_key.get(&ServiceKey::Mark(mark))
    }

    /// One service by key (management side, `-L -t ...`).
    pub fn get(&self, key: &ServiceKey) -> Option<&Arc<Service>> {
        self.by_key.get(key)
    }

    /// True when some address service of protocol `proto` listens on `vip` (any port).
    /// Per packet: walks the keys, allocates nothing.
    pub fn has_vip(&self, proto: u8, vip: Ipv4Addr) -> bool {
        self.by_key.keys().any(
            |k| matches!(*k, ServiceKey::Addr { proto: p, vip: v, .. } if p == proto && v == vip),
        )
    }

    /// All services in ipvsadm's listing order (address services, then marks).
    pub fn services(&self) -> Vec<&Arc<Service>> {
        let mut v: Vec<_> = self.by_key.values().collect();
        v.sort_by_key(|s| match s.config.key {
            ServiceKey::Addr { proto, vip, vport } => (0, proto, u32::from(vip), vport),
            ServiceKey::Mark(m) => (1, 0, m, 0),
        });
        v
    }

    /// All services in the order they were added (an edited one keeps its place).
    pub fn in_insertion_order(&self) -> impl Iterator<Item = &Arc<Service>> {
        self.order.iter().filter_map(|k| self.by_key.get(k))
    }

    /// `-A`.
    pub fn add_service(&mut self, config: ServiceConfig) -> Result<(), Error> {
        if self.by_key.contains_key(&config.key) {
            return Err(Error::ServiceExists);
        }
        let s = Service::new(config, self.workers)?;
        self.order.push(s.config.key);
        self.by_key.insert(s.config.key, Arc::new(s));
        Ok(())
    }

    /// `-A` counting into `stats` (see [`Service::with_stats`]).
    pub fn add_service_with_stats(
        &mut self,
        config: ServiceConfig,
        stats: Arc<Stats>,
    ) -> Result<(), Error> {
        if self.by_key.contains_key(&config.key) {
            return Err(Error::ServiceExists);
        }
        let s = Service::with_stats(config, stats)?;
        self.order.push(s.config.key);
        self.by_key.insert(s.config.key, Arc::new(s));
        Ok(())
    }

    /// `-E`.
    pub fn edit_service(&mut self, config: ServiceConfig) -> Result<(), Error> {
        let old = self.by_key.get(&config.key).ok_or(Error::NoSuchService)?;
        let new = old.edited(config)?;
        self.by_key.insert(new.config.key, Arc::new(new));
        Ok(())
    }

    /// `-D`: the service goes; its dests become unavailable.
    pub fn del_service(&mut self, key: &ServiceKey) -> Result<(), Error> {
        let s = self.by_key.remove(key).ok_or(Error::NoSuchService)?;
        self.order.retain(|k| k != key);
        s.dests.iter().for_each(|d| d.set_unavailable());
        Ok(())
    }

    /// `-C`.
    pub fn clear(&mut self) {
        for s in self.by_key.values() {
            s.dests.iter().for_each(|d| d.set_unavailable());
        }
        self.by_key.clear();
        self.order.clear();
    }

    fn update(
        &mut self,
        key: &ServiceKey,
        f: impl FnOnce(&Service) -> Result<Service, Error>,
    ) -> Result<(), Error> {
        let old = self.by_key.get(key).ok_or(Error::ServiceNotDefined)?;
        let new = f(old)?;
        self.by_key.insert(*key, Arc::new(new));
        Ok(())
    }

    /// `-a`.
    pub fn add_dest(&mut self, key: &ServiceKey, d: &DestConfig) -> Result<(), Error> {
        self.update(key, |s| s.with_dest_added(d))
    }

    /// `-a` of a trashed dest (see [`Service::with_dest_revived`]).
    pub fn revive_dest(
        &mut self,
        key: &ServiceKey,
        d: &DestConfig,
        dest: &Arc<Dest>,
        stats: &Arc<Stats>,
    ) -> Result<(), Error> {
        self.update(key, |s| s.with_dest_revived(d, dest, stats))
    }

    /// `-e`.
    pub fn edit_dest(&mut self, key: &ServiceKey, d: &DestConfig) -> Result<(), Error> {
        self.update(key, |s| s.with_dest_edited(d))
    }

    /// `-d`.
    pub fn del_dest(&mut self, key: &ServiceKey, addr: Ipv4Addr, port: u16) -> Result<(), Error> {
        self.update(key, |s| s.with_dest_removed(addr, port))
    }
}

/// Publishes service-table snapshots to the workers (see [`crate::snapshot`]).
pub type Publisher = crate::snapshot::Publisher<ServiceTable>;

/// A worker's view of the published service table (see [`crate::snapshot`]).
pub type TableReader = crate::snapshot::Reader<ServiceTable>;

#[cfg(test)]
mod tests {
    use super::*;

    fn tcp(vport: u16) -> ServiceKey {
        ServiceKey::Addr {
            proto: proto::TCP,
            vip: Ipv4Addr::new(203, 0, 113, 1),
            vport,
        }
    }

    fn rs(last: u8, port: u16, fwd: Fwd) -> DestConfig {
        DestConfig {
            fwd,
            ..DestConfig::new(Ipv4Addr::new(198, 51, 100, last), port)
        }
    }

    #[test]
    fn ipvsadm_errors() {
        let mut t = ServiceTable::new(1);
        t.add_service(ServiceConfig::new(tcp(80))).unwrap();
        assert_eq!(
            t.add_service(ServiceConfig::new(tcp(80)))
                .unwrap_err()
                .to_string(),
            "Service already exists"
        );
        assert_eq!(
            t.add_service(ServiceConfig::new(tcp(0))),
            Err(Error::ZeroPortNonPersistent)
        );
        let mut c = ServiceConfig::new(tcp(81));
        c.sched = "nope".into();
        assert_eq!(t.add_service(c), Err(Error::SchedulerNotFound));
        let mut c = ServiceConfig::new(tcp(82));
        c.ops = true;
        assert_eq!(t.add_service(c), Err(Error::OpsOnlyUdp));
        assert_eq!(
            t.edit_service(ServiceConfig::new(tcp(99))),
            Err(Error::NoSuchService)
        );
        assert_eq!(
            t.add_dest(&tcp(99), &rs(1, 80, Fwd::Nat)),
            Err(Error::ServiceNotDefined)
        );
        t.add_dest(&tcp(80), &rs(1, 80, Fwd::Nat)).unwrap();
        assert_eq!(
            t.add_dest(&tcp(80), &rs(1, 80, Fwd::Nat)),
            Err(Error::DestExists)
        );
        assert_eq!(
            t.del_dest(&tcp(80), Ipv4Addr::new(198, 51, 100, 9), 80),
            Err(Error::NoSuchDest)
        );
    }

    #[test]
    fn dr_port_forced_newest_first_and_removal_marks_unavailable() {
        let mut t = ServiceTable::new(1);
        t.add_service(ServiceConfig::new(tcp(80))).unwrap();
        t.add_dest(&tcp(80), &rs(1, 8080, Fwd::Dr)).unwrap();
        t.add_dest(&tcp(80), &rs(2, 8080, Fwd::Nat)).unwrap();
        let s = t.get(&tcp(80)).unwrap().clone();
        let ports: Vec<_> = s
            .dests()
            .iter()
            .map(|d| (d.addr.octets()[3], d.port))
            .collect();
        assert_eq!(ports, [(2, 8080), (1, 80)]);
        let old = s.dests()[1].clone();
        t.del_dest(&tcp(80), Ipv4Addr::new(198, 51, 100, 1), 8080)
            .unwrap();
        assert!(!old.is_available());
        assert_eq!(t.get(&tcp(80)).unwrap().dests().len(), 1);
    }

    #[test]
    fn find_tries_the_mark_first_then_exact_then_port_zero() {
        let mut t = ServiceTable::new(1);
        let mut c = ServiceConfig::new(tcp(0));
        c.persistence = Some(Persistence::default());
        t.add_service(c).unwrap();
        t.add_service(ServiceConfig::new(tcp(85))).unwrap();
        t.add_service(ServiceConfig::new(ServiceKey::Mark(1)))
            .unwrap();
        let vip = Ipv4Addr::new(203, 0, 113, 1);
        let key = |m, port| t.find(m, proto::TCP, vip, port).map(|s| s.config().key);
        assert_eq!(key(Some(1), 85), Some(ServiceKey::Mark(1)));
        assert_eq!(key(Some(1), 86), Some(ServiceKey::Mark(1)));
        // A mark without a service falls through to the address services.
        assert_eq!(key(Some(2), 85), Some(tcp(85)));
        assert_eq!(key(None, 85), Some(tcp(85)));
        assert_eq!(key(None, 86), Some(tcp(0)));
    }

    #[test]
    fn lookup_exact_then_port_zero() {
        let mut t = ServiceTable::new(1);
        let mut c = ServiceConfig::new(tcp(0));
        c.persistence = Some(Persistence::default());
        t.add_service(c).unwrap();
        t.add_service(ServiceConfig::new(tcp(443))).unwrap();
        let vip = Ipv4Addr::new(203, 0, 113, 1);
        assert_eq!(
            t.lookup(proto::TCP, vip, 443).unwrap().config().key,
            tcp(443)
        );
        assert_eq!(t.lookup(proto::TCP, vip, 22).unwrap().config().key, tcp(0));
        assert!(t.lookup(proto::UDP, vip, 22).is_none());
        assert_eq!(
            t.get(&tcp(0))
                .unwrap()
                .config()
                .persistence
                .unwrap()
                .timeout_secs,
            360
        );
    }

    #[test]
    fn schedule_and_edit_keeps_rr_cursor() {
        let mut t = ServiceTable::new(1);
        let mut c = ServiceConfig::new(tcp(80));
        c.sched = "rr".into();
        t.add_service(c.clone()).unwrap();
        for i in 1..=3 {
            t.add_dest(&tcp(80), &rs(i, 80, Fwd::Nat)).unwrap();
        }
        let f = FlowKey {
            proto: proto::TCP,
            saddr: Ipv4Addr::new(192, 0, 2, 1),
            sport: 1,
            daddr: Ipv4Addr::new(203, 0, 113, 1),
            dport: 80,
        };
        let s = t.get(&tcp(80)).unwrap().clone();
        assert_eq!(s.schedule(&f).unwrap().1.addr.octets()[3], 3);
        t.edit_service(c).unwrap();
        let s = t.get(&tcp(80)).unwrap().clone();
        assert_eq!(s.schedule(&f).unwrap().1.addr.octets()[3], 2);
    }

    #[test]
    fn readers_see_new_tables_and_old_ones_are_reclaimed() {
        let mut p = Publisher::new(ServiceTable::new(2));
        let mut r1 = p.reader();
        let mut r2 = p.reader();
        let mut next = (**p.current()).clone();
        next.add_service(ServiceConfig::new(tcp(80))).unwrap();
        p.publish(next);
        assert!(r1.refresh().get(&tcp(80)).is_some());
        assert_eq!(p.retired(), 1, "r2 still holds generation 0");
        assert!(r2.refresh().get(&tcp(80)).is_some());
        p.reclaim();
        assert!(p.retired() == 0);
        // Many publishes without refresh: the inbox keeps the newest, nothing leaks.
        for _ in 0..10 {
            let n = (**p.current()).clone();
            p.publish(n);
        }
        r1.refresh();
        r2.refresh();
        p.reclaim();
        assert!(p.retired() == 0);
    }
}
