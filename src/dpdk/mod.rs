//! The only safe wrapper over `dpdk-sys`: EAL initialisation, mempools, owned mbufs,
//! ports with their queues, and worker-thread registration.
//!
//! Contract: every `unsafe` block in the project lives here (or in `dpdk/`), each with a
//! `// SAFETY:` comment. The fast-path pieces ([`Mbuf`], [`RxQueue::rx_burst`],
//! [`TxQueue`]) never allocate from the heap, never lock and make no syscall; queue
//! handles are owned by exactly one worker thread each, which the types enforce (they are
//! `Send` but not `Clone`).

mod eal;
mod error;
mod mbuf;
mod mempool;
mod port;
mod queue;
mod ring;

pub use eal::{rdtsc, register_thread, tsc_hz, Eal};
pub use error::Error;
pub use mbuf::Mbuf;
pub use mempool::Mempool;
pub use port::{LinkState, Port, PortConfig, PortStats};
pub use queue::{RxBurst, RxQueue, TxQueue, BURST_SIZE};
pub use ring::{Ring, RingPort};
