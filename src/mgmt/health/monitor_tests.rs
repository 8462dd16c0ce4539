//! The monitor's rules with a fake clock and a fake checker: the test decides when each
//! check ends and what it finds.

use std::cell::RefCell;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Duration;

use super::*;
use crate::config::{Check, Command, Passive, ServiceHealth, SorryServer};
use crate::lb::dest::Fwd;
use crate::mgmt::health::{CheckSpec, MiscCheck, TcpCheck};

/// Takes jobs, hands back the reports the test queues.
#[derive(Default)]
struct Fake {
    jobs: RefCell<Vec<Job>>,
    reports: RefCell<VecDeque<Report>>,
}

impl CheckRunner for Fake {
    fn submit(&self, job: Job) -> Result<(), Stopped> {
        self.jobs.borrow_mut().push(job);
        Ok(())
    }
    fn try_recv(&self) -> Option<Report> {
        self.reports.borrow_mut().pop_front()
    }
}

impl Fake {
    /// Ends the job with `outcome`.
    fn answer(&self, job: &Job, outcome: Outcome) {
        self.reports.borrow_mut().push_back(Report {
            id: job.id,
            outcome,
            finished_at: Instant::now(),
        });
    }
}

const SVC: ServiceKey = ServiceKey::Addr {
    proto: crate::lb::flow::proto::TCP,
    vip: Ipv4Addr::new(203, 0, 113, 10),
    vport: 80,
};

fn rip(last: u8) -> Ipv4Addr {
    Ipv4Addr::new(192, 0, 2, last)
}

fn check(retry: u32, rise: u32) -> Arc<Check> {
    Arc::new(Check {
        spec: Arc::new(CheckSpec::Tcp(TcpCheck::default())),
        connect_timeout: Duration::from_secs(3),
        retry,
        delay_before_retry: Duration::from_secs(1),
        rise,
        delay_loop: Duration::from_secs(6),
        warmup: Duration::ZERO,
    })
}

fn real(last: u8, weight: u32, check: &Arc<Check>) -> Target {
    Target {
        addr: rip(last),
        port: 80,
        weight,
        check: Some(check.clone()),
        inhibit_on_failure: false,
        notify_up: None,
        notify_down: None,
    }
}

fn service(reals: Vec<Target>) -> ServiceTargets {
    ServiceTargets {
        service: SVC,
        health: ServiceHealth::default(),
        reals,
    }
}

fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}

/// The test's world: a monitor, a fake checker and a fake clock.
struct World {
    m: Monitor,
    fake: Fake,
    t0: Instant,
    now: Instant,
    out: Vec<Action>,
}

impl World {
    fn new(services: Vec<ServiceTargets>) -> World {
        let t0 = Instant::now();
        let mut m = Monitor::new();
        let mut out = Vec::new();
        m.set_targets(services, t0, &mut out);
        World {
            m,
            fake: Fake::default(),
            t0,
            now: t0,
            out,
        }
    }
    /// Moves the clock to t0 + `at` and polls.
    fn at(&mut self, at: Duration) -> &mut World {
        self.now = self.t0 + at;
        self.m.poll(self.now, &self.fake, &mut self.out);
        self
    }
    /// The pending job of 192.0.2.`last` (exactly one).
    fn job(&self, last: u8) -> Job {
        let mut jobs: Vec<Job> = self
            .fake
            .jobs
            .borrow()
            .iter()
            .filter(|j| *j.target.ip() == rip(last))
            .cloned()
            .collect();
        assert_eq!(jobs.len(), 1, "jobs of .{last}: {jobs:?}");
        self.fake
            .jobs
            .borrow_mut()
            .retain(|j| *j.target.ip() != rip(last));
        jobs.pop().unwrap()
    }
    fn no_job(&self, last: u8) {
        let jobs = self.fake.jobs.borrow();
        assert!(
            !jobs.iter().any(|j| *j.target.ip() == rip(last)),
            "unexpected job of .{last}: {jobs:?}"
        );
    }
    /// Answers the pending check of .`last` and polls at the same time.
    fn answer(&mut self, last: u8, o: Outcome) -> &mut World {
        let j = self.job(last);
        self.fake.answer(&j, o);
        self.m.poll(self.now, &self.fake, &mut self.out);
        self
    }
    fn actions(&mut self) -> Vec<Action> {
        std::mem::take(&mut self.out)
    }
    fn state(&self, last: u8) -> DestHealth {
        self.m
            .status()
            .into_iter()
            .find(|d| !d.sorry && d.addr == rip(last))
            .unwrap()
    }
    fn programs(&self) -> Vec<String> {
        self.m.programs_started().1
    }
}

