//! rvsd's configuration: one TOML file, read once at start-up (and on reload)
//! by the management thread, never on a worker.
//!
//! Contract: [`Config::load`] and [`Config::from_str_named`] never panic on any
//! input; every refusal is an [`Error`] naming the file, the 1-based line and
//! the key path (`port[1].addresses[0]`), printed as `<file>:<line>: <key>: <reason>`.
//! The public structs hold plain Rust values (std addresses, integers, enums),
//! so nothing downstream depends on `toml`. Rules that ipvsadm enforces on
//! `-A`/`-a` are enforced here with ipvsadm's wording, so an operator gets the
//! message they know before rvsd touches a NIC.
//!
//! The file has these sections (see `configs/` for complete, running examples):
//! `[eal]`, `[log]`, `[cores]`, `[tables]`, `[control]`, `[metrics]`, `[[port]]`, `[[route]]`,
//! `[timeouts]`, `[settings]`, `[neighbour]` with `[[neighbour.static]]`, `[[mark]]`
//! and `[[service]]` with
//! `[[service.real]]` (and their health checks: `[service.check]`, `[service.sorry_server]`,
//! `[service.passive]`, `[service.real.check]`; see `health.rs`).

mod addr;
mod afpacket;
mod command;
mod control;
mod fragments;
mod health;
mod locate;
mod neighbour;
mod ports;
mod raw;
mod services;
mod validate;
mod vlan;

use std::fmt;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

pub use addr::{Ipv4Net, PortRange};
pub use command::Command;
pub use health::{
    Check, Passive, RealHealth, ServiceHealth, SorryServer, DEFAULT_CONNECT_TIMEOUT,
    DEFAULT_DELAY_LOOP, DEFAULT_RETRY, SORRY_WEIGHT,
};
pub use neighbour::MAX_UNRES_QLEN;

/// The forwarding method of a real server is the load balancer's own [`Fwd`]
/// (`"nat"`, `"dr"`, `"tun"` in the file); the alias keeps the config's word.
///
/// [`Fwd`]: crate::lb::dest::Fwd
pub use crate::lb::dest::Fwd as Method;

/// Scheduler names rvs accepts: ipvsadm 1.31's list, so saved ipvsadm rules
/// translate one to one.
pub const SCHEDULERS: [&str; 13] = crate::lb::sched::NAMES;

/// Longest persistence timeout ipvsadm accepts for `-p` (31 days, in seconds).
pub const MAX_PERSISTENT_SECS: u32 = 2_678_400;

/// A whole, validated configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct Config {
    /// DPDK EAL arguments.
    pub eal: Eal,
    /// Logging.
    pub log: Log,
    /// Which cores run workers and the management thread.
    pub cores: Cores,
    /// Table and pool sizes.
    pub tables: Tables,
    /// The control socket rvsadm talks to.
    pub control: Control,
    /// The Prometheus endpoint (`[metrics]`).
    pub metrics: Metrics,
    /// Data ports: the `[[port]]`s in file order, then the `[[vlan]]` sub-interfaces in
    /// file order; a port's index here is its index everywhere (`PortIdx`).
    pub ports: Vec<Port>,
    /// Static routes (connected routes come from the port addresses).
    pub routes: Vec<Route>,
    /// What is routed besides load-balancer traffic.
    pub routing: Routing,
    /// Connection timeouts (`ipvsadm --set`).
    pub timeouts: Timeouts,
    /// IPVS sysctl-like switches.
    pub settings: Settings,
    /// Neighbour (ARP) timers and static neighbours.
    pub neighbour: Neighbour,
    /// IPv4 reassembly bounds (`[fragments]`).
    pub fragments: Fragments,
    /// Firewall-mark definitions used by mark services.
    pub marks: Vec<Mark>,
    /// Virtual services, in file order.
    pub services: Vec<Service>,
}

