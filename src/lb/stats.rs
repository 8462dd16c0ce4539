//! Per-service and per-dest traffic counters (`ipvsadm -L --stats`): connections,
//! packets and bytes in (client -> real server) and out (real server -> client);
//! and, per dest, the failed openings of passive detection ([`Stats::failed_openings`]).
//!
//! Fast path: each worker owns one cache-line-aligned block of a [`Stats`] and is its
//! only writer, so an increment is a relaxed load + store (no locked instruction, no
//! shared cache line). The management thread sums the blocks on read; a sum may be a
//! few packets behind a running worker, never torn per counter (each is one atomic).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

/// One worker's counters. Only that worker writes; anyone may read.
#[derive(Debug, Default)]
#[repr(align(64))]
pub struct Counters {
    conns: AtomicU64,
    in_pkts: AtomicU64,
    out_pkts: AtomicU64,
    in_bytes: AtomicU64,
    out_bytes: AtomicU64,
    /// Passive detection: new connections whose opening failed (`lb/conn/passive.rs`).
    /// Not a `--stats` column and never zeroed by `-Z`: the management side diffs it.
    failed_openings: AtomicU64,
}

/// Single-writer add: Relaxed is enough because only this worker stores to `c`,
/// and readers only need each value eventually.
#[inline]
fn bump(c: &AtomicU64, n: u64) {
    c.store(c.load(Ordering::Relaxed).wrapping_add(n), Ordering::Relaxed);
}

impl Counters {
    /// A new connection was scheduled (to this dest / service).
    #[inline]
    pub fn add_conn(&self) {
        bump(&self.conns, 1);
    }
    /// One client-to-server packet of `bytes` (IP length).
    #[inline]
    pub fn add_in(&self, bytes: u64) {
        bump(&self.in_pkts, 1);
        bump(&self.in_bytes, bytes);
    }
    /// One server-to-client packet of `bytes` (NAT only: DR/TUN replies bypass us).
    #[inline]
    pub fn add_out(&self, bytes: u64) {
        bump(&self.out_pkts, 1);
        bump(&self.out_bytes, bytes);
    }
    /// Passive detection: one new connection to this dest failed to open (the real
    /// server reset it in SYN_RECV, or never answered; `lb/conn/passive.rs`).
    #[inline]
    pub fn add_failed_opening(&self) {
        bump(&self.failed_openings, 1);
    }
    fn snapshot(&self) -> StatsSnapshot {
        StatsSnapshot {
            conns: self.conns.load(Ordering::Relaxed),
            in_pkts: self.in_pkts.load(Ordering::Relaxed),
            out_pkts: self.out_pkts.load(Ordering::Relaxed),
            in_bytes: self.in_bytes.load(Ordering::Relaxed),
            out_bytes: self.out_bytes.load(Ordering::Relaxed),
        }
    }
}

/// Summed counters at one instant (the five `--stats` columns).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StatsSnapshot {
    /// Connections scheduled.
    pub conns: u64,
    /// Packets client -> server.
    pub in_pkts: u64,
    /// Packets server -> client.
    pub out_pkts: u64,
    /// Bytes client -> server.
    pub in_bytes: u64,
    /// Bytes server -> client.
    pub out_bytes: u64,
}

impl StatsSnapshot {
    fn minus(self, z: StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            conns: self.conns.wrapping_sub(z.conns),
            in_pkts: self.in_pkts.wrapping_sub(z.in_pkts),
            out_pkts: self.out_pkts.wrapping_sub(z.out_pkts),
            in_bytes: self.in_bytes.wrapping_sub(z.in_bytes),
            out_bytes: self.out_bytes.wrapping_sub(z.out_bytes),
        }
    }
    fn plus(self, o: StatsSnapshot) -> StatsSnapshot {
        StatsSnapshot {
            conns: self.conns.wrapping_add(o.conns),
            in_pkts: self.in_pkts.wrapping_add(o.in_pkts),
            out_pkts: self.out_pkts.wrapping_add(o.out_pkts),
            in_bytes: self.in_bytes.wrapping_add(o.in_bytes),
            out_bytes: self.out_bytes.wrapping_add(o.out_bytes),
        }
    }
}

