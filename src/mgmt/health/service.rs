//! One watched service: its real servers' states, its quorum and its sorry server
//! (keepalived ipwrapper.c `update_quorum_state`, `perform_quorum_state`, in our words),
//! and the reconciliation that turns states into [`Action`]s.
//!
//! Quorum: the sum of the effective weights of UP real servers. Lost when it falls below
//! `quorum - hysteresis` (or to 0), regained when it reaches `quorum + hysteresis`; each
//! crossing runs `quorum_down` / `quorum_up` once. A service starts with quorum if the
//! sum reaches `quorum + hysteresis`; no program runs at start, except `quorum_down` when
//! it starts without quorum and has a sorry server (keepalived's "Starting with quorum
//! down"). While quorum is lost and a sorry server is configured, the sorry server is in
//! the table and the UP real servers are set aside (removed, or weight 0 with
//! inhibit_on_failure); at regain the sorry server leaves and they return.

use std::time::Instant;

use super::action::Action;
use super::dest::{DestState, Shown};
use super::notify::Notifier;
use super::target::ServiceTargets;
use crate::config::{ServiceHealth, SorryServer};
use crate::lb::service::ServiceKey;
use crate::mgmt::reload::key_text;

/// What the table holds of the sorry server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SorryShown {
    /// Not in the table.
    Absent,
    /// In the table at weight 0 (sorry_server_inhibit).
    Inhibited,
    /// In use.
    On,
}

/// One service's health state.
pub(super) struct ServiceState {
    pub key: ServiceKey,
    pub health: ServiceHealth,
    pub dests: Vec<DestState>,
    pub quorum_up: bool,
    /// The sorry server the table holds (or held last), and how.
    pub sorry_shown: Option<(SorryServer, SorryShown)>,
}

impl ServiceState {
    /// A new service: states for its real servers, its starting quorum (keepalived's
    /// `set_quorum_states`), and what the table needs now.
    pub fn new(
        t: ServiceTargets,
        now: Instant,
        notifier: &mut Notifier,
        out: &mut Vec<Action>,
    ) -> ServiceState {
        let alpha = t.health.alpha;
        let dests = t
            .reals
            .into_iter()
            .map(|r| DestState::new(r, alpha, now))
            .collect();
        let mut s = ServiceState {
            key: t.service,
            health: t.health,
            dests,
            quorum_up: true,
            sorry_shown: None,
        };
        s.quorum_up = s.weight_sum() >= s.gain_at();
        if !s.quorum_up {
            log::warn!(
                "health: {}: starting without quorum ({} < {}+{})",
                s.name(),
                s.weight_sum(),
                s.health.quorum,
                s.health.hysteresis
            );
            if s.health.sorry_server.is_some() {
                s.run_quorum(false, notifier);
            }
        }
        s.reconcile(None, out);
        s
    }

    /// "TCP 203.0.113.10:80".
    pub fn name(&self) -> String {
        key_text(&self.key)
    }

    /// The sum of the effective weights of UP real servers.
    pub fn weight_sum(&self) -> u64 {
        self.dests
            .iter()
            .filter(|d| d.up)
            .map(|d| u64::from(d.weight()))
            .sum()
    }

    fn gain_at(&self) -> u64 {
        u64::from(self.health.quorum) + u64::from(self.health.hysteresis)
    }

    /// Whether the sorry server is in use (quorum lost and one configured).
    pub fn sorry_active(&self) -> bool {
        !self.quorum_up && self.health.sorry_server.is_some()
    }

    /// Re-evaluates quorum after a change (runs the program of a crossing, once).
    pub fn update_quorum(&mut self, notifier: &mut Notifier) {
        let sum = self.weight_sum();
        let (q, h) = (
            i128::from(self.health.quorum),
            i128::from(self.health.hysteresis),
        );
        if !self.quorum_up && sum >= self.gain_at() {
            self.quorum_up = true;
            log::info!(
                "health: {}: quorum gained ({sum} >= {}+{})",
                self.name(),
                q,
                h
            );
            self.run_quorum(true, notifier);
        } else if self.quorum_up && (sum == 0 || i128::from(sum) < q - h) {
            self.quorum_up = false;
            log::warn!(
                "health: {}: quorum lost ({sum} < {}-{}){}",
                self.name(),
                q,
                h,
                if self.health.sorry_server.is_some() {
                    ": sorry server in use"
                } else {
                    ""
                }
            );
            self.run_quorum(false, notifier);
        }
    }

