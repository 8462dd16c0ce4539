//! Carries out one control-protocol request ([`crate::ctl::Request`]) on the
//! [`Manager`], with ipvsadm's semantics: `-A/-E/-D/-C` services, `-a/-e/-d` real
//! servers (trash and revival as IPVS), `-Z`, `--set`, VIPs (a gratuitous ARP follows
//! an added one), mark rules, and the listings (`-L`, `-Lc`, `--timeout`, `status`).
//!
//! Called by the management loop only, one request at a time, in arrival order. Every
//! change goes through the Manager, which publishes a whole new table (workers never see
//! half a change). A refused request changes nothing: no table is published, no counter
//! zeroed. Refusals of IPVS's rules are [`ErrorKind::Refused`] carrying ipvsadm's text
//! (IPVSADM.md §6.1) so rvsadm prints it as ipvsadm would.

use crate::ctl::proto::{Body, CtlError, ErrorKind, Request};
use crate::ctl::views::{DestSpec, MarkRuleView, ServiceKeyView, ServiceSpec, TimeoutsView};
use crate::dataplane::Runtime;
use crate::lb::conn::TimeoutTriple;
use crate::lb::mark::{MarkRule, MarkTable};
use crate::lb::sched::SchedFlags;
use crate::lb::service::{self, DestConfig, Persistence, ServiceConfig, ServiceKey};
use crate::mgmt::manager::Error;
use crate::mgmt::{views, Manager};
use crate::net::{martian, PortIdx};
use crate::wire::Ipv4Net;
use std::net::Ipv4Addr;
use std::path::Path;
use std::time::Instant;

/// What a request may need beyond the Manager.
pub struct Context<'a> {
    /// The running data plane (ports, workers, counters, the workers' clock); `None`
    /// in tests without DPDK: `status` then lists no port and no worker.
    pub rt: Option<&'a Runtime>,
    /// When rvsd started (`status`'s uptime; without `rt`, the connection table's clock
    /// counts from here).
    pub started: Instant,
    /// The configuration file rvsd runs from (`status`, reload).
    pub config_path: Option<&'a Path>,
}

impl Context<'_> {
    /// The connection table's clock now (whole seconds, as the workers' `now`): the
    /// data plane's clock, or seconds since `started` without one.
    pub fn conn_now(&self) -> u32 {
        match self.rt {
            Some(rt) => rt.now_secs(),
            None => self.started.elapsed().as_secs() as u32,
        }
    }
}

/// Carries out `req` on `mgr`; `Reload` is [`crate::mgmt::reload::reload_file`] of
/// `ctx.config_path`. Nothing changes when it returns an error (a reload's own partial
/// failure excepted, see there).
pub fn handle(mgr: &mut Manager, ctx: &Context, req: Request) -> Result<Body, CtlError> {
    let now = ctx.conn_now();
    handle_at(mgr, ctx, req, now)
}