/// The counters of one service or one dest: a block per worker.
#[derive(Debug)]
pub struct Stats {
    blocks: Box<[Counters]>,
    /// `-Z` keeps a zero point instead of writing the workers' blocks (which only
    /// their owners write). Management thread only.
    zero: Mutex<StatsSnapshot>,
}

impl Stats {
    /// Counters for `workers` workers (at least one block).
    pub fn new(workers: usize) -> Self {
        Stats {
            blocks: (0..workers.max(1)).map(|_| Counters::default()).collect(),
            zero: Mutex::new(StatsSnapshot::default()),
        }
    }

    /// Number of worker blocks.
    pub fn workers(&self) -> usize {
        self.blocks.len()
    }

    /// Worker `w`'s block (`w` wraps modulo the block count, so no index panics).
    #[inline]
    pub fn worker(&self, w: usize) -> &Counters {
        &self.blocks[w % self.blocks.len()]
    }

    fn raw(&self) -> StatsSnapshot {
        self.blocks
            .iter()
            .fold(StatsSnapshot::default(), |a, b| a.plus(b.snapshot()))
    }

    /// The sum over workers since creation or the last [`Stats::zero`].
    pub fn sum(&self) -> StatsSnapshot {
        let z = *self.zero.lock().unwrap_or_else(|e| e.into_inner());
        self.raw().minus(z)
    }

    /// Passive detection: failed openings of new connections, summed over the
    /// workers since this dest was created (dest revival keeps its counters, and so
    /// this count). Monotonic: `-Z` does not reset it, so a reader may diff two
    /// reads (wrapping) to learn the failures in between. Management thread and
    /// tests; a sum may be a few events behind a running worker.
    pub fn failed_openings(&self) -> u64 {
        self.blocks.iter().fold(0u64, |a, b| {
            a.wrapping_add(b.failed_openings.load(Ordering::Relaxed))
        })
    }

    /// `ipvsadm -Z`: counters read as 0 from now on.
    pub fn zero(&self) {
        let now = self.raw();
        *self.zero.lock().unwrap_or_else(|e| e.into_inner()) = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workers_sum_and_zero() {
        let s = Stats::new(3);
        std::thread::scope(|sc| {
            for w in 0..3 {
                let s = &s;
                sc.spawn(move || {
                    for _ in 0..1000 {
                        s.worker(w).add_in(100);
                    }
                    s.worker(w).add_conn();
                    s.worker(w).add_out(60);
                });
            }
        });
        let t = s.sum();
        assert_eq!(
            (t.conns, t.in_pkts, t.in_bytes, t.out_pkts, t.out_bytes),
            (3, 3000, 300_000, 3, 180)
        );
        s.zero();
        assert_eq!(s.sum(), StatsSnapshot::default());
        s.worker(7).add_conn(); // wraps to block 1
        assert_eq!(s.sum().conns, 1);
    }

    #[test]
    fn failed_openings_sum_over_workers_and_survive_zero() {
        let s = Stats::new(2);
        assert_eq!(s.failed_openings(), 0);
        s.worker(0).add_failed_opening();
        s.worker(1).add_failed_opening();
        s.worker(1).add_failed_opening();
        assert_eq!(s.failed_openings(), 3);
        s.zero();
        assert_eq!(s.failed_openings(), 3, "-Z leaves it monotonic");
        assert_eq!(s.sum(), StatsSnapshot::default());
    }

    #[test]
    fn a_workers_block_is_one_cache_line_of_its_own() {
        assert_eq!(std::mem::align_of::<Counters>(), 64);
        assert_eq!(std::mem::size_of::<Counters>(), 64);
    }
}
