//! The health checkers against real servers: each test makes its own network namespace
//! (`rvs-hc-<pid>-<test>`) holding a veth pair with addresses in 192.0.2.0/24 (the
//! checker's source 192.0.2.1, servers on 192.0.2.12 and .13, and 192.0.2.99 a silent
//! address: a permanent neighbour entry with a MAC nobody has, so SYNs leave and vanish),
//! runs real servers in it (tests/lab/hc_servers.py: python's http.server, ssl, UDP and a
//! stdlib DNS responder; MISC through /bin/sh scripts) and a `Checker` in it.
//!
//! How the checker gets into the namespace without unsafe code: a helper thread enters it
//! with setns(2) through nix's safe wrapper, then calls `Checker::start`; the checker's
//! thread, spawned from there, inherits the namespace (a new thread shares its creator's
//! namespaces), and the helper thread ends. The test's own thread never changes namespace
//! (under `--test-threads=1` libtest runs every test on the main thread, so a test that
//! moved its own thread would move the tests after it).
//!
//! Needs root, ip(8), /usr/bin/python3 and openssl(1); skips with a message otherwise
//! (a failure under CI=true). The namespace, its servers (killed by pid) and the temporary
//! directory are removed by a Drop guard, on success and on failure.

use std::collections::HashMap;
use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use nix::sched::{setns, CloneFlags};
use rvs::mgmt::health::{CheckId, CheckSpec, Checker, Job, Md5Digest, Report};

const SERVERS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/lab/hc_servers.py");

fn available(test: &str) -> bool {
    let why = if !sh_status("[ \"$(id -u)\" = 0 ]") {
        Some("not root".to_string())
    } else {
        ["ip", "/usr/bin/python3", "openssl", "md5sum"]
            .iter()
            .find(|t| !sh_status(&format!("command -v {t} >/dev/null")))
            .map(|t| format!("{t} is missing"))
    };
    match why {
        None => true,
        Some(why) if std::env::var("CI").as_deref() == Ok("true") => {
            panic!("{test}: prerequisites missing under CI: {why}")
        }
        Some(why) => {
            eprintln!("{test}: SKIPPED ({why})");
            false
        }
    }
}

