//! `wrr`: weighted round robin, IPVS's gcd-stepped variant.
//!
//! State: the last dest used `cl` (initially the list head) and a current weight `cw`.
//! A pick walks on from `cl` for the next dest with weight >= `cw` (not OVERLOADed);
//! at the end of the list `cw` steps down by `di` = gcd of the positive weights, and
//! when it reaches 0 it restarts at `mw` = max weight - (di - 1). Over one cycle each
//! dest gets weight/gcd picks, interleaved rather than in bursts.
//!
//! Subtle IPVS behaviour kept here:
//! - every dest change (add, edit, delete) re-anchors `cl` at the head and recomputes
//!   `di` and `mw`, but keeps `cw` unless it is 0 or above the new `mw` (then `cw = mw`),
//!   or rounds it to `(cw / di) * di + 1` when `di > 1`. A service built by adding
//!   dests one at a time therefore starts with the `cw` left by the first add, which
//!   is why the service calls `rebuild` after each single change;
//! - after a full pass that finds nothing, IPVS stops with "no destination available"
//!   and leaves `cl` where the search stopped.
//!
//! Workers: `(cl, cw)` is packed in one `AtomicU64` shared by all workers and updated
//! by compare-and-swap, so the workers together produce IPVS's exact sequence.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::{gcd, idx, Scheduler};
use crate::lb::dest::{Dest, DestIdx};
use crate::lb::flow::FlowKey;

/// Weighted round-robin state.
#[derive(Debug, Default)]
pub struct Wrr {
    /// Low 32 bits: `cl` (0 = head, `i + 1` = dest `i`); high 32 bits: `cw` as i32.
    /// Relaxed is enough: this word is the only shared state and CAS orders it.
    state: AtomicU64,
    /// gcd of the positive weights (1 if none), the step of `cw`.
    di: i32,
    /// max weight - (di - 1); 0 when no dest has a positive weight.
    mw: i32,
}

fn pack(cl: u32, cw: i32) -> u64 {
    (u64::from(cw as u32) << 32) | u64::from(cl)
}

fn unpack(s: u64) -> (u32, i32) {
    (s as u32, (s >> 32) as u32 as i32)
}

impl Wrr {
    /// IPVS `init_svc` on an empty service: `di` 1, `mw` 0, `cw` 0.
    pub fn new() -> Self {
        Wrr {
            state: AtomicU64::new(0),
            di: 1,
            mw: 0,
        }
    }

    /// One IPVS pick from state `(cl, cw)`: the chosen index (if any) and the new state.
    fn step(&self, dests: &[Arc<Dest>], cl: u32, mut cw: i32) -> (Option<usize>, u32, i32) {
        let n = dests.len();
        let last = (cl as usize).min(n); // 0 = head
        let mut pos = last;
        let (mut last_pass, mut restarted) = (false, false);
        let mut stop: Option<usize> = None; // a dest index, where the last pass must end
                                            // Bounded: cw takes at most mw/di + 1 values per restart, and IPVS gives up
                                            // after one restart; the bound only guards against weights changing under us.
        let rounds = (self.mw / self.di.max(1)).max(0) as usize * 2 + 4;
        for _ in 0..rounds {
            for (i, d) in dests.iter().enumerate().skip(pos) {
                if !d.is_overloaded() && d.weight() >= cw {
                    return (Some(i), i as u32 + 1, cw);
                }
                if stop == Some(i) {
                    return (None, i as u32 + 1, cw);
                }
            }
            pos = 0;
            cw -= self.di;
            if cw <= 0 {
                cw = self.mw;
                if last_pass || last == 0 {
                    return (None, 0, cw);
                }
                restarted = true;
            }
            last_pass = cw <= self.di;
            if last_pass && restarted && last != 0 {
                stop = Some(last - 1);
            }
        }
        (None, 0, cw)
    }
}

