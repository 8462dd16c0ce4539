//! The health-check keys of the configuration file (configs/README.md "Health checks",
//! docs/HEALTH.md): keepalived's defaults, inheritance from `[service.check]` to a real
//! server's own check, and every mistake reported at its file, line and key.

use std::net::Ipv4Addr;
use std::time::Duration;

use rvs::config::{Config, Error, ErrorKind, Method};
use rvs::mgmt::health::CheckSpec;

/// A NAT director with one service; `svc` is appended inside the `[[service]]` (before
/// its real servers), `tail` after them.
fn text(svc: &str, tail: &str) -> String {
    format!(
        r#"[cores]
workers = [0]

[[port]]
name = "ext"
device = "net_null0"
addresses = ["203.0.113.1/24"]

[[port]]
name = "int"
device = "net_null1"
addresses = ["192.0.2.1/24"]

[[service]]
proto = "tcp"
vip = "203.0.113.10"
port = 80
{svc}
[[service.real]]
addr = "192.0.2.11"
port = 8080
method = "nat"
weight = 2

[[service.real]]
addr = "192.0.2.12"
port = 8080
method = "nat"
{tail}"#
    )
}

fn load(svc: &str, tail: &str) -> Config {
    let t = text(svc, tail);
    match Config::from_str_named(&t, "h.toml") {
        Ok(c) => c,
        Err(e) => panic!("{e}\n{t}"),
    }
}

/// The error for this text, checked to be at `line` and `key` with `reason` in it.
fn bad(svc: &str, tail: &str, line: usize, key: &str, reason: &str) -> Error {
    let t = text(svc, tail);
    let e = Config::from_str_named(&t, "h.toml").expect_err(&t);
    assert_eq!(
        (e.line(), e.key()),
        (Some(line), Some(key)),
        "{e}\n--- text:\n{}",
        t.lines()
            .enumerate()
            .map(|(i, l)| format!("{:3} {l}\n", i + 1))
            .collect::<String>()
    );
    assert!(e.reason().contains(reason), "{e} lacks {reason:?}");
    assert_eq!(
        e.to_string(),
        format!("h.toml:{line}: {key}: {}", e.reason())
    );
    e
}

/// Line of the first line of `svc` in `text(svc, _)`.
const SVC: usize = 18;

#[test]
fn no_health_keys_means_not_checked() {
    let c = load("", "");
    let s = &c.services[0];
    assert!(s.health.check.is_none());
    assert!(s.reals.iter().all(|r| s.check_of(r).is_none()));
    assert_eq!(s.health.delay_loop, Duration::from_secs(60));
    assert_eq!((s.health.quorum, s.health.hysteresis), (1, 0));
    assert!(!s.health.alpha && !s.health.inhibit_on_failure);
    assert!(s.health.sorry_server.is_none() && s.health.passive.is_none());
}

#[test]
fn keepalived_defaults_per_checker() {
    let c = load("[service.check.TCP_CHECK]\n", "");
    let s = &c.services[0];
    let chk = s.health.check.as_ref().unwrap();
    assert_eq!(chk.connect_timeout, Duration::from_secs(5));
    assert_eq!(chk.retry, 1);
    assert_eq!(chk.delay_before_retry, Duration::from_secs(1));
    assert_eq!(chk.rise, 1);
    assert_eq!(chk.delay_loop, Duration::from_secs(60));
    assert_eq!(chk.warmup, Duration::ZERO);
    // Every real server without its own check gets the service's.
    assert!(s.reals.iter().all(|r| s.check_of(r) == Some(chk)));

    let c = load(
        "delay_loop = 6\n[service.check.HTTP_GET]\n[[service.check.HTTP_GET.url]]\npath = \"/\"\n",
        "",
    );
    let chk = c.services[0].health.check.clone().unwrap();
    assert_eq!(chk.delay_before_retry, Duration::from_secs(3), "HTTP_GET");
    assert_eq!(chk.delay_loop, Duration::from_secs(6), "the service's");

    let c = load("delay_loop = 2.5\n[service.check.DNS_CHECK]\n", "");
    let chk = c.services[0].health.check.clone().unwrap();
    assert_eq!(
        chk.delay_before_retry,
        Duration::from_millis(2500),
        "DNS_CHECK: delay_loop"
    );
    // MISC_CHECK's timeout without misc_timeout is delay_loop, as keepalived.
    let c = load(
        "[service.check.MISC_CHECK]\nmisc_path = \"/bin/true\"\n",
        "",
    );
    let chk = c.services[0].health.check.clone().unwrap();
    assert_eq!(chk.job_timeout(), Duration::from_secs(60));
}

