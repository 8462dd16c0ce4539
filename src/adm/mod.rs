//! `rvsadm`'s library half: ipvsadm 1.31's command language parsed into a [`cmd::Command`]
//! (no I/O), which the `rvsadm` binary sends to rvsd's control socket (`crate::ctl`) and
//! whose answers it prints. Nothing here panics on any command line.

pub mod cmd;

pub use cmd::{Command, ListOpts};
