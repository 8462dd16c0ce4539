//! The file as serde sees it: every section and key, nothing checked beyond
//! TOML types. Unknown keys are refused here (`deny_unknown_fields`) so that a
//! typo is an error with a line, not a silently ignored setting.
//!
//! Numbers are read as `i64` and addresses as strings on purpose: the checks in
//! `validate.rs` then give range and address errors in ipvsadm's words instead
//! of serde's "invalid value: integer ..., expected u16".

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use std::fmt;

use crate::mgmt::health::{DnsCheck, HttpGet, MiscCheck, TcpCheck, UdpCheck};

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawConfig {
    pub eal: Option<RawEal>,
    pub log: Option<RawLog>,
    pub cores: Option<RawCores>,
    pub tables: Option<RawTables>,
    pub control: Option<RawControl>,
    #[serde(default)]
    pub port: Vec<RawPort>,
    #[serde(default)]
    pub route: Vec<RawRoute>,
    #[serde(default)]
    pub vlan: Vec<RawVlan>,
    pub routing: Option<RawRouting>,
    pub timeouts: Option<RawTimeouts>,
    pub settings: Option<RawSettings>,
    pub neighbour: Option<RawNeighbour>,
    pub fragments: Option<RawFragments>,
    #[serde(default)]
    pub mark: Vec<RawMark>,
    #[serde(default)]
    pub service: Vec<RawService>,
    pub metrics: Option<RawMetrics>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawEal {
    #[serde(default)]
    pub args: Vec<String>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawLog {
    pub level: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCores {
    pub workers: Vec<i64>,
    pub management: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTables {
    pub max_conns: Option<i64>,
    pub mbufs: Option<i64>,
    pub mbuf_cache: Option<i64>,
    pub mbuf_data_room: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawControl {
    pub socket: Option<String>,
    pub state_file: Option<String>,
    pub admin_group: Option<String>,
    pub idle_timeout: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMetrics {
    pub listen: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPort {
    pub name: String,
    pub device: String,
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub exception_path: bool,
    pub tap_name: Option<String>,
    pub mtu: Option<i64>,
    #[serde(default)]
    pub promiscuous: bool,
    pub rx_desc: Option<i64>,
    pub tx_desc: Option<i64>,
    pub mac: Option<String>,
    #[serde(default)]
    pub inside: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawVlan {
    pub name: String,
    pub port: String,
    pub id: i64,
    #[serde(default)]
    pub addresses: Vec<String>,
    #[serde(default)]
    pub exception_path: bool,
    pub tap_name: Option<String>,
    #[serde(default)]
    pub inside: bool,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRouting {
    pub transit: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawRoute {
    pub prefix: String,
    pub via: Option<String>,
    pub port: String,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawTimeouts {
    pub tcp: Option<i64>,
    pub tcpfin: Option<i64>,
    pub udp: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSettings {
    pub expire_nodest_conn: Option<bool>,
    pub expire_quiescent_template: Option<bool>,
    pub gratuitous_arp: Option<bool>,
    pub conn_reuse_mode: Option<i64>,
    pub sloppy_tcp: Option<bool>,
    // IPVS sysctls for features rvs lacks: accepted at IPVS's default only.
    pub sloppy_sctp: Option<bool>,
    pub nat_icmp_send: Option<bool>,
    pub schedule_icmp: Option<bool>,
    pub ignore_tunneled: Option<bool>,
    pub cache_bypass: Option<bool>,
    pub conntrack: Option<bool>,
    pub backup_only: Option<bool>,
    pub snat_reroute: Option<bool>,
    pub pmtu_disc: Option<bool>,
    pub secure_tcp: Option<i64>,
    pub drop_entry: Option<i64>,
    pub drop_packet: Option<i64>,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawNeighbour {
    pub base_reachable_time_ms: Option<i64>,
    pub delay_first_probe_time: Option<i64>,
    pub retrans_time_ms: Option<i64>,
    pub ucast_solicit: Option<i64>,
    pub mcast_solicit: Option<i64>,
    pub mcast_resolicit: Option<i64>,
    pub gc_stale_time: Option<i64>,
    pub unres_qlen: Option<i64>,
    #[serde(default, rename = "static")]
    pub statics: Vec<RawStaticNeighbour>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawStaticNeighbour {
    pub addr: String,
    pub mac: String,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMark {
    pub mark: i64,
    pub rules: Vec<RawMarkRule>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawMarkRule {
    pub proto: Option<String>,
    pub vip: String,
    pub ports: Option<RawPorts>,
}

/// `ports = 80` or `ports = "80-90"`: both are natural to write.
pub(crate) enum RawPorts {
    Int(i64),
    Str(String),
}

impl<'de> Deserialize<'de> for RawPorts {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawPorts;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a port number or a range string like \"80-90\"")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawPorts, E> {
                Ok(RawPorts::Int(v))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawPorts, E> {
                Ok(RawPorts::Int(i64::try_from(v).unwrap_or(i64::MAX)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<RawPorts, E> {
                Ok(RawPorts::Str(v.to_owned()))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawService {
    pub proto: Option<String>,
    pub vip: Option<String>,
    pub port: Option<i64>,
    pub mark: Option<i64>,
    pub scheduler: Option<String>,
    #[serde(default)]
    pub sched_flags: Vec<String>,
    pub persistent: Option<i64>,
    pub netmask: Option<String>,
    #[serde(default)]
    pub ops: bool,
    pub mh_table_size: Option<i64>,
    pub interface: Option<String>,
    #[serde(default)]
    pub real: Vec<RawReal>,
    // Health checks (config/health.rs), keepalived's virtual_server keywords.
    pub delay_loop: Option<RawSecs>,
    pub alpha: Option<bool>,
    pub quorum: Option<i64>,
    pub hysteresis: Option<i64>,
    pub quorum_up: Option<String>,
    pub quorum_down: Option<String>,
    pub inhibit_on_failure: Option<bool>,
    pub virtualhost: Option<String>,
    pub sorry_server: Option<RawSorryServer>,
    pub check: Option<RawCheck>,
    pub passive: Option<RawPassive>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawReal {
    pub addr: String,
    pub port: Option<i64>,
    pub method: Option<String>,
    pub weight: Option<i64>,
    pub u_threshold: Option<i64>,
    pub l_threshold: Option<i64>,
    // Health checks (config/health.rs), keepalived's real_server keywords.
    pub inhibit_on_failure: Option<bool>,
    pub notify_up: Option<String>,
    pub notify_down: Option<String>,
    pub check: Option<RawCheck>,
}

/// `[service.check]` and `[service.real.check]`: keepalived's timing keywords plus
/// exactly one checker table, whose own keys are the checkers' (mgmt/health/spec.rs).
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawCheck {
    pub connect_timeout: Option<RawSecs>,
    pub retry: Option<i64>,
    pub delay_before_retry: Option<RawSecs>,
    pub rise: Option<i64>,
    pub delay_loop: Option<RawSecs>,
    pub warmup: Option<RawSecs>,
    #[serde(rename = "TCP_CHECK")]
    pub tcp: Option<TcpCheck>,
    #[serde(rename = "HTTP_GET")]
    pub http: Option<HttpGet>,
    #[serde(rename = "SSL_GET")]
    pub ssl: Option<HttpGet>,
    #[serde(rename = "UDP_CHECK")]
    pub udp: Option<UdpCheck>,
    #[serde(rename = "DNS_CHECK")]
    pub dns: Option<DnsCheck>,
    #[serde(rename = "MISC_CHECK")]
    pub misc: Option<MiscCheck>,
}

/// `[service.sorry_server]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawSorryServer {
    pub addr: String,
    pub port: Option<i64>,
    pub method: Option<String>,
    pub inhibit: Option<bool>,
}

/// `[service.passive]`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawPassive {
    pub failures: i64,
    pub interval: RawSecs,
}

/// Seconds as keepalived's `<TIMER>`: `6` or `0.5` are both natural to write.
#[derive(Clone, Copy)]
pub(crate) struct RawSecs(pub f64);

impl<'de> Deserialize<'de> for RawSecs {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = RawSecs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds, like 6 or 0.5")
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawSecs, E> {
                Ok(RawSecs(v as f64))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawSecs, E> {
                Ok(RawSecs(v as f64))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawSecs, E> {
                Ok(RawSecs(v))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub(crate) struct RawFragments {
    pub ipfrag_high_thresh: Option<i64>,
    pub ipfrag_low_thresh: Option<i64>,
    pub ipfrag_source_thresh: Option<i64>,
    pub ipfrag_time: Option<i64>,
}
