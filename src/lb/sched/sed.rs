//! `sed`: shortest expected delay.
//!
//! Least (active + 1) / weight; inactive connections are ignored. Same two-stage search
//! and cross-multiplication as `wlc`, first candidate = first dest with weight > 0 not
//! OVERLOADed, ties keep the earlier dest.
//!
//! Workers: stateless, reads live counters.

use std::sync::Arc;

use super::wlc::least_weighted;
use super::{idx, Scheduler};
use crate::lb::dest::{Dest, DestIdx};
use crate::lb::flow::FlowKey;

/// Shortest-expected-delay scheduler (no state).
#[derive(Debug, Default, Clone, Copy)]
pub struct Sed;

impl Scheduler for Sed {
    fn name(&self) -> &'static str {
        "sed"
    }

    fn pick(&self, dests: &[Arc<Dest>], _flow: &FlowKey) -> Option<DestIdx> {
        least_weighted(dests, |d| u64::from(d.active_conns()) + 1).map(idx)
    }

    fn fork(&self) -> Box<dyn Scheduler> {
        Box::new(Sed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::sched::testutil::{dests, run};

    #[test]
    fn inactive_ignored_heaviest_first() {
        let d = dests(&[2, 3, 3]);
        // Binds are inactive: (0+1)/w never changes, so always the first weight 3.
        assert_eq!(run(&Sed, &d, 3), [1, 1, 1].map(Some));
        d[1].conn_became_active(); // 2/3 vs 1/3 -> dest 2
        assert_eq!(run(&Sed, &d, 1), [Some(2)]);
    }
}
