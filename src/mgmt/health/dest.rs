//! The state of one watched real server: UP or DOWN, when its next check is due, its
//! retry and rise counters, and what the effective table was last told about it. Pure
//! logic over the clock the caller passes (keepalived check_tcp.c `tcp_epilog` and
//! ipwrapper.c `update_svr_checker_state`, in our words).
//!
//! Rules (docs/HEALTH.md):
//! - One check at a time per real server; the next is scheduled when its report comes
//!   (`delay_loop` later, or `delay_before_retry` for a retry), as keepalived does.
//! - A failed check of an UP server is retried `retry` times; the last failure makes it
//!   DOWN. A DOWN server is checked every `delay_loop`; `rise` successes in a row make it
//!   UP.
//! - MISC_CHECK `misc_dynamic`: a passed check's weight is the effective weight.

use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::time::{Duration, Instant};

use super::outcome::{secs, Outcome};
use super::target::Target;

/// Where the real server is in its check cycle.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Phase {
    /// Not checked (no check): always UP.
    Unchecked,
    /// The next check is due at this time.
    Idle(Instant),
    /// Check with this id is running; its report decides.
    InFlight(u64),
}

/// What the effective table holds for a real server (as last told through an Action).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Shown {
    /// Not in the table.
    Absent,
    /// In the table at weight 0 because it is DOWN (or set aside) with inhibit_on_failure.
    Inhibited,
    /// In the table, UP, at this weight.
    Weight(u32),
}

/// What a report or a passive verdict did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(super) enum Change {
    /// No change of state or weight.
    None,
    /// DOWN -> UP, with the reason.
    Up(String),
    /// UP -> DOWN, with the reason.
    Down(String),
    /// An UP server's effective weight changed (misc_dynamic).
    Weight,
    /// First check of an `alpha` server failed: it stays DOWN, but keepalived runs its
    /// notify_down once then.
    AlphaFirstFailure,
}

/// One watched real server.
#[derive(Debug)]
pub(super) struct DestState {
    pub target: Target,
    pub up: bool,
    /// MISC_CHECK's dynamic weight, `None`: the configured one.
    pub dyn_weight: Option<u32>,
    pub phase: Phase,
    /// Retries made since the last success (while UP).
    pub retries: u32,
    /// Successes in a row (while DOWN).
    pub successes: u32,
    /// Failed checks since the last success.
    pub failures: u32,
    /// Whether any check has reported since this state began.
    pub has_run: bool,
    pub last_check: Option<Instant>,
    pub last_result: Option<String>,
    /// Passive failures seen, with when, within the service's interval.
    pub passive: VecDeque<(Instant, u64)>,
    pub shown: Shown,
    /// Whether it is UP but set aside for the sorry server (as of the last reconcile).
    pub set_aside: bool,
}

impl DestState {
    /// A new watched server: UP (DOWN with `alpha` and a check), first check at `now`
    /// plus its warmup spread. The table is assumed to hold it at its configured weight,
    /// as the manager adds configured real servers.
    pub fn new(target: Target, alpha: bool, now: Instant) -> DestState {
        let phase = match &target.check {
            None => Phase::Unchecked,
            Some(c) => Phase::Idle(now + spread(target.addr, target.port, c.warmup)),
        };
        let checked = target.check.is_some();
        let shown = Shown::Weight(target.weight);
        DestState {
            target,
            up: !(alpha && checked),
            dyn_weight: None,
            phase,
            retries: 0,
            successes: 0,
            failures: 0,
            has_run: false,
            last_check: None,
            last_result: None,
            passive: VecDeque::new(),
            shown,
            set_aside: false,
        }
    }

    /// The weight it has while UP: MISC_CHECK's dynamic one, else the configured one.
    pub fn weight(&self) -> u32 {
        self.dyn_weight.unwrap_or(self.target.weight)
    }

    /// What the table should hold for it; `set_aside`: its service's sorry server is in
    /// use (keepalived takes the live real servers out meanwhile).
    pub fn desired(&self, set_aside: bool) -> Shown {
        if self.up && !set_aside {
            Shown::Weight(self.weight())
        } else if self.target.inhibit_on_failure {
            Shown::Inhibited
        } else {
            Shown::Absent
        }
    }

