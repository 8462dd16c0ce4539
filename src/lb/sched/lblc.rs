//! `lblc`: locality-based least connection (for cache clusters).
//!
//! Per destination address, remember a dest. Reuse it while it is available, has
//! weight > 0 and is not "overloaded" in lblc's own sense (active > weight while some
//! dest of the service has active * 2 < weight; the OVERLOAD flag is not consulted for
//! the remembered dest); otherwise choose by wlc and remember the new choice.
//!
//! Differences from IPVS, for a bounded, allocation-free, lock-free fast path:
//! - the memory is a direct-mapped cache of [`CACHE_SLOTS`] slots indexed by
//!   `hash_32(daddr, 12)` instead of a growing chained table; two destination
//!   addresses that share a slot evict each other (IPVS keeps both);
//! - entries do not expire by age (IPVS drops entries idle for `lblc_expiration`,
//!   24 h, or 6 min when its table is over-full); they are dropped when their dest
//!   leaves the service.
//!
//! Workers: one cache shared by all workers of the service; each slot is one
//! `AtomicU64` (address and dest together), so a reader never sees a torn entry.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use super::wlc::least_weighted;
use super::{find_same, hash_32, idx, Scheduler};
use crate::lb::dest::{Dest, DestIdx};
use crate::lb::flow::FlowKey;

/// log2 of the cache size.
pub const CACHE_BITS: u32 = 12;
/// Cache slots per service (32 KiB).
pub const CACHE_SLOTS: usize = 1 << CACHE_BITS;

/// lblc/lblcr "overloaded": more active conns than weight while another dest is
/// below half its weight.
pub(crate) fn lblc_overloaded(d: &Dest, dests: &[Arc<Dest>]) -> bool {
    i64::from(d.active_conns()) > i64::from(d.weight())
        && dests
            .iter()
            .any(|x| i64::from(x.active_conns()) * 2 < i64::from(x.weight()))
}

/// A shared direct-mapped cache: per slot, `daddr << 32 | payload` (0 = empty), where
/// the payload packs dest indices + 1, one per byte (lblc uses the low 16 bits).
#[derive(Debug)]
pub(crate) struct Cache {
    slots: Box<[AtomicU64]>,
}

impl Cache {
    pub(crate) fn new() -> Self {
        Cache {
            slots: (0..CACHE_SLOTS).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    pub(crate) fn slot(&self, daddr: u32) -> &AtomicU64 {
        &self.slots[hash_32(daddr, CACHE_BITS) as usize]
    }

    /// A copy whose payloads are rewritten by `remap` (`None` drops the entry).
    pub(crate) fn remapped(&self, remap: impl Fn(u32) -> Option<u32>) -> Self {
        let slots = self
            .slots
            .iter()
            .map(|s| {
                let v = s.load(Ordering::Relaxed);
                let nv = match remap(v as u32) {
                    Some(p) if v != 0 && p != 0 => (v & !0xffff_ffff) | u64::from(p),
                    _ => 0,
                };
                AtomicU64::new(nv)
            })
            .collect();
        Cache { slots }
    }
}

/// Maps a dest index of `old` to its index in `new` (by identity).
pub(crate) fn remap_idx(old: &[Arc<Dest>], new: &[Arc<Dest>], i: usize) -> Option<usize> {
    old.get(i).and_then(|d| find_same(new, d))
}

/// Locality-based least-connection state.
#[derive(Debug)]
pub struct Lblc {
    cache: Cache,
    seen: Vec<Arc<Dest>>,
}

impl Lblc {
    /// An empty cache.
    pub fn new() -> Self {
        Lblc {
            cache: Cache::new(),
            seen: Vec::new(),
        }
    }
}

impl Default for Lblc {
    fn default() -> Self {
        Lblc::new()
    }
}

impl Scheduler for Lblc {
    fn name(&self) -> &'static str {
        "lblc"
    }

    fn rebuild(&mut self, dests: &[Arc<Dest>]) {
        let old = std::mem::take(&mut self.seen);
        self.cache = self.cache.remapped(|p| {
            let i = (p & 0xffff).checked_sub(1)? as usize;
            remap_idx(&old, dests, i).map(|n| n as u32 + 1)
        });
        self.seen = dests.to_vec();
    }

    fn pick(&self, dests: &[Arc<Dest>], flow: &FlowKey) -> Option<DestIdx> {
        let key = u32::from(flow.daddr);
        let slot = self.cache.slot(key);
        let v = slot.load(Ordering::Relaxed);
        if v != 0 && (v >> 32) as u32 == key {
            let i = ((v as u32) & 0xffff).wrapping_sub(1) as usize;
            if let Some(d) = dests.get(i) {
                if d.is_available() && d.weight() > 0 && !lblc_overloaded(d, dests) {
                    return Some(idx(i));
                }
            }
        }
        let i = least_weighted(dests, Dest::overhead)?;
        // Relaxed: the slot is self-contained; a racing worker's entry may win, as a
        // cache it is then simply that worker's (equally valid) choice.
        slot.store((u64::from(key) << 32) | (i as u64 + 1), Ordering::Relaxed);
        Some(idx(i))
    }

    fn fork(&self) -> Box<dyn Scheduler> {
        Box::new(Lblc {
            cache: self.cache.remapped(Some),
            seen: self.seen.clone(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::sched::testutil::{dests, flow, run};
    use std::net::Ipv4Addr;

    #[test]
    fn sticks_to_remembered_dest_per_daddr() {
        let d = dests(&[1, 2, 3]);
        let mut s = Lblc::new();
        s.rebuild(&d);
        // Same daddr: wlc's first choice (ties -> first), then remembered.
        assert_eq!(run(&s, &d, 4), [0, 0, 0, 0].map(Some));
        let mut f = flow(Ipv4Addr::new(192, 0, 2, 5), 9);
        f.daddr = Ipv4Addr::new(198, 51, 100, 77);
        // Other daddr: wlc over 4/1, 0/2, 0/3 -> dest 1.
        assert_eq!(s.pick(&d, &f), Some(DestIdx(1)));
    }

    #[test]
    fn leaves_overloaded_and_survives_rebuild() {
        let d = dests(&[1, 4]);
        let mut s = Lblc::new();
        s.rebuild(&d);
        assert_eq!(run(&s, &d, 1), [Some(0)]);
        d[0].conn_became_active();
        d[0].bind_conn();
        d[0].conn_became_active(); // 2 active > weight 1, and dest 1 has 0*2 < 4
        assert_eq!(run(&s, &d, 1), [Some(1)]);
        // Dest 0 removed: the entry (now dest 1) moves to index 0.
        let d2 = vec![d[1].clone()];
        let mut s2 = s.fork();
        s2.rebuild(&d2);
        assert_eq!(run(&*s2, &d2, 1), [Some(0)]);
    }
}
