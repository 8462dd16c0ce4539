//! Requests, responses and errors of the control protocol (see [`crate::ctl`]).
//!
//! Wire form of a request:
//! `{"version":"1.0","id":7,"request":{"cmd":"add_dest","key":{...},"dest":{...}}}`;
//! of its response: `{"version":"1.0","id":7,"ok":true,"body":{"type":"done"}}` or
//! `{"version":"1.0","id":7,"ok":false,"error":{"kind":"refused","message":"Service not defined"}}`.

use super::views::{
    CheckView, ConnView, DestSpec, MarkRuleView, ServiceKeyView, ServiceSpec, ServiceView,
    StatusView, TimeoutsView, VipView,
};
use serde::{Deserialize, Serialize};
use std::net::Ipv4Addr;

/// The protocol version this build speaks, `(major, minor)`. A different major is
/// refused; a different minor is accepted.
pub const PROTOCOL_VERSION: (u32, u32) = (1, 0);

/// Longest request line the server reads, newline included: 1 MiB. A longer line is
/// answered with [`ErrorKind::TooLarge`] and the connection is closed.
pub const MAX_REQUEST_BYTES: usize = 1 << 20;

/// `PROTOCOL_VERSION` as it travels: `"1.0"`.
pub fn version_string() -> String {
    format!("{}.{}", PROTOCOL_VERSION.0, PROTOCOL_VERSION.1)
}

/// One request line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequestEnvelope {
    /// `"major.minor"` of the client's protocol.
    pub version: String,
    /// Echoed in the response (clients that pipeline match replies by it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// What to do.
    pub request: Request,
}

impl RequestEnvelope {
    /// A request in this build's protocol version.
    pub fn new(request: Request) -> Self {
        RequestEnvelope {
            version: version_string(),
            id: None,
            request,
        }
    }
}

/// Every command. The ipvsadm ones carry ipvsadm's semantics (IPVSADM.md; the kernel's
/// `ip_vs_ctl.c` behaviour as recorded from the oracle); the others are rvs's own.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "cmd", rename_all = "snake_case", deny_unknown_fields)]
pub enum Request {
    /// `ipvsadm -A`.
    AddService {
        /// The whole service definition.
        service: ServiceSpec,
    },
    /// `ipvsadm -E`: replaces scheduler, flags, persistence and `-o` of a service.
    EditService {
        /// The whole new definition (omitted options take their defaults, as ipvsadm).
        service: ServiceSpec,
    },
    /// `ipvsadm -D`.
    DelService {
        /// Which service.
        key: ServiceKeyView,
    },
    /// `ipvsadm -C`: deletes every service.
    Clear,
    /// `ipvsadm -a`.
    AddDest {
        /// The service.
        key: ServiceKeyView,
        /// The real server.
        dest: DestSpec,
    },
    /// `ipvsadm -e`.
    EditDest {
        /// The service.
        key: ServiceKeyView,
        /// The real server, all of its settings.
        dest: DestSpec,
    },
    /// `ipvsadm -d`.
    DelDest {
        /// The service.
        key: ServiceKeyView,
        /// Real server address.
        addr: Ipv4Addr,
        /// Real server port (as given with `-r`; the server applies IPVS's rule for
        /// DR/TUN dests whose port is forced to the service port).
        port: u16,
    },
    /// `ipvsadm -Z [service]`: zeroes the counters of one service or all.
    Zero {
        /// `None`: every service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<ServiceKeyView>,
    },
    /// `ipvsadm -L` (with or without a service): services, dests, stats and rates.
    List {
        /// `None`: every service.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        key: Option<ServiceKeyView>,
    },
    /// `ipvsadm -L -c`: the connection table, templates included.
    ListConns,
    /// `ipvsadm -L --timeout`.
    GetTimeouts,
    /// `ipvsadm --set tcp tcpfin udp`; a 0 leaves that timeout unchanged (as IPVS).
    SetTimeouts {
        /// The new values, seconds.
        timeouts: TimeoutsView,
    },
    /// Adds a VIP to a port: the port answers ARP and ping for it and sends a
    /// gratuitous ARP.
    AddVip {
        /// The address.
        addr: Ipv4Addr,
        /// Port (or VLAN) name; `None`: the port whose subnet holds `addr`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<String>,
    },
    /// Removes a VIP from a port.
    DelVip {
        /// The address.
        addr: Ipv4Addr,
        /// Port name; `None`: every port that has it.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        port: Option<String>,
    },
    /// Every VIP and the port answering for it.
    ListVips,
    /// Adds a firewall-mark rule (rvs has no netfilter: rules give packets their mark).
    AddMarkRule {
        /// The rule.
        rule: MarkRuleView,
    },
    /// Removes a mark rule (exact match).
    DelMarkRule {
        /// The rule.
        rule: MarkRuleView,
    },
    /// Every mark rule, in match order.
    ListMarkRules,
    /// Ports, workers, drops, table fill, uptime, version.
    Status,
    /// Re-reads the configuration file and applies the difference (as SIGHUP).
    Reload,
    /// Sets the health check of a service (the default of its real servers without
    /// their own) or, with `real`, of one real server (`rvsadm check set`). Replaces
    /// the check in force; the server's health state starts afresh. Kept by the state
    /// file; a reload gives back the file's checks.
    SetCheck {
        /// The service.
        key: ServiceKeyView,
        /// The real server; `None`: the service's default check.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        real: Option<RealRef>,
        /// The check, in the `[service.check]` shape (boxed: it is much larger than
        /// every other request).
        check: Box<CheckView>,
    },
    /// Removes the health check of a service (its default) or, with `real`, a real
    /// server's own check (it then has the service's default, if any) (`rvsadm check
    /// del`). Removing a check that is not there is no error.
    DelCheck {
        /// The service.
        key: ServiceKeyView,
        /// The real server; `None`: the service's default check.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        real: Option<RealRef>,
    },
}

