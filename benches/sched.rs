//! ns per pick for every scheduler with 10 dests, next to a trivial baseline (an index
//! modulo) measured in the same run, plus the Maglev table build for M = 65521 and
//! 100 dests. Read ratios to the baseline, not absolute numbers.

use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::Arc;

use criterion::{criterion_group, criterion_main, Criterion};
use rvs::lb::dest::{Dest, Fwd};
use rvs::lb::flow::{proto, FlowKey};
use rvs::lb::sched::{mh, new_scheduler, SchedFlags, SchedParams, NAMES};

fn dests(n: usize) -> Vec<Arc<Dest>> {
    (0..n)
        .map(|i| {
            Arc::new(Dest::new(
                Ipv4Addr::new(198, 51, 100, 1 + i as u8),
                80,
                Fwd::Nat,
                1 + (i % 4) as i32,
            ))
        })
        .collect()
}

fn flow(i: u32) -> FlowKey {
    FlowKey {
        proto: proto::TCP,
        saddr: Ipv4Addr::from(0xc000_0200 | (i & 0xff)),
        sport: (i >> 8) as u16,
        daddr: Ipv4Addr::new(203, 0, 113, 1),
        dport: 80,
    }
}

fn picks(c: &mut Criterion) {
    let d = dests(10);
    let mut g = c.benchmark_group("pick_10_dests");
    let mut i = 0u32;
    g.bench_function("baseline_index_modulo", |b| {
        b.iter(|| {
            i = i.wrapping_add(1);
            black_box(black_box(&d)[(black_box(i) as usize) % 10].weight())
        })
    });
    for name in NAMES {
        let mut s = new_scheduler(name, &SchedParams::default()).expect("known");
        s.rebuild(&d);
        let mut i = 0u32;
        g.bench_function(name, |b| {
            b.iter(|| {
                i = i.wrapping_add(1);
                black_box(s.pick(black_box(&d), &flow(i)))
            })
        });
    }
    g.finish();
}

fn maglev_build(c: &mut Criterion) {
    let d = dests(100);
    let mut s = mh::Mh::new(SchedFlags::default(), 65521).expect("an IPVS size");
    c.bench_function("mh_build_m65521_n100", |b| {
        b.iter(|| rvs::lb::sched::Scheduler::rebuild(&mut s, black_box(&d)))
    });
}

criterion_group!(benches, picks, maglev_build);
criterion_main!(benches);
