//! Real servers ("dests" in IPVS words) and the per-dest counters that both
//! the schedulers (read) and the connection table (write) share.
//!
//! A `Dest` lives as long as its service holds it (behind an `Arc`); workers
//! read its weight and counters with relaxed atomics, because a scheduler
//! decision that is one connection stale is exactly what IPVS tolerates too
//! (its counters are also updated without a lock).

use crate::lb::stats::Stats;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// Index of a dest inside its service's dest list. Range: `0..dests.len()`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DestIdx(pub u16);

/// Forwarding method of one real server, as ipvsadm's `-m`, `-g`, `-i`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Fwd {
    /// Masquerading (`-m`): rewrite VIP:vport <-> RIP:rport; replies come back through us.
    Nat,
    /// Direct routing / gatewaying (`-g`, the ipvsadm default): rewrite the destination MAC only.
    Dr,
    /// IP-in-IP tunnelling (`-i`): prepend an outer IPv4 header to the real server.
    Tun,
}

impl Fwd {
    /// The word `ipvsadm -L` prints in the Forward column.
    pub fn ipvsadm_word(self) -> &'static str {
        match self {
            Fwd::Nat => "Masq",
            Fwd::Dr => "Route",
            Fwd::Tun => "Tunnel",
        }
    }
}

/// One real server of one service.
#[derive(Debug)]
pub struct Dest {
    /// Real server address (RIP).
    pub addr: Ipv4Addr,
    /// Real server port; for DR/TUN on a non-mark service it equals the service port.
    pub port: u16,
    /// Forwarding method.
    pub fwd: Fwd,
    weight: AtomicI32,
    last_weight: AtomicI32,
    u_threshold: AtomicU32,
    l_threshold: AtomicU32,
    active: AtomicU32,
    inactive: AtomicU32,
    persistent: AtomicU32,
    overloaded: AtomicBool,
    available: AtomicBool,
    /// Id in the connection table's dest registry (u32::MAX until registered), so a
    /// worker turns a scheduled dest into a `DestId` without a search.
    table_id: AtomicU32,
    /// (service stats, this dest's stats), set once when the dest is registered, so a
    /// worker holding only the connection's dest can count its packets.
    stats: OnceLock<(Arc<Stats>, Arc<Stats>)>,
    /// TUN: the tunnel path MTU learnt from ICMP frag-needed about our IPIP packets
    /// ([`Dest::learn_tun_mtu`]), packed `mtu << 32 | expires_secs`; 0 = none. Read
    /// with one relaxed load per TUN packet; written only when such an ICMP arrives.
    tun_pmtu: AtomicU64,
}

/// Lowest path MTU a frag-needed may teach (Linux's `ip_rt_min_pmtu`, 512 + 20 + 20):
/// a smaller report is raised to it, so a forged ICMP cannot shrink packets further.
pub const MIN_PMTU: u16 = 552;
/// How long a learnt tunnel MTU holds, in seconds (Linux's `mtu_expires`, 600 s); after
/// that the port MTU applies again until the next frag-needed (RFC 1191 section 6.3).
pub const PMTU_EXPIRES_SECS: u32 = 600;

impl Dest {
    /// A new, available dest with no connections.
    pub fn new(addr: Ipv4Addr, port: u16, fwd: Fwd, weight: i32) -> Self {
        Dest {
            addr,
            port,
            fwd,
            weight: AtomicI32::new(weight),
            last_weight: AtomicI32::new(weight.max(0)),
            u_threshold: AtomicU32::new(0),
            l_threshold: AtomicU32::new(0),
            active: AtomicU32::new(0),
            inactive: AtomicU32::new(0),
            persistent: AtomicU32::new(0),
            overloaded: AtomicBool::new(false),
            available: AtomicBool::new(true),
            table_id: AtomicU32::new(u32::MAX),
            stats: OnceLock::new(),
            tun_pmtu: AtomicU64::new(0),
        }
    }

    /// The tunnel path MTU learnt toward this real server (TUN), while it has not
    /// expired at `now` (seconds on the workers' shared clock).
    #[inline]
    pub fn tun_mtu(&self, now: u32) -> Option<u16> {
        let v = self.tun_pmtu.load(Ordering::Relaxed);
        let (mtu, expires) = ((v >> 32) as u16, v as u32);
        // Wrapping comparison: `expires` is at most PMTU_EXPIRES_SECS ahead of now.
        (v != 0 && (expires.wrapping_sub(now) as i32) > 0).then_some(mtu)
    }

    /// Learns a frag-needed's next-hop MTU `reported` for the tunnel toward this real
    /// server, whose egress port MTU is `port_mtu`, at `now`: raised to [`MIN_PMTU`];
    /// kept (with a fresh [`PMTU_EXPIRES_SECS`]) when it does not exceed the MTU in force,
    /// ignored when it is larger (Linux `__ip_rt_update_pmtu`: a report never raises the
    /// path MTU). Returns the tunnel MTU in force afterwards.
    pub fn learn_tun_mtu(&self, reported: u16, port_mtu: u16, now: u32) -> u16 {
        let current = self.tun_mtu(now).map_or(port_mtu, |m| m.min(port_mtu));
        let mtu = reported.max(MIN_PMTU);
        if mtu > current {
            return current;
        }
        let expires = now.wrapping_add(PMTU_EXPIRES_SECS);
        self.tun_pmtu
            .store(u64::from(mtu) << 32 | u64::from(expires), Ordering::Relaxed);
        mtu
    }

