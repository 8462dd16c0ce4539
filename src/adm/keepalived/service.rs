//! `virtual_server` blocks and their `real_server`s to rvs `[[service]]` tables, keyword by
//! keyword as keepalived.conf(5) names them. What rvs cannot express is refused at its
//! keyword; what changes nothing rvs does (`omega`, `smtp_alert`, `snmp_name`,
//! `ha_suspend`) is noted on stderr and left out.

use super::checker::{self, Timing, CHECKERS, DEFAULT_DELAY_LOOP, OTHER_CHECKERS};
use super::error::{At, Note};
use super::group::{self, Key};
use super::out::{Real, Secs, Service, Sorry};
use super::tree::Node;
use super::values::{boolean, flag, int, ipv4, one, port, program, refuse, Res};
use crate::config::{MAX_PERSISTENT_SECS, SCHEDULERS};
use std::collections::HashMap;

/// keepalived's scheduler when `lvs_sched` is not given (IPVS_DEF_SCHED).
const DEFAULT_SCHEDULER: &str = "wlc";
/// keepalived's `persistence_timeout` without a value: 6 minutes.
const DEFAULT_PERSISTENCE: i64 = 360;
/// Scheduler flags keepalived writes as keywords of their own (ipvsadm's `-b` words).
const SCHED_FLAGS: [&str; 7] = [
    "flag-1",
    "flag-2",
    "flag-3",
    "sh-port",
    "sh-fallback",
    "mh-port",
    "mh-fallback",
];

/// One imported service, with the keepalived statement it comes from.
#[derive(Debug, Clone)]
pub struct Imported {
    /// The rvs service.
    pub service: Service,
    /// Where its `virtual_server` stands.
    pub at: At,
    /// The statement as written (`virtual_server 203.0.113.10 80`), for a comment.
    pub origin: String,
}

fn note(n: &Node, text: impl Into<String>) -> Note {
    Note {
        at: n.at.clone(),
        keyword: n.kw.clone(),
        text: text.into(),
    }
}

/// keepalived's `lvs_method`/`lb_kind`: NAT, DR or TUN (plain IPIP only).
fn method(n: &Node) -> Res<&'static str> {
    let words: Vec<String> = n.args.iter().map(|a| a.to_ascii_lowercase()).collect();
    let words: Vec<&str> = words.iter().map(String::as_str).collect();
    match words.as_slice() {
        ["nat"] => Ok("nat"),
        ["dr"] => Ok("dr"),
        ["tun"] | ["tun", "type", "ipip"] => Ok("tun"),
        ["tun", ..] => refuse(
            n,
            "rvs tunnels in IPIP only (no GUE, no GRE, no checksum options)",
        ),
        [] => refuse(n, "needs NAT, DR or TUN"),
        _ => refuse(n, format!("{:?} is not NAT, DR or TUN", n.args.join(" "))),
    }
}