#[test]
fn every_key_read() {
    let svc = r#"delay_loop = 6
alpha = true
quorum = 3
hysteresis = 1
quorum_up = "/usr/local/bin/vs-up 'web farm' up"
quorum_down = "/usr/local/bin/vs-down"
inhibit_on_failure = true
virtualhost = "www.example.com"

[service.sorry_server]
addr = "192.0.2.50"
inhibit = true

[service.check]
connect_timeout = 0.5
retry = 3
delay_before_retry = 2
rise = 2
delay_loop = 1.5
warmup = 4
[service.check.HTTP_GET]
[[service.check.HTTP_GET.url]]
path = "/health"
status_code = 200

[service.passive]
failures = 5
interval = 10
"#;
    let tail = r#"inhibit_on_failure = false
notify_up = "/usr/local/bin/rs-up 192.0.2.12"
notify_down = "/usr/local/bin/rs-down 192.0.2.12"
[service.real.check]
retry = 0
[service.real.check.TCP_CHECK]
connect_port = 8081
"#;
    let c = load(svc, tail);
    let s = &c.services[0];
    let h = &s.health;
    assert_eq!(h.delay_loop, Duration::from_secs(6));
    assert!(h.alpha && h.inhibit_on_failure);
    assert_eq!((h.quorum, h.hysteresis), (3, 1));
    assert_eq!(
        h.quorum_up.as_ref().unwrap().argv,
        ["/usr/local/bin/vs-up", "web farm", "up"]
    );
    assert_eq!(
        h.quorum_down.as_ref().unwrap().program(),
        "/usr/local/bin/vs-down"
    );
    assert_eq!(h.virtualhost.as_deref(), Some("www.example.com"));
    let sorry = h.sorry_server.unwrap();
    assert_eq!(sorry.addr, Ipv4Addr::new(192, 0, 2, 50));
    assert_eq!(sorry.port, 80, "default: the service port");
    assert_eq!(
        sorry.method,
        Method::Nat,
        "default: the first real server's"
    );
    assert!(sorry.inhibit);
    let p = h.passive.unwrap();
    assert_eq!((p.failures, p.interval), (5, Duration::from_secs(10)));

    let chk = h.check.as_ref().unwrap();
    assert_eq!(chk.connect_timeout, Duration::from_millis(500));
    assert_eq!((chk.retry, chk.rise), (3, 2));
    assert_eq!(chk.delay_before_retry, Duration::from_secs(2));
    assert_eq!(chk.delay_loop, Duration::from_millis(1500));
    assert_eq!(chk.warmup, Duration::from_secs(4));
    let CheckSpec::Http(get) = &*chk.spec else {
        panic!("{:?}", chk.spec)
    };
    assert_eq!(
        get.virtualhost.as_deref(),
        Some("www.example.com"),
        "the service's Host"
    );
    assert_eq!(get.url[0].path, "/health");

    // The first real server: the service's check and inhibit_on_failure.
    let r0 = &s.reals[0];
    assert!(r0.health.check.is_none() && r0.health.inhibit_on_failure);
    assert_eq!(s.check_of(r0), Some(chk));
    assert!(r0.health.notify_up.is_none());
    // The second: its own check, with the timing keys it left out from the service's.
    let r1 = &s.reals[1];
    assert!(!r1.health.inhibit_on_failure);
    assert_eq!(r1.health.notify_up.as_ref().unwrap().args(), ["192.0.2.12"]);
    assert_eq!(
        r1.health.notify_down.as_ref().unwrap().program(),
        "/usr/local/bin/rs-down"
    );
    let own = r1.health.check.as_ref().unwrap();
    assert_eq!(s.check_of(r1), Some(own));
    assert_eq!(own.retry, 0, "its own");
    assert_eq!(own.connect_timeout, Duration::from_millis(500), "inherited");
    assert_eq!(own.rise, 2, "inherited");
    assert_eq!(own.delay_loop, Duration::from_millis(1500), "inherited");
    assert_eq!(own.delay_before_retry, Duration::from_secs(2), "inherited");
    let CheckSpec::Tcp(t) = &*own.spec else {
        panic!("{:?}", own.spec)
    };
    assert_eq!(t.connect_port, Some(8081));
}

