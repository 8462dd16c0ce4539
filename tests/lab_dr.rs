//! DR end to end: a one-armed director rewrites only the destination MAC; real servers
//! carry the VIP on lo with ARP for it suppressed and answer clients directly.

mod common;
use common::lab::lab_available;
use common::rvsd::Rvsd;
use common::topo::{tally, ten_mb_both_ways, OneArmed, OneArmedLab};

#[test]
fn dr_sh_keeps_each_client_address_on_one_server_and_carries_10mb() {
    if !lab_available("dr_sh_keeps_each_client_address_on_one_server_and_carries_10mb") {
        return;
    }
    let dr = OneArmedLab::new(OneArmed::Dr);
    let rvsd = dr.rvsd(
        "lab-dr.toml",
        &[
            ("scheduler = \"rr\"", "scheduler = \"sh\""),
            ("persistent = 300\n", ""),
            ("netmask = \"255.255.255.255\"\n", ""),
        ],
    );
    let lab = &dr.lab;
    assert!(
        lab.wait_until("client", "curl -sf -m 2 http://192.0.2.10/", 15),
        "{}",
        rvsd.log_text()
    );
    // sh: 75 requests from each of 4 client addresses; each address sticks to one server.
    let mut all = std::collections::BTreeMap::new();
    for src in ["192.0.2.2", "192.0.2.3", "192.0.2.4", "192.0.2.5"] {
        let out = lab.sh_ok(
            "client",
            &format!("for i in $(seq 75); do curl -sf -m 5 --interface {src} http://192.0.2.10/ || echo FAIL; done"),
        );
        let t = tally(&out);
        assert_eq!(t.len(), 1, "client {src} was spread over {t:?}");
        let (server, n) = t.into_iter().next().unwrap();
        assert!(server.starts_with("rs") && n == 75, "{src}: {server} x{n}");
        all.insert(src, server);
    }
    ten_mb_both_ways(lab, "client", "192.0.2.10");
    let log = rvsd.stop();
    assert!(Rvsd::counter_in(&log, "dr_out") > 0, "{log}");
    assert_eq!(
        Rvsd::counter_in(&log, "nat_out"),
        0,
        "DR replies must bypass the director: {log}"
    );
    eprintln!("sh mapping: {all:?}");
}
