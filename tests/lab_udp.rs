//! UDP services end to end: request/response datagrams through a NAT director (replies
//! come back through rvsd and must carry the VIP:port as their source) and through a DR
//! director (replies go straight from the real server, from the VIP on its loopback).
//! Real servers run `udpecho.py`, which answers `<name> <payload>`.

mod common;
use common::lab::lab_available;
use common::rvsd::Rvsd;
use common::scenario::{serial, udp_exchange, udp_ready, UdpReply};
use common::topo::{NatLab, OneArmed, OneArmedLab};

/// Every datagram got a reply from `from`, naming a server and echoing its payload.
/// `from = None` accepts any source (checked by the caller).
fn check_replies(replies: &[Option<UdpReply>], count: usize, from: Option<&str>) -> Vec<String> {
    assert_eq!(replies.len(), count, "{replies:?}");
    replies
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let r = r
                .as_ref()
                .unwrap_or_else(|| panic!("datagram {i} got no reply: {replies:?}"));
            if let Some(from) = from {
                assert_eq!(r.from, from, "reply {i} has the wrong source: {replies:?}");
            }
            assert_eq!(r.payload, format!("dgram-{i}"), "payload not echoed: {r:?}");
            assert!(r.server.starts_with("rs"), "{r:?}");
            r.server.clone()
        })
        .collect()
}

/// RIP of each lab real server by name, for replies that are not rewritten.
fn rip_of(server: &str) -> &'static str {
    match server {
        "rs1" => "192.0.2.11:53",
        "rs2" => "192.0.2.12:53",
        "rs3" => "192.0.2.13:53",
        _ => "?",
    }
}

/// lab-nat.toml's `-u 203.0.113.10:53 -s rr` over rs1, rs2 (NAT) with ops turned off:
/// a socket is one connection entry (sticks to one server, replies rewritten to come
/// from VIP:53); fresh sockets are new flows that rr hands out in turn.
#[test]
fn nat_udp_replies_come_from_the_vip_and_new_flows_take_turns() {
    if !lab_available("nat_udp_replies_come_from_the_vip_and_new_flows_take_turns") {
        return;
    }
    let _serial = serial();
    let nat = NatLab::new();
    let rvsd = nat.rvsd("lab-nat.toml", &[("ops = true", "ops = false")]);
    let lab = &nat.lab;
    assert!(
        udp_ready(lab, "client", "203.0.113.10", 53, 20),
        "VIP:53 not answering:\n{}",
        rvsd.log_text()
    );
    let same = udp_exchange(lab, "client", "203.0.113.10", 53, 6, false);
    let servers = check_replies(&same, 6, Some("203.0.113.10:53"));
    assert!(
        servers.iter().all(|s| *s == servers[0]),
        "one socket is one connection: it must stay on one server: {servers:?}"
    );
    let fresh = udp_exchange(lab, "client", "203.0.113.10", 53, 8, true);
    let servers = check_replies(&fresh, 8, Some("203.0.113.10:53"));
    for w in servers.windows(2) {
        assert_ne!(w[0], w[1], "rr must alternate rs1/rs2: {servers:?}");
    }
    assert!(
        servers.iter().all(|s| s == "rs1" || s == "rs2"),
        "rs3 is not in the UDP service: {servers:?}"
    );
    let log = rvsd.stop();
    assert!(Rvsd::counter_in(&log, "nat_in") >= 15, "{log}");
    assert!(Rvsd::counter_in(&log, "nat_out") >= 15, "{log}");
}

