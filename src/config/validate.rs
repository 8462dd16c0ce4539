//! From text to a checked [`Config`]: TOML syntax, then serde's shape checks,
//! then every rule that needs more than one key (references between sections,
//! duplicates, ipvsadm's service and real-server rules). The first mistake in
//! file order wins, and is reported with its line and key path.

use std::collections::HashSet;
use std::net::Ipv4Addr;
use std::path::PathBuf;

use super::addr::{parse_ipv4, parse_netmask, Ipv4Net, PortRange};
use super::locate::{guess_path, line_of, KeyPath, Located};
use super::raw::{
    RawConfig, RawCores, RawMark, RawPort, RawPorts, RawReal, RawRoute, RawService, RawTables,
};
use super::{
    Config, Control, Cores, Device, Eal, Error, ErrorKind, ExceptionPath, Log, LogLevel, Mark,
    MarkRule, Method, Port, Proto, Real, Route, SchedFlags, Service, ServiceKey, Settings, Tables,
    Timeouts, MAX_PERSISTENT_SECS, SCHEDULERS,
};

/// Highest core id accepted in `[cores]` (DPDK's RTE_MAX_LCORE is at most 1024 in practice).
const MAX_CORE_ID: i64 = 1023;
/// Longest Linux interface name (IFNAMSIZ - 1); port names double as tap names.
const MAX_IFNAME_LEN: usize = 15;
/// Longest Unix socket path (sun_path is 108 bytes with the NUL).
const MAX_SOCKET_PATH_LEN: usize = 107;
/// DPDK's RTE_MEMPOOL_CACHE_MAX_SIZE.
const MAX_MBUF_CACHE: i64 = 512;

/// Parses and validates one configuration text.
pub(crate) fn parse(text: &str, file: &str) -> Result<Config, Error> {
    let doc = match Located::parse(text) {
        Ok(doc) => doc,
        Err((offset, message)) => {
            let line = line_of(text, offset);
            return Err(Error::Invalid {
                file: file.to_owned(),
                line,
                key: guess_path(text, line).to_string(),
                kind: ErrorKind::Syntax,
                reason: message,
            });
        }
    };
    let raw: RawConfig = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let offset = e.span().map(|r| r.start).unwrap_or(0);
            // Raw numbers are i64 only to give our own range messages; say it plainly.
            let message = e
                .message()
                .trim_end()
                .replace("expected i64", "expected an integer");
            let mut path = doc.path_at(offset);
            let kind = if message.starts_with("unknown field") {
                ErrorKind::UnknownKey
            } else {
                ErrorKind::Schema
            };
            // serde points a missing key at its table; name the key itself.
            if let Some(rest) = message.strip_prefix("missing field `") {
                if let Some(name) = rest.split('`').next() {
                    path = path.key(name);
                }
            }
            return Err(Error::Invalid {
                file: file.to_owned(),
                line: line_of(text, offset),
                key: path.to_string(),
                kind,
                reason: message,
            });
        }
    };
    Checker { file, doc: &doc }.config(raw)
}

/// Runs the semantic checks; knows how to turn a key path into a located error.
struct Checker<'a> {
    file: &'a str,
    doc: &'a Located<'a>,
}

type Res<T> = Result<T, Error>;

