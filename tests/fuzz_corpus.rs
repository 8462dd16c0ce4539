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
        "lbpath" => rvs::testkit::testbed::fuzz_one,
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
        ["arp", "ethernet", "icmp", "ipv4", "lbpath", "tcp", "udp"],
        "one corpus dir per fuzz target"
    );
}
