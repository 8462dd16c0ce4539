//! The lookup index: a flat array of 64-byte buckets, each holding 7 atomic
//! 64-bit cells and one overflow counter, probed linearly bucket by bucket.
//!
//! A cell is `tag:32 | kind:2 | slot+1:30` (0 = empty): `tag` is the top half of
//! the tuple's hash, so a probe compares slots only on a 1-in-2^32 false match;
//! `kind` says which tuple of the slot the cell stands for.
//!
//! Deletion without tombstones (the F14 idea): `ovf[b]` counts entries whose
//! home bucket is at or before `b` but that live after `b` because `b` was full
//! when they were inserted. A lookup stops at the first bucket whose `ovf` is 0,
//! so a freed cell can simply be zeroed, and churn never degrades lookups.
//! Insert raises the counters of the buckets it passes *before* it claims its
//! cell, and delete lowers them *after* clearing it, so a concurrent lookup can
//! only ever probe too far, never stop too early.
//!
//! Orderings: cell CAS/loads and `ovf` updates are SeqCst. The table's
//! duplicate check (two workers inserting the same new flow) is a Dekker
//! pattern (each inserter stores its cell, then loads the other's), which needs
//! a single total order over those stores and loads; SeqCst gives it. On x86 a
//! SeqCst load is a plain load, so lookups pay nothing for it.

use super::slot::try_boxed;
use super::sync::{AtomicU32, AtomicU64, Ordering::SeqCst};
use super::ConnError;

/// Cells per bucket: 7 × 8 B + the overflow word fill one 64-byte cache line.
pub const CELLS: usize = 7;

/// What a cell points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Kind {
    /// Client → VIP tuple of a connection.
    In = 0,
    /// Real server → client tuple of a NAT connection.
    Out = 1,
    /// Persistence template key.
    Template = 2,
}

/// Largest slot index a cell can name (30 bits, minus the +1 bias).
pub(crate) const MAX_SLOTS: u32 = (1 << 30) - 2;

/// Encodes a cell value.
pub(crate) fn cell(hash: u64, kind: Kind, slot: u32) -> u64 {
    (hash & 0xFFFF_FFFF_0000_0000) | ((kind as u64) << 30) | (slot as u64 + 1)
}

/// Decodes a non-empty cell value into (kind, slot).
pub(crate) fn decode(c: u64) -> (Kind, u32) {
    let kind = match (c >> 30) & 3 {
        0 => Kind::In,
        1 => Kind::Out,
        _ => Kind::Template,
    };
    (kind, ((c & 0x3FFF_FFFF) as u32).wrapping_sub(1))
}

#[repr(align(64))]
#[derive(Default)]
struct Bucket {
    /// Entries homed at or before this bucket but stored after it. Range 0..=total cells.
    ovf: AtomicU32,
    cells: [AtomicU64; CELLS],
}

/// The bucket array (see module doc).
pub(crate) struct Index {
    buckets: Box<[Bucket]>,
}

impl Index {
    /// An index able to hold `cells` entries at ≤ 5/7 load when full.
    /// Fails with [`ConnError::OutOfMemory`] rather than aborting when the bucket
    /// array cannot be allocated.
    pub(crate) fn with_capacity(cells: usize) -> Result<Self, ConnError> {
        let n = (cells.div_ceil(5)).max(2);
        let buckets = try_boxed::<Bucket>(n)?;
        Ok(Index { buckets })
    }

    /// Bytes of memory the bucket array uses.
    pub(crate) fn bytes(&self) -> usize {
        self.buckets.len() * std::mem::size_of::<Bucket>()
    }

    /// Home bucket of `hash` (loom models place rivals on one probe path with it).
    pub(crate) fn home(&self, hash: u64) -> usize {
        // Lemire's multiply-shift range reduction on the low 32 bits (the tag uses the high 32).
        (((hash & 0xFFFF_FFFF) * self.buckets.len() as u64) >> 32) as usize
    }

    fn next(&self, b: usize) -> usize {
        if b + 1 == self.buckets.len() {
            0
        } else {
            b + 1
        }
    }

