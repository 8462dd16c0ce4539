//! rvsd's control socket, spoken to as raw newline-delimited JSON over a Unix stream
//! (docs/CONTROL.md), with rvsd on a DPDK `net_null` port (no namespaces, no lab lock)
//! and its socket in the test's temp dir:
//! - the corpus of bad requests `tests/fixtures/ctl/bad/*.txt` (one case per file; the
//!   header lines say what is expected), while another client is served all along, and
//!   rvsd's state unchanged afterwards;
//! - socket security: mode 0600 by default, 0660 and group-owned with `admin_group`,
//!   SO_PEERCRED refusals of non-root non-members (client run as another user with
//!   `setpriv`), members served;
//! - a stale socket is replaced, a live one refuses the start; the socket is removed at
//!   a clean stop, also with clients connected;
//! - at most 64 clients at once: the 65th gets one line and is closed;
//! - SIGHUP goes through the command channel: a changed file is applied and logged, a
//!   broken one refused with its located error and the running state kept.

mod common;

use common::eal::root_or_skip;
use common::rvsd::{start_refused, Rvsd};
use serde_json::{json, Value};
use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// The idle timeout the tests configure: short, so the stalled client of the corpus is
/// closed during the test (the default is 30 s).
const IDLE_SECS: u64 = 3;

/// A fresh temp dir for test `name`, the path of its config file and of its socket, with
/// `control_extra` as the `[control]` section's extra lines (`idle_timeout` is
/// [`IDLE_SECS`] unless they set it).
fn config(name: &str, control_extra: &str) -> (PathBuf, PathBuf, PathBuf) {
    let pid = std::process::id();
    let dir = std::env::temp_dir().join(format!("rvs-ctl-{pid}-{name}"));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    // Reachable by the unprivileged clients of the security test.
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o755)).unwrap();
    let sock = dir.join("rvsd.sock");
    let control_extra = if control_extra.contains("idle_timeout") {
        control_extra.to_owned()
    } else {
        format!("idle_timeout = {IDLE_SECS}\n{control_extra}")
    };
    let text = format!(
        r#"[eal]
args = ["--no-huge", "-m", "256", "--no-pci", "--no-shconf", "--file-prefix", "rvsctl{pid}{name}"]

[log]
level = "info"

[cores]
workers = [0]
management = 0

[tables]
max_conns = 4096
mbufs = 2047
mbuf_cache = 64

[control]
socket = "{sock}"
{control_extra}

[[port]]
name = "ext"
device = "net_null0,no-rx=1"
addresses = ["203.0.113.1/24"]

[[service]]
proto = "tcp"
vip = "203.0.113.10"
port = 80
scheduler = "rr"

[[service.real]]
addr = "203.0.113.11"
method = "dr"
weight = 3

[[service]]
proto = "udp"
vip = "203.0.113.10"
port = 53

[[service.real]]
addr = "203.0.113.12"
method = "dr"
"#,
        sock = sock.display()
    );
    let path = dir.join("rvsd.toml");
    std::fs::write(&path, text).unwrap();
    (dir, path, sock)
}

/// A client connection: lines out, parsed lines in.
struct Client {
    r: BufReader<UnixStream>,
    w: UnixStream,
}

impl Client {
    fn connect(sock: &Path) -> Client {
        let w = UnixStream::connect(sock).unwrap_or_else(|e| panic!("{}: {e}", sock.display()));
        // Generous: a reply never takes long; this only bounds a hung test.
        w.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
        Client {
            r: BufReader::new(w.try_clone().unwrap()),
            w,
        }
    }

    fn send_raw(&mut self, bytes: &[u8]) {
        self.w.write_all(bytes).unwrap();
    }

    /// The next response line parsed, or None at EOF.
    fn recv(&mut self) -> Option<Value> {
        let mut line = String::new();
        match self.r.read_line(&mut line) {
            Ok(0) => None,
            Ok(_) => {
                assert!(line.ends_with('\n'), "a response line ends with newline");
                Some(serde_json::from_str(&line).unwrap_or_else(|e| panic!("{e}: {line}")))
            }
            Err(e) => panic!("reading a response: {e}"),
        }
    }