/// `[eal]`: arguments handed to `rte_eal_init` as written. rvsd adds the
/// `--vdev`/`-a` arguments for the `[[port]]` devices itself.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Eal {
    /// EAL arguments, e.g. `["--no-huge", "-m", "1024", "--no-pci", "--no-shconf", "--file-prefix", "rvs-lab"]`.
    pub args: Vec<String>,
}

/// `[log]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Log {
    /// Level from the file; `RUST_LOG`, when set, overrides it.
    pub level: LogLevel,
}

/// A log level by the name `log`/`RUST_LOG` use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LogLevel {
    /// `"error"`.
    Error,
    /// `"warn"`.
    Warn,
    /// `"info"` (the default).
    #[default]
    Info,
    /// `"debug"`.
    Debug,
    /// `"trace"`.
    Trace,
}

impl LogLevel {
    /// The `log` crate filter for this level, for the logger set-up in rvsd.
    pub fn filter(self) -> log::LevelFilter {
        match self {
            LogLevel::Error => log::LevelFilter::Error,
            LogLevel::Warn => log::LevelFilter::Warn,
            LogLevel::Info => log::LevelFilter::Info,
            LogLevel::Debug => log::LevelFilter::Debug,
            LogLevel::Trace => log::LevelFilter::Trace,
        }
    }
}

/// `[cores]`.
///
/// `management` may equal a worker core (the only choice on a 2-core box); the
/// management thread then steals cycles from that worker's poll loop, which costs
/// packets per second on that core and latency spikes on its queues.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Cores {
    /// One worker per listed core, in order: worker `i` owns RX/TX queue `i` of every port.
    /// Never empty, no duplicates.
    pub workers: Vec<usize>,
    /// Core of the management thread (default 0).
    pub management: usize,
}

/// `[tables]`: sizes fixed at start-up, because the fast path never allocates.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tables {
    /// Connection table capacity (entries, templates included); new flows beyond it are dropped.
    pub max_conns: u32,
    /// Mbufs in the packet mempool (2^n - 1 is the most memory-efficient size for DPDK).
    pub mbufs: u32,
    /// Per-core mempool cache size (DPDK: at most 512, and 1.5 × cache ≤ mbufs).
    pub mbuf_cache: u32,
    /// Bytes of packet data an mbuf holds after its 128-byte headroom (default 2048,
    /// DPDK's; 2048..=65407). The largest frame a port can receive in one mbuf: an
    /// af_packet port's `framesz` − 32 must fit it, and a datagram the kernel reassembled
    /// for an af_packet port (docs/DROPS.md) arrives whole only if it fits too.
    pub mbuf_data_room: u32,
}

impl Tables {
    /// Defaults: 2^20 connections, 16383 mbufs, 256 cached per core.
    pub const DEFAULT: Tables = Tables {
        max_conns: 1 << 20,
        mbufs: 16383,
        mbuf_cache: 256,
        mbuf_data_room: 2048,
    };
}

/// `[control]`: the control socket (docs/CONTROL.md).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Control {
    /// Unix socket path rvsadm connects to (default `/run/rvs/rvsd.sock`).
    pub socket: PathBuf,
    /// Where rvsd keeps the running services, real servers, VIPs, mark rules and
    /// timeouts after every change made through the socket, and restores them from at
    /// start (`state_file`, off when absent; see `mgmt::state`).
    pub state_file: Option<PathBuf>,
    /// `admin_group`: the group whose members may use the socket besides root; the
    /// socket is then mode 0660 and owned by it (else 0600, root only).
    pub admin_group: Option<AdminGroup>,
    /// `idle_timeout`: seconds a client may stay silent (or leave a request line
    /// unfinished) before rvsd closes its connection (default 30; 1..=3600).
    pub idle_timeout_secs: u32,
}

impl Control {
    /// Where the socket is when the file does not say.
    pub const DEFAULT_SOCKET: &'static str = "/run/rvs/rvsd.sock";
    /// `idle_timeout` when the file does not say, seconds.
    pub const DEFAULT_IDLE_TIMEOUT_SECS: u32 = 30;
}

/// `[control] admin_group`, resolved when the file is read (`getgrnam`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdminGroup {
    /// The name as written.
    pub name: String,
    /// Its group id on this machine.
    pub gid: u32,
}

