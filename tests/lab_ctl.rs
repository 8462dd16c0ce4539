//! Run-time changes and reloads under load, in the NAT lab (issue 11, "tests that must
//! exist" 3 and 4): a real client keeps requesting through the director while the real
//! `rvsadm` edits rvsd's tables over its control socket, or rvsd re-reads its config on
//! SIGHUP / `rvsadm reload`. No request may fail; after every change the real servers'
//! counts must follow the weights exactly; a broken config must be refused with a
//! located message while the running state and the traffic carry on.
//!
//! Exact counts without timing: the load's new-connection requests are strictly
//! sequential, so their order is `wrr`'s scheduling order. `wrr` (IPVS's gcd-stepped
//! variant, src/lb/sched/wrr.rs) is periodic: every window of sum(weights) x k
//! consecutive picks gives each real server exactly weight x k, once the sequence is
//! on the new weights. After a change returns, the one request possibly in flight and
//! one whole period (the partial cycle left by the change) are skipped, and the next
//! sum(weights) x k requests are counted.

mod common;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::lab::lab_available;
use common::load::{monotonic_now, per_server, windows, Load, Outcome};
use common::rvsd::Rvsd;
use common::topo::NatLab;

/// The load's VIP and port (service A of configs/lab-nat.toml, scheduler made `wrr`).
const VIP: &str = "203.0.113.10";
/// The VIP added at run time (in the ext port's subnet, so rvsd answers ARP for it).
const VIP2: &str = "203.0.113.20";

/// The client's second address, the new VIP's load's source.
const CLIENT2: &str = "203.0.113.3";

/// Counters that count other hosts' frames an af_packet port sees on its segment
/// (ARP between other hosts, the namespaces' IPv6 chatter), not packets rvsd was asked
/// to deliver (as tests/lab_neigh.rs).
const SEGMENT_NOISE: [&str; 3] = [
    "drop_other_host",
    "drop_arp_ignored",
    "drop_unknown_ethertype",
];

/// The real server at `rsN`'s address (tests/common/topo.rs REALS).
fn rip(rs: &str) -> &'static str {
    match rs {
        "rs1" => "192.0.2.11",
        "rs2" => "192.0.2.12",
        "rs3" => "192.0.2.13",
        _ => panic!("no real server {rs}"),
    }
}

/// The real `rvsadm`, talking to one rvsd's socket.
struct Adm {
    sock: PathBuf,
    /// State-changing commands run so far.
    edits: usize,
    /// Each one with the CLOCK_MONOTONIC time it returned, for failure reports.
    history: Vec<String>,
}

impl Adm {
    fn run(&self, args: &str) -> Output {
        Command::new(env!("CARGO_BIN_EXE_rvsadm"))
            .arg("--socket")
            .arg(&self.sock)
            .args(args.split_whitespace())
            .output()
            .expect("rvsadm runs")
    }

    /// Runs `rvsadm ARGS`, which must succeed; returns stdout.
    fn ok(&self, args: &str) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "rvsadm {args}: {}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// A state-changing command, counted.
    fn edit(&mut self, args: &str) {
        self.ok(args);
        self.edits += 1;
        self.history.push(format!(
            "{:.3} edit {}: {args}",
            monotonic_now(),
            self.edits
        ));
    }

    /// What went on around a failure: the last edits and rvsd's status (drops).
    fn report(&self) -> String {
        let from = self.history.len().saturating_sub(12);
        let st = self.run("status");
        format!(
            "last edits:\n{}\nrvsadm status:\n{}{}",
            self.history[from..].join("\n"),
            String::from_utf8_lossy(&st.stdout),
            String::from_utf8_lossy(&st.stderr)
        )
    }

    /// `rvsadm -Ln` without the connection counters: each service line ("TCP
    /// 203.0.113.10:80 wrr") with its real-server lines ("192.0.2.11:8080 Masq 1").
    fn listing(&self) -> BTreeMap<String, BTreeSet<String>> {
        parse_listing(&self.ok("-Ln"))
    }
}

