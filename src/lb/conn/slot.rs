//! The preallocated entry arena: `max_conns` fixed 48-byte slots made only of
//! atomics, a lock-free free stack, and the seqlock-style read that lets any
//! thread read a slot another thread may be recycling.
//!
//! Each slot has one 64-bit control word, `expires:32 | state:4 | flags:6 |
//! gen:22`, and immutable-while-live key fields. Every change to a live entry
//! (state, timer, death) is a CAS on the control word, so it carries the
//! generation: a thread holding a stale view can never modify the entry that
//! now occupies the slot (ABA needs 2^22 reuses of one slot inside one CAS
//! window, each one a connection created and expired on that slot; the sixth
//! flag bit, `F_SETTLED`, took the 23rd generation bit). The key fields are
//! read under the generation like a seqlock: read word (Acquire), read fields
//! (Relaxed), fence(Acquire), re-read word,
//! accept if the generation did not move. The writer side: whoever frees a
//! slot bumps its generation *before* pushing it (Release CAS on the stack
//! head); whoever pops it (Acquire) issues a Release fence before writing the
//! fields and publishes the control word with Release. So a reader that saw
//! any new field value also sees the bumped generation on its re-read.

use super::sync::{fence, store_word, AtomicU32, AtomicU64, Ordering};
use super::ConnError;

/// Flag: slot holds an entry (set when published, cleared when freed).
pub(crate) const F_LIVE: u8 = 1;
/// Flag: the entry is in a non-ESTABLISHED state for the active/inactive counters
/// (IPVS's `IP_VS_CONN_F_INACTIVE`). Unused for templates.
pub(crate) const F_INACTIVE: u8 = 2;
/// Flag: the entry is being torn down by the thread that set this.
pub(crate) const F_DEAD: u8 = 4;
/// Flag: a template invalidated by its dest's state, no longer in the index.
pub(crate) const F_UNLINKED: u8 = 8;
/// Flag: just inserted, its duplicate check not finished (`ConnTable::link_unique`);
/// a racing inserter of the same key may still evict it. Cleared by the commit CAS.
pub(crate) const F_PENDING: u8 = 16;
/// Flag (TCP connections, passive detection): the opening of this connection has
/// been judged, so it is never counted as a failed new connection again. Set by
/// the first packet from the real server (NAT: it answered), or when the opening
/// was counted as failed (see `ConnTable::lookup`).
pub(crate) const F_SETTLED: u8 = 32;
/// Flag bits of the control word.
const FLAGS_MASK: u64 = 0x3F;
/// Generation bits of the control word.
pub(crate) const GEN_MASK: u32 = 0x3F_FFFF;

/// Unpacked control word.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Word {
    /// Tick (seconds) at which the entry expires; alive while `now < expires`.
    pub expires: u32,
    /// State bits (TCP state index; 0 for UDP and templates).
    pub state: u8,
    /// `F_*` flags.
    pub flags: u8,
    /// Generation, 22 bits, bumped every time the slot is freed.
    pub gen: u32,
}

impl Word {
    pub(crate) fn pack(self) -> u64 {
        self.expires as u64
            | ((self.state as u64 & 0xF) << 32)
            | ((self.flags as u64 & FLAGS_MASK) << 36)
            | (((self.gen & GEN_MASK) as u64) << 42)
    }
    pub(crate) fn unpack(w: u64) -> Word {
        Word {
            expires: w as u32,
            state: ((w >> 32) & 0xF) as u8,
            flags: ((w >> 36) & FLAGS_MASK) as u8,
            gen: (w >> 42) as u32,
        }
    }
    /// Published and not being torn down.
    pub(crate) fn alive(self) -> bool {
        self.flags & (F_LIVE | F_DEAD) == F_LIVE
    }
    /// The timer has run out at `now`.
    pub(crate) fn expired(self, now: u32) -> bool {
        now >= self.expires
    }
}

/// What a slot holds: the forwarding method of a connection, or a template.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum SlotKind {
    Nat = 0,
    Dr = 1,
    Tun = 2,
    Template = 3,
}

impl SlotKind {
    fn from_bits(b: u32) -> SlotKind {
        match b & 3 {
            0 => SlotKind::Nat,
            1 => SlotKind::Dr,
            2 => SlotKind::Tun,
            _ => SlotKind::Template,
        }
    }
}

/// One entry. 10 × 4 B + 8 B = 48 B; see `ConnTable::bytes_per_conn`.
#[derive(Default)]
pub(crate) struct Slot {
    pub word: AtomicU64,
    caddr: AtomicU32,
    vaddr: AtomicU32,
    raddr: AtomicU32,
    /// cport << 16 | vport
    ports: AtomicU32,
    /// rport << 16 | proto << 8 | kind
    rport_proto_kind: AtomicU32,
    dest: AtomicU32,
    /// Controlling template's slot index + 1; 0 = none. Immutable while live.
    control: AtomicU32,
    /// Templates: number of live connections created under it, plus for an
    /// instant any stale `attach` about to undo its increment. Never reset:
    /// every increment is matched by exactly one decrement, so it reads 0
    /// whenever no attach is in flight and no controlled connection lives.
    /// Range 0..=max_conns + workers.
    pub n_control: AtomicU32,
    /// Templates: the persistence timeout to re-arm to (seconds).
    /// Controlled connections: the controlling template's generation.
    timeout_secs: AtomicU32,
    /// Free-stack link: next free slot index + 1 (0 = end).
    next_free: AtomicU32,
}