fn down(last: u8, inhibit: bool, reason: &str) -> Action {
    Action::Down {
        service: SVC,
        addr: rip(last),
        port: 80,
        inhibit,
        reason: reason.into(),
    }
}

fn up(last: u8, weight: u32, reason: &str) -> Action {
    Action::Up {
        service: SVC,
        addr: rip(last),
        port: 80,
        weight,
        reason: reason.into(),
    }
}

#[test]
fn a_silent_check_delays_no_other() {
    let c = check(0, 1);
    let mut w = World::new(vec![service(vec![real(11, 1, &c), real(12, 1, &c)])]);
    w.at(secs(0));
    let silent = w.job(11); // never answered
    w.answer(12, Outcome::up("ok"));
    // .12 is checked every delay_loop; .11's check is still out and gets no second one.
    for k in 1..=5 {
        w.at(secs(6 * k) - Duration::from_millis(1));
        w.no_job(12);
        w.at(secs(6 * k));
        w.answer(12, Outcome::up("ok"));
        w.no_job(11);
    }
    assert!(w.actions().is_empty());
    // When the silent check finally reports (the Checker's own timeout), .11 follows.
    w.fake.answer(
        &silent,
        Outcome::down("connect to 192.0.2.11:80 timed out after 3 s"),
    );
    w.at(secs(31));
    assert_eq!(
        w.actions(),
        [down(
            11,
            false,
            "connect to 192.0.2.11:80 timed out after 3 s"
        )]
    );
}

#[test]
fn retry_timing_then_down() {
    let c = check(2, 1);
    let mut w = World::new(vec![service(vec![real(11, 1, &c), real(12, 1, &c)])]);
    w.at(secs(0)).answer(12, Outcome::up("ok"));
    w.answer(11, Outcome::down("connection refused by 192.0.2.11:80"));
    assert!(w.actions().is_empty(), "first failure: a retry, not DOWN");
    assert!(w.state(11).up);
    assert_eq!(w.state(11).consecutive_failures, 1);
    // The retry comes delay_before_retry (1 s) later, not delay_loop.
    w.at(Duration::from_millis(999)).no_job(11);
    w.at(secs(1)).answer(11, Outcome::down("refused"));
    assert!(w.actions().is_empty());
    w.at(secs(2)).answer(11, Outcome::down("refused"));
    assert_eq!(w.actions(), [down(11, false, "refused (after 2 retries)")]);
    let st = w.state(11);
    assert!(!st.up && !st.in_table);
    assert_eq!(st.consecutive_failures, 3);
    assert_eq!(st.last_result.as_deref(), Some("refused"));
    assert_eq!(st.checker, Some("TCP_CHECK"));
    assert!(st.last_check.is_some());
    // DOWN: checked every delay_loop, no retries.
    w.at(secs(7)).no_job(11);
    w.at(secs(8)).answer(11, Outcome::down("refused"));
    assert!(w.actions().is_empty());
    w.at(secs(13)).no_job(11);
    w.at(secs(14)).job(11);
}

