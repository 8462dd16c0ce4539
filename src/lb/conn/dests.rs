//! The table's registry of dests: a fixed array of `Arc<Dest>` that entries
//! name by a 32-bit [`DestId`] instead of holding an `Arc` each.
//!
//! Why not an `Arc<Dest>` in every slot: slots are shared, recycled atomics;
//! swapping an `Arc` in and out of shared memory needs either unsafe code or a
//! lock, and an `Arc` per entry would also cost 8 B plus a refcount write per
//! new connection on a shared cache line. An id costs 4 B and no write.
//!
//! Ids are recycled. A deleted dest stays registered while anything may still
//! use it: the management side (`mgmt::Manager`) keeps it in its trash (a
//! re-added server revives the same `Arc`, so flapping costs no id) and
//! releases its id only when no worker can schedule it any more (every service
//! snapshot that contained it was reclaimed) and no connection or template
//! counts on it (active + inactive + persistent = 0). [`Dests::release`] then
//! makes the slot vacant and the next [`Dests::register`] may reuse it.
//!
//! How a worker never lands on the new dest of a reused id: an id is 16 bits
//! of slot index and 16 bits of the slot's generation, which `release` bumps
//! before the slot gets a new dest. [`Dests::get`] loads the slot's dest and
//! then checks the generation: a stale id (held by an entry a worker read
//! just before its dest was released) finds a newer generation and gets
//! `None`, as for a deleted dest, so its packets are handled as having no
//! dest; it never reaches the new server. The slot itself is an
//! `arc_swap::ArcSwap`: `load` is lock-free, writes no refcount (it borrows a
//! per-thread debt slot that only a replacing writer scans) and the replaced
//! dest is freed only after the last reader's guard is dropped, so a worker
//! in the middle of a packet keeps a valid (old) dest. Cost per call: one
//! thread-local debt store and two loads.
//!
//! A generation wraps after 65 536 reuses of one slot; vacant slots are
//! reused oldest-first, so a stale id could alias only after its slot was
//! recycled 65 536 times (at least one management tick each) while the stale
//! entry lived on.

use arc_swap::{ArcSwap, Guard};
use std::collections::VecDeque;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

use crate::lb::dest::{Dest, Fwd};

use super::ConnError;

/// Slot index bits of a [`DestId`]; the rest is the slot's generation.
const INDEX_BITS: u32 = 16;
const INDEX_MASK: u32 = (1 << INDEX_BITS) - 1;

/// A dest's id in a table's registry: slot index (low 16 bits, range
/// `0..max_dests`) and the slot's generation (high 16 bits), see module doc.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct DestId(pub u32);

impl DestId {
    fn new(index: u32, generation: u32) -> DestId {
        DestId((generation << INDEX_BITS) | (index & INDEX_MASK))
    }
    /// The slot index.
    pub fn index(self) -> u32 {
        self.0 & INDEX_MASK
    }
    /// The slot generation this id was handed out in.
    pub fn generation(self) -> u32 {
        self.0 >> INDEX_BITS
    }
}

/// A dest borrowed from the registry for the duration of one packet (see module doc).
pub type DestRef = Guard<Arc<Dest>>;

struct Slot {
    dest: ArcSwap<Dest>,
    /// Generation of the slot's current (or next) dest, `0..=INDEX_MASK`.
    gen: AtomicU32,
}

/// Registry of dests with recycled ids (see module doc).
pub(crate) struct Dests {
    slots: Box<[Slot]>,
    /// What a vacant slot holds (one shared, never-available dest).
    vacant: Arc<Dest>,
    /// Slots never used so far start here. Management thread only.
    next: AtomicU32,
    /// Released slots, oldest first. Management thread only (never on the packet path).
    free: Mutex<VecDeque<u32>>,
}

impl Dests {
    pub(crate) fn new(max: u32) -> Self {
        let vacant = Arc::new(Dest::new(Ipv4Addr::UNSPECIFIED, 0, Fwd::Dr, 0));
        vacant.set_unavailable();
        Dests {
            slots: (0..max.min(INDEX_MASK + 1))
                .map(|_| Slot {
                    dest: ArcSwap::new(vacant.clone()),
                    gen: AtomicU32::new(0),
                })
                .collect(),
            vacant,
            next: AtomicU32::new(0),
            free: Mutex::new(VecDeque::new()),
        }
    }

    /// Management thread: the id of `dest`, registering it on first sight and recording
    /// the id in the dest ([`Dest::table_id`]; a dest belongs to one table), so the same
    /// `Arc` gets the same id while registered. Constant time.
    pub(crate) fn register(&self, dest: &Arc<Dest>) -> Result<DestId, ConnError> {
        if let Some(id) = dest.table_id().map(DestId) {
            if self.get(id).is_some_and(|d| Arc::ptr_eq(&d, dest)) {
                return Ok(id);
            }
        }
        let reused = self
            .free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .pop_front();
        let idx = match reused {
            Some(i) => i,
            None => {
                let i = self.next.load(Ordering::Acquire);
                if i as usize >= self.slots.len() {
                    return Err(ConnError::TooManyDests);
                }
                self.next.store(i + 1, Ordering::Release);
                i
            }
        };
        let slot = &self.slots[idx as usize];
        slot.dest.store(Arc::clone(dest));
        let id = DestId::new(idx, slot.gen.load(Ordering::Acquire));
        dest.set_table_id(id.0);
        Ok(id)
    }