    /// Sends one request (`request` is the inner `{"cmd":...}` object) and returns its
    /// response.
    fn call(&mut self, id: u64, request: Value) -> Value {
        let line = json!({"version": "1.0", "id": id, "request": request}).to_string();
        self.send_raw(format!("{line}\n").as_bytes());
        let r = self.recv().expect("a response");
        assert_eq!(r["id"], id, "{r}");
        r
    }
}

fn error_kind(r: &Value) -> &str {
    assert_eq!(r["ok"], false, "{r}");
    r["error"]["kind"].as_str().unwrap_or("")
}

fn ok_body(r: &Value) -> &Value {
    assert_eq!(r["ok"], true, "{r}");
    &r["body"]
}

/// One corpus file: its header (`# expect: ...`, `# then: ...`, `# generate: ...`)
/// and the bytes to send.
struct Case {
    name: String,
    expect: String,
    then: Option<String>,
    generate: Option<String>,
    payload: Vec<u8>,
}

fn corpus() -> Vec<Case> {
    let mut cases: Vec<Case> = std::fs::read_dir("tests/fixtures/ctl/bad")
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .map(|p| {
            let bytes = std::fs::read(&p).unwrap();
            let mut case = Case {
                name: p.file_name().unwrap().to_string_lossy().into_owned(),
                expect: String::new(),
                then: None,
                generate: None,
                payload: Vec::new(),
            };
            let mut rest = &bytes[..];
            while rest.starts_with(b"# ") {
                let end = rest.iter().position(|&b| b == b'\n').unwrap_or(rest.len());
                let line = String::from_utf8_lossy(&rest[2..end]).into_owned();
                if let Some(v) = line.strip_prefix("expect: ") {
                    case.expect = v.to_owned();
                } else if let Some(v) = line.strip_prefix("then: ") {
                    case.then = Some(v.to_owned());
                } else if let Some(v) = line.strip_prefix("generate: ") {
                    case.generate = Some(v.to_owned());
                }
                rest = &rest[(end + 1).min(rest.len())..];
            }
            case.payload = rest.to_vec();
            assert!(!case.expect.is_empty(), "{}: no expect line", case.name);
            case
        })
        .collect();
    cases.sort_by(|a, b| a.name.cmp(&b.name));
    cases
}

/// Plays one case on its own connection. Returns the connection when the case leaves
/// it open on purpose (a stalled client), to be checked later.
fn play(sock: &Path, case: &Case) -> Option<Client> {
    let name = &case.name;
    let mut c = Client::connect(sock);
    match case.generate.as_deref() {
        Some("oversize") => {
            // rvsd closes after its too_large line; our write may then fail (EPIPE),
            // so write from a thread and read the answer here.
            let mut w = c.w.try_clone().unwrap();
            let writer = std::thread::spawn(move || {
                let mut line = vec![b' '; (1 << 20) + 1];
                line[0] = b'{';
                line.push(b'\n');
                let _ = w.write_all(&line);
            });
            let r = c.recv().unwrap_or_else(|| panic!("{name}: no reply"));
            assert_eq!(error_kind(&r), "too_large", "{name}: {r}");
            assert!(r["error"]["message"].as_str().unwrap().contains("1048576"));
            drain_to_eof(&mut c, name);
            writer.join().unwrap();
            return None;
        }
        Some(g) if g.starts_with("pipelined ") => {
            let n: u64 = g["pipelined ".len()..].parse().unwrap();
            let mut all = String::new();
            for id in 0..n {
                let cmd = if id % 2 == 0 { "list" } else { "get_timeouts" };
                all.push_str(&json!({"version":"1.0","id":id,"request":{"cmd":cmd}}).to_string());
                all.push('\n');
            }
            c.send_raw(all.as_bytes());
            for id in 0..n {
                let r = c
                    .recv()
                    .unwrap_or_else(|| panic!("{name}: reply {id} missing"));
                assert_eq!(r["id"], id, "{name}: in order: {r}");
                let want = if id % 2 == 0 { "services" } else { "timeouts" };
                assert_eq!(ok_body(&r)["type"], want, "{name}: {r}");
            }
            return None;
        }
        Some(g) => panic!("{name}: unknown generator {g}"),
        None => {}
    }
    c.send_raw(&case.payload);
    match case.then.as_deref() {
        Some("eof") => {
            c.w.shutdown(std::net::Shutdown::Write).unwrap();
            assert_eq!(
                c.recv(),
                None,
                "{name}: no reply to a half-sent line, then EOF"
            );
            None
        }
        Some("stall") => Some(c),
        Some(t) => panic!("{name}: unknown then {t}"),
        None => {
            let (kind, close) = match case.expect.split_once(' ') {
                Some((k, "close")) => (k, true),
                _ => (case.expect.as_str(), false),
            };
            let r = c.recv().unwrap_or_else(|| panic!("{name}: no reply"));
            assert_eq!(error_kind(&r), kind, "{name}: {r}");
            assert!(!r["error"]["message"].as_str().unwrap().is_empty());
            assert_eq!(r["version"], "1.0", "{name}");
            if close {
                drain_to_eof(&mut c, name);
            } else {
                // Still open and serving after the error.
                let r = c.call(900, json!({"cmd":"get_timeouts"}));
                assert_eq!(ok_body(&r)["type"], "timeouts", "{name}: {r}");
            }
            None
        }
    }
}

