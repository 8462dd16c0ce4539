//! keepalived's checker blocks (TCP_CHECK, HTTP_GET, SSL_GET, UDP_CHECK, DNS_CHECK,
//! MISC_CHECK) to rvs's [`CheckSpec`], and the timing keywords keepalived lets a
//! virtual_server, a real_server and a checker each set, the inner one winning
//! (keepalived.conf(5): "the virtual server setting is the default for real servers, and
//! the real server setting is the default for checkers").
//!
//! keepalived's defaults are written out in the result ([`resolve`]): `connect_timeout` 5 s;
//! `retry` 1, but 3 for DNS_CHECK and 0 for MISC_CHECK; `delay_before_retry` 1 s, but 3 s
//! for HTTP_GET/SSL_GET and `delay_loop` for DNS_CHECK; `delay_loop` 60 s.

use super::error::{At, Note};
use super::out::{Check, Secs};
use super::tree::Node;
use super::values::{boolean, flag, hex, int, ipv4, one, port, refuse, split_words, timer, Res};
use crate::mgmt::health::{
    CheckSpec, DnsCheck, DnsType, HexBytes, HttpGet, HttpProtocol, HttpUrl, Md5Digest, MiscCheck,
    StatusCodes, TcpCheck, UdpCheck,
};
use std::net::Ipv4Addr;

/// keepalived's `delay_loop` default (check_data.c), seconds.
pub const DEFAULT_DELAY_LOOP: f64 = 60.0;

/// Checker block names rvs has.
pub const CHECKERS: [&str; 6] = [
    "TCP_CHECK",
    "HTTP_GET",
    "SSL_GET",
    "UDP_CHECK",
    "DNS_CHECK",
    "MISC_CHECK",
];

/// keepalived's checkers rvs does not have.
pub const OTHER_CHECKERS: [&str; 4] = ["SMTP_CHECK", "PING_CHECK", "BFD_CHECK", "FILE_CHECK"];

/// The keywords a virtual_server, real_server or checker may each set, unset = inherited.
#[derive(Debug, Clone, Default)]
pub struct Timing {
    /// `connect_timeout`, s.
    pub connect_timeout: Option<f64>,
    /// `retry` / `nb_get_retry`.
    pub retry: Option<u32>,
    /// `delay_before_retry`, s.
    pub delay_before_retry: Option<f64>,
    /// `delay_loop`, s.
    pub delay_loop: Option<f64>,
    /// `warmup`, s.
    pub warmup: Option<f64>,
    /// `alpha`, with where it was set.
    pub alpha: Option<(bool, At)>,
    /// `virtualhost` (the Host of HTTP_GET/SSL_GET).
    pub virtualhost: Option<String>,
}

