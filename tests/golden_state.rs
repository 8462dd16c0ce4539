//! Stateful golden cases (tests/fixtures/golden/state/cases.json, made by scapy with
//! tests/fixtures/golden/state/make.py): sequences of frames through the whole path a
//! worker runs — the load-balancing path first, the appliance for what it passes — with
//! the connection table, persistence templates, weights and time as state. Every
//! expected output frame was built by scapy, so our bytes must equal an independent
//! implementation's, checksums included.

use rvs::dataplane::worker::net_counter;
use rvs::dataplane::{LbVerdict, Views};
use rvs::lb::flow::proto;
use rvs::testkit::testbed::director;
use rvs::wire::{HeadroomBuf, PacketBuf};
use serde_json::Value;
use std::net::Ipv4Addr;

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}

fn mac(s: &str) -> [u8; 6] {
    let v: Vec<u8> = s
        .split(':')
        .map(|b| u8::from_str_radix(b, 16).unwrap())
        .collect();
    v.try_into().unwrap()
}

#[test]
fn stateful_golden_cases() {
    let text =
        std::fs::read_to_string("tests/fixtures/golden/state/cases.json").expect("cases.json");
    let cases: Vec<Value> = serde_json::from_str(&text).unwrap();
    assert!(cases.len() >= 6);
    let mut steps_run = 0;
    for case in &cases {
        let name = case["name"].as_str().unwrap();
        let (mut lb, mut publisher) = director(case["max_conns"].as_u64().unwrap() as u32, "rr");
        let net = lb.net().view(publisher.net_reader());
        for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
            let at = format!("{name} step {i}");
            match step.get("op").and_then(Value::as_str) {
                Some("sweep") => {
                    lb.sweep(step["t"].as_u64().unwrap() as u32, 1 << 20);
                    continue;
                }
                Some("learn") => {
                    let ip: Ipv4Addr = step["ip"].as_str().unwrap().parse().unwrap();
                    net.neigh().learn(
                        ip,
                        mac(step["mac"].as_str().unwrap()),
                        step["t"].as_u64().unwrap() as u32,
                    );
                    continue;
                }
                Some("set_weight") => {
                    let vip: Ipv4Addr = step["vip"].as_str().unwrap().parse().unwrap();
                    let rip: Ipv4Addr = step["rip"].as_str().unwrap().parse().unwrap();
                    let table = publisher.services().clone();
                    let svc = table
                        .lookup(proto::TCP, vip, step["vport"].as_u64().unwrap() as u16)
                        .unwrap();
                    svc.dests()
                        .iter()
                        .find(|d| d.addr == rip)
                        .unwrap()
                        .set_weight(step["weight"].as_i64().unwrap() as i32);
                    continue;
                }
                Some(other) => panic!("{at}: unknown op {other}"),
                None => {}
            }
            let now = step["t"].as_u64().unwrap() as u32;
            let mut b = HeadroomBuf::new(&hex(step["in"].as_str().unwrap()));
            // As the worker: the LB path first, the appliance for what it passes.
            let (counter, sent) = match lb.handle(0, &mut b, now) {
                LbVerdict::Tx { counter, .. } => (counter, true),
                LbVerdict::Drop(counter) => (counter, false),
                // Held for an unresolved next hop: nothing out yet.
                LbVerdict::Hold { .. } => (rvs::dataplane::Counter::NeighHeld, false),
                // Fragmented by the worker: no single frame to compare (none recorded).
                LbVerdict::Fragment { counter, .. } => (counter, false),
                // Taken in for reassembly: nothing out until the datagram is whole.
                LbVerdict::Reassemble(_) => (rvs::dataplane::Counter::FragReasmReqds, false),
                LbVerdict::Pass => {
                    let v = net.handle(0, &mut b, now);
                    (net_counter(&v), matches!(v, rvs::net::Verdict::Tx { .. }))
                }
            };
            assert_eq!(counter.name(), step["counter"].as_str().unwrap(), "{at}");
            match step["out"].as_str() {
                Some(out) => {
                    assert!(sent, "{at}: expected a frame out");
                    assert_eq!(hex_of(b.data()), out, "{at}: output differs from scapy's");
                }
                None => assert!(!sent, "{at}: expected no frame out"),
            }
            steps_run += 1;
        }
    }
    let frames_in_file = cases
        .iter()
        .flat_map(|c| c["steps"].as_array().unwrap())
        .filter(|s| s.get("op").is_none())
        .count();
    assert_eq!(steps_run, frames_in_file);
    assert!(steps_run >= 24, "{steps_run}");
}

fn hex_of(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}
