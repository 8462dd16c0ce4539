//! Health checks in the file: keepalived's `virtual_server` and `real_server` health
//! keywords (keepalived.conf(5), under the same names) on `[[service]]` and
//! `[[service.real]]`, `[service.check]` / `[service.real.check]` with one checker each
//! (its own keys are `mgmt::health::spec`'s), `[service.sorry_server]` and rvs's
//! `[service.passive]`. The semantics are docs/HEALTH.md's; this file only checks values.
//!
//! Defaults are keepalived 2.x's (keepalived.conf(5) of keepalived master, 2026-08, the
//! "virtual_server" section): delay_loop 60 s, connect_timeout 5 s, retry 1,
//! delay_before_retry 3 s for HTTP_GET/SSL_GET, delay_loop for DNS_CHECK and 1 s for the
//! others, quorum 1, hysteresis 0. Where rvs differs (warmup 0, one checker per real server)
//! docs/HEALTH.md says so.

use std::sync::Arc;
use std::time::Duration;

use super::command::Command;
use super::locate::KeyPath;
use super::raw::{RawCheck, RawPassive, RawReal, RawSecs, RawService, RawSorryServer};
use super::validate::{Checker, Res};
use super::{ErrorKind, Method, Port, Real, Route, ServiceKey};
use crate::mgmt::health::CheckSpec;

/// keepalived's `delay_loop` default (seconds).
pub const DEFAULT_DELAY_LOOP: Duration = Duration::from_secs(60);
/// keepalived's `connect_timeout` default (seconds).
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(5);
/// keepalived's `retry` default.
pub const DEFAULT_RETRY: u32 = 1;
/// The weight of a sorry server while it is in use (keepalived gives it the real-server
/// default weight, 1).
pub const SORRY_WEIGHT: u32 = 1;
/// Largest `retry` and `rise` (a bound so that counters never overflow; far beyond use).
pub const MAX_COUNT: i64 = 65_535;

/// The health keywords of one `[[service]]`. All default to "not checked": with no
/// `[service.check]` and no `[service.real.check]`, every real server is always up.
#[derive(Clone, Debug, PartialEq)]
pub struct ServiceHealth {
    /// keepalived `delay_loop`: time between two checks of a real server (default 60 s;
    /// a check's own `delay_loop` overrides it).
    pub delay_loop: Duration,
    /// keepalived `alpha`: real servers start DOWN and need their first successful
    /// check(s) (`rise`) to be used. Default false: they start UP.
    pub alpha: bool,
    /// keepalived `quorum`: the least sum of weights of UP real servers with which the
    /// service is "up" (default 1).
    pub quorum: u32,
    /// keepalived `hysteresis`: quorum is lost below `quorum - hysteresis` and regained at
    /// `quorum + hysteresis` (default 0).
    pub hysteresis: u32,
    /// keepalived `quorum_up`: run once at each gain of quorum.
    pub quorum_up: Option<Command>,
    /// keepalived `quorum_down`: run once at each loss of quorum.
    pub quorum_down: Option<Command>,
    /// keepalived `inhibit_on_failure` at the service level: the default of its real
    /// servers' own (default false).
    pub inhibit_on_failure: bool,
    /// keepalived `virtualhost`: the Host of HTTP_GET/SSL_GET checks without their own
    /// (already filled into the checks below and the real servers' own).
    pub virtualhost: Option<String>,
    /// keepalived `sorry_server`: used while quorum is lost.
    pub sorry_server: Option<SorryServer>,
    /// `[service.check]`: the check of every real server without one of its own.
    pub check: Option<Arc<Check>>,
    /// `[service.passive]` (rvs): passive failure detection from the workers.
    pub passive: Option<Passive>,
}

impl Default for ServiceHealth {
    fn default() -> Self {
        ServiceHealth {
            delay_loop: DEFAULT_DELAY_LOOP,
            alpha: false,
            quorum: 1,
            hysteresis: 0,
            quorum_up: None,
            quorum_down: None,
            inhibit_on_failure: false,
            virtualhost: None,
            sorry_server: None,
            check: None,
            passive: None,
        }
    }
}

