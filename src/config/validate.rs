//! From text to a checked [`Config`]: TOML syntax, then serde's shape checks,
//! then every rule that needs more than one key (references between sections,
//! duplicates, ipvsadm's service and real-server rules). The first mistake in
//! file order wins, and is reported with its line and key path.
//!
//! This file holds the driver, the shared value checks and the small sections;
//! `ports.rs` and `services.rs` check the two big ones.

use std::net::Ipv4Addr;

use super::addr::{parse_ipv4, Ipv4Net};
use super::locate::{guess_path, line_of, KeyPath, Located};
use super::raw::{RawConfig, RawCores, RawRouting, RawSettings, RawTables};
use super::{
    Config, Cores, Eal, Error, ErrorKind, Log, LogLevel, Port, Routing, Settings, Tables, Timeouts,
    MAX_PERSISTENT_SECS,
};

/// Highest core id accepted in `[cores]` (DPDK's RTE_MAX_LCORE is at most 1024 in practice).
const MAX_CORE_ID: i64 = 1023;
/// Longest Linux interface name (IFNAMSIZ - 1); port names double as tap names.
pub(super) const MAX_IFNAME_LEN: usize = 15;
/// DPDK's RTE_MEMPOOL_CACHE_MAX_SIZE.
const MAX_MBUF_CACHE: i64 = 512;
/// Largest mbuf data room: DPDK's `data_room_size` is a `u16` that includes the
/// 128-byte headroom.
pub(super) const MAX_MBUF_DATA_ROOM: u32 = u16::MAX as u32 - 128;

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
                .replace("expected i64", "expected an integer")
                .replace('\n', ": ");
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

/// The ports (physical, then VLAN sub-interfaces) `text` defines, validated as far as
/// they go (`[eal]`, `[cores]`, `[[port]]`, `[[vlan]]`); `None` when that part does not
/// validate. A reload of a file that fails later (a real server no longer reachable
/// because a port address was removed) uses it to give the first reason that applies:
/// the ports changed, which needs a restart.
pub(crate) fn ports_of(text: &str, file: &str) -> Option<Vec<Port>> {
    let doc = Located::parse(text).ok()?;
    let raw: RawConfig = toml::from_str(text).ok()?;
    let c = Checker { file, doc: &doc };
    let eal = Eal {
        args: raw.eal.map(|e| e.args).unwrap_or_default(),
    };
    let cores = c.cores(&KeyPath::root().key("cores"), raw.cores?).ok()?;
    let mut ports = c.ports(&eal, &cores, raw.port).ok()?;
    c.vlans(&mut ports, raw.vlan).ok()?;
    Some(ports)
}

/// Runs the semantic checks; knows how to turn a key path into a located error.
pub(super) struct Checker<'a> {
    file: &'a str,
    doc: &'a Located<'a>,
}

pub(super) type Res<T> = Result<T, Error>;

