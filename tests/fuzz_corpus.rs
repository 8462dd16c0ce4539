//! Replays the fuzz seed corpus (`fuzz/corpus/<target>/`) through the same
//! parse-and-touch code the cargo-fuzz targets run (`rvs::testkit::fuzz_touch`),
//! on stable Rust, so every seed (and every crash input someone adds as a
//! `seed-*` file) is a regression test.
//!
//! Besides "never panics", seeds that are whole, well-formed packets (any name
//! without a `-trunc-`, `-too-`, `-ihl-`, `-len-` or `-doff-` marker) must be
//! accepted by their parser: a parser that starts rejecting good packets fails
//! here too, and seeds with inconsistent length fields (`-too-`, `-ihl-`,
//! `-len-`, `-doff-`) must be refused.

use std::fs;
use std::path::Path;

fn driver(target: &str) -> Option<fn(&[u8]) -> u64> {
    use rvs::testkit::fuzz_touch as t;
    Some(match target {
        // The ethernet target dissects whole frames, like the data path.
        "ethernet" => t::frame,
        "arp" => t::arp,
        "ipv4" => t::ipv4,
        "icmp" => t::icmp,
        "tcp" => t::tcp,
        "udp" => t::udp,
        // The whole load-balancing path on the testbed director.
        "lbpath" => rvs::testkit::worker_path::fuzz_lbpath,
        // A worker without services: ARP, echo, routing, to-kernel.
        "appliance" => rvs::testkit::worker_path::fuzz_appliance,
        _ => return None,
    })
}

const BROKEN_MARKERS: [&str; 5] = ["-trunc-", "-too-", "-ihl-", "-len-", "-doff-"];

#[test]
fn replay_seed_corpus() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut targets_seen = Vec::new();
    for dir in fs::read_dir(&root).expect("fuzz/corpus exists") {
        let dir = dir.expect("readable corpus dir entry").path();
        let target = dir
            .file_name()
            .and_then(|n| n.to_str())
            .expect("utf-8 target name")
            .to_string();
        let run = driver(&target).unwrap_or_else(|| panic!("no driver for corpus dir {target}"));
        let mut files = 0;
        for file in fs::read_dir(&dir).expect("readable corpus dir") {
            let path = file.expect("readable corpus entry").path();
            let data = fs::read(&path).expect("readable seed");
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or("");
            let touched = run(&data);
            // Every target also goes through the whole-frame dissector: the
            // bytes of one layer are arbitrary bytes to the others.
            rvs::testkit::fuzz_touch::frame(&data);
            let broken = BROKEN_MARKERS.iter().any(|m| name.contains(m));
            if name.starts_with("seed-") && !broken {
                assert_ne!(
                    touched, 0,
                    "{target}/{name}: a well-formed seed was rejected"
                );
            }
            // Inconsistent length fields must be refused by new_checked
            // (truncations may still leave a valid shorter packet).
            if broken && !name.contains("-trunc-") {
                assert_eq!(
                    touched, 0,
                    "{target}/{name}: an inconsistent seed was accepted"
                );
            }
            files += 1;
        }
        assert!(files >= 3, "{target}: only {files} seeds");
        targets_seen.push(target);
    }
    targets_seen.sort();
    assert_eq!(
        targets_seen,
        [
            "appliance",
            "arp",
            "ethernet",
            "icmp",
            "ipv4",
            "lbpath",
            "tcp",
            "udp"
        ],
        "one corpus dir per fuzz target"
    );
}