/// `[metrics]`: the Prometheus text endpoint (`mgmt::metrics`).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Metrics {
    /// `listen = "127.0.0.1:9100"`: address and TCP port of the HTTP server serving
    /// `GET /metrics`; `None` (the default): no endpoint.
    pub listen: Option<std::net::SocketAddr>,
}

/// One `[[port]]`: a NIC (or virtual device) owned by DPDK.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Port {
    /// Name used by routes, services and rvsadm (≤ 15 characters, like a Linux interface).
    pub name: String,
    /// The DPDK device behind the port.
    pub device: Device,
    /// Local addresses with their prefix (the connected subnets).
    pub addresses: Vec<Ipv4Net>,
    /// Present when the port has a kernel mirror (`net_tap`) for traffic rvs does not consume.
    pub exception_path: Option<ExceptionPath>,
    /// MTU in bytes (default 1500).
    pub mtu: u16,
    /// Put the NIC in promiscuous mode (default false).
    pub promiscuous: bool,
    /// RX descriptors per queue (default 1024).
    pub rx_desc: u16,
    /// TX descriptors per queue (default 1024).
    pub tx_desc: u16,
    /// The port's MAC address (`mac = "02:..."`), set on the device at start; `None`
    /// keeps the device's own. Always unicast and not all-zero.
    pub mac: Option<[u8; 6]>,
    /// Present for a VLAN sub-interface (`[[vlan]]`): a logical port on a physical
    /// port's queues whose frames carry an 802.1Q tag. Its `device`, `mtu`,
    /// `promiscuous`, descriptor counts and `mac` are its parent's.
    pub vlan: Option<Vlan>,
    /// The port faces the private side (`inside = true`, default false): with
    /// `[routing] transit = "outbound"` what arrives here may be routed out of a port
    /// that is not inside (`net::transit`).
    pub inside: bool,
}

/// `[routing]`: what rvsd routes that is not load-balancer traffic.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Routing {
    /// `transit = "none" | "outbound" | "all"` (default `"none"`: rvsd is a load
    /// balancer, not an open router; docs/DROPS.md explains the choice).
    pub transit: crate::net::TransitMode,
}

/// What makes a port a VLAN sub-interface (Linux `ip link add link P name N type vlan id I`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Vlan {
    /// Index in [`Config::ports`] of the physical port carrying the tagged frames.
    pub parent: usize,
    /// The 802.1Q VLAN id, 1..4094 (0 means priority-tagged, 4095 is reserved).
    pub id: u16,
}

impl Port {
    /// True when `ip` is on one of this port's connected subnets.
    pub fn on_link(&self, ip: Ipv4Addr) -> bool {
        self.addresses.iter().any(|a| a.contains(ip))
    }
}

/// The exception path of one port: a kernel tap interface with the port's MAC and addresses.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ExceptionPath {
    /// Kernel interface name of the tap (default: the port name).
    pub tap_name: String,
}

/// A DPDK device string, as `--vdev` or `-a` (allow-list) would take it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Device {
    /// A virtual device, e.g. `net_af_packet0,iface=rvs-ext,qpairs=2` (passed as `--vdev`).
    Vdev(String),
    /// A PCI address, e.g. `0000:00:08.0` (passed as `-a`).
    Pci(String),
}

impl Device {
    /// The device name DPDK registers: the vdev name before the first comma, or the PCI address.
    pub fn name(&self) -> &str {
        match self {
            Device::Vdev(s) => s.split(',').next().unwrap_or(s),
            Device::Pci(s) => s,
        }
    }

    /// The EAL arguments that create or allow this device.
    pub fn eal_args(&self) -> [String; 2] {
        match self {
            Device::Vdev(s) => ["--vdev".to_owned(), s.clone()],
            Device::Pci(s) => ["-a".to_owned(), s.clone()],
        }
    }
}

impl fmt::Display for Device {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Device::Vdev(s) | Device::Pci(s) => f.write_str(s),
        }
    }
}