/// One real server of a service, named as `-r ADDR:PORT` names it (port 0: the service
/// port, as ipvsadm fills it in).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RealRef {
    /// Real server address.
    pub addr: Ipv4Addr,
    /// Real server port.
    pub port: u16,
}

/// One response line.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Response {
    /// The server's `"major.minor"`.
    pub version: String,
    /// The request's `id`, when it had one (and could be parsed).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<u64>,
    /// True when the request was carried out.
    pub ok: bool,
    /// What it returned (when `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Body>,
    /// Why not (when not `ok`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<CtlError>,
}

impl Response {
    /// A success carrying `body`.
    pub fn ok(id: Option<u64>, body: Body) -> Self {
        Response {
            version: version_string(),
            id,
            ok: true,
            body: Some(body),
            error: None,
        }
    }

    /// A refusal.
    pub fn err(id: Option<u64>, kind: ErrorKind, message: impl Into<String>) -> Self {
        Response {
            version: version_string(),
            id,
            ok: false,
            body: None,
            error: Some(CtlError {
                kind,
                message: message.into(),
            }),
        }
    }
}

/// What a successful request returns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Body {
    /// A change was applied (published to the workers).
    Done,
    /// `List`.
    Services {
        /// In IPVS's listing order (as `ipvsadm -L` without `--sort`: the service hash
        /// table's order is not reproducible, so rvs lists in insertion order and
        /// rvsadm sorts as ipvsadm's `--sort` when asked).
        services: Vec<ServiceView>,
    },
    /// `ListConns`.
    Conns {
        /// Every live entry, templates included.
        conns: Vec<ConnView>,
    },
    /// `GetTimeouts`.
    Timeouts {
        /// Seconds.
        timeouts: TimeoutsView,
    },
    /// `ListVips`.
    Vips {
        /// Every VIP with its port.
        vips: Vec<VipView>,
    },
    /// `ListMarkRules`.
    MarkRules {
        /// In match order.
        rules: Vec<MarkRuleView>,
    },
    /// `Status`.
    Status(StatusView),
    /// `Reload`: what the reload changed, one line each (empty: nothing changed).
    Reloaded {
        /// Human-readable changes, e.g. `"added real server 192.0.2.14:80 to TCP 203.0.113.10:80"`.
        changes: Vec<String>,
    },
}

/// Why a request was not carried out. Nothing was changed when a request is refused.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct CtlError {
    /// The class, for programs.
    pub kind: ErrorKind,
    /// For people; for [`ErrorKind::Refused`] exactly ipvsadm's text (rvsadm prints it
    /// as ipvsadm would).
    pub message: String,
}

/// Classes of [`CtlError`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ErrorKind {
    /// The line is not JSON, or not a known request (unknown `cmd`, missing field).
    BadRequest,
    /// The request's major version is not the server's.
    Version,
    /// The line is longer than [`MAX_REQUEST_BYTES`] (the connection is then closed).
    TooLarge,
    /// The peer is neither root nor in the configured admin group.
    PermissionDenied,
    /// The operation was refused by IPVS's rules (no such service, exists, out of
    /// range...): `message` is ipvsadm's text for the kernel's error.
    Refused,
    /// A reload found an error in the configuration file (`message` names file, line
    /// and key); the running state is unchanged.
    Config,
    /// rvsd could not carry out a valid request (e.g. the table is full).
    Internal,
}
