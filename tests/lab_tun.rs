//! TUN end to end: the director wraps client packets in IPIP to the real servers,
//! which decapsulate (userspace helper: this kernel has no ipip module) and answer
//! directly. With 1500-byte MTU everywhere the 10 MB upload only succeeds if the
//! director's ICMP frag-needed makes the client lower its path MTU.

mod common;
use common::lab::lab_available;
use common::rvsd::Rvsd;
use common::topo::{tally, ten_mb_both_ways, OneArmed, OneArmedLab};

#[test]
fn tun_wrr_follows_weights_and_upload_needs_frag_needed() {
    if !lab_available("tun_wrr_follows_weights_and_upload_needs_frag_needed") {
        return;
    }
    let tun = OneArmedLab::new(OneArmed::Tun);
    let rvsd = tun.rvsd("lab-tun.toml", &[]);
    let lab = &tun.lab;
    assert!(
        lab.wait_until("client", "curl -sf -m 2 http://192.0.2.10/", 20),
        "{}",
        rvsd.log_text()
    );
    let out = lab.sh_ok(
        "client",
        "for i in $(seq 300); do curl -sf -m 5 http://192.0.2.10/ || echo FAIL; done",
    );
    let t = tally(&out);
    assert_eq!(t.get("FAIL"), None, "{t:?}");
    let n = |s: &str| *t.get(s).unwrap_or(&0) as i64;
    // wrr 3:2:1 over 300 (+ the probes before): 150/100/50 within a few.
    assert!(
        (n("rs1") - 150).abs() <= 3 && (n("rs2") - 100).abs() <= 3 && (n("rs3") - 50).abs() <= 3,
        "{t:?}"
    );

    ten_mb_both_ways(lab, "client", "192.0.2.10");
    let log = rvsd.stop();
    assert!(Rvsd::counter_in(&log, "tun_out") > 0, "{log}");
    assert!(
        Rvsd::counter_in(&log, "tx_icmp_frag_needed") >= 1,
        "the upload must have needed frag-needed: {log}"
    );
}
