//! The atomics the connection table is built from: `std`'s in every real
//! build, loom's under the `loom` feature, so the loom models in
//! `loom_tests.rs` explore the interleavings of the real table code rather
//! than of a copy. Only the table's own shared state (slot words, key fields,
//! the free stack, index cells) goes through here; statistics and tunables
//! (dest counters, timeouts, settings) stay on `std` atomics, which loom then
//! treats as plain memory (their Relaxed updates carry no invariant).

#[cfg(feature = "loom")]
pub(crate) use loom::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};
#[cfg(not(feature = "loom"))]
pub(crate) use std::sync::atomic::{fence, AtomicU32, AtomicU64, Ordering};

/// A Dekker point: between a SeqCst store/RMW and a SeqCst load of another
/// location, where the table relies on SeqCst's single total order (at least
/// one of two racers sees the other). The real build needs nothing here (the
/// SeqCst accesses give it); loom models SeqCst accesses as AcqRel only, so
/// its builds add the `fence(SeqCst)` that restores that guarantee.
#[inline(always)]
pub(crate) fn dekker_fence() {
    #[cfg(feature = "loom")]
    fence(Ordering::SeqCst);
}

/// Stores `v` into a control word that other threads CAS. The real build is a
/// plain store; loom builds use a swap, because loom 0.7 can place a plain
/// store inside another thread's read-modify-write (tokio-rs/loom#254, #389)
/// and then aborts on its own internal assertion. A swap is a store that
/// loom orders correctly, and is never weaker than the store it stands for.
#[inline(always)]
pub(crate) fn store_word(a: &AtomicU64, v: u64, order: Ordering) {
    #[cfg(feature = "loom")]
    a.swap(v, order);
    #[cfg(not(feature = "loom"))]
    a.store(v, order);
}