impl Checker<'_> {
    pub(super) fn err(&self, path: &KeyPath, kind: ErrorKind, reason: impl Into<String>) -> Error {
        Error::Invalid {
            file: self.file.to_owned(),
            line: self.doc.line(path),
            key: path.to_string(),
            kind,
            reason: reason.into(),
        }
    }

    /// `v` must lie in `lo..=hi`; `what` names it in ipvsadm's style.
    pub(super) fn range(&self, path: &KeyPath, v: i64, lo: i64, hi: i64, what: &str) -> Res<i64> {
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
    pub(super) fn num<T: TryFrom<i64>>(
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

    pub(super) fn addr(&self, path: &KeyPath, s: &str) -> Res<Ipv4Addr> {
        parse_ipv4(s).map_err(|r| self.err(path, ErrorKind::Address, r))
    }

    /// A unicast address a host may own or talk to.
    pub(super) fn unicast(&self, path: &KeyPath, s: &str, what: &str) -> Res<Ipv4Addr> {
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

    pub(super) fn net(&self, path: &KeyPath, s: &str) -> Res<Ipv4Net> {
        s.parse::<Ipv4Net>()
            .map_err(|r| self.err(path, ErrorKind::Address, r))
    }

    /// A network (host bits zero), as `ip route` requires of a prefix.
    pub(super) fn network(&self, path: &KeyPath, s: &str) -> Res<Ipv4Net> {
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
        let control = self.control(raw.control.unwrap_or_default())?;
        let metrics = self.metrics(raw.metrics.unwrap_or_default())?;
        let mut ports = self.ports(&eal, &cores, raw.port)?;
        self.mbufs_suffice(&tables, &cores, &ports)?;
        self.frames_fit_mbufs(&tables, &ports)?;
        self.vlans(&mut ports, raw.vlan)?;
        let routes = self.routes(&ports, raw.route)?;
        let routing = self.routing(&ports, raw.routing.unwrap_or_default())?;
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
            conn_reuse_mode: self.num(
                &root.key("settings").key("conn_reuse_mode"),
                s.conn_reuse_mode,
                d.conn_reuse_mode,
                (0, 3),
                "conn_reuse_mode (a bitmap of 1 and 2)",
            )?,
            sloppy_tcp: s.sloppy_tcp.unwrap_or(d.sloppy_tcp),
        };
        self.settings_not_applicable(&root.key("settings"), &s)?;
        let neighbour = self.neighbour(&ports, raw.neighbour.unwrap_or_default())?;
        let fragments = self.fragments(raw.fragments.unwrap_or_default())?;
        let marks = self.marks(raw.mark)?;
        let services = self.services(&ports, &routes, &marks, raw.service)?;
        Ok(Config {
            eal,
            log: Log { level },
            cores,
            tables,
            control,
            metrics,
            ports,
            routes,
            routing,
            timeouts,
            settings,
            neighbour,
            fragments,
            marks,
            services,
        })
    }

    /// `[metrics]`: `listen = "ADDR:PORT"` for the Prometheus endpoint (off when absent).
    fn metrics(&self, m: super::raw::RawMetrics) -> Res<super::Metrics> {
        let listen = match m.listen {
            None => None,
            Some(s) => Some(s.parse::<std::net::SocketAddr>().map_err(|_| {
                self.err(
                    &KeyPath::root().key("metrics").key("listen"),
                    ErrorKind::Address,
                    format!("invalid listen address {s:?} (expected ADDR:PORT, e.g. \"127.0.0.1:9100\")"),
                )
            })?),
        };
        Ok(super::Metrics { listen })
    }

    /// `[routing]`: the transit policy (`net::transit`). `"outbound"` needs an inside
    /// port, or it would route nothing while looking as if it did.
    fn routing(&self, ports: &[Port], r: RawRouting) -> Res<Routing> {
        use crate::net::TransitMode;
        let path = KeyPath::root().key("routing").key("transit");
        let transit = match r.transit.as_deref() {
            None | Some("none") => TransitMode::None,
            Some("outbound") => TransitMode::Outbound,
            Some("all") => TransitMode::All,
            Some(other) => {
                return Err(self.err(
                    &path,
                    ErrorKind::Range,
                    format!("unknown transit {other:?} (none, outbound, all)"),
                ))
            }
        };
        if transit == TransitMode::Outbound && !ports.iter().any(|p| p.inside) {
            return Err(self.err(
                &path,
                ErrorKind::Conflict,
                "transit = \"outbound\" needs a [[port]] or [[vlan]] with inside = true (the private side)",
            ));
        }
        Ok(Routing { transit })
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

    /// The IPVS sysctls rvs has no behaviour for must keep IPVS's default
    /// ([`super::SETTINGS_NOT_APPLICABLE`]).
    fn settings_not_applicable(&self, path: &KeyPath, s: &RawSettings) -> Res<()> {
        let b = |v: Option<bool>| v.map(i64::from);
        let given = [
            b(s.sloppy_sctp),
            b(s.nat_icmp_send),
            b(s.schedule_icmp),
            b(s.ignore_tunneled),
            b(s.cache_bypass),
            b(s.conntrack),
            b(s.backup_only),
            b(s.snat_reroute),
            b(s.pmtu_disc),
            s.secure_tcp,
            s.drop_entry,
            s.drop_packet,
        ];
        for (v, (name, default, why)) in given.iter().zip(super::SETTINGS_NOT_APPLICABLE) {
            if let Some(v) = v {
                if v != default {
                    return Err(self.err(
                        &path.key(name),
                        ErrorKind::Conflict,
                        format!("{name} = {v} is not supported: {why} (only IPVS's default, {default}, is accepted)"),
                    ));
                }
            }
        }
        Ok(())
    }

    fn tables(&self, path: &KeyPath, t: RawTables) -> Res<Tables> {
        let d = Tables::DEFAULT;
        let u32max = i64::from(u32::MAX);
        // The connection table's own limit (ConnTable refuses anything above it).
        let max_conns = self.num(
            &path.key("max_conns"),
            t.max_conns,
            d.max_conns,
            (1, i64::from(crate::lb::conn::MAX_CONNS)),
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
        let mbuf_data_room = self.num(
            &path.key("mbuf_data_room"),
            t.mbuf_data_room,
            d.mbuf_data_room,
            (2048, i64::from(MAX_MBUF_DATA_ROOM)),
            "mbuf_data_room",
        )?;
        Ok(Tables {
            max_conns,
            mbufs,
            mbuf_cache,
            mbuf_data_room,
        })
    }

    /// DPDK 22.11's af_packet PMD refuses a queue whose frame data (`framesz` − 32, the
    /// TPACKET_V2 header) exceeds the pool's mbuf data room (`eth_rx_queue_setup`).
    fn frames_fit_mbufs(&self, t: &Tables, ports: &[Port]) -> Res<()> {
        for (i, p) in ports.iter().enumerate() {
            let Some(fsz) = super::afpacket::framesz(&p.device.to_string()) else {
                continue;
            };
            if fsz.saturating_sub(32) > t.mbuf_data_room {
                return Err(self.err(
                    &KeyPath::root().key("port").idx(i).key("device"),
                    ErrorKind::Conflict,
                    format!(
                        "af_packet framesz={fsz} carries {} bytes of data, more than an mbuf holds ([tables] mbuf_data_room = {})",
                        fsz - 32,
                        t.mbuf_data_room
                    ),
                ));
            }
        }
        Ok(())
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
}
