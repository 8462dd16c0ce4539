//! The health monitor on the management loop: [`HealthLoop`] owns the [`Monitor`] and
//! its [`Checker`] thread; [`Manager::health_sync`] declares the monitor's targets from
//! the CONFIGURED table (at start, after every change, after a reload) and
//! [`Manager::health_poll`] runs it once per tick. Both apply the resulting [`Action`]s to
//! the EFFECTIVE table (`mgmt::health_table`). Neither blocks: the checks run on the
//! Checker's thread, the monitor only submits jobs and drains reports.
//!
//! Nothing runs while nothing is watched: no thread is started, `poll` returns at once,
//! so rvsd without health checks behaves as it did before them. The Checker thread is
//! started the first time a target has a check, in the namespace of the calling thread
//! (rvsd's management thread: the director's own network, where real servers are
//! reached through the tap).

use std::time::Instant;

use crate::mgmt::health::{
    Action, CheckRunner, Checker, Job, Monitor, Report, ServiceTargets, Stopped,
};
use crate::mgmt::Manager;

/// The monitor, its checker and the targets last given to it.
#[derive(Default)]
pub struct HealthLoop {
    monitor: Monitor,
    checker: Option<Checker>,
    /// Set when the Checker could not be started (logged once; checks then never run
    /// and checked servers keep their state).
    checker_failed: bool,
    targets: Vec<ServiceTargets>,
}

/// The runner while no Checker thread runs (nothing checked yet, or it could not
/// start): takes no job, reports nothing.
struct NoChecker;

impl CheckRunner for NoChecker {
    fn submit(&self, _job: Job) -> Result<(), Stopped> {
        Err(Stopped)
    }
    fn try_recv(&self) -> Option<Report> {
        None
    }
}

impl HealthLoop {
    /// The monitor (for its status, and for passive detection's reports).
    pub fn monitor(&self) -> &Monitor {
        &self.monitor
    }

    /// The monitor, to report passive failures to it.
    pub fn monitor_mut(&mut self) -> &mut Monitor {
        &mut self.monitor
    }

    /// True while some service is watched.
    pub fn active(&self) -> bool {
        !self.targets.is_empty()
    }

    /// True when the Checker thread runs.
    pub fn checker_running(&self) -> bool {
        self.checker.is_some()
    }

    /// Gives the monitor `targets` when they differ from the last ones; starts the
    /// Checker the first time one of them has a check.
    fn sync(&mut self, targets: Vec<ServiceTargets>, now: Instant, out: &mut Vec<Action>) {
        if targets == self.targets {
            return;
        }
        let checked = targets
            .iter()
            .any(|s| s.reals.iter().any(|r| r.check.is_some()));
        if checked && self.checker.is_none() && !self.checker_failed {
            match Checker::start() {
                Ok(c) => {
                    log::info!("health: checker thread started");
                    self.checker = Some(c);
                }
                Err(e) => {
                    log::error!("health: cannot start the checker thread: {e}; no check runs");
                    self.checker_failed = true;
                }
            }
        }
        self.targets = targets.clone();
        self.monitor.set_targets(targets, now, out);
    }

    fn poll(&mut self, now: Instant, out: &mut Vec<Action>) {
        if self.targets.is_empty() {
            return;
        }
        match &self.checker {
            Some(c) => self.monitor.poll(now, c, out),
            None => self.monitor.poll(now, &NoChecker, out),
        }
    }
}

impl Manager {
    /// Declares to the monitor what the CONFIGURED table and the health configuration
    /// say is watched now (a no-op when unchanged) and applies what it asks at once
    /// (alpha servers starting DOWN, a sorry server's first placement). Call at start
    /// and after every change of services, real servers or checks.
    pub fn health_sync(&mut self, now: Instant) {
        let targets = self.health_conf.targets(self);
        let mut out = Vec::new();
        self.health.sync(targets, now, &mut out);
        self.apply_actions(&out);
    }

    /// One step of the monitor (every tick): submits due checks, reads finished ones,
    /// applies the transitions to the effective table.
    pub fn health_poll(&mut self, now: Instant) {
        let mut out = Vec::new();
        self.health.poll(now, &mut out);
        self.apply_actions(&out);
    }

    /// Applies `actions` in order (see `Manager::apply_health`).
    pub fn apply_actions(&mut self, actions: &[Action]) {
        for a in actions {
            self.apply_health(a);
        }
    }
}
