//! rvsd with a persisted state file (`[control] state_file`, `mgmt::state`): a state
//! file that cannot be restored stops rvsd at start with one line naming the file
//! (never silently ignored), and a good one is restored over the config's services.

mod common;

use common::eal::root_or_skip;
use common::rvsd::{null_port_config, one_at_a_time, start_refused, Rvsd};
use rvs::ctl::proto::{Body, Request, RequestEnvelope, Response};
use rvs::ctl::views::{DestSpec, DestView, MethodView, ServiceKeyView, ServiceSpec};
use std::net::Ipv4Addr;
use std::path::PathBuf;

/// A TCP NAT service with one real server, appended to the test configs.
const SERVICE: &str = "
[[service]]
proto = \"tcp\"
vip = \"203.0.113.10\"
port = 80
scheduler = \"rr\"

[[service.real]]
addr = \"203.0.113.11\"
port = 8080
method = \"nat\"
";

/// [`null_port_config`] (lab-appliance.toml on a `net_null` port, unique file prefix),
/// socket in the test's dir, `state_file` in the test's dir, [`SERVICE`], and `extra`
/// appended.
fn config(tag: &str, extra: &str) -> (PathBuf, PathBuf, PathBuf) {
    let (dir, cfg) = null_port_config(tag);
    let state = dir.join("state.json");
    let socket = dir.join("rvsd.sock");
    let mut text = std::fs::read_to_string(&cfg).unwrap();
    // Whatever socket line the example (or derived_config) has, this test's own.
    let start = text.find("[control]").expect("[control] section");
    let end = text[start..].find("\n\n").map_or(text.len(), |e| start + e);
    text.replace_range(
        start..end,
        &format!(
            "[control]\nsocket = \"{}\"\nstate_file = \"{}\"",
            socket.display(),
            state.display()
        ),
    );
    text.push_str(SERVICE);
    text.push_str(extra);
    std::fs::write(&cfg, text).unwrap();
    let loaded = rvs::config::Config::load(&cfg).unwrap();
    assert_eq!(loaded.control.state_file.as_deref(), Some(state.as_path()));
    (dir, cfg, state)
}

#[test]
fn an_unreadable_state_file_stops_rvsd_naming_it() {
    if !root_or_skip() {
        return;
    }
    let _serial = one_at_a_time();
    let (dir, cfg, state) = config("badstate", "");
    std::fs::write(&state, "{\"version\":1,\"services\":[").unwrap();
    let out = start_refused(&cfg);
    let _ = std::fs::remove_dir_all(&dir);
    let out = out.expect("rvsd started with a broken state file");
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(err.lines().count(), 1, "{err}");
    assert!(
        err.starts_with(&format!("rvsd: state file {}: ", state.display())),
        "{err}"
    );
}

#[test]
fn a_missing_state_file_is_a_first_start() {
    if !root_or_skip() {
        return;
    }
    let _serial = one_at_a_time();
    let (dir, cfg, state) = config("nostate", "");
    assert!(!state.exists());
    let rvsd = Rvsd::start(dir, cfg);
    let log = rvsd.stop();
    assert!(!log.contains("restored the running state"), "{log}");
}

/// One request over the control socket, its response.
fn call(socket: &std::path::Path, request: Request) -> Response {
    use std::io::{BufRead, BufReader, Write};
    let mut s = std::os::unix::net::UnixStream::connect(socket).unwrap();
    let mut line = serde_json::to_string(&RequestEnvelope::new(request)).unwrap();
    line.push('\n');
    s.write_all(line.as_bytes()).unwrap();
    let mut answer = String::new();
    BufReader::new(s).read_line(&mut answer).unwrap();
    serde_json::from_str(&answer).unwrap_or_else(|e| panic!("{e}: {answer}"))
}

fn body(r: Response) -> Body {
    assert!(r.ok, "{r:?}");
    r.body.unwrap()
}

/// Every service's definition and real servers (no counters: net_null traffic).
fn listing(socket: &std::path::Path) -> Vec<(ServiceSpec, Vec<DestSpec>)> {
    let Body::Services { services } = body(call(socket, Request::List { key: None })) else {
        panic!("not a listing")
    };
    services
        .into_iter()
        .map(|s| {
            let d = s.dests.iter().map(DestView::spec).collect();
            (s.spec, d)
        })
        .collect()
}

fn tcp80() -> ServiceKeyView {
    ServiceKeyView::Tcp {
        vip: Ipv4Addr::new(203, 0, 113, 10),
        port: 80,
    }
}

fn nat(d: u8, weight: i32) -> DestSpec {
    DestSpec {
        addr: Ipv4Addr::new(203, 0, 113, d),
        port: 8080,
        method: MethodView::Nat,
        weight,
        u_threshold: 0,
        l_threshold: 0,
    }
}