/// One `[[route]]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Route {
    /// Destination network (host bits zero, as `ip route` demands).
    pub prefix: Ipv4Net,
    /// Next hop on a connected subnet of `port`; `None` for an on-link route.
    pub via: Option<Ipv4Addr>,
    /// Name of the port the route leaves by (exists in [`Config::ports`]).
    pub port: String,
}

/// `[timeouts]`, in seconds, as `ipvsadm --set tcp tcpfin udp`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeouts {
    /// TCP ESTABLISHED (default 900).
    pub tcp_secs: u32,
    /// TCP after a FIN (default 120).
    pub tcpfin_secs: u32,
    /// UDP (default 300).
    pub udp_secs: u32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            tcp_secs: 900,
            tcpfin_secs: 120,
            udp_secs: 300,
        }
    }
}

/// `[settings]`: the IPVS sysctls rvs honours.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// IPVS `expire_nodest_conn` (default false).
    pub expire_nodest_conn: bool,
    /// IPVS `expire_quiescent_template` (default false).
    pub expire_quiescent_template: bool,
    /// Announce local addresses and VIPs with gratuitous ARP at start (default true).
    pub gratuitous_arp: bool,
    /// IPVS `conn_reuse_mode`, 0..=3 (default 1): what a SYN reusing the source port
    /// of an old connection does (see [`crate::lb::conn::Settings`]).
    pub conn_reuse_mode: u8,
    /// IPVS `sloppy_tcp` (default false): any TCP segment but a RST may create a
    /// connection, not only a SYN (for a director taking over established flows).
    pub sloppy_tcp: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            expire_nodest_conn: false,
            expire_quiescent_template: false,
            gratuitous_arp: true,
            conn_reuse_mode: 1,
            sloppy_tcp: false,
        }
    }
}

/// IPVS sysctls (`/proc/sys/net/ipv4/vs/*`) for behaviour rvs does not have: `[settings]`
/// accepts each at IPVS's default (so a sysctl dump can be carried over) and refuses any
/// other value with the reason, rather than ignore it. (name, IPVS default, why rvs
/// cannot honour another value).
pub const SETTINGS_NOT_APPLICABLE: &[(&str, i64, &str)] = &[
    ("sloppy_sctp", 0, "rvs does not balance SCTP"),
    (
        "nat_icmp_send",
        0,
        "rvs sends no ICMP error for NAT replies without a connection",
    ),
    (
        "schedule_icmp",
        0,
        "rvs does not schedule ICMP (only errors related to a connection are forwarded)",
    ),
    (
        "ignore_tunneled",
        0,
        "rvs never balances tunneled (IPIP/GRE) packets, so there is no loop to break",
    ),
    (
        "cache_bypass",
        0,
        "rvs does not forward to the original destination when no real server is available",
    ),
    ("conntrack", 0, "rvs has no netfilter connection tracking"),
    (
        "backup_only",
        0,
        "rvs has no connection synchronisation (backup) mode yet",
    ),
    (
        "snat_reroute",
        1,
        "rvs routes NAT replies by its own route table",
    ),
    (
        "pmtu_disc",
        1,
        "rvs honours DF: too-big packets with DF get frag-needed, without DF are fragmented",
    ),
    (
        "secure_tcp",
        0,
        "rvs has no DoS defence state tables (its connection table has a fixed size)",
    ),
    (
        "drop_entry",
        0,
        "rvs has no DoS defence (its connection table has a fixed size)",
    ),
    (
        "drop_packet",
        0,
        "rvs has no DoS defence (its connection table has a fixed size)",
    ),
];

