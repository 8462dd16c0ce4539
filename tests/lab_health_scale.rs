//! Health checks at scale in the NAT lab (issue 12: "200 configured real servers (most
//! silent addresses in the lab) checked every second: every live one stays up, every
//! silent one goes down on time, and forwarding counters with checks on vs off show the
//! workers are not slowed (report the figure, do not assert a time)").
//!
//! 30 live real servers (rs1..rs3 with 9 more addresses each, all served by the same
//! httpd) and 170 silent ones (addresses no host holds: ARP goes unanswered, each
//! connect times out) behind one VIP, HTTP_GET every second, connect_timeout 1, retry 1 after 1 s.
//! Every silent one must be out of `rvsadm -Ln` within keepalived's worst case (+
//! [`SLACK`]) of rvsd's start; every live one must be listed in every listing taken
//! during a 10 s request loop, and no request may fail. Then the same loop runs against an
//! rvsd with the 30 live real servers and no checks; both runs' request rates and worker
//! counters (cycles per packet from busy_cycles / rx_pkts) are printed, and recorded in
//! docs/BENCHMARKS.md, never asserted.

mod common;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::hclab::{wait_for, Extras, HealthLab, Topo, REALS};
use common::lab::lab_available;
use common::load::{per_server, Load};
use common::rvsd::Rvsd;

/// Extra addresses per real server (so 3 x 10 = 30 live).
const EXTRA: u8 = 9;
/// Real servers configured in all.
const TOTAL: usize = 200;
/// Seconds (configs below).
const DELAY_LOOP: f64 = 1.0;
const CONNECT_TIMEOUT: f64 = 1.0;
/// keepalived's default `retry` (1), 1 s apart: one slow answer of a busy live server
/// is not a failure.
const RETRY: f64 = 1.0;
const DELAY_BEFORE_RETRY: f64 = 1.0;
/// Allowance for rvsd's start-up, the management tick and a loaded machine.
const SLACK: f64 = 3.0;
/// Length of each request loop.
const LOAD_SECS: u64 = 10;

fn live() -> Vec<String> {
    let mut v: Vec<String> = REALS.iter().map(|s| s.to_string()).collect();
    for n in 1..=3 {
        for k in 0..EXTRA as usize {
            v.push(format!("192.0.2.{}", 20 * n + k));
        }
    }
    v
}

fn silent(live: &[String]) -> Vec<String> {
    (14..=254)
        .map(|a| format!("192.0.2.{a}"))
        .filter(|a| !live.contains(a) && a != "192.0.2.50")
        .take(TOTAL - live.len())
        .collect()
}

fn services(reals: &[String], checks: bool) -> String {
    let mut s = String::from(
        "[[service]]\nproto = \"tcp\"\nvip = \"203.0.113.10\"\nport = 80\nscheduler = \"rr\"\n",
    );
    if checks {
        s.push_str(&format!(
            "delay_loop = {DELAY_LOOP}\n\n[service.check]\nconnect_timeout = {CONNECT_TIMEOUT}\nretry = {RETRY}\ndelay_before_retry = {DELAY_BEFORE_RETRY}\nrise = 1\n\
             [service.check.HTTP_GET]\n[[service.check.HTTP_GET.url]]\npath = \"/health\"\n"
        ));
    }
    for a in reals {
        s.push_str(&format!(
            "\n[[service.real]]\naddr = \"{a}\"\nport = 8080\nmethod = \"nat\"\nweight = 1\n"
        ));
    }
    s
}

/// The figures of one run: requests answered, their rate, and the workers' counters.
struct Run {
    answered: usize,
    failed: usize,
    rate: f64,
    rx_pkts: u64,
    conns_new: u64,
    cycles_per_pkt: f64,
    to_kernel: u64,
}

fn run_load(hl: &mut HealthLab, rvsd: Rvsd, tag: &str, during: &mut dyn FnMut()) -> Run {
    let load = Load::start(&mut hl.lab, tag, "client", ("203.0.113.10", 80), 0, None);
    load.wait_new(1);
    let t0 = Instant::now();
    let n0 = load.new_conns().len();
    while t0.elapsed() < Duration::from_secs(LOAD_SECS) {
        during();
        std::thread::sleep(Duration::from_millis(500));
    }
    let secs = t0.elapsed().as_secs_f64();
    let (all, _) = load.stop();
    let window = &all[n0.min(all.len())..];
    let answered = window.iter().filter(|o| o.server.is_some()).count();
    let failed = all.iter().filter(|o| o.server.is_none()).count();
    assert_eq!(failed, 0, "{tag}: failures {:?}", per_server(&all));
    let log = rvsd.stop();
    let c = |n: &str| Rvsd::counter_in(&log, n);
    Run {
        answered,
        failed,
        rate: answered as f64 / secs,
        rx_pkts: c("rx_pkts"),
        conns_new: c("conns_new"),
        cycles_per_pkt: c("busy_cycles") as f64 / c("rx_pkts").max(1) as f64,
        to_kernel: c("to_kernel"),
    }
}

