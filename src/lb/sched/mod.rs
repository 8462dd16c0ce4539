//! Schedulers: one file per ipvsadm name behind one small trait, and the table
//! that maps the names `ipvsadm -s` accepts to constructors.
//!
//! Contract:
//! - [`Scheduler::pick`] runs on worker threads, concurrently from several workers on
//!   the same service. It never panics, never allocates, takes no lock, and returns
//!   `None` for IPVS's "no destination available" (the caller counts it).
//! - [`Scheduler::rebuild`] runs on the management thread whenever the dest set, a
//!   weight or a threshold changes; it may allocate (sh/dh/mh tables are built here).
//! - The dest slice is in **IPVS list order**: IPVS adds a new dest at the head of the
//!   service's list (`list_add_rcu`), so the newest dest comes first, and every
//!   tie-break ("the first one in the list") depends on that. [`crate::lb::service`]
//!   keeps its `Vec` in that order.
//!
//! State across workers: schedulers that IPVS serialises with `svc->sched_lock` (rr,
//! wrr, lblc, lblcr) keep their state in atomics shared by all workers of a service
//! snapshot, updated by compare-and-swap, so the sequence of picks is IPVS's sequence
//! in the order the CASes land. The others are stateless or read-only tables.
//!
//! Snapshots: a service snapshot is immutable and shared by workers. To change it, the
//! management thread calls [`Scheduler::fork`] on the live scheduler (a copy of its
//! current state, e.g. the rr cursor), then [`Scheduler::rebuild`] on the copy with the
//! new dest list, and publishes the new snapshot. Picks that land on the old snapshot
//! between fork and publish are not seen by the copy (a difference from IPVS only at
//! the instant of a configuration change).

use std::fmt;
use std::sync::Arc;

use crate::lb::dest::{Dest, DestIdx};
use crate::lb::flow::FlowKey;

pub mod dh;
pub mod fo;
pub mod lblc;
pub mod lblcr;
pub mod lc;
pub mod mh;
pub mod nq;
pub mod ovf;
pub mod rr;
pub mod sed;
pub mod sh;
pub mod wlc;
pub mod wrr;

/// One scheduling algorithm instance of one service.
pub trait Scheduler: Send + Sync + fmt::Debug {
    /// The ipvsadm name (`rr`, `wlc`, ...), printed by `ipvsadm -L`.
    fn name(&self) -> &'static str;

    /// Off the fast path, whenever the dest set, a weight or a threshold changes:
    /// rebuilds tables and re-anchors cursors so that `pick` is a lookup.
    fn rebuild(&mut self, _dests: &[Arc<Dest>]) {}

    /// Chooses a dest for a new connection of `flow`, or `None` when no dest is
    /// available. `dests` is the slice last given to `rebuild` (IPVS list order).
    fn pick(&self, dests: &[Arc<Dest>], flow: &FlowKey) -> Option<DestIdx>;

    /// A copy carrying the current state (cursors, caches) into the next service
    /// snapshot; `rebuild` is then called on the copy.
    fn fork(&self) -> Box<dyn Scheduler>;
}

/// The sched-flag bits of a service (`ipvsadm -b`), with the kernel's values
/// (`IP_VS_SVC_F_SCHED1..3`) so that they round-trip through configs and listings.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct SchedFlags(pub u32);

impl SchedFlags {
    /// `flag-1`; for sh it is `sh-fallback`, for mh `mh-fallback`.
    pub const FLAG1: u32 = 0x0008;
    /// `flag-2`; for sh it is `sh-port`, for mh `mh-port`.
    pub const FLAG2: u32 = 0x0010;
    /// `flag-3` (no scheduler uses it yet).
    pub const FLAG3: u32 = 0x0020;

    /// True if every bit of `bit` is set.
    pub fn has(self, bit: u32) -> bool {
        self.0 & bit == bit
    }