/// `[neighbour]`: the ARP state machine's knobs, with Linux's names, units and
/// defaults (`/proc/sys/net/ipv4/neigh/<dev>/*`, `man 7 arp`). rvs's neighbour clock
/// ticks in whole seconds, so millisecond values are rounded up to seconds.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Neighbour {
    /// A confirmed neighbour stays reachable this long, in ms (default 30000;
    /// 1000..=3600000). Linux randomises it to 0.5-1.5×; rvs does not.
    pub base_reachable_time_ms: u32,
    /// Seconds a stale neighbour in use waits before the first probe (default 5; 0..=3600).
    pub delay_first_probe_time: u32,
    /// Between two ARP requests or probes for one address, in ms (default 1000;
    /// 1000..=60000).
    pub retrans_time_ms: u32,
    /// Unicast probes to the known MAC before the entry fails (default 3; 0..=255).
    pub ucast_solicit: u32,
    /// Broadcast requests while resolving; held packets wait at most this many
    /// retransmission intervals (default 3; 1..=255).
    pub mcast_solicit: u32,
    /// Broadcast probes after the unicast ones (default 0; 0..=255).
    pub mcast_resolicit: u32,
    /// Seconds after which an unused stale entry is forgotten (default 60; 1..=86400).
    pub gc_stale_time: u32,
    /// Packets held per unresolved next hop (default 3; 0..=64, the worker's hold queue).
    pub unres_qlen: u32,
    /// Static neighbours: never expire, never probed, never overwritten by ARP.
    pub statics: Vec<StaticNeighbour>,
}

impl Default for Neighbour {
    fn default() -> Self {
        Neighbour {
            base_reachable_time_ms: 30_000,
            delay_first_probe_time: 5,
            retrans_time_ms: 1000,
            ucast_solicit: 3,
            mcast_solicit: 3,
            mcast_resolicit: 0,
            gc_stale_time: 60,
            unres_qlen: 3,
            statics: Vec::new(),
        }
    }
}

/// One `[[neighbour.static]]`, as `ip neigh add ADDR lladdr MAC nud permanent`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StaticNeighbour {
    /// The neighbour's address, on a connected subnet of some port.
    pub addr: Ipv4Addr,
    /// Its MAC (unicast, not all-zero).
    pub mac: [u8; 6],
}

/// L4 protocol of a service or a mark rule.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Proto {
    /// `"tcp"`.
    Tcp,
    /// `"udp"`.
    Udp,
}

impl Proto {
    /// IP protocol number (6 or 17).
    pub fn number(self) -> u8 {
        match self {
            Proto::Tcp => crate::lb::flow::proto::TCP,
            Proto::Udp => crate::lb::flow::proto::UDP,
        }
    }
}

impl fmt::Display for Proto {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `pad`, not `write_str`, so `{:<4}` lines up like ipvsadm's `%-4s`.
        f.pad(match self {
            Proto::Tcp => "TCP",
            Proto::Udp => "UDP",
        })
    }
}

/// One `[[mark]]`: rvs has no netfilter, so a firewall mark is defined by rules
/// here. A packet gets the mark of the first rule (in file order) it matches.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Mark {
    /// The mark value, 1..=4294967295 (0 means "no mark").
    pub mark: u32,
    /// At least one rule.
    pub rules: Vec<MarkRule>,
}

/// One match of a [`Mark`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MarkRule {
    /// Protocol; `None` matches TCP and UDP.
    pub proto: Option<Proto>,
    /// Destination address or network (host bits zero).
    pub vip: Ipv4Net,
    /// Destination ports; `None` matches any port.
    pub ports: Option<PortRange>,
}

/// What a virtual service answers to: `-t/-u VIP:port` or `-f mark`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ServiceKey {
    /// An address service; port 0 means every port (persistent services only).
    Addr {
        /// Protocol.
        proto: Proto,
        /// Virtual IP.
        vip: Ipv4Addr,
        /// Virtual port.
        port: u16,
    },
    /// A firewall-mark service.
    Mark(u32),
}

impl fmt::Display for ServiceKey {
    /// The way `ipvsadm -L -n` starts a service line: `TCP  203.0.113.10:80`, `FWM  1`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ServiceKey::Addr { proto, vip, port } => write!(f, "{proto:<4} {vip}:{port}"),
            ServiceKey::Mark(m) => write!(f, "FWM  {m}"),
        }
    }
}