fn drain_to_eof(c: &mut Client, name: &str) {
    let mut rest = Vec::new();
    let _ = c.r.read_to_end(&mut rest);
    assert!(rest.is_empty(), "{name}: nothing after the last reply");
}

/// The state a client sees: the listing and the timeouts.
fn state(sock: &Path) -> (Value, Value) {
    let mut c = Client::connect(sock);
    let list = ok_body(&c.call(1, json!({"cmd":"list"}))).clone();
    let timeouts = ok_body(&c.call(2, json!({"cmd":"get_timeouts"}))).clone();
    (list, timeouts)
}

/// Rates and stats may move between two listings (they do not here: no traffic), the
/// configuration may not: compare the listing without them.
fn config_of(list: &Value) -> Value {
    let mut l = list.clone();
    if let Some(services) = l["services"].as_array_mut() {
        for s in services {
            if let Some(o) = s.as_object_mut() {
                o.remove("stats");
                o.remove("rates");
            }
            if let Some(dests) = s["dests"].as_array_mut() {
                for d in dests {
                    if let Some(o) = d.as_object_mut() {
                        o.remove("stats");
                        o.remove("rates");
                    }
                }
            }
        }
    }
    l
}

#[test]
fn bad_requests_get_their_errors_while_others_are_served_and_nothing_changes() {
    if !root_or_skip() {
        return;
    }
    let (dir, cfg, sock) = config("corpus", "");
    let rvsd = Rvsd::start(dir, cfg);
    // Root only by default.
    let meta = std::fs::metadata(&sock).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o600, "socket mode");
    assert_eq!(meta.uid(), 0, "socket owner");
    let before = state(&sock);
    // A client that keeps listing during the whole corpus gets every reply.
    let stop = Arc::new(AtomicBool::new(false));
    let other = {
        let (stop, sock) = (stop.clone(), sock.clone());
        std::thread::spawn(move || {
            let mut c = Client::connect(&sock);
            let mut served = 0u64;
            while !stop.load(Ordering::Relaxed) || served < 3 {
                let r = c.call(served, json!({"cmd": "list"}));
                assert_eq!(ok_body(&r)["type"], "services", "{r}");
                served += 1;
            }
            served
        })
    };
    let cases = corpus();
    assert!(cases.len() >= 15, "the corpus is whole");
    let mut stalled = Vec::new();
    for case in &cases {
        if let Some(c) = play(&sock, case) {
            stalled.push((case.name.clone(), c));
        }
    }
    // The stalled clients are closed by rvsd at the idle timeout, without a reply.
    for (name, mut c) in stalled {
        assert_eq!(c.recv(), None, "{name}: closed without a reply");
    }
    stop.store(true, Ordering::Relaxed);
    let served = other.join().expect("the concurrent client got every reply");
    assert!(served >= 3);
    let after = state(&sock);
    assert_eq!(
        config_of(&after.0),
        config_of(&before.0),
        "services unchanged"
    );
    assert_eq!(after.1, before.1, "timeouts unchanged");
    let log = rvsd.stop();
    assert!(log.contains("over 1048576 bytes; closed"), "{log}");
    assert!(!sock.exists(), "socket removed at exit");
}