impl Scheduler for Wrr {
    fn name(&self) -> &'static str {
        "wrr"
    }

    fn rebuild(&mut self, dests: &[Arc<Dest>]) {
        let g = dests
            .iter()
            .map(|d| d.weight())
            .filter(|&w| w > 0)
            .fold(0, gcd);
        self.di = if g > 0 { g } else { 1 };
        let max_w = dests.iter().map(|d| d.weight()).max().unwrap_or(0).max(0);
        self.mw = max_w - (self.di - 1);
        let (_, mut cw) = unpack(self.state.load(Ordering::Relaxed));
        if cw > self.mw || cw == 0 {
            cw = self.mw;
        } else if self.di > 1 {
            cw = (cw / self.di) * self.di + 1;
        }
        self.state.store(pack(0, cw), Ordering::Relaxed);
    }

    fn pick(&self, dests: &[Arc<Dest>], _flow: &FlowKey) -> Option<DestIdx> {
        if self.mw <= 0 {
            return None;
        }
        let mut cur = self.state.load(Ordering::Relaxed);
        loop {
            let (cl, cw) = unpack(cur);
            let (hit, ncl, ncw) = self.step(dests, cl, cw);
            match self.state.compare_exchange_weak(
                cur,
                pack(ncl, ncw),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return hit.map(idx),
                Err(now) => cur = now,
            }
        }
    }

    fn fork(&self) -> Box<dyn Scheduler> {
        Box::new(Wrr {
            state: AtomicU64::new(self.state.load(Ordering::Relaxed)),
            di: self.di,
            mw: self.mw,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::sched::testutil::{dests, run};

    /// Builds the way ipvsadm does: an empty service, then one add (at the head) per dest.
    fn built_by_adds(weights_in_add_order: &[i32]) -> (Box<dyn Scheduler>, Vec<Arc<Dest>>) {
        let all = dests(weights_in_add_order);
        let mut s: Box<dyn Scheduler> = Box::new(Wrr::new());
        let mut list: Vec<Arc<Dest>> = Vec::new();
        s.rebuild(&list);
        for d in &all {
            list.insert(0, d.clone());
            let mut n = s.fork();
            n.rebuild(&list);
            s = n;
        }
        (s, list)
    }

    #[test]
    fn one_rebuild_gives_classic_sequence() {
        let d = dests(&[4, 3, 2]);
        let mut s = Wrr::new();
        s.rebuild(&d);
        let got = run(&s, &d, 9);
        let want = [0, 0, 1, 0, 1, 2, 0, 1, 2].map(Some);
        assert_eq!(got, want);
    }

    #[test]
    fn cw_left_by_first_add_shapes_the_start() {
        // Added 3, 2, 1: list is [w1, w2, w3]; cw stays at 1 after the first add.
        let (s, d) = built_by_adds(&[3, 2, 1]);
        assert_eq!(d.iter().map(|x| x.weight()).collect::<Vec<_>>(), [1, 2, 3]);
        let got = run(&*s, &d, 8);
        assert_eq!(got, [0, 1, 2, 2, 1, 2, 0, 1].map(Some));
    }

    #[test]
    fn gcd_steps_and_quiesced_skipped() {
        let d = dests(&[4, 2, 6, 0]);
        let mut s = Wrr::new();
        s.rebuild(&d);
        // di 2, mw 5: cw 5 -> {6}, 3 -> {4, 6}, 1 -> {4, 2, 6}
        assert_eq!(run(&s, &d, 7), [2, 0, 2, 0, 1, 2, 2].map(Some));
    }

    #[test]
    fn all_overloaded_is_none() {
        let d = dests(&[2, 1]);
        for x in &d {
            x.set_thresholds(1, 0);
            x.bind_conn();
        }
        let mut s = Wrr::new();
        s.rebuild(&d);
        assert_eq!(run(&s, &d, 2), [None, None]);
    }

    #[test]
    fn distribution_within_one_percent_of_weights() {
        let w = [7, 3, 11, 1, 5];
        let d = dests(&w);
        let mut s = Wrr::new();
        s.rebuild(&d);
        let total: i32 = w.iter().sum();
        let n = 27 * 1000;
        let mut c = [0u32; 5];
        for p in run(&s, &d, n).into_iter().flatten() {
            c[p as usize] += 1;
        }
        for i in 0..5 {
            let want = n as f64 * w[i] as f64 / total as f64;
            assert!(
                (c[i] as f64 - want).abs() <= want * 0.01,
                "dest {i}: {} vs {want}",
                c[i]
            );
        }
    }
}