/// Parses ipvsadm's `-Ln` text (IPVSADM.md): service lines start with the protocol,
/// real-server lines with `->`; ActiveConn and InActConn (which move under load) are
/// left out.
fn parse_listing(text: &str) -> BTreeMap<String, BTreeSet<String>> {
    let mut m: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let mut cur: Option<String> = None;
    for l in text.lines() {
        let t: Vec<&str> = l.split_whitespace().collect();
        match t.first().copied() {
            Some("TCP" | "UDP" | "FWM") => {
                let s = t.join(" ");
                m.entry(s.clone()).or_default();
                cur = Some(s);
            }
            Some("->") if t.get(1) != Some(&"RemoteAddress:Port") => {
                let s = cur
                    .clone()
                    .unwrap_or_else(|| panic!("dest before service:\n{text}"));
                m.get_mut(&s)
                    .unwrap()
                    .insert(t[1..4.min(t.len())].join(" "));
            }
            _ => {}
        }
    }
    m
}

/// A real server as a listing shows it: (rsN, port, weight), forwarding NAT.
type Real<'a> = (&'a str, u16, u32);

/// A listing as expected: `(service line, [real server])`.
fn expect_listing(services: &[(&str, &[Real])]) -> BTreeMap<String, BTreeSet<String>> {
    services
        .iter()
        .map(|(s, ds)| {
            (
                s.to_string(),
                ds.iter()
                    .map(|(rs, port, w)| format!("{}:{port} Masq {w}", rip(rs)))
                    .collect(),
            )
        })
        .collect()
}

/// One service the load uses, as the test believes it is: real server -> weight.
struct Svc {
    /// `VIP:PORT` as rvsadm's `-t` takes it.
    key: String,
    weights: BTreeMap<String, u32>,
}

impl Svc {
    fn new(key: &str, weights: &[(&str, u32)]) -> Svc {
        Svc {
            key: key.into(),
            weights: weights.iter().map(|(r, w)| (r.to_string(), *w)).collect(),
        }
    }

    fn total(&self) -> u32 {
        self.weights.values().sum()
    }

    /// `-e`: a real server's new weight.
    fn set(&mut self, adm: &mut Adm, rs: &str, w: u32) {
        adm.edit(&format!("-e -t {} -r {}:8080 -m -w {w}", self.key, rip(rs)));
        self.weights.insert(rs.into(), w);
    }

    /// `-d`: removes a real server.
    fn del(&mut self, adm: &mut Adm, rs: &str) {
        adm.edit(&format!("-d -t {} -r {}:8080", self.key, rip(rs)));
        self.weights.remove(rs);
    }

    /// `-a`: adds a real server.
    fn add(&mut self, adm: &mut Adm, rs: &str, w: u32) {
        adm.edit(&format!("-a -t {} -r {}:8080 -m -w {w}", self.key, rip(rs)));
        self.weights.insert(rs.into(), w);
    }
}

/// The window check (see the module doc): with `done` new-connection requests finished
/// when the change returned, skips the one in flight and one period, then requires
/// exactly weight x k answers from each real server over the next sum(weights) x k.
fn follows_weights(adm: &Adm, load: &Load, done: usize, svc: &Svc, k: usize, what: &str) {
    let p = svc.total() as usize;
    assert!(
        p > 0,
        "{what}: the test never leaves a service without weight"
    );
    let start = done + 1 + p;
    let end = start + p * k;
    let v = load.wait_new(end);
    let failed: Vec<&Outcome> = v.iter().filter(|o| o.server.is_none()).collect();
    assert!(
        failed.is_empty(),
        "{what}: failed requests {failed:?}\n{}",
        adm.report()
    );
    assert!(
        v.len() >= end,
        "{what}: the load stalled at {} requests\n{}",
        v.len(),
        adm.report()
    );
    let got = per_server(&v[start..end]);
    let want: BTreeMap<String, usize> = svc
        .weights
        .iter()
        .filter(|(_, w)| **w > 0)
        .map(|(r, w)| (r.clone(), *w as usize * k))
        .collect();
    assert_eq!(
        got,
        want,
        "{what}: {} weights {:?}: requests [{start}..{end}) per real server; windows of {p} since the change:\n{}",
        svc.key,
        svc.weights,
        windows(&v[done..end], p)
    );
}

/// Drops the edits cause by design: packets of connections whose real server was
/// deleted, with `expire_nodest_conn` off (IPVS drops them silently and keeps the entry;
/// TCP retransmits them once the server is re-added: the keep-alive connections here).
const BY_DESIGN: [&str; 1] = ["drop_dest_unavailable"];