/// Runs `python3 -c CODE SOCK` as user `user` and group `group` with no supplementary
/// groups (`setpriv`); returns its stdout (what the socket answered, or the connect
/// error).
fn as_user(user: &str, group: &str, sock: &Path) -> String {
    const CODE: &str = r#"
import socket, sys
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
try:
    s.connect(sys.argv[1])
except OSError as e:
    print("connect:", e.strerror); sys.exit(0)
req = b'{"version":"1.0","id":%d,"request":{"cmd":"get_timeouts"}}\n'
def send(n):
    try:
        s.sendall(req % n)
    except OSError:  # a refused peer may be closed before it writes
        pass
send(1)
f = s.makefile("rb")
print(f.readline().decode().strip())
send(2)
# Every further line until rvsd closes (at once when refused, else at idle_timeout).
print(len([l for l in f]))
"#;
    let out = Command::new("setpriv")
        .args([
            &format!("--reuid={user}"),
            &format!("--regid={group}"),
            "--clear-groups",
            "/usr/bin/python3",
            "-c",
            CODE,
        ])
        .arg(sock)
        .output()
        .expect("setpriv runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn only_root_and_the_admin_group_are_served() {
    if !root_or_skip() {
        return;
    }
    let nogroup = nix::unistd::Group::from_name("nogroup").unwrap().unwrap();
    let (dir, cfg, sock) = config("security", "admin_group = \"nogroup\"");
    let rvsd = Rvsd::start(dir, cfg);
    let meta = std::fs::metadata(&sock).unwrap();
    assert_eq!(meta.permissions().mode() & 0o7777, 0o660, "socket mode");
    assert_eq!(meta.gid(), nogroup.gid.as_raw(), "socket group");
    // A member (nobody, primary group nogroup) is served.
    let out = as_user("nobody", "nogroup", &sock);
    let first: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(ok_body(&first)["type"], "timeouts", "{out}");
    assert_eq!(
        out.lines().nth(1),
        Some("1"),
        "the second request answered: {out}"
    );
    // Another user cannot even open the socket (its mode)...
    let out = as_user("daemon", "daemon", &sock);
    assert!(out.starts_with("connect: Permission denied"), "{out}");
    // ...and when its mode is loosened by hand, SO_PEERCRED still refuses it: one
    // permission_denied line naming the uid, then EOF.
    std::fs::set_permissions(&sock, std::fs::Permissions::from_mode(0o666)).unwrap();
    let daemon_uid = nix::unistd::User::from_name("daemon")
        .unwrap()
        .unwrap()
        .uid
        .as_raw();
    let out = as_user("daemon", "daemon", &sock);
    let first: Value = serde_json::from_str(out.lines().next().unwrap()).unwrap();
    assert_eq!(error_kind(&first), "permission_denied", "{out}");
    let message = first["error"]["message"].as_str().unwrap();
    assert!(message.contains(&format!("uid {daemon_uid}")), "{message}");
    assert_eq!(
        out.lines().nth(1),
        Some("0"),
        "nothing after the refusal: {out}"
    );
    // Root is served whatever the group.
    let mut c = Client::connect(&sock);
    assert_eq!(
        ok_body(&c.call(3, json!({"cmd":"list"})))["type"],
        "services"
    );
    let log = rvsd.stop();
    assert!(
        log.contains(&format!("control socket: refused uid {daemon_uid} gid")),
        "rvsd logged the refusal:\n{log}"
    );
}

#[test]
fn a_stale_socket_is_replaced_a_live_one_refuses_the_start() {
    if !root_or_skip() {
        return;
    }
    let (dir, cfg, sock) = config("stale", "");
    // Another process answering on the path: rvsd refuses to start, naming it.
    let live = UnixListener::bind(&sock).unwrap();
    let out = start_refused(&cfg).expect("rvsd refused to start");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(&format!("control socket {}", sock.display()))
            && err.contains("another rvsd answers on it"),
        "{err}"
    );
    assert!(sock.exists(), "the live socket is left alone");
    // The same file once its owner is gone (a dead rvsd's socket): replaced.
    drop(live);
    assert!(sock.exists());
    let rvsd = Rvsd::start(dir, cfg);
    // A client mid-request and an idle one do not keep rvsd from stopping cleanly.
    let mut idle = Client::connect(&sock);
    let mut busy = Client::connect(&sock);
    busy.send_raw(b"{\"version\":\"1.0\",");
    assert_eq!(
        ok_body(&idle.call(1, json!({"cmd":"list"})))["type"],
        "services"
    );
    rvsd.stop();
    assert_eq!(idle.recv(), None, "closed at stop");
    assert_eq!(busy.recv(), None, "closed at stop");
    assert!(!sock.exists(), "socket removed at exit");
}

