//! MISC_CHECK (keepalived check_misc.c): run a program and read its exit status. The
//! program runs in a process group of its own, so at its timeout the whole group (a shell
//! script and whatever it started) gets SIGTERM, then SIGKILL after a 2 s grace, as
//! keepalived's `misc_check_child_timeout_thread` does.

use std::process::Stdio;
use std::time::Duration;

use nix::sys::signal::{killpg, Signal};
use nix::unistd::Pid;
use tokio::process::{Child, Command};

use super::outcome::{secs, Outcome};
use super::spec::{self, MiscCheck};

/// How long a timed-out program's group has between SIGTERM and SIGKILL (keepalived: 2 s).
const TERM_GRACE: Duration = Duration::from_secs(2);

/// Runs one MISC_CHECK. `timeout` is used when the spec has no `misc_timeout` (keepalived
/// falls back to `delay_loop`; the caller decides what to pass).
pub async fn check(spec: &MiscCheck, timeout: Duration) -> Outcome {
    let timeout = match spec.misc_timeout.map(|s| spec::secs("misc_timeout", s)) {
        Some(Ok(t)) => t,
        Some(Err(e)) => return Outcome::down(e.to_string()),
        None => timeout,
    };
    let prog = spec.misc_path.display();
    let mut child = match Command::new(&spec.misc_path)
        .args(&spec.misc_args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
    {
        Ok(child) => child,
        Err(e) => return Outcome::down(format!("MISC {prog} could not start: {e}")),
    };
    let mut guard = GroupGuard(child.id());
    let waited = tokio::time::timeout(timeout, child.wait()).await;
    if let Ok(Ok(_)) = waited {
        guard.0 = None; // reaped: the group id may be reused from now on
    }
    match waited {
        Ok(Ok(status)) => match status.code() {
            Some(code) => verdict(&prog.to_string(), code, spec.misc_dynamic),
            None => Outcome::down(format!("MISC {prog} died: {status}")),
        },
        Ok(Err(e)) => Outcome::down(format!("MISC {prog}: waiting for it failed: {e}")),
        Err(_) => {
            stop_group(&mut child).await;
            guard.0 = None;
            Outcome::down(format!("MISC {prog} killed after {}", secs(timeout)))
        }
    }
}

/// SIGKILLs the program's process group if the check is dropped before the program was
/// reaped (the checker stopped, or the runner's last-resort bound fired), so no check
/// leaves programs behind. Until the leader is reaped its pid, hence the group id, cannot
/// be reused, which makes the kill safe; it is disarmed once the leader is reaped.
struct GroupGuard(Option<u32>);

impl Drop for GroupGuard {
    fn drop(&mut self) {
        if let Some(pid) = self.0 {
            let _ = killpg(Pid::from_raw(pid as i32), Signal::SIGKILL);
        }
    }
}

/// SIGTERM to the program's group, SIGKILL after the grace if the program still runs,
/// then reaps it. The group id is the program's pid (`process_group(0)`).
async fn stop_group(child: &mut Child) {
    let Some(pid) = child.id() else {
        return; // already reaped
    };
    let group = Pid::from_raw(pid as i32);
    let _ = killpg(group, Signal::SIGTERM);
    if tokio::time::timeout(TERM_GRACE, child.wait()).await.is_ok() {
        // The leader is gone; anything it left in the group gets no grace either way.
        let _ = killpg(group, Signal::SIGKILL);
        return;
    }
    let _ = killpg(group, Signal::SIGKILL);
    let _ = child.wait().await;
}

/// keepalived's reading of an exit status: 0 up at the configured weight; with
/// `misc_dynamic`, 2..=255 up at weight status - 2; anything else down.
pub(crate) fn verdict(prog: &str, code: i32, dynamic: bool) -> Outcome {
    match (code, dynamic) {
        (0, _) => Outcome::up(format!("MISC {prog} exited 0")),
        (2..=255, true) => {
            let weight = (code - 2) as u32;
            Outcome {
                up: true,
                weight: Some(weight),
                reason: format!("MISC {prog} exited {code} (weight {weight})"),
            }
        }
        _ => Outcome::down(format!("MISC {prog} exited {code}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dynamic_weight_mapping_as_keepalived() {
        let p = "/usr/local/bin/chk";
        assert_eq!(
            verdict(p, 0, false),
            Outcome::up("MISC /usr/local/bin/chk exited 0")
        );
        assert_eq!(
            verdict(p, 0, true).weight,
            None,
            "0 keeps the configured weight"
        );
        assert_eq!(
            verdict(p, 1, true),
            Outcome::down("MISC /usr/local/bin/chk exited 1")
        );
        assert!(
            !verdict(p, 7, false).up,
            "without misc_dynamic only 0 is up"
        );
        let o = verdict(p, 2, true);
        assert!(o.up && o.weight == Some(0), "2 is up at weight 0");
        let o = verdict(p, 255, true);
        assert!(o.up && o.weight == Some(253));
        assert_eq!(o.reason, "MISC /usr/local/bin/chk exited 255 (weight 253)");
    }
}
