//! rvsadm's output: ipvsadm 1.31's listings byte for byte (`-L` with and without `-n`,
//! `--stats`, `--rate`, `--thresholds`, `--persistent-conn`, `--exact`, `-c`,
//! `--timeout`), the `-S` save text, `--json` for every listing, and rvs's own
//! `rvsadm status` text.
//!
//! Every function turns control-protocol views ([`crate::ctl::views`]) into the complete
//! text to print (every line ends in `\n`); none does I/O except the name lookups of a
//! listing without `-n` ([`names`]), none panics on any view. The layouts are ipvsadm's
//! printf formats (IPVSADM.md §3, §4), checked against recordings of the real ipvsadm
//! 1.31 (`tests/fixtures/oracle/`, unit tests in each file).
//!
//! Called by the `rvsadm` binary only (never by rvsd, never on a fast path).

pub mod conns;
pub mod json;
pub mod names;
pub mod num;
pub mod save;
pub mod services;
pub mod sort;
pub mod status;
pub mod timeouts;

pub use conns::conns;
pub use json::{json, JsonDoc, NoDaemons};
pub use save::save;
pub use services::{service, services};
pub use status::{mark_rules, status, vips};
pub use timeouts::timeouts;

use super::cmd::ListOpts;

/// Which column set a service listing prints. ipvsadm lets one display option decide:
/// the first given in the order stats, rate, thresholds, persistent-conn, tun-info (its
/// `print_title` tests the format bits in that order); none of them = the plain layout.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Layout {
    /// `Prot LocalAddress:Port Scheduler Flags` / `Forward Weight ActiveConn InActConn`.
    Plain,
    /// `--stats`: Conns InPkts OutPkts InBytes OutBytes.
    Stats,
    /// `--rate`: CPS InPPS OutPPS InBPS OutBPS.
    Rate,
    /// `--thresholds`: Uthreshold Lthreshold ActiveConn InActConn.
    Thresholds,
    /// `--persistent-conn`: Weight PersistConn ActiveConn InActConn.
    PersistentConn,
    /// `--tun-info`: the plain layout with a TunnelInfo column.
    TunInfo,
}

impl Layout {
    /// The layout `opts` selects, by ipvsadm's precedence.
    pub fn of(opts: &ListOpts) -> Layout {
        if opts.stats {
            Layout::Stats
        } else if opts.rate {
            Layout::Rate
        } else if opts.thresholds {
            Layout::Thresholds
        } else if opts.persistent_conn {
            Layout::PersistentConn
        } else if opts.tun_info {
            Layout::TunInfo
        } else {
            Layout::Plain
        }
    }
}

/// The IPVS version ipvsadm prints in the first line of a whole-table listing
/// (`IP Virtual Server version 1.2.1`): mainline IPVS has reported 1.2.1 (0x010201) for
/// two decades, and scripts match on that line.
pub const IPVS_VERSION: &str = "1.2.1";

/// The `size=` of that line. In IPVS it is the connection hash table's bucket count
/// (2^`conn_tab_bits`, Debian's default 12 = 4096), which rvs's connection table does not
/// have; rvs prints Debian's default so scripts that parse the line read what they
/// expect from a stock director (compatibility over truth; the real table capacity is in
/// `rvsadm status`).
pub const CONN_TAB_SIZE: u32 = 4096;

#[cfg(test)]
mod replay;
#[cfg(test)]
mod testdata;