/// What a virtual_server says, before it is given its keys.
#[derive(Default)]
struct Vs<'a> {
    proto: Option<&'static str>,
    scheduler: Option<String>,
    sched_flags: Vec<String>,
    method: Option<&'static str>,
    persistent: Option<u32>,
    netmask: Option<String>,
    ops: bool,
    timing: Timing,
    quorum: Option<u32>,
    hysteresis: Option<u32>,
    quorum_up: Option<(String, &'a Node)>,
    quorum_down: Option<(String, &'a Node)>,
    inhibit: bool,
    sorry: Option<(&'a Node, String, Option<u16>)>,
    sorry_inhibit: bool,
    sorry_method: Option<&'static str>,
    reals: Vec<&'a Node>,
}

/// Imports the `virtual_server` statement `n`; `groups` are the file's
/// `virtual_server_group` blocks by name.
pub fn virtual_server(
    n: &Node,
    groups: &HashMap<String, &Node>,
    notes: &mut Vec<Note>,
) -> Res<Vec<Imported>> {
    let keys = match n.args.as_slice() {
        [g, name] if g == "group" => match groups.get(name) {
            Some(block) => group::keys(block)?,
            None => return refuse(n, format!("no virtual_server_group {name}")),
        },
        [f, mark] if f == "fwmark" => match mark.parse::<u32>() {
            Ok(m) if m > 0 => vec![Key::Mark(m)],
            _ => {
                return refuse(
                    n,
                    format!("fwmark {mark:?} is not a mark from 1 to 4294967295"),
                )
            }
        },
        [ip] => vec![Key::Addr(ipv4(n, ip)?, 0)],
        [ip, p] => vec![Key::Addr(ipv4(n, ip)?, port(n, p, "port")?)],
        _ => return refuse(n, "needs IP [PORT], fwmark N or group NAME"),
    };
    if n.block.is_none() {
        return refuse(n, "needs a block");
    }
    let vs = read_vs(n, notes)?;
    if keys.len() > 1 {
        // One rvs service per member: each would run the programs on its own.
        let programs = [&vs.quorum_up, &vs.quorum_down];
        if let Some((_, p)) = programs.into_iter().flatten().next() {
            return refuse(
                p,
                format!(
                    "group {} has {} members, each an rvs service of its own with its own \
                     quorum: the program would run once per member",
                    n.args[1],
                    keys.len()
                ),
            );
        }
        if let Some(p) = vs
            .reals
            .iter()
            .flat_map(|r| r.children())
            .find(|c| c.kw == "notify_up" || c.kw == "notify_down")
        {
            return refuse(
                p,
                format!(
                    "group {} has {} members, each an rvs service checking this real server \
                     on its own: the program would run once per member",
                    n.args[1],
                    keys.len()
                ),
            );
        }
    }
    let marked = keys.iter().any(|k| matches!(k, Key::Mark(_)));
    let base = build(&vs, marked, notes)?;
    let mut out = Vec::new();
    for key in keys {
        let mut service = base.clone();
        match key {
            Key::Mark(m) => service.mark = Some(m),
            Key::Addr(ip, p) => {
                service.proto = Some(vs.proto.unwrap_or("tcp"));
                service.vip = Some(ip.to_string());
                service.port = Some(p);
            }
        }
        out.push(Imported {
            service,
            at: n.at.clone(),
            origin: format!("{} {}", n.kw, n.args.join(" ")),
        });
    }
    Ok(out)
}

fn read_vs<'a>(n: &'a Node, notes: &mut Vec<Note>) -> Res<Vs<'a>> {
    let mut vs = Vs::default();
    for c in n.children() {
        match c.kw.as_str() {
            "lb_algo" | "lvs_sched" => {
                let s = one(c)?;
                if !SCHEDULERS.contains(&s) {
                    return refuse(
                        c,
                        format!(
                            "rvs has no scheduler {s:?} (it has {})",
                            SCHEDULERS.join(", ")
                        ),
                    );
                }
                vs.scheduler = Some(s.to_string());
            }
            f if SCHED_FLAGS.contains(&f) => {
                flag(c)?;
                vs.sched_flags.push(f.to_string());
            }
            "lb_kind" | "lvs_method" => vs.method = Some(method(c)?),
            "protocol" => {
                vs.proto = Some(match one(c)?.to_ascii_uppercase().as_str() {
                    "TCP" => "tcp",
                    "UDP" => "udp",
                    "SCTP" => return refuse(c, "rvs balances TCP and UDP only"),
                    v => return refuse(c, format!("{v:?} is not TCP or UDP")),
                })
            }
            "persistence_timeout" => {
                let secs = if c.args.is_empty() {
                    DEFAULT_PERSISTENCE
                } else {
                    int(c, 1, i64::from(MAX_PERSISTENT_SECS))?
                };
                vs.persistent = Some(secs as u32);
            }
            "persistence_granularity" => vs.netmask = Some(one(c)?.to_string()),
            "persistence_engine" => return refuse(c, "rvs has no persistence engine (no SIP)"),
            "ops" => vs.ops = flag(c)?,
            "ip_family" => {
                if one(c)? != "inet" {
                    return refuse(c, "rvs is IPv4 only");
                }
            }
            "quorum" => vs.quorum = Some(int(c, 1, i64::from(u32::MAX))? as u32),
            "hysteresis" => vs.hysteresis = Some(int(c, 0, i64::from(u32::MAX))? as u32),
            "quorum_up" => vs.quorum_up = Some((program(c)?, c)),
            "quorum_down" => vs.quorum_down = Some((program(c)?, c)),
            "inhibit_on_failure" => vs.inhibit = boolean(c)?,
            "sorry_server" => {
                let (ip, p) = match c.args.as_slice() {
                    [ip] => (ipv4(c, ip)?, None),
                    [ip, p] => (ipv4(c, ip)?, Some(port(c, p, "port")?)),
                    _ => return refuse(c, "needs IP [PORT]"),
                };
                vs.sorry = Some((c, ip.to_string(), p));
            }
            "sorry_server_inhibit" => vs.sorry_inhibit = boolean(c)?,
            "sorry_server_lvs_method" => vs.sorry_method = Some(method(c)?),
            "real_server" => vs.reals.push(c),
            "omega" => notes.push(note(
                c,
                "ignored: rvs runs no quorum_down or notify_down program when it stops",
            )),
            "smtp_alert" | "snmp_name" => {
                notes.push(note(c, "ignored: rvs sends no mail and has no SNMP"))
            }
            "ha_suspend" => notes.push(note(
                c,
                "ignored: rvs checks whether or not the VIP is up (VRRP stays keepalived's)",
            )),
            _ if vs.timing.take(c)? => {}
            _ => return refuse(c, "not a virtual_server keyword rvs can express"),
        }
    }
    Ok(vs)
}

