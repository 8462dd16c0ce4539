//! Golden packets for the forwarding transforms (`rvs::lb::xform`).
//!
//! The cases are data: `tests/fixtures/golden/cases.json`, written by
//! `tests/fixtures/golden/make.py`, where scapy builds every input frame and every
//! expected output frame from scratch (an implementation independent of ours).
//! This test runs each input through the transform the case names and compares
//! the verdict and the output bytes; `tests/golden_check.py` then re-dissects the
//! expected outputs with scapy and recomputes their checksums, so a fixture
//! cannot silently encode a wrong checksum.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::path::Path;
use std::process::Command;

use rvs::lb::flow::FlowKey;
use rvs::lb::xform::{self, DropReason, Egress, IcmpSent, Tunnel, Verdict};
use rvs::wire::{EthernetAddress, HeadroomBuf, PacketBuf};
use serde_json::Value;

const CASES: &str = "tests/fixtures/golden/cases.json";

fn hex(s: &str) -> Vec<u8> {
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).expect("fixture hex is valid"))
        .collect()
}

fn to_hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn mac(v: &Value) -> EthernetAddress {
    let s = v.as_str().expect("mac is a string");
    let b: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).expect("mac hex"))
        .collect();
    EthernetAddress::from_bytes(&b).expect("6-byte mac")
}

fn addr(v: &Value) -> Ipv4Addr {
    v.as_str()
        .expect("address is a string")
        .parse()
        .expect("IPv4 address")
}

fn num(v: &Value) -> u64 {
    v.as_u64().expect("number")
}

fn verdict_name(v: Verdict) -> String {
    match v {
        Verdict::Forward => "forward".into(),
        Verdict::Fragment => "fragment".into(),
        Verdict::SendBack(IcmpSent::FragNeeded) => "send_back:frag_needed".into(),
        Verdict::SendBack(IcmpSent::TimeExceeded) => "send_back:time_exceeded".into(),
        Verdict::SendBack(IcmpSent::PortUnreachable) => "send_back:port_unreachable".into(),
        Verdict::Drop(r) => format!(
            "drop:{}",
            r.counter_name().strip_prefix("drop_").unwrap_or("?")
        ),
    }
}

fn load() -> Vec<Value> {
    let text = std::fs::read_to_string(CASES).expect("golden cases present");
    let doc: Value = serde_json::from_str(&text).expect("golden cases are JSON");
    assert_eq!(doc["format"], 1, "fixture format version");
    doc["cases"].as_array().expect("cases list").clone()
}

/// Runs one case; returns the verdict and the output frame.
fn run(c: &Value) -> (Verdict, Vec<u8>) {
    let p = &c["params"];
    let input = hex(c["input"].as_str().expect("input hex"));
    let headroom = num(&p["headroom"]) as usize;
    let mut buf = HeadroomBuf::with_room(&input, headroom, 2048.max(input.len()));
    let l3 = num(&p["l3"]) as usize;
    let eg = Egress {
        port_mac: mac(&p["port_mac"]),
        next_hop_mac: mac(&p["next_hop_mac"]),
        mtu: num(&p["mtu"]) as u16,
        ident: num(&p["ident"]) as u16,
    };
    let real = SocketAddrV4::new(addr(&p["rip"]), num(&p["rport"]) as u16);
    let virt = SocketAddrV4::new(addr(&p["vip"]), num(&p["vport"]) as u16);
    let v = match c["transform"].as_str().expect("transform") {
        "nat_in" => xform::nat_in(&mut buf, l3, real, &eg),
        "nat_out" => xform::nat_out(&mut buf, l3, virt, addr(&p["local_addr"]), &eg),
        "dr" => xform::dr(&mut buf, l3, &eg),
        "tun" => {
            let t = Tunnel {
                src_addr: addr(&p["tun_src"]),
                dst_addr: addr(&p["rip"]),
            };
            xform::tun(&mut buf, l3, &t, &eg)
        }
        "icmp_in" => xform::icmp_in(&mut buf, l3, real, &eg),
        "icmp_out" => xform::icmp_out(&mut buf, l3, virt, &eg),
        other => panic!("unknown transform {other} in fixture"),
    };
    (v, buf.data().to_vec())
}