    /// Parses ipvsadm's comma list for scheduler `sched` with ipvsadm's rules:
    /// `sh-*` only with sh, `mh-*` only with mh, `flag-N` with any.
    pub fn parse(list: &str, sched: &str) -> Result<SchedFlags, FlagError> {
        let mut bits = 0;
        for word in list.split(',').filter(|w| !w.is_empty()) {
            let (bit, only) = match word {
                "flag-1" => (Self::FLAG1, None),
                "flag-2" => (Self::FLAG2, None),
                "flag-3" => (Self::FLAG3, None),
                "sh-fallback" => (Self::FLAG1, Some("sh")),
                "sh-port" => (Self::FLAG2, Some("sh")),
                "mh-fallback" => (Self::FLAG1, Some("mh")),
                "mh-port" => (Self::FLAG2, Some("mh")),
                _ => return Err(FlagError::Invalid(word.to_string())),
            };
            if only.is_some_and(|s| s != sched) {
                return Err(FlagError::Incompatible(word.to_string()));
            }
            bits |= bit;
        }
        Ok(SchedFlags(bits))
    }

    /// The names `ipvsadm -L` prints in parentheses for scheduler `sched`
    /// (empty when no bit is set).
    pub fn names(self, sched: &str) -> Vec<&'static str> {
        let words: [&'static str; 3] = match sched {
            "sh" => ["sh-fallback", "sh-port", "flag-3"],
            "mh" => ["mh-fallback", "mh-port", "flag-3"],
            _ => ["flag-1", "flag-2", "flag-3"],
        };
        [Self::FLAG1, Self::FLAG2, Self::FLAG3]
            .iter()
            .zip(words)
            .filter(|(b, _)| self.has(**b))
            .map(|(_, w)| w)
            .collect()
    }
}

/// A bad `-b` list, with ipvsadm's two messages.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FlagError {
    /// Not a flag name at all.
    #[error("invalid scheduler flag `{0}'")]
    Invalid(String),
    /// A sh-/mh- flag given to another scheduler.
    #[error("incompatible scheduler flag `{0}'")]
    Incompatible(String),
}

/// What a scheduler constructor may need besides its name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SchedParams {
    /// The service's `-b` bits.
    pub flags: SchedFlags,
    /// Maglev lookup table size for mh; must be prime (see [`mh`]).
    pub mh_table_size: u32,
}

impl Default for SchedParams {
    fn default() -> Self {
        SchedParams {
            flags: SchedFlags::default(),
            mh_table_size: mh::DEFAULT_TABLE_SIZE,
        }
    }
}

/// The scheduler names rvs knows, in ipvsadm 1.31's help order.
pub const NAMES: [&str; 13] = [
    "rr", "wrr", "lc", "wlc", "lblc", "lblcr", "dh", "sh", "sed", "nq", "fo", "ovf", "mh",
];

/// Builds the scheduler called `name` (no dests yet: call `rebuild`), or `None`
/// for an unknown name (ipvsadm: "Scheduler or persistence engine not found").
pub fn new_scheduler(name: &str, params: &SchedParams) -> Option<Box<dyn Scheduler>> {
    Some(match name {
        "rr" => Box::new(rr::Rr::new()),
        "wrr" => Box::new(wrr::Wrr::new()),
        "lc" => Box::new(lc::Lc),
        "wlc" => Box::new(wlc::Wlc),
        "lblc" => Box::new(lblc::Lblc::new()),
        "lblcr" => Box::new(lblcr::Lblcr::new()),
        "dh" => Box::new(dh::Dh::new()),
        "sh" => Box::new(sh::Sh::new(params.flags)),
        "sed" => Box::new(sed::Sed),
        "nq" => Box::new(nq::Nq),
        "fo" => Box::new(fo::Fo),
        "ovf" => Box::new(ovf::Ovf),
        "mh" => Box::new(mh::Mh::new(params.flags, params.mh_table_size)?),
        _ => return None,
    })
}

/// IPVS's common test for a fresh pick: weight > 0 and not OVERLOADed.
pub(crate) fn selectable(d: &Dest) -> bool {
    d.weight() > 0 && !d.is_overloaded()
}

