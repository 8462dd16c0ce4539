//! The data of the control protocol: what commands carry and listings return. These are
//! also `rvsadm --json`'s output, so field names are a stable interface (documented in
//! docs/CONTROL.md): add fields, never rename or remove them within a major version.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::net::Ipv4Addr;

/// Which virtual service: `-t`, `-u` or `-f`.
/// JSON: `{"protocol":"tcp","vip":"203.0.113.10","port":80}` or `{"protocol":"fwmark","mark":1}`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(tag = "protocol", rename_all = "snake_case", deny_unknown_fields)]
pub enum ServiceKeyView {
    /// `-t VIP:port`.
    Tcp {
        /// Virtual IP.
        vip: Ipv4Addr,
        /// Virtual port; 0 = every port (persistent services only).
        port: u16,
    },
    /// `-u VIP:port`.
    Udp {
        /// Virtual IP.
        vip: Ipv4Addr,
        /// Virtual port; 0 = every port (persistent services only).
        port: u16,
    },
    /// `-f mark`.
    Fwmark {
        /// Firewall mark, 1..=u32::MAX.
        mark: u32,
    },
}

/// Everything `-A`/`-E` sets.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceSpec {
    /// Which service.
    pub key: ServiceKeyView,
    /// `-s` scheduler name (ipvsadm's default `wlc`).
    pub scheduler: String,
    /// `-b` flags by ipvsadm's names (`sh-fallback`, `sh-port`, `mh-fallback`,
    /// `mh-port`, `flag-1`, `flag-2`, `flag-3`).
    #[serde(default)]
    pub flags: Vec<String>,
    /// `-p` timeout in seconds; `None` = not persistent (bare `-p` is 360).
    #[serde(default)]
    pub persistent: Option<u32>,
    /// `-M` persistence netmask (default 255.255.255.255).
    #[serde(default = "host_mask")]
    pub netmask: Ipv4Addr,
    /// `-o` one-packet scheduling.
    #[serde(default)]
    pub ops: bool,
}

impl ServiceSpec {
    /// ipvsadm's defaults for a service `key` (`-A` with nothing but the key): wlc, no
    /// flags, not persistent, netmask 255.255.255.255, no one-packet scheduling. One
    /// place for them, so the code and tests that start from the defaults cannot drift.
    pub fn new(key: ServiceKeyView) -> Self {
        ServiceSpec {
            key,
            scheduler: "wlc".into(),
            flags: vec![],
            persistent: None,
            netmask: Ipv4Addr::BROADCAST,
            ops: false,
        }
    }
}

fn host_mask() -> Ipv4Addr {
    Ipv4Addr::BROADCAST
}

/// Forwarding method: `-g`, `-i`, `-m`; ipvsadm prints `Route`, `Tunnel`, `Masq`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MethodView {
    /// `-g`, direct routing (`Route`).
    Dr,
    /// `-i`, IPIP tunnelling (`Tunnel`).
    Tun,
    /// `-m`, NAT (`Masq`).
    Nat,
}

/// Everything `-a`/`-e` sets for one real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DestSpec {
    /// `-r` address.
    pub addr: Ipv4Addr,
    /// `-r` port (0 = the service port, as ipvsadm fills it in).
    pub port: u16,
    /// Method (default `dr`).
    pub method: MethodView,
    /// `-w` (default 1; 0 = quiescent; ipvsadm accepts 0..=65535).
    pub weight: i32,
    /// `-x` upper threshold (0 = off).
    #[serde(default)]
    pub u_threshold: u32,
    /// `-y` lower threshold (0 = off).
    #[serde(default)]
    pub l_threshold: u32,
}

/// Counters since the service or dest was created or last zeroed (`--stats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsView {
    /// Connections scheduled.
    pub conns: u64,
    /// Packets client → real server.
    pub inpkts: u64,
    /// Packets real server → client (NAT only; 0 for DR/TUN as IPVS).
    pub outpkts: u64,
    /// Bytes client → real server.
    pub inbytes: u64,
    /// Bytes real server → client.
    pub outbytes: u64,
}