/// One check with its timing: `[service.check]` or `[service.real.check]`, every key
/// resolved (a real server's own check takes the timing keys it leaves out from the
/// service's check, as keepalived's checkers inherit them from their real and virtual
/// server).
#[derive(Clone, Debug, PartialEq)]
pub struct Check {
    /// The checker and its options (keepalived's block: `TCP_CHECK`, `HTTP_GET`, ...).
    pub spec: Arc<CheckSpec>,
    /// keepalived `connect_timeout` (default 5 s). For MISC_CHECK, the program's timeout
    /// when it has no `misc_timeout`: `delay_loop`, as keepalived.
    pub connect_timeout: Duration,
    /// keepalived `retry`: further attempts after a failed check of an UP server before
    /// it is DOWN (default 1).
    pub retry: u32,
    /// keepalived `delay_before_retry`: time between those attempts (default 3 s for
    /// HTTP_GET/SSL_GET, `delay_loop` for DNS_CHECK, 1 s for the others, as keepalived).
    pub delay_before_retry: Duration,
    /// rvs: consecutive successful checks a DOWN server needs to be UP again (default 1,
    /// keepalived's behaviour).
    pub rise: u32,
    /// keepalived `delay_loop` of this check (its own, else the service's).
    pub delay_loop: Duration,
    /// keepalived `warmup`: the first check runs at a spread delay from 0 to this
    /// (default 0 in rvs: at once; keepalived's default is `delay_loop`).
    pub warmup: Duration,
}

impl Check {
    /// The timeout to give the Checker for one run of this check: `connect_timeout`, or
    /// for MISC_CHECK `delay_loop` (its `misc_timeout`, when set, wins inside the
    /// checker).
    pub fn job_timeout(&self) -> Duration {
        match &*self.spec {
            CheckSpec::Misc(_) => self.delay_loop,
            _ => self.connect_timeout,
        }
    }
}

/// `[service.sorry_server]`: keepalived `sorry_server IP PORT`, in the table only while
/// the service has lost quorum (with [`SORRY_WEIGHT`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SorryServer {
    /// Its address.
    pub addr: std::net::Ipv4Addr,
    /// Its port (default the service's; for dr/tun on an address service, the service's).
    pub port: u16,
    /// keepalived `sorry_server_lvs_method` (default: the first real server's method, else
    /// dr).
    pub method: Method,
    /// keepalived `sorry_server_inhibit`: kept in the table at weight 0 while not in use,
    /// instead of removed.
    pub inhibit: bool,
}

/// `[service.passive]` (rvs, beyond keepalived): `failures` failed new connections
/// (answered by a RST, or never answered) within `interval` mark a checked real server
/// DOWN at once; its active checks bring it back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Passive {
    /// How many failed connections (1..=1000000).
    pub failures: u32,
    /// Within how long.
    pub interval: Duration,
}

/// A real server's own health keywords (on [`super::Real`]).
#[derive(Clone, Debug, PartialEq, Default)]
pub struct RealHealth {
    /// `[service.real.check]`, resolved; `None`: the service's `[service.check]`, if any.
    pub check: Option<Arc<Check>>,
    /// keepalived `inhibit_on_failure`: DOWN means weight 0 (quiescent) instead of out of
    /// the table (default: the service's).
    pub inhibit_on_failure: bool,
    /// keepalived `notify_up`: run when the server goes UP.
    pub notify_up: Option<Command>,
    /// keepalived `notify_down`: run when the server goes DOWN.
    pub notify_down: Option<Command>,
}

