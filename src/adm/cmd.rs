//! The parsed `rvsadm` command line: what [`super::parse::parse`] returns and what the
//! binary turns into control requests ([`crate::ctl::Request`]) and prints (through
//! `adm::format`). One variant per ipvsadm 1.31 command (IPVSADM.md §1) plus rvs's own
//! (`status`, `reload`, `vip`, `mark`). Defaults are already applied: a `ServiceSpec`
//! from `-A`/`-E` carries `wlc` when `-s` was omitted, a `DestSpec` weight 1 and `-g`
//! (ipvsadm fills them in before parsing the line, so `-E`/`-e` are full replacements).

use crate::ctl::views::{DestSpec, MarkRuleView, ServiceKeyView, ServiceSpec, TimeoutsView};
use std::net::Ipv4Addr;

/// The display options of `-L`/`-l` (and `-c`, `--timeout`, `-S`), as ipvsadm's
/// `FMT_*` format bits. ipvsadm lets only one of stats / rate / thresholds /
/// persistent-conn / tun-info decide the layout: the first set in that order wins (IPVSADM.md §2.1);
/// the parser keeps every flag given and the formatter applies that precedence.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ListOpts {
    /// `-n`/`--numeric`: addresses and ports as numbers (no name resolution).
    pub numeric: bool,
    /// `-X`/`--exact`: counters in full, no K/M/G/T scaling.
    pub exact: bool,
    /// `--stats`: connection, packet and byte counters.
    pub stats: bool,
    /// `--rate`: rates (per second).
    pub rate: bool,
    /// `--thresholds`: `-x`/`-y` and PersistConn columns.
    pub thresholds: bool,
    /// `--persistent-conn`: persistence columns (with `-c`: the PE columns).
    pub persistent_conn: bool,
    /// `--tun-info`: the tunnel column (`ipip` for every `-i` dest: rvs tunnels are IPIP
    /// only; `n/a` for the others).
    pub tun_info: bool,
    /// Services and dests sorted as ipvsadm sorts them. True unless `--nosort`: sorting is
    /// ipvsadm's default and `--sort` is accepted and changes nothing (ipvsadm 1.31).
    pub sort: bool,
    /// `--json`: rvs's own; print the control protocol's views as JSON instead of
    /// ipvsadm's text (schema in docs/CONTROL.md).
    pub json: bool,
}

impl Default for ListOpts {
    /// ipvsadm's defaults: names resolved, scaled counters, sorted, text.
    fn default() -> Self {
        ListOpts {
            numeric: false,
            exact: false,
            stats: false,
            rate: false,
            thresholds: false,
            persistent_conn: false,
            tun_info: false,
            sort: true,
            json: false,
        }
    }
}

/// One command of the `rvsadm` command line (or of one `-R` input line).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `-A`: add a virtual service.
    AddService(ServiceSpec),
    /// `-E`: replace a virtual service's settings (omitted options take their defaults).
    EditService(ServiceSpec),
    /// `-D`: delete a virtual service and its real servers.
    DelService(ServiceKeyView),
    /// `-C`: delete every virtual service.
    Clear,
    /// `-a`: add a real server to a service.
    AddDest(ServiceKeyView, DestSpec),
    /// `-e`: replace a real server's settings.
    EditDest(ServiceKeyView, DestSpec),
    /// `-d`: delete a real server (address, port as given with `-r`, already forced to
    /// the service port for a non-fwmark service as ipvsadm does).
    DelDest(ServiceKeyView, Ipv4Addr, u16),
    /// `-Z [service]`: zero the counters of one service, or of all (`None`).
    Zero(Option<ServiceKeyView>),
    /// `-L`/`-l` (or no arguments at all): list every service (`key: None`) or one.
    /// ipvsadm prints the "IP Virtual Server version" line only for the whole table.
    List {
        /// One service (`-L -t VIP:port`), or `None` for all.
        key: Option<ServiceKeyView>,
        /// Display options.
        opts: ListOpts,
    },
    /// `-L -c`: the connection table.
    ListConns(ListOpts),
    /// `-L --timeout`: the three timeouts.
    ListTimeouts(ListOpts),
    /// `-L --daemon`: the sync daemons. rvs has none (phase 9), so this prints nothing,
    /// as ipvsadm on a kernel with no daemon running (`--json`: an empty `daemons` list).
    ListDaemon(ListOpts),
    /// `-S [-n]`: the table as `-A`/`-a` lines (ipvsadm-save's format).
    Save {
        /// `-n`: numbers instead of names.
        numeric: bool,
    },
    /// `-R`: read commands from stdin, one a line.
    Restore,
    /// `--set tcp tcpfin udp` (seconds; 0 leaves that one unchanged).
    SetTimeouts(TimeoutsView),
    /// `-h`/`--help`.
    Help,
    /// `-v`/`--version`.
    Version,
    /// `rvsadm status [--json]`: ports, workers, drops, table fill, uptime, version.
    Status {
        /// Print the `StatusView` as JSON.
        json: bool,
    },
    /// `rvsadm reload`: rvsd re-reads its configuration file (as SIGHUP).
    Reload,
    /// `rvsadm vip add ADDR [--port NAME]`.
    VipAdd {
        /// The address.
        addr: Ipv4Addr,
        /// Port or VLAN name; `None`: the port whose subnet holds `addr`.
        port: Option<String>,
    },
    /// `rvsadm vip del ADDR [--port NAME]`.
    VipDel {
        /// The address.
        addr: Ipv4Addr,
        /// Port name; `None`: every port that has it.
        port: Option<String>,
    },
    /// `rvsadm check set SERVICE [-r ADDR[:PORT]] --file CHECK.toml`: sets a health
    /// check at run time (`adm::check_cmd`).
    CheckSet {
        /// The service.
        key: ServiceKeyView,
        /// The real server; `None`: the service's default check.
        real: Option<crate::ctl::proto::RealRef>,
        /// The check, as read from the file.
        check: Box<crate::ctl::views::CheckView>,
    },
    /// `rvsadm check del SERVICE [-r ADDR[:PORT]]`: removes a health check.
    CheckDel {
        /// The service.
        key: ServiceKeyView,
        /// The real server; `None`: the service's default check.
        real: Option<crate::ctl::proto::RealRef>,
    },
    /// `rvsadm vip list [--json]`.
    VipList {
        /// JSON instead of text.
        json: bool,
    },
    /// `rvsadm mark add MARK --vip NET [--protocol tcp|udp] [--ports P[-Q]]`.
    MarkAdd(MarkRuleView),
    /// `rvsadm mark del ...` (same arguments; exact match).
    MarkDel(MarkRuleView),
    /// `rvsadm mark list [--json]`.
    MarkList {
        /// JSON instead of text.
        json: bool,
    },
}