    /// Management thread: frees `id` for reuse. The caller guarantees no worker can
    /// schedule its dest any more; entries still naming `id` find no dest from now on.
    /// False if `id` is not registered (stale or vacant).
    pub(crate) fn release(&self, id: DestId) -> bool {
        let Some(slot) = self.slots.get(id.index() as usize) else {
            return false;
        };
        if slot.gen.load(Ordering::Acquire) != id.generation()
            || Arc::ptr_eq(&slot.dest.load(), &self.vacant)
        {
            return false;
        }
        let mut next = (id.generation() + 1) & INDEX_MASK;
        if id.index() == INDEX_MASK && next == INDEX_MASK {
            next = 0; // u32::MAX means "not registered" in `Dest::table_id`
        }
        // Generation first: a reader that sees the later store sees the new generation.
        slot.gen.store(next, Ordering::Release);
        slot.dest.store(self.vacant.clone());
        self.free
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push_back(id.index());
        true
    }

    /// The dest of `id`, `None` for a vacant slot or a stale id. Per packet: no lock,
    /// no refcount write.
    #[inline]
    pub(crate) fn get(&self, id: DestId) -> Option<DestRef> {
        let slot = self.slots.get(id.index() as usize)?;
        let d = slot.dest.load();
        if slot.gen.load(Ordering::Acquire) != id.generation() || Arc::ptr_eq(&d, &self.vacant) {
            return None;
        }
        Some(d)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(last: u8) -> Arc<Dest> {
        Arc::new(Dest::new(Ipv4Addr::new(192, 0, 2, last), 80, Fwd::Nat, 1))
    }

    #[test]
    fn a_released_id_is_reused_and_its_stale_id_finds_nothing() {
        let r = Dests::new(2);
        let (a, b, c) = (dest(1), dest(2), dest(3));
        let ia = r.register(&a).unwrap();
        let ib = r.register(&b).unwrap();
        assert_eq!(r.register(&a).unwrap(), ia, "same Arc, same id");
        assert!(matches!(r.register(&c), Err(ConnError::TooManyDests)));
        assert!(r.release(ia));
        assert!(!r.release(ia), "released once");
        assert!(r.get(ia).is_none(), "stale id: no dest");
        let ic = r.register(&c).unwrap();
        assert_eq!(ic.index(), ia.index(), "slot reused");
        assert_ne!(ic, ia);
        assert!(r.get(ia).is_none(), "the old id never finds the new dest");
        assert!(Arc::ptr_eq(&r.get(ic).unwrap(), &c));
        assert!(Arc::ptr_eq(&r.get(ib).unwrap(), &b));
        assert!(r.release(ic));
        // Generations wrap (16 bits) without ever handing out u32::MAX.
        for _ in 0..200_000 {
            let d = dest(4);
            let id = r.register(&d).unwrap();
            assert_eq!(d.table_id(), Some(id.0));
            assert!(r.release(id));
        }
    }

    /// Workers keep reading ids of released dests while the management thread reuses
    /// their slot over and over: a read returns the dest the id was handed out for, or
    /// nothing, never the dest that took the slot over.
    #[test]
    fn concurrent_readers_never_see_the_dest_that_reuses_a_slot() {
        use std::sync::atomic::AtomicBool;
        let r = Dests::new(1);
        let ids: Vec<(DestId, Arc<Dest>)> = Vec::new();
        let published = std::sync::Mutex::new(ids);
        let stop = AtomicBool::new(false);
        std::thread::scope(|s| {
            for _ in 0..2 {
                s.spawn(|| {
                    while !stop.load(Ordering::Relaxed) {
                        let known = published.lock().unwrap().clone();
                        for (id, d) in &known {
                            if let Some(got) = r.get(*id) {
                                assert!(Arc::ptr_eq(&got, d), "id {id:?} reached another dest");
                            }
                        }
                    }
                });
            }
            for i in 0..10_000u32 {
                let d = dest((i % 250) as u8);
                let id = r.register(&d).unwrap();
                {
                    let mut p = published.lock().unwrap();
                    p.push((id, d));
                    if p.len() > 4 {
                        p.remove(0);
                    }
                }
                std::thread::yield_now();
                assert!(r.release(id));
            }
            stop.store(true, Ordering::Relaxed);
        });
    }

    #[test]
    fn a_reader_keeps_the_released_dest_alive_until_it_drops_it() {
        let r = Dests::new(1);
        let a = dest(1);
        let ia = r.register(&a).unwrap();
        let held = r.get(ia).unwrap();
        let weak = Arc::downgrade(&a);
        drop(a);
        assert!(r.release(ia));
        r.register(&dest(2)).unwrap();
        assert_eq!(held.addr, Ipv4Addr::new(192, 0, 2, 1), "still the old dest");
        drop(held);
        assert!(weak.upgrade().is_none(), "freed once the guard is gone");
    }
}