    /// The id of the check to start now, if one is due; the caller submits it.
    pub fn start_if_due(&mut self, now: Instant, next_id: &mut u64) -> Option<u64> {
        match self.phase {
            Phase::Idle(at) if at <= now => {
                *next_id += 1;
                self.phase = Phase::InFlight(*next_id);
                Some(*next_id)
            }
            _ => None,
        }
    }

    /// A check could not be handed to the checker: try again a delay_loop later.
    pub fn not_started(&mut self, now: Instant) {
        if let Some(c) = &self.target.check {
            self.phase = Phase::Idle(now + c.delay_loop);
        }
    }

    /// The report of check `id` (ignored unless it is the one in flight).
    pub fn report(&mut self, id: u64, o: &Outcome, now: Instant) -> Change {
        if self.phase != Phase::InFlight(id) {
            return Change::None;
        }
        let Some(check) = self.target.check.clone() else {
            return Change::None;
        };
        let first = !self.has_run;
        self.has_run = true;
        self.last_check = Some(now);
        self.last_result = Some(o.reason.clone());
        self.phase = Phase::Idle(now + check.delay_loop);
        if o.up {
            self.failures = 0;
            self.retries = 0;
            let old = self.weight();
            self.dyn_weight = o.weight;
            if self.up {
                self.successes = 0;
                return if self.weight() != old {
                    Change::Weight
                } else {
                    Change::None
                };
            }
            self.successes += 1;
            if self.successes < check.rise {
                log::info!(
                    "health: {}: success {} of {} needed: {}",
                    self.name(),
                    self.successes,
                    check.rise,
                    o.reason
                );
                return Change::None;
            }
            self.successes = 0;
            self.up = true;
            let why = if check.rise > 1 {
                format!("{} ({} successful checks in a row)", o.reason, check.rise)
            } else {
                o.reason.clone()
            };
            return Change::Up(why);
        }
        self.failures = self.failures.saturating_add(1);
        self.successes = 0;
        if !self.up {
            return if first {
                Change::AlphaFirstFailure
            } else {
                Change::None
            };
        }
        if self.retries < check.retry {
            self.retries += 1;
            self.phase = Phase::Idle(now + check.delay_before_retry);
            log::info!(
                "health: {}: check failed ({}), retry {} of {} in {}",
                self.name(),
                o.reason,
                self.retries,
                check.retry,
                secs(check.delay_before_retry)
            );
            return Change::None;
        }
        let why = match self.retries {
            0 => o.reason.clone(),
            1 => format!("{} (after 1 retry)", o.reason),
            n => format!("{} (after {n} retries)", o.reason),
        };
        self.retries = 0;
        self.up = false;
        Change::Down(why)
    }

    /// `n` failed connections seen by the workers at `now`; DOWN at once when `threshold`
    /// of them fall within `interval` (an UP, checked server only). The check in flight,
    /// if any, no longer counts: the next one runs a delay_loop later.
    pub fn passive(&mut self, n: u64, now: Instant, threshold: u32, interval: Duration) -> Change {
        let Some(check) = &self.target.check else {
            return Change::None;
        };
        if !self.up || n == 0 {
            return Change::None;
        }
        self.passive.push_back((now, n));
        while let Some(&(t, _)) = self.passive.front() {
            if now.saturating_duration_since(t) > interval {
                self.passive.pop_front();
            } else {
                break;
            }
        }
        let seen: u64 = self.passive.iter().map(|&(_, n)| n).sum();
        if seen < u64::from(threshold) {
            return Change::None;
        }
        self.passive.clear();
        self.phase = Phase::Idle(now + check.delay_loop);
        self.retries = 0;
        self.successes = 0;
        self.up = false;
        let why = format!("passive: {seen} failed connections in {}", secs(interval));
        self.last_result = Some(why.clone());
        Change::Down(why)
    }