/// Every `drop_*` counter rvsd logged at shutdown that is neither segment noise nor
/// by design.
fn losses(log: &str) -> Vec<(String, u64)> {
    Rvsd::drop_counters(log)
        .into_iter()
        .filter(|(n, _)| !SEGMENT_NOISE.contains(&n.as_str()) && !BY_DESIGN.contains(&n.as_str()))
        .collect()
}

/// Starts rvsd from configs/lab-nat.toml with `wrr` for the load's service plus `extra`
/// replacements; its control socket is the private one tests/common/rvsd.rs puts in the
/// test's temp dir, read back from the config rvsd runs.
fn start(nat: &NatLab, extra: &[(&str, &str)]) -> (Rvsd, Adm) {
    let mut rep = vec![("scheduler = \"wlc\"", "scheduler = \"wrr\"")];
    rep.extend_from_slice(extra);
    let rvsd = nat.rvsd("lab-nat.toml", &rep);
    let text = std::fs::read_to_string(&rvsd.config).unwrap();
    let sock = text
        .lines()
        .find_map(|l| l.trim().strip_prefix("socket = \""))
        .and_then(|rest| rest.strip_suffix('"'))
        .map(PathBuf::from)
        .unwrap_or_else(|| panic!("no control socket in {}", rvsd.config.display()));
    assert!(
        !sock.starts_with("/run"),
        "tests use a private socket, not {}",
        sock.display()
    );
    assert!(
        nat.lab
            .wait_until("client", &format!("curl -sf -m 2 http://{VIP}/"), 15),
        "VIP not answering:\n{}",
        rvsd.log_text()
    );
    (
        rvsd,
        Adm {
            sock,
            edits: 0,
            history: Vec::new(),
        },
    )
}

/// Waits until the load's keep-alive connections 0..n have each answered once; returns
/// the real server of each.
fn keepalive_servers(load: &Load, n: usize) -> Vec<String> {
    (0..n)
        .map(|c| {
            let o = load
                .wait_keepalive(c, 0)
                .unwrap_or_else(|| panic!("keep-alive connection {c} never answered"));
            o.server
                .unwrap_or_else(|| panic!("keep-alive connection {c} failed: {}", o.reason))
        })
        .collect()
}

/// Every keep-alive request answered, each connection by one real server all along.
fn keepalive_lived(ka: &[Outcome], servers: &[String]) {
    let failed: Vec<&Outcome> = ka.iter().filter(|o| o.server.is_none()).collect();
    assert!(failed.is_empty(), "keep-alive requests failed: {failed:?}");
    for (c, s) in servers.iter().enumerate() {
        let mine: Vec<&Outcome> = ka.iter().filter(|o| o.conn == c).collect();
        assert!(
            mine.iter().all(|o| o.server.as_ref() == Some(s)),
            "keep-alive connection {c} changed server: {mine:?}"
        );
    }
}

/// [`follows_weights`] from the load's requests so far: the check right after a change.
fn follows_weights_now(adm: &Adm, load: &Load, svc: &Svc, k: usize, what: &str) {
    follows_weights(adm, load, load.new_conns().len(), svc, k, what);
}

/// rs2's keep-alive connection (held while rs2 was gone) is answered by rs2 again after
/// its `ka_done` answers so far; a failure says `when`, and with `adm` its [`Adm::report`].
fn rs2_answers_again(
    load: &Load,
    ka_servers: &[String],
    ka_done: usize,
    when: &str,
    adm: Option<&Adm>,
) {
    let rs2_conn = ka_servers.iter().position(|s| s == "rs2").unwrap();
    let after = load.wait_keepalive(rs2_conn, ka_done);
    assert_eq!(
        after.as_ref().and_then(|o| o.server.as_deref()),
        Some("rs2"),
        "rs2's keep-alive connection {when}: {after:?}{}",
        adm.map_or(String::new(), |adm| format!("\n{}", adm.report()))
    );
}

