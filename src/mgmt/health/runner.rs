//! The [`Checker`]: one dedicated thread running a current_thread tokio runtime, fed jobs
//! through a channel and answering through a crossbeam channel the management loop polls.
//!
//! Why one thread with an event loop: a check spends its life waiting (connects, replies,
//! programs), so thousands of them share one thread, each as its own task with its own
//! timeout; none waits for another. The thread is not a worker core's, and nothing a
//! worker does waits for it.
//!
//! Concurrency is bounded: at most `max_in_flight` checks run at once ([`MAX_IN_FLIGHT`]
//! by default, 512). Each check holds one socket or one child process's pipes, so 512
//! leaves room under the usual soft RLIMIT_NOFILE of 1024 for the rest of rvsd (control
//! socket, DPDK, logs); past the limit a check would fail with EMFILE and read as a down
//! server. 512 covers the 200 real servers checked every second even when all of
//! them time out at once. Jobs beyond the bound wait in the channel, in order.

use std::net::SocketAddrV4;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam::channel;
use tokio::sync::{mpsc, Semaphore};

use super::outcome::{secs, Outcome};
use super::spec::CheckSpec;

/// Checks run at once by default; see the module doc.
pub const MAX_IN_FLIGHT: usize = 512;

/// The caller's name for a job, handed back in its [`Report`] (e.g. an index of the real
/// server it checks).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CheckId(pub u64);

/// One check to run.
#[derive(Debug, Clone)]
pub struct Job {
    /// Handed back with the outcome.
    pub id: CheckId,
    /// What to check (shared, so a caller can keep one spec per real server).
    pub spec: Arc<CheckSpec>,
    /// The real server (address and port).
    pub target: SocketAddrV4,
    /// keepalived's `connect_timeout` (and MISC_CHECK's timeout without `misc_timeout`).
    pub timeout: Duration,
}

/// The outcome of one job.
#[derive(Debug, Clone)]
pub struct Report {
    /// The job's id.
    pub id: CheckId,
    /// What the check found.
    pub outcome: Outcome,
    /// When the check ended (for "last check time" and for ordering reports).
    pub finished_at: Instant,
}

/// The checker was stopped (its thread is gone): the job was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("the health checker thread has stopped")]
pub struct Stopped;

/// Runs checks on a dedicated thread; dropping it stops the thread at once and joins it
/// (checks still running or queued are abandoned without a report: their sockets are
/// closed and their MISC programs' process groups killed).
pub struct Checker {
    jobs: Option<mpsc::UnboundedSender<Job>>,
    reports: channel::Receiver<Report>,
    thread: Option<JoinHandle<()>>,
}

impl Checker {
    /// Starts the thread ("rvs-health") with at most [`MAX_IN_FLIGHT`] checks at once.
    /// Its sockets and programs live in the calling thread's network namespace.
    pub fn start() -> std::io::Result<Checker> {
        Checker::with_limit(MAX_IN_FLIGHT)
    }

    /// [`Checker::start`] with another bound on checks in flight (at least 1).
    pub fn with_limit(max_in_flight: usize) -> std::io::Result<Checker> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let (job_tx, job_rx) = mpsc::unbounded_channel();
        let (report_tx, report_rx) = channel::unbounded();
        let limit = max_in_flight.max(1);
        let thread = std::thread::Builder::new()
            .name("rvs-health".into())
            .spawn(move || runtime.block_on(dispatch(job_rx, report_tx, limit)))?;
        Ok(Checker {
            jobs: Some(job_tx),
            reports: report_rx,
            thread: Some(thread),
        })
    }

    /// Queues a job; never blocks.
    pub fn submit(&self, job: Job) -> Result<(), Stopped> {
        match &self.jobs {
            Some(tx) => tx.send(job).map_err(|_| Stopped),
            None => Err(Stopped),
        }
    }

    /// The next finished check, if any; never blocks.
    pub fn try_recv(&self) -> Option<Report> {
        self.reports.try_recv().ok()
    }

    /// The report channel itself, to wait on it (`recv_timeout`) or `select!` it with
    /// other channels.
    pub fn reports(&self) -> &channel::Receiver<Report> {
        &self.reports
    }
}