impl Timing {
    /// Reads `n` if it is one of these keywords; `Ok(false)` when it is not.
    pub fn take(&mut self, n: &Node) -> Res<bool> {
        match n.kw.as_str() {
            "connect_timeout" => self.connect_timeout = Some(positive(n)?),
            "retry" | "nb_get_retry" => self.retry = Some(int(n, 0, 65535)? as u32),
            "delay_before_retry" => self.delay_before_retry = Some(positive(n)?),
            "delay_loop" => self.delay_loop = Some(positive(n)?),
            "warmup" => self.warmup = Some(timer(n)?),
            "alpha" => self.alpha = Some((boolean(n)?, n.at.clone())),
            "virtualhost" => self.virtualhost = Some(one(n)?.to_string()),
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// These settings, each falling back to `outer`'s.
    pub fn over(&self, outer: &Timing) -> Timing {
        Timing {
            connect_timeout: self.connect_timeout.or(outer.connect_timeout),
            retry: self.retry.or(outer.retry),
            delay_before_retry: self.delay_before_retry.or(outer.delay_before_retry),
            delay_loop: self.delay_loop.or(outer.delay_loop),
            warmup: self.warmup.or(outer.warmup),
            alpha: self.alpha.clone().or_else(|| outer.alpha.clone()),
            virtualhost: self
                .virtualhost
                .clone()
                .or_else(|| outer.virtualhost.clone()),
        }
    }
}

/// A timer that rvs accepts as an interval: at least 1 ms.
fn positive(n: &Node) -> Res<f64> {
    let v = timer(n)?;
    if v < 0.001 {
        return refuse(n, "must be at least 0.001 s");
    }
    Ok(v)
}

/// The connection keywords every network checker has.
#[derive(Default)]
struct Conn {
    connect_ip: Option<Ipv4Addr>,
    connect_port: Option<u16>,
    bindto: Option<Ipv4Addr>,
    bind_port: Option<u16>,
}

impl Conn {
    fn take(&mut self, n: &Node) -> Res<bool> {
        match n.kw.as_str() {
            "connect_ip" => self.connect_ip = Some(ipv4(n, one(n)?)?),
            "connect_port" => self.connect_port = Some(port(n, one(n)?, "connect_port")?),
            "bindto" | "bind_to" => self.bindto = Some(ipv4(n, one(n)?)?),
            "bind_port" => self.bind_port = Some(port(n, one(n)?, "bind_port")?),
            "bind_if" => return refuse(n, "rvs checks over IPv4 only and binds to no interface"),
            "fwmark" => return refuse(n, "rvs does not mark its checks' packets"),
            _ => return Ok(false),
        }
        Ok(true)
    }
}

/// keywords that change only keepalived's logging: noted, not refused.
fn logging_only(n: &Node, notes: &mut Vec<Note>) -> Res<bool> {
    if n.kw == "log_all_failures" {
        boolean(n)?;
        notes.push(note(
            n,
            "ignored: rvs logs every transition with its reason",
        ));
        return Ok(true);
    }
    Ok(false)
}

fn note(n: &Node, text: &str) -> Note {
    Note {
        at: n.at.clone(),
        keyword: n.kw.clone(),
        text: text.into(),
    }
}

/// Reads the checker block `n` (its keyword is one of [`CHECKERS`]); its timing
/// keywords go to `timing`.
pub fn checker(n: &Node, timing: &mut Timing, notes: &mut Vec<Note>) -> Res<CheckSpec> {
    if !n.args.is_empty() {
        return refuse(n, "takes no value before its block");
    }
    let mut conn = Conn::default();
    let spec = match n.kw.as_str() {
        "TCP_CHECK" => {
            for c in n.children() {
                if !(timing.take(c)? || conn.take(c)? || logging_only(c, notes)?) {
                    return unknown(c, &n.kw);
                }
            }
            CheckSpec::Tcp(TcpCheck {
                connect_ip: conn.connect_ip,
                connect_port: conn.connect_port,
                bindto: conn.bindto,
                bind_port: conn.bind_port,
            })
        }
        "HTTP_GET" | "SSL_GET" => http(n, timing, &mut conn, notes)?,
        "UDP_CHECK" => udp(n, timing, &mut conn, notes)?,
        "DNS_CHECK" => {
            let mut d = DnsCheck {
                name: ".".into(),
                ..DnsCheck::default()
            };
            for c in n.children() {
                match c.kw.as_str() {
                    "type" => d.qtype = dns_type(c)?,
                    "name" => d.name = one(c)?.to_string(),
                    _ if timing.take(c)? || conn.take(c)? || logging_only(c, notes)? => {}
                    _ => return unknown(c, &n.kw),
                }
            }
            d.connect_ip = conn.connect_ip;
            d.connect_port = conn.connect_port;
            d.bindto = conn.bindto;
            d.bind_port = conn.bind_port;
            CheckSpec::Dns(d)
        }
        "MISC_CHECK" => misc(n, timing, notes)?,
        _ => return refuse(n, "not a checker rvs has"),
    };
    if let Err(e) = spec.validate() {
        return refuse(n, e.to_string());
    }
    Ok(spec)
}

fn unknown<T>(c: &Node, block: &str) -> Res<T> {
    refuse(c, format!("not a {block} keyword rvs can express"))
}

fn http(n: &Node, timing: &mut Timing, conn: &mut Conn, notes: &mut Vec<Note>) -> Res<CheckSpec> {
    let ssl = n.kw == "SSL_GET";
    let mut h = HttpGet::default();
    for c in n.children() {
        match c.kw.as_str() {
            "url" => h.url.push(url(c)?),
            "http_protocol" => {
                h.http_protocol = match one(c)? {
                    "1.0" => HttpProtocol::Http10,
                    "1.0C" | "1.0c" => HttpProtocol::Http10Close,
                    "1.1" => HttpProtocol::Http11,
                    v => return refuse(c, format!("{v:?} is not 1.0, 1.0C or 1.1")),
                }
            }
            "enable_sni" if ssl => h.enable_sni = boolean(c)?,
            "fast_recovery" => {
                boolean(c)?;
                notes.push(note(
                    c,
                    "ignored: rvs fetches every url at each check, as keepalived's fast_recovery",
                ));
            }
            _ if timing.take(c)? || conn.take(c)? || logging_only(c, notes)? => {}
            _ => return unknown(c, &n.kw),
        }
    }
    if h.url.is_empty() {
        return refuse(n, "needs at least one url block");
    }
    h.connect_ip = conn.connect_ip;
    h.connect_port = conn.connect_port;
    h.bindto = conn.bindto;
    h.bind_port = conn.bind_port;
    Ok(if ssl {
        CheckSpec::Ssl(h)
    } else {
        CheckSpec::Http(h)
    })
}

fn url(n: &Node) -> Res<HttpUrl> {
    if !n.args.is_empty() {
        return refuse(n, "takes no value before its block");
    }
    let mut path = None;
    let mut u = HttpUrl {
        path: String::new(),
        status_code: StatusCodes::default(),
        digest: None,
        substring: None,
        virtualhost: None,
    };
    for c in n.children() {
        match c.kw.as_str() {
            "path" => path = Some(one(c)?.to_string()),
            "digest" => {
                u.digest = Some(Md5Digest::parse(one(c)?).or_else(|e| refuse(c, e))?);
            }
            "status_code" => {
                if c.args.is_empty() {
                    return refuse(c, "needs a code or range");
                }
                u.status_code = StatusCodes::parse(&c.args.join(" ")).or_else(|e| refuse(c, e))?;
            }
            "virtualhost" => u.virtualhost = Some(one(c)?.to_string()),
            "regex" | "regex_no_match" | "regex_options" | "regex_stack" | "regex_min_offset"
            | "regex_max_offset" => {
                return refuse(
                    c,
                    "rvs has no regular expressions on the body (its `substring` key \
                     matches plain text)",
                )
            }
            _ => return unknown(c, "url"),
        }
    }
    match path {
        Some(p) => u.path = p,
        None => return refuse(n, "needs a path"),
    }
    Ok(u)
}

fn udp(n: &Node, timing: &mut Timing, conn: &mut Conn, notes: &mut Vec<Note>) -> Res<CheckSpec> {
    let mut u = UdpCheck::default();
    let mut payload = false;
    for c in n.children() {
        match c.kw.as_str() {
            "payload" => {
                u.payload = HexBytes(hex(c)?);
                payload = true;
            }
            "require_reply" => {
                u.require_reply = true;
                if !c.args.is_empty() {
                    u.reply = Some(HexBytes(hex(c)?));
                }
            }
            "min_reply_length" => u.min_reply_length = int(c, 0, 65535)? as u16,
            "max_reply_length" => u.max_reply_length = int(c, 0, 65535)? as u16,
            _ if timing.take(c)? || conn.take(c)? || logging_only(c, notes)? => {}
            _ => return unknown(c, &n.kw),
        }
    }
    if !payload {
        notes.push(note(
            n,
            "no payload: keepalived sends random bytes, rvs an empty datagram",
        ));
    }
    u.connect_ip = conn.connect_ip;
    u.connect_port = conn.connect_port;
    u.bindto = conn.bindto;
    u.bind_port = conn.bind_port;
    Ok(CheckSpec::Udp(u))
}

fn dns_type(n: &Node) -> Res<DnsType> {
    Ok(match one(n)?.to_ascii_uppercase().as_str() {
        "A" => DnsType::A,
        "NS" => DnsType::NS,
        "CNAME" => DnsType::CNAME,
        "SOA" => DnsType::SOA,
        "MX" => DnsType::MX,
        "TXT" => DnsType::TXT,
        "AAAA" => DnsType::AAAA,
        "RRSIG" => DnsType::RRSIG,
        "DNSKEY" => DnsType::DNSKEY,
        v => return refuse(n, format!("{v:?} is not a query type DNS_CHECK knows")),
    })
}

fn misc(n: &Node, timing: &mut Timing, notes: &mut Vec<Note>) -> Res<CheckSpec> {
    let mut words = None;
    let mut m = MiscCheck {
        misc_path: Default::default(),
        misc_args: Vec::new(),
        misc_timeout: None,
        misc_dynamic: false,
    };
    for c in n.children() {
        match c.kw.as_str() {
            "misc_path" => words = Some(split_words(c, one(c)?)?),
            "misc_timeout" => m.misc_timeout = Some(positive(c)?),
            "misc_dynamic" => m.misc_dynamic = flag(c)?,
            "user" => {
                return refuse(
                    c,
                    "rvs runs the program as rvsd's own user (remove `user`, or make the \
                     program change user itself)",
                )
            }
            "connect_ip" | "connect_port" | "bindto" | "bind_to" | "bind_port" | "bind_if" => {
                return refuse(c, "MISC_CHECK makes no connection of its own")
            }
            _ if timing.take(c)? || logging_only(c, notes)? => {}
            _ => return unknown(c, &n.kw),
        }
    }
    let Some(mut words) = words else {
        return refuse(n, "needs a misc_path");
    };
    m.misc_path = words.remove(0).into();
    m.misc_args = words;
    Ok(CheckSpec::Misc(m))
}

/// The rvs check of one checker: `spec` with keepalived's timing for it resolved from
/// `t` (checker over real server over virtual server, `t`) and keepalived's defaults.
/// `own_delay_loop` is the delay_loop set at checker or real-server level, written only
/// when it differs from the service's `service_delay_loop`.
pub fn resolve(
    spec: CheckSpec,
    t: &Timing,
    own_delay_loop: Option<f64>,
    service_delay_loop: f64,
) -> Check {
    let delay_loop = t.delay_loop.unwrap_or(DEFAULT_DELAY_LOOP);
    let (retry, before_retry) = match &spec {
        CheckSpec::Dns(_) => (3, delay_loop),
        CheckSpec::Misc(_) => (0, 1.0),
        CheckSpec::Http(_) | CheckSpec::Ssl(_) => (1, 3.0),
        CheckSpec::Tcp(_) | CheckSpec::Udp(_) => (1, 1.0),
    };
    let mut spec = spec;
    match &mut spec {
        CheckSpec::Http(h) | CheckSpec::Ssl(h) if h.virtualhost.is_none() => {
            h.virtualhost = t.virtualhost.clone();
        }
        // keepalived times a MISC_CHECK program out after delay_loop when it has no
        // misc_timeout: written out, whatever rvs's default.
        CheckSpec::Misc(m) if m.misc_timeout.is_none() => m.misc_timeout = Some(delay_loop),
        _ => {}
    }
    Check {
        connect_timeout: match spec {
            CheckSpec::Misc(_) => None,
            _ => Some(Secs(t.connect_timeout.unwrap_or(5.0))),
        },
        retry: t.retry.unwrap_or(retry),
        delay_before_retry: Secs(t.delay_before_retry.unwrap_or(before_retry)),
        delay_loop: own_delay_loop
            .filter(|d| *d != service_delay_loop)
            .map(Secs),
        // keepalived's default warmup is the checker's delay_loop (rvs's: none).
        warmup: Some(Secs(t.warmup.unwrap_or(delay_loop))),
        spec,
    }
}
