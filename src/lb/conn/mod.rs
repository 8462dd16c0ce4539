//! The connection table: every live connection and persistence template, the
//! LVS TCP/UDP state machine and timeouts, shared by all worker threads.
//!
//! # Contract
//! * Per-packet calls ([`ConnTable::lookup`], [`ConnTable::insert`],
//!   [`ConnTable::template_lookup`], [`ConnTable::template_insert`],
//!   [`ConnTable::sweep`]) are lock-free, make no syscall, never allocate and
//!   never panic. Time comes in as `now`, a coarse tick in **seconds** since
//!   start (the dataplane derives it from the TSC); an entry is alive while
//!   `now < expires`.
//! * Memory is allocated once for `max_conns` entries: 48 B per slot plus a
//!   64-byte-bucket index sized for two cells per entry (≈ 26 B per entry),
//!   ≈ 74 B per connection in all. When no slot is free, `insert` returns
//!   [`ConnError::Full`] and nothing else changes.
//! * Several workers use one table at once; a NAT reply is found by whichever
//!   worker receives it, because both tuples of a NAT connection (client→VIP
//!   and real server→client) index the same slot.
//!
//! # Design: one shared table, generation-tagged slots
//! Chosen over per-core tables because virtual NICs give no flow steering: the
//! reply of a NAT flow lands on any queue. Chosen over a sharded
//! `Mutex<HashMap>` on the requirements rather than on speed: no lock on the
//! packet path (a worker preempted while holding a shard lock would stall
//! every worker hashing to that shard), memory bounded and allocated once, no
//! allocation per connection, both tuples in one index. Reclamation by
//! generation tags was preferred to quiescent-state reclamation because it
//! needs nothing from the worker loop (no per-loop announcement, no stalled
//! reclamation when a worker sleeps) and lets a slot be reused at once.
//!
//! `cargo bench --bench conntable`, first run (2 shared cores at load 10-14,
//! so absolute times are inflated and only same-run ratios mean anything):
//! lookup hit (state machine included) vs `HashMap::get` 131 ns vs 115 ns at
//! 1K, 2.4 µs vs 2.0 µs at 1M, 2.9 µs vs 2.2 µs at 10M (flat from 1M to 10M,
//! both dominated by cache misses); insert 0.74 µs vs 0.79 µs; 73 B per
//! connection including index (701 MiB at 10M). The 1-vs-2-thread figures of
//! that run were within noise of each other for both designs; they must be
//! measured again on quiet cores before anyone quotes a scaling ratio.
//!
//! * **Slots** (`slot.rs`): a fixed arena of atomics. Each slot's 64-bit
//!   control word packs `expires | state | flags | generation`. Every change to
//!   a live entry is a CAS on that word, so it can never land on a recycled
//!   slot (the generation would differ). Reclamation is by generation, not by
//!   quiescent periods: a reader holding a stale index re-validates the
//!   generation around its read (seqlock style) and treats a mismatch as a
//!   miss, so a slot can be reused the moment it is freed and no worker ever
//!   has to announce anything.
//! * **Free slots**: a Treiber stack with an ABA tag in the head word.
//! * **Index** (`index.rs`): open addressing over 64-byte buckets of 7 cells;
//!   per-bucket overflow counters instead of tombstones, so deletes never
//!   degrade lookups however long the table runs.
//! * **Exactly-once teardown**: the thread whose CAS sets `F_DEAD` owns the
//!   teardown (unlink cells, dest counters, template count, free). State
//!   transitions that flip ESTABLISHED are CASes too, so each flip updates the
//!   dest's active/inactive counters exactly once, and a recount of the table
//!   always equals the counters.
//! * **Duplicates**: an entry is published `F_PENDING`; its inserter stores
//!   the unique cell (client tuple, or template key), scans the key's whole
//!   probe path, then commits (a CAS clearing `F_PENDING`). A committed rival,
//!   or a pending one in a lower slot, wins and the inserter backs out with
//!   [`ConnError::Exists`]; a pending rival in a higher slot is evicted (a CAS
//!   that expects it still pending, so an entry whose insert returned Ok is
//!   never evicted). SeqCst store-then-load on both sides: at least one of two
//!   racers sees the other, so never two entries for one key, and the lowest
//!   racer always survives (no livelock). The LB path re-uses the winner's
//!   entry, or schedules afresh if that is already gone (`drop_conn_race`
//!   after 4 rounds).
//! * **Templates under reuse**: a template's `n_control` is never reset, so a
//!   stale `attach` (increment, see the generation moved, undo) cancels out
//!   even when the slot was reused in between; a connection records its
//!   template's generation, so marking the template ASSURED never lands on
//!   the slot's next entry; invalidation reads the template's key before it
//!   claims the unlink, so the index cell is always removed exactly once.
//!
//! # Memory orderings, in one place
//! * Control word: Acquire loads, AcqRel/SeqCst CASes. Publishing a slot is a
//!   Release store after its key fields; a reader's Acquire load of it sees them.
//! * Key fields: Relaxed, validated by the generation re-read after an Acquire
//!   fence (see `slot.rs` for the fence pairing with the allocator).
//! * Index cells and overflow counters: SeqCst (the duplicate check is a Dekker
//!   pattern; SeqCst loads are plain loads on x86).
//! * Template `n_control`: SeqCst, paired with the `F_DEAD` CAS so a template is
//!   never freed while a new connection attaches to it.
//! * Dest counters, timeouts and settings: Relaxed (statistics and tunables,
//!   read one packet stale at worst, as IPVS does).
//!
//! Expiry needs no global stop: an expired entry met by a lookup is reclaimed
//! there (lazy), and [`ConnTable::sweep`] walks a bounded number of slots per
//! call from a shared cursor.
//!
//! # Known limits
//! * A packet racing with a duplicate insert of its own flow (two workers
//!   creating it in the same instant) may be applied to the entry that then
//!   backs out; its state transition is lost, the connection is not.
//! * While a template's timer fires (the instant its F_DEAD CAS is undone
//!   because it still controls connections) an attach sees it gone
//!   ([`ConnError::TemplateGone`]); the LB path then looks the template up
//!   again and finds it re-armed.
//! * IPVS drops a non-ASSURED template at once when its last connection is
//!   expired early (conn reuse); here it lives out its own timer.
//! * The free-slot stack is one shared word: every insert and free CASes it.
//!   Per-worker slot caches are the next step if insert scaling demands it.
//!
//! # Model checking
//! `loom_tests.rs` runs loom models of every race above on the real code (the
//! `loom` feature switches the table's atomics, `sync.rs`):
//! `LOOM_MAX_PREEMPTIONS=3 cargo test --features loom --lib lb::conn::loom_tests`
//! (about 10 s; `scripts/test.sh` runs it). `tests/conn_concurrency.rs`
//! stresses the same operations with many threads and checks the invariants.