/// Scheduler flags (`ipvsadm -b`). ipvsadm's names map onto three bits:
/// `sh-fallback`/`mh-fallback` = flag-1, `sh-port`/`mh-port` = flag-2.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SchedFlags {
    /// flag-1: sh/mh fallback to another dest when the chosen one is unavailable.
    pub flag_1: bool,
    /// flag-2: sh/mh hash the source port too.
    pub flag_2: bool,
    /// flag-3: unused by the 1.31 schedulers, kept for ipvsadm parity.
    pub flag_3: bool,
}

/// One `[[service]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Service {
    /// What the service answers to.
    pub key: ServiceKey,
    /// Scheduler name, one of [`SCHEDULERS`] (default `"wlc"`, as ipvsadm).
    pub scheduler: String,
    /// Scheduler flags.
    pub sched_flags: SchedFlags,
    /// Persistence timeout; `None` = not persistent.
    pub persistent_secs: Option<u32>,
    /// Persistence granularity (`-M`, default 255.255.255.255).
    pub netmask: Ipv4Addr,
    /// One-packet scheduling (UDP and mark services only).
    pub ops: bool,
    /// mh's Maglev table size, one of the kernel's primes
    /// ([`crate::lb::sched::mh::IPVS_SIZES`]); default 4093 as Debian's IPVS.
    pub mh_table_size: u32,
    /// Port that answers ARP for the VIP: `interface` from the file, else the port
    /// whose subnet holds the VIP. For a mark service, the port whose subnet holds
    /// every rule's VIP network, or `None` (VIPs routed to us, no ARP).
    pub arp_port: Option<String>,
    /// Real servers, in file order.
    pub reals: Vec<Real>,
    /// Health checks, sorry server, quorum (keepalived's `virtual_server` keywords;
    /// docs/HEALTH.md).
    pub health: ServiceHealth,
}

impl Service {
    /// The check of real server `r`: its own, else the service's default; `None`: not
    /// checked (always up).
    pub fn check_of<'a>(&'a self, r: &'a Real) -> Option<&'a std::sync::Arc<Check>> {
        r.health.check.as_ref().or(self.health.check.as_ref())
    }
}

/// One `[[service.real]]`.
#[derive(Clone, Debug, PartialEq)]
pub struct Real {
    /// Real server address.
    pub addr: Ipv4Addr,
    /// Real server port: defaults to the service port, and for dr/tun on an address
    /// service it is forced to it (as ipvsadm does). On a mark service, 0 means
    /// "the packet's destination port".
    pub port: u16,
    /// Forwarding method (default `dr`, as ipvsadm's `-g`).
    pub method: Method,
    /// Weight 0..=2147483647 (IPVS's `INT_MAX`, as `-w` and the control socket; default
    /// 1; 0 = quiescent).
    pub weight: u32,
    /// Upper connection threshold (`-x`), 0 = off.
    pub u_threshold: u32,
    /// Lower connection threshold (`-y`), 0 = off; never above `u_threshold`.
    pub l_threshold: u32,
    /// Its health keywords (keepalived's `real_server` ones; docs/HEALTH.md).
    pub health: RealHealth,
}

/// Which class of mistake an [`Error::Invalid`] is, for callers that react per class.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// Not TOML.
    Syntax,
    /// A key rvs does not know (typo or wrong section).
    UnknownKey,
    /// A required key is missing or a value has the wrong TOML type.
    Schema,
    /// An address, prefix, netmask or device string does not parse or is not allowed there.
    Address,
    /// A number or name outside its allowed range or set.
    Range,
    /// A reference to a port or mark that is not defined.
    Reference,
    /// Something defined twice (port name, core, service, real server, ...).
    Duplicate,
    /// Keys that do not go together (ipvsadm's service/real-server rules and the like).
    Conflict,
}

/// Why a configuration could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The file could not be read.
    #[error("{file}: {source}")]
    Read {
        /// File name as given.
        file: String,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file was read but is not a valid configuration.
    #[error("{file}:{line}: {key}: {reason}")]
    Invalid {
        /// File name as given.
        file: String,
        /// 1-based line of the offending key (or of its table when the key is missing).
        line: usize,
        /// Key path, e.g. `port[1].addresses[0]`.
        key: String,
        /// Class of mistake.
        kind: ErrorKind,
        /// What is wrong, in the operator's words.
        reason: String,
    },
}