/// Rates estimated over IPVS's 2 s sampling (`--rate`), per second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RatesView {
    /// Connections per second.
    pub cps: u64,
    /// Packets per second in.
    pub inpps: u64,
    /// Packets per second out.
    pub outpps: u64,
    /// Bytes per second in.
    pub inbps: u64,
    /// Bytes per second out.
    pub outbps: u64,
}

/// One real server as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestView {
    /// Address.
    pub addr: Ipv4Addr,
    /// Port.
    pub port: u16,
    /// Method.
    pub method: MethodView,
    /// Weight (0 = quiescent).
    pub weight: i32,
    /// `-x` (0 = off).
    pub u_threshold: u32,
    /// `-y` (0 = off).
    pub l_threshold: u32,
    /// ActiveConn.
    pub active_conns: u32,
    /// InActConn.
    pub inactive_conns: u32,
    /// PersistConn (templates pointing at it).
    pub persistent_conns: u32,
    /// Counters.
    pub stats: StatsView,
    /// Rates.
    pub rates: RatesView,
    /// Passive detection: new connections to this real server whose opening failed
    /// (answered by a RST, or no SYN-ACK), summed over the workers since the real
    /// server was added; not reset by `-Z`. 0 from a daemon that predates it.
    #[serde(default)]
    pub passive_failures: u64,
    /// Health (rvs): present on the real servers (and the sorry server) of a service
    /// with health checks; absent otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<HealthView>,
}

impl DestView {
    /// What `-a`/`-e` set for this server, without its counters: the saved state and
    /// the tests comparing listings need exactly this, so it is written once here.
    pub fn spec(&self) -> DestSpec {
        DestSpec {
            addr: self.addr,
            port: self.port,
            method: self.method,
            weight: self.weight,
            u_threshold: self.u_threshold,
            l_threshold: self.l_threshold,
        }
    }
}

/// One virtual service as listed.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceView {
    /// Its definition.
    #[serde(flatten)]
    pub spec: ServiceSpec,
    /// Counters of the whole service.
    pub stats: StatsView,
    /// Rates of the whole service.
    pub rates: RatesView,
    /// Real servers, in IPVS's list order (newest first): the EFFECTIVE table, as
    /// `ipvsadm -L` lists the kernel's (a DOWN real server is not there).
    pub dests: Vec<DestView>,
    /// Real servers of the configured table that health checks took out of the
    /// effective one (DOWN, not inhibited; or UP and set aside while the sorry server is
    /// in use), with their configured settings (no counters: zero) and `health`. Absent
    /// when none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub removed_dests: Vec<DestView>,
    /// True while the service's sorry server is in use (all real servers down: quorum
    /// lost). Absent for a service without `sorry_server`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sorry_active: Option<bool>,
}

/// One health check as the control protocol carries it (`rvsadm check set`, the state
/// file): the shape of the configuration file's `[service.check]` table (docs/HEALTH.md,
/// configs/README.md), keepalived's timing keywords plus exactly one checker block under
/// its keepalived name (`{"retry":2,"MISC_CHECK":{"misc_path":"/bin/true"}}`). Seconds may
/// have fractions. A key left out takes keepalived's default for the checker (a real
/// server's run-time check does not inherit the service check's keys, unlike the file).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CheckView {
    /// keepalived `connect_timeout`, seconds (default 5; not for MISC_CHECK).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connect_timeout: Option<f64>,
    /// keepalived `retry`: further attempts after a failure before DOWN (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry: Option<u32>,
    /// keepalived `delay_before_retry`, seconds (default 3 for HTTP_GET/SSL_GET, the
    /// delay_loop for DNS_CHECK, else 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_before_retry: Option<f64>,
    /// rvs: consecutive successes a DOWN server needs to be UP (default 1).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rise: Option<u32>,
    /// keepalived `delay_loop` of this check, seconds (default: the service's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delay_loop: Option<f64>,
    /// keepalived `warmup`, seconds (default 0).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub warmup: Option<f64>,
    /// `TCP_CHECK`.
    #[serde(rename = "TCP_CHECK", default, skip_serializing_if = "Option::is_none")]
    pub tcp: Option<crate::mgmt::health::TcpCheck>,
    /// `HTTP_GET`.
    #[serde(rename = "HTTP_GET", default, skip_serializing_if = "Option::is_none")]
    pub http: Option<crate::mgmt::health::HttpGet>,
    /// `SSL_GET`.
    #[serde(rename = "SSL_GET", default, skip_serializing_if = "Option::is_none")]
    pub ssl: Option<crate::mgmt::health::HttpGet>,
    /// `UDP_CHECK`.
    #[serde(rename = "UDP_CHECK", default, skip_serializing_if = "Option::is_none")]
    pub udp: Option<crate::mgmt::health::UdpCheck>,
    /// `DNS_CHECK`.
    #[serde(rename = "DNS_CHECK", default, skip_serializing_if = "Option::is_none")]
    pub dns: Option<crate::mgmt::health::DnsCheck>,
    /// `MISC_CHECK`.
    #[serde(
        rename = "MISC_CHECK",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub misc: Option<crate::mgmt::health::MiscCheck>,
}

