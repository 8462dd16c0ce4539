//! Lab (NAT, issue 12 deliverable 5): a keepalived.conf imported by `rvsadm
//! import-keepalived` behaves in rvsd as keepalived drives IPVS with it.
//! tests/fixtures/keepalived/lab/nat-http.conf (an operator's file: HTTP_GET with the MD5
//! of /health, `inhibit_on_failure` on rs3, a sorry server) is imported without a base and
//! its services run on the health lab (tests/common/hclab.rs). Then, each seen in
//! `rvsadm -Ln` and in who answers the client:
//! - a wrong body (digest mismatch) takes rs2 out of the table; the right one brings it back;
//! - rs3 stopped stays listed with weight 0 (inhibit_on_failure);
//! - rs1 stopped too: no live server, the sorry server answers; rs1 back: it answers again
//!   and the sorry server leaves.

mod common;

use common::hclab::{wait_for, Extras, HealthLab, Server, Topo, SORRY};
use common::lab::lab_available;
use common::rvsd::Rvsd;
use common::scenario::{curl_n, serial};
use common::topo::tally;
use std::collections::BTreeMap;
use std::process::Command;

const CONF: &str = "tests/fixtures/keepalived/lab/nat-http.conf";
const SVC: &str = "TCP 203.0.113.10:80";
/// delay_loop 1 s, retry 1 after delay_before_retry 1 s, connect_timeout 1 s: down within
/// about 3 s of the fault; 10 s leaves room for a loaded machine.
const WAIT: f64 = 10.0;

fn count(t: &BTreeMap<String, usize>, who: &str) -> usize {
    *t.get(who).unwrap_or(&0)
}

/// `n` requests from the client to the VIP, none failing: who answered, and how often.
fn requests(hl: &HealthLab, rvsd: &Rvsd, n: usize) -> BTreeMap<String, usize> {
    let t = tally(&curl_n(&hl.lab, "client", "http://203.0.113.10/", n, ""));
    assert_eq!(count(&t, "FAIL"), 0, "{t:?}\n{}", rvsd.log_text());
    t
}

#[test]
fn imported_keepalived_farm_behaves_as_keepalived_in_the_nat_lab() {
    if !lab_available("imported_keepalived_farm_behaves_as_keepalived_in_the_nat_lab") {
        return;
    }
    let _serial = serial();
    let out = Command::new(env!("CARGO_BIN_EXE_rvsadm"))
        .args(["import-keepalived", CONF])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let services = String::from_utf8(out.stdout).unwrap();
    let mut hl = HealthLab::new(
        Topo::Nat,
        Extras {
            sorry: true,
            ..Extras::default()
        },
    );
    let (rvsd, adm) = hl.rvsd(Some(&services), &[]);
    hl.wait_vip(&rvsd, 80);
    let sorry = format!("{SORRY}:8080");
    let dests = || adm.dests(SVC);

    // Every real server up (their checks pass), each answers its share (rr).
    let all: Vec<String> = (0..3).map(|i| hl.dest(i)).collect();
    wait_for(WAIT, || {
        let d = dests();
        all.iter().all(|a| d.contains_key(a)).then_some(())
    })
    .unwrap_or_else(|| panic!("not all up: {:?}\n{}", dests(), rvsd.log_text()));
    let t = requests(&hl, &rvsd, 30);
    assert!(
        (1..=3).all(|i| count(&t, &format!("rs{i}")) == 10),
        "rr over three: {t:?}"
    );

    // rs2 answers /health with another body: digest mismatch, out of the table.
    hl.set_health(1, "", 200, Some("bad\n"));
    let (_, took) = wait_for(WAIT, || (!dests().contains_key(&hl.dest(1))).then_some(()))
        .unwrap_or_else(|| panic!("rs2 still listed: {:?}\n{}", dests(), rvsd.log_text()));
    eprintln!("rs2 removed {took:?} after its body changed");
    let t = requests(&hl, &rvsd, 20);
    assert_eq!(count(&t, "rs2"), 0, "{t:?}");
    assert_eq!(count(&t, "rs1") + count(&t, "rs3"), 20, "{t:?}");

    // rs3 stopped: inhibit_on_failure keeps it listed, weight 0, no traffic.
    hl.stop(2, Server::Http);
    wait_for(WAIT, || {
        (dests().get(&hl.dest(2)).map(|d| d.1) == Some(0)).then_some(())
    })
    .unwrap_or_else(|| panic!("rs3 not at weight 0: {:?}\n{}", dests(), rvsd.log_text()));
    let t = requests(&hl, &rvsd, 10);
    assert_eq!(count(&t, "rs1"), 10, "{t:?}");

    // rs1 stopped: no live server, the sorry server is put in and answers.
    hl.stop(0, Server::Http);
    wait_for(WAIT, || dests().contains_key(&sorry).then_some(()))
        .unwrap_or_else(|| panic!("no sorry server: {:?}\n{}", dests(), rvsd.log_text()));
    let t = requests(&hl, &rvsd, 10);
    assert_eq!(count(&t, "rs-sorry"), 10, "{t:?}");

    // rs1 back: it answers again and the sorry server leaves.
    hl.start(0, Server::Http);
    wait_for(WAIT, || {
        let d = dests();
        (d.contains_key(&hl.dest(0)) && !d.contains_key(&sorry)).then_some(())
    })
    .unwrap_or_else(|| panic!("rs1 not back: {:?}\n{}", dests(), rvsd.log_text()));
    let t = requests(&hl, &rvsd, 10);
    assert_eq!(count(&t, "rs1"), 10, "{t:?}");

    // rs2's body right again: back in the table with its weight, sharing with rs1.
    hl.set_health(1, "", 200, None);
    wait_for(WAIT, || {
        (dests().get(&hl.dest(1)).map(|d| d.1) == Some(1)).then_some(())
    })
    .unwrap_or_else(|| panic!("rs2 not back: {:?}\n{}", dests(), rvsd.log_text()));
    let t = requests(&hl, &rvsd, 20);
    assert_eq!((count(&t, "rs1"), count(&t, "rs2")), (10, 10), "{t:?}");
    rvsd.stop();
}
