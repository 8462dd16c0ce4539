//! Health checkers: keepalived's checkers (TCP_CHECK, HTTP_GET, SSL_GET, UDP_CHECK,
//! DNS_CHECK, MISC_CHECK) as async functions over ordinary kernel sockets, and a
//! [`Checker`] that runs them on one dedicated thread.
//!
//! Contract:
//! - Nothing here runs on a worker or blocks the caller: the management loop hands jobs to
//!   [`Checker::submit`] and polls [`Checker::try_recv`]; both return at once.
//! - Every check is its own task with its own timeout, so a slow or silent server delays
//!   no other check. A check never panics on what a server sends; its verdict is an
//!   [`Outcome`] whose `reason` reads as a log line.
//! - The checkers check and decide nothing; [`Monitor`] (monitor.rs) holds keepalived's
//!   semantics: `delay_loop`, retries, rise, weights, quorum, sorry server, notify
//!   programs. It runs on the management loop, and its effects are [`Action`]s.
//! - Sockets are the kernel's, in the network namespace of the thread that called
//!   [`Checker::start`] (in rvsd, the root one, reaching real servers through the tap).

mod action;
mod conn;
mod dest;
pub mod dns;
pub mod hex;
pub mod http;
pub mod misc;
pub mod monitor;
mod notify;
mod outcome;
pub mod runner;
mod service;
pub mod spec;
pub mod status_codes;
mod target;
pub mod tcp;
mod tls;
pub mod udp;

use std::net::SocketAddrV4;
use std::time::Duration;

pub use hex::{HexBytes, Md5Digest};
pub use monitor::{Action, CheckRunner, DestHealth, Monitor, ServiceTargets, Target};
pub use outcome::Outcome;
pub use runner::{CheckId, Checker, Job, Report, Stopped, MAX_IN_FLIGHT};
pub use spec::{
    CheckSpec, CheckTiming, ConnOpts, DnsCheck, DnsType, HttpGet, HttpProtocol, HttpUrl, MiscCheck,
    SpecError, TcpCheck, UdpCheck,
};
pub use status_codes::StatusCodes;

/// Runs one check of the real server `target`. `timeout` is the connect timeout of the
/// network checkers (keepalived's `connect_timeout`), and MISC_CHECK's when it has no
/// `misc_timeout` of its own.
pub async fn check(spec: &CheckSpec, target: SocketAddrV4, timeout: Duration) -> Outcome {
    match spec {
        CheckSpec::Tcp(s) => tcp::check(s, target, timeout).await,
        CheckSpec::Http(s) => http::check(s, target, timeout).await,
        CheckSpec::Ssl(s) => http::check_ssl(s, target, timeout).await,
        CheckSpec::Udp(s) => udp::check(s, target, timeout).await,
        CheckSpec::Dns(s) => dns::check(s, target, timeout).await,
        CheckSpec::Misc(s) => misc::check(s, timeout).await,
    }
}
