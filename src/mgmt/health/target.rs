//! What the [`Monitor`](super::Monitor) watches: per service its health keywords and its
//! real servers, each with its check (or none: always up). Built from the configuration
//! ([`ServiceTargets::from_config`]) and, for real servers added at run time, from the
//! service's defaults ([`Target::with_defaults`]).

use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::config::{self, Check, Command, ServiceHealth};
use crate::lb::service::ServiceKey;

/// One real server of a service, as the monitor needs it.
#[derive(Clone, Debug, PartialEq)]
pub struct Target {
    /// Real server address.
    pub addr: Ipv4Addr,
    /// Real server port (as in the table: the service port for dr/tun).
    pub port: u16,
    /// The CONFIGURED weight (the operator's); the weight it gets back when UP and the
    /// weight that counts towards quorum (unless a MISC_CHECK `misc_dynamic` set another).
    pub weight: u32,
    /// Its check (own or the service's default); `None`: not checked, always UP.
    pub check: Option<Arc<Check>>,
    /// keepalived `inhibit_on_failure`: DOWN = weight 0 instead of out of the table.
    pub inhibit_on_failure: bool,
    /// keepalived `notify_up`.
    pub notify_up: Option<Command>,
    /// keepalived `notify_down`.
    pub notify_down: Option<Command>,
}

impl Target {
    /// A real server of `s` from the configuration file.
    pub fn from_config(s: &config::Service, r: &config::Real) -> Target {
        Target {
            addr: r.addr,
            port: r.port,
            weight: r.weight,
            check: s.check_of(r).cloned(),
            inhibit_on_failure: r.health.inhibit_on_failure,
            notify_up: r.health.notify_up.clone(),
            notify_down: r.health.notify_down.clone(),
        }
    }

    /// A real server added at run time (`rvsadm -a`): the service's default check and
    /// `inhibit_on_failure`, no notify programs.
    pub fn with_defaults(health: &ServiceHealth, addr: Ipv4Addr, port: u16, weight: u32) -> Target {
        Target {
            addr,
            port,
            weight,
            check: health.check.clone(),
            inhibit_on_failure: health.inhibit_on_failure,
            notify_up: None,
            notify_down: None,
        }
    }
}

/// One service: its key, its health keywords and its real servers.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceTargets {
    /// The service, as the load balancer's table names it.
    pub service: ServiceKey,
    /// keepalived's `virtual_server` health keywords (delay_loop, alpha, quorum,
    /// hysteresis, quorum_up/down, sorry_server, passive; its `check` is the default of
    /// real servers added later).
    pub health: ServiceHealth,
    /// Its real servers (the CONFIGURED set), in any order.
    pub reals: Vec<Target>,
}

impl ServiceTargets {
    /// A service of the configuration file with all its real servers.
    pub fn from_config(s: &config::Service) -> ServiceTargets {
        ServiceTargets {
            service: crate::mgmt::services::service_key(&s.key),
            health: s.health.clone(),
            reals: s.reals.iter().map(|r| Target::from_config(s, r)).collect(),
        }
    }

    /// Every service of a configuration.
    pub fn all_from_config(cfg: &config::Config) -> Vec<ServiceTargets> {
        cfg.services
            .iter()
            .map(ServiceTargets::from_config)
            .collect()
    }
}
