//! The data plane: per-core poll-mode workers joining DPDK ports to `net` (and, later,
//! `lb`), and the runtime that brings ports, taps and workers up and down.
//!
//! Contract: the worker loop takes no lock, makes no syscall and allocates nothing per
//! packet; each worker owns queue `i` of every port, its counters, and nothing else
//! mutable. The runtime (start/stop) runs on the main thread.

pub mod counters;
pub mod lbpath;
pub mod plan;
pub mod reasm;
pub mod runtime;
pub mod unres;
pub mod vlan;
pub mod worker;

#[cfg(test)]
mod parse_once;

pub use counters::{Counter, WorkerCounters};
pub use lbpath::{LbPath, LbVerdict, LbViews};
pub use plan::{Plan, PortPlan, RoutePlan, VlanPlan};
pub use runtime::{PortInfo, Runtime, Views};
