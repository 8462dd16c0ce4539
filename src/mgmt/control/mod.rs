//! rvsd's control socket server (protocol: [`crate::ctl`], docs/CONTROL.md).
//!
//! Threads: one accept thread ([`listener`]) and one thread per client ([`conn`]), at
//! most [`MAX_CLIENTS`] at once. Client threads read and check request lines (bounded:
//! never more than [`crate::ctl::proto::MAX_REQUEST_BYTES`] buffered), then hand each
//! request to the management loop over the command channel ([`channel`]) and wait for
//! its response: they never touch the `Manager`, so every change is applied on the
//! management thread, one at a time, in arrival order. Peers are checked with
//! SO_PEERCRED ([`peer`]). Nothing here runs on a worker; nothing here panics on what a
//! client sends.

pub mod channel;
pub mod conn;
pub mod frame;
pub mod listener;
pub mod peer;

pub use channel::{call, channel, Command, CommandRx, CommandTx};
pub use listener::{Server, StartError};

use std::time::Duration;

/// Clients served at once; the next one gets one `internal` error line ("too many
/// clients") and is closed. Each client costs a thread and at most one request buffer
/// of [`crate::ctl::proto::MAX_REQUEST_BYTES`].
pub const MAX_CLIENTS: usize = 64;

/// How long a response write may block on a client that does not read before rvsd
/// gives up on the client and closes it.
pub const WRITE_TIMEOUT: Duration = Duration::from_secs(10);
