//! What to check: keepalived's checkers with their options, under keepalived's own names
//! (keepalived.conf(5), keepalived/check/*.c), so a keepalived user reads a spec as the
//! block they would have written. Options keepalived does not have are marked "rvs".
//!
//! Serialized with the checker's block name as the key, the shape of keepalived's own
//! `HTTP_GET { url { path /health } }`: `{ "HTTP_GET": { "url": [{ "path": "/health" }] } }`
//! in JSON, `[HTTP_GET]` then `[[HTTP_GET.url]]` in TOML. (A `type` field naming the
//! checker would collide with DNS_CHECK's own `type` keyword.) Unknown keys are refused, so
//! a typo never turns into a silently different check.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::hex::{HexBytes, Md5Digest};
use super::status_codes::StatusCodes;

/// A check of one real server: one of keepalived's checkers and its options.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub enum CheckSpec {
    /// keepalived `TCP_CHECK`: up when a TCP connection is accepted.
    #[serde(rename = "TCP_CHECK")]
    Tcp(TcpCheck),
    /// keepalived `HTTP_GET`: a GET of each `url` over plain TCP.
    #[serde(rename = "HTTP_GET")]
    Http(HttpGet),
    /// keepalived `SSL_GET`: the same GETs over TLS.
    #[serde(rename = "SSL_GET")]
    Ssl(HttpGet),
    /// keepalived `UDP_CHECK`: a datagram sent, a reply or the absence of an ICMP error.
    #[serde(rename = "UDP_CHECK")]
    Udp(UdpCheck),
    /// keepalived `DNS_CHECK`: a query over UDP answered without error.
    #[serde(rename = "DNS_CHECK")]
    Dns(DnsCheck),
    /// keepalived `MISC_CHECK`: a program whose exit status is the verdict.
    #[serde(rename = "MISC_CHECK")]
    Misc(MiscCheck),
}

/// Where a network checker connects, and from where: keepalived's connection keywords
/// (check_api.c `install_checker_common_keywords`). Each field unset means keepalived's
/// default: the real server's own address and port, and a source chosen by the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ConnOpts {
    /// `connect_ip`: check this address instead of the real server's.
    pub connect_ip: Option<Ipv4Addr>,
    /// `connect_port`: check this port instead of the real server's.
    pub connect_port: Option<u16>,
    /// `bindto`: the source address of the check's socket.
    pub bindto: Option<Ipv4Addr>,
    /// `bind_port`: the source port of the check's socket.
    pub bind_port: Option<u16>,
}

/// keepalived `TCP_CHECK` (check_tcp.c): up when the three-way handshake completes
/// within the timeout; the connection is closed at once.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TcpCheck {
    /// `connect_ip` (see [`ConnOpts`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ip: Option<Ipv4Addr>,
    /// `connect_port` (see [`ConnOpts`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_port: Option<u16>,
    /// `bindto` (see [`ConnOpts`]); `bind_to` is accepted too.
    #[serde(default, alias = "bind_to", skip_serializing_if = "Option::is_none")]
    pub bindto: Option<Ipv4Addr>,
    /// `bind_port` (see [`ConnOpts`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_port: Option<u16>,
}

