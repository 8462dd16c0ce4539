//! `wlc`: weighted least connection, the ipvsadm default.
//!
//! Least overhead / weight, with overhead = active * 256 + inactive. Compared by
//! cross-multiplying in 64 bits, never dividing: `B` beats the current least `A` when
//! `overhead(A) * weight(B) > overhead(B) * weight(A)`. The first candidate is the first
//! dest with weight > 0 not OVERLOADed; after it, weight-0 dests can never win (the
//! left side is 0), exactly as in IPVS. Ties keep the earlier dest.
//!
//! Workers: stateless, reads live counters (see `lc`).

use std::sync::Arc;

use super::{idx, selectable, Scheduler};
use crate::lb::dest::{Dest, DestIdx};
use crate::lb::flow::FlowKey;

/// Weighted least-connection scheduler (no state).
#[derive(Debug, Default, Clone, Copy)]
pub struct Wlc;

/// The wlc search with a pluggable overhead; sed and the lblc family reuse it.
pub(crate) fn least_weighted(
    dests: &[Arc<Dest>],
    overhead: impl Fn(&Dest) -> u64,
) -> Option<usize> {
    let first = dests.iter().position(|d| selectable(d))?;
    let (mut least, mut loh) = (first, overhead(&dests[first]) as i128);
    for (i, d) in dests.iter().enumerate().skip(first + 1) {
        if d.is_overloaded() {
            continue;
        }
        let doh = overhead(d) as i128;
        if loh * d.weight() as i128 > doh * dests[least].weight() as i128 {
            least = i;
            loh = doh;
        }
    }
    Some(least)
}

impl Scheduler for Wlc {
    fn name(&self) -> &'static str {
        "wlc"
    }

    fn pick(&self, dests: &[Arc<Dest>], _flow: &FlowKey) -> Option<DestIdx> {
        least_weighted(dests, Dest::overhead).map(idx)
    }

    fn fork(&self) -> Box<dyn Scheduler> {
        Box::new(Wlc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::sched::testutil::{dests, run};

    #[test]
    fn weighted_picks() {
        let d = dests(&[1, 2, 3]);
        // 0/1, 0/2, 0/3 tie -> first; then the lowest conns/weight, ties to the earlier.
        assert_eq!(run(&Wlc, &d, 7), [0, 1, 2, 2, 1, 2, 0].map(Some));
    }

    /// F12: weights up to IPVS's INT_MAX (the config file's and the socket's bound):
    /// the cross-multiplied comparison (i128 here, 64-bit in IPVS) cannot overflow.
    #[test]
    fn int_max_weights_compare_without_overflow() {
        let d = dests(&[i32::MAX, 70000]);
        assert_eq!(run(&Wlc, &d, 4), [0, 1, 0, 0].map(Some));
    }

    #[test]
    fn zero_weight_and_overloaded_never_chosen() {
        let d = dests(&[0, 1, 1]);
        d[1].set_thresholds(1, 0);
        d[1].bind_conn();
        assert!(d[1].is_overloaded());
        assert_eq!(run(&Wlc, &d, 3), [2, 2, 2].map(Some));
    }
}
