//! Each checker against lab real servers through a real rvsd (issue 12, "tests that
//! must exist"): HTTP_GET with the wrong status or the wrong digest takes a real server
//! out, the right one brings it back; SSL_GET against a TLS server; UDP_CHECK and
//! DNS_CHECK against a UDP echo and a DNS responder; MISC_CHECK, with `misc_dynamic`
//! weights visible in `rvsadm -Ln`; and `inhibit_on_failure`: weight 0 while down, and a
//! long-lived connection to it goes on being served (expire_nodest_conn off).
//!
//! Checks run every second with retry 0 and rise 1, so each change shows in `rvsadm -Ln`
//! within about two seconds; the waits allow [`WAIT`] on a loaded machine.

mod common;
use std::time::Duration;

use common::hclab::{log_about, md5_hex, wait_for, Adm, Extras, HealthLab, Server, Topo, REALS};
use common::lab::lab_available;
use common::load::{monotonic_now, per_server, windows, Load};

/// Seconds a change may take to show (module doc).
const WAIT: f64 = 10.0;

/// A NAT TCP service on VIP:`port` over the three real servers' `rport`, with `check` as
/// the service's default check (the TOML after `[service.check]`), `more` added to the
/// service's keys.
fn service(proto: &str, port: u16, rport: u16, more: &str, check: &str) -> String {
    let mut s = format!(
        "[[service]]\nproto = \"{proto}\"\nvip = \"203.0.113.10\"\nport = {port}\nscheduler = \"rr\"\ndelay_loop = 1\n{more}\n\
         [service.check]\nconnect_timeout = 1\nretry = 0\nrise = 1\n{check}\n"
    );
    for addr in REALS {
        s.push_str(&format!(
            "[[service.real]]\naddr = \"{addr}\"\nport = {rport}\nmethod = \"nat\"\nweight = 1\n\n"
        ));
    }
    s
}

/// Waits until `dest` of `svc` is listed (`Some(weight)`) or absent (`None`) as `want`.
fn expect(
    adm: &Adm,
    svc: &str,
    dest: &str,
    want: Option<u32>,
    what: &str,
    log: &dyn Fn() -> String,
) {
    let seen = wait_for(WAIT, || {
        (adm.dests(svc).get(dest).map(|(_, w)| *w) == want).then_some(())
    });
    assert!(
        seen.is_some(),
        "{what}: {dest} in {svc} expected {want:?}, listing {:?}\n{}",
        adm.dests(svc),
        log()
    );
}

#[test]
fn http_get_wrong_status_or_digest_is_down_and_right_is_up() {
    if !lab_available("http_get_wrong_status_or_digest_is_down_and_right_is_up") {
        return;
    }
    let mut hl = HealthLab::new(Topo::Nat, Extras::default());
    let check = format!(
        "[service.check.HTTP_GET]\n[[service.check.HTTP_GET.url]]\npath = \"/health/http\"\nstatus_code = \"200\"\ndigest = \"{}\"\n",
        md5_hex("ok\n")
    );
    let services = service("tcp", 80, 8080, "", &check);
    let (rvsd, adm) = hl.rvsd(Some(&services), &[]);
    let svc = "TCP 203.0.113.10:80";
    hl.wait_vip(&rvsd, 80);
    let rs2 = hl.dest(1);
    let log = || log_about(&rvsd.log_text(), REALS[1]);
    assert!(wait_for(WAIT, || (adm.dests(svc).len() == 3).then_some(())).is_some());

    hl.set_health(1, "http", 503, None);
    expect(&adm, svc, &rs2, None, "HTTP 503", &log);
    assert!(
        log().contains("503"),
        "the reason names the status:\n{}",
        log()
    );
    hl.set_health(1, "http", 200, None);
    expect(&adm, svc, &rs2, Some(1), "HTTP 200 again", &log);

    hl.set_health(1, "http", 200, Some("not ok\n"));
    expect(&adm, svc, &rs2, None, "wrong digest", &log);
    hl.set_health(1, "http", 200, None);
    expect(&adm, svc, &rs2, Some(1), "right digest again", &log);

    // The others were never touched.
    let d = adm.dests(svc);
    assert!(
        d.contains_key(&hl.dest(0)) && d.contains_key(&hl.dest(2)),
        "{d:?}"
    );
    let out = hl.lab.sh_ok(
        "client",
        "for i in 1 2 3 4 5 6; do curl -sf -m 5 http://203.0.113.10/ || echo FAIL; done",
    );
    assert!(out.contains("rs2") && !out.contains("FAIL"), "{out}");
    rvsd.stop();
}

