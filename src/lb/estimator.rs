//! Rate estimation for `ipvsadm -L --rate` (CPS, InPPS, OutPPS, InBPS, OutBPS), the way
//! IPVS estimates them (see the description at the top of the kernel's ip_vs_est.c):
//! every 2 seconds, take the counter deltas and fold them into exponentially weighted
//! moving averages with weight 1/4 (`avg += (rate - avg) >> 2`). Averages are kept in
//! fixed point as IPVS does: connection and packet rates scaled by 2^10 (a 2 s delta
//! shifted left by 9), byte rates by 2^5 (delta shifted left by 4); reading rounds with
//! `(avg + 0x1FF) >> 10` and `(avg + 0xF) >> 5`. rvs uses 64-bit arithmetic, so the
//! kernel's 32-bit overflow limits (about 2 Gbit/s) do not apply.
//!
//! The management thread owns the estimators and calls [`Estimator::tick`] every
//! [`INTERVAL_SECS`] with a fresh [`StatsSnapshot`]; workers never see them.

use crate::lb::stats::StatsSnapshot;

/// Sampling period, as IPVS.
pub const INTERVAL_SECS: u64 = 2;

/// The five rates, per second.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rates {
    /// Connections per second.
    pub cps: u64,
    /// Packets per second, client -> server.
    pub in_pps: u64,
    /// Packets per second, server -> client.
    pub out_pps: u64,
    /// Bytes per second, client -> server.
    pub in_bps: u64,
    /// Bytes per second, server -> client.
    pub out_bps: u64,
}

/// EWMA state of one service or dest.
#[derive(Clone, Copy, Debug, Default)]
pub struct Estimator {
    last: StatsSnapshot,
    /// Scaled by 2^10.
    cps: i64,
    in_pps: i64,
    out_pps: i64,
    /// Scaled by 2^5.
    in_bps: i64,
    out_bps: i64,
}

fn fold(avg: &mut i64, delta: u64, shift: u32) {
    let rate = (delta as i64) << shift;
    *avg += (rate - *avg) >> 2;
}

impl Estimator {
    /// Starts from `now` with all rates 0 (IPVS starts an estimator the same way).
    pub fn new(now: StatsSnapshot) -> Self {
        Estimator {
            last: now,
            ..Default::default()
        }
    }

    /// One 2-second sample.
    pub fn tick(&mut self, now: StatsSnapshot) {
        let d = |a: u64, b: u64| a.wrapping_sub(b);
        fold(&mut self.cps, d(now.conns, self.last.conns), 9);
        fold(&mut self.in_pps, d(now.in_pkts, self.last.in_pkts), 9);
        fold(&mut self.out_pps, d(now.out_pkts, self.last.out_pkts), 9);
        fold(&mut self.in_bps, d(now.in_bytes, self.last.in_bytes), 4);
        fold(&mut self.out_bps, d(now.out_bytes, self.last.out_bytes), 4);
        self.last = now;
    }

    /// Current rates, rounded as IPVS reports them.
    pub fn rates(&self) -> Rates {
        let r10 = |v: i64| ((v.max(0) + 0x1FF) >> 10) as u64;
        let r5 = |v: i64| ((v.max(0) + 0xF) >> 5) as u64;
        Rates {
            cps: r10(self.cps),
            in_pps: r10(self.in_pps),
            out_pps: r10(self.out_pps),
            in_bps: r5(self.in_bps),
            out_bps: r5(self.out_bps),
        }
    }

    /// `ipvsadm -Z`: rates back to 0, counting from `now`.
    pub fn zero(&mut self, now: StatsSnapshot) {
        *self = Estimator::new(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converges_to_steady_rate() {
        let mut e = Estimator::new(StatsSnapshot::default());
        let mut s = StatsSnapshot::default();
        // 100 conn/s, 1000 pkt/s, 1 MB/s in; first sample gives a quarter of the rate.
        let step = |s: &mut StatsSnapshot| {
            s.conns += 200;
            s.in_pkts += 2000;
            s.in_bytes += 2_000_000;
        };
        step(&mut s);
        e.tick(s);
        assert_eq!(e.rates().cps, 25);
        assert_eq!(e.rates().in_pps, 250);
        for _ in 0..60 {
            step(&mut s);
            e.tick(s);
        }
        let r = e.rates();
        assert_eq!(
            (r.cps, r.in_pps, r.in_bps, r.out_pps),
            (100, 1000, 1_000_000, 0)
        );
        // Traffic stops: the averages decay by 3/4 per sample.
        e.tick(s);
        assert_eq!(e.rates().cps, 75);
    }
}