/// keepalived `HTTP_GET` and `SSL_GET` (check_http.c, check_ssl.c): each `url` is fetched
/// in turn on its own connection, and the server is up only when every one passes.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpGet {
    /// `connect_ip` (see [`ConnOpts`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ip: Option<Ipv4Addr>,
    /// `connect_port` (see [`ConnOpts`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_port: Option<u16>,
    /// `bindto` (see [`ConnOpts`]); `bind_to` is accepted too.
    #[serde(default, alias = "bind_to", skip_serializing_if = "Option::is_none")]
    pub bindto: Option<Ipv4Addr>,
    /// `bind_port` (see [`ConnOpts`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_port: Option<u16>,
    /// keepalived `url` blocks: at least one.
    pub url: Vec<HttpUrl>,
    /// `virtualhost`: the Host header of every url without its own. Unset, keepalived sends
    /// `Host: <connect address>:<port>` (check_http.c `http_request_thread`), and so do we.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtualhost: Option<String>,
    /// `http_protocol`: "1.0" (keepalived's default), "1.0C" (1.0 with
    /// `Connection: close`) or "1.1" (with `Connection: close`).
    #[serde(default)]
    pub http_protocol: HttpProtocol,
    /// SSL_GET only, `enable_sni`: send SNI (keepalived's default: off). The name sent is
    /// `sni_name`, else the url's `virtualhost`, else the check's.
    #[serde(default, skip_serializing_if = "is_false")]
    pub enable_sni: bool,
    /// SSL_GET only, `sni_name`: the SNI name (setting it turns `enable_sni` on, as in
    /// keepalived).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sni_name: Option<String>,
    /// SSL_GET only, rvs: verify the server's certificate chain and name. keepalived never
    /// does (check_ssl.c sets no verify mode, so OpenSSL's client default, SSL_VERIFY_NONE,
    /// applies even with a CA file), and neither do we by default: off.
    #[serde(default, skip_serializing_if = "is_false")]
    pub ssl_verify: bool,
    /// SSL_GET only, rvs: PEM file of the CAs to trust when `ssl_verify` is on (keepalived's
    /// global `SSL { ca }`); unset, the Mozilla roots compiled into rvs (webpki-roots).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ca_file: Option<PathBuf>,
}

/// One keepalived `url` block of an HTTP_GET/SSL_GET.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpUrl {
    /// `path`: the request target, starting with '/' (sent as is, not escaped).
    pub path: String,
    /// `status_code`: accepted codes; default 200-299 (keepalived, check_http.h).
    #[serde(default)]
    pub status_code: StatusCodes,
    /// `digest`: MD5 of the body (the bytes after the header's blank line, as received:
    /// no chunked decoding, as keepalived and genhash), as genhash prints it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub digest: Option<Md5Digest>,
    /// rvs: text the body must contain (the first 1 MiB of it). keepalived's nearest option
    /// is `regex`, which rvs does not have.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub substring: Option<String>,
    /// `virtualhost` of this url, before the check's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtualhost: Option<String>,
}

/// keepalived `http_protocol`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub enum HttpProtocol {
    /// HTTP/1.0, no Connection header (keepalived's default).
    #[default]
    #[serde(rename = "1.0")]
    Http10,
    /// HTTP/1.0 with `Connection: close`.
    #[serde(rename = "1.0C", alias = "1.0c")]
    Http10Close,
    /// HTTP/1.1 with `Connection: close`.
    #[serde(rename = "1.1")]
    Http11,
}

/// keepalived `UDP_CHECK` (check_udp.c): `payload` is sent from a connected UDP socket.
/// Without `require_reply` the server is up unless an ICMP error (port unreachable) comes
/// back within the timeout, so such a check always takes the whole timeout; with it, a
/// reply must come, of `min_reply_length..=max_reply_length` bytes, starting with `reply`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UdpCheck {
    /// `connect_ip` (see [`ConnOpts`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ip: Option<Ipv4Addr>,
    /// `connect_port` (see [`ConnOpts`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_port: Option<u16>,
    /// `bindto` (see [`ConnOpts`]); `bind_to` is accepted too.
    #[serde(default, alias = "bind_to", skip_serializing_if = "Option::is_none")]
    pub bindto: Option<Ipv4Addr>,
    /// `bind_port` (see [`ConnOpts`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_port: Option<u16>,
    /// `payload`, in hex; default empty (a zero-length datagram).
    #[serde(default)]
    pub payload: HexBytes,
    /// `require_reply`: a reply is needed to be up. Default off (keepalived).
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_reply: bool,
    /// The hex bytes keepalived writes after `require_reply`: the reply must start with
    /// them (keepalived's mask syntax is not supported).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reply: Option<HexBytes>,
    /// `min_reply_length`, bytes; default 0 (keepalived).
    #[serde(default)]
    pub min_reply_length: u16,
    /// `max_reply_length`, bytes; default 255 (keepalived's UINT8_MAX).
    #[serde(default = "default_max_reply")]
    pub max_reply_length: u16,
}

