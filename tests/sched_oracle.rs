//! Replays the scenarios that `tests/fixtures/oracle/sched/record.sh` ran against real
//! Linux IPVS (kernel 6.1, ipvsadm 1.31) through rvs's schedulers, and asserts that rvs
//! chooses the same real server for every flow, in the same order. A flow IPVS did not
//! schedule (no entry in `ipvsadm -Lnc`) must get no dest from rvs either.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;

use rvs::lb::dest::{Dest, Fwd};
use rvs::lb::flow::{proto, FlowKey};
use rvs::lb::sched::{new_scheduler, SchedFlags, SchedParams, Scheduler};

const DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/fixtures/oracle/sched");

struct Svc {
    id: String,
    vip: Ipv4Addr,
    vport: u16,
    sched: String,
    flags: String,
    dests: Vec<(Ipv4Addr, i32)>,
    flows: Vec<(Ipv4Addr, u16)>,
}

fn scenarios() -> Vec<Svc> {
    let text = std::fs::read_to_string(format!("{DIR}/scenarios.txt")).expect("scenarios.txt");
    let mut out: Vec<Svc> = Vec::new();
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.is_empty() || f[0].starts_with('#') {
            continue;
        }
        let find = |out: &mut Vec<Svc>, id: &str| {
            out.iter().position(|s| s.id == id).expect("svc before use")
        };
        match f[0] {
            "svc" => out.push(Svc {
                id: f[1].into(),
                vip: f[2].parse().unwrap(),
                vport: f[3].parse().unwrap(),
                sched: f[4].into(),
                flags: if f[5] == "-" {
                    String::new()
                } else {
                    f[5].into()
                },
                dests: vec![],
                flows: vec![],
            }),
            "dest" => {
                let i = find(&mut out, f[1]);
                out[i]
                    .dests
                    .push((f[2].parse().unwrap(), f[3].parse().unwrap()));
            }
            "pkts" => {
                let i = find(&mut out, f[1]);
                let a0 = u32::from(f[2].parse::<Ipv4Addr>().unwrap());
                let (na, p0, np): (u32, u16, u16) = (
                    f[3].parse().unwrap(),
                    f[4].parse().unwrap(),
                    f[5].parse().unwrap(),
                );
                for a in 0..na {
                    for p in 0..np {
                        out[i].flows.push((Ipv4Addr::from(a0 + a), p0 + p));
                    }
                }
            }
            other => panic!("unknown line kind {other}"),
        }
    }
    out
}

/// (client addr, client port, vip, vport) -> real server address, from `ipvsadm -Lnc`.
fn recorded() -> HashMap<(Ipv4Addr, u16, Ipv4Addr, u16), Ipv4Addr> {
    let text = std::fs::read_to_string(format!("{DIR}/conns.txt")).expect("conns.txt");
    let split = |s: &str| {
        let (a, p) = s.rsplit_once(':').unwrap();
        (a.parse::<Ipv4Addr>().unwrap(), p.parse::<u16>().unwrap())
    };
    text.lines()
        .skip(2)
        .map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let (ca, cp) = split(f[3]);
            let (va, vp) = split(f[4]);
            ((ca, cp, va, vp), split(f[5]).0)
        })
        .collect()
}

#[test]
fn rvs_schedulers_choose_what_ipvs_chose() {
    let rec = recorded();
    let mut checked = 0;
    let mut failures = Vec::new();
    for svc in scenarios() {
        let params = SchedParams {
            flags: SchedFlags::parse(&svc.flags, &svc.sched).unwrap(),
            // rvs's default size: it must be the kernel's (4093) for these to match.
            ..SchedParams::default()
        };
        let mut sched: Box<dyn Scheduler> = new_scheduler(&svc.sched, &params).unwrap();
        // ipvsadm -A then one -a per dest: IPVS puts each new dest at the list head
        // and tells the scheduler after every add.
        let mut list: Vec<Arc<Dest>> = Vec::new();
        sched.rebuild(&list);
        for &(addr, w) in &svc.dests {
            list.insert(0, Arc::new(Dest::new(addr, svc.vport, Fwd::Nat, w)));
            let mut next = sched.fork();
            next.rebuild(&list);
            sched = next;
        }
        let mut got = Vec::new();
        let mut want = Vec::new();
        for &(saddr, sport) in &svc.flows {
            let flow = FlowKey {
                proto: proto::UDP,
                saddr,
                sport,
                daddr: svc.vip,
                dport: svc.vport,
            };
            let pick = sched.pick(&list, &flow).map(|i| {
                let d = &list[i.0 as usize];
                d.bind_conn();
                d.addr
            });
            got.push(pick);
            want.push(rec.get(&(saddr, sport, svc.vip, svc.vport)).copied());
            checked += 1;
        }
        if got != want {
            failures.push(format!(
                "{} ({} {}): rvs {:?}\n  ipvs {:?}",
                svc.id, svc.sched, svc.flags, got, want
            ));
        }
    }
    assert!(checked > 500, "only {checked} flows");
    assert!(
        failures.is_empty(),
        "{} scenarios differ:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