#[test]
fn rise_count_before_up() {
    let c = check(0, 3);
    let mut w = World::new(vec![service(vec![real(11, 5, &c), real(12, 1, &c)])]);
    w.at(secs(0))
        .answer(11, Outcome::down("HTTP 503 from 192.0.2.11:80"));
    assert_eq!(
        w.actions(),
        [down(11, false, "HTTP 503 from 192.0.2.11:80")]
    );
    for k in 1..=2 {
        w.at(secs(6 * k)).answer(11, Outcome::up("ok"));
        assert!(w.actions().is_empty(), "success {k} of 3");
    }
    // A failure in between starts the count again.
    w.at(secs(18)).answer(11, Outcome::down("HTTP 503"));
    for k in 4..=5 {
        w.at(secs(6 * k)).answer(11, Outcome::up("ok"));
        assert!(
            w.actions().is_empty(),
            "success {} of 3 after the reset",
            k - 3
        );
    }
    w.at(secs(36))
        .answer(11, Outcome::up("HTTP 200 from 192.0.2.11:80"));
    assert_eq!(
        w.actions(),
        [up(
            11,
            5,
            "HTTP 200 from 192.0.2.11:80 (3 successful checks in a row)"
        )]
    );
    assert!(w.state(11).up && w.state(11).in_table);
    assert_eq!(w.state(11).weight, 5);
}

#[test]
fn inhibit_on_failure_gives_weight_zero() {
    let c = check(0, 1);
    let mut r = real(11, 4, &c);
    r.inhibit_on_failure = true;
    let mut w = World::new(vec![service(vec![r, real(12, 1, &c)])]);
    w.at(secs(0)).answer(11, Outcome::down("refused"));
    assert_eq!(w.actions(), [down(11, true, "refused")]);
    let st = w.state(11);
    assert!(!st.up && st.in_table && st.weight == 0);
    w.at(secs(6)).answer(11, Outcome::up("ok"));
    assert_eq!(w.actions(), [up(11, 4, "ok")]);
}

#[test]
fn alpha_starts_down_and_notifies_once() {
    let c = check(1, 1);
    let mut s = service(vec![real(11, 1, &c), real(12, 1, &c)]);
    s.health.alpha = true;
    s.reals[0].notify_down = Some(Command::parse("/bin/true down 11").unwrap());
    let mut w = World::new(vec![s]);
    let reason = "alpha: DOWN until its checks pass";
    assert_eq!(
        w.actions(),
        [down(11, false, reason), down(12, false, reason)],
        "alpha: out of the table until the first success"
    );
    assert_eq!(w.m.quorum_up(&SVC), Some(false));
    w.at(secs(0)).answer(11, Outcome::down("refused"));
    // No retry while DOWN, no Action (already out), keepalived's one notify_down.
    assert!(w.actions().is_empty());
    assert_eq!(w.programs().len(), 1, "{:?}", w.programs());
    w.at(secs(6)).answer(11, Outcome::down("refused"));
    assert_eq!(w.programs().len(), 1, "only the first failure notifies");
    w.answer(12, Outcome::up("ok"));
    assert_eq!(w.actions(), [up(12, 1, "ok")]);
    assert_eq!(w.m.quorum_up(&SVC), Some(true));
}

#[test]
fn quorum_crossings_run_each_program_once_with_hysteresis() {
    let c = check(0, 1);
    let mut s = service((11..=14).map(|l| real(l, 1, &c)).collect());
    s.health.quorum = 3;
    s.health.hysteresis = 1;
    s.health.quorum_up = Some(Command::parse("/bin/true quorum-up").unwrap());
    s.health.quorum_down = Some(Command::parse("/bin/true quorum-down").unwrap());
    let mut w = World::new(vec![s]);
    assert_eq!(w.m.quorum_up(&SVC), Some(true), "4 >= 3+1 at start");
    assert!(w.programs().is_empty(), "no program at start");
    let mut t = 0;
    let mut round = |w: &mut World, ups: [bool; 4]| {
        w.at(secs(t));
        for (l, &ok) in (11..=14).zip(&ups) {
            let o = if ok {
                Outcome::up("ok")
            } else {
                Outcome::down("no")
            };
            w.answer(l, o);
        }
        t += 6;
        (w.m.quorum_up(&SVC).unwrap(), w.programs().len())
    };
    // Sum 3, 2: still >= 3-1 = 2.
    assert_eq!(round(&mut w, [true, true, true, false]), (true, 0));
    assert_eq!(round(&mut w, [true, true, false, false]), (true, 0));
    // Sum 1 < 2: lost, quorum_down once; staying low runs nothing more.
    assert_eq!(round(&mut w, [true, false, false, false]), (false, 1));
    assert_eq!(round(&mut w, [false, false, false, false]), (false, 1));
    // Back to 3: not yet 3+1.
    assert_eq!(round(&mut w, [true, true, true, false]), (false, 1));
    // 4: gained, quorum_up once; flapping within the band runs nothing.
    assert_eq!(round(&mut w, [true, true, true, true]), (true, 2));
    assert_eq!(round(&mut w, [true, true, false, false]), (true, 2));
    assert_eq!(round(&mut w, [true, true, true, true]), (true, 2));
    let p = w.programs();
    assert!(
        p[0].starts_with("quorum_down of TCP 203.0.113.10:80"),
        "{p:?}"
    );
    assert!(p[0].ends_with("/bin/true quorum-down"), "{p:?}");
    assert!(
        p[1].starts_with("quorum_up of TCP 203.0.113.10:80"),
        "{p:?}"
    );
}

