//! A bounded, continuous HTTP load run from a lab host (`tests/lab/http_load.py`), whose
//! every request's outcome the test reads back: sequential requests on new connections
//! (each one scheduled by the director, in order, so a weighted scheduler's counts can
//! be checked exactly over a window) and long-lived keep-alive connections (which must
//! survive every change to the director's tables).

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::lab::Lab;

/// Upper bound of a load's life in seconds (it normally stops when told to).
const MAX_SECONDS: u32 = 150;

/// One request's outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Position in its log (0-based), in the order the outcomes were known.
    pub seq: usize,
    /// CLOCK_MONOTONIC seconds when the outcome was known (for failure reports only).
    pub t: f64,
    /// The keep-alive connection's number (0 for new-connection requests).
    pub conn: usize,
    /// The real server that answered (`rsN`), or None when the request failed.
    pub server: Option<String>,
    /// Why it failed (empty when answered).
    pub reason: String,
}

/// A running load; Drop stops it (the lab kills it anyway when it goes).
pub struct Load {
    out: PathBuf,
    dir: PathBuf,
    stopped: bool,
}

fn parse(text: &str, with_conn: bool) -> Vec<Outcome> {
    // Only whole lines: the load may be writing the next one.
    text.split_inclusive('\n')
        .filter(|l| l.ends_with('\n'))
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (conn, rest) = if with_conn {
                (f.get(2)?.parse().ok()?, f.get(3..)?)
            } else {
                (0, f.get(2..)?)
            };
            let ok = *rest.first()? == "ok";
            let arg = rest.get(1).copied().unwrap_or_default().to_string();
            Some(Outcome {
                seq: f.first()?.parse().ok()?,
                t: f.get(1)?.parse().ok()?,
                conn,
                server: ok.then(|| arg.clone()),
                reason: if ok { String::new() } else { arg },
            })
        })
        .collect()
}

impl Load {
    /// Starts the load in `host` against `addr:port` with `keepalive` long-lived
    /// connections (opened before the first new-connection request), from the host's
    /// own choice of source address, or `source` (see http_load.py for why two loads
    /// through a NAT director need different ones).
    pub fn start(
        lab: &mut Lab,
        name: &str,
        host: &str,
        (addr, port): (&str, u16),
        keepalive: usize,
        source: Option<&str>,
    ) -> Load {
        let dir = std::env::temp_dir().join(format!("rvs-load-{}-{name}", lab.prefix()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let out = dir.join("load");
        lab.spawn(
            host,
            &format!(
                "/usr/bin/python3 tests/lab/http_load.py {addr} {port} {} --keepalive {keepalive} --max-seconds {MAX_SECONDS}{}",
                out.display(),
                source.map(|s| format!(" --source {s}")).unwrap_or_default()
            ),
        );
        Load {
            out,
            dir,
            stopped: false,
        }
    }

    fn file(&self, ext: &str) -> PathBuf {
        self.out.with_extension(ext)
    }

    /// The new-connection requests' outcomes so far, in order.
    pub fn new_conns(&self) -> Vec<Outcome> {
        parse(
            &std::fs::read_to_string(self.file("new")).unwrap_or_default(),
            false,
        )
    }

    /// The keep-alive requests' outcomes so far, in order.
    pub fn keepalive(&self) -> Vec<Outcome> {
        parse(
            &std::fs::read_to_string(self.file("ka")).unwrap_or_default(),
            true,
        )
    }

    /// Waits until at least `n` new-connection requests are done (or the load ended,
    /// or 60 s passed: the caller's checks then fail with the outcomes at hand).
    pub fn wait_new(&self, n: usize) -> Vec<Outcome> {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let v = self.new_conns();
            if v.len() >= n || Instant::now() > deadline || self.file("done").exists() {
                return v;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Waits until keep-alive connection `conn` has an outcome with `seq >= after`.
    pub fn wait_keepalive(&self, conn: usize, after: usize) -> Option<Outcome> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let v = self.keepalive();
            if let Some(o) = v.into_iter().find(|o| o.conn == conn && o.seq >= after) {
                return Some(o);
            }
            if Instant::now() > deadline || self.file("done").exists() {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Tells the load to stop and waits until it has written its last outcome; returns
    /// (new-connection, keep-alive) outcomes.
    pub fn stop(mut self) -> (Vec<Outcome>, Vec<Outcome>) {
        std::fs::write(self.file("stop"), b"").unwrap();
        let deadline = Instant::now() + Duration::from_secs(30);
        while !self.file("done").exists() {
            assert!(Instant::now() < deadline, "the load did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
        self.stopped = true;
        (self.new_conns(), self.keepalive())
    }
}

impl Drop for Load {
    fn drop(&mut self) {
        if !self.stopped {
            let _ = std::fs::write(self.file("stop"), b"");
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Answers per real server (and `FAIL` for failures) among `outcomes`.
pub fn per_server(outcomes: &[Outcome]) -> BTreeMap<String, usize> {
    let mut m = BTreeMap::new();
    for o in outcomes {
        let k = o.server.clone().unwrap_or_else(|| "FAIL".into());
        *m.entry(k).or_insert(0) += 1;
    }
    m
}

/// Now on CLOCK_MONOTONIC in seconds, the clock of the load's timestamps (read from
/// `Instant`'s Debug form, which shows its timespec on Linux; for failure reports only).
pub fn monotonic_now() -> f64 {
    let d = format!("{:?}", Instant::now());
    let num = |k: &str| -> f64 {
        d.split(k)
            .nth(1)
            .and_then(|r| {
                r.split(|c: char| !c.is_ascii_digit())
                    .find(|x| !x.is_empty())
            })
            .and_then(|x| x.parse().ok())
            .unwrap_or(0.0)
    };
    num("tv_sec:") + num("tv_nsec:") / 1e9
}

/// A report of answered/failed per real server in consecutive windows of `window`
/// outcomes, for failure messages.
pub fn windows(outcomes: &[Outcome], window: usize) -> String {
    outcomes
        .chunks(window.max(1))
        .enumerate()
        .map(|(i, c)| {
            format!(
                "  [{}..{}) {:?}\n",
                i * window,
                i * window + c.len(),
                per_server(c)
            )
        })
        .collect()
}