/// How every run under load ends: no request of any of the `loads` (named) failed,
/// the keep-alive connections lived on their servers ([`keepalive_lived`]), and rvsd
/// stops cleanly having lost nothing but [`SEGMENT_NOISE`] and [`BY_DESIGN`].
fn ends_clean(rvsd: Rvsd, loads: &[(&str, &[Outcome])], ka: &[Outcome], ka_servers: &[String]) {
    // rvsd is stopped first so that a failed request is reported together with what
    // rvsd dropped (or that it dropped nothing), which tells a director fault from a
    // starved client.
    let log = rvsd.stop();
    let lost = losses(&log);
    for (name, v) in loads {
        let failed: Vec<&Outcome> = v.iter().filter(|o| o.server.is_none()).collect();
        assert!(
            failed.is_empty(),
            "{name} load: failed requests {failed:?}; rvsd's drops: {lost:?}\n{log}"
        );
    }
    keepalive_lived(ka, ka_servers);
    assert_eq!(lost, vec![], "rvsd dropped packets:\n{log}");
}

#[test]
fn hundred_rvsadm_edits_under_load_fail_no_request_and_counts_follow_weights() {
    if !lab_available("hundred_rvsadm_edits_under_load_fail_no_request_and_counts_follow_weights") {
        return;
    }
    let mut nat = NatLab::new();
    let (rvsd, mut adm) = start(&nat, &[]);
    let mut a = Svc::new(&format!("{VIP}:80"), &[("rs1", 1), ("rs2", 1), ("rs3", 1)]);
    // Three keep-alive connections, opened one after another: wrr 1:1:1 gives them one
    // real server each, so the removal in step 2 hits a connection in flight.
    let load_a = Load::start(&mut nat.lab, "a", "client", (VIP, 80), 3, None);
    let ka_servers = keepalive_servers(&load_a, 3);
    assert_eq!(
        ka_servers.iter().cloned().collect::<BTreeSet<_>>(),
        ["rs1", "rs2", "rs3"].map(String::from).into(),
        "keep-alive connections"
    );
    follows_weights(&adm, &load_a, 0, &a, 2, "start");

    // 1. Weights: 8 rounds, every real server's weight changes in each (24 edits), at
    // most one weight 0 per round so no intermediate state is without weight.
    let rounds: [[u32; 3]; 8] = [
        [3, 2, 0],
        [1, 4, 2],
        [0, 1, 3],
        [2, 3, 1],
        [4, 0, 2],
        [1, 2, 5],
        [3, 1, 0],
        [2, 2, 2],
    ];
    for (r, ws) in rounds.iter().enumerate() {
        for (i, w) in ws.iter().enumerate() {
            let rs = format!("rs{}", i + 1);
            a.set(&mut adm, &rs, *w);
            follows_weights_now(&adm, &load_a, &a, 2, &format!("round {r}, -e {rs} -w {w}"));
        }
    }

    // 2. Remove a real server with a keep-alive connection in flight: it gets no new
    // connection; with expire_nodest_conn off its connection stays and its packets are
    // dropped meanwhile (IPVS), so once it is re-added (revived) that connection is
    // answered again, and it is scheduled again. As an operator does, it is quiesced
    // first (weight 0) so that no short request is in flight on it when it goes: such a
    // request would be held too, until the re-add, longer than its client waits.
    a.set(&mut adm, "rs2", 0);
    follows_weights_now(&adm, &load_a, &a, 2, "-e rs2 -w 0");
    a.del(&mut adm, "rs2");
    follows_weights_now(&adm, &load_a, &a, 2, "-d rs2");
    a.set(&mut adm, "rs1", 3);
    follows_weights_now(&adm, &load_a, &a, 2, "-e rs1 -w 3 without rs2");
    a.add(&mut adm, "rs2", 1);
    let ka_done = load_a.keepalive().len();
    follows_weights_now(&adm, &load_a, &a, 2, "-a rs2 -w 1");
    rs2_answers_again(&load_a, &ka_servers, ka_done, "after -d and -a", Some(&adm));

    // 3. Services the load does not use come and go (9 edits); the load's service is
    // untouched by them.
    for cmd in [
        format!("-A -t {VIP}:8081 -s rr"),
        format!("-a -t {VIP}:8081 -r 192.0.2.11:8080 -m"),
        format!("-a -t {VIP}:8081 -r 192.0.2.12:8080 -m -w 2"),
        format!("-e -t {VIP}:8081 -r 192.0.2.11:8080 -m -w 5"),
        format!("-A -u {VIP}:5353 -s wlc"),
        format!("-a -u {VIP}:5353 -r 192.0.2.13:53 -m"),
        format!("-d -t {VIP}:8081 -r 192.0.2.12:8080"),
        format!("-D -u {VIP}:5353"),
        format!("-D -t {VIP}:8081"),
    ] {
        adm.edit(&cmd);
    }
    follows_weights_now(
        &adm,
        &load_a,
        &a,
        2,
        "after the other services came and went",
    );
    let udp53 = (
        "UDP 203.0.113.10:53 rr ops",
        &[("rs1", 53, 1), ("rs2", 53, 1)][..],
    );
    let want = expect_listing(&[
        (
            "TCP 203.0.113.10:80 wrr",
            &[("rs1", 8080, 3), ("rs2", 8080, 1), ("rs3", 8080, 2)][..],
        ),
        udp53,
    ]);
    assert_eq!(adm.listing(), want, "rvsadm -Ln after step 3");

    // 4. A new VIP with a service of its own, and part of the load sent to it (5 edits).
    adm.edit(&format!("vip add {VIP2} --port ext"));
    adm.edit(&format!("-A -t {VIP2}:80 -s wrr"));
    let mut b = Svc::new(&format!("{VIP2}:80"), &[]);
    for (rs, w) in [("rs1", 1), ("rs2", 2), ("rs3", 3)] {
        b.add(&mut adm, rs, w);
    }
    assert!(
        nat.lab
            .wait_until("client", &format!("curl -sf -m 2 http://{VIP2}/"), 15),
        "new VIP not answering:\n{}",
        rvsd.log_text()
    );
    // From a second client address: see tests/lab/http_load.py (--source).
    nat.lab
        .sh_ok("client", &format!("ip addr add {CLIENT2}/24 dev eth0"));
    let load_b = Load::start(&mut nat.lab, "b", "client", (VIP2, 80), 0, Some(CLIENT2));
    follows_weights(&adm, &load_b, 0, &b, 2, "new VIP");

    // 5. Edits on both services in turn up to 98 (weights, removals, re-additions),
    // each followed by its check; then the new VIP goes (2 edits): 100 in all.
    let mut i = 0usize;
    while adm.edits < 98 {
        let (svc, load, name) = if i.is_multiple_of(2) {
            (&mut a, &load_a, "A")
        } else {
            (&mut b, &load_b, "B")
        };
        let rs = format!("rs{}", i % 3 + 1);
        let mut w = 1 + (i * 7 + 3) as u32 % 5;
        if svc.weights.get(&rs) == Some(&w) {
            w = w % 5 + 1;
        }
        let what = match svc.weights.get(&rs).copied() {
            None => {
                svc.add(&mut adm, &rs, w);
                format!("edit {}: {name} -a {rs} -w {w}", adm.edits)
            }
            // Quiesced first, as in step 2 (two edits).
            Some(old) if i % 6 == 5 && svc.total() > old && adm.edits <= 96 => {
                svc.set(&mut adm, &rs, 0);
                let done = load.new_conns().len();
                let what = format!("edit {}: {name} -e {rs} -w 0", adm.edits);
                follows_weights(&adm, load, done, svc, 1, &what);
                svc.del(&mut adm, &rs);
                format!("edit {}: {name} -d {rs}", adm.edits)
            }
            Some(_) => {
                svc.set(&mut adm, &rs, w);
                format!("edit {}: {name} -e {rs} -w {w}", adm.edits)
            }
        };
        follows_weights_now(&adm, load, svc, 1, &what);
        i += 1;
    }
    let (new_b, _) = load_b.stop();
    adm.edit(&format!("-D -t {VIP2}:80"));
    adm.edit(&format!("vip del {VIP2} --port ext"));
    follows_weights_now(&adm, &load_a, &a, 2, "after the new VIP went");
    let (new_a, ka) = load_a.stop();

    assert_eq!(adm.edits, 100);
    ends_clean(rvsd, &[("A", &new_a), ("B", &new_b)], &ka, &ka_servers);
    eprintln!(
        "100 edits: {} + {} new-connection requests, {} keep-alive requests, 0 failed",
        new_a.len(),
        new_b.len(),
        ka.len()
    );
}