#[test]
fn golden_cases_match_scapy() {
    let cases = load();
    assert!(cases.len() >= 40, "at least 40 golden cases");
    let mut failures = Vec::new();
    for c in &cases {
        let name = c["name"].as_str().expect("name");
        assert!(
            c["state"].is_null(),
            "{name}: state-dependent cases need the lb path"
        );
        let (v, out) = run(c);
        let want = c["verdict"].as_str().expect("verdict");
        if verdict_name(v) != want {
            failures.push(format!("{name}: verdict {} want {want}", verdict_name(v)));
            continue;
        }
        if let Some(exp) = c["output"].as_str() {
            let got = to_hex(&out);
            if got != exp {
                failures.push(format!("{name}: output\n  got  {got}\n  want {exp}"));
            }
        }
        if let Some(f) = c["flow"].as_object() {
            let input = hex(c["input"].as_str().expect("input"));
            let l3 = num(&c["params"]["l3"]) as usize;
            let want = FlowKey {
                proto: num(&f["proto"]) as u8,
                saddr: addr(&f["saddr"]),
                sport: num(&f["sport"]) as u16,
                daddr: addr(&f["daddr"]),
                dport: num(&f["dport"]) as u16,
            };
            match xform::quoted_flow(&input, l3) {
                Ok(k) if k == want => {}
                other => failures.push(format!("{name}: quoted_flow {other:?} want {want:?}")),
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} golden cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}

#[test]
fn golden_cases_cover_every_verdict_kind() {
    let cases = load();
    let seen: Vec<&str> = cases.iter().filter_map(|c| c["verdict"].as_str()).collect();
    for want in [
        "forward",
        "fragment",
        "send_back:frag_needed",
        "send_back:time_exceeded",
        "drop:malformed",
        "drop:bad_ip_checksum",
        "drop:fragment",
        "drop:ip_options",
        "drop:ttl_exceeded",
        "drop:too_big",
        "drop:no_headroom",
        "drop:bad_icmp_checksum",
        "drop:icmp_unrelated",
        "drop:unsupported_protocol",
    ] {
        assert!(seen.contains(&want), "no golden case ends in {want}");
    }
    for t in ["nat_in", "nat_out", "dr", "tun", "icmp_in", "icmp_out"] {
        assert!(
            cases.iter().any(|c| c["transform"] == t),
            "no golden case for {t}"
        );
    }
}

/// docs/DROPS.md must name every counter the transforms can bump.
#[test]
fn drops_doc_lists_every_counter() {
    let doc = std::fs::read_to_string("docs/DROPS.md").expect("docs/DROPS.md present");
    for r in DropReason::ALL {
        assert!(
            doc.contains(&format!("`{}`", r.counter_name())),
            "docs/DROPS.md lacks {}",
            r.counter_name()
        );
    }
    for k in IcmpSent::ALL {
        assert!(
            doc.contains(&format!("`{}`", k.counter_name())),
            "docs/DROPS.md lacks {}",
            k.counter_name()
        );
    }
}

/// Scapy re-dissects every expected output and recomputes its checksums. Runs
/// Debian's python (scapy is not in the pyenv python first on PATH). Missing
/// scapy skips locally, but fails under CI=true.
#[test]
fn golden_outputs_pass_scapy_checks() {
    let python = Path::new("/usr/bin/python3");
    let in_ci = std::env::var("CI").map(|v| v == "true").unwrap_or(false);
    if !python.exists() {
        assert!(!in_ci, "CI=true but /usr/bin/python3 is missing");
        eprintln!("skipping: /usr/bin/python3 missing");
        return;
    }
    let out = Command::new(python)
        .arg("tests/golden_check.py")
        .arg(CASES)
        .output()
        .expect("run golden_check.py");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    match out.status.code() {
        Some(0) => {}
        Some(77) if !in_ci => eprintln!("skipping: scapy missing: {stderr}"),
        _ => panic!(
            "golden_check.py failed ({:?}):\n{stdout}\n{stderr}",
            out.status
        ),
    }
}
