//! `fo`: weighted failover.
//!
//! The dest with the highest weight among those with weight > 0 and not OVERLOADed;
//! the first one in list order on ties. Connection counts play no part.
//!
//! Workers: stateless.

use std::sync::Arc;

use super::{idx, Scheduler};
use crate::lb::dest::{Dest, DestIdx};
use crate::lb::flow::FlowKey;

/// Weighted-failover scheduler (no state).
#[derive(Debug, Default, Clone, Copy)]
pub struct Fo;

impl Scheduler for Fo {
    fn name(&self) -> &'static str {
        "fo"
    }

    fn pick(&self, dests: &[Arc<Dest>], _flow: &FlowKey) -> Option<DestIdx> {
        let mut hw = 0;
        let mut best = None;
        for (i, d) in dests.iter().enumerate() {
            let w = d.weight();
            if !d.is_overloaded() && w > hw {
                hw = w;
                best = Some(idx(i));
            }
        }
        best
    }

    fn fork(&self) -> Box<dyn Scheduler> {
        Box::new(Fo)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::sched::testutil::{dests, run};

    #[test]
    fn highest_weight_first_on_ties_then_failover() {
        let d = dests(&[2, 5, 5, 1]);
        assert_eq!(run(&Fo, &d, 2), [1, 1].map(Some));
        d[1].set_weight(0);
        assert_eq!(run(&Fo, &d, 1), [Some(2)]);
        d[2].set_thresholds(1, 0);
        assert_eq!(run(&Fo, &d, 2), [2, 0].map(Some));
    }
}