/// The services part of a lab-nat config (after its ports): service A with `reals`
/// (`(rsN, weight)`) and `scheduler`, the UDP service, and `more` TOML appended.
fn services_toml(scheduler: &str, reals: &[(&str, u32)], more: &str) -> String {
    let mut s = format!(
        "[[service]]\nproto = \"tcp\"\nvip = \"{VIP}\"\nport = 80\nscheduler = \"{scheduler}\"\n\n"
    );
    for (rs, w) in reals {
        s += &format!(
            "[[service.real]]\naddr = \"{}\"\nport = 8080\nmethod = \"nat\"\nweight = {w}\n\n",
            rip(rs)
        );
    }
    s += "[[service]]\nproto = \"udp\"\nvip = \"203.0.113.10\"\nport = 53\nscheduler = \"rr\"\nops = true\n\n\
          [[service.real]]\naddr = \"192.0.2.11\"\nmethod = \"nat\"\n\n\
          [[service.real]]\naddr = \"192.0.2.12\"\nmethod = \"nat\"\n\n";
    s + more
}

/// Writes the running config with its services replaced by `services`.
fn rewrite(config: &Path, head: &str, services: &str) {
    std::fs::write(config, format!("{head}{services}")).unwrap();
}

/// 1-based number of the first line of `text` that is `needle` or contains it.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines().position(|l| l.contains(needle)).unwrap() + 1
}

