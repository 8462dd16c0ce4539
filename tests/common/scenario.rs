//! Client-side building blocks for the phase-3 lab scenarios (UDP, persistence, quiescing,
//! full table): a UDP client that reports each reply's source address, repeated curl runs,
//! and background downloads that outlive one shell command. Everything runs inside the
//! lab's namespaces; background processes are killed by pid when dropped.

use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use super::lab::Lab;

/// The UDP client: one line per datagram, `<reply source ip:port> <reply payload>` or
/// `TIMEOUT`. argv: VIP PORT COUNT same|new (same = one socket for all datagrams, new = a
/// fresh socket, hence a fresh source port, for each). Payloads are `dgram-<i>`.
const UDP_CLIENT: &str = r#"
import socket, sys
vip, port, count, mode = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
s = None
for i in range(count):
    if s is None or mode == "new":
        if s is not None:
            s.close()
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.settimeout(3)
    s.sendto(("dgram-%d" % i).encode(), (vip, port))
    try:
        data, src = s.recvfrom(2048)
        print("%s:%d %s" % (src[0], src[1], data.decode()), flush=True)
    except socket.timeout:
        print("TIMEOUT", flush=True)
"#;

/// A slow HTTP reader: GET http://HOST:PORT/bytes/N, then read the body at RATE bytes/s
/// through a small receive buffer (so the server cannot park the body in the client's
/// kernel and the connection really lasts N / RATE seconds; curl's `--limit-rate` lets
/// a download finish several times faster than asked). Prints `<bytes> <status> ok` or
/// `<bytes> <status> corrupt` (the body checked against httpd.py's pattern).
/// argv: HOST PORT N RATE.
const SLOW_GET: &str = r#"
import hashlib, socket, sys, time
sys.path.insert(0, "tests/lab")
import httpd
host, port, n, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8192)
s.settimeout(30)
s.connect((host, port))
s.sendall(("GET /bytes/%d HTTP/1.1\r\nHost: %s\r\nConnection: close\r\n\r\n" % (n, host)).encode())
buf = b""
while b"\r\n\r\n" not in buf:
    chunk = s.recv(4096)
    if not chunk:
        break
    buf += chunk
head, _, body = buf.partition(b"\r\n\r\n")
status = head.split(b" ")[1].decode() if b" " in head else "none"
h = hashlib.sha256(body)
got = len(body)
start = time.time()
while got < n:
    chunk = s.recv(4096)
    if not chunk:
        break
    h.update(chunk)
    got += len(chunk)
    ahead = got / rate - (time.time() - start)
    if ahead > 0:
        time.sleep(ahead)
ok = got == n and h.hexdigest() == hashlib.sha256(httpd.pattern(n)).hexdigest()
print(got, status, "ok" if ok else "corrupt")
"#;

/// Starts a slow download of `n` bytes at `rate_bytes_per_sec` from `host` to
/// `http://vip:port/bytes/n`; its stdout ends as `<n> 200 ok` when all went well.
pub fn slow_get(
    lab: &Lab,
    host: &str,
    vip: &str,
    port: u16,
    n: usize,
    rate_bytes_per_sec: usize,
) -> Background {
    Background::start(
        lab,
        host,
        &format!(
            "/usr/bin/python3 - {vip} {port} {n} {rate_bytes_per_sec} <<'PYEOF'\n{SLOW_GET}\nPYEOF"
        ),
    )
}

/// One UDP reply as the client saw it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UdpReply {
    /// Source `ip:port` of the reply datagram (what `recvfrom` returned).
    pub from: String,
    /// The real server's name (udpecho.py prefixes its reply with it).
    pub server: String,
    /// The rest of the reply: the echoed payload.
    pub payload: String,
}

/// Sends `count` datagrams to `vip:port` from `host`, one at a time, each waiting up to
/// 3 s for its reply. `None` marks a datagram that got no reply.
pub fn udp_exchange(
    lab: &Lab,
    host: &str,
    vip: &str,
    port: u16,
    count: usize,
    fresh_socket_each: bool,
) -> Vec<Option<UdpReply>> {
    let mode = if fresh_socket_each { "new" } else { "same" };
    let out = lab.sh_ok(
        host,
        &format!("/usr/bin/python3 - {vip} {port} {count} {mode} <<'PYEOF'\n{UDP_CLIENT}\nPYEOF"),
    );
    out.lines()
        .map(|l| {
            let mut parts = l.trim().splitn(3, ' ');
            match (parts.next(), parts.next(), parts.next()) {
                (Some(from), Some(server), Some(payload)) => Some(UdpReply {
                    from: from.to_string(),
                    server: server.to_string(),
                    payload: payload.to_string(),
                }),
                _ => None,
            }
        })
        .collect()
}

/// Waits until one datagram to `vip:port` from `host` gets any reply (ARP on both sides
/// resolved, rvsd forwarding), up to `secs`.
pub fn udp_ready(lab: &Lab, host: &str, vip: &str, port: u16, secs: u64) -> bool {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Some(Some(_)) = udp_exchange(lab, host, vip, port, 1, true).first() {
            return true;
        }
    }
    false
}

/// Runs `n` sequential `curl -sf` GETs of `url` from `host` (with extra curl `opts`, e.g.
/// `--interface 192.0.2.3`) and returns one line per request: the body (a real server's
/// name) or `FAIL`.
pub fn curl_n(lab: &Lab, host: &str, url: &str, n: usize, opts: &str) -> String {
    lab.sh_ok(
        host,
        &format!("for i in $(seq {n}); do curl -sf -m 5 {opts} {url} || echo FAIL; done"),
    )
}

/// A process started in a lab namespace that the test waits for later (a slow download).
/// Killed by pid on drop if still running.
pub struct Background {
    child: Option<Child>,
    what: String,
}

impl Background {
    /// Starts `cmd` (exec'd by sh, so the pid is the command itself) inside `host`,
    /// collecting its stdout and stderr.
    pub fn start(lab: &Lab, host: &str, cmd: &str) -> Background {
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &lab.ns(host),
                "sh",
                "-c",
                &format!("exec {cmd}"),
            ])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn in namespace");
        Background {
            child: Some(child),
            what: cmd.to_string(),
        }
    }

    /// True while the process runs.
    pub fn running(&mut self) -> bool {
        match self.child.as_mut() {
            Some(c) => matches!(c.try_wait(), Ok(None)),
            None => false,
        }
    }

    /// Waits up to `secs` for the process to end and returns its output; fails the test
    /// if it is still running then.
    pub fn finish(mut self, secs: u64) -> Output {
        let deadline = Instant::now() + Duration::from_secs(secs);
        while self.running() {
            assert!(
                Instant::now() < deadline,
                "background command still running after {secs} s: {}",
                self.what
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let child = self.child.take().expect("finish consumes a started child");
        child.wait_with_output().expect("collect background output")
    }
}

impl Drop for Background {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Runs the lab tests of one test binary one at a time: `derived_config` names its temp
/// dir after the process and the example, so two tests on the same example would share
/// (and delete) one dir, and two busy-polling rvsd on a small machine starve each other.
/// A test that failed while holding the lock does not stop the others.
pub fn serial() -> std::sync::MutexGuard<'static, ()> {
    SERIAL
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}