#[test]
fn two_hundred_checked_real_servers_live_stay_silent_go_and_workers_keep_pace() {
    if !lab_available("two_hundred_checked_real_servers_live_stay_silent_go_and_workers_keep_pace")
    {
        return;
    }
    let mut hl = HealthLab::new(
        Topo::Nat,
        Extras {
            extra_addrs: EXTRA,
            ..Extras::default()
        },
    );
    let live = live();
    let silent = silent(&live);
    assert_eq!(live.len() + silent.len(), TOTAL);
    let mut all = live.clone();
    all.extend(silent.iter().cloned());
    let svc = "TCP 203.0.113.10:80";
    let key = |a: &String| format!("{a}:8080");
    let live_keys: BTreeSet<String> = live.iter().map(key).collect();

    let (rvsd, adm) = hl.rvsd(Some(&services(&all, true)), &[]);
    let started = Instant::now();
    let bound = DELAY_LOOP + (RETRY + 1.0) * CONNECT_TIMEOUT + RETRY * DELAY_BEFORE_RETRY + SLACK;
    let gone = wait_for(bound + 20.0, || {
        let d = adm.dests(svc);
        silent.iter().all(|a| !d.contains_key(&key(a))).then_some(d)
    });
    let took = started.elapsed().as_secs_f64();
    let (listing, _) = gone.unwrap_or_else(|| {
        panic!(
            "silent real servers still listed after {took:.1} s:\n{}",
            adm.ok("-Ln")
        )
    });
    eprintln!(
        "scale: {} silent real servers out {took:.2} s after rvsd started (bound {bound} s)",
        silent.len()
    );
    assert!(
        took <= bound,
        "silent real servers out after {took:.2} s, bound {bound} s"
    );
    hl.wait_vip(&rvsd, 80);
    let settled = wait_for(10.0, || {
        let d: BTreeSet<String> = adm.dests(svc).into_keys().collect();
        (d == live_keys).then_some(())
    });
    assert!(
        settled.is_some(),
        "exactly the live real servers expected, first listing {:?}",
        listing.keys().collect::<Vec<_>>()
    );

    let log_path = rvsd.log.clone();
    let mut listings = 0;
    let mut check_listing = || {
        let d: BTreeSet<String> = adm.dests(svc).into_keys().collect();
        assert!(
            d == live_keys,
            "listing {listings}: live real servers missing {:?}, silent ones listed {:?}\n{}",
            live_keys.difference(&d).collect::<Vec<_>>(),
            d.difference(&live_keys).collect::<Vec<_>>(),
            std::fs::read_to_string(&log_path)
                .unwrap_or_default()
                .lines()
                .filter(|l| l.contains("health:") && !l.contains("DOWN: connect to"))
                .collect::<Vec<_>>()
                .join("\n")
        );
        listings += 1;
    };
    let on = run_load(&mut hl, rvsd, "on", &mut check_listing);
    assert!(listings >= 10, "{listings} listings");

    let (rvsd, _adm) = hl.rvsd(Some(&services(&live, false)), &[]);
    hl.wait_vip(&rvsd, 80);
    let off = run_load(&mut hl, rvsd, "off", &mut || {});

    let report = |name: &str, r: &Run| {
        format!(
            "{name}: {} requests in {LOAD_SECS} s ({:.1}/s), {} failed; rvsd: conns_new {}, rx_pkts {}, to_kernel {}, {:.0} busy cycles per packet",
            r.answered, r.rate, r.failed, r.conns_new, r.rx_pkts, r.to_kernel, r.cycles_per_pkt
        )
    };
    eprintln!(
        "scale figure (checks of {TOTAL} real servers every {DELAY_LOOP} s, {} live):\n  {}\n  {}\n  request rate with checks / without: {:.2}",
        live.len(),
        report("checks on ", &on),
        report("checks off", &off),
        on.rate / off.rate.max(1e-9)
    );
    assert!(on.answered > 0 && off.answered > 0);
}
