//! The health monitor: keepalived's check scheduling and state machine on the management
//! thread (docs/HEALTH.md). Pure logic over a clock the caller passes (`now`), so it is
//! tested with a fake clock and fake reports; the checks themselves run on the
//! [`Checker`]'s thread, reached through [`CheckRunner`].
//!
//! Layout: `dest.rs` is one real server's state machine (retry, rise, dynamic weight,
//! passive), `service.rs` a service's quorum, sorry server and the Actions that bring the
//! table in line, `notify.rs` the notify programs; this file routes checks and reports.
//! A check that never answers delays nothing but its own real server: every real server
//! has its own schedule, and the Checker runs each check as its own task with its own
//! timeout.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddrV4};
use std::time::{Instant, SystemTime};

pub use super::action::{Action, DestHealth};
use super::dest::{Change, DestState, Phase, Shown};
use super::notify::Notifier;
use super::outcome::Outcome;
use super::runner::{CheckId, Checker, Job, Report, Stopped};
use super::service::{ServiceState, SorryShown};
pub use super::target::{ServiceTargets, Target};
use crate::lb::service::ServiceKey;

/// Where the monitor sends checks and reads their reports: the real [`Checker`], or a
/// test's fake. Both calls return at once.
pub trait CheckRunner {
    /// Queues one check.
    fn submit(&self, job: Job) -> Result<(), Stopped>;
    /// The next finished check, if any.
    fn try_recv(&self) -> Option<Report>;
}

impl CheckRunner for Checker {
    fn submit(&self, job: Job) -> Result<(), Stopped> {
        Checker::submit(self, job)
    }
    fn try_recv(&self) -> Option<Report> {
        Checker::try_recv(self)
    }
}

/// Per (service, real server) health state, the services' quorum and sorry servers.
#[derive(Default)]
pub struct Monitor {
    services: Vec<ServiceState>,
    notifier: Notifier,
    /// The last check id handed out (ids are never reused).
    next_id: u64,
    /// Check in flight -> (service index, real server index) when it was started.
    in_flight: HashMap<u64, (usize, usize)>,
    /// Whether the checker's stop was already logged.
    stopped_logged: bool,
}

impl Monitor {
    /// An empty monitor (nothing checked until [`Monitor::set_targets`]).
    pub fn new() -> Monitor {
        Monitor::default()
    }

    /// (Re)declares what is watched: at start, after reload and after every run-time
    /// change of services or real servers. A real server whose (service, address, port,
    /// check) did not change keeps its state (weight, notify programs and
    /// inhibit_on_failure may change without a reset); a new one starts UP (DOWN with
    /// `alpha`); a changed check starts afresh; one no longer listed is forgotten (its
    /// check in flight, if any, is ignored when it reports). The manager is assumed to
    /// hold every NEW real server in the effective table at its configured weight, and
    /// no sorry server of a new service. Appends what the table needs now: `Down` for
    /// real servers starting DOWN (alpha), `SorryOff` for an inhibited sorry server's
    /// first placement at weight 0, `SorryOn` when a service starts without quorum,
    /// `Weight`/`Up`/`Down` where a kept server's weight or inhibit_on_failure changed.
    pub fn set_targets(
        &mut self,
        services: Vec<ServiceTargets>,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let mut old: Vec<ServiceState> = std::mem::take(&mut self.services);
        // In-flight ids survive only for kept real servers: rebuilt below.
        let mut flights: HashMap<(ServiceKey, Ipv4Addr, u16), u64> = HashMap::new();
        for (&id, &(si, di)) in &self.in_flight {
            if let Some(d) = old.get(si).and_then(|s| s.dests.get(di)) {
                flights.insert((old[si].key, d.target.addr, d.target.port), id);
            }
        }
        self.in_flight.clear();
        for t in services {
            let state = match old.iter().position(|s| s.key == t.service) {
                None => {
                    log::info!(
                        "health: {}: watching {} real server(s)",
                        crate::mgmt::reload::key_text(&t.service),
                        t.reals.len()
                    );
                    ServiceState::new(t, now, &mut self.notifier, out)
                }
                Some(i) => {
                    let mut s = old.swap_remove(i);
                    s.health = t.health;
                    let mut kept: Vec<DestState> = std::mem::take(&mut s.dests);
                    for r in t.reals {
                        let same = kept
                            .iter()
                            .position(|d| (d.target.addr, d.target.port) == (r.addr, r.port));
                        let d = match same.map(|j| kept.swap_remove(j)) {
                            Some(mut d) if d.target.check == r.check => {
                                d.target = r;
                                d
                            }
                            Some(d) => {
                                log::info!(
                                    "health: {}: {}: check changed, state starts afresh",
                                    s.name(),
                                    d.name()
                                );
                                let mut fresh = DestState::new(r, s.health.alpha, now);
                                fresh.shown = d.shown;
                                fresh
                            }
                            None => DestState::new(r, s.health.alpha, now),
                        };
                        s.dests.push(d);
                    }
                    s.update_quorum(&mut self.notifier);
                    s.reconcile(None, out);
                    s
                }
            };
            self.services.push(state);
        }
        for (si, s) in self.services.iter().enumerate() {
            for (di, d) in s.dests.iter().enumerate() {
                if let Phase::InFlight(id) = d.phase {
                    if flights.get(&(s.key, d.target.addr, d.target.port)) == Some(&id) {
                        self.in_flight.insert(id, (si, di));
                    }
                }
            }
        }
    }