/// A port nothing listens on now (the kernel's pick, released).
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn scrape(port: u16) -> prometheus_parse::Scrape {
    use std::io::{Read, Write};
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    s.write_all(b"GET /metrics HTTP/1.0\r\n\r\n").unwrap();
    let mut r = String::new();
    s.read_to_string(&mut r).unwrap();
    assert!(
        r.starts_with("HTTP/1.1 200") || r.starts_with("HTTP/1.0 200"),
        "{r}"
    );
    let body = &r[r.find("\r\n\r\n").unwrap() + 4..];
    prometheus_parse::Scrape::parse(body.lines().map(|l| Ok(l.to_owned()))).unwrap()
}

fn metric(s: &prometheus_parse::Scrape, name: &str, labels: &[(&str, &str)]) -> f64 {
    let m = s
        .samples
        .iter()
        .find(|m| m.metric == name && labels.iter().all(|(k, v)| m.labels.get(k) == Some(*v)))
        .unwrap_or_else(|| panic!("no {name} {labels:?}"));
    match m.value {
        prometheus_parse::Value::Counter(v) | prometheus_parse::Value::Gauge(v) => v,
        ref v => panic!("{name}: {v:?}"),
    }
}

/// One rvsd on a net_null port: a change through the socket is saved to the state file
/// and shows on the metrics endpoint (parsed by a parser we did not write, checked
/// against `Status`); a `Reload` request and SIGHUP make the running state the file's
/// (the file wins over the run-time change); a second rvsd on the same state file lists
/// exactly what the first one had.
#[test]
fn socket_changes_are_saved_reloaded_restored_and_scraped() {
    if !root_or_skip() {
        return;
    }
    let _serial = one_at_a_time();
    let mport = free_port();
    let (dir, cfg, state) = config(
        "ops",
        &format!("\n[metrics]\nlisten = \"127.0.0.1:{mport}\"\n"),
    );
    let socket = dir.join("rvsd.sock");
    let text = std::fs::read_to_string(&cfg).unwrap();
    let rvsd = Rvsd::start(dir.clone(), cfg.clone());

    // A run-time change: saved.
    body(call(
        &socket,
        Request::AddDest {
            key: tcp80(),
            dest: nat(12, 3),
        },
    ));
    // Written within `SAVE_MAX_DELAY` (coalesced saves).
    let saved = wait_saved(&state, |s| {
        s["services"][0]["dests"][0]["addr"] == "203.0.113.12"
    });
    assert_eq!(saved["version"], 1);

    // Metrics agree with Status and List.
    let Body::Status(st) = body(call(&socket, Request::Status)) else {
        panic!()
    };
    let m = scrape(mport);
    assert_eq!(metric(&m, "rvs_services", &[]), st.services as f64);
    assert_eq!(
        metric(&m, "rvs_conn_table_capacity", &[]),
        st.max_conns as f64
    );
    let real = [
        ("service", "tcp/203.0.113.10:80"),
        ("real", "203.0.113.12:8080"),
    ];
    assert_eq!(metric(&m, "rvs_real_server_weight", &real), 3.0);
    for p in &st.ports {
        // Counters only grow: the scrape came after the Status.
        let rx = metric(&m, "rvs_port_rx_packets_total", &[("port", &p.name)]);
        assert!(rx >= p.ipackets as f64, "{} {rx} < {}", p.name, p.ipackets);
    }
    assert!(m
        .samples
        .iter()
        .any(|s| s.metric == "rvs_build_info"
            && s.labels.get("version") == Some(st.version.as_str())));

    // Reload request: the file wins (the socket's dest goes), the file's edit comes.
    std::fs::write(
        &cfg,
        text.replace("scheduler = \"rr\"", "scheduler = \"wrr\""),
    )
    .unwrap();
    let Body::Reloaded { changes } = body(call(&socket, Request::Reload)) else {
        panic!()
    };
    assert_eq!(
        changes,
        [
            "edited service TCP 203.0.113.10:80",
            "removed real server 203.0.113.12:8080 from TCP 203.0.113.10:80"
        ]
    );
    let l = listing(&socket);
    assert_eq!((l[0].0.scheduler.as_str(), l[0].1.len()), ("wrr", 1));

    // SIGHUP: the same through the signal.
    std::fs::write(
        &cfg,
        text.replace("scheduler = \"rr\"", "scheduler = \"wrr\"")
            .replace("method = \"nat\"", "method = \"nat\"\nweight = 4"),
    )
    .unwrap();
    let ok = std::process::Command::new("kill")
        .arg("-HUP")
        .arg(rvsd.pid().to_string())
        .status()
        .unwrap();
    assert!(ok.success());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while listing(&socket)[0].1[0].weight != 4 {
        assert!(std::time::Instant::now() < deadline, "{}", rvsd.log_text());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }

    // Another run-time change, then a new rvsd restores exactly that.
    body(call(
        &socket,
        Request::AddDest {
            key: tcp80(),
            dest: nat(13, 2),
        },
    ));
    let before = listing(&socket);
    assert_eq!(before[0].1.len(), 2);
    let mut first = rvsd;
    first.keep_files();
    first.stop();
    let second = Rvsd::start(dir.clone(), cfg);
    assert!(second.log_text().contains("restored the running state"));
    assert_eq!(listing(&socket), before);
    second.stop();
}