impl Default for UdpCheck {
    fn default() -> Self {
        UdpCheck {
            connect_ip: None,
            connect_port: None,
            bindto: None,
            bind_port: None,
            payload: HexBytes::default(),
            require_reply: false,
            reply: None,
            min_reply_length: 0,
            max_reply_length: default_max_reply(),
        }
    }
}

/// keepalived `DNS_CHECK` (check_dns.c): one query over UDP with recursion desired; up
/// when a reply with the query's id comes back with rcode NOERROR (keepalived does not
/// look at the answer section: an empty NOERROR answer is up unless `require_answer`).
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsCheck {
    /// `connect_ip` (see [`ConnOpts`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_ip: Option<Ipv4Addr>,
    /// `connect_port` (see [`ConnOpts`]); unset, the real server's port (as keepalived).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_port: Option<u16>,
    /// `bindto` (see [`ConnOpts`]); `bind_to` is accepted too.
    #[serde(default, alias = "bind_to", skip_serializing_if = "Option::is_none")]
    pub bindto: Option<Ipv4Addr>,
    /// `bind_port` (see [`ConnOpts`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bind_port: Option<u16>,
    /// `type`: the query type; default SOA (keepalived's DNS_DEFAULT_TYPE, check_dns.h).
    #[serde(default, rename = "type")]
    pub qtype: DnsType,
    /// `name`: the name queried; default the root "." (keepalived's DNS_DEFAULT_NAME "").
    #[serde(default = "default_dns_name")]
    pub name: String,
    /// rvs: also require at least one record in the answer section. Default off
    /// (keepalived).
    #[serde(default, skip_serializing_if = "is_false")]
    pub require_answer: bool,
}

/// The query types keepalived's DNS_CHECK knows (check_dns.c `DNS_TYPE`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[allow(missing_docs, clippy::upper_case_acronyms)]
pub enum DnsType {
    A,
    NS,
    CNAME,
    /// keepalived's default.
    #[default]
    SOA,
    MX,
    TXT,
    AAAA,
    RRSIG,
    DNSKEY,
}

/// keepalived `MISC_CHECK` (check_misc.c): runs `misc_path` with `misc_args` (no shell),
/// stdin/stdout/stderr on /dev/null, in a process group of its own. Exit 0 is up with the
/// configured weight; any other exit, or death by a signal, is down; with `misc_dynamic`,
/// exit 2..=255 is up with weight = status - 2 (keepalived's effective range 0..=253).
/// Past its timeout the group gets SIGTERM, then SIGKILL 2 s later (keepalived's order and
/// grace), and the check is down.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MiscCheck {
    /// `misc_path`: the program (an absolute path is best: no PATH lookup surprises).
    /// keepalived takes one command line here; rvs takes its words apart (`misc_args`).
    pub misc_path: PathBuf,
    /// rvs: the program's arguments (keepalived's words after the program in `misc_path`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub misc_args: Vec<String>,
    /// `misc_timeout`, seconds; unset, the timeout the caller gives the check (keepalived
    /// uses `delay_loop`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub misc_timeout: Option<f64>,
    /// `misc_dynamic`: exit codes 2..=255 set the weight to code - 2. Default off.
    #[serde(default, skip_serializing_if = "is_false")]
    pub misc_dynamic: bool,
}

/// The timing knob every network checker shares: keepalived's `connect_timeout`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckTiming {
    /// `connect_timeout`, seconds (fractions allowed, as keepalived's `read_timer`): bounds
    /// the connect, and separately the exchange after it. Default 5 s (keepalived's
    /// virtual_server default, check_data.c, inherited by real servers and checkers).
    #[serde(default = "default_connect_timeout")]
    pub connect_timeout: f64,
}

