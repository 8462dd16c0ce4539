//! Passive failure detection in the NAT lab (issue 12: "a real server that resets every
//! connection is marked down before the next active check"): the active check runs only
//! every [`DELAY_LOOP`] seconds; the HTTP server of rs2 stops under a request loop, so
//! rs2's own kernel answers every new connection with a RST, which rvsd's workers see on
//! their way back to the client. With `[service.passive] failures = 3, interval = 10`
//! rvsd takes rs2 out within a few seconds, with the passive reason in its log, long
//! before an active check could; once rs2 serves again an active check brings it back.

mod common;
use std::time::Duration;

use common::hclab::{log_about, wait_for, Extras, HealthLab, Server, Topo, REALS};
use common::lab::lab_available;
use common::load::{monotonic_now, per_server, windows, Load};

/// The active checks' period (s): longer than passive detection may take.
const DELAY_LOOP: f64 = 20.0;
/// Passive detection's bound in this test (s): 3 failed connections come within a
/// fraction of a second under the loop; the rest is the workers' report period, the
/// management tick and a loaded machine.
const PASSIVE_BOUND: f64 = 5.0;

#[test]
fn passive_detection_takes_a_resetting_server_out_before_the_next_active_check() {
    if !lab_available("passive_detection_takes_a_resetting_server_out_before_the_next_active_check")
    {
        return;
    }
    let mut hl = HealthLab::new(Topo::Nat, Extras::default());
    let mut services = format!(
        "[[service]]\nproto = \"tcp\"\nvip = \"203.0.113.10\"\nport = 80\nscheduler = \"rr\"\ndelay_loop = {DELAY_LOOP}\n\n\
         [service.check]\nconnect_timeout = 1\nretry = 0\nrise = 1\n[service.check.TCP_CHECK]\n\n\
         [service.passive]\nfailures = 3\ninterval = 10\n\n"
    );
    for addr in REALS {
        services.push_str(&format!(
            "[[service.real]]\naddr = \"{addr}\"\nport = 8080\nmethod = \"nat\"\nweight = 1\n\n"
        ));
    }
    let (rvsd, adm) = hl.rvsd(Some(&services), &[]);
    let svc = "TCP 203.0.113.10:80";
    hl.wait_vip(&rvsd, 80);
    assert!(wait_for(10.0, || (adm.dests(svc).len() == 3).then_some(())).is_some());
    let rs2 = hl.dest(1);
    let load = Load::start(
        &mut hl.lab,
        "passive",
        "client",
        ("203.0.113.10", 80),
        0,
        None,
    );
    load.wait_new(20);

    let m_stop = monotonic_now();
    hl.stop(1, Server::Http);
    let down = wait_for(DELAY_LOOP + 5.0, || {
        (!adm.dests(svc).contains_key(&rs2)).then_some(())
    });
    let m_down = monotonic_now();
    let log = log_about(&rvsd.log_text(), REALS[1]);
    assert!(down.is_some(), "{rs2} never went down:\n{log}");
    eprintln!(
        "passive: {rs2} down {:.2} s after it began resetting connections (delay_loop {DELAY_LOOP} s)",
        m_down - m_stop
    );
    assert!(
        m_down - m_stop <= PASSIVE_BOUND,
        "{rs2} down after {:.2} s: not before the next active check ({DELAY_LOOP} s)\n{log}",
        m_down - m_stop
    );
    assert!(
        log.to_lowercase().contains("passive"),
        "the transition must give the passive reason:\n{log}"
    );
    std::thread::sleep(Duration::from_secs(2));

    // Active checks bring it back (the next one is at most delay_loop away).
    hl.start(1, Server::Http);
    let m_start = monotonic_now();
    let up = wait_for(DELAY_LOOP + 5.0, || {
        adm.dests(svc).contains_key(&rs2).then_some(())
    });
    let m_up = monotonic_now();
    assert!(
        up.is_some(),
        "{rs2} serving again but not back after {:.1} s:\n{}",
        m_up - m_start,
        log_about(&rvsd.log_text(), REALS[1])
    );
    eprintln!(
        "passive: {rs2} back {:.2} s after it served again",
        m_up - m_start
    );
    let again = wait_for(10.0, || {
        load.new_conns()
            .iter()
            .any(|o| o.t > m_up && o.server.as_deref() == Some("rs2"))
            .then_some(())
    });
    let (all, _) = load.stop();
    let report = windows(&all, 40);
    assert!(again.is_some(), "rs2 got nothing once back:\n{report}");
    // While rs2 was out, nothing failed and nothing went to it.
    let out: Vec<_> = all
        .iter()
        .filter(|o| o.t > m_down + 0.5 && o.t <= m_start)
        .cloned()
        .collect();
    assert!(
        out.len() >= 10
            && out
                .iter()
                .all(|o| o.server.is_some() && o.server.as_deref() != Some("rs2")),
        "while rs2 was out: {:?}\n{report}",
        per_server(&out)
    );
    let late: Vec<_> = all
        .iter()
        .filter(|o| o.server.is_none() && (o.t <= m_stop || o.t > m_down + 0.5))
        .collect();
    assert!(
        late.is_empty(),
        "failures outside [stop, down]: {late:?}\n{report}"
    );
    let failed = all.iter().filter(|o| o.server.is_none()).count();
    eprintln!("passive: {failed} requests failed before rs2 was taken out");
    rvsd.stop();
}