#[test]
fn two_checkers_or_none() {
    bad(
        "[service.check.TCP_CHECK]\n[service.check.MISC_CHECK]\nmisc_path = \"/bin/true\"\n",
        "",
        SVC + 1,
        "service[0].check.MISC_CHECK",
        "one checker per check: TCP_CHECK and MISC_CHECK",
    );
    bad(
        "[service.check]\nretry = 2\n",
        "",
        SVC,
        "service[0].check",
        "a check needs one checker",
    );
    // A real server's own check needs its own checker too.
    bad(
        "[service.check.TCP_CHECK]\n",
        "[service.real.check]\nretry = 2\n",
        SVC + 12,
        "service[0].real[1].check",
        "a check needs one checker",
    );
}

#[test]
fn out_of_range_values_are_located() {
    bad(
        "[service.check]\nretry = -1\n[service.check.TCP_CHECK]\n",
        "",
        SVC + 1,
        "service[0].check.retry",
        "retry: -1 is out of range (0..65535)",
    );
    bad(
        "[service.check]\nrise = 0\n[service.check.TCP_CHECK]\n",
        "",
        SVC + 1,
        "service[0].check.rise",
        "rise: 0 is out of range",
    );
    bad(
        "[service.check]\nconnect_timeout = 0\n[service.check.TCP_CHECK]\n",
        "",
        SVC + 1,
        "service[0].check.connect_timeout",
        "0 s: must be from 0.001 to 86400 seconds",
    );
    bad(
        "delay_loop = -6\n",
        "",
        SVC,
        "service[0].delay_loop",
        "-6 s",
    );
    bad(
        "quorum = 0\n",
        "",
        SVC,
        "service[0].quorum",
        "quorum: 0 is out of range",
    );
    bad(
        "hysteresis = -1\n",
        "",
        SVC,
        "service[0].hysteresis",
        "out of range",
    );
    bad(
        "[service.passive]\nfailures = 0\ninterval = 10\n[service.check.TCP_CHECK]\n",
        "",
        SVC + 1,
        "service[0].passive.failures",
        "failures: 0 is out of range",
    );
    // An inherited bad value is named where it is written: the service's check.
    bad(
        "[service.check]\nrise = 70000\n[service.check.TCP_CHECK]\n",
        "",
        SVC + 1,
        "service[0].check.rise",
        "out of range",
    );
}

#[test]
fn checker_shapes_come_from_the_checkers() {
    // spec.rs's own validation, located at the checker's table.
    bad(
        "[service.check.HTTP_GET]\n[[service.check.HTTP_GET.url]]\npath = \"health\"\n",
        "",
        SVC,
        "service[0].check.HTTP_GET",
        "url path \"health\" must start with '/'",
    );
    bad(
        "[service.check.HTTP_GET]\nurl = []\n",
        "",
        SVC,
        "service[0].check.HTTP_GET",
        "HTTP_GET needs at least one url",
    );
    // serde's own: an unknown key of a checker, at its line.
    bad(
        "[service.check.TCP_CHECK]\nconect_port = 80\n",
        "",
        SVC + 1,
        "service[0].check.TCP_CHECK.conect_port",
        "unknown field `conect_port`",
    );
    bad(
        "[service.check.PING_CHECK]\n",
        "",
        SVC,
        "service[0].check.PING_CHECK",
        "unknown field `PING_CHECK`",
    );
    bad(
        "[service.check]\nconnect_timeout = 3\n[service.check.MISC_CHECK]\nmisc_path = \"/bin/true\"\n",
        "",
        SVC + 1,
        "service[0].check.connect_timeout",
        "MISC_CHECK has no connect_timeout",
    );
    bad(
        "virtualhost = \"a b\"\n",
        "",
        SVC,
        "service[0].virtualhost",
        "not a usable host name",
    );
}