/// One-packet scheduling (lab-nat.toml as shipped, `-o`): every datagram is scheduled
/// on its own, so even datagrams from one socket (one 5-tuple) alternate rs1/rs2 under
/// rr. Real IPVS keeps no entry for them, so its NAT replies leave un-rewritten, from
/// RIP:53 (tests/fixtures/oracle/udp_ops/recording.txt); rvs may do that or rewrite
/// them to VIP:53, but each reply must come from one of the two and echo the datagram.
#[test]
fn nat_udp_ops_schedules_each_datagram_of_one_socket() {
    if !lab_available("nat_udp_ops_schedules_each_datagram_of_one_socket") {
        return;
    }
    let _serial = serial();
    let nat = NatLab::new();
    let rvsd = nat.rvsd("lab-nat.toml", &[]);
    let lab = &nat.lab;
    assert!(
        udp_ready(lab, "client", "203.0.113.10", 53, 20),
        "VIP:53 not answering:\n{}",
        rvsd.log_text()
    );
    let replies = udp_exchange(lab, "client", "203.0.113.10", 53, 10, false);
    let servers = check_replies(&replies, 10, None);
    let log = rvsd.stop();
    for r in replies.iter().flatten() {
        assert!(
            r.from == "203.0.113.10:53" || r.from == rip_of(&r.server),
            "reply from neither the VIP nor its real server: {r:?}"
        );
    }
    for w in servers.windows(2) {
        assert_ne!(
            w[0], w[1],
            "ops + rr: datagrams of one socket must alternate: {servers:?}\n{log}"
        );
    }
}

/// DR: lab-dr.toml plus `-u 192.0.2.10:5300 -s rr` over rs1..rs3 (no ops). One socket
/// is one connection entry and sticks to one server; fresh sockets take turns. As in any
/// DR setup, the UDP server binds the VIP itself (a socket bound to 0.0.0.0 would answer
/// from the real server's own address), so the test starts `udpecho.py --bind VIP`.
#[test]
fn dr_udp_replies_come_straight_from_the_real_servers() {
    if !lab_available("dr_udp_replies_come_straight_from_the_real_servers") {
        return;
    }
    let _serial = serial();
    let mut dr = OneArmedLab::new(OneArmed::Dr);
    for i in 1..=3 {
        let h = format!("rs{i}");
        dr.lab.spawn(
            &h,
            &format!("/usr/bin/python3 tests/lab/udpecho.py {h} --bind 192.0.2.10 --port 5300"),
        );
        assert!(dr
            .lab
            .wait_until(&h, "ss -lun | grep -q '192.0.2.10:5300'", 10));
    }
    let udp_service = "addr = \"192.0.2.13\"\nmethod = \"dr\"\n\n\
        [[service]]\nproto = \"udp\"\nvip = \"192.0.2.10\"\nport = 5300\nscheduler = \"rr\"\n\n\
        [[service.real]]\naddr = \"192.0.2.11\"\nmethod = \"dr\"\n\n\
        [[service.real]]\naddr = \"192.0.2.12\"\nmethod = \"dr\"\n\n\
        [[service.real]]\naddr = \"192.0.2.13\"\nmethod = \"dr\"\n";
    let rvsd = dr.rvsd(
        "lab-dr.toml",
        &[("addr = \"192.0.2.13\"\nmethod = \"dr\"\n", udp_service)],
    );
    assert!(
        std::fs::read_to_string(&rvsd.config)
            .unwrap()
            .contains("proto = \"udp\""),
        "the UDP service replacement did not apply"
    );
    let lab = &dr.lab;
    assert!(
        udp_ready(lab, "client", "192.0.2.10", 5300, 20),
        "VIP:5300 not answering:\n{}",
        rvsd.log_text()
    );
    let same = udp_exchange(lab, "client", "192.0.2.10", 5300, 6, false);
    let servers = check_replies(&same, 6, Some("192.0.2.10:5300"));
    assert!(
        servers.iter().all(|s| *s == servers[0]),
        "one socket is one connection: it must stay on one server: {servers:?}"
    );
    let fresh = udp_exchange(lab, "client", "192.0.2.10", 5300, 6, true);
    let servers = check_replies(&fresh, 6, Some("192.0.2.10:5300"));
    for w in servers.windows(3) {
        assert!(
            w[0] != w[1] && w[1] != w[2] && w[0] != w[2],
            "rr over 3 must cycle through all of them: {servers:?}"
        );
    }
    let log = rvsd.stop();
    assert!(Rvsd::counter_in(&log, "dr_out") >= 13, "{log}");
    assert_eq!(
        Rvsd::counter_in(&log, "nat_out"),
        0,
        "DR replies must bypass the director: {log}"
    );
}
