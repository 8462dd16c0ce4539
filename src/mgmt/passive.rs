//! Passive detection, management side: every tick, reads the workers' per-real-server
//! counts of failed new connections ([`Stats::failed_openings`], summed over the
//! workers' blocks) from the published service table and hands the ones new since the
//! last tick to the health monitor ([`crate::mgmt::health::monitor::Monitor::passive`]),
//! which marks a real server down past its service's `[service.passive]` threshold.
//!
//! The workers only count (`lb/conn/passive.rs` says what counts); nothing here writes
//! what a worker reads. Management thread only; allocates per tick, never per packet.
//! [`Manager::passive_poll`] is the management loop's step.

use crate::lb::service::{ServiceKey, ServiceTable};
use crate::lb::stats::Stats;
use crate::mgmt::Manager;
use std::collections::HashMap;
use std::net::Ipv4Addr;
use std::sync::Arc;
use std::time::Instant;

/// A real server of a service, as the monitor names it.
type DestKey = (ServiceKey, Ipv4Addr, u16);

/// The counts read at the last tick, per real server of the published table.
#[derive(Default)]
pub struct PassiveFeed {
    /// The stats object read (a dest re-created, or revived into another service, has
    /// a new one) and its count then.
    last: HashMap<DestKey, (Arc<Stats>, u64)>,
    /// A first read happened: from then on a real server seen for the first time
    /// starts from its current count.
    primed: bool,
}

impl PassiveFeed {
    /// A feed that has read nothing yet.
    pub fn new() -> PassiveFeed {
        PassiveFeed::default()
    }

    /// Reads every real server of `table` and calls `report(service, addr, port, n)`
    /// for each with `n > 0` failed new connections since the previous read. At the
    /// first read every count is news (all counters started with rvsd, a tick ago at
    /// most). Later, a real server read for the first time (added, or back in the
    /// table after it left it, e.g. taken out while DOWN: a revived dest keeps its old
    /// counters) only sets its starting point. One that left the table is forgotten.
    pub fn poll(
        &mut self,
        table: &ServiceTable,
        mut report: impl FnMut(&ServiceKey, Ipv4Addr, u16, u64),
    ) {
        let mut now: HashMap<DestKey, (Arc<Stats>, u64)> = HashMap::with_capacity(self.last.len());
        for svc in table.services() {
            let key = svc.config().key;
            for (d, stats) in svc.dests().iter().zip(svc.dest_stats()) {
                let k = (key, d.addr, d.port);
                let count = stats.failed_openings();
                let n = match self.last.get(&k) {
                    Some((seen, before)) if Arc::ptr_eq(seen, stats) => count.wrapping_sub(*before),
                    Some(_) => 0,
                    None if self.primed => 0,
                    None => count,
                };
                if n > 0 {
                    report(&key, d.addr, d.port, n);
                }
                now.insert(k, (Arc::clone(stats), count));
            }
        }
        self.last = now;
        self.primed = true;
    }

    /// Forgets every count read: the next read only sets starting points (used while
    /// nothing is watched, so counts from then are never news once checks start).
    pub fn forget(&mut self) {
        self.last.clear();
        self.primed = true;
    }
}