#[test]
fn sorry_server_while_all_down_and_off_when_one_is_back() {
    let c = check(0, 1);
    let mut s = service(vec![real(11, 1, &c), real(12, 1, &c)]);
    let sorry = SorryServer {
        addr: rip(50),
        port: 80,
        method: Fwd::Nat,
        inhibit: false,
    };
    s.health.sorry_server = Some(sorry);
    let mut w = World::new(vec![s]);
    assert!(w.actions().is_empty(), "quorum at start: no sorry server");
    w.at(secs(0)).answer(11, Outcome::down("refused"));
    assert_eq!(w.actions(), [down(11, false, "refused")]);
    w.answer(12, Outcome::down("refused"));
    assert_eq!(
        w.actions(),
        [
            down(12, false, "refused"),
            Action::SorryOn {
                service: SVC,
                server: sorry
            }
        ]
    );
    let st: Vec<DestHealth> = w.m.status().into_iter().filter(|d| d.sorry).collect();
    assert_eq!(st.len(), 1);
    assert!(st[0].up && st[0].in_table && st[0].weight == 1);
    w.at(secs(6)).answer(11, Outcome::up("ok"));
    assert_eq!(
        w.actions(),
        [
            up(11, 1, "ok"),
            Action::SorryOff {
                service: SVC,
                server: sorry
            }
        ]
    );
}

#[test]
fn quorum_loss_with_a_sorry_server_sets_live_servers_aside() {
    let c = check(0, 1);
    let mut s = service(vec![real(11, 1, &c), real(12, 1, &c)]);
    s.reals[1].inhibit_on_failure = true;
    s.health.quorum = 2;
    let sorry = SorryServer {
        addr: rip(50),
        port: 80,
        method: Fwd::Nat,
        inhibit: true,
    };
    s.health.sorry_server = Some(sorry);
    let mut w = World::new(vec![s]);
    // The inhibited sorry server is placed at weight 0 at once.
    let off = Action::SorryOff {
        service: SVC,
        server: sorry,
    };
    assert_eq!(w.actions(), std::slice::from_ref(&off));
    w.at(secs(0)).answer(11, Outcome::down("refused"));
    let aside = "TCP 203.0.113.10:80 lost quorum: sorry server in use";
    assert_eq!(
        w.actions(),
        [
            down(11, false, "refused"),
            down(12, true, aside),
            Action::SorryOn {
                service: SVC,
                server: sorry
            }
        ]
    );
    assert!(w.state(12).up, "set aside, still UP");
    w.answer(12, Outcome::up("ok"));
    assert!(w.actions().is_empty());
    w.at(secs(6)).answer(11, Outcome::up("ok"));
    assert_eq!(
        w.actions(),
        [
            up(11, 1, "ok"),
            up(12, 1, "TCP 203.0.113.10:80 has quorum"),
            off
        ]
    );
}