/// The `lbpath` and `appliance` inputs are sequences on a moving clock over the whole
/// worker path (rvs::testkit::worker_path): a SYN to the NAT VIP, then the real
/// server's SYN-ACK, must come out as `nat_in` then `nat_out` (state carried from one
/// frame to the next); a frame whose next hop is unknown is held, and sent once the
/// ARP reply arrives (the hold queue and the appliance's ARP in the same run).
#[test]
fn path_inputs_are_sequences_over_the_whole_worker() {
    use rvs::dataplane::Counter;
    use rvs::testkit::testbed::{tcp_frame, CLIENT_MAC, PORT_MAC};
    use rvs::testkit::worker_path::{encode, options, records, WorkerPath};
    use std::net::Ipv4Addr;
    let a = |d| Ipv4Addr::new(203, 0, 113, d);
    let syn = tcp_frame(a(2), 40000, a(10), 80, 0x02, PORT_MAC, CLIENT_MAC);
    let mut w = WorkerPath::new(true, options(0));
    w.rx(0, &syn, 1);
    w.tick(1);
    let sent = w.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].counter, Counter::NatIn);
    let rs = sent[0].frame[33];
    assert!((11..=13).contains(&rs), "DNAT to a real server: {rs}");
    // The same SYN, then that real server's SYN-ACK, as one input.
    let rs_mac = [2, 0, 0, 0, 0, rs];
    let synack = tcp_frame(a(rs), 8080, a(2), 40000, 0x12, PORT_MAC, rs_mac);
    let input = encode(0, &[(1, &syn), (1, &synack)]);
    let (opts, recs) = records(&input);
    let mut w = WorkerPath::new(true, options(opts));
    let mut now = 0;
    for (step, frame) in recs {
        now += step;
        w.rx(0, frame, now);
        w.tick(now);
    }
    assert_eq!(w.count(Counter::NatIn), 1);
    assert_eq!(w.count(Counter::NatOut), 1);
    let sent = w.take_sent();
    assert_eq!(sent.len(), 2);
    assert_eq!(
        &sent[1].frame[26..30],
        &a(10).octets(),
        "SNAT back to the VIP"
    );
    assert_eq!(&sent[1].frame[34..36], &80u16.to_be_bytes());

    // Options bit 2: no neighbour known. The SYN is held and an ARP request goes out;
    // the real server's ARP reply releases it (the same
    // scheduler, so the same real server, on a fresh director).
    let mut w = WorkerPath::new(true, options(4));
    w.rx(0, &syn, 1);
    w.tick(1);
    assert_eq!(w.count(Counter::NeighHeld), 1);
    assert_eq!(w.count(Counter::ArpRequests), 1);
    assert_eq!(w.count(Counter::NatIn), 0);
    let mut reply = vec![0u8; 42];
    reply[0..6].copy_from_slice(&PORT_MAC);
    reply[6..12].copy_from_slice(&rs_mac);
    reply[12..14].copy_from_slice(&[0x08, 0x06]);
    reply[14..22].copy_from_slice(&[0, 1, 8, 0, 6, 4, 0, 2]);
    reply[22..28].copy_from_slice(&rs_mac);
    reply[28..32].copy_from_slice(&a(rs).octets());
    reply[32..38].copy_from_slice(&PORT_MAC);
    reply[38..42].copy_from_slice(&a(1).octets());
    w.rx(0, &reply, 2);
    w.tick(2);
    assert_eq!(w.count(Counter::NatIn), 1, "the held SYN was sent");
    let sent = w.take_sent();
    let held = sent.last().expect("frames sent");
    assert_eq!(held.counter, Counter::NatIn);
    assert_eq!(&held.frame[0..6], &rs_mac, "the learnt MAC written in");
}