#[test]
fn ssl_get_follows_a_tls_server() {
    if !lab_available("ssl_get_follows_a_tls_server") {
        return;
    }
    let mut hl = HealthLab::new(
        Topo::Nat,
        Extras {
            https: true,
            ..Extras::default()
        },
    );
    let check = "[service.check.SSL_GET]\nconnect_port = 8443\n[[service.check.SSL_GET.url]]\npath = \"/health/tls\"\nstatus_code = \"200\"\n";
    let services = service("tcp", 80, 8080, "", check);
    let (rvsd, adm) = hl.rvsd(Some(&services), &[]);
    let svc = "TCP 203.0.113.10:80";
    hl.wait_vip(&rvsd, 80);
    let rs3 = hl.dest(2);
    let log = || log_about(&rvsd.log_text(), REALS[2]);
    assert!(
        wait_for(WAIT, || (adm.dests(svc).len() == 3).then_some(())).is_some(),
        "SSL_GET must pass against the TLS servers: {:?}\n{}",
        adm.dests(svc),
        rvsd.log_text()
    );
    hl.stop(2, Server::Https);
    expect(&adm, svc, &rs3, None, "TLS server stopped", &log);
    hl.start(2, Server::Https);
    expect(&adm, svc, &rs3, Some(1), "TLS server started", &log);
    // An HTTP failure over TLS counts as well.
    hl.set_health(2, "tls", 500, None);
    expect(&adm, svc, &rs3, None, "HTTPS 500", &log);
    hl.set_health(2, "tls", 200, None);
    expect(&adm, svc, &rs3, Some(1), "HTTPS 200", &log);
    rvsd.stop();
}

#[test]
fn udp_and_dns_checks_follow_lab_responders() {
    if !lab_available("udp_and_dns_checks_follow_lab_responders") {
        return;
    }
    let mut hl = HealthLab::new(
        Topo::Nat,
        Extras {
            udp: true,
            ..Extras::default()
        },
    );
    // DNS: www.example.test A (hc_servers.py answers 192.0.2.12). UDP with a reply:
    // udpecho.py answers "rsN <payload>", so the reply starts with "rs" (72 73). UDP
    // without require_reply: up unless an ICMP port unreachable comes back.
    let services = [
        service(
            "udp",
            53,
            53,
            "",
            "[service.check.DNS_CHECK]\ntype = \"A\"\nname = \"www.example.test\"\n",
        ),
        service(
            "udp",
            5000,
            5000,
            "",
            "[service.check.UDP_CHECK]\npayload = \"68 63\"\nrequire_reply = true\nreply = \"72 73\"\n",
        ),
        service(
            "udp",
            5001,
            5000,
            "",
            "[service.check.UDP_CHECK]\npayload = \"68 63\"\n",
        ),
    ]
    .concat();
    let (rvsd, adm) = hl.rvsd(Some(&services), &[]);
    let (dns, echo, icmp) = (
        "UDP 203.0.113.10:53",
        "UDP 203.0.113.10:5000",
        "UDP 203.0.113.10:5001",
    );
    let all_up = wait_for(WAIT, || {
        [dns, echo, icmp]
            .iter()
            .all(|s| adm.dests(s).len() == 3)
            .then_some(())
    });
    assert!(
        all_up.is_some(),
        "every UDP real server up expected:\n{}\n{}",
        adm.ok("-Ln"),
        rvsd.log_text()
    );
    let log2 = || log_about(&rvsd.log_text(), REALS[1]);
    let log1 = || log_about(&rvsd.log_text(), REALS[0]);

    hl.stop(1, Server::Dns);
    expect(
        &adm,
        dns,
        "192.0.2.12:53",
        None,
        "DNS responder stopped",
        &log2,
    );
    assert_eq!(
        adm.dests(echo).len(),
        3,
        "the UDP services are not affected"
    );
    hl.start(1, Server::Dns);
    expect(
        &adm,
        dns,
        "192.0.2.12:53",
        Some(1),
        "DNS responder started",
        &log2,
    );

    hl.stop(0, Server::UdpEcho);
    expect(
        &adm,
        echo,
        "192.0.2.11:5000",
        None,
        "UDP echo stopped (no reply)",
        &log1,
    );
    expect(
        &adm,
        icmp,
        "192.0.2.11:5000",
        None,
        "UDP echo stopped (ICMP)",
        &log1,
    );
    assert_eq!(adm.dests(dns).len(), 3, "the DNS service is not affected");
    hl.start(0, Server::UdpEcho);
    expect(
        &adm,
        echo,
        "192.0.2.11:5000",
        Some(1),
        "UDP echo started",
        &log1,
    );
    expect(
        &adm,
        icmp,
        "192.0.2.11:5000",
        Some(1),
        "UDP echo started (ICMP)",
        &log1,
    );

    // The DNS service carries queries to the responders.
    let answer = hl.lab.sh_ok(
        "client",
        "/usr/bin/python3 -c \"import socket,struct; s=socket.socket(2,2); s.settimeout(3); \
         q=b'\\x12\\x34\\x01\\x00\\x00\\x01\\x00\\x00\\x00\\x00\\x00\\x00\\x03www\\x07example\\x04test\\x00\\x00\\x01\\x00\\x01'; \
         s.sendto(q,('203.0.113.10',53)); r=s.recv(512); print(r[:2].hex(), struct.unpack('>H',r[6:8])[0], r[-4:].hex())\"",
    );
    assert_eq!(answer.trim(), "1234 1 c000020c", "DNS through the VIP");
    rvsd.stop();
}