impl Checker<'_> {
    /// Seconds from 1 ms to one day (keepalived's `<TIMER>` allows fractions).
    pub(super) fn secs(&self, path: &KeyPath, v: RawSecs) -> Res<Duration> {
        crate::mgmt::health::spec::secs("", v.0).map_err(|_| {
            self.err(
                path,
                ErrorKind::Range,
                format!("{} s: must be from 0.001 to 86400 seconds", v.0),
            )
        })
    }

    /// A program line (notify_up, quorum_down, ...).
    pub(super) fn command(&self, path: &KeyPath, s: Option<String>) -> Res<Option<Command>> {
        match s {
            None => Ok(None),
            Some(s) => Command::parse(&s)
                .map(Some)
                .map_err(|r| self.err(path, ErrorKind::Schema, r)),
        }
    }

    /// `[service.passive]`.
    pub(super) fn passive(&self, path: &KeyPath, p: RawPassive) -> Res<Passive> {
        Ok(Passive {
            failures: self.num(
                &path.key("failures"),
                Some(p.failures),
                0,
                (1, 1_000_000),
                "failures",
            )?,
            interval: self.secs(&path.key("interval"), p.interval)?,
        })
    }

    /// One `check` table. `inherit` is the service's check's timing keys with its
    /// path: those this table leaves out are taken from there (then keepalived's
    /// defaults for this checker); `delay_loop` is the service's; `virtualhost` the
    /// service's default Host.
    pub(super) fn check(
        &self,
        path: &KeyPath,
        raw: RawCheck,
        inherit: Option<(&KeyPath, TimingKeys)>,
        delay_loop: Duration,
        virtualhost: Option<&str>,
    ) -> Res<Check> {
        let own = TimingKeys::of(&raw);
        let given = [
            ("TCP_CHECK", raw.tcp.map(CheckSpec::Tcp)),
            ("HTTP_GET", raw.http.map(CheckSpec::Http)),
            ("SSL_GET", raw.ssl.map(CheckSpec::Ssl)),
            ("UDP_CHECK", raw.udp.map(CheckSpec::Udp)),
            ("DNS_CHECK", raw.dns.map(CheckSpec::Dns)),
            ("MISC_CHECK", raw.misc.map(CheckSpec::Misc)),
        ];
        let mut found: Option<(&str, CheckSpec)> = None;
        for (name, spec) in given {
            let Some(spec) = spec else { continue };
            if let Some((first, _)) = found {
                return Err(self.err(
                    &path.key(name),
                    ErrorKind::Conflict,
                    format!("one checker per check: {first} and {name} are both given (keepalived's several checkers per real server are not supported)"),
                ));
            }
            found = Some((name, spec));
        }
        let Some((name, mut spec)) = found else {
            return Err(self.err(
                path,
                ErrorKind::Schema,
                "a check needs one checker: TCP_CHECK, HTTP_GET, SSL_GET, UDP_CHECK, DNS_CHECK or MISC_CHECK",
            ));
        };
        if let (CheckSpec::Http(h) | CheckSpec::Ssl(h), Some(v)) = (&mut spec, virtualhost) {
            if h.virtualhost.is_none() {
                h.virtualhost = Some(v.to_owned());
            }
        }
        spec.validate()
            .map_err(|e| self.err(&path.key(name), ErrorKind::Range, e.to_string()))?;
        if matches!(spec, CheckSpec::Misc(_)) && own.connect_timeout.is_some() {
            return Err(self.err(
                &path.key("connect_timeout"),
                ErrorKind::Conflict,
                "MISC_CHECK has no connect_timeout: its program's timeout is MISC_CHECK.misc_timeout (default delay_loop)",
            ));
        }
        // Each key: this table's, else the service check's (located there), else none.
        let pick = |f: fn(&TimingKeys) -> Option<RawSecs>, key: &str| match f(&own) {
            Some(v) => Some((path.key(key), v)),
            None => inherit.and_then(|(p, t)| f(&t).map(|v| (p.key(key), v))),
        };
        let pick_int = |f: fn(&TimingKeys) -> Option<i64>, key: &str| match f(&own) {
            Some(v) => Some((path.key(key), v)),
            None => inherit.and_then(|(p, t)| f(&t).map(|v| (p.key(key), v))),
        };
        let delay_loop = match pick(|t| t.delay_loop, "delay_loop") {
            Some((p, v)) => self.secs(&p, v)?,
            None => delay_loop,
        };
        let connect_timeout = match pick(|t| t.connect_timeout, "connect_timeout") {
            Some((p, v)) => self.secs(&p, v)?,
            None => DEFAULT_CONNECT_TIMEOUT,
        };
        let retry = match pick_int(|t| t.retry, "retry") {
            Some((p, v)) => self.num(&p, Some(v), 0, (0, MAX_COUNT), "retry")?,
            None => DEFAULT_RETRY,
        };
        let delay_before_retry = match pick(|t| t.delay_before_retry, "delay_before_retry") {
            Some((p, v)) => self.secs(&p, v)?,
            None => match &spec {
                CheckSpec::Http(_) | CheckSpec::Ssl(_) => Duration::from_secs(3),
                CheckSpec::Dns(_) => delay_loop,
                _ => Duration::from_secs(1),
            },
        };
        let rise = match pick_int(|t| t.rise, "rise") {
            Some((p, v)) => self.num(&p, Some(v), 1, (1, MAX_COUNT), "rise")?,
            None => 1,
        };
        let warmup = match pick(|t| t.warmup, "warmup") {
            Some((_, v)) if v.0 == 0.0 => Duration::ZERO,
            Some((p, v)) => self.secs(&p, v)?,
            None => Duration::ZERO,
        };
        Ok(Check {
            spec: Arc::new(spec),
            connect_timeout,
            retry,
            delay_before_retry,
            rise,
            delay_loop,
            warmup,
        })
    }
}

/// The timing keys of a check table as written (absent = not given), kept from the
/// service's `[service.check]` for its real servers' own checks to inherit.
#[derive(Clone, Copy, Default)]
pub(super) struct TimingKeys {
    connect_timeout: Option<RawSecs>,
    retry: Option<i64>,
    delay_before_retry: Option<RawSecs>,
    rise: Option<i64>,
    delay_loop: Option<RawSecs>,
    warmup: Option<RawSecs>,
}

impl TimingKeys {
    pub(super) fn of(raw: &RawCheck) -> TimingKeys {
        TimingKeys {
            connect_timeout: raw.connect_timeout,
            retry: raw.retry,
            delay_before_retry: raw.delay_before_retry,
            rise: raw.rise,
            delay_loop: raw.delay_loop,
            warmup: raw.warmup,
        }
    }
}