/// Immutable part of an entry, as written at creation.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SlotKey {
    pub proto: u8,
    pub caddr: u32,
    pub cport: u16,
    pub vaddr: u32,
    pub vport: u16,
    pub raddr: u32,
    pub rport: u16,
    pub kind: SlotKind,
    pub dest: u32,
    /// Controlling template slot + 1, 0 = none.
    pub control: u32,
    /// Templates: persistence timeout (s). Connections with `control != 0`:
    /// the template's generation, so a late ASSURED mark can check it.
    pub timeout_secs: u32,
}

/// A consistent read of a slot: its control word and key at one generation.
#[derive(Clone, Copy, Debug)]
pub(crate) struct View {
    pub word: Word,
    pub raw: u64,
    pub key: SlotKey,
}

/// The arena plus its free stack.
pub(crate) struct Slots {
    slots: Box<[Slot]>,
    /// Free stack head: aba_tag:32 | slot+1:32 (0 = empty). The tag makes a
    /// pop that raced with pop-push of the same slot fail its CAS.
    head: AtomicU64,
}

/// `n` default values in one heap block, or [`ConnError::OutOfMemory`] when the
/// allocator refuses (a `max_conns` the machine cannot hold) instead of Rust's
/// abort on a failed allocation. Used for the slot array and the index buckets.
pub(crate) fn try_boxed<T: Default>(n: usize) -> Result<Box<[T]>, ConnError> {
    let mut v: Vec<T> = Vec::new();
    v.try_reserve_exact(n).map_err(|_| ConnError::OutOfMemory {
        bytes: n.saturating_mul(std::mem::size_of::<T>()),
    })?;
    v.extend((0..n).map(|_| T::default()));
    Ok(v.into_boxed_slice())
}

impl Slots {
    /// `n` free slots, all allocated now; fails rather than aborts when the memory
    /// is not there.
    pub(crate) fn new(n: u32) -> Result<Self, ConnError> {
        let slots: Box<[Slot]> = try_boxed(n as usize)?;
        for (i, s) in slots.iter().enumerate() {
            let next = if i + 1 < n as usize { i as u32 + 2 } else { 0 };
            s.next_free.store(next, Ordering::Relaxed);
        }
        let head = if n > 0 { 1 } else { 0 };
        Ok(Slots {
            slots,
            head: AtomicU64::new(head),
        })
    }

    pub(crate) fn len(&self) -> u32 {
        self.slots.len() as u32
    }

    pub(crate) fn bytes(&self) -> usize {
        self.slots.len() * std::mem::size_of::<Slot>()
    }

    pub(crate) fn get(&self, idx: u32) -> Option<&Slot> {
        self.slots.get(idx as usize)
    }

    /// Takes a free slot; None when all `max_conns` are in use.
    pub(crate) fn pop(&self) -> Option<u32> {
        // Acquire: see the generation bump and `next_free` written before the push.
        let mut head = self.head.load(Ordering::Acquire);
        loop {
            let top = head as u32;
            if top == 0 {
                return None;
            }
            let idx = top - 1;
            let next = self
                .slots
                .get(idx as usize)?
                .next_free
                .load(Ordering::Relaxed);
            let new = (((head >> 32) + 1) << 32) | next as u64;
            match self
                .head
                .compare_exchange_weak(head, new, Ordering::Acquire, Ordering::Acquire)
            {
                Ok(_) => return Some(idx),
                Err(h) => head = h,
            }
        }
    }

    /// Returns a slot whose generation was already bumped and LIVE cleared.
    pub(crate) fn push(&self, idx: u32) {
        let Some(slot) = self.slots.get(idx as usize) else {
            return;
        };
        let mut head = self.head.load(Ordering::Relaxed);
        loop {
            slot.next_free.store(head as u32, Ordering::Relaxed);
            let new = (((head >> 32) + 1) << 32) | (idx as u64 + 1);
            // Release: the generation bump and `next_free` happen-before the next pop.
            match self
                .head
                .compare_exchange_weak(head, new, Ordering::Release, Ordering::Relaxed)
            {
                Ok(_) => return,
                Err(h) => head = h,
            }
        }
    }