mod dests;
mod index;
mod list;
mod passive;
mod slot;
pub mod state;
mod sync;
mod table;
mod template;
pub mod timeouts;

pub use dests::{DestId, DestRef};
pub use list::ConnEntry;
pub use state::{Side, TcpFlags, TcpState};
pub use table::{ConnRef, ConnState, ConnTable, Dir, Hit, Lookup, NewConn, MAX_DESTS};
pub use template::{TemplateHit, TemplateKey};
pub use timeouts::{Settings, TimeoutTriple, Timeouts};

/// The largest `max_conns` a table accepts (its index packs a slot number in 30 bits,
/// minus two reserved values); `config` validates `[tables] max_conns` against it.
pub const MAX_CONNS: u32 = index::MAX_SLOTS;

/// Errors of the connection table's non-packet and insert calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum ConnError {
    /// Every slot is in use: the new flow is dropped (the caller counts
    /// `drop_conn_full`); existing entries are untouched.
    #[error("connection table full")]
    Full,
    /// Another worker created the same entry a moment ago; use it.
    #[error("connection entry already exists")]
    Exists(ConnRef),
    /// The persistence template expired between lookup and insert; schedule again.
    #[error("persistence template expired")]
    TemplateGone,
    /// The dest id was never registered with this table.
    #[error("unknown dest id")]
    UnknownDest,
    /// More than [`MAX_DESTS`] distinct dests were registered.
    #[error("too many dests registered")]
    TooManyDests,
    /// `max_conns` must be between 1 and 2^30 − 2.
    #[error("max_conns {0} out of range 1..=1073741822")]
    BadCapacity(u32),
    /// The allocator refused the table's memory (`max_conns` too big for the machine).
    #[error("cannot allocate {bytes} bytes")]
    OutOfMemory {
        /// Size of the refused allocation.
        bytes: usize,
    },
}

#[cfg(all(test, feature = "loom"))]
mod loom_tests;
#[cfg(test)]
mod oracle_tests;
#[cfg(test)]
mod passive_tests;
