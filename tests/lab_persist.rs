//! Persistence end to end (LVS `-p`), on the one-armed DR lab: a persistence template
//! pins a client address to one real server for the persistence timeout after its last
//! controlled connection, and a firewall-mark service shares one template across ports.
//!
//! Why DR: the director sees only the client's half of each connection, so a closed
//! connection sits in FIN_WAIT with the `tcpfin` timeout, which `[timeouts]` can make
//! 1 s. Under NAT it would sit in CLOSE_WAIT (60 s) then TIME_WAIT (120 s), fixed IPVS
//! timeouts, and the template (re-armed for 60 s whenever its timer fires while it still
//! controls an entry) would outlive any test.

mod common;
use common::lab::lab_available;
use common::rvsd::Rvsd;
use common::scenario::{curl_n, serial, slow_get};
use common::topo::{tally, OneArmed, OneArmedLab};
use std::time::Duration;

/// The one server that answered every line of `out`, or a failure naming the spread.
fn sticky_server(out: &str, n: usize, what: &str) -> String {
    let t = tally(out);
    assert_eq!(t.len(), 1, "{what}: requests were spread: {t:?}");
    let (server, count) = t.into_iter().next().expect("one entry");
    assert!(
        server.starts_with("rs") && count == n,
        "{what}: {server} x{count}"
    );
    server
}

/// `-t 192.0.2.10:80 -s rr -p 3` over rs1..rs3 (DR), tcpfin 1 s, a small table so the
/// sweep passes every slot many times a second.
#[test]
fn dr_persistence_pins_a_client_until_the_template_expires() {
    if !lab_available("dr_persistence_pins_a_client_until_the_template_expires") {
        return;
    }
    let _serial = serial();
    let dr = OneArmedLab::new(OneArmed::Dr);
    let rvsd = dr.rvsd(
        "lab-dr.toml",
        &[
            ("persistent = 300", "persistent = 3"),
            (
                "[[service]]",
                "[tables]\nmax_conns = 4096\n\n[timeouts]\ntcp = 900\ntcpfin = 1\nudp = 300\n\n[[service]]",
            ),
        ],
    );
    let lab = &dr.lab;
    assert!(
        lab.wait_until("client", "curl -sf -m 2 http://192.0.2.10/", 15),
        "{}",
        rvsd.log_text()
    );
    // Phase 1: 20 connections from one address, one server (the probe made the template).
    let first = sticky_server(
        &curl_n(lab, "client", "http://192.0.2.10/", 20, ""),
        20,
        "phase 1",
    );
    // Every connection is in FIN_WAIT (1 s) within a second of the last; the template
    // runs out 3 s after the last new connection. 6 s is past both, with slack for
    // the seconds-granular clock.
    std::thread::sleep(Duration::from_secs(6));
    // Phase 2: a fresh template, picked by rr: the next server, sticky again.
    let second = sticky_server(
        &curl_n(lab, "client", "http://192.0.2.10/", 20, ""),
        20,
        "phase 2",
    );
    assert_ne!(
        first, second,
        "the template should have expired and rr moved on"
    );
    // Phase 3: a live connection keeps its template alive past the persistence timeout
    // (IPVS re-arms a template that still controls connections).
    let slow = slow_get(lab, "client", "192.0.2.10", 80, 800_000, 100_000);
    std::thread::sleep(Duration::from_secs(5));
    let mut slow = slow;
    if !slow.running() {
        let out = slow.finish(1);
        panic!(
            "the slow download ended too early: {out:?}\n{}",
            rvsd.stop()
        );
    }
    let third = sticky_server(
        &curl_n(lab, "client", "http://192.0.2.10/", 5, ""),
        5,
        "phase 3",
    );
    assert_eq!(
        third, second,
        "a template that still controls a live connection must not expire"
    );
    let out = slow.finish(40);
    assert!(out.status.success(), "slow download failed: {out:?}");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "800000 200 ok");
    let log = rvsd.stop();
    assert!(Rvsd::counter_in(&log, "dr_out") > 0, "{log}");
    assert_eq!(Rvsd::counter_in(&log, "drop_table_full"), 0, "{log}");
}

