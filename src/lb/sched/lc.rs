//! `lc`: least connection.
//!
//! The dest with the least overhead (active * 256 + inactive, `Dest::overhead`) among
//! those with weight > 0 and not OVERLOADed; the weight's size does not matter. Ties go
//! to the first dest in list order (strict `<`).
//!
//! Workers: stateless; each pick reads the live counters, so two workers picking at the
//! same instant may both choose the same least-loaded dest (IPVS has the same race).

use std::sync::Arc;

use super::{idx, selectable, Scheduler};
use crate::lb::dest::{Dest, DestIdx};
use crate::lb::flow::FlowKey;

/// Least-connection scheduler (no state).
#[derive(Debug, Default, Clone, Copy)]
pub struct Lc;

impl Scheduler for Lc {
    fn name(&self) -> &'static str {
        "lc"
    }

    fn pick(&self, dests: &[Arc<Dest>], _flow: &FlowKey) -> Option<DestIdx> {
        let mut least: Option<(usize, u64)> = None;
        for (i, d) in dests.iter().enumerate() {
            if !selectable(d) {
                continue;
            }
            let doh = d.overhead();
            if least.is_none_or(|(_, loh)| doh < loh) {
                least = Some((i, doh));
            }
        }
        least.map(|(i, _)| idx(i))
    }

    fn fork(&self) -> Box<dyn Scheduler> {
        Box::new(Lc)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::sched::testutil::{dests, run};

    #[test]
    fn least_overhead_first_on_ties_weight_ignored() {
        let d = dests(&[3, 2, 0, 1]);
        // UDP-like: every bind is inactive, so the picks rotate over the three weighted.
        assert_eq!(run(&Lc, &d, 6), [0, 1, 3, 0, 1, 3].map(Some));
        // One active conn on dest 0 costs 256 inactive ones.
        d[0].conn_became_active();
        assert_eq!(run(&Lc, &d, 3), [1, 3, 1].map(Some));
    }

    #[test]
    fn none_without_candidates() {
        assert_eq!(run(&Lc, &dests(&[0]), 1), [None]);
    }
}