impl Drop for Checker {
    fn drop(&mut self) {
        // Closing the job channel ends `dispatch`; the runtime then drops every task.
        self.jobs = None;
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// Takes jobs until the channel closes, each as its own task at once; a task waits for
/// one of `limit` permits (a fair semaphore: first come, first served) before its check,
/// and its timeouts start only then. Waiting here rather than before `recv` keeps the
/// loop listening, so a closed channel (the Checker dropped) ends it at once.
async fn dispatch(
    mut jobs: mpsc::UnboundedReceiver<Job>,
    reports: channel::Sender<Report>,
    limit: usize,
) {
    let permits = Arc::new(Semaphore::new(limit));
    while let Some(job) = jobs.recv().await {
        let permits = permits.clone();
        let reports = reports.clone();
        tokio::spawn(async move {
            let Ok(_permit) = permits.acquire_owned().await else {
                return; // the semaphore is never closed
            };
            let outcome = run(&job).await;
            let _ = reports.send(Report {
                id: job.id,
                outcome,
                finished_at: Instant::now(),
            });
        });
    }
}

/// One job, under a last-resort bound: every checker has its own timeouts, this only
/// guarantees a report even if one of them had a bug.
async fn run(job: &Job) -> Outcome {
    if let Err(e) = job.spec.validate() {
        return Outcome::down(format!("{} of {}: {e}", job.spec.kind(), job.target));
    }
    let misc = match &*job.spec {
        CheckSpec::Misc(m) => m
            .misc_timeout
            .and_then(|t| super::spec::secs("misc_timeout", t).ok()),
        _ => None,
    };
    let longest = misc.unwrap_or(job.timeout).max(job.timeout);
    let hard = longest * 2 + Duration::from_secs(5);
    let check = super::check(&job.spec, job.target, job.timeout);
    match tokio::time::timeout(hard, check).await {
        Ok(outcome) => outcome,
        Err(_) => Outcome::down(format!(
            "{} of {} did not end within {}",
            job.spec.kind(),
            job.target,
            secs(hard)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mgmt::health::spec::MiscCheck;

    fn sh_job(id: u64, script: &str) -> Job {
        Job {
            id: CheckId(id),
            spec: Arc::new(CheckSpec::Misc(MiscCheck {
                misc_path: "/bin/sh".into(),
                misc_args: vec!["-c".into(), script.into()],
                misc_timeout: None,
                misc_dynamic: false,
            })),
            target: "192.0.2.12:80".parse().unwrap(),
            timeout: Duration::from_secs(20),
        }
    }

    fn scratch(name: &str) -> std::path::PathBuf {
        let dir = std::env::temp_dir().join(format!("rvs-runner-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    #[test]
    fn the_bound_holds_jobs_back_in_order() {
        // With one permit, the second job starts only once the first has ended: it sees
        // the first one's end mark. No timing is measured.
        let dir = scratch("bound");
        let mark = dir.join("first.done");
        let checker = Checker::with_limit(1).unwrap();
        let first = format!("sleep 0.3; touch {}", mark.display());
        let second = format!("test -e {}", mark.display());
        checker.submit(sh_job(1, &first)).unwrap();
        checker.submit(sh_job(2, &second)).unwrap();
        let mut got = Vec::new();
        for _ in 0..2 {
            let r = checker
                .reports()
                .recv_timeout(Duration::from_secs(30))
                .unwrap();
            got.push((r.id, r.outcome.up));
        }
        assert_eq!(got, [(CheckId(1), true), (CheckId(2), true)]);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn dropping_the_checker_stops_checks_and_their_programs() {
        let dir = scratch("drop");
        let pid_file = dir.join("pid");
        let checker = Checker::start().unwrap();
        let script = format!("echo $$ > {}; sleep 30", pid_file.display());
        checker.submit(sh_job(1, &script)).unwrap();
        let deadline = Instant::now() + Duration::from_secs(10);
        let pid = loop {
            if let Ok(p) = std::fs::read_to_string(&pid_file) {
                if p.ends_with('\n') {
                    break p.trim().to_string();
                }
            }
            assert!(Instant::now() < deadline, "the program never started");
            std::thread::sleep(Duration::from_millis(20));
        };
        let started = Instant::now();
        drop(checker);
        assert!(
            started.elapsed() < Duration::from_secs(10),
            "drop waited for the 30 s program"
        );
        // The shell (group leader) was SIGKILLed; it is gone or a zombie awaiting a reaper.
        // A signal is delivered asynchronously: on a loaded machine the process may still
        // show as running for a moment after kill(2) returns, so wait a little (far less
        // than the 30 s it would sleep if nothing had killed it).
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
            let alive = stat
                .rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with('Z'));
            if !alive {
                break;
            }
            assert!(Instant::now() < deadline, "pid {pid} still runs: {stat}");
            std::thread::sleep(Duration::from_millis(20));
        }
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn a_bad_spec_is_a_down_report_not_a_panic() {
        let checker = Checker::start().unwrap();
        let mut job = sh_job(7, "exit 0");
        job.spec = Arc::new(CheckSpec::Misc(MiscCheck {
            misc_path: "".into(),
            misc_args: vec![],
            misc_timeout: None,
            misc_dynamic: false,
        }));
        checker.submit(job).unwrap();
        let r = checker
            .reports()
            .recv_timeout(Duration::from_secs(10))
            .unwrap();
        assert!(!r.outcome.up);
        assert_eq!(
            r.outcome.reason,
            "MISC_CHECK of 192.0.2.12:80: MISC_CHECK misc_path is empty"
        );
        assert!(checker.try_recv().is_none());
    }
}
