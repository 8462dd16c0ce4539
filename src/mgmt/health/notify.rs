//! keepalived's notify programs (`notify_up`, `notify_down`, `quorum_up`,
//! `quorum_down`): started without a shell, never waited for on the management loop,
//! reaped when they end (each [`Notifier::reap`], every poll).
//!
//! A program gets no input and its output goes to /dev/null (rvsd's log is the place for
//! what rvsd says; a notify program logs on its own). It runs in a process group of its
//! own, so a signal meant for rvsd's group (a terminal's ^C) does not reach it.

use std::collections::VecDeque;
use std::os::unix::process::CommandExt;
use std::process::{Child, Stdio};

use crate::config::Command;

/// How many recent starts [`Notifier::history`] keeps.
const HISTORY: usize = 64;

/// Starts programs and reaps them.
#[derive(Default)]
pub struct Notifier {
    running: Vec<(Child, String)>,
    history: VecDeque<String>,
    started: u64,
}

impl Notifier {
    /// Starts `cmd` for `what` ("notify_up of 192.0.2.11:80 in TCP 203.0.113.10:80");
    /// a program that cannot be started is logged, never fatal.
    pub fn run(&mut self, cmd: &Command, what: &str) {
        let spawned = std::process::Command::new(cmd.program())
            .args(cmd.args())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn();
        self.started += 1;
        if self.history.len() == HISTORY {
            self.history.pop_front();
        }
        self.history.push_back(format!("{what}: {cmd}"));
        match spawned {
            Ok(child) => {
                log::info!("health: {what}: started {cmd} (pid {})", child.id());
                self.running.push((child, format!("{what}: {cmd}")));
            }
            Err(e) => log::warn!("health: {what}: cannot start {cmd}: {e}"),
        }
    }

    /// Reaps every program that has ended; logs a failure status. Never blocks.
    pub fn reap(&mut self) {
        self.running
            .retain_mut(|(child, what)| match child.try_wait() {
                Ok(None) => true,
                Ok(Some(status)) => {
                    if !status.success() {
                        log::warn!("health: {what}: ended with {status}");
                    }
                    false
                }
                Err(e) => {
                    log::warn!("health: {what}: cannot wait for it: {e}");
                    false
                }
            });
    }

    /// Programs started and not reaped yet.
    pub fn running(&self) -> usize {
        self.running.len()
    }

    /// The last starts (up to 64), oldest first, as "what: command".
    pub fn history(&self) -> impl Iterator<Item = &str> {
        self.history.iter().map(String::as_str)
    }

    /// How many programs were started in all.
    pub fn started(&self) -> u64 {
        self.started
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    #[test]
    fn runs_without_a_shell_and_reaps() {
        let dir = std::env::temp_dir().join(format!("rvs-notify-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("out");
        // The words reach the program as written: `$HOME` is not expanded, `;` is a word.
        let cmd = Command::parse(&format!(
            "/bin/sh -c 'printf \"%s|\" \"$@\" > {}' sh '$HOME' ';' 'a b'",
            out.display()
        ))
        .unwrap();
        let mut n = Notifier::default();
        n.run(&cmd, "test");
        let deadline = Instant::now() + Duration::from_secs(10);
        while n.running() > 0 {
            assert!(Instant::now() < deadline, "never ended");
            std::thread::sleep(Duration::from_millis(10));
            n.reap();
        }
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "$HOME|;|a b|");
        assert_eq!(n.started(), 1);
        assert_eq!(n.history().count(), 1);
        // A program that does not exist is logged, counted, and nothing runs.
        n.run(&Command::parse("/nonexistent/prog").unwrap(), "test");
        assert_eq!((n.running(), n.started()), (0, 2));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