/// The state file once `ok` holds for it (rvsd writes it within a second of a change).
fn wait_saved(
    state: &std::path::Path,
    ok: impl Fn(&serde_json::Value) -> bool,
) -> serde_json::Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let text = std::fs::read_to_string(state).unwrap_or_default();
        if let Ok(v) = serde_json::from_str::<serde_json::Value>(&text) {
            if ok(&v) {
                return v;
            }
        }
        assert!(std::time::Instant::now() < deadline, "not saved: {text}");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
}

/// How many times rvsd wrote the state file (its "saved" log lines) and the changes
/// they wrote in all.
fn saves(log: &str) -> (usize, u64) {
    let counts: Vec<u64> = log
        .lines()
        .filter_map(|l| l.split(": saved (").nth(1))
        .map(|rest| rest.split(' ').next().unwrap().parse().unwrap())
        .collect();
    (counts.len(), counts.iter().sum())
}

/// F18: `rvsadm -R` of a big file rewrote and fsynced the whole state file after every
/// request. A burst of 200 changes is now written a few times (coalesced), the file has
/// every change, and a change followed at once by a clean stop is still saved.
#[test]
fn a_burst_of_changes_is_saved_coalesced_and_a_stop_saves_the_last() {
    if !root_or_skip() {
        return;
    }
    let _serial = one_at_a_time();
    let (dir, cfg, state) = config("burst", "");
    let socket = dir.join("rvsd.sock");
    let mut rvsd = Rvsd::start(dir.clone(), cfg);
    for i in 0..200u16 {
        let dest = DestSpec {
            port: 10000 + i,
            ..nat(20, 1)
        };
        body(call(&socket, Request::AddDest { key: tcp80(), dest }));
    }
    let saved = wait_saved(&state, |s| {
        s["services"][0]["dests"].as_array().map(Vec::len) == Some(201)
    });
    assert_eq!(
        saved["services"][0]["dests"][0]["port"], 10199,
        "newest first"
    );
    // Once more, quiet: the last save has been logged.
    std::thread::sleep(std::time::Duration::from_millis(500));
    let (writes, changes) = saves(&rvsd.log_text());
    assert_eq!(changes, 200, "{}", rvsd.log_text());
    assert!(writes < 20, "{writes} writes for 200 changes");

    // The stop comes before the quiet period is over: still saved.
    body(call(
        &socket,
        Request::DelDest {
            key: tcp80(),
            addr: Ipv4Addr::new(203, 0, 113, 20),
            port: 10199,
        },
    ));
    rvsd.keep_files();
    let log = rvsd.stop();
    let text = std::fs::read_to_string(&state).unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    let saved: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(
        saved["services"][0]["dests"].as_array().unwrap().len(),
        200,
        "{log}"
    );
    assert_eq!(saves(&log).1, 201, "{log}");
}

/// F16: the state file wins at start; when it differs from the configuration file rvsd
/// says so (a WARN naming what differs and how to apply the file), and not when equal.
#[test]
fn a_state_file_that_differs_from_the_configuration_is_warned_about() {
    if !root_or_skip() {
        return;
    }
    let _serial = one_at_a_time();
    let (dir, cfg, state) = config("differs", "");
    let socket = dir.join("rvsd.sock");
    let mut rvsd = Rvsd::start(dir.clone(), cfg.clone());
    body(call(
        &socket,
        Request::AddDest {
            key: tcp80(),
            dest: nat(12, 3),
        },
    ));
    wait_saved(&state, |s| {
        s["services"][0]["dests"].as_array().map(Vec::len) == Some(2)
    });
    rvsd.keep_files();
    rvsd.stop();

    let mut rvsd = Rvsd::start(dir.clone(), cfg.clone());
    let log = rvsd.log_text();
    assert!(
        log.contains("differs from the configuration file")
            && log.contains("1 service(s) or their real servers differing (TCP 203.0.113.10:80)")
            && log.contains("`rvsadm reload` (or SIGHUP) applies the configuration file"),
        "{log}"
    );
    // Back to the configuration's state: saved, and the next start says nothing.
    body(call(
        &socket,
        Request::DelDest {
            key: tcp80(),
            addr: Ipv4Addr::new(203, 0, 113, 12),
            port: 8080,
        },
    ));
    wait_saved(&state, |s| {
        s["services"][0]["dests"].as_array().map(Vec::len) == Some(1)
    });
    rvsd.keep_files();
    rvsd.stop();
    let rvsd = Rvsd::start(dir.clone(), cfg);
    let log = rvsd.log_text();
    rvsd.stop();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(log.contains("restored the running state"), "{log}");
    assert!(!log.contains("differs from the configuration"), "{log}");
}
