//! What the [`Monitor`](super::Monitor) asks of the table, and what it tells about each
//! checked real server. The monitor decides; the manager side applies [`Action`]s to the
//! EFFECTIVE table (what workers schedule on, what `rvsadm -L` shows), never to the
//! configured one.

use std::net::Ipv4Addr;
use std::time::SystemTime;

use crate::config::SorryServer;
use crate::lb::service::ServiceKey;

/// One change of the effective table, as keepalived drives IPVS (ipwrapper.c).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Action {
    /// The real server is DOWN (or set aside while the sorry server is in use). Not
    /// `inhibit`: it leaves the effective table (as `ipvsadm -d`; its connections follow
    /// `expire_nodest_conn`). `inhibit` (keepalived `inhibit_on_failure`): it stays with
    /// weight 0 (quiescent).
    Down {
        /// The service.
        service: ServiceKey,
        /// Real server address.
        addr: Ipv4Addr,
        /// Real server port.
        port: u16,
        /// Weight 0 instead of removal.
        inhibit: bool,
        /// Why, as logged: "HTTP 503 from 192.0.2.12:80 (after 1 retry)".
        reason: String,
    },
    /// The real server is UP (again): back in the effective table (dest revival) with
    /// `weight`.
    Up {
        /// The service.
        service: ServiceKey,
        /// Real server address.
        addr: Ipv4Addr,
        /// Real server port.
        port: u16,
        /// The weight to give it: the configured one, or MISC_CHECK's dynamic weight.
        weight: u32,
        /// Why, as logged.
        reason: String,
    },
    /// An UP real server's effective weight changes (MISC_CHECK `misc_dynamic`: exit
    /// 2..=255 = weight code - 2; exit 0 = the configured weight again).
    Weight {
        /// The service.
        service: ServiceKey,
        /// Real server address.
        addr: Ipv4Addr,
        /// Real server port.
        port: u16,
        /// The new effective weight.
        weight: u32,
    },
    /// Quorum lost (or starting without it): put the sorry server in the effective
    /// table with [`crate::config::SORRY_WEIGHT`] (when `server.inhibit`, it is already
    /// there at weight 0: set its weight).
    SorryOn {
        /// The service.
        service: ServiceKey,
        /// The sorry server.
        server: SorryServer,
    },
    /// Quorum regained (or the sorry server's first placement with `inhibit`): take the
    /// sorry server out of the effective table, or to weight 0 when `server.inhibit`.
    SorryOff {
        /// The service.
        service: ServiceKey,
        /// The sorry server.
        server: SorryServer,
    },
}

/// The health of one real server (or sorry server), for `rvsadm -L --json` and `rvsadm
/// status`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestHealth {
    /// The service.
    pub service: ServiceKey,
    /// Address.
    pub addr: Ipv4Addr,
    /// Port.
    pub port: u16,
    /// True for the service's sorry server (then `up` means "in use").
    pub sorry: bool,
    /// The health state: UP or DOWN.
    pub up: bool,
    /// keepalived's checker name ("HTTP_GET", ...), `None` when not checked.
    pub checker: Option<&'static str>,
    /// Whether it is in the effective table at all (false: removed).
    pub in_table: bool,
    /// Its effective weight when in the table (0 when inhibited).
    pub weight: u32,
    /// When its last check ended.
    pub last_check: Option<SystemTime>,
    /// What its last check found (the reason text), or the last transition's reason.
    pub last_result: Option<String>,
    /// Failed checks since its last success.
    pub consecutive_failures: u32,
}