    /// Called from the management loop every tick (100 ms or less is fine): drains the
    /// reports, runs the state machine, submits the checks that are due, starts notify
    /// programs (never waiting for them), reaps those that ended, and appends the
    /// resulting effects to `out`.
    pub fn poll(&mut self, now: Instant, checker: &dyn CheckRunner, out: &mut Vec<Action>) {
        while let Some(r) = checker.try_recv() {
            self.report(r.id.0, &r.outcome, now, out);
        }
        for (si, s) in self.services.iter_mut().enumerate() {
            for (di, d) in s.dests.iter_mut().enumerate() {
                let Some(id) = d.start_if_due(now, &mut self.next_id) else {
                    continue;
                };
                let Some(check) = d.target.check.clone() else {
                    continue;
                };
                let job = Job {
                    id: CheckId(id),
                    spec: check.spec.clone(),
                    target: SocketAddrV4::new(d.target.addr, d.target.port),
                    timeout: check.job_timeout(),
                };
                match checker.submit(job) {
                    Ok(()) => {
                        self.in_flight.insert(id, (si, di));
                    }
                    Err(e) => {
                        if !self.stopped_logged {
                            log::error!("health: {e}: no more checks run");
                            self.stopped_logged = true;
                        }
                        d.not_started(now);
                    }
                }
            }
        }
        self.notifier.reap();
    }

    /// One report: the state machine of its real server, then its service's quorum.
    fn report(&mut self, id: u64, o: &Outcome, now: Instant, out: &mut Vec<Action>) {
        let Some((si, di)) = self.in_flight.remove(&id) else {
            return; // its real server was forgotten or its check changed
        };
        let Some(s) = self.services.get_mut(si) else {
            return;
        };
        let Some(d) = s.dests.get_mut(di) else {
            return;
        };
        let change = d.report(id, o, now);
        self.apply(si, di, change, out);
    }

    /// The effects of one real server's change: log, notify program, quorum, table.
    fn apply(&mut self, si: usize, di: usize, change: Change, out: &mut Vec<Action>) {
        let s = &mut self.services[si];
        let d = &s.dests[di];
        let (what, addr) = (s.name(), d.name());
        let reason = match &change {
            Change::None => return,
            Change::AlphaFirstFailure => {
                if let Some(cmd) = &d.target.notify_down {
                    self.notifier
                        .run(cmd, &format!("notify_down of {addr} in {what}"));
                }
                return;
            }
            Change::Weight => {
                log::info!(
                    "health: {what}: real server {addr} weight {} (MISC_CHECK dynamic)",
                    d.weight()
                );
                String::new()
            }
            Change::Up(r) => {
                log::info!("health: {what}: real server {addr} UP: {r}");
                if let Some(cmd) = &d.target.notify_up {
                    self.notifier
                        .run(cmd, &format!("notify_up of {addr} in {what}"));
                }
                r.clone()
            }
            Change::Down(r) => {
                log::warn!("health: {what}: real server {addr} DOWN: {r}");
                if let Some(cmd) = &d.target.notify_down {
                    self.notifier
                        .run(cmd, &format!("notify_down of {addr} in {what}"));
                }
                r.clone()
            }
        };
        s.update_quorum(&mut self.notifier);
        s.reconcile(Some((di, &reason)), out);
    }