#[test]
fn programs_sorry_server_and_passive() {
    bad(
        "quorum_up = \"/bin/x 'unterminated\"\n",
        "",
        SVC,
        "service[0].quorum_up",
        "unterminated '",
    );
    bad(
        "",
        "notify_down = \"  \"\n",
        SVC + 11,
        "service[0].real[1].notify_down",
        "no program to run",
    );
    bad(
        "[service.sorry_server]\naddr = \"192.0.2.11\"\nport = 8080\n",
        "",
        SVC + 1,
        "service[0].sorry_server.addr",
        "sorry server 192.0.2.11:8080 is also a real server",
    );
    bad(
        "[service.sorry_server]\naddr = \"198.51.100.9\"\n",
        "",
        SVC + 1,
        "service[0].sorry_server.addr",
        "no connected subnet or [[route]] reaches real server 198.51.100.9",
    );
    bad(
        "[service.sorry_server]\naddr = \"192.0.2.50\"\nmethod = \"ipip\"\n",
        "",
        SVC + 2,
        "service[0].sorry_server.method",
        "unknown method",
    );
    bad(
        "[service.passive]\nfailures = 5\ninterval = 10\n",
        "",
        SVC,
        "service[0].passive",
        "passive detection needs active checks",
    );
    // dr sorry server: its port is the service's, as for a dr real server.
    let c = load(
        "[service.sorry_server]\naddr = \"192.0.2.50\"\nport = 8080\nmethod = \"dr\"\n",
        "",
    );
    let s = c.services[0].health.sorry_server.unwrap();
    assert_eq!((s.port, s.method, s.inhibit), (80, Method::Dr, false));
}

#[test]
fn error_kinds() {
    let e = bad(
        "[service.check.TCP_CHECK]\n[service.check.UDP_CHECK]\n",
        "",
        SVC + 1,
        "service[0].check.UDP_CHECK",
        "one checker",
    );
    assert_eq!(e.kind(), Some(ErrorKind::Conflict));
    let e = bad("quorum = 0\n", "", SVC, "service[0].quorum", "quorum");
    assert_eq!(e.kind(), Some(ErrorKind::Range));
}

#[test]
fn monitor_targets_from_the_file() {
    use rvs::mgmt::health::ServiceTargets;
    let c = load(
        "inhibit_on_failure = true\n[service.check.TCP_CHECK]\n",
        "notify_up = \"/bin/true\"\n[service.real.check.MISC_CHECK]\nmisc_path = \"/bin/true\"\n",
    );
    let t = ServiceTargets::all_from_config(&c);
    assert_eq!(t.len(), 1);
    let t = &t[0];
    assert_eq!(
        t.service,
        rvs::mgmt::services::service_key(&c.services[0].key)
    );
    assert_eq!(t.reals.len(), 2);
    let (a, b) = (&t.reals[0], &t.reals[1]);
    assert_eq!(
        (a.addr, a.port, a.weight),
        (Ipv4Addr::new(192, 0, 2, 11), 8080, 2)
    );
    assert_eq!(
        a.check.as_ref().unwrap().spec.kind(),
        "TCP_CHECK",
        "the service's"
    );
    assert_eq!(
        b.check.as_ref().unwrap().spec.kind(),
        "MISC_CHECK",
        "its own"
    );
    assert!(a.inhibit_on_failure && b.inhibit_on_failure);
    assert!(a.notify_up.is_none() && b.notify_up.is_some());
    // A server added at run time gets the service's defaults.
    let added =
        rvs::mgmt::health::Target::with_defaults(&t.health, Ipv4Addr::new(192, 0, 2, 13), 8080, 1);
    assert_eq!(added.check, a.check);
    assert!(added.inhibit_on_failure);
}

#[test]
fn a_mark_service_real_server_on_port_0_needs_connect_port() {
    let file = |check: &str| {
        format!(
            r#"[cores]
workers = [0]

[[port]]
name = "ext"
device = "net_null0"
addresses = ["203.0.113.1/24", "192.0.2.1/24"]

[[mark]]
mark = 1
rules = [{{ proto = "tcp", vip = "203.0.113.10/32" }}]

[[service]]
mark = 1
persistent = 300
{check}
[[service.real]]
addr = "192.0.2.11"
"#
        )
    };
    let t = file("[service.check.TCP_CHECK]\n");
    let e = Config::from_str_named(&t, "m.toml").unwrap_err();
    assert_eq!(
        e.to_string(),
        "m.toml:18: service[0].real[0].port: real server 192.0.2.11 has port 0 (each packet's own port): its TCP_CHECK needs connect_port"
    );
    let t = file("[service.check.TCP_CHECK]\nconnect_port = 80\n");
    Config::from_str_named(&t, "m.toml").unwrap();
    let t = file("[service.check.MISC_CHECK]\nmisc_path = \"/bin/true\"\n");
    Config::from_str_named(&t, "m.toml").unwrap();
}