#[test]
fn misc_dynamic_weights() {
    let c = Arc::new(Check {
        spec: Arc::new(CheckSpec::Misc(MiscCheck {
            misc_path: "/bin/true".into(),
            misc_args: vec![],
            misc_timeout: None,
            misc_dynamic: true,
        })),
        ..(*check(0, 1)).clone()
    });
    let mut w = World::new(vec![service(vec![real(11, 7, &c)])]);
    w.at(secs(0));
    let j = w.job(11);
    assert_eq!(j.timeout, secs(6), "MISC_CHECK: delay_loop");
    let dynamic = |weight| Outcome {
        up: true,
        weight: Some(weight),
        reason: "exit".into(),
    };
    w.fake.answer(&j, dynamic(3));
    w.at(secs(0));
    let weight = |weight| Action::Weight {
        service: SVC,
        addr: rip(11),
        port: 80,
        weight,
    };
    assert_eq!(w.actions(), [weight(3)]);
    w.at(secs(6)).answer(11, dynamic(3));
    assert!(w.actions().is_empty(), "same weight: nothing");
    w.at(secs(12)).answer(11, Outcome::up("exit 0"));
    assert_eq!(w.actions(), [weight(7)], "exit 0: the configured weight");
    // A dynamic weight 0 keeps it UP (quorum lost, no sorry server: nothing else moves).
    w.at(secs(18)).answer(11, dynamic(0));
    assert_eq!(w.actions(), [weight(0)]);
    assert_eq!(w.m.quorum_up(&SVC), Some(false));
    w.at(secs(24)).answer(11, Outcome::down("exit 1"));
    assert_eq!(w.actions(), [down(11, false, "exit 1")]);
    w.at(secs(30)).answer(11, dynamic(2));
    assert_eq!(w.actions(), [up(11, 2, "exit")]);
}

#[test]
fn notify_programs_on_transitions() {
    let c = check(0, 1);
    let mut r = real(11, 1, &c);
    r.notify_up = Some(Command::parse("/bin/true up").unwrap());
    r.notify_down = Some(Command::parse("/bin/true down").unwrap());
    let mut w = World::new(vec![service(vec![r, real(12, 1, &c)])]);
    w.at(secs(0)).answer(11, Outcome::up("ok"));
    assert!(w.programs().is_empty(), "UP at start and UP: no transition");
    w.at(secs(6)).answer(11, Outcome::down("refused"));
    w.at(secs(12)).answer(11, Outcome::up("ok"));
    let p = w.programs();
    assert_eq!(p.len(), 2, "{p:?}");
    assert_eq!(
        p[0],
        "notify_down of 192.0.2.11:80 in TCP 203.0.113.10:80: /bin/true down"
    );
    assert_eq!(
        p[1],
        "notify_up of 192.0.2.11:80 in TCP 203.0.113.10:80: /bin/true up"
    );
}

#[test]
fn passive_failures_within_the_interval() {
    let c = check(3, 1);
    let mut s = service(vec![real(11, 1, &c), real(12, 1, &c)]);
    s.health.passive = Some(Passive {
        failures: 5,
        interval: secs(10),
    });
    let mut w = World::new(vec![s]);
    w.at(secs(0));
    let inflight = w.job(11);
    let (now, out) = (w.t0, &mut w.out);
    // 4 within 10 s, then the first ages out: never 5 at once.
    w.m.passive(&SVC, rip(11), 80, 2, now, out);
    w.m.passive(&SVC, rip(11), 80, 2, now + secs(5), out);
    w.m.passive(&SVC, rip(11), 80, 2, now + secs(11), out);
    assert!(out.is_empty());
    // Unknown server, or a service without passive: ignored.
    w.m.passive(&SVC, rip(99), 80, 100, now + secs(11), out);
    assert!(out.is_empty());
    w.m.passive(&SVC, rip(11), 80, 1, now + secs(12), out);
    assert_eq!(
        *out,
        [down(11, false, "passive: 5 failed connections in 10 s")]
    );
    out.clear();
    // The check that was in flight no longer counts; the next one is a delay_loop later.
    w.fake.answer(&inflight, Outcome::up("ok"));
    w.at(secs(12));
    assert!(w.actions().is_empty());
    assert!(!w.state(11).up);
    w.at(secs(17)).no_job(11);
    w.at(secs(18)).answer(11, Outcome::up("ok"));
    assert_eq!(w.actions(), [up(11, 1, "ok")]);
}