// Seconds are never NaN (refused when a check is set), so equality is an equivalence.
impl Eq for CheckView {}

/// The health of one real server (or sorry server) as listed: `rvsadm -L --json` (on
/// each real server of a service with health checks) and `rvsadm status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HealthView {
    /// `"up"`, `"down"` (out of the table), `"inhibited"` (DOWN, in the table at weight 0,
    /// `inhibit_on_failure`) or `"unchecked"` (no check: always up). An UP server set
    /// aside while the sorry server is in use is `"up"` and out of the table. For a sorry
    /// server: `"active"` (in use) or `"standby"` (kept at weight 0, `sorry_server_inhibit`).
    pub state: String,
    /// keepalived's checker name (`"HTTP_GET"`, `"MISC_CHECK"`...); absent when unchecked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub checker: Option<String>,
    /// The configured weight (the operator's, given back when UP); the listing's
    /// `weight` is the effective one.
    pub configured_weight: i32,
    /// When its last check ended, Unix time in milliseconds; absent before the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_check_ms: Option<u64>,
    /// What its last check found (e.g. `"HTTP 503 from 192.0.2.12:80"`), or its last
    /// transition's reason; absent before the first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_result: Option<String>,
    /// Failed checks since its last success.
    pub consecutive_failures: u32,
}

/// A real server in `rvsadm status`'s health list.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DestHealthView {
    /// The service.
    pub service: ServiceKeyView,
    /// Address.
    pub addr: Ipv4Addr,
    /// Port.
    pub port: u16,
    /// True for the service's sorry server.
    #[serde(default)]
    pub sorry: bool,
    /// Its effective weight, `None` when out of the effective table.
    pub weight: Option<i32>,
    /// Its health.
    #[serde(flatten)]
    pub health: HealthView,
}

/// One connection-table entry (`ipvsadm -L -c`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnView {
    /// `"TCP"`, `"UDP"`, or `"IP"` for a port-0 template, as ipvsadm prints it.
    pub protocol: String,
    /// Client address.
    pub client_addr: Ipv4Addr,
    /// Client port (0 in a template).
    pub client_port: u16,
    /// Virtual address (for a mark template, the mark in IPVS's form).
    pub vaddr: Ipv4Addr,
    /// Virtual port.
    pub vport: u16,
    /// Real server address.
    pub daddr: Ipv4Addr,
    /// Real server port.
    pub dport: u16,
    /// IPVS state name (`ESTABLISHED`, `SYN_RECV`, `FIN_WAIT`, `NONE` for templates...).
    pub state: String,
    /// Seconds until it expires.
    pub expires_secs: u32,
    /// True for a persistence template.
    pub template: bool,
}

/// Timeouts, seconds (`--set tcp tcpfin udp`, `-L --timeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimeoutsView {
    /// TCP ESTABLISHED.
    pub tcp: u32,
    /// TCP FIN_WAIT.
    pub tcpfin: u32,
    /// UDP.
    pub udp: u32,
}