    /// Stores `val`; returns its position as (probe distance, cell) or None when
    /// every bucket is full (cannot happen while the table respects its sizing).
    pub(crate) fn insert(&self, hash: u64, val: u64) -> Option<(usize, usize)> {
        let mut b = self.home(hash);
        for dist in 0..self.buckets.len() {
            let bucket = &self.buckets[b];
            for (i, c) in bucket.cells.iter().enumerate() {
                if c.load(SeqCst) == 0 && c.compare_exchange(0, val, SeqCst, SeqCst).is_ok() {
                    return Some((dist, i));
                }
            }
            bucket.ovf.fetch_add(1, SeqCst);
            b = self.next(b);
        }
        // Undo the counters we raised.
        let mut b = self.home(hash);
        for _ in 0..self.buckets.len() {
            self.buckets[b].ovf.fetch_sub(1, SeqCst);
            b = self.next(b);
        }
        None
    }

    /// Removes the cell holding exactly `val`; false if it was not there.
    pub(crate) fn remove(&self, hash: u64, val: u64) -> bool {
        let home = self.home(hash);
        let mut b = home;
        for dist in 0..self.buckets.len() {
            let bucket = &self.buckets[b];
            for c in bucket.cells.iter() {
                if c.load(SeqCst) == val && c.compare_exchange(val, 0, SeqCst, SeqCst).is_ok() {
                    let mut p = home;
                    for _ in 0..dist {
                        self.buckets[p].ovf.fetch_sub(1, SeqCst);
                        p = self.next(p);
                    }
                    return true;
                }
            }
            if bucket.ovf.load(SeqCst) == 0 {
                return false;
            }
            b = self.next(b);
        }
        false
    }

    /// Non-empty cells in the whole index (loom models: a cell nobody removes is a leak).
    #[cfg(all(test, feature = "loom"))]
    pub(crate) fn occupied(&self) -> usize {
        self.buckets
            .iter()
            .flat_map(|b| b.cells.iter())
            .filter(|c| c.load(SeqCst) != 0)
            .count()
    }

    /// Calls `f(position, cell)` for each cell on `hash`'s probe path whose tag
    /// matches, until `f` returns Some. Position is (probe distance, cell).
    pub(crate) fn find<R>(
        &self,
        hash: u64,
        mut f: impl FnMut((usize, usize), u64) -> Option<R>,
    ) -> Option<R> {
        let tag = hash & 0xFFFF_FFFF_0000_0000;
        let mut b = self.home(hash);
        for dist in 0..self.buckets.len() {
            let bucket = &self.buckets[b];
            for (i, c) in bucket.cells.iter().enumerate() {
                let v = c.load(SeqCst);
                if v != 0 && v & 0xFFFF_FFFF_0000_0000 == tag {
                    if let Some(r) = f((dist, i), v) {
                        return Some(r);
                    }
                }
            }
            if bucket.ovf.load(SeqCst) == 0 {
                return None;
            }
            b = self.next(b);
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cell_roundtrip() {
        let c = cell(0xDEAD_BEEF_0000_1234, Kind::Out, 77);
        assert_eq!(decode(c), (Kind::Out, 77));
        assert_eq!(c >> 32, 0xDEAD_BEEF);
        assert_eq!(
            decode(cell(0, Kind::Template, MAX_SLOTS)),
            (Kind::Template, MAX_SLOTS)
        );
    }

    #[test]
    fn overflow_chain_survives_deletes_without_tombstones() {
        let idx = Index::with_capacity(10).unwrap(); // 2 buckets
        let h = 0xAAAA_0000_0000_0000u64; // all home in bucket 0
        let vals: Vec<u64> = (0..12).map(|i| cell(h, Kind::In, i)).collect();
        for v in &vals {
            assert!(idx.insert(h, *v).is_some());
        }
        // 12 > 7: five spilled into bucket 1.
        assert_eq!(idx.buckets[0].ovf.load(SeqCst), 5);
        // Delete everything in the home bucket: the spilled ones stay reachable.
        for v in &vals[..7] {
            assert!(idx.remove(h, *v));
        }
        for v in &vals[7..] {
            assert!(idx.find(h, |_, c| (c == *v).then_some(())).is_some());
        }
        for v in &vals[7..] {
            assert!(idx.remove(h, *v));
        }
        assert_eq!(idx.buckets[0].ovf.load(SeqCst), 0);
        assert!(idx.find(h, |_, _| Some(())).is_none());
    }

    #[test]
    fn full_index_reports_none_and_restores_counters() {
        let idx = Index::with_capacity(10).unwrap();
        let h = 0x1234_0000_0000_0000u64;
        for i in 0..14 {
            assert!(idx.insert(h, cell(h, Kind::In, i)).is_some());
        }
        assert!(idx.insert(h, cell(h, Kind::In, 99)).is_none());
        assert_eq!(idx.buckets[0].ovf.load(SeqCst), 7);
    }
}