/// The weight of the first real server of the first service, as `list` shows it.
fn first_weight(c: &mut Client, id: u64) -> i64 {
    let r = c.call(id, json!({"cmd":"list"}));
    ok_body(&r)["services"][0]["dests"][0]["weight"]
        .as_i64()
        .unwrap_or_else(|| panic!("{r}"))
}

/// Sends SIGHUP to rvsd and waits (listing all the while: the socket keeps serving)
/// until its log has one more line containing `needle` than it had.
fn hup_and_wait(rvsd: &Rvsd, c: &mut Client, needle: &str) -> String {
    let seen = rvsd.log_text().matches(needle).count();
    let status = Command::new("kill")
        .args(["-HUP", &rvsd.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    for id in 0..600 {
        assert_eq!(
            ok_body(&c.call(id, json!({"cmd":"list"})))["type"],
            "services"
        );
        let log = rvsd.log_text();
        if log.matches(needle).count() > seen {
            return log;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("no {needle:?} after SIGHUP:\n{}", rvsd.log_text());
}

#[test]
fn sighup_reloads_through_the_command_channel() {
    if !root_or_skip() {
        return;
    }
    let (dir, cfg, sock) = config("sighup", "");
    let rvsd = Rvsd::start(dir, cfg.clone());
    let mut c = Client::connect(&sock);
    assert_eq!(first_weight(&mut c, 1), 3);
    // A changed file: the reload applies it and logs the change.
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, text.replacen("weight = 3", "weight = 5", 1)).unwrap();
    let log = hup_and_wait(&rvsd, &mut c, "reload: 1 change(s)");
    assert!(log.contains("SIGHUP: reloading the configuration"), "{log}");
    assert_eq!(first_weight(&mut c, 2), 5, "applied");
    // A broken file: refused with its located error, the running state kept.
    std::fs::write(&cfg, text.replacen("weight = 3", "weight = -1", 1)).unwrap();
    let log = hup_and_wait(&rvsd, &mut c, "reload refused, running state kept");
    assert!(
        log.contains("rvsd.toml:"),
        "names the file and line:\n{log}"
    );
    assert_eq!(first_weight(&mut c, 3), 5, "unchanged");
    rvsd.stop();
}

#[test]
fn at_most_64_clients_at_once() {
    if !root_or_skip() {
        return;
    }
    // Idle clients must stay connected for the whole test.
    let (dir, cfg, sock) = config("max", "idle_timeout = 600");
    let rvsd = Rvsd::start(dir, cfg);
    let mut clients: Vec<Client> = (0..64).map(|_| Client::connect(&sock)).collect();
    // Each of them is being served (its thread answers).
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(
            ok_body(&c.call(i as u64, json!({"cmd":"get_timeouts"})))["type"],
            "timeouts"
        );
    }
    // The 65th gets one line and is closed.
    let mut extra = Client::connect(&sock);
    let r = extra.recv().expect("a refusal line");
    assert_eq!(error_kind(&r), "internal", "{r}");
    assert!(
        r["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too many clients"),
        "{r}"
    );
    assert_eq!(extra.recv(), None, "then closed");
    // Once one leaves, a newcomer is served (its thread may take a moment to finish).
    clients.pop();
    let mut served = false;
    for _ in 0..200 {
        let mut c = Client::connect(&sock);
        c.send_raw(b"{\"version\":\"1.0\",\"id\":1,\"request\":{\"cmd\":\"list\"}}\n");
        let r = c.recv().expect("a line");
        if r["ok"] == true {
            served = true;
            break;
        }
        assert_eq!(error_kind(&r), "internal", "{r}");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(served, "a free slot is used again");
    drop(clients);
    rvsd.stop();
}
