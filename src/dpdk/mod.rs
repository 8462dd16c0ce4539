//! The only safe wrapper over `dpdk-sys`: EAL initialisation, mempools, owned mbufs,
//! ports with their queues, and worker-thread registration.
//!
//! Contract: every `unsafe` block in the project lives here (or in `dpdk/`), each with a
//! `// SAFETY:` comment. The fast-path pieces ([`Mbuf`], [`RxQueue::rx_burst`],
//! [`TxQueue`]) never allocate from the heap, never lock and make no syscall; queue
//! handles are owned by exactly one worker thread each, which the types enforce (they are
//! `Send` but not `Clone`).
//!
//! # Ownership
//!
//! Soundness does not depend on the order an owner drops things in; each rule is in the
//! types, and what they cannot express is checked at run time:
//! - **EAL before everything, cleanup after everything.** [`Eal::init`] returns the only
//!   proof of initialisation; [`Mempool::new`], [`Port::attach`], [`Ring::new`] and
//!   [`register_thread`] take an `&Eal`, and each object keeps a clone (an `Arc`), so
//!   `rte_eal_cleanup` runs when the last handle *and* the last object are gone.
//! - **A port is closed only when nobody polls it.** [`Port::start`] consumes the stopped
//!   [`Port`] (so a started port cannot be reconfigured) and returns a [`StartedPort`] and
//!   the queues; all share the device through one `Arc` clone each, taken once at start.
//!   The device is stopped and closed when the last of them is dropped. There is no
//!   explicit stop or close, and a device has one handle at a time: attaching a device
//!   that is already attached is an error (a second handle would close it when dropped).
//! - **A device keeps what it uses**: the mempool its RX queues fill from and, for a ring
//!   port, its rings; they are released after the device is closed.
//! - **A mempool is freed only when no mbuf of it is out.** [`Mbuf`] carries neither a
//!   lifetime nor a reference count: a lifetime would spread through every worker type and
//!   force scoped threads, a count would cost an atomic per packet. Instead the pool's last
//!   handle checks `rte_mempool_in_use_count` in Drop and, if mbufs are out, leaks the pool
//!   and the EAL (logged) rather than freeing memory they point into; see mempool.rs for
//!   the one caveat (the count is lock-free, exact when no other thread is freeing).
//! - **One thread per queue**: queue handles are `Send`, not `Clone`, and polling or
//!   sending takes `&mut self`; a [`Ring`] is `Send` but not `Sync`.
//!
//! `tests/compile_fail/` holds the misuses the compiler must refuse (trybuild, driven by
//! `tests/compile_fail.rs`); `tests/dpdk_drop_order.rs` drops everything in the wrong
//! order on real `net_ring`/`net_null` ports and checks nothing breaks or leaks.

mod afpacket_stats;
mod eal;
mod error;
mod mbuf;
mod mempool;
mod port;
mod queue;
mod ring;

pub use afpacket_stats::{RingCounts, RingDrops};
pub use eal::{rdtsc, register_thread, tsc_hz, Eal};
pub use error::Error;
pub use mbuf::Mbuf;
pub use mempool::Mempool;
pub use port::{LinkState, Port, PortConfig, PortStats, StartedPort};
pub use queue::{RxBurst, RxQueue, TxQueue, BURST_SIZE};
pub use ring::Ring;