/// One VIP.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct VipView {
    /// The address.
    pub addr: Ipv4Addr,
    /// The port (or VLAN) answering ARP for it.
    pub port: String,
}

/// One firewall-mark rule: packets matching it get `mark`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MarkRuleView {
    /// The mark, 1..=u32::MAX.
    pub mark: u32,
    /// `"tcp"`, `"udp"`, or `None` for both.
    #[serde(default)]
    pub protocol: Option<String>,
    /// Destination network, `"203.0.113.0/24"` (a host: `/32`).
    pub vip: String,
    /// Destination ports `"80"` or `"8000-8099"`; `None` = any.
    #[serde(default)]
    pub ports: Option<String>,
}

/// One data port's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PortView {
    /// Configured name.
    pub name: String,
    /// DPDK device (e.g. `0000:03:00.0`, `net_af_packet0`).
    pub device: String,
    /// MAC address, `aa:bb:cc:dd:ee:ff`.
    pub mac: String,
    /// Link up.
    pub link_up: bool,
    /// Link speed in Mbit/s (0 when unknown).
    pub speed_mbps: u32,
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Packets the NIC dropped for want of RX descriptors.
    pub imissed: u64,
    /// RX mbuf allocation failures.
    pub rx_nombuf: u64,
    /// TX errors.
    pub oerrors: u64,
}

/// One worker's state.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WorkerView {
    /// Worker index.
    pub id: usize,
    /// The core it is pinned to.
    pub core: usize,
    /// Every non-zero counter of this worker by its name (`rx_pkts`, `drop_no_service`...).
    pub counters: BTreeMap<String, u64>,
}

/// `rvsadm status`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusView {
    /// rvsd's version string (with its git commit).
    pub version: String,
    /// Seconds since rvsd started.
    pub uptime_secs: u64,
    /// Data ports.
    pub ports: Vec<PortView>,
    /// Workers.
    pub workers: Vec<WorkerView>,
    /// Every `drop_*` counter summed over workers, by name (non-zero ones).
    pub drops: BTreeMap<String, u64>,
    /// Live connection-table entries (templates included).
    pub conns: u64,
    /// Connection-table capacity (`[tables] max_conns`).
    pub max_conns: u64,
    /// Services configured.
    pub services: usize,
    /// The configuration file rvsd runs (and reloads) from.
    pub config_file: String,
    /// The health of every real server and sorry server of services with health
    /// checks (rvs); absent when nothing is checked.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub health: Vec<DestHealthView>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ctl::proto::{Body, Request, RequestEnvelope, Response};

    #[test]
    fn requests_and_responses_have_the_documented_wire_form() {
        let r = RequestEnvelope::new(Request::AddDest {
            key: ServiceKeyView::Tcp {
                vip: Ipv4Addr::new(203, 0, 113, 10),
                port: 80,
            },
            dest: DestSpec {
                addr: Ipv4Addr::new(192, 0, 2, 11),
                port: 8080,
                method: MethodView::Nat,
                weight: 3,
                u_threshold: 0,
                l_threshold: 0,
            },
        });
        let line = serde_json::to_string(&r).unwrap();
        assert_eq!(
            line,
            r#"{"version":"1.0","request":{"cmd":"add_dest","key":{"protocol":"tcp","vip":"203.0.113.10","port":80},"dest":{"addr":"192.0.2.11","port":8080,"method":"nat","weight":3,"u_threshold":0,"l_threshold":0}}}"#
        );
        assert_eq!(serde_json::from_str::<RequestEnvelope>(&line).unwrap(), r);
        let ok = serde_json::to_string(&Response::ok(Some(7), Body::Done)).unwrap();
        assert_eq!(
            ok,
            r#"{"version":"1.0","id":7,"ok":true,"body":{"type":"done"}}"#
        );
        let clear: RequestEnvelope =
            serde_json::from_str(r#"{"version":"1.3","request":{"cmd":"clear"}}"#).unwrap();
        assert_eq!(clear.request, Request::Clear);
        assert!(serde_json::from_str::<RequestEnvelope>(
            r#"{"version":"1.0","request":{"cmd":"launch_missiles"}}"#
        )
        .is_err());
    }
}