    fn run_quorum(&self, up: bool, notifier: &mut Notifier) {
        let (cmd, word) = if up {
            (&self.health.quorum_up, "quorum_up")
        } else {
            (&self.health.quorum_down, "quorum_down")
        };
        if let Some(cmd) = cmd {
            notifier.run(cmd, &format!("{word} of {}", self.name()));
        }
    }

    /// Brings the table in line with the states: one Action per real server whose table
    /// entry must change, and for the sorry server. `cause`: the real server whose own
    /// transition this is, with its reason (the others move for quorum's sake).
    pub fn reconcile(&mut self, cause: Option<(usize, &str)>, out: &mut Vec<Action>) {
        let aside = self.sorry_active();
        let name = self.name();
        for (i, d) in self.dests.iter_mut().enumerate() {
            let want = d.desired(aside);
            let was_aside = std::mem::replace(&mut d.set_aside, aside && d.up);
            if want == d.shown {
                continue;
            }
            // The real server's own transition, else why it moves now.
            let reason = match cause {
                Some((c, r)) if c == i => r.to_owned(),
                _ if !d.up && !d.has_run => "alpha: DOWN until its checks pass".to_owned(),
                _ if !d.up => d.last_result.clone().unwrap_or_else(|| "DOWN".into()),
                _ if aside => format!("{name} lost quorum: sorry server in use"),
                _ if !was_aside && !d.has_run && d.target.check.is_some() => {
                    "new check: UP until it fails".to_owned()
                }
                _ => format!("{name} has quorum"),
            };
            let (service, addr, port) = (self.key, d.target.addr, d.target.port);
            out.push(match (d.shown, want) {
                (Shown::Weight(_), Shown::Weight(weight)) => Action::Weight {
                    service,
                    addr,
                    port,
                    weight,
                },
                (_, Shown::Weight(weight)) => Action::Up {
                    service,
                    addr,
                    port,
                    weight,
                    reason,
                },
                (_, Shown::Inhibited) => Action::Down {
                    service,
                    addr,
                    port,
                    inhibit: true,
                    reason,
                },
                (_, Shown::Absent) => Action::Down {
                    service,
                    addr,
                    port,
                    inhibit: false,
                    reason,
                },
            });
            d.shown = want;
        }
        self.reconcile_sorry(out);
    }

    fn reconcile_sorry(&mut self, out: &mut Vec<Action>) {
        let service = self.key;
        let want = self.health.sorry_server.map(|s| {
            let how = if !self.quorum_up {
                SorryShown::On
            } else if s.inhibit {
                SorryShown::Inhibited
            } else {
                SorryShown::Absent
            };
            (s, how)
        });
        if want == self.sorry_shown {
            return;
        }
        // A different sorry server (or none now): take the old one out entirely.
        if let Some((old, how)) = self.sorry_shown {
            if want.map(|(s, _)| s) != Some(old) && how != SorryShown::Absent {
                let server = SorryServer {
                    inhibit: false,
                    ..old
                };
                log::info!(
                    "health: {}: sorry server {}:{} removed (configuration changed)",
                    self.name(),
                    old.addr,
                    old.port
                );
                out.push(Action::SorryOff { service, server });
            }
        }
        let before = match (self.sorry_shown, want) {
            (Some((old, how)), Some((new, _))) if old == new => how,
            _ => SorryShown::Absent,
        };
        if let Some((server, how)) = want {
            match (before, how) {
                (b, h) if b == h => {}
                (_, SorryShown::On) => {
                    log::warn!(
                        "health: {}: sorry server {}:{} in use",
                        self.name(),
                        server.addr,
                        server.port
                    );
                    out.push(Action::SorryOn { service, server });
                }
                (_, _) => {
                    log::info!(
                        "health: {}: sorry server {}:{} {}",
                        self.name(),
                        server.addr,
                        server.port,
                        if server.inhibit {
                            "at weight 0"
                        } else {
                            "out of use"
                        }
                    );
                    out.push(Action::SorryOff { service, server });
                }
            }
        }
        self.sorry_shown = want;
    }
}