/// [`handle`] with the connection table's clock given (`now`, seconds): the `-Lc`
/// expiry times count from it. Tests use it to list at a known time.
pub fn handle_at(
    mgr: &mut Manager,
    ctx: &Context,
    req: Request,
    now: u32,
) -> Result<Body, CtlError> {
    match req {
        Request::AddService { service } => {
            let c = service_config(&service, None)?;
            done(mgr.add_service(c))
        }
        Request::EditService { service } => {
            let old = mgr
                .services()
                .get(&views::service_key(service.key))
                .cloned();
            let c = service_config(&service, old.as_deref().map(|s| s.config()))?;
            done(mgr.edit_service(c))
        }
        Request::DelService { key } => done(mgr.del_service(&views::service_key(key))),
        Request::Clear => done(mgr.clear()),
        Request::AddDest { key, dest } => {
            let k = views::service_key(key);
            done(mgr.add_dest(&k, &dest_config(key, &dest)))
        }
        Request::EditDest { key, dest } => {
            let k = views::service_key(key);
            done(mgr.edit_dest(&k, &dest_config(key, &dest)))
        }
        Request::DelDest { key, addr, port } => {
            let k = views::service_key(key);
            done(mgr.del_dest(&k, addr, dest_port(key, port)))
        }
        Request::Zero { key } => {
            let k = key.map(views::service_key);
            done(mgr.zero(k.as_ref()))
        }
        Request::List { key } => list(mgr, key),
        Request::ListConns => Ok(Body::Conns {
            conns: views::conns(mgr, now),
        }),
        Request::GetTimeouts => Ok(Body::Timeouts {
            timeouts: timeouts_view(mgr.conns().timeouts().get()),
        }),
        Request::SetTimeouts { timeouts } => set_timeouts(mgr, timeouts),
        Request::AddVip { addr, port } => add_vip(mgr, addr, port.as_deref()),
        Request::DelVip { addr, port } => del_vip(mgr, addr, port.as_deref()),
        Request::ListVips => Ok(Body::Vips {
            vips: views::vips(mgr),
        }),
        Request::AddMarkRule { rule } => add_mark_rule(mgr, &rule),
        Request::DelMarkRule { rule } => del_mark_rule(mgr, &rule),
        Request::ListMarkRules => Ok(Body::MarkRules {
            rules: views::mark_rules(mgr),
        }),
        Request::Status => Ok(Body::Status(views::status(
            mgr,
            ctx.rt,
            ctx.started,
            ctx.config_path,
        ))),
        Request::SetCheck { key, real, check } => {
            crate::mgmt::health_ctl::set_check(mgr, key, real, Some(&check))
        }
        Request::DelCheck { key, real } => crate::mgmt::health_ctl::set_check(mgr, key, real, None),
        Request::Reload => match ctx.config_path {
            Some(path) => crate::mgmt::reload::reload_file(mgr, path),
            None => Err(internal("reload: rvsd runs without a configuration file")),
        },
    }
}

/// A refusal carrying `message` (ipvsadm's text for IPVS's rules).
pub(crate) fn refused(message: impl Into<String>) -> CtlError {
    CtlError {
        kind: ErrorKind::Refused,
        message: message.into(),
    }
}

fn internal(message: impl Into<String>) -> CtlError {
    CtlError {
        kind: ErrorKind::Internal,
        message: message.into(),
    }
}

/// A Manager error as the protocol reports it: IPVS's refusals with ipvsadm's text,
/// a full connection-table registry as internal.
fn ctl_error(e: Error) -> CtlError {
    match e {
        Error::Table(t) => internal(format!("connection table: {t}")),
        e => refused(e.to_string()),
    }
}

fn done(r: Result<(), Error>) -> Result<Body, CtlError> {
    r.map(|()| Body::Done).map_err(ctl_error)
}

/// A spec as the service table's config, with ipvsadm's rules: flags by name (an
/// unknown or foreign flag is refused with ipvsadm's text), `-p` with `-M`, `-o`.
/// `old`: the service's current settings for `-E`, which keeps rvs's own extension
/// (the mh table size) that ipvsadm cannot send.
fn service_config(
    spec: &ServiceSpec,
    old: Option<&ServiceConfig>,
) -> Result<ServiceConfig, CtlError> {
    let mut c = ServiceConfig::new(views::service_key(spec.key));
    if let ServiceKey::Mark(0) = c.key {
        return Err(refused(service::Error::Invalid.to_string()));
    }
    c.sched = spec.scheduler.clone();
    c.flags = SchedFlags::parse(&spec.flags.join(","), &spec.scheduler)
        .map_err(|e| refused(e.to_string()))?;
    c.persistence = spec.persistent.map(|t| Persistence {
        timeout_secs: t,
        netmask: spec.netmask,
    });
    c.ops = spec.ops;
    if let Some(o) = old {
        c.mh_table_size = o.mh_table_size;
    }
    Ok(c)
}

/// `-r` port 0 means the service port, as ipvsadm fills it in (a mark service has
/// none: 0 stays).
pub(crate) fn dest_port(key: ServiceKeyView, port: u16) -> u16 {
    match (key, port) {
        (ServiceKeyView::Tcp { port: vport, .. } | ServiceKeyView::Udp { port: vport, .. }, 0) => {
            vport
        }
        _ => port,
    }
}

