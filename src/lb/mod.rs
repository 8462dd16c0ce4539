//! The load balancer itself: services, real servers ("dests"), schedulers, the
//! connection table with persistence templates, the TCP/UDP state machine, the
//! forwarding transforms and stats.
//!
//! Contract: nothing here names a DPDK type; nothing here panics on any input
//! bytes; the per-packet functions allocate nothing and take no lock. Worker
//! threads call the per-packet API concurrently; the management thread builds
//! and replaces services and dests.

pub mod classify;
pub mod conn;
pub mod dest;
pub mod estimator;
pub mod flow;
pub mod mark;
pub mod sched;
pub mod service;
pub mod stats;
pub mod xform;