    /// "192.0.2.11:80", for log lines.
    pub fn name(&self) -> String {
        format!("{}:{}", self.target.addr, self.target.port)
    }
}

/// The warmup delay of one real server: spread over `0..=warmup` by its address and port
/// (deterministic, so a test can rely on it; keepalived draws it at random).
fn spread(addr: Ipv4Addr, port: u16, warmup: Duration) -> Duration {
    if warmup.is_zero() {
        return Duration::ZERO;
    }
    let h =
        (u64::from(u32::from(addr)) << 16 | u64::from(port)).wrapping_mul(0x9E37_79B9_7F4A_7C15);
    warmup.mul_f64((h >> 11) as f64 / (1u64 << 53) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Check;
    use crate::mgmt::health::{CheckSpec, TcpCheck};
    use std::sync::Arc;

    fn target(retry: u32, rise: u32) -> Target {
        Target {
            addr: Ipv4Addr::new(192, 0, 2, 11),
            port: 80,
            weight: 3,
            check: Some(Arc::new(Check {
                spec: Arc::new(CheckSpec::Tcp(TcpCheck::default())),
                connect_timeout: Duration::from_secs(5),
                retry,
                delay_before_retry: Duration::from_secs(1),
                rise,
                delay_loop: Duration::from_secs(6),
                warmup: Duration::ZERO,
            })),
            inhibit_on_failure: false,
            notify_up: None,
            notify_down: None,
        }
    }

    fn run(d: &mut DestState, up: bool, now: Instant) -> Change {
        let mut id = 100;
        let id = d.start_if_due(now, &mut id).expect("a check is due");
        let o = if up {
            Outcome::up("ok")
        } else {
            Outcome::down("refused")
        };
        d.report(id, &o, now)
    }

    #[test]
    fn retries_then_down_then_rise() {
        let t0 = Instant::now();
        let mut d = DestState::new(target(2, 2), false, t0);
        assert!(d.up);
        assert_eq!(run(&mut d, false, t0), Change::None);
        assert_eq!(
            d.phase,
            Phase::Idle(t0 + Duration::from_secs(1)),
            "retry delay"
        );
        let t1 = t0 + Duration::from_secs(1);
        assert_eq!(run(&mut d, false, t1), Change::None);
        let t2 = t1 + Duration::from_secs(1);
        assert_eq!(
            run(&mut d, false, t2),
            Change::Down("refused (after 2 retries)".into())
        );
        assert_eq!(d.failures, 3);
        assert_eq!(d.phase, Phase::Idle(t2 + Duration::from_secs(6)));
        let t3 = t2 + Duration::from_secs(6);
        assert_eq!(run(&mut d, true, t3), Change::None, "1 of 2");
        let t4 = t3 + Duration::from_secs(6);
        assert_eq!(
            run(&mut d, true, t4),
            Change::Up("ok (2 successful checks in a row)".into())
        );
        assert_eq!(d.failures, 0);
    }

    #[test]
    fn a_stale_report_is_ignored() {
        let t0 = Instant::now();
        let mut d = DestState::new(target(0, 1), false, t0);
        let mut id = 0;
        let first = d.start_if_due(t0, &mut id).unwrap();
        assert_eq!(d.start_if_due(t0, &mut id), None, "one at a time");
        assert_eq!(d.report(first + 1, &Outcome::down("x"), t0), Change::None);
        assert!(d.up);
        assert_eq!(
            d.report(first, &Outcome::down("x"), t0),
            Change::Down("x".into())
        );
    }

    #[test]
    fn warmup_spreads_within_its_bound() {
        let w = Duration::from_secs(10);
        let a = spread(Ipv4Addr::new(192, 0, 2, 11), 80, w);
        let b = spread(Ipv4Addr::new(192, 0, 2, 12), 80, w);
        assert!(a <= w && b <= w && a != b, "{a:?} {b:?}");
        assert_eq!(
            spread(Ipv4Addr::new(192, 0, 2, 11), 80, Duration::ZERO),
            Duration::ZERO
        );
    }
}