/// What a real server's health keywords default to: its service's.
pub(super) struct RealDefaults {
    /// Where the service's `[service.check]` is (for errors in an inherited key).
    pub check_path: KeyPath,
    /// The service check's timing keys as written, when it has one.
    pub timing: Option<TimingKeys>,
    /// The service's `delay_loop`.
    pub delay_loop: Duration,
    /// The service's `virtualhost`.
    pub virtualhost: Option<String>,
    /// The service's `inhibit_on_failure`.
    pub inhibit: bool,
    /// The service's `[service.check]`.
    pub check: Option<Arc<Check>>,
}

impl Checker<'_> {
    /// The service-level health keywords (all but the sorry server, which needs the real
    /// servers for its default method): the values, the timing keys of `[service.check]`
    /// for the real servers' own checks, and the raw sorry server.
    pub(super) fn service_health(
        &self,
        path: &KeyPath,
        rs: &mut RawService,
    ) -> Res<(ServiceHealth, Option<TimingKeys>, Option<RawSorryServer>)> {
        let d = ServiceHealth::default();
        let delay_loop = match rs.delay_loop {
            Some(v) => self.secs(&path.key("delay_loop"), v)?,
            None => d.delay_loop,
        };
        let quorum = self.num(
            &path.key("quorum"),
            rs.quorum,
            d.quorum,
            (1, i64::from(u32::MAX)),
            "quorum",
        )?;
        let hysteresis = self.num(
            &path.key("hysteresis"),
            rs.hysteresis,
            d.hysteresis,
            (0, i64::from(u32::MAX)),
            "hysteresis",
        )?;
        if let Some(v) = &rs.virtualhost {
            if v.is_empty() || v.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(self.err(
                    &path.key("virtualhost"),
                    ErrorKind::Range,
                    format!("\"{v}\" is not a usable host name"),
                ));
            }
        }
        let virtualhost = rs.virtualhost.take();
        let (check, timing) = match rs.check.take() {
            None => (None, None),
            Some(raw) => {
                let timing = TimingKeys::of(&raw);
                let c = self.check(
                    &path.key("check"),
                    raw,
                    None,
                    delay_loop,
                    virtualhost.as_deref(),
                )?;
                (Some(Arc::new(c)), Some(timing))
            }
        };
        let passive = match rs.passive.take() {
            None => None,
            Some(p) => Some(self.passive(&path.key("passive"), p)?),
        };
        let health = ServiceHealth {
            delay_loop,
            alpha: rs.alpha.unwrap_or(d.alpha),
            quorum,
            hysteresis,
            quorum_up: self.command(&path.key("quorum_up"), rs.quorum_up.take())?,
            quorum_down: self.command(&path.key("quorum_down"), rs.quorum_down.take())?,
            inhibit_on_failure: rs.inhibit_on_failure.unwrap_or(d.inhibit_on_failure),
            virtualhost,
            sorry_server: None,
            check,
            passive,
        };
        Ok((health, timing, rs.sorry_server.take()))
    }

    /// `[service.sorry_server]`: checked as a real server would be (address, method,
    /// reachability), and never one of the real servers.
    pub(super) fn sorry_server(
        &self,
        path: &KeyPath,
        ports: &[Port],
        routes: &[Route],
        key: &ServiceKey,
        reals: &[Real],
        raw: RawSorryServer,
    ) -> Res<SorryServer> {
        let sp = path.key("sorry_server");
        let method = match raw.method {
            Some(m) => Some(m),
            None => Some(
                match reals.first().map_or(Method::Dr, |r| r.method) {
                    Method::Nat => "nat",
                    Method::Dr => "dr",
                    Method::Tun => "tun",
                }
                .to_owned(),
            ),
        };
        let as_real = RawReal {
            addr: raw.addr,
            port: raw.port,
            method,
            weight: None,
            u_threshold: None,
            l_threshold: None,
            inhibit_on_failure: None,
            notify_up: None,
            notify_down: None,
            check: None,
        };
        let defaults = RealDefaults {
            check_path: sp.key("check"),
            timing: None,
            delay_loop: DEFAULT_DELAY_LOOP,
            virtualhost: None,
            inhibit: false,
            check: None,
        };
        let r = self.real(&sp, ports, routes, key, &defaults, as_real)?;
        if reals.iter().any(|x| x.addr == r.addr && x.port == r.port) {
            return Err(self.err(
                &sp.key("addr"),
                ErrorKind::Duplicate,
                format!(
                    "sorry server {}:{} is also a real server of this service",
                    r.addr, r.port
                ),
            ));
        }
        Ok(SorryServer {
            addr: r.addr,
            port: r.port,
            method: r.method,
            inhibit: raw.inhibit.unwrap_or(false),
        })
    }
}