    /// Passive detection (rvs): `failures` new connections to this real server failed
    /// since the last call. Past the service's `[service.passive]` threshold within its
    /// interval, a checked server that is UP goes DOWN at once; its active checks bring
    /// it back (the check in flight, if any, is disregarded). Ignored for a service
    /// without `[service.passive]`, a real server without a check, or an unknown one.
    pub fn passive(
        &mut self,
        service: &ServiceKey,
        addr: Ipv4Addr,
        port: u16,
        failures: u64,
        now: Instant,
        out: &mut Vec<Action>,
    ) {
        let Some(si) = self.services.iter().position(|s| s.key == *service) else {
            return;
        };
        let s = &mut self.services[si];
        let Some(p) = s.health.passive else {
            return;
        };
        let Some(di) = s
            .dests
            .iter()
            .position(|d| (d.target.addr, d.target.port) == (addr, port))
        else {
            return;
        };
        let change = s.dests[di].passive(failures, now, p.failures, p.interval);
        if matches!(change, Change::Down(_)) {
            self.in_flight.retain(|_, v| *v != (si, di));
        }
        self.apply(si, di, change, out);
    }

    /// The health of every watched real server and sorry server, services in the order
    /// given to [`Monitor::set_targets`], real servers in theirs (each service's sorry
    /// server after them).
    pub fn status(&self) -> Vec<DestHealth> {
        let (wall, mono) = (SystemTime::now(), Instant::now());
        let at = |t: Instant| {
            wall.checked_sub(mono.saturating_duration_since(t))
                .unwrap_or(wall)
        };
        let mut v = Vec::new();
        for s in &self.services {
            for d in &s.dests {
                let (in_table, weight) = match d.shown {
                    Shown::Absent => (false, 0),
                    Shown::Inhibited => (true, 0),
                    Shown::Weight(w) => (true, w),
                };
                v.push(DestHealth {
                    service: s.key,
                    addr: d.target.addr,
                    port: d.target.port,
                    sorry: false,
                    up: d.up,
                    checker: d.target.check.as_ref().map(|c| c.spec.kind()),
                    in_table,
                    weight,
                    last_check: d.last_check.map(at),
                    last_result: d.last_result.clone(),
                    consecutive_failures: d.failures,
                });
            }
            if let Some((server, how)) = s.sorry_shown {
                v.push(DestHealth {
                    service: s.key,
                    addr: server.addr,
                    port: server.port,
                    sorry: true,
                    up: how == SorryShown::On,
                    checker: None,
                    in_table: how != SorryShown::Absent,
                    weight: if how == SorryShown::On {
                        crate::config::SORRY_WEIGHT
                    } else {
                        0
                    },
                    last_check: None,
                    last_result: None,
                    consecutive_failures: 0,
                });
            }
        }
        v
    }

    /// Whether `service` has quorum (`None`: not watched).
    pub fn quorum_up(&self, service: &ServiceKey) -> Option<bool> {
        self.services
            .iter()
            .find(|s| s.key == *service)
            .map(|s| s.quorum_up)
    }

    /// Notify and quorum programs still running (not reaped yet).
    pub fn programs_running(&self) -> usize {
        self.notifier.running()
    }

    /// Notify and quorum programs started so far, the last 64 as "what: command" (for
    /// `rvsadm status` and tests).
    pub fn programs_started(&self) -> (u64, Vec<String>) {
        (
            self.notifier.started(),
            self.notifier.history().map(str::to_owned).collect(),
        )
    }
}

#[cfg(test)]
#[path = "monitor_tests.rs"]
mod tests;