#[test]
fn set_targets_keeps_state_of_unchanged_entries() {
    let c = check(0, 1);
    let mut w = World::new(vec![service(vec![real(11, 1, &c), real(12, 1, &c)])]);
    w.at(secs(0)).answer(11, Outcome::down("refused"));
    w.actions();
    let twelve = w.job(12); // in flight across the change
                            // Same entries, .12 with a new weight, and a new .13.
    let again = service(vec![real(11, 1, &c), real(12, 4, &c), real(13, 1, &c)]);
    let now = w.t0 + secs(1);
    w.m.set_targets(vec![again], now, &mut w.out);
    assert_eq!(
        w.actions(),
        [Action::Weight {
            service: SVC,
            addr: rip(12),
            port: 80,
            weight: 4
        }]
    );
    assert!(!w.state(11).up, "kept DOWN");
    assert_eq!(w.state(11).consecutive_failures, 1);
    // .12's check in flight still counts.
    w.fake.answer(&twelve, Outcome::down("refused"));
    w.at(secs(1));
    assert_eq!(w.actions(), [down(12, false, "refused")]);
    w.job(13);
}

#[test]
fn a_changed_check_starts_afresh_and_a_removed_server_is_forgotten() {
    let c = check(0, 1);
    let mut s = service(vec![real(11, 1, &c), real(12, 1, &c)]);
    s.health.alpha = false;
    let mut w = World::new(vec![s]);
    w.at(secs(0)).answer(11, Outcome::down("refused"));
    assert_eq!(w.actions(), [down(11, false, "refused")]);
    let twelve = w.job(12);
    // .11 gets another check: UP again (fresh state), told to the table; .12 is deleted
    // while its check is in flight.
    let other = check(5, 2);
    let now = w.t0 + secs(1);
    w.m.set_targets(vec![service(vec![real(11, 1, &other)])], now, &mut w.out);
    assert_eq!(w.actions(), [up(11, 1, "new check: UP until it fails")]);
    assert!(w.state(11).up);
    assert_eq!(w.state(11).consecutive_failures, 0);
    w.fake.answer(&twelve, Outcome::down("refused"));
    w.at(secs(1));
    assert!(
        w.actions().is_empty(),
        "the deleted server's report is ignored"
    );
    assert_eq!(w.m.status().len(), 1);
    // The new check runs at once with its own retry count.
    w.answer(11, Outcome::down("refused"));
    assert!(w.actions().is_empty(), "retry 5: not DOWN yet");
}

#[test]
fn unchecked_servers_are_always_up_and_count_for_quorum() {
    let c = check(0, 1);
    let mut plain = real(12, 1, &c);
    plain.check = None;
    let mut s = service(vec![real(11, 1, &c), plain]);
    s.health.sorry_server = Some(SorryServer {
        addr: rip(50),
        port: 80,
        method: Fwd::Dr,
        inhibit: false,
    });
    let mut w = World::new(vec![s]);
    w.at(secs(0)).answer(11, Outcome::down("refused"));
    assert_eq!(
        w.actions(),
        [down(11, false, "refused")],
        "quorum kept by .12"
    );
    w.no_job(12);
    let st = w.state(12);
    assert!(st.up && st.checker.is_none());
}

#[test]
fn a_weight_changed_while_down_is_given_when_up() {
    let c = check(0, 1);
    let mut w = World::new(vec![service(vec![real(11, 1, &c), real(12, 1, &c)])]);
    w.at(secs(0)).answer(11, Outcome::down("refused"));
    assert_eq!(w.actions(), [down(11, false, "refused")]);
    // rvsadm -e -w 5 on the DOWN server: the table is not touched.
    let now = w.t0 + secs(1);
    let again = service(vec![real(11, 5, &c), real(12, 1, &c)]);
    w.m.set_targets(vec![again], now, &mut w.out);
    assert!(w.actions().is_empty());
    w.at(secs(6)).answer(11, Outcome::up("ok"));
    assert_eq!(w.actions(), [up(11, 5, "ok")]);
}

