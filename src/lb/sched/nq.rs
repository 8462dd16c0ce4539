//! `nq`: never queue.
//!
//! The first dest (list order, weight > 0, not OVERLOADed) with no active connection wins
//! outright; otherwise least (active + 1) / weight as `sed`, ties to the earlier dest.
//!
//! Workers: stateless, reads live counters.

use std::sync::Arc;

use super::{idx, selectable, Scheduler};
use crate::lb::dest::{Dest, DestIdx};
use crate::lb::flow::FlowKey;

/// Never-queue scheduler (no state).
#[derive(Debug, Default, Clone, Copy)]
pub struct Nq;

impl Scheduler for Nq {
    fn name(&self) -> &'static str {
        "nq"
    }

    fn pick(&self, dests: &[Arc<Dest>], _flow: &FlowKey) -> Option<DestIdx> {
        let mut least: Option<(usize, i128)> = None;
        for (i, d) in dests.iter().enumerate() {
            if !selectable(d) {
                continue;
            }
            let active = d.active_conns();
            if active == 0 {
                return Some(idx(i));
            }
            let doh = i128::from(active) + 1;
            let better = match least {
                None => true,
                Some((l, loh)) => loh * d.weight() as i128 > doh * dests[l].weight() as i128,
            };
            if better {
                least = Some((i, doh));
            }
        }
        least.map(|(i, _)| idx(i))
    }

    fn fork(&self) -> Box<dyn Scheduler> {
        Box::new(Nq)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::sched::testutil::{activate, dests, run};

    #[test]
    fn idle_first_then_expected_delay() {
        let d = dests(&[1, 3, 2]);
        assert_eq!(run(&Nq, &d, 2), [0, 0].map(Some));
        activate(&d[0]);
        assert_eq!(run(&Nq, &d, 1), [Some(1)]);
        activate(&d[1]);
        activate(&d[2]);
        // 2/1, 2/3, 2/2 -> dest 1
        assert_eq!(run(&Nq, &d, 1), [Some(1)]);
    }
}
