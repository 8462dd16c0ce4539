//! Connection table benchmarks, each next to a baseline measured in the same run:
//! lookup hit at 1K / 1M / 10M live NAT connections (vs `std::collections::HashMap`),
//! insert (vs HashMap insert), and 1 vs 2 threads hammering lookups (vs a
//! 16-shard `Mutex<HashMap>`). Prints bytes per connection and memory at 10M.
//! Run: `cargo bench --bench conntable` (a few minutes, ~2 GB RAM at 10M).

use std::collections::HashMap;
use std::hint::black_box;
use std::net::Ipv4Addr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use rvs::lb::conn::{ConnTable, DestId, NewConn, TcpFlags};
use rvs::lb::dest::{Dest, Fwd};
use rvs::lb::flow::{proto, FlowKey};

type Key = (u8, u32, u16, u32, u16);
const VIP: u32 = 0xCB00_7101;

fn key(i: u32) -> Key {
    // Clients spread over 198.18.0.0/15-like space, ports 1024.. (benchmark only).
    (
        proto::TCP,
        0xC612_0000 ^ (i >> 12),
        1024 + (i & 0xFFF) as u16,
        VIP,
        80,
    )
}

fn flow(k: Key) -> FlowKey {
    FlowKey {
        proto: k.0,
        saddr: Ipv4Addr::from(k.1),
        sport: k.2,
        daddr: Ipv4Addr::from(k.3),
        dport: k.4,
    }
}

fn conn(k: Key, dest: DestId) -> NewConn {
    NewConn {
        proto: k.0,
        caddr: Ipv4Addr::from(k.1),
        cport: k.2,
        vaddr: Ipv4Addr::from(k.3),
        vport: k.4,
        raddr: Ipv4Addr::new(192, 0, 2, 10),
        rport: 8080,
        fwd: Fwd::Nat,
        dest,
    }
}

fn filled(n: u32) -> ConnTable {
    let t = ConnTable::new(n).unwrap();
    let d = Arc::new(Dest::new(Ipv4Addr::new(192, 0, 2, 10), 8080, Fwd::Nat, 1));
    let id = t.register_dest(&d).unwrap();
    for i in 0..n {
        t.insert(&conn(key(i), id), TcpFlags::ACK, None, 0).unwrap();
    }
    t
}

/// Pseudo-random probe order (xorshift), precomputed so the RNG is not timed.
fn probes(n: u32, count: usize) -> Vec<u32> {
    let mut x = 0x9E37_79B9u32;
    (0..count)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 17;
            x ^= x << 5;
            x % n
        })
        .collect()
}

fn lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("lookup_hit");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    for n in [1_000u32, 1_000_000, 10_000_000] {
        let keys: Vec<FlowKey> = probes(n, 1 << 16)
            .into_iter()
            .map(|i| flow(key(i)))
            .collect();
        let t = filled(n);
        if n == 10_000_000 {
            eprintln!(
                "conntable: {} B/conn incl. index; {} MiB for 10M connections",
                t.bytes_per_conn(),
                t.memory_bytes() >> 20
            );
        }
        let mut i = 0usize;
        g.bench_with_input(BenchmarkId::new("conntable", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) & 0xFFFF;
                black_box(t.lookup(&keys[i], TcpFlags::ACK, 0))
            })
        });
        drop(t);
        let mut m: HashMap<Key, u32> = HashMap::with_capacity(n as usize);
        for j in 0..n {
            m.insert(key(j), j);
        }
        let hk: Vec<Key> = probes(n, 1 << 16).into_iter().map(key).collect();
        if n == 10_000_000 {
            let per = std::mem::size_of::<(Key, u32)>() + 1;
            eprintln!(
                "baseline HashMap<Key,u32>: ~{} B/entry (buckets only), no reply index",
                per * m.capacity() / n as usize
            );
        }
        let mut i = 0usize;
        g.bench_with_input(BenchmarkId::new("std_hashmap", n), &n, |b, _| {
            b.iter(|| {
                i = (i + 1) & 0xFFFF;
                black_box(m.get(&hk[i]))
            })
        });
    }
    g.finish();
}

fn insert(c: &mut Criterion) {
    let mut g = c.benchmark_group("insert");
    g.sample_size(20)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let d = Arc::new(Dest::new(Ipv4Addr::new(192, 0, 2, 10), 8080, Fwd::Nat, 1));
    g.bench_function("conntable", |b| {
        b.iter_custom(|iters| {
            let t = ConnTable::new(iters.max(1) as u32).unwrap();
            let id = t.register_dest(&d).unwrap();
            let ks: Vec<NewConn> = (0..iters as u32).map(|i| conn(key(i), id)).collect();
            let start = Instant::now();
            for k in &ks {
                black_box(t.insert(k, TcpFlags::SYN, None, 0).is_ok());
            }
            start.elapsed()
        })
    });
    g.bench_function("std_hashmap", |b| {
        b.iter_custom(|iters| {
            let mut m: HashMap<Key, u32> = HashMap::with_capacity(iters as usize);
            let ks: Vec<Key> = (0..iters as u32).map(key).collect();
            let start = Instant::now();
            for (i, k) in ks.iter().enumerate() {
                black_box(m.insert(*k, i as u32));
            }
            start.elapsed()
        })
    });
    g.finish();
}

const SHARDS: usize = 16;

fn threads(c: &mut Criterion) {
    let mut g = c.benchmark_group("lookup_threads_1M");
    g.sample_size(10)
        .warm_up_time(Duration::from_secs(1))
        .measurement_time(Duration::from_secs(3));
    let n = 1_000_000u32;
    let t = filled(n);
    let sharded: Vec<Mutex<HashMap<Key, u32>>> =
        (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect();
    for j in 0..n {
        let k = key(j);
        sharded[(k.1 as usize ^ k.2 as usize) % SHARDS]
            .lock()
            .unwrap()
            .insert(k, j);
    }
    let keys: Vec<u32> = probes(n, 1 << 16);
    for nthreads in [1usize, 2] {
        // Time per lookup per thread: equal times for 1 and 2 threads = perfect scaling.
        g.bench_with_input(
            BenchmarkId::new("conntable", nthreads),
            &nthreads,
            |b, &nt| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    std::thread::scope(|s| {
                        for th in 0..nt {
                            let (t, keys) = (&t, &keys);
                            s.spawn(move || {
                                for i in 0..iters as usize {
                                    let k = flow(key(keys[(i + th * 7919) & 0xFFFF]));
                                    black_box(t.lookup(&k, TcpFlags::ACK, 0));
                                }
                            });
                        }
                    });
                    start.elapsed()
                })
            },
        );
        g.bench_with_input(
            BenchmarkId::new("sharded_mutex_hashmap", nthreads),
            &nthreads,
            |b, &nt| {
                b.iter_custom(|iters| {
                    let start = Instant::now();
                    std::thread::scope(|s| {
                        for th in 0..nt {
                            let (sh, keys) = (&sharded, &keys);
                            s.spawn(move || {
                                for i in 0..iters as usize {
                                    let k = key(keys[(i + th * 7919) & 0xFFFF]);
                                    let m =
                                        sh[(k.1 as usize ^ k.2 as usize) % SHARDS].lock().unwrap();
                                    black_box(m.get(&k).copied());
                                }
                            });
                        }
                    });
                    start.elapsed()
                })
            },
        );
    }
    g.finish();
}

criterion_group!(benches, lookup, insert, threads);
criterion_main!(benches);