/// The service without its key.
/// The service without its key; `marked`: some key is a fwmark.
fn build(vs: &Vs, marked: bool, notes: &mut Vec<Note>) -> Res<Service> {
    let delay_loop = vs.timing.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP);
    let alpha = vs.timing.alpha.as_ref().is_some_and(|(a, _)| *a);
    let mut reals = Vec::new();
    for r in &vs.reals {
        reals.push(real(r, vs, marked, alpha, delay_loop, notes)?);
    }
    let method = vs.method.unwrap_or("nat");
    let mut service = Service {
        scheduler: vs
            .scheduler
            .clone()
            .unwrap_or_else(|| DEFAULT_SCHEDULER.into()),
        sched_flags: vs.sched_flags.clone(),
        persistent: vs.persistent,
        netmask: vs.netmask.clone(),
        ops: vs.ops,
        delay_loop: Some(Secs(delay_loop)),
        alpha,
        quorum: vs.quorum,
        hysteresis: vs.hysteresis,
        quorum_up: vs.quorum_up.as_ref().map(|(p, _)| p.clone()),
        quorum_down: vs.quorum_down.as_ref().map(|(p, _)| p.clone()),
        inhibit_on_failure: vs.inhibit,
        sorry_server: vs.sorry.as_ref().map(|(_, addr, port)| Sorry {
            addr: addr.clone(),
            port: *port,
            method: vs.sorry_method.unwrap_or(method),
            inhibit: vs.sorry_inhibit,
        }),
        ..Service::default()
    };
    // Every real server with the same check: written once, as the service's.
    let first = reals.first().and_then(|r: &Real| r.check.clone());
    if reals.len() > 1 && first.is_some() && reals.iter().all(|r| r.check == first) {
        service.check = first;
        for r in &mut reals {
            r.check = None;
        }
    }
    service.real = reals;
    Ok(service)
}

fn real(
    r: &Node,
    vs: &Vs,
    marked: bool,
    alpha: bool,
    delay_loop: f64,
    notes: &mut Vec<Note>,
) -> Res<Real> {
    let (addr, rport) = match r.args.as_slice() {
        [ip] => (ipv4(r, ip)?, None),
        [ip, p] => (ipv4(r, ip)?, Some(port(r, p, "port")?)),
        _ => return refuse(r, "needs IP [PORT]"),
    };
    let mut out = Real {
        addr: addr.to_string(),
        port: rport,
        method: vs.method.unwrap_or("nat"),
        weight: 1,
        u_threshold: None,
        l_threshold: None,
        inhibit_on_failure: None,
        notify_up: None,
        notify_down: None,
        check: None,
    };
    let mut timing = Timing::default();
    let mut found: Option<(&Node, _, Timing)> = None;
    for c in r.children() {
        match c.kw.as_str() {
            "weight" => out.weight = int(c, 0, i64::from(i32::MAX))?,
            "lb_kind" | "lvs_method" => out.method = method(c)?,
            "notify_up" => out.notify_up = Some(program(c)?),
            "notify_down" => out.notify_down = Some(program(c)?),
            "uthreshold" => out.u_threshold = Some(int(c, 0, i64::from(u32::MAX))? as u32),
            "lthreshold" => out.l_threshold = Some(int(c, 0, i64::from(u32::MAX))? as u32),
            "inhibit_on_failure" => out.inhibit_on_failure = Some(boolean(c)?),
            "smtp_alert" | "snmp_name" => {
                notes.push(note(c, "ignored: rvs sends no mail and has no SNMP"))
            }
            k if CHECKERS.contains(&k) => {
                if let Some((first, _, _)) = found {
                    return refuse(
                        c,
                        format!(
                            "a second checker: rvs runs one checker per real server (the first \
                             is the {} at line {})",
                            first.kw, first.at.line
                        ),
                    );
                }
                let mut t = Timing::default();
                let spec = checker::checker(c, &mut t, notes)?;
                found = Some((c, spec, t));
            }
            k if OTHER_CHECKERS.contains(&k) => {
                return refuse(
                    c,
                    format!("rvs has no {k} (it has {})", CHECKERS.join(", ")),
                )
            }
            _ if timing.take(c)? => {}
            _ => return refuse(c, "not a real_server keyword rvs can express"),
        }
    }
    if let Some((node, spec, t)) = found {
        // A fwmark service's real server without a port takes each packet's own port:
        // its check needs a port to connect to (rvs's config rule, MISC_CHECK excepted).
        let network = !matches!(spec, crate::mgmt::health::CheckSpec::Misc(_));
        if marked && rport.is_none() && network && spec.conn().connect_port.is_none() {
            return refuse(
                node,
                "the real server of a fwmark service has no port: its checker needs connect_port",
            );
        }
        let merged = t.over(&timing).over(&vs.timing);
        if let Some((a, at)) = &merged.alpha {
            if *a != alpha {
                return Err(super::error::ImportError::new(
                    at,
                    "alpha",
                    "rvs sets alpha per service: this differs from the virtual_server's",
                ));
            }
        }
        let own = t.delay_loop.or(timing.delay_loop);
        out.check = Some(checker::resolve(spec, &merged, own, delay_loop));
    }
    Ok(out)
}