impl Error {
    /// The 1-based line, for [`Error::Invalid`].
    pub fn line(&self) -> Option<usize> {
        match self {
            Error::Invalid { line, .. } => Some(*line),
            Error::Read { .. } => None,
        }
    }

    /// The key path, for [`Error::Invalid`].
    pub fn key(&self) -> Option<&str> {
        match self {
            Error::Invalid { key, .. } => Some(key),
            Error::Read { .. } => None,
        }
    }

    /// The class of mistake, for [`Error::Invalid`].
    pub fn kind(&self) -> Option<ErrorKind> {
        match self {
            Error::Invalid { kind, .. } => Some(*kind),
            Error::Read { .. } => None,
        }
    }

    /// The reason alone, without file, line and key.
    pub fn reason(&self) -> String {
        match self {
            Error::Invalid { reason, .. } => reason.clone(),
            Error::Read { source, .. } => source.to_string(),
        }
    }
}

impl Config {
    /// Reads and validates the file at `path`; errors name it as given.
    pub fn load(path: impl AsRef<Path>) -> Result<Config, Error> {
        let path = path.as_ref();
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read {
            file: file.clone(),
            source,
        })?;
        Config::from_str_named(&text, &file)
    }

    /// Validates `text` as if read from a file called `file_name` (used in errors).
    pub fn from_str_named(text: &str, file_name: &str) -> Result<Config, Error> {
        validate::parse(text, file_name)
    }

    /// The ports `text` defines (as [`Config::ports`]: physical, then VLANs), checked
    /// only as far as `[eal]`, `[cores]`, `[[port]]` and `[[vlan]]` go; `None` when those
    /// do not validate. For a reload that must name a changed restart-only section
    /// before any later error of the file.
    pub fn ports_from_str(text: &str, file_name: &str) -> Option<Vec<Port>> {
        validate::ports_of(text, file_name)
    }

    /// The physical ports (those with a device of their own): [`Config::ports`] lists
    /// them first, then the VLAN sub-interfaces.
    pub fn physical_ports(&self) -> &[Port] {
        let n = self.ports.iter().take_while(|p| p.vlan.is_none()).count();
        &self.ports[..n]
    }

    /// The port called `name`, with its index in [`Config::ports`].
    pub fn port(&self, name: &str) -> Option<(usize, &Port)> {
        self.ports.iter().enumerate().find(|(_, p)| p.name == name)
    }
}

/// `[fragments]`: the bounds of IPv4 reassembly (`dataplane::reasm`), with Linux's
/// names, units and defaults (`/proc/sys/net/ipv4/ipfrag_*`). Each worker has its own
/// table with these bounds; at most a quarter of the mbuf pool is ever held by
/// reassembly, whatever they say (`mgmt::plan` scales them down).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fragments {
    /// Bytes of fragment buffers held above which the oldest incomplete datagrams are
    /// evicted (default 4194304, Linux's; a fragment costs its mbuf, 2176 bytes).
    pub ipfrag_high_thresh: u64,
    /// Bytes the eviction brings the table down to (default 3145728; ≤ high).
    pub ipfrag_low_thresh: u64,
    /// Bytes one source address may hold before its own oldest datagrams are evicted
    /// (rvs's, default 1048576; ≤ high).
    pub ipfrag_source_thresh: u64,
    /// Seconds a datagram may take to arrive whole (default 30, Linux's; 1..=3600).
    pub ipfrag_time: u32,
}

impl Default for Fragments {
    fn default() -> Self {
        Fragments {
            ipfrag_high_thresh: 4 * 1024 * 1024,
            ipfrag_low_thresh: 3 * 1024 * 1024,
            ipfrag_source_thresh: 1024 * 1024,
            ipfrag_time: 30,
        }
    }
}
