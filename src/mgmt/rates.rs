//! The 2-second rate estimation of every service and real server (IPVS's estimator:
//! sample the counters every 2 s, exponentially weighted averages), driven by the
//! management thread, never by a worker.

use crate::lb::estimator::{Estimator, Rates};
use crate::lb::service::ServiceTable;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// IPVS samples its counters every 2 seconds.
pub const SAMPLE_INTERVAL: Duration = Duration::from_secs(2);

/// Estimators keyed by (service key, dest address, dest port); the service's own has
/// dest `None`.
type Key = (
    crate::lb::service::ServiceKey,
    Option<(std::net::Ipv4Addr, u16)>,
);

/// The estimators of one service table, ticked every [`SAMPLE_INTERVAL`].
pub struct RateTracker {
    est: HashMap<Key, Estimator>,
    last: Option<Instant>,
}

impl Default for RateTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl RateTracker {
    /// No samples yet.
    pub fn new() -> Self {
        RateTracker {
            est: HashMap::new(),
            last: None,
        }
    }

    /// Samples `table` if 2 s passed since the last sample (call it often).
    pub fn poll(&mut self, table: &ServiceTable, now: Instant) {
        if self
            .last
            .is_some_and(|l| now.duration_since(l) < SAMPLE_INTERVAL)
        {
            return;
        }
        self.last = Some(now);
        self.sample(table);
    }

    /// Takes one sample of every service and dest (new ones start from their current counters).
    pub fn sample(&mut self, table: &ServiceTable) {
        for svc in table.services() {
            let key = svc.config().key;
            let snap = svc.stats().sum();
            self.est
                .entry((key, None))
                .and_modify(|e| e.tick(snap))
                .or_insert_with(|| Estimator::new(snap));
            for (d, ds) in svc.dests().iter().zip(svc.dest_stats()) {
                let snap = ds.sum();
                self.est
                    .entry((key, Some((d.addr, d.port))))
                    .and_modify(|e| e.tick(snap))
                    .or_insert_with(|| Estimator::new(snap));
            }
        }
    }

    /// `ipvsadm -Z`: the rates of `key`'s service and its dests (every service when
    /// `None`) restart from 0, counting from their (just zeroed) counters in `table`.
    pub fn zero(&mut self, table: &ServiceTable, key: Option<crate::lb::service::ServiceKey>) {
        for svc in table.services() {
            let k = svc.config().key;
            if key.is_some_and(|z| z != k) {
                continue;
            }
            if let Some(e) = self.est.get_mut(&(k, None)) {
                e.zero(svc.stats().sum());
            }
            for (d, ds) in svc.dests().iter().zip(svc.dest_stats()) {
                if let Some(e) = self.est.get_mut(&(k, Some((d.addr, d.port)))) {
                    e.zero(ds.sum());
                }
            }
        }
    }

    /// The estimated rates of a service (`dest` None) or one of its real servers.
    pub fn rates(
        &self,
        key: crate::lb::service::ServiceKey,
        dest: Option<(std::net::Ipv4Addr, u16)>,
    ) -> Rates {
        self.est
            .get(&(key, dest))
            .map(|e| e.rates())
            .unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::flow::proto;
    use crate::lb::service::ServiceKey;
    use crate::testkit::testbed::{director, tcp_frame, CLIENT_MAC, PORT_MAC};
    use crate::wire::HeadroomBuf;
    use std::net::Ipv4Addr;

    #[test]
    fn rates_follow_the_counters_of_services_and_dests() {
        let (mut lb, publisher) = director(4096, "rr");
        let mut rt = RateTracker::new();
        rt.sample(publisher.services());
        let vip = Ipv4Addr::new(203, 0, 113, 10);
        // 200 new connections between two samples: 100 per second over 2 s.
        for i in 0..200u16 {
            let f = tcp_frame(
                Ipv4Addr::new(203, 0, 113, 2),
                30000 + i,
                vip,
                80,
                0x02,
                PORT_MAC,
                CLIENT_MAC,
            );
            lb.handle(0, &mut HeadroomBuf::new(&f), 1);
        }
        rt.sample(publisher.services());
        let key = ServiceKey::Addr {
            proto: proto::TCP,
            vip,
            vport: 80,
        };
        let r = rt.rates(key, None);
        assert!(r.cps > 0 && r.in_pps > 0 && r.in_bps > 0, "{r:?}");
        // Idle afterwards: the exponentially weighted averages decay towards 0.
        for _ in 0..20 {
            rt.sample(publisher.services());
        }
        assert!(rt.rates(key, None).cps < r.cps);
        let rip = publisher
            .services()
            .lookup(proto::TCP, vip, 80)
            .unwrap()
            .dests()[0]
            .addr;
        let _ = rt.rates(key, Some((rip, 8080)));
    }
}