fn dest_config(key: ServiceKeyView, d: &DestSpec) -> DestConfig {
    DestConfig {
        addr: d.addr,
        port: dest_port(key, d.port),
        fwd: views::fwd(d.method),
        weight: d.weight,
        u_threshold: d.u_threshold,
        l_threshold: d.l_threshold,
    }
}

fn list(mgr: &Manager, key: Option<ServiceKeyView>) -> Result<Body, CtlError> {
    let services = match key {
        None => views::services(mgr),
        Some(k) => {
            let svc = mgr
                .services()
                .get(&views::service_key(k))
                .ok_or_else(|| refused(service::Error::NoSuchService.to_string()))?;
            views::service_view(mgr, svc).into_iter().collect()
        }
    };
    Ok(Body::Services { services })
}

fn timeouts_view(t: TimeoutTriple) -> TimeoutsView {
    TimeoutsView {
        tcp: t.tcp_secs,
        tcpfin: t.tcpfin_secs,
        udp: t.udp_secs,
    }
}

/// Largest timeout Linux accepts in `ip_vs_set_timeout` (`INT_MAX / HZ` with Debian's
/// HZ = 250); a larger one is EINVAL.
pub const MAX_TIMEOUT_SECS: u32 = (i32::MAX / 250) as u32;

/// `--set tcp tcpfin udp`: 0 keeps a value (IPVS); out of range refused, nothing set.
fn set_timeouts(mgr: &mut Manager, t: TimeoutsView) -> Result<Body, CtlError> {
    if [t.tcp, t.tcpfin, t.udp]
        .iter()
        .any(|&v| v > MAX_TIMEOUT_SECS)
    {
        return Err(refused(service::Error::Invalid.to_string()));
    }
    mgr.conns().timeouts().set(TimeoutTriple {
        tcp_secs: t.tcp,
        tcpfin_secs: t.tcpfin,
        udp_secs: t.udp,
    });
    Ok(Body::Done)
}

/// The port named `name`, or refused naming it.
fn port_named(mgr: &Manager, name: &str) -> Result<PortIdx, CtlError> {
    mgr.port_index(name)
        .ok_or_else(|| refused(format!("no port {name}")))
}

/// The port whose connected subnet holds `addr` (the longest such prefix).
fn port_of_subnet(mgr: &Manager, addr: Ipv4Addr) -> Result<PortIdx, CtlError> {
    mgr.net()
        .routes()
        .routes()
        .iter()
        .find(|r| r.via.is_none() && r.prefix.contains(addr))
        .map(|r| r.port)
        .ok_or_else(|| {
            refused(format!(
                "no port has a subnet holding {addr}: name the port for this VIP"
            ))
        })
}

fn vip_error(mgr: &Manager, e: Error) -> CtlError {
    match e {
        Error::VipExists { port, addr } => refused(format!(
            "port {} already has VIP {addr}",
            mgr.port_name(port)
        )),
        Error::NoSuchVip { port, addr } => {
            refused(format!("port {} has no VIP {addr}", mgr.port_name(port)))
        }
        e => ctl_error(e),
    }
}

/// The VIP rule the configuration file also applies ([`martian::check_vip`]) against
/// the director's connected subnets: no martian address, no subnet broadcast. Refused
/// with its one-line reason.
fn check_vip(mgr: &Manager, addr: Ipv4Addr) -> Result<(), CtlError> {
    let connected = mgr
        .net()
        .routes()
        .routes()
        .iter()
        .filter(|r| r.via.is_none())
        .map(|r| r.prefix);
    martian::check_vip(addr, connected).map_err(|e| refused(e.to_string()))
}

