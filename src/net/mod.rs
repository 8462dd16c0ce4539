//! Appliance networking: the director's own addresses, ARP responder and neighbour
//! table, ICMP echo, static routes and the exception path to the kernel.
//!
//! Contract: per-packet functions never panic on any bytes, never allocate and take no
//! lock; they end in a [`Verdict`]. The neighbour table is shared by all workers
//! (lock-free); the VIPs and routes are
//! published snapshots ([`NetTables`]) each worker's [`Net`] refreshes once per loop;
//! ports are immutable after start and shared behind an `Arc`.

pub mod afpacket;
pub mod appliance;
pub mod conflict;
pub mod exception;
pub mod host_addrs;
pub mod ip_options;
pub mod martian;
pub mod neigh;
pub mod nexthop;
pub mod route;
pub mod tables;
pub mod transit;
pub mod verdict;

pub use crate::wire::Ipv4Net;
pub use appliance::{Net, PortNet};
pub use conflict::ArpConflictSlot;
pub use neigh::{Neigh, NeighParams, NeighTable, Probe};
pub use nexthop::Resolution;
pub use route::{NextHop, PortIdx, Route, RouteTable};
pub use tables::{NetTables, Vip};
pub use transit::{Transit, TransitMode};
pub use verdict::{DropReason, TxKind, Verdict};