impl Checker<'_> {
    fn err(&self, path: &KeyPath, kind: ErrorKind, reason: impl Into<String>) -> Error {
        Error::Invalid {
            file: self.file.to_owned(),
            line: self.doc.line(path),
            key: path.to_string(),
            kind,
            reason: reason.into(),
        }
    }

    /// `v` must lie in `lo..=hi`; `what` names it in ipvsadm's style.
    fn range(&self, path: &KeyPath, v: i64, lo: i64, hi: i64, what: &str) -> Res<i64> {
        if v < lo || v > hi {
            return Err(self.err(
                path,
                ErrorKind::Range,
                format!("{what}: {v} is out of range ({lo}..{hi})"),
            ));
        }
        Ok(v)
    }

    /// Like `range`, with `default` when the key is absent, converted to `T`.
    fn num<T: TryFrom<i64>>(
        &self,
        path: &KeyPath,
        v: Option<i64>,
        default: T,
        (lo, hi): (i64, i64),
        what: &str,
    ) -> Res<T> {
        match v {
            None => Ok(default),
            Some(v) => {
                let v = self.range(path, v, lo, hi, what)?;
                // In range, so the conversion cannot fail; map it anyway rather than panic.
                T::try_from(v).map_err(|_| self.err(path, ErrorKind::Range, what.to_owned()))
            }
        }
    }

    fn addr(&self, path: &KeyPath, s: &str) -> Res<Ipv4Addr> {
        parse_ipv4(s).map_err(|r| self.err(path, ErrorKind::Address, r))
    }

    /// A unicast address a host may own or talk to.
    fn unicast(&self, path: &KeyPath, s: &str, what: &str) -> Res<Ipv4Addr> {
        let a = self.addr(path, s)?;
        if a.is_unspecified() || a.is_broadcast() || a.is_multicast() || a.is_loopback() {
            return Err(self.err(
                path,
                ErrorKind::Address,
                format!("{what} {a} is not a unicast address"),
            ));
        }
        Ok(a)
    }

    fn net(&self, path: &KeyPath, s: &str) -> Res<Ipv4Net> {
        s.parse::<Ipv4Net>()
            .map_err(|r| self.err(path, ErrorKind::Address, r))
    }

    /// A network (host bits zero), as `ip route` requires of a prefix.
    fn network(&self, path: &KeyPath, s: &str) -> Res<Ipv4Net> {
        let n = self.net(path, s)?;
        if !n.is_network() {
            return Err(self.err(
                path,
                ErrorKind::Address,
                format!(
                    "invalid prefix {n}: host bits are set (did you mean {}/{}?)",
                    n.network(),
                    n.len
                ),
            ));
        }
        Ok(n)
    }

    fn config(&self, raw: RawConfig) -> Res<Config> {
        let root = KeyPath::root();
        let eal = Eal {
            args: raw.eal.map(|e| e.args).unwrap_or_default(),
        };
        for (i, a) in eal.args.iter().enumerate() {
            if a.is_empty() {
                let p = root.key("eal").key("args").idx(i);
                return Err(self.err(&p, ErrorKind::Schema, "empty EAL argument"));
            }
        }
        let level = match raw.log.and_then(|l| l.level) {
            None => LogLevel::default(),
            Some(s) => self.log_level(&root.key("log").key("level"), &s)?,
        };
        let cores = match raw.cores {
            Some(c) => self.cores(&root.key("cores"), c)?,
            None => {
                return Err(self.err(
                    &root.key("cores"),
                    ErrorKind::Schema,
                    "missing section [cores] (e.g. workers = [0])",
                ))
            }
        };
        let tables = self.tables(&root.key("tables"), raw.tables.unwrap_or_default())?;
        let socket = raw
            .control
            .and_then(|c| c.socket)
            .unwrap_or_else(|| "/run/rvs/rvsd.sock".to_owned());
        let sp = root.key("control").key("socket");
        if socket.is_empty() || socket.len() > MAX_SOCKET_PATH_LEN {
            return Err(self.err(
                &sp,
                ErrorKind::Range,
                format!("socket path must be 1..{MAX_SOCKET_PATH_LEN} bytes (Unix socket limit)"),
            ));
        }
        let ports = self.ports(&eal, &cores, raw.port)?;
        self.mbufs_suffice(&tables, &cores, &ports)?;
        let routes = self.routes(&ports, raw.route)?;
        let t = raw.timeouts.unwrap_or_default();
        let tp = root.key("timeouts");
        let lim = (1, i64::from(MAX_PERSISTENT_SECS));
        let d = Timeouts::default();
        let timeouts = Timeouts {
            tcp_secs: self.num(&tp.key("tcp"), t.tcp, d.tcp_secs, lim, "tcp timeout")?,
            tcpfin_secs: self.num(
                &tp.key("tcpfin"),
                t.tcpfin,
                d.tcpfin_secs,
                lim,
                "tcpfin timeout",
            )?,
            udp_secs: self.num(&tp.key("udp"), t.udp, d.udp_secs, lim, "udp timeout")?,
        };
        let s = raw.settings.unwrap_or_default();
        let d = Settings::default();
        let settings = Settings {
            expire_nodest_conn: s.expire_nodest_conn.unwrap_or(d.expire_nodest_conn),
            expire_quiescent_template: s
                .expire_quiescent_template
                .unwrap_or(d.expire_quiescent_template),
            gratuitous_arp: s.gratuitous_arp.unwrap_or(d.gratuitous_arp),
        };
        let marks = self.marks(raw.mark)?;
        let services = self.services(&ports, &routes, &marks, raw.service)?;
        Ok(Config {
            eal,
            log: Log { level },
            cores,
            tables,
            control: Control {
                socket: PathBuf::from(socket),
            },
            ports,
            routes,
            timeouts,
            settings,
            marks,
            services,
        })
    }

    fn log_level(&self, path: &KeyPath, s: &str) -> Res<LogLevel> {
        Ok(match s {
            "error" => LogLevel::Error,
            "warn" => LogLevel::Warn,
            "info" => LogLevel::Info,
            "debug" => LogLevel::Debug,
            "trace" => LogLevel::Trace,
            other => {
                return Err(self.err(
                    path,
                    ErrorKind::Range,
                    format!("unknown log level {other:?} (error, warn, info, debug, trace)"),
                ))
            }
        })
    }

    fn cores(&self, path: &KeyPath, c: RawCores) -> Res<Cores> {
        let wp = path.key("workers");
        if c.workers.is_empty() {
            return Err(self.err(
                &wp,
                ErrorKind::Schema,
                "at least one worker core is required",
            ));
        }
        let mut workers = Vec::with_capacity(c.workers.len());
        for (i, &w) in c.workers.iter().enumerate() {
            let p = wp.idx(i);
            let w: usize = self.num(&p, Some(w), 0, (0, MAX_CORE_ID), "core id")?;
            if workers.contains(&w) {
                return Err(self.err(
                    &p,
                    ErrorKind::Duplicate,
                    format!("duplicate worker core {w}"),
                ));
            }
            workers.push(w);
        }
        let management = self.num(
            &path.key("management"),
            c.management,
            0,
            (0, MAX_CORE_ID),
            "core id",
        )?;
        Ok(Cores {
            workers,
            management,
        })
    }

    fn tables(&self, path: &KeyPath, t: RawTables) -> Res<Tables> {
        let d = Tables::DEFAULT;
        let u32max = i64::from(u32::MAX);
        let max_conns = self.num(
            &path.key("max_conns"),
            t.max_conns,
            d.max_conns,
            (1, u32max),
            "max_conns",
        )?;
        let mbufs = self.num(&path.key("mbufs"), t.mbufs, d.mbufs, (1, u32max), "mbufs")?;
        let mbuf_cache = self.num(
            &path.key("mbuf_cache"),
            t.mbuf_cache,
            d.mbuf_cache,
            (0, MAX_MBUF_CACHE),
            "mbuf_cache",
        )?;
        // DPDK refuses a pool whose cache flush threshold (1.5 x cache) exceeds its size.
        if u64::from(mbuf_cache) * 3 / 2 > u64::from(mbufs) {
            let p = if t.mbuf_cache.is_some() {
                path.key("mbuf_cache")
            } else {
                path.key("mbufs")
            };
            return Err(self.err(
                &p,
                ErrorKind::Conflict,
                format!("mbuf_cache {mbuf_cache} is too large for {mbufs} mbufs (DPDK needs 1.5 x cache <= mbufs)"),
            ));
        }
        Ok(Tables {
            max_conns,
            mbufs,
            mbuf_cache,
        })
    }

    /// Every RX ring is filled at start and every worker's cache may hold mbufs:
    /// a pool smaller than that cannot start the ports.
    fn mbufs_suffice(&self, t: &Tables, cores: &Cores, ports: &[Port]) -> Res<()> {
        let workers = cores.workers.len() as u64;
        let rx: u64 = ports.iter().map(|p| u64::from(p.rx_desc)).sum();
        let needed = workers * rx + (workers + 1) * u64::from(t.mbuf_cache);
        if u64::from(t.mbufs) < needed {
            return Err(self.err(
                &KeyPath::root().key("tables").key("mbufs"),
                ErrorKind::Conflict,
                format!(
                    "{} mbufs cannot fill the RX rings: {workers} workers x {rx} RX descriptors + per-core caches need {needed}",
                    t.mbufs
                ),
            ));
        }
        Ok(())
    }

    fn ifname(&self, path: &KeyPath, name: &str, what: &str) -> Res<()> {
        let ok = !name.is_empty()
            && name.len() <= MAX_IFNAME_LEN
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(self.err(
                path,
                ErrorKind::Range,
                format!(
                    "invalid {what} {name:?} (1..{MAX_IFNAME_LEN} characters of A-Z a-z 0-9 - _ .)"
                ),
            ));
        }
        Ok(())
    }

    fn ports(&self, eal: &Eal, cores: &Cores, raw: Vec<RawPort>) -> Res<Vec<Port>> {
        let root = KeyPath::root();
        if raw.is_empty() {
            return Err(self.err(
                &root.key("port"),
                ErrorKind::Schema,
                "at least one [[port]] is required",
            ));
        }
        let no_pci = eal.args.iter().any(|a| a == "--no-pci");
        let mut ports: Vec<Port> = Vec::with_capacity(raw.len());
        let mut local = HashSet::new();
        for (i, rp) in raw.into_iter().enumerate() {
            let path = root.key("port").idx(i);
            self.ifname(&path.key("name"), &rp.name, "port name")?;
            if ports.iter().any(|p| p.name == rp.name) {
                return Err(self.err(
                    &path.key("name"),
                    ErrorKind::Duplicate,
                    format!("duplicate port name {:?}", rp.name),
                ));
            }
            let dp = path.key("device");
            let device = self.device(&dp, &rp.device)?;
            if ports.iter().any(|p| p.device.name() == device.name()) {
                return Err(self.err(
                    &dp,
                    ErrorKind::Duplicate,
                    format!("device {:?} is already used by another port", device.name()),
                ));
            }
            if let Device::Pci(_) = device {
                if no_pci {
                    return Err(self.err(
                        &dp,
                        ErrorKind::Conflict,
                        "a PCI device cannot be used with --no-pci in [eal] args",
                    ));
                }
            }
            self.queues_suffice(&dp, &device, cores)?;
            let mut addresses = Vec::with_capacity(rp.addresses.len());
            for (j, a) in rp.addresses.iter().enumerate() {
                let ap = path.key("addresses").idx(j);
                let n = self.net(&ap, a)?;
                self.unicast(&ap, &n.addr.to_string(), "local address")?;
                if n.len == 0 {
                    return Err(self.err(
                        &ap,
                        ErrorKind::Address,
                        "a local address needs a prefix length of 1..32",
                    ));
                }
                if !local.insert(n.addr) {
                    return Err(self.err(
                        &ap,
                        ErrorKind::Duplicate,
                        format!("duplicate local address {}", n.addr),
                    ));
                }
                addresses.push(n);
            }
            let exception_path = match (rp.exception_path, rp.tap_name) {
                (true, name) => {
                    let tap_name = name.unwrap_or_else(|| rp.name.clone());
                    let tp = path.key("tap_name");
                    self.ifname(&tp, &tap_name, "tap_name")?;
                    let clash = ports
                        .iter()
                        .any(|p| p.exception_path.as_ref().map(|e| &e.tap_name) == Some(&tap_name));
                    if clash {
                        return Err(self.err(
                            &tp,
                            ErrorKind::Duplicate,
                            format!("duplicate tap_name {tap_name:?}"),
                        ));
                    }
                    Some(ExceptionPath { tap_name })
                }
                (false, Some(_)) => {
                    return Err(self.err(
                        &path.key("tap_name"),
                        ErrorKind::Conflict,
                        "tap_name needs exception_path = true",
                    ))
                }
                (false, None) => None,
            };
            let mtu = self.num(&path.key("mtu"), rp.mtu, 1500, (68, 9216), "mtu")?;
            let rx_desc = self.desc(&path.key("rx_desc"), rp.rx_desc)?;
            let tx_desc = self.desc(&path.key("tx_desc"), rp.tx_desc)?;
            ports.push(Port {
                name: rp.name,
                device,
                addresses,
                exception_path,
                mtu,
                promiscuous: rp.promiscuous,
                rx_desc,
                tx_desc,
            });
        }
        Ok(ports)
    }

    /// A descriptor count: a power of two in 64..=32768 suits every DPDK driver's alignment rule.
    fn desc(&self, path: &KeyPath, v: Option<i64>) -> Res<u16> {
        let n: u16 = self.num(path, v, 1024, (64, 32768), "descriptor count")?;
        if !n.is_power_of_two() {
            return Err(self.err(
                path,
                ErrorKind::Range,
                format!("descriptor count {n} is not a power of two"),
            ));
        }
        Ok(n)
    }

    /// `net_...` strings are virtual devices; anything else must be a PCI address
    /// (`DDDD:BB:DD.F` or `BB:DD.F`, hexadecimal).
    fn device(&self, path: &KeyPath, s: &str) -> Res<Device> {
        if s.starts_with("net_") || s.starts_with("eth_") {
            let name = s.split(',').next().unwrap_or("");
            let bad_arg = s.split(',').skip(1).any(|kv| !kv.contains('='));
            if name.len() <= 4 || name.contains(char::is_whitespace) || bad_arg {
                return Err(self.err(
                    path,
                    ErrorKind::Address,
                    format!("invalid virtual device {s:?} (expected e.g. \"net_af_packet0,iface=rvs-ext\")"),
                ));
            }
            return Ok(Device::Vdev(s.to_owned()));
        }
        let hex = |p: &str, n: usize| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit());
        let parts: Vec<&str> = s.split([':', '.']).collect();
        let pci = match parts.as_slice() {
            [d, b, dev, f] => hex(d, 4) && hex(b, 2) && hex(dev, 2) && f.len() == 1 && hex(f, 1),
            [b, dev, f] => hex(b, 2) && hex(dev, 2) && hex(f, 1),
            _ => false,
        };
        if !pci {
            return Err(self.err(
                path,
                ErrorKind::Address,
                format!("invalid device {s:?} (expected a vdev like \"net_af_packet0,iface=rvs-ext\" or a PCI address like \"0000:00:08.0\")"),
            ));
        }
        Ok(Device::Pci(s.to_owned()))
    }

    /// Worker `i` uses queue `i` of every port; an af_packet vdev has `qpairs`
    /// queues (default 1), so it must have at least one per worker.
    fn queues_suffice(&self, path: &KeyPath, device: &Device, cores: &Cores) -> Res<()> {
        let Device::Vdev(s) = device else {
            return Ok(());
        };
        if !device.name().starts_with("net_af_packet") {
            return Ok(());
        }
        let mut qpairs = 1u64;
        for kv in s.split(',').skip(1) {
            if let Some(v) = kv.strip_prefix("qpairs=") {
                qpairs = v.parse().map_err(|_| {
                    self.err(
                        path,
                        ErrorKind::Address,
                        format!("invalid qpairs value {v:?}"),
                    )
                })?;
            }
        }
        let workers = cores.workers.len() as u64;
        if qpairs < workers {
            return Err(self.err(
                path,
                ErrorKind::Conflict,
                format!("{workers} workers need {workers} queue pairs, but the device has qpairs={qpairs} (add \",qpairs={workers}\")"),
            ));
        }
        Ok(())
    }

    fn routes(&self, ports: &[Port], raw: Vec<RawRoute>) -> Res<Vec<Route>> {
        let mut routes: Vec<Route> = Vec::with_capacity(raw.len());
        for (i, r) in raw.into_iter().enumerate() {
            let path = KeyPath::root().key("route").idx(i);
            let prefix = self.network(&path.key("prefix"), &r.prefix)?;
            let port = ports.iter().find(|p| p.name == r.port).ok_or_else(|| {
                self.err(
                    &path.key("port"),
                    ErrorKind::Reference,
                    format!("no [[port]] is named {:?}", r.port),
                )
            })?;
            let via = match &r.via {
                None => None,
                Some(v) => {
                    let vp = path.key("via");
                    let via = self.unicast(&vp, v, "next hop")?;
                    if !port.on_link(via) {
                        return Err(self.err(
                            &vp,
                            ErrorKind::Conflict,
                            format!(
                                "next hop {via} is not on a connected subnet of port {:?}",
                                port.name
                            ),
                        ));
                    }
                    if port.addresses.iter().any(|a| a.addr == via) {
                        return Err(self.err(
                            &vp,
                            ErrorKind::Conflict,
                            format!("next hop {via} is a local address of port {:?}", port.name),
                        ));
                    }
                    Some(via)
                }
            };
            if routes.iter().any(|x| x.prefix == prefix) {
                return Err(self.err(
                    &path.key("prefix"),
                    ErrorKind::Duplicate,
                    format!("duplicate route to {prefix}"),
                ));
            }
            routes.push(Route {
                prefix,
                via,
                port: r.port,
            });
        }
        Ok(routes)
    }

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

    fn marks(&self, raw: Vec<RawMark>) -> Res<Vec<Mark>> {
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

    fn services(
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
        rs: RawService,
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
                let vip = self.unicast(&path.key("vip"), vip, "VIP")?;
                // ipvsadm: `-t host` without a port means port 0.
                let port = self.num(&path.key("port"), rs.port, 0, (0, 65535), "port")?;
                ServiceKey::Addr { proto, vip, port }
            }
        };
        let scheduler = rs.scheduler.unwrap_or_else(|| "wlc".to_owned());
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
        let mut sched_flags = SchedFlags::default();
        for (j, f) in rs.sched_flags.iter().enumerate() {
            let fp = path.key("sched_flags").idx(j);
            let needs = |s: &str| (s != scheduler).then_some(());
            let incompatible = match f.as_str() {
                "flag-1" => {
                    sched_flags.flag_1 = true;
                    None
                }
                "flag-2" => {
                    sched_flags.flag_2 = true;
                    None
                }
                "flag-3" => {
                    sched_flags.flag_3 = true;
                    None
                }
                "sh-fallback" | "mh-fallback" => {
                    sched_flags.flag_1 = true;
                    needs(&f[..2])
                }
                "sh-port" | "mh-port" => {
                    sched_flags.flag_2 = true;
                    needs(&f[..2])
                }
                other => {
                    return Err(self.err(
                        &fp,
                        ErrorKind::Range,
                        format!("invalid scheduler flag `{other}'"),
                    ))
                }
            };
            if incompatible.is_some() {
                return Err(self.err(
                    &fp,
                    ErrorKind::Conflict,
                    format!(
                        "incompatible scheduler flag `{f}' (only with scheduler = \"{}\")",
                        &f[..2]
                    ),
                ));
            }
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
        let arp_port = self.arp_port(path, ports, marks, &key, rs.interface)?;
        let mut reals: Vec<Real> = Vec::with_capacity(rs.real.len());
        for (j, rr) in rs.real.into_iter().enumerate() {
            let rp = path.key("real").idx(j);
            let real = self.real(&rp, ports, routes, &key, rr)?;
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
        Ok(Service {
            key,
            scheduler,
            sched_flags,
            persistent_secs,
            netmask,
            ops: rs.ops,
            arp_port,
            reals,
        })
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

    fn real(
        &self,
        path: &KeyPath,
        ports: &[Port],
        routes: &[Route],
        key: &ServiceKey,
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
            (0, 65535),
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
        Ok(Real {
            addr,
            port,
            method,
            weight,
            u_threshold,
            l_threshold,
        })
    }
}