/// `vip add` (and the state restore, which sends the same request): the shared VIP
/// rule first, then the port (named, or whose subnet holds `addr`).
fn add_vip(mgr: &mut Manager, addr: Ipv4Addr, port: Option<&str>) -> Result<Body, CtlError> {
    check_vip(mgr, addr)?;
    let p = match port {
        Some(name) => port_named(mgr, name)?,
        None => port_of_subnet(mgr, addr)?,
    };
    mgr.add_vip(p, addr).map_err(|e| vip_error(mgr, e))?;
    Ok(Body::Done)
}

fn del_vip(mgr: &mut Manager, addr: Ipv4Addr, port: Option<&str>) -> Result<Body, CtlError> {
    match port {
        Some(name) => {
            let p = port_named(mgr, name)?;
            mgr.remove_vip(p, addr).map_err(|e| vip_error(mgr, e))?;
        }
        None => {
            mgr.remove_vip_everywhere(addr)
                .map_err(|_| refused(format!("no port has VIP {addr}")))?;
        }
    }
    Ok(Body::Done)
}

/// A mark rule view as the mark table's rule; a malformed field is refused naming it.
pub fn mark_rule(v: &MarkRuleView) -> Result<MarkRule, CtlError> {
    let proto = match v.protocol.as_deref() {
        None => None,
        Some("tcp") => Some(crate::lb::flow::proto::TCP),
        Some("udp") => Some(crate::lb::flow::proto::UDP),
        Some(p) => return Err(refused(format!("illegal mark rule protocol `{p}'"))),
    };
    let net: Ipv4Net = v
        .vip
        .parse()
        .map_err(|e| refused(format!("illegal mark rule vip `{}': {e}", v.vip)))?;
    let (dport_min, dport_max) = match v.ports.as_deref() {
        None => (0, u16::MAX),
        Some(p) => {
            parse_ports(p).ok_or_else(|| refused(format!("illegal mark rule ports `{p}'")))?
        }
    };
    Ok(MarkRule {
        mark: v.mark,
        proto,
        daddr: net.addr,
        prefix_len: net.len,
        dport_min,
        dport_max,
    })
}

/// `"80"` or `"8000-8099"`.
fn parse_ports(s: &str) -> Option<(u16, u16)> {
    match s.split_once('-') {
        Some((a, b)) => Some((a.trim().parse().ok()?, b.trim().parse().ok()?)),
        None => {
            let p = s.trim().parse().ok()?;
            Some((p, p))
        }
    }
}

/// The rule as it matches: the network with host bits cleared (203.0.113.5/28 and
/// 203.0.113.0/28 are one rule).
fn matching(r: &MarkRule) -> MarkRule {
    let net = Ipv4Net {
        addr: r.daddr,
        len: r.prefix_len,
    };
    MarkRule {
        daddr: net.network(),
        ..*r
    }
}

/// `mark add`: a rule equal to one already there (same mark, protocol, network and
/// ports) is refused, as a second `vip add` of one VIP is; it would only be listed twice.
fn add_mark_rule(mgr: &mut Manager, v: &MarkRuleView) -> Result<Body, CtlError> {
    let rule = mark_rule(v)?;
    let m = matching(&rule);
    if mgr.marks().rules().any(|r| matching(r) == m) {
        return Err(refused(format!(
            "mark {} already has the rule {} {}/{} ports {}",
            v.mark,
            v.protocol.as_deref().unwrap_or("tcp+udp"),
            m.daddr,
            m.prefix_len,
            v.ports.as_deref().unwrap_or("any")
        )));
    }
    let mut t = MarkTable::clone(mgr.marks());
    t.add(rule).map_err(|e| refused(e.to_string()))?;
    mgr.set_marks(t);
    Ok(Body::Done)
}

fn del_mark_rule(mgr: &mut Manager, v: &MarkRuleView) -> Result<Body, CtlError> {
    let rule = mark_rule(v)?;
    let mut t = MarkTable::clone(mgr.marks());
    if !t.remove(&rule) {
        return Err(refused("no such mark rule"));
    }
    mgr.set_marks(t);
    Ok(Body::Done)
}

#[cfg(test)]
#[path = "apply_tests.rs"]
mod tests;