/// `[[mark]]` 7 = tcp to the VIP on ports 80 and 443, and `-f 7 -s rr -p 60` over
/// rs1..rs3 (DR). `with_arp_helper` adds an address service on the same VIP (TCP 8081,
/// nothing listens there): see `dr_mark_only_vip_answers_arp`.
fn mark_lab(with_arp_helper: bool) -> (OneArmedLab, Rvsd) {
    let mut dr = OneArmedLab::new(OneArmed::Dr);
    for i in 1..=3 {
        let h = format!("rs{i}");
        dr.lab.spawn(
            &h,
            &format!("/usr/bin/python3 tests/lab/httpd.py {h} --port 443"),
        );
        assert!(dr.lab.wait_until(&h, "ss -ltn | grep -q ':443 '", 10));
    }
    let helper = if with_arp_helper {
        "[[service]]\nproto = \"tcp\"\nvip = \"192.0.2.10\"\nport = 8081\nscheduler = \"rr\"\n\n\
         [[service.real]]\naddr = \"192.0.2.11\"\nmethod = \"dr\"\n\n"
    } else {
        ""
    };
    let mark_service = format!(
        "[[mark]]\nmark = 7\nrules = [\n  \
         {{ proto = \"tcp\", vip = \"192.0.2.10\", ports = 80 }},\n  \
         {{ proto = \"tcp\", vip = \"192.0.2.10\", ports = 443 }},\n]\n\n\
         {helper}[[service]]\nmark = 7\nscheduler = \"rr\"\npersistent = 60\n"
    );
    let rvsd = dr.rvsd(
        "lab-dr.toml",
        &[(
            "[[service]]\nproto = \"tcp\"\nvip = \"192.0.2.10\"\nport = 80\nscheduler = \"rr\"\npersistent = 300\nnetmask = \"255.255.255.255\"\n",
            &mark_service,
        )],
    );
    assert!(
        std::fs::read_to_string(&rvsd.config)
            .unwrap()
            .contains("mark = 7\nscheduler"),
        "the mark service replacement did not apply"
    );
    (dr, rvsd)
}

/// Waits for the VIP to answer on :80; on failure shows the client's neighbour entry
/// and rvsd's counters.
fn wait_for_vip(lab: &common::lab::Lab, rvsd: Rvsd) -> Rvsd {
    if !lab.wait_until("client", "curl -sf -m 2 http://192.0.2.10/", 15) {
        let neigh = lab.sh_ok("client", "ip neigh show 192.0.2.10");
        panic!(
            "VIP:80 not answering; client neighbour entry: {neigh}\n{}",
            rvsd.stop()
        );
    }
    rvsd
}

/// One template per client address for both ports of the mark, so a client alternating
/// :80 and :443 stays on one server; another client address gets its own template (rr:
/// the next server).
#[test]
fn dr_mark_service_keeps_a_client_on_one_server_across_ports() {
    if !lab_available("dr_mark_service_keeps_a_client_on_one_server_across_ports") {
        return;
    }
    let _serial = serial();
    let (dr, rvsd) = mark_lab(true);
    let lab = &dr.lab;
    let rvsd = wait_for_vip(lab, rvsd);
    let alternate = |src: &str| {
        lab.sh_ok(
            "client",
            &format!(
                "for i in 1 2 3 4 5; do for p in 80 443; do \
                 curl -sf -m 5 --interface {src} http://192.0.2.10:$p/ || echo FAIL; done; done"
            ),
        )
    };
    let a = sticky_server(
        &alternate("192.0.2.2"),
        10,
        "client 192.0.2.2, ports 80/443",
    );
    let b = sticky_server(
        &alternate("192.0.2.3"),
        10,
        "client 192.0.2.3, ports 80/443",
    );
    assert_ne!(
        a, b,
        "each client address has its own template; rr gives the second one the next server"
    );
    // Port 8080 is not in the mark: nothing serves it on the VIP.
    let other = lab.sh("client", "curl -sf -m 2 http://192.0.2.10:8080/");
    assert!(!other.status.success(), "port 8080 must not be balanced");
    let log = rvsd.stop();
    assert!(Rvsd::counter_in(&log, "dr_out") > 0, "{log}");
}

/// A VIP that only a mark service uses must still be answered by ARP on the port whose
/// subnet holds every rule's address (configs/README.md, `interface`).
#[test]
fn dr_mark_only_vip_answers_arp() {
    if !lab_available("dr_mark_only_vip_answers_arp") {
        return;
    }
    let _serial = serial();
    let (dr, rvsd) = mark_lab(false);
    let rvsd = wait_for_vip(&dr.lab, rvsd);
    rvsd.stop();
}
