//! The health monitor: keepalived's check scheduling and state machine on the management
//! thread (docs/HEALTH.md). Pure logic over a clock the caller passes (`now`), so it is
//! tested with a fake clock and fake reports; the checks themselves run on the
//! [`Checker`]'s thread, reached through [`CheckRunner`].
//!
//! STUB (first landing): the public interface is final, the state machine lands next.

use std::net::Ipv4Addr;
use std::time::Instant;

pub use super::action::{Action, DestHealth};
use super::runner::{Checker, Job, Report, Stopped};
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
    services: Vec<ServiceTargets>,
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
    /// check in flight, if any, is ignored when it reports). Appends what the table needs
    /// now: `Down` for real servers starting DOWN (alpha), `SorryOff` for an inhibited
    /// sorry server's first placement at weight 0, `SorryOn` when a service starts
    /// without quorum.
    pub fn set_targets(
        &mut self,
        services: Vec<ServiceTargets>,
        _now: Instant,
        _out: &mut Vec<Action>,
    ) {
        self.services = services;
    }

    /// Called from the management loop every tick (100 ms or less is fine): submits the
    /// checks that are due, drains the reports, runs the state machine, starts notify
    /// programs (never waiting for them), reaps those that ended, and appends the
    /// resulting effects to `out`.
    pub fn poll(&mut self, _now: Instant, _checker: &dyn CheckRunner, _out: &mut Vec<Action>) {}

    /// Passive detection (rvs): `failures` new connections to this real server failed
    /// since the last call. Past the service's `[service.passive]` threshold within its
    /// interval, a checked server that is UP goes DOWN at once; its active checks bring
    /// it back. Ignored for a service without `[service.passive]`, a real server without
    /// a check, or an unknown one.
    pub fn passive(
        &mut self,
        _service: &ServiceKey,
        _addr: Ipv4Addr,
        _port: u16,
        _failures: u64,
        _now: Instant,
        _out: &mut Vec<Action>,
    ) {
    }

    /// The health of every watched real server and sorry server, services in the order
    /// given to [`Monitor::set_targets`], real servers in theirs.
    pub fn status(&self) -> Vec<DestHealth> {
        Vec::new()
    }
}
