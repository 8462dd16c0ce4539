//! `lblcr`: locality-based least connection with replication.
//!
//! Per destination address, remember a *set* of dests. A pick takes the set's
//! least-loaded member (overhead / weight, cross-multiplied; members must be available,
//! weight > 0 and not OVERLOADed); if there is none, or it is "overloaded" in lblc's
//! sense, a wlc pick over the whole service is added to the front of the set and used.
//!
//! Differences from IPVS (bounded, allocation-free, lock-free):
//! - the cache is lblc's direct-mapped [`super::lblc::CACHE_SLOTS`] slots, each one
//!   `AtomicU64`: 32 bits of address and up to [`MAX_SET`] members of one byte each
//!   (dest index + 1), newest first; adding a fifth member drops the oldest, and dests
//!   with index >= 255 are used but not remembered;
//! - IPVS shrinks a set by its most loaded member once the set is unchanged for
//!   `lblcr_expiration` (24 h) and drops idle entries; rvs has no timer here, a set
//!   shrinks when members leave the service or by the size cap.
//!
//! Workers: the cache is shared; a set is updated by compare-and-swap of its slot.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use super::lblc::{lblc_overloaded, remap_idx, Cache};
use super::wlc::least_weighted;
use super::{idx, Scheduler};
use crate::lb::dest::{Dest, DestIdx};
use crate::lb::flow::FlowKey;

/// Most members one destination address remembers.
pub const MAX_SET: usize = 4;

/// Locality-based least-connection-with-replication state.
#[derive(Debug)]
pub struct Lblcr {
    cache: Cache,
    seen: Vec<Arc<Dest>>,
}

impl Lblcr {
    /// An empty cache.
    pub fn new() -> Self {
        Lblcr {
            cache: Cache::new(),
            seen: Vec::new(),
        }
    }
}

impl Default for Lblcr {
    fn default() -> Self {
        Lblcr::new()
    }
}

/// Members (dest indices), newest first.
fn members(payload: u32) -> impl Iterator<Item = usize> {
    (0..MAX_SET)
        .map(move |k| (payload >> (8 * k)) & 0xff)
        .filter(|&b| b != 0)
        .map(|b| b as usize - 1)
}

/// IPVS `ip_vs_dest_set_min`.
fn set_min(payload: u32, dests: &[Arc<Dest>]) -> Option<usize> {
    let mut least: Option<(usize, i128)> = None;
    for i in members(payload) {
        let Some(d) = dests.get(i) else { continue };
        if d.is_overloaded() {
            continue;
        }
        let doh = i128::from(d.overhead());
        match least {
            None if d.weight() > 0 && d.is_available() => least = Some((i, doh)),
            None => {}
            Some((l, loh))
                if loh * d.weight() as i128 > doh * dests[l].weight() as i128
                    && d.is_available() =>
            {
                least = Some((i, doh));
            }
            Some(_) => {}
        }
    }
    least.map(|(i, _)| i)
}

/// The set with `i` added at the front (no-op if present; the oldest drops when full).
fn insert(payload: u32, i: usize) -> Option<u32> {
    if i >= 255 {
        return None;
    }
    if members(payload).any(|m| m == i) {
        return Some(payload);
    }
    Some((payload << 8) | (i as u32 + 1))
}

impl Scheduler for Lblcr {
    fn name(&self) -> &'static str {
        "lblcr"
    }

    fn rebuild(&mut self, dests: &[Arc<Dest>]) {
        let old = std::mem::take(&mut self.seen);
        self.cache = self.cache.remapped(|p| {
            let kept: Vec<usize> = members(p)
                .filter_map(|i| remap_idx(&old, dests, i))
                .collect();
            // Rebuild oldest first so the newest stays in front.
            Some(
                kept.iter()
                    .rev()
                    .fold(0u32, |acc, &i| insert(acc, i).unwrap_or(acc)),
            )
        });
        self.seen = dests.to_vec();
    }

    fn pick(&self, dests: &[Arc<Dest>], flow: &FlowKey) -> Option<DestIdx> {
        let key = u32::from(flow.daddr);
        let slot = self.cache.slot(key);
        let v = slot.load(Ordering::Relaxed);
        let hit = v != 0 && (v >> 32) as u32 == key;
        let payload = if hit { v as u32 } else { 0 };
        if hit {
            if let Some(i) = set_min(payload, dests) {
                if !lblc_overloaded(&dests[i], dests) {
                    return Some(idx(i));
                }
            }
        }
        let i = least_weighted(dests, Dest::overhead)?;
        if let Some(np) = insert(payload, i) {
            let nv = (u64::from(key) << 32) | u64::from(np);
            // A lost race only loses this cache update; the pick stands.
            let _ = slot.compare_exchange(v, nv, Ordering::Relaxed, Ordering::Relaxed);
        }
        Some(idx(i))
    }

    fn fork(&self) -> Box<dyn Scheduler> {
        Box::new(Lblcr {
            cache: self.cache.remapped(Some),
            seen: self.seen.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::sched::testutil::{dests, run};

    #[test]
    fn set_grows_when_member_overloaded() {
        let d = dests(&[1, 1, 4]);
        let mut s = Lblcr::new();
        s.rebuild(&d);
        assert_eq!(run(&s, &d, 2), [Some(0), Some(0)]);
        d[0].conn_became_active();
        d[0].conn_became_active(); // 2 active > 1 while dest 2 has 0*2 < 4
                                   // wlc over 512/1, 0/1, 0/4 -> dest 1 joins the set, and then stays its minimum.
        assert_eq!(run(&s, &d, 1), [Some(1)]);
        assert_eq!(run(&s, &d, 1), [Some(1)]);
    }

    #[test]
    fn set_packing() {
        let p = [3usize, 1, 7, 2, 9]
            .iter()
            .fold(0, |acc, &i| insert(acc, i).unwrap());
        assert_eq!(members(p).collect::<Vec<_>>(), [9, 2, 7, 1]);
        assert_eq!(insert(p, 300), None);
    }
}
