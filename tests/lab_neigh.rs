//! Neighbour refresh end to end: with the neighbour timers shortened so that an entry
//! would be stale after 1 s and gone after about 5 s if nobody confirmed it, a steady
//! request loop runs across several such periods, in DR (the real servers never ARP the
//! director: only its probes keep them) and in NAT. Every request must be answered and
//! rvsd must not have dropped a single packet for want of a neighbour, while its
//! counters show the probes that kept the entries alive.

mod common;
use common::lab::{lab_available, Lab};
use common::rvsd::Rvsd;
use common::topo::{NatLab, OneArmed, OneArmedLab};

/// Shortened timers: reachable 1 s, first probe 1 s later, 2 unicast probes 1 s apart;
/// an unanswered entry in use fails about 5 s after its last confirmation.
const NEIGHBOUR: &str = "[neighbour]\nbase_reachable_time_ms = 1000\ndelay_first_probe_time = 1\n\
retrans_time_ms = 1000\nucast_solicit = 2\ngc_stale_time = 2\n\n[cores]";

/// Seconds of traffic: three failure periods and then some.
const SECS: u32 = 16;

/// Counters that count other hosts' frames an af_packet port sees on its segment (DR
/// replies to the client, ARP between other hosts, IPv6 chatter of the namespaces),
/// not packets rvsd was asked to deliver.
const SEGMENT_NOISE: [&str; 3] = [
    "drop_other_host",
    "drop_arp_ignored",
    "drop_unknown_ethertype",
];

/// Runs curl against `url` from the client for `SECS` seconds; returns (answered, failed).
fn request_loop(lab: &Lab, url: &str) -> (u32, u32) {
    let out = lab.sh_ok(
        "client",
        &format!(
            "ok=0; bad=0; end=$(($(date +%s)+{SECS})); while [ $(date +%s) -lt $end ]; do \
             if curl -sf -m 3 -o /dev/null {url}; then ok=$((ok+1)); else bad=$((bad+1)); fi; \
             sleep 0.05; done; echo $ok $bad"
        ),
    );
    let mut it = out.split_whitespace().map(|n| n.parse::<u32>().unwrap());
    (it.next().unwrap(), it.next().unwrap())
}

fn check(log: &str, answered: u32, failed: u32) {
    assert!(
        answered > 0 && failed == 0,
        "{answered} answered, {failed} failed:\n{log}"
    );
    let lost: Vec<_> = Rvsd::drop_counters(log)
        .into_iter()
        .filter(|(n, _)| !SEGMENT_NOISE.contains(&n.as_str()))
        .collect();
    assert!(lost.is_empty(), "rvsd dropped {lost:?}:\n{log}");
    assert!(
        Rvsd::counter_in(log, "arp_probes") > 0,
        "entries must have been kept by probes:\n{log}"
    );
    eprintln!(
        "{answered} requests; arp_probes {}, arp_requests {}, neigh_held {}",
        Rvsd::counter_in(log, "arp_probes"),
        Rvsd::counter_in(log, "arp_requests"),
        Rvsd::counter_in(log, "neigh_held")
    );
}

#[test]
fn dr_real_servers_stay_resolved_by_probes_under_steady_traffic() {
    if !lab_available("dr_real_servers_stay_resolved_by_probes_under_steady_traffic") {
        return;
    }
    let dr = OneArmedLab::new(OneArmed::Dr);
    // No persistence: the loop's connections spread over all three real servers.
    let rvsd = dr.rvsd(
        "lab-dr.toml",
        &[
            ("[cores]", NEIGHBOUR),
            ("persistent = 300\n", ""),
            ("netmask = \"255.255.255.255\"\n", ""),
        ],
    );
    let lab = &dr.lab;
    assert!(
        lab.wait_until(
            "client",
            "curl -sf -m 2 -o /dev/null http://192.0.2.10/",
            15
        ),
        "{}",
        rvsd.log_text()
    );
    let (ok, bad) = request_loop(lab, "http://192.0.2.10/");
    let log = rvsd.stop();
    check(&log, ok, bad);
}

#[test]
fn nat_real_servers_and_client_stay_resolved_under_steady_traffic() {
    if !lab_available("nat_real_servers_and_client_stay_resolved_under_steady_traffic") {
        return;
    }
    let nat = NatLab::new();
    let rvsd = nat.rvsd(
        "lab-nat.toml",
        &[
            ("[cores]", NEIGHBOUR),
            ("scheduler = \"wlc\"", "scheduler = \"rr\""),
        ],
    );
    let lab = &nat.lab;
    assert!(
        lab.wait_until(
            "client",
            "curl -sf -m 2 -o /dev/null http://203.0.113.10/",
            15
        ),
        "{}",
        rvsd.log_text()
    );
    let (ok, bad) = request_loop(lab, "http://203.0.113.10/");
    let log = rvsd.stop();
    check(&log, ok, bad);
}
