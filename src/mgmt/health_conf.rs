//! The health configuration the monitor is given: per service its keepalived
//! `virtual_server` keywords and default check, per real server its own check,
//! `inhibit_on_failure` and notify programs. They come from the configuration file
//! ([`HealthConf::from_config`], at start and at each reload) and from run-time check
//! changes (`rvsadm check set/del`, the state file), which override the file's checks
//! until the next reload (the file wins then, as it does for real servers).
//!
//! The file's keywords belong to a service key and a real server address:port, not to a
//! table object: a service or real server deleted and added again with rvsadm gets the
//! file's keywords back (a real server the file does not have gets the service's
//! defaults: its default check and `inhibit_on_failure`, no notify programs).
//! [`HealthConf::targets`] turns this and the CONFIGURED table into the monitor's
//! [`ServiceTargets`]. Management thread only.

use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Duration;

use crate::config::{self, Check, RealHealth, ServiceHealth};
use crate::ctl::views::CheckView;
use crate::lb::service::ServiceKey;
use crate::mgmt::health::{CheckSpec, ServiceTargets, Target};
use crate::mgmt::health_table::DestKey;
use crate::mgmt::Manager;

/// One service's keywords from the file, with its real servers' own.
#[derive(Clone, Debug, Default, PartialEq)]
struct FileService {
    health: ServiceHealth,
    reals: HashMap<(Ipv4Addr, u16), RealHealth>,
}

/// The running health configuration (see the module doc).
#[derive(Clone, Debug, Default)]
pub struct HealthConf {
    file: HashMap<ServiceKey, FileService>,
    /// Run-time default checks of services (`None`: deleted).
    service_checks: HashMap<ServiceKey, Option<Arc<Check>>>,
    /// Run-time own checks of real servers (`None`: deleted, the service's applies).
    real_checks: HashMap<DestKey, Option<Arc<Check>>>,
}

impl HealthConf {
    /// The file's keywords, no run-time change.
    pub fn from_config(cfg: &config::Config) -> HealthConf {
        let file = cfg
            .services
            .iter()
            .map(|s| {
                let reals = s
                    .reals
                    .iter()
                    .map(|r| ((r.addr, r.port), r.health.clone()))
                    .collect();
                let fs = FileService {
                    health: s.health.clone(),
                    reals,
                };
                (crate::mgmt::services::service_key(&s.key), fs)
            })
            .collect();
        HealthConf {
            file,
            ..Default::default()
        }
    }

    /// Forgets the run-time check changes of `service` (`-D`).
    pub fn forget_service(&mut self, service: &ServiceKey) {
        self.service_checks.remove(service);
        self.real_checks.retain(|k, _| k.0 != *service);
    }

    /// Forgets every run-time check change (`-C`).
    pub fn forget_all(&mut self) {
        self.service_checks.clear();
        self.real_checks.clear();
    }

    /// Forgets the run-time check change of one real server (`-d`).
    pub fn forget_real(&mut self, k: &DestKey) {
        self.real_checks.remove(k);
    }

    /// The keywords of `service` (the file's, or keepalived's defaults), its default
    /// check being the run-time one when set.
    pub fn service_health(&self, service: &ServiceKey) -> ServiceHealth {
        let mut h = self
            .file
            .get(service)
            .map(|f| f.health.clone())
            .unwrap_or_default();
        if let Some(c) = self.service_checks.get(service) {
            h.check = c.clone();
        }
        h
    }

    /// The own check of real server `k` (run-time, else the file's); `None`: the
    /// service's default applies.
    pub fn own_check(&self, k: &DestKey) -> Option<Arc<Check>> {
        match self.real_checks.get(k) {
            Some(c) => c.clone(),
            None => self.file_real(k).and_then(|r| r.check.clone()),
        }
    }

    fn file_real(&self, k: &DestKey) -> Option<&RealHealth> {
        self.file.get(&k.0)?.reals.get(&(k.1, k.2))
    }

