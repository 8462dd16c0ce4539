//! The table's registry of dests: a fixed array of `Arc<Dest>` that entries
//! name by a 32-bit [`DestId`] instead of holding an `Arc` each.
//!
//! Why not an `Arc<Dest>` in every slot: slots are shared, recycled atomics;
//! swapping an `Arc` in and out of shared memory needs either unsafe code or a
//! lock, and an `Arc` per entry would also cost 8 B plus a refcount write per
//! new connection on a shared cache line. An index into a set-once array costs
//! 4 B and no write. Registered dests are never removed (a deleted dest is
//! only marked unavailable), which mirrors IPVS keeping deleted dests in its
//! trash while connections still point at them; re-adding the same `Arc`
//! returns the same id. The management side (`mgmt::Manager`) keeps deleted
//! dests in a trash and revives the same `Arc` when the server is re-added, so
//! flapping a server costs no id; ids of dests that are gone for good are not
//! recycled yet (the limit is `MAX_DESTS` distinct dests per table lifetime).

use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};

use crate::lb::dest::Dest;

use super::ConnError;

/// Index of a dest in a table's registry. Range: `0..max_dests`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DestId(pub u32);

/// Set-once array of dests (see module doc).
pub(crate) struct Dests {
    slots: Box<[OnceLock<Arc<Dest>>]>,
    /// Ids handed out so far. Range 0..=slots.len() (may overshoot on failure; clamped on read).
    next: AtomicU32,
}

impl Dests {
    pub(crate) fn new(max: u32) -> Self {
        Dests {
            slots: (0..max).map(|_| OnceLock::new()).collect(),
            next: AtomicU32::new(0),
        }
    }

    /// Management thread: the id of `dest`, registering it on first sight.
    /// Linear in the number of dests; not for the packet path.
    pub(crate) fn register(&self, dest: &Arc<Dest>) -> Result<DestId, ConnError> {
        let n = (self.next.load(Ordering::Acquire) as usize).min(self.slots.len());
        for (i, s) in self.slots[..n].iter().enumerate() {
            if s.get().is_some_and(|d| Arc::ptr_eq(d, dest)) {
                return Ok(DestId(i as u32));
            }
        }
        let id = self.next.fetch_add(1, Ordering::AcqRel);
        let slot = self.slots.get(id as usize).ok_or(ConnError::TooManyDests)?;
        // A fresh id is ours alone, so the set cannot find the cell taken.
        let _ = slot.set(Arc::clone(dest));
        Ok(DestId(id))
    }

    pub(crate) fn get(&self, id: DestId) -> Option<&Arc<Dest>> {
        self.slots.get(id.0 as usize)?.get()
    }
}
