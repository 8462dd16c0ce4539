//! Large UDP datagrams through the director (issue 10 item 7): an 8 KB request and its
//! 8 KB answer (a DNS-like exchange; the real servers' `udpecho.py` echoes the request)
//! cross the 1500-byte lab links as fragments and arrive intact, compared byte for byte.
//!
//! On af_packet ports the kernel reassembles the fragments before rvsd sees them (the
//! PMD's `PACKET_FANOUT_FLAG_DEFRAG`, docs/DROPS.md), so the whole datagram must fit one
//! ring frame and one mbuf: the configs get `framesz=10240` and `[tables]
//! mbuf_data_room = 10208`; rvsd then schedules the datagram as one packet and its
//! egress fragmenter splits it again for the 1500-byte link (`frag_oks`). NAT: both
//! directions through rvsd (the answer rewritten to come from VIP:53); DR: the request
//! through rvsd, the answer straight from the real server.

mod common;
use common::lab::{lab_available, Lab};
use common::rvsd::Rvsd;
use common::scenario::{serial, udp_ready};
use common::topo::{NatLab, OneArmed, OneArmedLab};

/// A client sending `count` datagrams of `size` bytes (seeded pseudo-random content) to
/// `vip:port` from one socket; each answer must be `<server> <the same bytes>` from
/// `vip:port`. Prints one line per datagram: `OK server` or `FAIL why`.
const BIG_CLIENT: &str = r#"
import random, socket, sys
vip, port, size, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.settimeout(3)
for i in range(count):
    data = random.Random(i).randbytes(size)
    s.sendto(data, (vip, port))
    try:
        reply, frm = s.recvfrom(65535)
    except socket.timeout:
        print("FAIL timeout", flush=True)
        continue
    name, _, body = reply.partition(b" ")
    if "%s:%d" % frm != "%s:%d" % (vip, port):
        print("FAIL from %s:%d" % frm, flush=True)
    elif body != data:
        print("FAIL content: %d bytes back for %d" % (len(body), size), flush=True)
    else:
        print("OK " + name.decode(), flush=True)
"#;

/// The af_packet ring and pool geometry that lets a reassembled 8 KB datagram through
/// whole: 10240-byte frames (two per 5-page block) and mbufs with 10208 bytes of data.
fn big_frames(dev: &str) -> (String, String) {
    (
        format!("\"{dev},"),
        format!("\"{dev},framesz=10240,blocksz=20480,framecnt=512,"),
    )
}

const BIG_POOL: (&str, &str) = (
    "[cores]",
    "[tables]\nmbufs = 4095\nmbuf_cache = 64\nmbuf_data_room = 10208\n\n[cores]",
);

fn exchange(lab: &Lab, vip: &str, port: u16, size: usize, count: usize) -> Vec<String> {
    lab.sh_ok(
        "client",
        &format!("/usr/bin/python3 - {vip} {port} {size} {count} <<'PYEOF'\n{BIG_CLIENT}\nPYEOF"),
    )
    .lines()
    .map(str::to_string)
    .collect()
}

#[test]
fn an_8k_udp_exchange_through_nat_arrives_intact() {
    if !lab_available("an_8k_udp_exchange_through_nat_arrives_intact") {
        return;
    }
    let _serial = serial();
    let nat = NatLab::new();
    let (a0, b0) = big_frames("net_af_packet0");
    let (a1, b1) = big_frames("net_af_packet1");
    let rvsd = nat.rvsd(
        "lab-nat.toml",
        &[
            ("ops = true", "ops = false"),
            (&a0, &b0),
            (&a1, &b1),
            BIG_POOL,
        ],
    );
    let lab = &nat.lab;
    assert!(
        udp_ready(lab, "client", "203.0.113.10", 53, 20),
        "VIP:53 not answering:\n{}",
        rvsd.log_text()
    );
    let got = exchange(lab, "203.0.113.10", 53, 8000, 4);
    let log = rvsd.stop();
    assert_eq!(got.len(), 4, "{got:?}\n{log}");
    assert!(got.iter().all(|l| l.starts_with("OK rs")), "{got:?}\n{log}");
    // Each 8 KB datagram left rvsd in fragments, both ways.
    assert!(Rvsd::counter_in(&log, "frag_oks") >= 8, "{log}");
    assert_eq!(Rvsd::counter_in(&log, "drop_malformed"), 0, "{log}");
}

#[test]
fn an_8k_udp_request_through_dr_arrives_intact() {
    if !lab_available("an_8k_udp_request_through_dr_arrives_intact") {
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
        [[service.real]]\naddr = \"192.0.2.12\"\nmethod = \"dr\"\n";
    let (a0, b0) = big_frames("net_af_packet0");
    let rvsd = dr.rvsd(
        "lab-dr.toml",
        &[
            ("addr = \"192.0.2.13\"\nmethod = \"dr\"\n", udp_service),
            (&a0, &b0),
            BIG_POOL,
        ],
    );
    let lab = &dr.lab;
    assert!(
        udp_ready(lab, "client", "192.0.2.10", 5300, 20),
        "VIP:5300 not answering:\n{}",
        rvsd.log_text()
    );
    let got = exchange(lab, "192.0.2.10", 5300, 8000, 4);
    let log = rvsd.stop();
    assert_eq!(got.len(), 4, "{got:?}\n{log}");
    assert!(got.iter().all(|l| l.starts_with("OK rs")), "{got:?}\n{log}");
    assert!(Rvsd::counter_in(&log, "frag_oks") >= 4, "{log}");
    assert_eq!(Rvsd::counter_in(&log, "drop_malformed"), 0, "{log}");
}
