//! Checks of `[[mark]]` and `[[service]]` with its real servers: the rules
//! ipvsadm applies on `-A` and `-a` (in its own words where it has them),
//! references to marks and ports, duplicates, and reachability of each real
//! server by its forwarding method.

use std::net::Ipv4Addr;
use std::sync::Arc;

use super::addr::{parse_netmask, Ipv4Net, PortRange};
use super::health::{RealDefaults, RealHealth};
use super::locate::KeyPath;
use super::raw::{RawMark, RawPorts, RawReal, RawService};
use super::validate::{Checker, Res};
use super::{
    ErrorKind, Mark, MarkRule, Method, Port, Proto, Real, Route, SchedFlags, Service, ServiceKey,
    MAX_PERSISTENT_SECS, SCHEDULERS,
};
use crate::lb::sched::mh;

/// Largest real-server weight: IPVS's `INT_MAX` (ipvsadm 1.31 `-w`, the control socket).
const MAX_WEIGHT: i64 = i32::MAX as i64;

impl Checker<'_> {
    fn proto(&self, path: &KeyPath, s: &str) -> Res<Proto> {
        match s {
            "tcp" => Ok(Proto::Tcp),
            "udp" => Ok(Proto::Udp),
            other => Err(self.err(
                path,
                ErrorKind::Range,
                format!("unknown protocol {other:?} (tcp or udp)"),
            )),
        }
    }

    pub(super) fn marks(&self, raw: Vec<RawMark>) -> Res<Vec<Mark>> {
        let mut marks: Vec<Mark> = Vec::with_capacity(raw.len());
        for (i, m) in raw.into_iter().enumerate() {
            let path = KeyPath::root().key("mark").idx(i);
            let mp = path.key("mark");
            let mark: u32 = self
                .range(&mp, m.mark, 1, i64::from(u32::MAX), "invalid fwmark value")
                .map(|v| u32::try_from(v).unwrap_or(u32::MAX))?;
            if marks.iter().any(|x| x.mark == mark) {
                return Err(self.err(
                    &mp,
                    ErrorKind::Duplicate,
                    format!("mark {mark} is defined twice"),
                ));
            }
            if m.rules.is_empty() {
                return Err(self.err(
                    &path.key("rules"),
                    ErrorKind::Schema,
                    "a mark needs at least one rule",
                ));
            }
            let mut rules = Vec::with_capacity(m.rules.len());
            for (j, r) in m.rules.into_iter().enumerate() {
                let rp = path.key("rules").idx(j);
                let proto = match &r.proto {
                    None => None,
                    Some(s) => Some(self.proto(&rp.key("proto"), s)?),
                };
                let vip = self.network(&rp.key("vip"), &r.vip)?;
                let pp = rp.key("ports");
                let ports = match r.ports {
                    None => None,
                    Some(RawPorts::Int(n)) => {
                        let n: u16 = self.num(&pp, Some(n), 0, (1, 65535), "port")?;
                        Some(PortRange { first: n, last: n })
                    }
                    Some(RawPorts::Str(s)) => Some(
                        s.parse::<PortRange>()
                            .map_err(|r| self.err(&pp, ErrorKind::Range, r))?,
                    ),
                };
                rules.push(MarkRule { proto, vip, ports });
            }
            marks.push(Mark { mark, rules });
        }
        Ok(marks)
    }

    pub(super) fn services(
        &self,
        ports: &[Port],
        routes: &[Route],
        marks: &[Mark],
        raw: Vec<RawService>,
    ) -> Res<Vec<Service>> {
        let mut services: Vec<Service> = Vec::with_capacity(raw.len());
        for (i, rs) in raw.into_iter().enumerate() {
            let path = KeyPath::root().key("service").idx(i);
            let svc = self.service(&path, ports, routes, marks, rs)?;
            if services.iter().any(|s| s.key == svc.key) {
                let at = match svc.key {
                    ServiceKey::Mark(_) => path.key("mark"),
                    ServiceKey::Addr { .. } => path.key("vip"),
                };
                return Err(self.err(
                    &at,
                    ErrorKind::Duplicate,
                    format!("Service already exists ({})", svc.key),
                ));
            }
            services.push(svc);
        }
        Ok(services)
    }

    fn service(
        &self,
        path: &KeyPath,
        ports: &[Port],
        routes: &[Route],
        marks: &[Mark],
        mut rs: RawService,
    ) -> Res<Service> {
        let key = match rs.mark {
            Some(m) => {
                for (given, name) in [
                    (rs.proto.is_some(), "proto"),
                    (rs.vip.is_some(), "vip"),
                    (rs.port.is_some(), "port"),
                ] {
                    if given {
                        return Err(self.err(
                            &path.key(name),
                            ErrorKind::Conflict,
                            format!("a mark service takes no {name} (the [[mark]] rules say what it matches)"),
                        ));
                    }
                }
                let mp = path.key("mark");
                let mark = self
                    .range(&mp, m, 1, i64::from(u32::MAX), "invalid fwmark value")
                    .map(|v| u32::try_from(v).unwrap_or(u32::MAX))?;
                if !marks.iter().any(|x| x.mark == mark) {
                    return Err(self.err(
                        &mp,
                        ErrorKind::Reference,
                        format!("no [[mark]] defines mark {mark}"),
                    ));
                }
                ServiceKey::Mark(mark)
            }
            None => {
                let (Some(proto), Some(vip)) = (&rs.proto, &rs.vip) else {
                    let missing = if rs.proto.is_none() { "proto" } else { "vip" };
                    return Err(self.err(
                        &path.key(missing),
                        ErrorKind::Schema,
                        format!("missing {missing}: a service needs proto + vip + port, or mark"),
                    ));
                };
                let proto = self.proto(&path.key("proto"), proto)?;
                let vip = self.vip(&path.key("vip"), vip, ports)?;
                // ipvsadm: `-t host` without a port means port 0.
                let port = self.num(&path.key("port"), rs.port, 0, (0, 65535), "port")?;
                ServiceKey::Addr { proto, vip, port }
            }
        };
        let scheduler = rs.scheduler.take().unwrap_or_else(|| "wlc".to_owned());
        if !SCHEDULERS.contains(&scheduler.as_str()) {
            return Err(self.err(
                &path.key("scheduler"),
                ErrorKind::Range,
                format!(
                    "unknown scheduler {scheduler:?} (known: {})",
                    SCHEDULERS.join(" ")
                ),
            ));
        }
        // ipvsadm's flag words and rules, from the scheduler layer (one source).
        let mut sched_flags = SchedFlags::default();
        for (j, f) in rs.sched_flags.iter().enumerate() {
            let fp = path.key("sched_flags").idx(j);
            let bits = match crate::lb::sched::SchedFlags::parse(f, &scheduler) {
                Ok(b) if !f.is_empty() && !f.contains(',') => b,
                Err(crate::lb::sched::FlagError::Incompatible(_)) => {
                    return Err(self.err(
                        &fp,
                        ErrorKind::Conflict,
                        format!(
                            "incompatible scheduler flag `{f}' (only with scheduler = \"{}\")",
                            f.get(..2).unwrap_or_default()
                        ),
                    ))
                }
                _ => {
                    return Err(self.err(
                        &fp,
                        ErrorKind::Range,
                        format!("invalid scheduler flag `{f}'"),
                    ))
                }
            };
            use crate::lb::sched::SchedFlags as Bits;
            sched_flags.flag_1 |= bits.has(Bits::FLAG1);
            sched_flags.flag_2 |= bits.has(Bits::FLAG2);
            sched_flags.flag_3 |= bits.has(Bits::FLAG3);
        }
        let persistent_secs = match rs.persistent {
            None => None,
            Some(p) => Some(self.num(
                &path.key("persistent"),
                Some(p),
                0,
                (1, i64::from(MAX_PERSISTENT_SECS)),
                "invalid timeout value",
            )?),
        };
        let netmask = match &rs.netmask {
            None => Ipv4Addr::BROADCAST,
            Some(m) => parse_netmask(m)
                .map_err(|r| self.err(&path.key("netmask"), ErrorKind::Address, r))?,
        };
        if rs.ops {
            if let ServiceKey::Addr {
                proto: Proto::Tcp, ..
            } = key
            {
                return Err(self.err(
                    &path.key("ops"),
                    ErrorKind::Conflict,
                    "One-Packet Scheduling is only for UDP virtual services",
                ));
            }
        }
        if let ServiceKey::Addr { port: 0, .. } = key {
            if persistent_secs.is_none() {
                return Err(self.err(
                    &path.key("port"),
                    ErrorKind::Conflict,
                    "Zero port specified for non-persistent service",
                ));
            }
        }
        let mh_table_size = match rs.mh_table_size {
            None => mh::DEFAULT_TABLE_SIZE,
            Some(_) if scheduler != "mh" => {
                return Err(self.err(
                    &path.key("mh_table_size"),
                    ErrorKind::Conflict,
                    "mh_table_size only with scheduler = \"mh\"",
                ))
            }
            Some(m) => match u32::try_from(m).ok().filter(|m| mh::IPVS_SIZES.contains(m)) {
                Some(m) => m,
                None => {
                    return Err(self.err(
                        &path.key("mh_table_size"),
                        ErrorKind::Range,
                        format!(
                            "mh_table_size {m} is not one of IPVS's table sizes ({})",
                            mh::IPVS_SIZES.map(|p| p.to_string()).join(" ")
                        ),
                    ))
                }
            },
        };
        let (mut health, timing, sorry) = self.service_health(path, &mut rs)?;
        let arp_port = self.arp_port(path, ports, marks, &key, rs.interface)?;
        if let (ServiceKey::Mark(m), Some(_)) = (key, &arp_port) {
            self.published_mark_vips(ports, marks, m)?;
        }
        let defaults = RealDefaults {
            check_path: path.key("check"),
            timing,
            delay_loop: health.delay_loop,
            virtualhost: health.virtualhost.clone(),
            inhibit: health.inhibit_on_failure,
            check: health.check.clone(),
        };
        let mut reals: Vec<Real> = Vec::with_capacity(rs.real.len());
        for (j, rr) in rs.real.into_iter().enumerate() {
            let rp = path.key("real").idx(j);
            let real = self.real(&rp, ports, routes, &key, &defaults, rr)?;
            if reals
                .iter()
                .any(|r| r.addr == real.addr && r.port == real.port)
            {
                return Err(self.err(
                    &rp.key("addr"),
                    ErrorKind::Duplicate,
                    format!("Destination already exists ({}:{})", real.addr, real.port),
                ));
            }
            reals.push(real);
        }
        if let Some(raw) = sorry {
            health.sorry_server = Some(self.sorry_server(path, ports, routes, &key, &reals, raw)?);
        }
        if health.passive.is_some()
            && health.check.is_none()
            && reals.iter().all(|r| r.health.check.is_none())
        {
            return Err(self.err(
                &path.key("passive"),
                ErrorKind::Conflict,
                "passive detection needs active checks ([service.check] or [service.real.check]) to bring a server back",
            ));
        }
        Ok(Service {
            key,
            scheduler,
            sched_flags,
            persistent_secs,
            netmask,
            ops: rs.ops,
            mh_table_size,
            arp_port,
            reals,
            health,
        })
    }

    /// A VIP rvsd publishes (answers ARP and ping for): the rule `rvsadm vip add`
    /// shares ([`crate::net::martian::check_vip`]): no martian address, no broadcast of
    /// any port's or VLAN's subnet.
    fn vip(&self, path: &KeyPath, s: &str, ports: &[Port]) -> Res<Ipv4Addr> {
        let a = self.addr(path, s)?;
        let subnets = ports.iter().flat_map(|p| p.addresses.iter().copied());
        crate::net::martian::check_vip(a, subnets)
            .map_err(|e| self.err(path, ErrorKind::Address, e.to_string()))?;
        Ok(a)
    }

    /// The single addresses (/32 rules) of mark `m`, which its service publishes on
    /// its ARP port: each passes [`Self::vip`], located at its rule.
    fn published_mark_vips(&self, ports: &[Port], marks: &[Mark], m: u32) -> Res<()> {
        let Some(i) = marks.iter().position(|x| x.mark == m) else {
            return Ok(());
        };
        for (j, r) in marks[i].rules.iter().enumerate() {
            if r.vip.len == 32 {
                let rp = KeyPath::root().key("mark").idx(i).key("rules").idx(j);
                self.vip(&rp.key("vip"), &r.vip.addr.to_string(), ports)?;
            }
        }
        Ok(())
    }

    fn arp_port(
        &self,
        path: &KeyPath,
        ports: &[Port],
        marks: &[Mark],
        key: &ServiceKey,
        interface: Option<String>,
    ) -> Res<Option<String>> {
        if let Some(name) = interface {
            if !ports.iter().any(|p| p.name == name) {
                return Err(self.err(
                    &path.key("interface"),
                    ErrorKind::Reference,
                    format!("no [[port]] is named {name:?}"),
                ));
            }
            return Ok(Some(name));
        }
        match *key {
            ServiceKey::Addr { vip, .. } => match ports.iter().find(|p| p.on_link(vip)) {
                Some(p) => Ok(Some(p.name.clone())),
                None => Err(self.err(
                    &path.key("vip"),
                    ErrorKind::Reference,
                    format!("no port has VIP {vip} on a connected subnet; set interface = \"<port>\" to answer ARP for it there"),
                )),
            },
            ServiceKey::Mark(m) => {
                let rules = marks.iter().filter(|x| x.mark == m).flat_map(|x| &x.rules);
                let mut found: Option<&Port> = None;
                for r in rules {
                    let p = ports
                        .iter()
                        .find(|p| p.addresses.iter().any(|a| Ipv4Net { addr: a.network(), len: a.len }.covers(r.vip)));
                    match (found, p) {
                        (_, None) => return Ok(None),
                        (Some(f), Some(p)) if f.name != p.name => return Ok(None),
                        (_, p) => found = p,
                    }
                }
                Ok(found.map(|p| p.name.clone()))
            }
        }
    }

    pub(super) fn real(
        &self,
        path: &KeyPath,
        ports: &[Port],
        routes: &[Route],
        key: &ServiceKey,
        defaults: &RealDefaults,
        rr: RawReal,
    ) -> Res<Real> {
        let addr = self.unicast(&path.key("addr"), &rr.addr, "real server")?;
        let method = match rr.method.as_deref() {
            None | Some("dr") => Method::Dr,
            Some("nat") => Method::Nat,
            Some("tun") => Method::Tun,
            Some(other) => {
                return Err(self.err(
                    &path.key("method"),
                    ErrorKind::Range,
                    format!("unknown method {other:?} (nat, dr or tun)"),
                ))
            }
        };
        let svc_port = match *key {
            ServiceKey::Addr { port, .. } => port,
            ServiceKey::Mark(_) => 0,
        };
        let mut port = self.num(&path.key("port"), rr.port, svc_port, (0, 65535), "port")?;
        // ipvsadm: dr and tun cannot change the port, so it silently becomes the service's.
        if matches!(key, ServiceKey::Addr { .. }) && method != Method::Nat {
            port = svc_port;
        }
        let weight = self.num(
            &path.key("weight"),
            rr.weight,
            1,
            // ipvsadm 1.31 and IPVS take 0..=INT_MAX (as `-a -w`, the control socket);
            // the schedulers compare weight products in i64/i128.
            (0, MAX_WEIGHT),
            "illegal weight specified",
        )?;
        let imax = i64::from(i32::MAX);
        let u_threshold = self.num(
            &path.key("u_threshold"),
            rr.u_threshold,
            0,
            (0, imax),
            "illegal u_threshold specified",
        )?;
        let l_threshold = self.num(
            &path.key("l_threshold"),
            rr.l_threshold,
            0,
            (0, imax),
            "illegal l_threshold specified",
        )?;
        // The kernel refuses -y above -x with ERANGE, even when -x is 0 (off).
        if l_threshold > u_threshold {
            return Err(self.err(
                &path.key("l_threshold"),
                ErrorKind::Conflict,
                format!("l_threshold {l_threshold} is above u_threshold {u_threshold}"),
            ));
        }
        let on_link = ports.iter().any(|p| p.on_link(addr));
        if method == Method::Dr && !on_link {
            return Err(self.err(
                &path.key("addr"),
                ErrorKind::Conflict,
                format!("direct routing needs real server {addr} on a connected subnet of a port"),
            ));
        }
        if !on_link && !routes.iter().any(|r| r.prefix.contains(addr)) {
            return Err(self.err(
                &path.key("addr"),
                ErrorKind::Conflict,
                format!("no connected subnet or [[route]] reaches real server {addr}"),
            ));
        }
        let check = match rr.check {
            None => None,
            Some(raw) => Some(Arc::new(self.check(
                &path.key("check"),
                raw,
                defaults.timing.map(|t| (&defaults.check_path, t)),
                defaults.delay_loop,
                defaults.virtualhost.as_deref(),
            )?)),
        };
        // Port 0 (a mark service's "the packet's port") cannot be checked at that port.
        if let Some(c) = check.as_ref().or(defaults.check.as_ref()) {
            let misc = matches!(*c.spec, crate::mgmt::health::CheckSpec::Misc(_));
            if port == 0 && !misc && c.spec.conn().connect_port.is_none() {
                return Err(self.err(
                    &path.key("port"),
                    ErrorKind::Conflict,
                    format!(
                        "real server {addr} has port 0 (each packet's own port): its {} needs connect_port",
                        c.spec.kind()
                    ),
                ));
            }
        }
        let health = RealHealth {
            check,
            inhibit_on_failure: rr.inhibit_on_failure.unwrap_or(defaults.inhibit),
            notify_up: self.command(&path.key("notify_up"), rr.notify_up)?,
            notify_down: self.command(&path.key("notify_down"), rr.notify_down)?,
        };
        Ok(Real {
            addr,
            port,
            method,
            weight,
            u_threshold,
            l_threshold,
            health,
        })
    }
}