/// Sends rvsd SIGHUP.
fn hup(rvsd: &Rvsd) {
    let kill = Command::new("kill")
        .args(["-HUP", &rvsd.pid().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
}

/// Polls `rvsadm -Ln` until it shows `want` (a SIGHUP is applied asynchronously).
fn wait_listing(adm: &Adm, want: &BTreeMap<String, BTreeSet<String>>, what: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let got = adm.listing();
        if &got == want {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{what}: rvsadm -Ln shows {got:#?}\nwant {want:#?}"
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

#[test]
fn reload_under_load_applies_the_file_and_a_broken_file_keeps_the_state() {
    if !lab_available("reload_under_load_applies_the_file_and_a_broken_file_keeps_the_state") {
        return;
    }
    let mut nat = NatLab::new();
    // v1: the example with wrr and without rs3.
    let rs3 =
        "[[service.real]]\naddr = \"192.0.2.13\"\nport = 8080\nmethod = \"nat\"\nweight = 1\n";
    let (rvsd, adm) = start(&nat, &[(rs3, "")]);
    let text = std::fs::read_to_string(&rvsd.config).unwrap();
    let head = &text[..text.find("[[service]]").unwrap()];
    let udp53 = (
        "UDP 203.0.113.10:53 rr ops",
        &[("rs1", 53, 1), ("rs2", 53, 1)][..],
    );
    let v1 = expect_listing(&[
        (
            "TCP 203.0.113.10:80 wrr",
            &[("rs1", 8080, 1), ("rs2", 8080, 1)][..],
        ),
        udp53,
    ]);
    assert_eq!(adm.listing(), v1, "rvsadm -Ln as started");
    let mut a = Svc::new(&format!("{VIP}:80"), &[("rs1", 1), ("rs2", 1)]);
    let load = Load::start(&mut nat.lab, "r", "client", (VIP, 80), 2, None);
    let ka_servers = keepalive_servers(&load, 2);
    follows_weights(&adm, &load, 0, &a, 2, "v1");

    // v1 quiesced by SIGHUP: rs2 weight 0, as an operator does before removing a server
    // (a short request in flight on it when it goes would be held until it comes back).
    rewrite(
        &rvsd.config,
        head,
        &services_toml("wrr", &[("rs1", 1), ("rs2", 0)], ""),
    );
    hup(&rvsd);
    let v1q = expect_listing(&[
        (
            "TCP 203.0.113.10:80 wrr",
            &[("rs1", 8080, 1), ("rs2", 8080, 0)][..],
        ),
        udp53,
    ]);
    wait_listing(&adm, &v1q, "rs2 quiesced by SIGHUP");
    a = Svc::new(&a.key, &[("rs1", 1), ("rs2", 0)]);
    follows_weights_now(&adm, &load, &a, 2, "rs2 quiesced (SIGHUP)");

    // v2 by SIGHUP: new weights, rs2 (with a keep-alive connection) removed, rs3 added,
    // a new service.
    let svc8081 = format!(
        "[[service]]\nproto = \"tcp\"\nvip = \"{VIP}\"\nport = 8081\nscheduler = \"rr\"\n\n\
         [[service.real]]\naddr = \"192.0.2.11\"\nport = 8080\nmethod = \"nat\"\n\n"
    );
    rewrite(
        &rvsd.config,
        head,
        &services_toml("wrr", &[("rs1", 3), ("rs3", 2)], &svc8081),
    );
    hup(&rvsd);
    let v2 = expect_listing(&[
        (
            "TCP 203.0.113.10:80 wrr",
            &[("rs1", 8080, 3), ("rs3", 8080, 2)][..],
        ),
        ("TCP 203.0.113.10:8081 rr", &[("rs1", 8080, 1)][..]),
        udp53,
    ]);
    wait_listing(&adm, &v2, "v2 after SIGHUP");
    a = Svc::new(&a.key, &[("rs1", 3), ("rs3", 2)]);
    follows_weights_now(&adm, &load, &a, 2, "v2 (SIGHUP)");

    // v3 by `rvsadm reload`: rs2 back (its keep-alive connection, held while it was
    // gone, is answered again), new weights, the new service gone again.
    rewrite(
        &rvsd.config,
        head,
        &services_toml("wrr", &[("rs1", 1), ("rs2", 2), ("rs3", 1)], ""),
    );
    adm.ok("reload");
    let v3 = expect_listing(&[
        (
            "TCP 203.0.113.10:80 wrr",
            &[("rs1", 8080, 1), ("rs2", 8080, 2), ("rs3", 8080, 1)][..],
        ),
        udp53,
    ]);
    assert_eq!(adm.listing(), v3, "rvsadm -Ln after rvsadm reload");
    a = Svc::new(&a.key, &[("rs1", 1), ("rs2", 2), ("rs3", 1)]);
    let ka_done = load.keepalive().len();
    follows_weights_now(&adm, &load, &a, 2, "v3 (rvsadm reload)");
    rs2_answers_again(
        &load,
        &ka_servers,
        ka_done,
        "after the reloads removed and re-added rs2",
        None,
    );

    // A bad scheduler name: `rvsadm reload` fails with the located message, nothing
    // changes (the other edits in the same file included), the load is still served.
    let bad = services_toml("roundrobin", &[("rs1", 7), ("rs3", 1)], "");
    rewrite(&rvsd.config, head, &bad);
    let out = adm.run("reload");
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let line = head.lines().count() + line_of(&bad, "roundrobin");
    let located = format!(
        "{}:{line}: service[0].scheduler: unknown scheduler \"roundrobin\"",
        rvsd.config.display()
    );
    assert!(
        !out.status.success() && said.contains(&located),
        "rvsadm reload of a bad scheduler: {}, said {said:?}, want {located:?}",
        out.status
    );
    assert_eq!(adm.listing(), v3, "rvsadm -Ln after a refused reload");
    follows_weights_now(&adm, &load, &a, 2, "after the refused reload");

    // A TOML syntax error by SIGHUP: logged with file and line, nothing changes.
    let broken = services_toml("wrr", &[("rs1", 5)], "[[service]\nproto = \"tcp\"\n");
    rewrite(&rvsd.config, head, &broken);
    let line = head.lines().count() + broken.lines().position(|l| l == "[[service]").unwrap() + 1;
    let located = format!("{}:{line}: ", rvsd.config.display());
    hup(&rvsd);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !rvsd.log_text().contains(&located) {
        assert!(
            std::time::Instant::now() < deadline,
            "SIGHUP with a syntax error: no {located:?} in the log:\n{}",
            rvsd.log_text()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert_eq!(adm.listing(), v3, "rvsadm -Ln after a refused SIGHUP");
    follows_weights_now(&adm, &load, &a, 2, "after the refused SIGHUP");

    let (new, ka) = load.stop();
    ends_clean(rvsd, &[("the", &new)], &ka, &ka_servers);
    eprintln!(
        "reloads: {} new-connection requests, {} keep-alive requests, 0 failed",
        new.len(),
        ka.len()
    );
}