impl Default for CheckTiming {
    fn default() -> Self {
        CheckTiming {
            connect_timeout: default_connect_timeout(),
        }
    }
}

impl CheckTiming {
    /// `connect_timeout` as a Duration; refused unless finite and from 1 ms to one day.
    pub fn connect_timeout(&self) -> Result<Duration, SpecError> {
        secs("connect_timeout", self.connect_timeout)
    }
}

/// Why a spec cannot be run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    /// HTTP_GET/SSL_GET without a `url`.
    #[error("{0} needs at least one url")]
    NoUrl(&'static str),
    /// A `url` path that does not start with '/' or holds blanks or control characters.
    #[error("url path \"{0}\" must start with '/' and hold no blank or control character")]
    BadPath(String),
    /// A TLS option on an HTTP_GET.
    #[error("{0} is an SSL_GET option, not an HTTP_GET one")]
    TlsOptionOnHttp(&'static str),
    /// A Host/SNI name with characters that cannot go in a header.
    #[error("\"{0}\" is not a usable host name")]
    BadHost(String),
    /// UDP_CHECK lengths that can never match.
    #[error("min_reply_length {0} > max_reply_length {1}: the check could never pass")]
    ReplyLengths(u16, u16),
    /// A DNS name hickory cannot encode.
    #[error("DNS_CHECK name \"{0}\" is not a valid domain name")]
    BadDnsName(String),
    /// An empty `misc_path`.
    #[error("MISC_CHECK misc_path is empty")]
    NoMiscPath,
    /// A time in seconds out of range.
    #[error("{0} {1} s: must be from 0.001 to 86400 seconds")]
    BadSeconds(&'static str, String),
}

impl CheckSpec {
    /// keepalived's block name of this checker ("HTTP_GET", ...).
    pub fn kind(&self) -> &'static str {
        match self {
            CheckSpec::Tcp(_) => "TCP_CHECK",
            CheckSpec::Http(_) => "HTTP_GET",
            CheckSpec::Ssl(_) => "SSL_GET",
            CheckSpec::Udp(_) => "UDP_CHECK",
            CheckSpec::Dns(_) => "DNS_CHECK",
            CheckSpec::Misc(_) => "MISC_CHECK",
        }
    }

    /// Refuses what deserialization alone lets through but could never run or pass.
    pub fn validate(&self) -> Result<(), SpecError> {
        match self {
            CheckSpec::Tcp(_) => Ok(()),
            CheckSpec::Http(h) => {
                if h.enable_sni {
                    return Err(SpecError::TlsOptionOnHttp("enable_sni"));
                }
                if h.sni_name.is_some() {
                    return Err(SpecError::TlsOptionOnHttp("sni_name"));
                }
                if h.ssl_verify {
                    return Err(SpecError::TlsOptionOnHttp("ssl_verify"));
                }
                if h.ca_file.is_some() {
                    return Err(SpecError::TlsOptionOnHttp("ca_file"));
                }
                h.validate("HTTP_GET")
            }
            CheckSpec::Ssl(h) => h.validate("SSL_GET"),
            CheckSpec::Udp(u) if u.min_reply_length > u.max_reply_length => Err(
                SpecError::ReplyLengths(u.min_reply_length, u.max_reply_length),
            ),
            CheckSpec::Udp(_) => Ok(()),
            CheckSpec::Dns(d) => hickory_proto::rr::Name::from_ascii(&d.name)
                .map(|_| ())
                .map_err(|_| SpecError::BadDnsName(d.name.clone())),
            CheckSpec::Misc(m) => {
                if m.misc_path.as_os_str().is_empty() {
                    return Err(SpecError::NoMiscPath);
                }
                if let Some(t) = m.misc_timeout {
                    secs("misc_timeout", t)?;
                }
                Ok(())
            }
        }
    }

    /// The connection options of a network checker (all unset for MISC_CHECK).
    pub fn conn(&self) -> ConnOpts {
        match self {
            CheckSpec::Tcp(t) => t.conn(),
            CheckSpec::Http(h) | CheckSpec::Ssl(h) => h.conn(),
            CheckSpec::Udp(u) => u.conn(),
            CheckSpec::Dns(d) => d.conn(),
            CheckSpec::Misc(_) => ConnOpts::default(),
        }
    }
}

/// `conn()` for each network checker: its four connection keywords as a [`ConnOpts`].
macro_rules! conn_opts {
    ($($t:ty),*) => {$(
        impl $t {
            /// This checker's connection keywords.
            pub fn conn(&self) -> ConnOpts {
                ConnOpts {
                    connect_ip: self.connect_ip,
                    connect_port: self.connect_port,
                    bindto: self.bindto,
                    bind_port: self.bind_port,
                }
            }
        }
    )*};
}
conn_opts!(TcpCheck, HttpGet, UdpCheck, DnsCheck);

impl HttpGet {
    fn validate(&self, kind: &'static str) -> Result<(), SpecError> {
        if self.url.is_empty() {
            return Err(SpecError::NoUrl(kind));
        }
        for u in &self.url {
            let bad = |c: char| c.is_whitespace() || c.is_control();
            if !u.path.starts_with('/') || u.path.chars().any(bad) {
                return Err(SpecError::BadPath(u.path.clone()));
            }
        }
        let hosts = self
            .url
            .iter()
            .filter_map(|u| u.virtualhost.as_ref())
            .chain(self.virtualhost.iter())
            .chain(self.sni_name.iter());
        for h in hosts {
            if h.is_empty() || h.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(SpecError::BadHost(h.clone()));
            }
        }
        Ok(())
    }
}