/// Options bit 4 puts VLAN 100 on the testbed port (logical port 1): a tagged SYN to
/// its VIP leaves untagged to a real server, and the reply goes back to the VLAN
/// client tagged 100, so the fuzzers reach the 802.1Q strip and push on both paths.
#[test]
fn vlan_option_strips_and_pushes_tags() {
    use rvs::dataplane::Counter;
    use rvs::testkit::testbed::{tcp_frame, PORT_MAC};
    use rvs::testkit::worker_path::{options, WorkerPath};
    use std::net::Ipv4Addr;
    let tag = |f: Vec<u8>| [&f[..12], &[0x81, 0x00, 0x00, 100], &f[12..]].concat();
    let client = Ipv4Addr::new(192, 0, 2, 2);
    let vip = Ipv4Addr::new(192, 0, 2, 10);
    let client_mac = [2, 0, 0, 0, 0, 0x22];
    let mut w = WorkerPath::new(true, options(16));
    let syn = tcp_frame(client, 40000, vip, 80, 0x02, PORT_MAC, client_mac);
    w.rx(0, &tag(syn.clone()), 1);
    w.tick(1);
    let sent = w.take_sent();
    assert_eq!(sent.len(), 1, "{:?}", w.counts);
    assert_eq!(sent[0].counter, Counter::NatIn);
    assert_eq!(
        &sent[0].frame[12..14],
        &[0x08, 0x00],
        "untagged to the real server"
    );
    let rs = sent[0].frame[33];
    let synack = tcp_frame(
        Ipv4Addr::new(203, 0, 113, rs),
        8080,
        client,
        40000,
        0x12,
        PORT_MAC,
        [2, 0, 0, 0, 0, rs],
    );
    w.rx(0, &synack, 2);
    w.tick(2);
    let sent = w.take_sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].counter, Counter::NatOut);
    assert_eq!(&sent[0].frame[0..6], &client_mac);
    assert_eq!(
        &sent[0].frame[12..16],
        &[0x81, 0x00, 0x00, 100],
        "tagged 100"
    );
    assert_eq!(
        &sent[0].frame[30..34],
        &vip.octets(),
        "SNAT to the VLAN's VIP"
    );
    // Without the option the same tagged SYN is drop_vlan.
    let mut w = WorkerPath::new(true, options(0));
    w.rx(0, &tag(syn), 1);
    assert_eq!(w.count(Counter::DropVlan), 1);
    assert!(w.take_sent().is_empty());
}

/// Issue 10: "never send a malformed frame; never forward more than the datagram".
/// Every frame the worker path transmits for every `lbpath` and `appliance` seed must
/// pass `worker_path::check_sent_frame` (the fuzz targets' strict oracle): from the
/// port's MAC to a non-zero MAC, a valid IPv4 header whose total length is exactly the
/// rest of the frame (and the same inside IPIP). Before frames were trimmed to the IP
/// total length, `seed-trailing-junk` (NAT) and `seed-ping-trailing-junk` (echo reply)
/// failed here.
#[test]
fn every_seed_sends_only_wellformed_frames() {
    use rvs::testkit::worker_path::{check_sent_frame, run};
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/corpus");
    let mut sent = 0;
    for (target, with_lb) in [("lbpath", true), ("appliance", false)] {
        for file in fs::read_dir(root.join(target)).expect("corpus dir") {
            let path = file.expect("corpus entry").path();
            let data = fs::read(&path).expect("readable seed");
            run(&data, with_lb, |s| {
                sent += 1;
                if let Err(e) = check_sent_frame(s) {
                    panic!("{}: {:?} frame: {e}", path.display(), s.counter);
                }
            });
        }
    }
    assert!(sent > 100, "the seeds send frames ({sent})");
}

/// Options bits 5-6 choose the transit policy, so the fuzzers reach `drop_transit`
/// too: transit on the default route is routed with the bare `Net`'s policy (all) and
/// dropped with rvsd's default (none).
#[test]
fn transit_option_sets_the_policy() {
    use rvs::dataplane::Counter;
    use rvs::testkit::testbed::{tcp_frame, CLIENT_MAC, PORT_MAC};
    use rvs::testkit::worker_path::{options, WorkerPath};
    use std::net::Ipv4Addr;
    let f = tcp_frame(
        Ipv4Addr::new(203, 0, 113, 2),
        1000,
        Ipv4Addr::new(198, 51, 100, 77),
        80,
        0x02,
        PORT_MAC,
        CLIENT_MAC,
    );
    // 198.51.100.0/24 is routed via the client (learnt): routed out of port 0.
    let mut w = WorkerPath::new(false, options(0));
    w.rx(0, &f, 1);
    assert_eq!(w.count(Counter::Forwarded), 1);
    let mut w = WorkerPath::new(false, options(1 << 5));
    w.rx(0, &f, 1);
    assert_eq!(w.count(Counter::DropTransit), 1);
    assert_eq!(w.count(Counter::Forwarded), 0);
}