    /// Fills a popped slot and publishes it with `word` (which must carry F_LIVE
    /// and the slot's current generation, see [`Slots::current_gen`]).
    pub(crate) fn publish(&self, idx: u32, k: &SlotKey, word: Word) {
        let Some(s) = self.slots.get(idx as usize) else {
            return;
        };
        // Pairs with the reader's Acquire fence: any reader that sees one of the
        // stores below also sees the generation bump that preceded our pop.
        fence(Ordering::Release);
        s.caddr.store(k.caddr, Ordering::Relaxed);
        s.vaddr.store(k.vaddr, Ordering::Relaxed);
        s.raddr.store(k.raddr, Ordering::Relaxed);
        s.ports
            .store(((k.cport as u32) << 16) | k.vport as u32, Ordering::Relaxed);
        s.rport_proto_kind.store(
            ((k.rport as u32) << 16) | ((k.proto as u32) << 8) | k.kind as u32,
            Ordering::Relaxed,
        );
        s.dest.store(k.dest, Ordering::Relaxed);
        s.control.store(k.control, Ordering::Relaxed);
        // `n_control` is NOT reset: a late `attach` holding a stale ref to this
        // slot may be between its increment and its undo; its two updates cancel
        // out only if nobody stores in between (a reset here used to meet the
        // undo and wrap the new template's count to u32::MAX).
        s.timeout_secs.store(k.timeout_secs, Ordering::Relaxed);
        // Release: readers that load this word (Acquire) see the fields above.
        store_word(&s.word, word.pack(), Ordering::Release);
    }

    /// Generation of a slot (valid for a popped slot: nobody else changes it).
    pub(crate) fn current_gen(&self, idx: u32) -> u32 {
        self.slots
            .get(idx as usize)
            .map(|s| Word::unpack(s.word.load(Ordering::Acquire)).gen)
            .unwrap_or(0)
    }

    /// Frees a slot the caller owns (it won the F_DEAD CAS, or popped it and
    /// never published it): bumps the generation, clears the flags, pushes it.
    pub(crate) fn free(&self, idx: u32) {
        let Some(s) = self.slots.get(idx as usize) else {
            return;
        };
        let w = Word::unpack(s.word.load(Ordering::Acquire));
        let freed = Word {
            expires: 0,
            state: 0,
            flags: 0,
            gen: (w.gen + 1) & GEN_MASK,
        };
        store_word(&s.word, freed.pack(), Ordering::Release);
        self.push(idx);
    }

    /// Consistent read of a slot, or None if it is not published or was being
    /// recycled during the read.
    pub(crate) fn read(&self, idx: u32) -> Option<View> {
        let s = self.slots.get(idx as usize)?;
        let raw = s.word.load(Ordering::Acquire);
        let word = Word::unpack(raw);
        if word.flags & F_LIVE == 0 {
            return None;
        }
        let ports = s.ports.load(Ordering::Relaxed);
        let rpk = s.rport_proto_kind.load(Ordering::Relaxed);
        let key = SlotKey {
            proto: (rpk >> 8) as u8,
            caddr: s.caddr.load(Ordering::Relaxed),
            cport: (ports >> 16) as u16,
            vaddr: s.vaddr.load(Ordering::Relaxed),
            vport: ports as u16,
            raddr: s.raddr.load(Ordering::Relaxed),
            rport: (rpk >> 16) as u16,
            kind: SlotKind::from_bits(rpk),
            dest: s.dest.load(Ordering::Relaxed),
            control: s.control.load(Ordering::Relaxed),
            timeout_secs: s.timeout_secs.load(Ordering::Relaxed),
        };
        fence(Ordering::Acquire);
        let again = Word::unpack(s.word.load(Ordering::Relaxed));
        if again.gen != word.gen || again.flags & F_LIVE == 0 {
            return None;
        }
        Some(View { word, raw, key })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn word_roundtrip_and_size() {
        let w = Word {
            expires: 0xFFFF_FFF0,
            state: 10,
            flags: F_LIVE | F_INACTIVE | F_PENDING | F_SETTLED,
            gen: 0x3B_CDEF,
        };
        assert_eq!(Word::unpack(w.pack()), w);
        #[cfg(not(feature = "loom"))]
        assert_eq!(std::mem::size_of::<Slot>(), 48);
    }

    #[test]
    fn an_allocation_that_cannot_succeed_is_an_error_not_an_abort() {
        // Its byte size overflows isize: the allocator must refuse, every time.
        let n = usize::MAX / 2;
        match try_boxed::<Slot>(n) {
            Err(ConnError::OutOfMemory { bytes }) => assert_eq!(bytes, usize::MAX),
            Err(e) => panic!("wrong error {e}"),
            Ok(_) => panic!("allocated {n} slots"),
        }
    }

    #[test]
    fn free_stack_hands_out_each_slot_once() {
        let s = Slots::new(5).unwrap();
        let mut got: Vec<u32> = std::iter::from_fn(|| s.pop()).collect();
        got.sort();
        assert_eq!(got, [0, 1, 2, 3, 4]);
        assert!(s.pop().is_none());
        s.free(3);
        assert_eq!(s.pop(), Some(3));
        assert_eq!(s.current_gen(3), 1);
    }
}
