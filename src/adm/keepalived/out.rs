//! The rvs side of the import: `[[service]]` tables as rvs's configuration file takes them
//! (configs/README.md, docs/HEALTH.md), serialized to TOML. The checker tables are
//! rvs's own [`CheckSpec`], so the keys are exactly those rvsd reads.

use crate::mgmt::health::CheckSpec;
use serde::{Serialize, Serializer};

/// Seconds, written as an integer when whole (`6`, not `6.0`), as an operator would.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Secs(pub f64);

impl Serialize for Secs {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if self.0.fract() == 0.0 && self.0.abs() < 1e15 {
            s.serialize_i64(self.0 as i64)
        } else {
            s.serialize_f64(self.0)
        }
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

/// One `[[service]]`.
#[derive(Debug, Clone, PartialEq, Serialize, Default)]
pub struct Service {
    /// `"tcp"`/`"udp"` (keepalived `protocol`); absent for a mark service.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proto: Option<&'static str>,
    /// The VIP.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub vip: Option<String>,
    /// The port (0: every port, persistent services only, as ipvsadm).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// keepalived `virtual_server fwmark N`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub mark: Option<u32>,
    /// keepalived `lvs_sched`/`lb_algo`.
    pub scheduler: String,
    /// keepalived `flag-1`.. `sh-port`...
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sched_flags: Vec<String>,
    /// keepalived `persistence_timeout`, seconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub persistent: Option<u32>,
    /// keepalived `persistence_granularity`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub netmask: Option<String>,
    /// keepalived `ops`.
    #[serde(skip_serializing_if = "is_false")]
    pub ops: bool,
    /// keepalived `delay_loop`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_loop: Option<Secs>,
    /// keepalived `alpha`.
    #[serde(skip_serializing_if = "is_false")]
    pub alpha: bool,
    /// keepalived `quorum`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum: Option<u32>,
    /// keepalived `hysteresis`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hysteresis: Option<u32>,
    /// keepalived `quorum_up`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum_up: Option<String>,
    /// keepalived `quorum_down`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quorum_down: Option<String>,
    /// keepalived `inhibit_on_failure` at virtual_server level.
    #[serde(skip_serializing_if = "is_false")]
    pub inhibit_on_failure: bool,
    /// keepalived `sorry_server`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sorry_server: Option<Sorry>,
    /// The check every real server shares, when they all have the same one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
    /// keepalived `real_server` blocks.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub real: Vec<Real>,
}

/// `[service.sorry_server]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Sorry {
    /// Its address.
    pub addr: String,
    /// Its port, when keepalived names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `"nat"`, `"dr"` or `"tun"` (keepalived `sorry_server_lvs_method`).
    pub method: &'static str,
    /// keepalived `sorry_server_inhibit`.
    #[serde(skip_serializing_if = "is_false")]
    pub inhibit: bool,
}

/// `[[service.real]]`.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Real {
    /// Its address.
    pub addr: String,
    /// Its port, when keepalived names one.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port: Option<u16>,
    /// `"nat"`, `"dr"` or `"tun"`.
    pub method: &'static str,
    /// keepalived `weight` (default 1).
    pub weight: i64,
    /// keepalived `uthreshold`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub u_threshold: Option<u32>,
    /// keepalived `lthreshold`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l_threshold: Option<u32>,
    /// keepalived `inhibit_on_failure` at real_server level (absent: the service's).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub inhibit_on_failure: Option<bool>,
    /// keepalived `notify_up`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_up: Option<String>,
    /// keepalived `notify_down`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notify_down: Option<String>,
    /// Its checker.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub check: Option<Check>,
}

/// `[service.check]` / `[service.real.check]`: the timing keepalived resolves for a
/// checker (checker, else real_server, else virtual_server, else keepalived's default for
/// that checker: written out, so the imported farm does not depend on rvs's defaults)
/// and the checker itself.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Check {
    /// keepalived `connect_timeout` (network checkers).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<Secs>,
    /// keepalived `retry` (`nb_get_retry`).
    pub retry: u32,
    /// keepalived `delay_before_retry`.
    pub delay_before_retry: Secs,
    /// keepalived `delay_loop` of the checker or real server, when it differs from the
    /// service's.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub delay_loop: Option<Secs>,
    /// keepalived `warmup`, when written.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warmup: Option<Secs>,
    /// The checker: `[...check.HTTP_GET]` and its keys.
    #[serde(flatten)]
    pub spec: CheckSpec,
}

/// One service as TOML text: a `[[service]]` table with its sub-tables.
pub fn service_toml(s: &Service) -> Result<String, String> {
    #[derive(Serialize)]
    struct One<'a> {
        service: [&'a Service; 1],
    }
    toml::to_string(&One { service: [s] }).map_err(|e| e.to_string())
}