#[test]
fn misc_check_with_dynamic_weights_shows_in_the_listing() {
    if !lab_available("misc_check_with_dynamic_weights_shows_in_the_listing") {
        return;
    }
    let mut hl = HealthLab::new(Topo::Nat, Extras::default());
    let dir = hl.dir.clone();
    let code = |i: usize| dir.join(format!("misc-rs{}", i + 1));
    for i in 0..2 {
        std::fs::write(code(i), "0").unwrap();
    }
    // rs1: misc_dynamic; rs2: plain MISC_CHECK; rs3: no check at all (always up).
    let misc = |i: usize, dynamic: bool| {
        format!(
            "[service.real.check]\nretry = 0\nrise = 1\n\
             [service.real.check.MISC_CHECK]\nmisc_path = \"/bin/sh\"\nmisc_args = [\"-c\", \"exit $(cat {})\"]\nmisc_timeout = 3\nmisc_dynamic = {dynamic}\n",
            code(i).display()
        )
    };
    let services = format!(
        "[[service]]\nproto = \"tcp\"\nvip = \"203.0.113.10\"\nport = 80\nscheduler = \"wrr\"\ndelay_loop = 1\n\n\
         [[service.real]]\naddr = \"192.0.2.11\"\nport = 8080\nmethod = \"nat\"\nweight = 1\n{}\n\
         [[service.real]]\naddr = \"192.0.2.12\"\nport = 8080\nmethod = \"nat\"\nweight = 1\n{}\n\
         [[service.real]]\naddr = \"192.0.2.13\"\nport = 8080\nmethod = \"nat\"\nweight = 1\n",
        misc(0, true),
        misc(1, false)
    );
    let (rvsd, adm) = hl.rvsd(Some(&services), &[]);
    let svc = "TCP 203.0.113.10:80";
    hl.wait_vip(&rvsd, 80);
    let (rs1, rs2) = (hl.dest(0), hl.dest(1));
    let log1 = || log_about(&rvsd.log_text(), REALS[0]);
    let log2 = || log_about(&rvsd.log_text(), REALS[1]);
    expect(&adm, svc, &rs1, Some(1), "exit 0", &log1);
    expect(&adm, svc, &rs2, Some(1), "exit 0", &log2);

    // keepalived misc_dynamic: exit 2..255 is up with weight = code - 2; exit 1 is down.
    for (c, want) in [
        (7, Some(5)),
        (2, Some(0)),
        (1, None),
        (4, Some(2)),
        (255, Some(253)),
    ] {
        std::fs::write(code(0), c.to_string()).unwrap();
        expect(
            &adm,
            svc,
            &rs1,
            want,
            &format!("misc_dynamic exit {c}"),
            &log1,
        );
    }
    // The weight is the scheduler's: wrr 253 : 1 over rs1 and rs3 (rs2 set down first).
    std::fs::write(code(1), "3").unwrap();
    expect(&adm, svc, &rs2, None, "plain MISC_CHECK exit 3", &log2);
    let out = hl.lab.sh_ok(
        "client",
        "for i in $(seq 30); do curl -sf -m 5 http://203.0.113.10/ || echo FAIL; done",
    );
    let rs1_n = out.lines().filter(|l| *l == "rs1").count();
    assert!(
        rs1_n >= 28 && !out.contains("FAIL") && !out.contains("rs2"),
        "wrr 253:1 expected nearly all on rs1:\n{out}"
    );
    std::fs::write(code(1), "0").unwrap();
    expect(&adm, svc, &rs2, Some(1), "plain MISC_CHECK exit 0", &log2);
    assert_eq!(
        adm.dests(svc).get(&hl.dest(2)).map(|d| d.1),
        Some(1),
        "rs3 has no check and stays"
    );
    rvsd.stop();
}