impl Manager {
    /// Passive detection's step of the management loop (every tick, before the
    /// monitor's own step): the failed new connections the workers counted since the
    /// last tick go to the health monitor, per real server of the effective table, and
    /// the transitions it decides (DOWN at once past `[service.passive]`) are applied.
    /// Reads nothing while no service is watched.
    pub fn passive_poll(&mut self, feed: &mut PassiveFeed, now: Instant) {
        if !self.health.active() {
            feed.forget();
            return;
        }
        let table = Arc::clone(self.services());
        let monitor = self.health.monitor_mut();
        let mut out = Vec::new();
        feed.poll(&table, |service, addr, port, n| {
            monitor.passive(service, addr, port, n, now, &mut out)
        });
        self.apply_actions(&out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::dest::Fwd;
    use crate::lb::flow::proto;
    use crate::lb::service::{DestConfig, ServiceConfig};

    const VIP: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 10);

    fn key() -> ServiceKey {
        ServiceKey::Addr {
            proto: proto::TCP,
            vip: VIP,
            vport: 80,
        }
    }

    fn rip(d: u8) -> Ipv4Addr {
        Ipv4Addr::new(192, 0, 2, d)
    }

    fn table(reals: &[u8]) -> ServiceTable {
        let mut t = ServiceTable::new(2);
        t.add_service(ServiceConfig::new(key())).unwrap();
        for &r in reals {
            let mut d = DestConfig::new(rip(r), 8080);
            d.fwd = Fwd::Nat;
            t.add_dest(&key(), &d).unwrap();
        }
        t
    }

    /// `n` failures of real server `r`, counted half by each of the two workers.
    fn fail(t: &ServiceTable, r: u8, n: u64) {
        let svc = t.get(&key()).unwrap();
        let i = svc.dests().iter().position(|d| d.addr == rip(r)).unwrap();
        for k in 0..n {
            svc.dest_stats()[i].worker(k as usize).add_failed_opening();
        }
    }

    fn poll(f: &mut PassiveFeed, t: &ServiceTable) -> Vec<(Ipv4Addr, u16, u64)> {
        let mut got = Vec::new();
        f.poll(t, |s, a, p, n| {
            assert_eq!(*s, key());
            got.push((a, p, n));
        });
        got.sort();
        got
    }

    #[test]
    fn reports_only_new_failures_per_real_server() {
        let t = table(&[11, 12, 13]);
        let mut f = PassiveFeed::new();
        fail(&t, 11, 4); // since start, before the first read
        assert_eq!(poll(&mut f, &t), [(rip(11), 8080, 4)]);
        fail(&t, 11, 3);
        fail(&t, 13, 1);
        assert_eq!(poll(&mut f, &t), [(rip(11), 8080, 3), (rip(13), 8080, 1)]);
        assert_eq!(poll(&mut f, &t), [], "nothing new");
        fail(&t, 12, 2);
        assert_eq!(poll(&mut f, &t), [(rip(12), 8080, 2)]);
    }

    #[test]
    fn a_real_server_back_in_the_table_starts_afresh() {
        let mut t = table(&[11, 12]);
        let mut f = PassiveFeed::new();
        poll(&mut f, &t);
        fail(&t, 11, 5);
        // Taken out (DOWN, or -d) before the next read: forgotten.
        t.del_dest(&key(), rip(11), 8080).unwrap();
        assert_eq!(poll(&mut f, &t), []);
        // Back with a new stats object that already counts 2: a starting point only.
        let mut d = DestConfig::new(rip(11), 8080);
        d.fwd = Fwd::Nat;
        t.add_dest(&key(), &d).unwrap();
        fail(&t, 11, 2);
        assert_eq!(poll(&mut f, &t), []);
        fail(&t, 11, 1);
        assert_eq!(poll(&mut f, &t), [(rip(11), 8080, 1)]);
    }

    #[test]
    fn after_forget_counts_are_starting_points() {
        let t = table(&[11]);
        let mut f = PassiveFeed::new();
        fail(&t, 11, 2);
        f.forget(); // nothing watched: never read
        assert_eq!(poll(&mut f, &t), [], "counts from before are not news");
        fail(&t, 11, 1);
        assert_eq!(poll(&mut f, &t), [(rip(11), 8080, 1)]);
    }

    #[test]
    fn a_replaced_stats_object_is_a_new_starting_point() {
        let mut t = table(&[11]);
        let mut f = PassiveFeed::new();
        fail(&t, 11, 9);
        poll(&mut f, &t);
        // Removed and re-added between two reads: same key, another stats object.
        t.del_dest(&key(), rip(11), 8080).unwrap();
        let mut d = DestConfig::new(rip(11), 8080);
        d.fwd = Fwd::Nat;
        t.add_dest(&key(), &d).unwrap();
        fail(&t, 11, 1);
        assert_eq!(poll(&mut f, &t), [], "no wrap from 9 down to 1");
        fail(&t, 11, 1);
        assert_eq!(poll(&mut f, &t), [(rip(11), 8080, 1)]);
    }
}