fn sh_status(cmd: &str) -> bool {
    Command::new("sh")
        .args(["-c", cmd])
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

fn must(cmd: &str) -> String {
    let out = Command::new("sh")
        .args(["-c", cmd])
        .output()
        .expect("sh runs");
    assert!(
        out.status.success(),
        "{cmd}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// One test's namespace, servers and scratch directory; Drop removes them all.
struct Netns {
    name: String,
    dir: PathBuf,
    children: Vec<Child>,
}

impl Netns {
    fn new(tag: &str) -> Netns {
        let name = format!("rvs-hc-{}-{tag}", std::process::id());
        let dir = std::env::temp_dir().join(&name);
        let ns = Netns {
            name: name.clone(),
            dir: dir.clone(),
            children: Vec::new(),
        };
        // Leftovers of a killed earlier run with the same pid would fail the adds.
        let _ = Command::new("ip").args(["netns", "del", &name]).output();
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("temp dir");
        must(&format!("ip netns add {name}"));
        must(&format!(
            "ip -n {name} link set lo up && \
             ip -n {name} link add v0 type veth peer name v1 && \
             ip -n {name} addr add 192.0.2.1/24 dev v0 && \
             ip -n {name} addr add 192.0.2.12/32 dev v1 && \
             ip -n {name} addr add 192.0.2.13/32 dev v1 && \
             ip -n {name} link set v0 up && ip -n {name} link set v1 up && \
             ip -n {name} neigh add 192.0.2.99 lladdr 02:00:00:00:00:63 dev v0 nud permanent"
        ));
        ns
    }

    fn path(&self, file: &str) -> PathBuf {
        self.dir.join(file)
    }

    /// Starts hc_servers.py with `args` in the namespace and waits for its ready file.
    fn servers(&mut self, args: &str) {
        let dir = self.dir.display().to_string();
        let child = Command::new("ip")
            .args(["netns", "exec", &self.name, "sh", "-c"])
            .arg(format!("exec /usr/bin/python3 {SERVERS} {dir} {args}"))
            .stdout(Stdio::null())
            .stderr(File::create(self.path("servers.err")).expect("stderr file"))
            .spawn()
            .expect("spawn servers");
        self.children.push(child);
        let deadline = Instant::now() + Duration::from_secs(10);
        while !self.path("ready").exists() {
            let err = std::fs::read_to_string(self.path("servers.err")).unwrap_or_default();
            assert!(Instant::now() < deadline, "servers not ready: {err}");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// A checker whose thread lives in this namespace (see the file's doc).
    fn checker(&self) -> Checker {
        let netns = PathBuf::from("/run/netns").join(&self.name);
        std::thread::spawn(move || {
            let file = File::open(&netns).expect("open the namespace");
            setns(file, CloneFlags::CLONE_NEWNET).expect("setns");
            Checker::start().expect("checker starts")
        })
        .join()
        .expect("helper thread")
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        for c in self.children.iter_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn spec(toml_text: &str) -> Arc<CheckSpec> {
    let spec: CheckSpec = toml::from_str(toml_text).unwrap_or_else(|e| panic!("{toml_text}: {e}"));
    spec.validate()
        .unwrap_or_else(|e| panic!("{toml_text}: {e}"));
    Arc::new(spec)
}

/// Submits every (spec, target, timeout) at once and returns the reports by index, in
/// the order they arrived.
fn run(
    checker: &Checker,
    jobs: &[(Arc<CheckSpec>, &str, u64)],
) -> (HashMap<u64, Report>, Vec<u64>) {
    for (i, (spec, target, timeout_secs)) in jobs.iter().enumerate() {
        checker
            .submit(Job {
                id: CheckId(i as u64),
                spec: spec.clone(),
                target: target.parse().expect("target"),
                timeout: Duration::from_secs(*timeout_secs),
            })
            .expect("submit");
    }
    let mut reports = HashMap::new();
    let mut order = Vec::new();
    while reports.len() < jobs.len() {
        let r = checker
            .reports()
            .recv_timeout(Duration::from_secs(30))
            .expect("a report within 30 s");
        order.push(r.id.0);
        reports.insert(r.id.0, r);
    }
    (reports, order)
}

/// Asserts each report's verdict and that its reason contains the expected text.
fn expect(reports: &HashMap<u64, Report>, want: &[(bool, &str)]) {
    for (i, (up, text)) in want.iter().enumerate() {
        let o = &reports[&(i as u64)].outcome;
        assert!(
            o.up == *up && o.reason.contains(text),
            "check {i}: expected {} with \"{text}\", got {o:?}",
            if *up { "up" } else { "down" }
        );
    }
}

#[test]
fn tcp_check_up_refused_and_silent_without_delaying_others() {
    if !available("tcp_check") {
        return;
    }
    let mut ns = Netns::new("tcp");
    ns.servers("--http 192.0.2.12:80");
    let checker = ns.checker();
    let tcp = spec("[TCP_CHECK]");
    let jobs = [
        // The silent one first: its 3 s must not hold back the others.
        (tcp.clone(), "192.0.2.99:80", 3),
        (tcp.clone(), "192.0.2.12:80", 3),
        (tcp.clone(), "192.0.2.12:81", 3),
        (
            spec("[TCP_CHECK]\nconnect_port = 80\nbindto = \"192.0.2.1\""),
            "192.0.2.12:8080",
            3,
        ),
        (
            spec("[TCP_CHECK]\nconnect_ip = \"192.0.2.99\""),
            "192.0.2.12:80",
            1,
        ),
    ];
    let (reports, order) = run(&checker, &jobs);
    expect(
        &reports,
        &[
            (false, "connect to 192.0.2.99:80 timed out after 3 s"),
            (true, "TCP connect to 192.0.2.12:80 succeeded"),
            (false, "connection refused by 192.0.2.12:81"),
            (true, "TCP connect to 192.0.2.12:80 succeeded"),
            (false, "connect to 192.0.2.99:80 timed out after 1 s"),
        ],
    );
    assert_eq!(
        *order.last().unwrap(),
        0,
        "the silent 3 s check ends last: {order:?}"
    );
    let silent = reports[&0].finished_at;
    for i in 1..=3 {
        assert!(
            reports[&i].finished_at + Duration::from_secs(1) < silent,
            "check {i} waited for the silent server"
        );
    }
}

#[test]
fn http_get_status_digest_substring_and_host() {
    if !available("http_get") {
        return;
    }
    let mut ns = Netns::new("http");
    std::fs::write(ns.path("ok.html"), "<html>hello from rvs lab</html>\n").unwrap();
    // The digest the test expects, computed by coreutils, not by the code under test.
    let right = must(&format!("md5sum {}", ns.path("ok.html").display()));
    let right = right.split_whitespace().next().unwrap().to_string();
    let wrong = Md5Digest::of(b"some other page").to_string();
    ns.servers("--http 192.0.2.12:80");
    let checker = ns.checker();
    let get = |url: &str| spec(&format!("[HTTP_GET]\n[[HTTP_GET.url]]\n{url}"));
    let jobs = [
        (get("path = \"/ok\""), "192.0.2.12:80", 3),
        (get("path = \"/fail\""), "192.0.2.12:80", 3),
        (get("path = \"/fail\"\nstatus_code = 503"), "192.0.2.12:80", 3),
        (get(&format!("path = \"/ok\"\ndigest = \"{right}\"")), "192.0.2.12:80", 3),
        (get(&format!("path = \"/ok\"\ndigest = \"{wrong}\"")), "192.0.2.12:80", 3),
        (get("path = \"/ok\"\nsubstring = \"hello from\""), "192.0.2.12:80", 3),
        (get("path = \"/ok\"\nsubstring = \"absent\""), "192.0.2.12:80", 3),
        (
            spec("[HTTP_GET]\nvirtualhost = \"www.example.test\"\n[[HTTP_GET.url]]\npath = \"/host\"\nsubstring = \"host=www.example.test\\n\""),
            "192.0.2.12:80",
            3,
        ),
        // keepalived's Host without virtualhost: the address and port connected to.
        (
            spec("[HTTP_GET]\nhttp_protocol = \"1.1\"\nconnect_port = 80\n[[HTTP_GET.url]]\npath = \"/host\"\nsubstring = \"host=192.0.2.12:80\\n\""),
            "192.0.2.12:8080",
            3,
        ),
        // Every url must pass.
        (
            spec("[HTTP_GET]\n[[HTTP_GET.url]]\npath = \"/ok\"\n[[HTTP_GET.url]]\npath = \"/fail\""),
            "192.0.2.12:80",
            3,
        ),
        (get("path = \"/ok\""), "192.0.2.12:81", 3),
    ];
    let (reports, _) = run(&checker, &jobs);
    let wrong_digest = format!("digest {right} != expected {wrong} from 192.0.2.12:80");
    expect(
        &reports,
        &[
            (true, "HTTP 200 from 192.0.2.12:80"),
            (false, "HTTP 503 from 192.0.2.12:80"),
            (true, "HTTP 503 from 192.0.2.12:80"),
            (true, "HTTP 200 from 192.0.2.12:80"),
            (false, &wrong_digest),
            (true, "HTTP 200 from 192.0.2.12:80"),
            (false, "\"absent\" not in the body from 192.0.2.12:80"),
            (true, "HTTP 200 from 192.0.2.12:80"),
            (true, "HTTP 200 from 192.0.2.12:80"),
            (false, "HTTP 503 from 192.0.2.12:80"),
            (false, "connection refused by 192.0.2.12:81"),
        ],
    );
    let hosts = std::fs::read_to_string(ns.path("hosts.log")).unwrap();
    assert!(hosts.lines().any(|h| h == "www.example.test"), "{hosts}");
    assert!(hosts.lines().any(|h| h == "192.0.2.12:80"), "{hosts}");
}

#[test]
fn ssl_get_with_and_without_verification() {
    if !available("ssl_get") {
        return;
    }
    let mut ns = Netns::new("ssl");
    std::fs::write(ns.path("ok.html"), "secure hello\n").unwrap();
    let right = must(&format!("md5sum {}", ns.path("ok.html").display()));
    let right = right.split_whitespace().next().unwrap().to_string();
    // A CA and a server certificate it signed, for www.example.test and 192.0.2.12.
    let d = ns.dir.display().to_string();
    must(&format!(
        "cd {d} && \
         openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
           -keyout ca.key -out ca.pem -days 2 -subj /CN=rvs-test-ca 2>/dev/null && \
         openssl req -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes \
           -keyout srv.key -out srv.csr -subj /CN=www.example.test 2>/dev/null && \
         printf 'subjectAltName=DNS:www.example.test,IP:192.0.2.12\\nbasicConstraints=CA:FALSE\\n' > srv.ext && \
         openssl x509 -req -in srv.csr -CA ca.pem -CAkey ca.key -CAcreateserial \
           -out srv.pem -days 2 -extfile srv.ext 2>/dev/null"
    ));
    ns.servers(&format!(
        "--https 192.0.2.12:443 --cert {d}/srv.pem --key {d}/srv.key"
    ));
    let checker = ns.checker();
    let ca = format!("ca_file = \"{d}/ca.pem\"\nssl_verify = true");
    let jobs = [
        // keepalived's default: no verification, a self-made certificate is fine.
        (spec("[SSL_GET]\n[[SSL_GET.url]]\npath = \"/ok\""), "192.0.2.12:443", 3),
        (
            spec(&format!("[SSL_GET]\n[[SSL_GET.url]]\npath = \"/ok\"\ndigest = \"{right}\"")),
            "192.0.2.12:443",
            3,
        ),
        // Verified against the Mozilla roots: our CA is not one of them.
        (
            spec("[SSL_GET]\nssl_verify = true\n[[SSL_GET.url]]\npath = \"/ok\""),
            "192.0.2.12:443",
            3,
        ),
        // Verified against our CA, by name with SNI, and the Host header follows.
        (
            spec(&format!(
                "[SSL_GET]\n{ca}\nenable_sni = true\nvirtualhost = \"www.example.test\"\n[[SSL_GET.url]]\npath = \"/host\"\nsubstring = \"host=www.example.test\""
            )),
            "192.0.2.12:443",
            3,
        ),
        // Verified against our CA by address (the certificate names 192.0.2.12 too).
        (
            spec(&format!("[SSL_GET]\n{ca}\n[[SSL_GET.url]]\npath = \"/ok\"")),
            "192.0.2.12:443",
            3,
        ),
        // Our CA, but a name the certificate does not carry.
        (
            spec(&format!(
                "[SSL_GET]\n{ca}\nsni_name = \"other.example.test\"\n[[SSL_GET.url]]\npath = \"/ok\""
            )),
            "192.0.2.12:443",
            3,
        ),
    ];
    let (reports, _) = run(&checker, &jobs);
    expect(
        &reports,
        &[
            (true, "HTTP 200 from 192.0.2.12:443"),
            (true, "HTTP 200 from 192.0.2.12:443"),
            (false, "TLS handshake with 192.0.2.12:443 failed"),
            (true, "HTTP 200 from 192.0.2.12:443"),
            (true, "HTTP 200 from 192.0.2.12:443"),
            (false, "TLS handshake with 192.0.2.12:443 failed"),
        ],
    );
    assert!(
        reports[&2].outcome.reason.contains("UnknownIssuer"),
        "{:?}",
        reports[&2]
    );
    assert!(
        reports[&5]
            .outcome
            .reason
            .contains("not valid for name \"other.example.test\""),
        "{:?}",
        reports[&5]
    );
}

#[test]
fn udp_check_reply_silence_and_icmp() {
    if !available("udp_check") {
        return;
    }
    let mut ns = Netns::new("udp");
    ns.servers("--udp-echo 192.0.2.13:7 --udp-silent 192.0.2.13:9");
    let checker = ns.checker();
    let reply = "[UDP_CHECK]\npayload = \"70 69 6e 67\"\nrequire_reply = true";
    let jobs = [
        (
            spec(&format!("{reply}\nreply = \"70696e67\"")),
            "192.0.2.13:7",
            2,
        ),
        (
            spec(&format!("{reply}\nreply = \"706f6e67\"")),
            "192.0.2.13:7",
            2,
        ),
        (spec(reply), "192.0.2.13:9", 2),
        (spec("[UDP_CHECK]\npayload = \"00\""), "192.0.2.13:9", 2),
        (spec("[UDP_CHECK]\npayload = \"00\""), "192.0.2.13:10", 2),
        (spec(reply), "192.0.2.13:10", 2),
    ];
    let (reports, _) = run(&checker, &jobs);
    expect(
        &reports,
        &[
            (true, "UDP reply of 4 bytes from 192.0.2.13:7"),
            (
                false,
                "UDP reply from 192.0.2.13:7 does not start with 706f6e67",
            ),
            (false, "no UDP reply from 192.0.2.13:9 within 2 s"),
            (true, "no ICMP error from 192.0.2.13:9 within 2 s"),
            (false, "ICMP port unreachable from 192.0.2.13:10"),
            (false, "ICMP port unreachable from 192.0.2.13:10"),
        ],
    );
}

#[test]
fn dns_check_answer_nxdomain_nodata_and_silence() {
    if !available("dns_check") {
        return;
    }
    let mut ns = Netns::new("dns");
    ns.servers("--dns 192.0.2.13:53 --udp-silent 192.0.2.13:5353");
    let checker = ns.checker();
    let jobs = [
        (
            spec("[DNS_CHECK]\ntype = \"A\"\nname = \"www.example.test.\""),
            "192.0.2.13:53",
            2,
        ),
        (
            spec("[DNS_CHECK]\ntype = \"A\"\nname = \"www.nosuch.test.\""),
            "192.0.2.13:53",
            2,
        ),
        // NOERROR without records: up for keepalived, down when an answer is required.
        (
            spec("[DNS_CHECK]\ntype = \"AAAA\"\nname = \"www.example.test.\""),
            "192.0.2.13:53",
            2,
        ),
        (
            spec(
                "[DNS_CHECK]\ntype = \"AAAA\"\nname = \"www.example.test.\"\nrequire_answer = true",
            ),
            "192.0.2.13:53",
            2,
        ),
        (
            spec("[DNS_CHECK]\nname = \"example.test.\""),
            "192.0.2.13:5353",
            2,
        ),
        (
            spec("[DNS_CHECK]\nname = \"example.test.\""),
            "192.0.2.13:54",
            2,
        ),
    ];
    let (reports, _) = run(&checker, &jobs);
    expect(
        &reports,
        &[
            (
                true,
                "DNS answer of 1 record from 192.0.2.13:53 (www.example.test. A)",
            ),
            (
                false,
                "DNS NXDOMAIN from 192.0.2.13:53 (www.nosuch.test. A)",
            ),
            (true, "DNS answer of 0 records from 192.0.2.13:53"),
            (
                false,
                "DNS answer without records from 192.0.2.13:53 (www.example.test. AAAA)",
            ),
            (
                false,
                "no DNS reply from 192.0.2.13:5353 within 2 s (example.test. SOA)",
            ),
            (false, "ICMP port unreachable from 192.0.2.13:54"),
        ],
    );
}

#[test]
fn misc_check_exit_codes_dynamic_weight_and_timeout_kill() {
    if !available("misc_check") {
        return;
    }
    let ns = Netns::new("misc");
    let d = ns.dir.display().to_string();
    let script = |name: &str, body: &str| {
        let p = ns.path(name);
        std::fs::write(&p, format!("#!/bin/sh\n{body}\n")).unwrap();
        p.display().to_string()
    };
    let up = script("up.sh", "exit 0");
    let down = script("down.sh", "exit 1");
    let dynamic = script("dyn.sh", "exit 7");
    // Runs past its timeout with a child of its own: both must be gone after the kill.
    let slow = script(
        "slow.sh",
        &format!("echo $$ > {d}/slow.pid\nsleep 60 &\necho $! > {d}/child.pid\nwait"),
    );
    let misc = |path: &str, extra: &str| {
        spec(&format!(
            "[MISC_CHECK]\nmisc_path = \"/bin/sh\"\nmisc_args = [\"{path}\"]\n{extra}"
        ))
    };
    let checker = ns.checker();
    let target = "192.0.2.12:80";
    let jobs = [
        (misc(&up, ""), target, 5),
        (misc(&down, ""), target, 5),
        (misc(&dynamic, "misc_dynamic = true"), target, 5),
        (misc(&dynamic, ""), target, 5),
        (misc(&slow, "misc_timeout = 1"), target, 5),
        (
            spec("[MISC_CHECK]\nmisc_path = \"/nonexistent/chk\""),
            target,
            5,
        ),
    ];
    let (reports, _) = run(&checker, &jobs);
    expect(
        &reports,
        &[
            (true, "MISC /bin/sh exited 0"),
            (false, "MISC /bin/sh exited 1"),
            (true, "MISC /bin/sh exited 7 (weight 5)"),
            (false, "MISC /bin/sh exited 7"),
            (false, "MISC /bin/sh killed after 1 s"),
            (false, "MISC /nonexistent/chk could not start"),
        ],
    );
    assert_eq!(reports[&0].outcome.weight, None);
    assert_eq!(reports[&2].outcome.weight, Some(5));
    for pid_file in ["slow.pid", "child.pid"] {
        let pid = std::fs::read_to_string(ns.path(pid_file)).unwrap();
        assert!(
            gone(pid.trim()),
            "{pid_file} {pid} still runs after the kill"
        );
    }
}

/// Whether a process no longer runs (absent, or a zombie nobody reaped yet).
fn gone(pid: &str) -> bool {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let stat = std::fs::read_to_string(Path::new("/proc").join(pid).join("stat"));
        let dead = match stat {
            Err(_) => true,
            Ok(s) => s
                .rsplit_once(')')
                .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z')),
        };
        if dead || Instant::now() > deadline {
            return dead;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}