    /// The connection table's id for this dest, once registered.
    pub fn table_id(&self) -> Option<u32> {
        let id = self.table_id.load(Ordering::Acquire);
        (id != u32::MAX).then_some(id)
    }

    /// Records the connection table's id (management thread, before the service
    /// holding this dest is published: the Release pairs with `table_id`'s Acquire).
    pub fn set_table_id(&self, id: u32) {
        self.table_id.store(id, Ordering::Release);
    }

    /// Attaches the service's and this dest's stats blocks (management thread, once).
    pub fn set_stats(&self, service: Arc<Stats>, dest: Arc<Stats>) {
        let _ = self.stats.set((service, dest));
    }

    /// The (service, dest) stats blocks, once attached.
    #[inline]
    pub fn stats(&self) -> Option<&(Arc<Stats>, Arc<Stats>)> {
        self.stats.get()
    }

    /// Builder-style thresholds (`-x upper`, `-y lower`; 0 = off).
    pub fn with_thresholds(self, upper: u32, lower: u32) -> Self {
        self.u_threshold.store(upper, Ordering::Relaxed);
        self.l_threshold.store(lower, Ordering::Relaxed);
        self
    }

    /// Current weight; 0 means quiescent (no new connections).
    pub fn weight(&self) -> i32 {
        self.weight.load(Ordering::Relaxed)
    }
    /// Changes the weight (management thread).
    pub fn set_weight(&self, w: i32) {
        self.weight.store(w, Ordering::Relaxed);
        if w > 0 {
            self.last_weight.store(w, Ordering::Relaxed);
        }
    }
    /// The latest non-zero weight (IPVS `last_weight`; 0 only if the dest was
    /// added quiesced and never weighted since). The mh scheduler sizes a dest's
    /// share of the Maglev table by it, so quiescing a dest (weight 0) keeps its
    /// slots and only reroutes its flows through mh-fallback.
    pub fn last_weight(&self) -> i32 {
        self.last_weight.load(Ordering::Relaxed)
    }
    /// Upper connection threshold (`-x`), 0 = off.
    pub fn u_threshold(&self) -> u32 {
        self.u_threshold.load(Ordering::Relaxed)
    }
    /// Lower connection threshold (`-y`), 0 = off.
    pub fn l_threshold(&self) -> u32 {
        self.l_threshold.load(Ordering::Relaxed)
    }
    /// Changes both thresholds; as in IPVS, an upper threshold of 0 or one raised
    /// above the old value clears OVERLOAD at once.
    pub fn set_thresholds(&self, upper: u32, lower: u32) {
        let old = self.u_threshold.swap(upper, Ordering::Relaxed);
        self.l_threshold.store(lower, Ordering::Relaxed);
        if upper == 0 || upper > old {
            self.overloaded.store(false, Ordering::Relaxed);
        }
    }
    /// ActiveConn: connections in TCP ESTABLISHED.
    pub fn active_conns(&self) -> u32 {
        self.active.load(Ordering::Relaxed)
    }
    /// InActConn: every other TCP state and all UDP entries.
    pub fn inactive_conns(&self) -> u32 {
        self.inactive.load(Ordering::Relaxed)
    }
    /// PersistConn: templates pointing at this dest.
    pub fn persistent_conns(&self) -> u32 {
        self.persistent.load(Ordering::Relaxed)
    }
    /// IPVS's `ip_vs_dest_conn_overhead`: active * 256 + inactive.
    pub fn overhead(&self) -> u64 {
        ((self.active_conns() as u64) << 8) + self.inactive_conns() as u64
    }
    /// True while the upper threshold was reached and the lower not yet passed again.
    pub fn is_overloaded(&self) -> bool {
        self.overloaded.load(Ordering::Relaxed)
    }
    /// False once the dest was deleted from its service (IPVS: not AVAILABLE);
    /// connections still pointing at it are then handled per `expire_nodest_conn`.
    pub fn is_available(&self) -> bool {
        self.available.load(Ordering::Relaxed)
    }
    /// Marks the dest deleted.
    pub fn set_unavailable(&self) {
        self.available.store(false, Ordering::Relaxed);
    }
    /// Marks a deleted dest available again: it was re-added and revived from the
    /// trash (IPVS `__ip_vs_update_dest` sets AVAILABLE), so its connections resume.
    pub fn set_available(&self) {
        self.available.store(true, Ordering::Relaxed);
    }

    /// A new connection (not a template) is bound to this dest, starting
    /// inactive as in IPVS. Sets OVERLOAD when active+inactive reaches `-x`.
    pub fn bind_conn(&self) {
        self.inactive.fetch_add(1, Ordering::Relaxed);
        let upper = self.u_threshold();
        if upper != 0 && self.active_conns() + self.inactive_conns() >= upper {
            self.overloaded.store(true, Ordering::Relaxed);
        }
    }