    /// True when `service` has run-time check changes (set or deleted checks).
    pub fn has_changes(&self, service: &ServiceKey) -> bool {
        self.service_checks.contains_key(service)
            || self.real_checks.keys().any(|k| k.0 == *service)
    }

    /// Sets (`Some`) or deletes (`None`) the default check of `service`.
    pub fn set_service_check(&mut self, service: ServiceKey, check: Option<Arc<Check>>) {
        self.service_checks.insert(service, check);
    }

    /// Sets (`Some`) or deletes (`None`) the own check of real server `k`.
    pub fn set_real_check(&mut self, k: DestKey, check: Option<Arc<Check>>) {
        self.real_checks.insert(k, check);
    }

    /// True when `service` has anything for the monitor: a default check, a real server
    /// with its own, or a sorry server. Services without are left out of the monitor
    /// (rvsd without checks behaves as before health checks existed).
    pub fn watched(&self, mgr: &Manager, service: &ServiceKey) -> bool {
        let h = self.service_health(service);
        h.check.is_some()
            || h.sorry_server.is_some()
            || mgr
                .configured_dests(service)
                .iter()
                .any(|d| self.own_check(&(*service, d.addr, d.port)).is_some())
    }

    /// What the monitor watches now: every watched service of the configured table in
    /// insertion order, with its configured real servers.
    pub fn targets(&self, mgr: &Manager) -> Vec<ServiceTargets> {
        mgr.services()
            .in_insertion_order()
            .map(|s| s.config().key)
            .filter(|k| self.watched(mgr, k))
            .map(|key| {
                let health = self.service_health(&key);
                let reals = mgr
                    .configured_dests(&key)
                    .iter()
                    .map(|d| {
                        let k = (key, d.addr, d.port);
                        let weight = u32::try_from(d.weight).unwrap_or(0);
                        let mut t = Target::with_defaults(&health, d.addr, d.port, weight);
                        if let Some(r) = self.file_real(&k) {
                            t.inhibit_on_failure = r.inhibit_on_failure;
                            t.notify_up = r.notify_up.clone();
                            t.notify_down = r.notify_down.clone();
                        }
                        if let Some(c) = self.own_check(&k) {
                            t.check = Some(c);
                        }
                        t
                    })
                    .collect();
                ServiceTargets {
                    service: key,
                    health,
                    reals,
                }
            })
            .collect()
    }
}

/// Largest `retry` and `rise`, as the file takes them (config/health.rs).
const MAX_COUNT: u32 = 65_535;

/// Seconds as a Duration, refused unless finite and from 1 ms to one day (the file's
/// rule for keepalived's timers).
fn secs(what: &str, v: f64) -> Result<Duration, String> {
    if v.is_finite() && (0.001..=86_400.0).contains(&v) {
        Ok(Duration::from_secs_f64(v))
    } else {
        Err(format!("{what} {v} s: must be from 0.001 to 86400 seconds"))
    }
}