/// `DestIdx` of slice position `i`; the service keeps fewer than 2^16 dests.
pub(crate) fn idx(i: usize) -> DestIdx {
    DestIdx(i as u16)
}

/// Greatest common divisor (Euclid), for wrr and mh weight steps.
pub(crate) fn gcd(a: i32, b: i32) -> i32 {
    let (mut a, mut b) = (a.unsigned_abs(), b.unsigned_abs());
    while b != 0 {
        (a, b) = (b, a % b);
    }
    a as i32
}

/// The kernel's `hash_32`: multiplicative hashing by the 32-bit golden ratio,
/// keeping the top `bits` bits (sh, lblc, lblcr use it).
pub(crate) fn hash_32(val: u32, bits: u32) -> u32 {
    val.wrapping_mul(0x61C8_8647) >> (32 - bits)
}

/// Where the rr/lblc-style caches find a dest of the previous dest list in the
/// new one (by identity, not address: a re-added dest is a new dest).
pub(crate) fn find_same(dests: &[Arc<Dest>], d: &Arc<Dest>) -> Option<usize> {
    dests.iter().position(|x| Arc::ptr_eq(x, d))
}

/// Test helpers shared by the scheduler files.
#[cfg(test)]
pub(crate) mod testutil {
    use super::*;
    use crate::lb::dest::Fwd;
    use std::net::Ipv4Addr;

    /// Dests 10.0.0.1.. with the given weights, in slice (IPVS list) order.
    pub fn dests(weights: &[i32]) -> Vec<Arc<Dest>> {
        weights
            .iter()
            .enumerate()
            .map(|(i, &w)| {
                Arc::new(Dest::new(
                    Ipv4Addr::new(10, 0, 0, 1 + i as u8),
                    80,
                    Fwd::Nat,
                    w,
                ))
            })
            .collect()
    }

    /// A UDP flow from `saddr:sport` to 192.0.2.1:80.
    pub fn flow(saddr: Ipv4Addr, sport: u16) -> FlowKey {
        FlowKey {
            proto: crate::lb::flow::proto::UDP,
            saddr,
            sport,
            daddr: Ipv4Addr::new(192, 0, 2, 1),
            dport: 80,
        }
    }

    /// A new connection on `d` that reaches ESTABLISHED (bound, then active).
    pub fn activate(d: &Dest) {
        d.bind_conn();
        d.conn_became_active();
    }

    /// Picks `n` times, binding each chosen dest a connection as the conn table would.
    pub fn run(s: &dyn Scheduler, d: &[Arc<Dest>], n: usize) -> Vec<Option<u16>> {
        (0..n)
            .map(|i| {
                let f = flow(Ipv4Addr::new(192, 0, 2, 100), 1000 + i as u16);
                let p = s.pick(d, &f);
                if let Some(DestIdx(x)) = p {
                    d[x as usize].bind_conn();
                }
                p.map(|x| x.0)
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_builds() {
        for n in NAMES {
            let s = new_scheduler(n, &SchedParams::default()).expect("known name");
            assert_eq!(s.name(), n);
        }
        assert!(new_scheduler("twos", &SchedParams::default()).is_none());
    }

    #[test]
    fn flags_parse_and_print_like_ipvsadm() {
        let f = SchedFlags::parse("sh-fallback,sh-port", "sh").unwrap();
        assert_eq!(f.0, SchedFlags::FLAG1 | SchedFlags::FLAG2);
        assert_eq!(f.names("sh"), ["sh-fallback", "sh-port"]);
        assert_eq!(f.names("rr"), ["flag-1", "flag-2"]);
        assert_eq!(
            SchedFlags::parse("mh-port", "sh").unwrap_err().to_string(),
            "incompatible scheduler flag `mh-port'"
        );
        assert_eq!(
            SchedFlags::parse("bogus", "sh").unwrap_err().to_string(),
            "invalid scheduler flag `bogus'"
        );
    }

    #[test]
    fn gcd_and_hash() {
        assert_eq!(gcd(4, 6), 2);
        assert_eq!(gcd(3, 0), 3);
        assert_eq!(hash_32(1, 8), 0x61);
    }
}