#[test]
fn a_new_real_server_while_the_sorry_server_is_in_use() {
    let c = check(0, 1);
    let mut s = service(vec![real(11, 1, &c)]);
    s.health.quorum = 2;
    let sorry = SorryServer {
        addr: rip(50),
        port: 80,
        method: Fwd::Nat,
        inhibit: false,
    };
    s.health.sorry_server = Some(sorry);
    let mut w = World::new(vec![s.clone()]);
    let aside = "TCP 203.0.113.10:80 lost quorum: sorry server in use";
    assert_eq!(
        w.actions(),
        [
            down(11, false, aside),
            Action::SorryOn {
                service: SVC,
                server: sorry
            }
        ],
        "weight 1 < quorum 2 at start"
    );
    // rvsadm -a of a second server (UP at once): quorum 2 reached, the sorry server goes.
    s.reals.push(real(12, 1, &c));
    let now = w.t0 + secs(1);
    w.m.set_targets(vec![s.clone()], now, &mut w.out);
    let back = "TCP 203.0.113.10:80 has quorum";
    assert_eq!(
        w.actions(),
        [
            up(11, 1, back),
            Action::SorryOff {
                service: SVC,
                server: sorry
            }
        ]
    );
    // The sorry server moved in the file while not in use: nothing to take out.
    let other = SorryServer {
        addr: rip(51),
        ..sorry
    };
    s.health.sorry_server = Some(other);
    w.m.set_targets(vec![s.clone()], now, &mut w.out);
    assert!(w.actions().is_empty());
    // Lost again: the new sorry server is used; then it is removed from the file while
    // in use: it leaves and the live server comes back.
    w.at(secs(2)).answer(12, Outcome::down("refused"));
    assert_eq!(
        w.actions(),
        [
            down(11, false, aside),
            down(12, false, "refused"),
            Action::SorryOn {
                service: SVC,
                server: other
            }
        ],
        "in real-server order"
    );
    s.health.sorry_server = None;
    w.m.set_targets(vec![s], now + secs(2), &mut w.out);
    assert_eq!(
        w.actions(),
        [
            up(11, 1, "TCP 203.0.113.10:80 has quorum"),
            Action::SorryOff {
                service: SVC,
                server: other
            }
        ]
    );
    assert_eq!(w.m.quorum_up(&SVC), Some(false), "still below quorum");
}

#[test]
fn a_removed_service_is_forgotten_and_starts_afresh_when_back() {
    let c = check(0, 1);
    let s = service(vec![real(11, 1, &c)]);
    let mut w = World::new(vec![s.clone()]);
    w.at(secs(0)).answer(11, Outcome::down("refused"));
    assert_eq!(w.actions(), [down(11, false, "refused")]);
    w.m.set_targets(vec![], w.t0 + secs(1), &mut w.out);
    assert!(w.actions().is_empty() && w.m.status().is_empty());
    assert_eq!(w.m.quorum_up(&SVC), None);
    w.at(secs(7)).no_job(11);
    // Added again (rvsadm -A/-a): a new service, UP at its configured weight.
    w.m.set_targets(vec![s], w.t0 + secs(8), &mut w.out);
    assert!(w.actions().is_empty());
    assert!(w.state(11).up);
    w.at(secs(8)).job(11);
}

#[test]
fn a_stopped_checker_is_logged_and_retried_later() {
    struct Dead;
    impl CheckRunner for Dead {
        fn submit(&self, _: Job) -> Result<(), Stopped> {
            Err(Stopped)
        }
        fn try_recv(&self) -> Option<Report> {
            None
        }
    }
    let c = check(0, 1);
    let mut w = World::new(vec![service(vec![real(11, 1, &c)])]);
    w.m.poll(w.t0, &Dead, &mut w.out);
    assert!(w.state(11).up, "no verdict without a check");
    // Not resubmitted on every tick: the next try is a delay_loop later.
    w.at(secs(5)).no_job(11);
    w.at(secs(6)).job(11);
}
