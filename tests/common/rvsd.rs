//! Running rvsd under test: a config derived from an example in `configs/` with
//! per-run unique device, tap and file-prefix names, started as a child process, stopped
//! with SIGTERM (the operator's way) and checked to exit 0.

use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A running rvsd.
pub struct Rvsd {
    child: Option<Child>,
    /// Its config file (in a temp dir removed on drop).
    pub config: PathBuf,
    /// Its log file.
    pub log: PathBuf,
    dir: PathBuf,
    keep_dir: bool,
}

/// Writes `configs/<example>` with each `(from, to)` replacement applied into a fresh
/// temp dir, and returns the dir and the file.
pub fn derived_config(example: &str, replace: &[(&str, &str)]) -> (PathBuf, PathBuf) {
    let dir = std::env::temp_dir().join(format!(
        "rvs-test-{}-{}",
        std::process::id(),
        example.replace('.', "-")
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut text = std::fs::read_to_string(format!("configs/{example}")).unwrap();
    for (from, to) in replace {
        text = text.replace(from, to);
    }
    let path = dir.join(example);
    std::fs::write(&path, private_socket(&text, &dir)).unwrap();
    (dir, path)
}

/// Tests that derive a config share one per-process temp dir ([`derived_config`]): one
/// at a time, also when the harness runs tests in parallel (hold the guard for the test).
pub fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
    SERIAL.lock().unwrap_or_else(|e| e.into_inner())
}

/// [`derived_config`] of `lab-appliance.toml` on a DPDK `net_null` port (no interface
/// needed), without the exception path, with the unique file prefix
/// `rvs-<tag>-<pid>`: the rvsd the control-socket tests start.
pub fn null_port_config(tag: &str) -> (PathBuf, PathBuf) {
    let prefix = format!("rvs-{tag}-{}", std::process::id());
    derived_config(
        "lab-appliance.toml",
        &[
            ("net_af_packet0,iface=rvs-ext", "net_null0"),
            ("exception_path = true", "exception_path = false"),
            ("rvs-appliance", &prefix),
        ],
    )
}

/// `text` with its control socket in `dir` instead of the default `/run/rvs/rvsd.sock`
/// (added when the file has no `[control]`): rvsds of parallel tests must not share a
/// socket, and a second one on the same socket refuses to start.
pub fn private_socket(text: &str, dir: &std::path::Path) -> String {
    let line = format!("socket = \"{}\"", dir.join("rvsd.sock").display());
    if text.contains("socket = \"/run/rvs/rvsd.sock\"") {
        text.replace("socket = \"/run/rvs/rvsd.sock\"", &line)
    } else if text.contains("[control]") {
        text.to_owned()
    } else {
        format!("{text}\n[control]\n{line}\n")
    }
}

/// Runs rvsd with `config` where it must refuse to start, with its log off so stderr
/// holds only its one-line reason. Returns its output, or None when it was still running
/// after 20 s (it is then killed: code without the refusal came up).
pub fn start_refused(config: &std::path::Path) -> Option<std::process::Output> {
    let mut child = Command::new(env!("CARGO_BIN_EXE_rvsd"))
        .arg("--config")
        .arg(config)
        .env("RUST_LOG", "off")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rvsd starts");
    let deadline = Instant::now() + Duration::from_secs(20);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    Some(child.wait_with_output().unwrap())
}

impl Rvsd {
    /// Starts rvsd with `config` and waits until it logs that it runs (or fails the test).
    pub fn start(dir: PathBuf, config: PathBuf) -> Rvsd {
        Rvsd::start_in(dir, config, None)
    }

    /// [`Rvsd::start`] inside network namespace `netns` (`ip netns exec` execs rvsd, so
    /// the child's pid is rvsd's and SIGTERM reaches it); None: this process's namespace.
    pub fn start_in(dir: PathBuf, config: PathBuf, netns: Option<&str>) -> Rvsd {
        let log = dir.join("rvsd.log");
        let logf = std::fs::File::create(&log).unwrap();
        let mut cmd = match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, env!("CARGO_BIN_EXE_rvsd")]);
                c
            }
            None => Command::new(env!("CARGO_BIN_EXE_rvsd")),
        };
        let child = cmd
            .arg("--config")
            .arg(&config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::from(logf.try_clone().unwrap()))
            .stderr(Stdio::from(logf))
            .spawn()
            .expect("rvsd starts");
        let mut r = Rvsd {
            child: Some(child),
            config,
            log,
            dir,
            keep_dir: false,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let text = r.log_text();
            if text.contains("rvsd running") {
                break;
            }
            if let Some(status) = r.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("rvsd exited early ({status}):\n{text}");
            }
            assert!(Instant::now() < deadline, "rvsd did not come up:\n{text}");
            std::thread::sleep(Duration::from_millis(100));
        }
        r
    }

    /// Keeps the temp dir (e.g. output pcaps) after stop; the caller removes it.
    pub fn keep_files(&mut self) {
        self.keep_dir = true;
    }

    /// Everything rvsd logged so far.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// The pid.
    pub fn pid(&self) -> u32 {
        self.child.as_ref().map(|c| c.id()).unwrap_or(0)
    }

    /// True while the process has not exited.
    pub fn running(&mut self) -> bool {
        self.child
            .as_mut()
            .is_some_and(|c| c.try_wait().unwrap().is_none())
    }

    /// Sends SIGTERM, waits for exit, asserts status 0, returns the full log.
    pub fn stop(mut self) -> String {
        let mut child = self.child.take().unwrap();
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(20);
        let status = loop {
            if let Some(s) = child.try_wait().unwrap() {
                break s;
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                panic!("rvsd did not stop on SIGTERM:\n{}", self.log_text());
            }
            std::thread::sleep(Duration::from_millis(100));
        };
        let text = self.log_text();
        assert!(status.success(), "rvsd exit status {status}:\n{text}");
        text
    }

    /// The value of counter `name` from the shutdown log (sum over workers), 0 if absent.
    pub fn counter_in(log: &str, name: &str) -> u64 {
        let key = format!("counter {name} = ");
        log.lines()
            .find_map(|l| l.split_once(&key).map(|(_, rest)| rest))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    }

    /// Every `drop_*` counter in the shutdown log, with its value, in log order: what
    /// the lab tests check a run under load lost.
    pub fn drop_counters(log: &str) -> Vec<(String, u64)> {
        log.lines()
            .filter_map(|l| l.split_once("counter drop_"))
            .map(|(_, rest)| {
                let (name, v) = rest.split_once(" = ").unwrap();
                let v = v.split_whitespace().next().unwrap().parse().unwrap();
                (format!("drop_{name}"), v)
            })
            .collect()
    }
}

impl Drop for Rvsd {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
        if !self.keep_dir {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