#[test]
fn inhibit_on_failure_keeps_weight_zero_and_long_lived_connections() {
    if !lab_available("inhibit_on_failure_keeps_weight_zero_and_long_lived_connections") {
        return;
    }
    let mut hl = HealthLab::new(Topo::Nat, Extras::default());
    let check =
        "[service.check.HTTP_GET]\n[[service.check.HTTP_GET.url]]\npath = \"/health/inh\"\n";
    let services = service("tcp", 80, 8080, "inhibit_on_failure = true", check);
    let (rvsd, adm) = hl.rvsd(Some(&services), &[]);
    let svc = "TCP 203.0.113.10:80";
    hl.wait_vip(&rvsd, 80);
    assert!(wait_for(WAIT, || (adm.dests(svc).len() == 3).then_some(())).is_some());
    assert!(
        std::fs::read_to_string(&rvsd.config)
            .unwrap()
            .contains("expire_nodest_conn = false"),
        "the lab runs with expire_nodest_conn off"
    );
    let load = Load::start(&mut hl.lab, "inh", "client", ("203.0.113.10", 80), 3, None);
    load.wait_new(20);
    // The real server that carries a long-lived connection is the one to fail.
    let ka = load.keepalive();
    let (conn, name) = ka
        .iter()
        .find_map(|o| o.server.clone().map(|s| (o.conn, s)))
        .expect("a keep-alive connection answered");
    let i: usize = name.trim_start_matches("rs").parse::<usize>().unwrap() - 1;
    let dest = hl.dest(i);
    let log = || log_about(&rvsd.log_text(), REALS[i]);

    hl.set_health(i, "inh", 503, None);
    expect(&adm, svc, &dest, Some(0), "inhibited: weight 0", &log);
    let m_down = monotonic_now();
    let n_down = load.keepalive().len();
    std::thread::sleep(Duration::from_secs(3));
    let kept = load.keepalive();
    let on_conn: Vec<_> = kept[n_down..].iter().filter(|o| o.conn == conn).collect();
    assert!(
        on_conn.len() >= 10 && on_conn.iter().all(|o| o.server.as_deref() == Some(&name)),
        "the long-lived connection to {name} must go on while it is inhibited: {on_conn:?}"
    );
    let m_restore = monotonic_now();
    hl.set_health(i, "inh", 200, None);
    expect(&adm, svc, &dest, Some(1), "back with its weight", &log);
    let m_up = monotonic_now();
    let again = wait_for(WAIT, || {
        load.new_conns()
            .iter()
            .any(|o| o.t > m_up && o.server.as_deref() == Some(&name))
            .then_some(())
    });
    let (new, ka) = load.stop();
    let report = windows(&new, 20);
    assert!(
        again.is_some(),
        "{name} got no new connection once back:\n{report}"
    );
    let quiet: Vec<_> = new
        .iter()
        .filter(|o| o.t > m_down + 0.5 && o.t <= m_restore)
        .collect();
    assert!(
        quiet.len() >= 10
            && quiet
                .iter()
                .all(|o| o.server.is_some() && o.server.as_deref() != Some(&name)),
        "no new connection to an inhibited server: {:?}\n{report}",
        per_server(&quiet.into_iter().cloned().collect::<Vec<_>>())
    );
    assert!(
        new.iter().all(|o| o.server.is_some()) && ka.iter().all(|o| o.server.is_some()),
        "nothing may fail: {:?} {:?}",
        per_server(&new),
        per_server(&ka)
    );
    rvsd.stop();
}