/// A run-time check (`rvsadm check set`, the state file) as the monitor's [`Check`], with
/// the file's rules: exactly one checker, its options valid, no `connect_timeout` on
/// MISC_CHECK; keys left out take keepalived's defaults (`delay_loop`: `service`'s;
/// HTTP_GET/SSL_GET without a Host take the service's `virtualhost`). Errors are one line
/// naming the key.
pub fn check_of_view(v: &CheckView, service: &ServiceHealth) -> Result<Check, String> {
    let given = [
        ("TCP_CHECK", v.tcp.clone().map(CheckSpec::Tcp)),
        ("HTTP_GET", v.http.clone().map(CheckSpec::Http)),
        ("SSL_GET", v.ssl.clone().map(CheckSpec::Ssl)),
        ("UDP_CHECK", v.udp.clone().map(CheckSpec::Udp)),
        ("DNS_CHECK", v.dns.clone().map(CheckSpec::Dns)),
        ("MISC_CHECK", v.misc.clone().map(CheckSpec::Misc)),
    ];
    let mut found: Option<(&str, CheckSpec)> = None;
    for (name, spec) in given {
        let Some(spec) = spec else { continue };
        if let Some((first, _)) = found {
            return Err(format!(
                "one checker per check: {first} and {name} are both given"
            ));
        }
        found = Some((name, spec));
    }
    let Some((name, mut spec)) = found else {
        return Err(
            "a check needs one checker: TCP_CHECK, HTTP_GET, SSL_GET, UDP_CHECK, \
                    DNS_CHECK or MISC_CHECK"
                .into(),
        );
    };
    if let (CheckSpec::Http(h) | CheckSpec::Ssl(h), Some(host)) = (&mut spec, &service.virtualhost)
    {
        if h.virtualhost.is_none() {
            h.virtualhost = Some(host.clone());
        }
    }
    spec.validate().map_err(|e| format!("{name}: {e}"))?;
    if matches!(spec, CheckSpec::Misc(_)) && v.connect_timeout.is_some() {
        return Err(
            "connect_timeout: MISC_CHECK has no connect_timeout: its program's \
                    timeout is MISC_CHECK.misc_timeout (default delay_loop)"
                .into(),
        );
    }
    let delay_loop = match v.delay_loop {
        Some(s) => secs("delay_loop", s)?,
        None => service.delay_loop,
    };
    let delay_before_retry = match v.delay_before_retry {
        Some(s) => secs("delay_before_retry", s)?,
        None => match spec {
            CheckSpec::Http(_) | CheckSpec::Ssl(_) => Duration::from_secs(3),
            CheckSpec::Dns(_) => delay_loop,
            _ => Duration::from_secs(1),
        },
    };
    let count = |what: &str, v: Option<u32>, default: u32, min: u32| match v {
        None => Ok(default),
        Some(n) if (min..=MAX_COUNT).contains(&n) => Ok(n),
        Some(n) => Err(format!("{what} {n}: must be from {min} to {}", MAX_COUNT)),
    };
    Ok(Check {
        spec: Arc::new(spec),
        connect_timeout: match v.connect_timeout {
            Some(s) => secs("connect_timeout", s)?,
            None => config::DEFAULT_CONNECT_TIMEOUT,
        },
        retry: count("retry", v.retry, config::DEFAULT_RETRY, 0)?,
        delay_before_retry,
        rise: count("rise", v.rise, 1, 1)?,
        delay_loop,
        warmup: match v.warmup {
            Some(0.0) => Duration::ZERO,
            Some(s) => secs("warmup", s)?,
            None => Duration::ZERO,
        },
    })
}

/// A check as the protocol carries it, every key written out (the state file keeps a
/// check exactly: loaded back, it is equal).
pub fn view_of_check(c: &Check) -> CheckView {
    let mut v = CheckView {
        connect_timeout: (!matches!(*c.spec, CheckSpec::Misc(_)))
            .then_some(c.connect_timeout.as_secs_f64()),
        retry: Some(c.retry),
        delay_before_retry: Some(c.delay_before_retry.as_secs_f64()),
        rise: Some(c.rise),
        delay_loop: Some(c.delay_loop.as_secs_f64()),
        warmup: Some(c.warmup.as_secs_f64()),
        ..Default::default()
    };
    match &*c.spec {
        CheckSpec::Tcp(s) => v.tcp = Some(s.clone()),
        CheckSpec::Http(s) => v.http = Some(s.clone()),
        CheckSpec::Ssl(s) => v.ssl = Some(s.clone()),
        CheckSpec::Udp(s) => v.udp = Some(s.clone()),
        CheckSpec::Dns(s) => v.dns = Some(s.clone()),
        CheckSpec::Misc(s) => v.misc = Some(s.clone()),
    }
    v
}