/// Seconds to a Duration, refused unless finite and from 1 ms to one day.
pub(crate) fn secs(what: &'static str, s: f64) -> Result<Duration, SpecError> {
    if s.is_finite() && (0.001..=86_400.0).contains(&s) {
        Ok(Duration::from_secs_f64(s))
    } else {
        Err(SpecError::BadSeconds(what, s.to_string()))
    }
}

fn is_false(b: &bool) -> bool {
    !*b
}

fn default_max_reply() -> u16 {
    255
}

fn default_dns_name() -> String {
    ".".into()
}

fn default_connect_timeout() -> f64 {
    5.0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn toml(text: &str) -> Result<CheckSpec, String> {
        toml::from_str::<CheckSpec>(text).map_err(|e| e.to_string())
    }

    #[test]
    fn http_get_in_keepalived_terms() {
        let spec = toml(
            r#"
[HTTP_GET]
connect_port = 8080
bindto = "192.0.2.1"
virtualhost = "www.example.test"
http_protocol = "1.1"
[[HTTP_GET.url]]
path = "/health"
digest = "B1946AC92492D2347C6235B4D2611184"
[[HTTP_GET.url]]
path = "/"
status_code = "200 301-302"
"#,
        )
        .unwrap();
        let CheckSpec::Http(h) = &spec else {
            panic!("{spec:?}")
        };
        assert_eq!(h.url.len(), 2);
        assert!(h.url[0].status_code.accepts(204), "default is 200-299");
        assert!(h.url[1].status_code.accepts(302) && !h.url[1].status_code.accepts(204));
        assert_eq!(h.http_protocol, HttpProtocol::Http11);
        assert_eq!(spec.conn().connect_port, Some(8080));
        assert_eq!(spec.conn().bindto, Some(Ipv4Addr::new(192, 0, 2, 1)));
        spec.validate().unwrap();
        // Round trip through JSON (the control protocol) keeps everything.
        let json = serde_json::to_string(&spec).unwrap();
        assert!(json.starts_with("{\"HTTP_GET\":{"), "{json}");
        assert!(json.contains("b1946ac92492d2347c6235b4d2611184"), "{json}");
        assert_eq!(serde_json::from_str::<CheckSpec>(&json).unwrap(), spec);
    }

    #[test]
    fn unknown_keys_and_tls_options_on_http_are_refused() {
        let e = toml("[TCP_CHECK]\nconect_port = 80\n").unwrap_err();
        assert!(e.contains("conect_port"), "{e}");
        let e = toml("[PING_CHECK]\n").unwrap_err();
        assert!(e.contains("PING_CHECK"), "{e}");
        let spec = toml("[HTTP_GET]\nssl_verify = true\n[[HTTP_GET.url]]\npath = \"/\"\n").unwrap();
        assert_eq!(
            spec.validate(),
            Err(SpecError::TlsOptionOnHttp("ssl_verify"))
        );
        let spec = toml("[SSL_GET]\nssl_verify = true\n[[SSL_GET.url]]\npath = \"/\"\n").unwrap();
        spec.validate().unwrap();
        let spec = toml("[HTTP_GET]\nurl = []\n").unwrap();
        assert_eq!(spec.validate(), Err(SpecError::NoUrl("HTTP_GET")));
        let spec = toml("[HTTP_GET]\n[[HTTP_GET.url]]\npath = \"health\"\n").unwrap();
        assert!(matches!(spec.validate(), Err(SpecError::BadPath(_))));
    }

    #[test]
    fn keepalived_defaults() {
        let CheckSpec::Dns(d) = toml("[DNS_CHECK]\n").unwrap() else {
            panic!()
        };
        assert_eq!(
            (d.qtype, d.name.as_str(), d.require_answer),
            (DnsType::SOA, ".", false)
        );
        let CheckSpec::Udp(u) = toml("[UDP_CHECK]\npayload = \"de ad\"\n").unwrap() else {
            panic!()
        };
        assert_eq!(u.payload.0, vec![0xde, 0xad]);
        assert_eq!(
            (u.require_reply, u.min_reply_length, u.max_reply_length),
            (false, 0, 255)
        );
        let spec = toml("[UDP_CHECK]\nmin_reply_length = 9\nmax_reply_length = 8\n");
        assert_eq!(spec.unwrap().validate(), Err(SpecError::ReplyLengths(9, 8)));
        let t: CheckTiming = toml::from_str("").unwrap();
        assert_eq!(t.connect_timeout().unwrap(), Duration::from_secs(5));
        let t: CheckTiming = toml::from_str("connect_timeout = 0.5").unwrap();
        assert_eq!(t.connect_timeout().unwrap(), Duration::from_millis(500));
        let t: CheckTiming = toml::from_str("connect_timeout = 0").unwrap();
        assert!(t.connect_timeout().is_err());
    }

    #[test]
    fn misc_and_tcp() {
        let spec = toml(
            "[MISC_CHECK]\nmisc_path = \"/usr/local/bin/chk\"\nmisc_args = [\"-v\"]\nmisc_timeout = 5\nmisc_dynamic = true\n",
        )
        .unwrap();
        let CheckSpec::Misc(m) = &spec else { panic!() };
        assert!(m.misc_dynamic && m.misc_timeout == Some(5.0) && m.misc_args == ["-v"]);
        spec.validate().unwrap();
        let spec = toml("[MISC_CHECK]\nmisc_path = \"/x\"\nmisc_timeout = -1\n");
        assert!(spec.unwrap().validate().is_err());
        let spec = toml("[TCP_CHECK]\nbind_to = \"192.0.2.1\"\n").unwrap();
        assert_eq!(spec.conn().bindto, Some(Ipv4Addr::new(192, 0, 2, 1)));
        assert_eq!(spec.kind(), "TCP_CHECK");
        let spec = toml("[DNS_CHECK]\nname = \"bad..name\"\n").unwrap();
        assert!(matches!(spec.validate(), Err(SpecError::BadDnsName(_))));
    }
}
