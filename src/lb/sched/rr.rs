//! `rr`: round robin.
//!
//! IPVS keeps a pointer to the last dest used (initially the list head) and takes
//! the next dest after it, in list order, that has weight > 0 and is not OVERLOADed,
//! wrapping around once (the last dest itself is tried last). When the last dest is
//! deleted, the pointer moves back to its predecessor, so the sequence resumes with
//! the deleted dest's successor.
//!
//! Workers: the cursor is one atomic shared by every worker of the service and
//! advanced by compare-and-swap, so all workers together walk IPVS's one sequence
//! (IPVS takes `svc->sched_lock` for the same effect).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;

use super::{find_same, idx, selectable, Scheduler};
use crate::lb::dest::{Dest, DestIdx};
use crate::lb::flow::FlowKey;

/// Round-robin state: the last dest used.
#[derive(Debug, Default)]
pub struct Rr {
    /// 0 = the list head (nothing used yet), `i + 1` = dest `i` of `seen` was last.
    /// Relaxed is enough: the cursor is the only shared datum and CAS orders it.
    cursor: AtomicU32,
    /// The dest list of the last rebuild, to re-anchor the cursor by identity.
    seen: Vec<Arc<Dest>>,
}

impl Rr {
    /// A cursor at the list head.
    pub fn new() -> Self {
        Rr::default()
    }
}

impl Scheduler for Rr {
    fn name(&self) -> &'static str {
        "rr"
    }

    fn rebuild(&mut self, dests: &[Arc<Dest>]) {
        let cur = self.cursor.load(Ordering::Relaxed) as usize;
        // The last dest, or (if it is gone) its nearest surviving predecessor.
        let mut new = 0;
        let mut i = cur;
        while i > 0 {
            if let Some(d) = self.seen.get(i - 1) {
                if let Some(pos) = find_same(dests, d) {
                    new = pos + 1;
                    break;
                }
            }
            i -= 1;
        }
        self.cursor.store(new as u32, Ordering::Relaxed);
        self.seen = dests.to_vec();
    }

    fn pick(&self, dests: &[Arc<Dest>], _flow: &FlowKey) -> Option<DestIdx> {
        let n = dests.len();
        if n == 0 {
            return None;
        }
        let mut cur = self.cursor.load(Ordering::Relaxed);
        loop {
            let start = cur as usize % n;
            let hit = (0..n)
                .map(|k| (start + k) % n)
                .find(|&i| selectable(&dests[i]))?;
            match self.cursor.compare_exchange_weak(
                cur,
                hit as u32 + 1,
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return Some(idx(hit)),
                Err(now) => cur = now,
            }
        }
    }

    fn fork(&self) -> Box<dyn Scheduler> {
        Box::new(Rr {
            cursor: AtomicU32::new(self.cursor.load(Ordering::Relaxed)),
            seen: self.seen.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::sched::testutil::{dests, run};

    #[test]
    fn cycles_in_list_order_skipping_quiesced() {
        let d = dests(&[1, 0, 5, 1]);
        let mut s = Rr::new();
        s.rebuild(&d);
        assert_eq!(
            run(&s, &d, 7),
            [
                Some(0),
                Some(2),
                Some(3),
                Some(0),
                Some(2),
                Some(3),
                Some(0)
            ]
        );
    }

    #[test]
    fn none_when_all_quiesced_or_empty() {
        let d = dests(&[0, 0]);
        let mut s = Rr::new();
        s.rebuild(&d);
        assert_eq!(run(&s, &d, 2), [None, None]);
        assert_eq!(run(&s, &[], 1), [None]);
    }

    #[test]
    fn deleting_last_used_resumes_with_its_successor() {
        let d = dests(&[1, 1, 1, 1]);
        let mut s = Rr::new();
        s.rebuild(&d);
        assert_eq!(run(&s, &d, 2), [Some(0), Some(1)]);
        // Remove dest 1 (the last used): next is old dest 2, now at index 1.
        let d2 = vec![d[0].clone(), d[2].clone(), d[3].clone()];
        let mut s2 = s.fork();
        s2.rebuild(&d2);
        assert_eq!(run(&*s2, &d2, 2), [Some(1), Some(2)]);
    }

    #[test]
    fn concurrent_workers_share_one_sequence() {
        let d = dests(&[1, 1, 1]);
        let mut s = Rr::new();
        s.rebuild(&d);
        let s = Arc::new(s);
        let counts: Vec<[u32; 3]> = std::thread::scope(|sc| {
            let hs: Vec<_> = (0..2)
                .map(|_| {
                    let (s, d) = (s.clone(), d.clone());
                    sc.spawn(move || {
                        let mut c = [0u32; 3];
                        for p in run(&*s, &d, 3000).into_iter().flatten() {
                            c[p as usize] += 1;
                        }
                        c
                    })
                })
                .collect();
            hs.into_iter().map(|h| h.join().unwrap()).collect()
        });
        // 6000 picks over one shared cursor: exactly 2000 each.
        for (a, b) in counts[0].iter().zip(&counts[1]) {
            assert_eq!(a + b, 2000);
        }
    }
}