    /// A connection is unbound (expired or removed); `was_active` says which
    /// counter it was in. Clears OVERLOAD as IPVS does: below `-y` if set, else
    /// below 3/4 of `-x` if set, else unconditionally.
    pub fn unbind_conn(&self, was_active: bool) {
        if was_active {
            self.active.fetch_sub(1, Ordering::Relaxed);
        } else {
            self.inactive.fetch_sub(1, Ordering::Relaxed);
        }
        let total = self.active_conns() as u64 + self.inactive_conns() as u64;
        let (upper, lower) = (self.u_threshold() as u64, self.l_threshold() as u64);
        let clear = if lower != 0 {
            total < lower
        } else if upper != 0 {
            total * 4 < upper * 3
        } else {
            true
        };
        if clear {
            self.overloaded.store(false, Ordering::Relaxed);
        }
    }

    /// A bound connection entered ESTABLISHED (inactive -> active).
    pub fn conn_became_active(&self) {
        self.inactive.fetch_sub(1, Ordering::Relaxed);
        self.active.fetch_add(1, Ordering::Relaxed);
    }

    /// A bound connection left ESTABLISHED (active -> inactive).
    pub fn conn_became_inactive(&self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
        self.inactive.fetch_add(1, Ordering::Relaxed);
    }

    /// A persistence template now points here.
    pub fn bind_template(&self) {
        self.persistent.fetch_add(1, Ordering::Relaxed);
    }

    /// A persistence template pointing here expired.
    pub fn unbind_template(&self) {
        self.persistent.fetch_sub(1, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dest(upper: u32, lower: u32) -> Dest {
        Dest::new(Ipv4Addr::new(192, 0, 2, 11), 80, Fwd::Nat, 1).with_thresholds(upper, lower)
    }

    #[test]
    fn tunnel_mtu_is_learnt_lowered_only_floored_and_expires() {
        let d = Dest::new(Ipv4Addr::new(192, 0, 2, 11), 80, Fwd::Tun, 1);
        assert_eq!(d.tun_mtu(5), None);
        assert_eq!(d.learn_tun_mtu(1400, 1500, 5), 1400);
        assert_eq!(d.tun_mtu(5), Some(1400));
        assert_eq!(d.learn_tun_mtu(1450, 1500, 6), 1400, "never raised");
        assert_eq!(d.learn_tun_mtu(68, 1500, 7), MIN_PMTU, "floored at 552");
        assert_eq!(d.tun_mtu(7 + PMTU_EXPIRES_SECS - 1), Some(MIN_PMTU));
        assert_eq!(d.tun_mtu(7 + PMTU_EXPIRES_SECS), None, "expired");
        // Near the clock's wrap the comparison still holds.
        let d = Dest::new(Ipv4Addr::new(192, 0, 2, 11), 80, Fwd::Tun, 1);
        assert_eq!(d.learn_tun_mtu(1000, 1500, u32::MAX - 10), 1000);
        assert_eq!(d.tun_mtu(u32::MAX), Some(1000));
        assert_eq!(d.tun_mtu(PMTU_EXPIRES_SECS - 11), None);
    }

    #[test]
    fn overload_is_set_at_upper_and_cleared_below_lower() {
        let d = dest(4, 2);
        for _ in 0..3 {
            d.bind_conn();
        }
        assert!(!d.is_overloaded());
        d.bind_conn(); // total 4 = -x
        assert!(d.is_overloaded());
        d.unbind_conn(false); // 3, not below -y 2
        d.unbind_conn(false); // 2, not below 2
        assert!(d.is_overloaded());
        d.unbind_conn(false); // 1 < 2
        assert!(!d.is_overloaded());
    }

    #[test]
    fn without_lower_overload_clears_below_three_quarters_of_upper() {
        let d = dest(8, 0);
        for _ in 0..8 {
            d.bind_conn();
        }
        assert!(d.is_overloaded());
        d.unbind_conn(false); // 7: 28 < 24? no
        d.unbind_conn(false); // 6: 24 < 24? no
        assert!(d.is_overloaded());
        d.unbind_conn(false); // 5: 20 < 24
        assert!(!d.is_overloaded());
    }

    #[test]
    fn raising_upper_clears_overload_and_counters_move_between_active_and_inactive() {
        let d = dest(1, 0);
        d.bind_conn();
        assert!(d.is_overloaded());
        d.set_thresholds(10, 0);
        assert!(!d.is_overloaded());
        d.conn_became_active();
        assert_eq!(
            (d.active_conns(), d.inactive_conns(), d.overhead()),
            (1, 0, 256)
        );
        d.conn_became_inactive();
        assert_eq!((d.active_conns(), d.inactive_conns()), (0, 1));
        d.bind_template();
        assert_eq!(d.persistent_conns(), 1);
        d.unbind_template();
        d.unbind_conn(false);
        assert_eq!(d.overhead(), 0);
    }
}
