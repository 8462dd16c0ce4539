//! `ovf`: weighted overflow.
//!
//! The highest-weight dest whose active connections do not exceed its weight (and with
//! weight > 0, not OVERLOADed); first in list order on ties. When the best server fills
//! up (active > weight), new connections overflow to the next-highest weight.
//!
//! Workers: stateless, reads live counters.

use std::sync::Arc;

use super::{idx, Scheduler};
use crate::lb::dest::{Dest, DestIdx};
use crate::lb::flow::FlowKey;

/// Weighted-overflow scheduler (no state).
#[derive(Debug, Default, Clone, Copy)]
pub struct Ovf;

impl Scheduler for Ovf {
    fn name(&self) -> &'static str {
        "ovf"
    }

    fn pick(&self, dests: &[Arc<Dest>], _flow: &FlowKey) -> Option<DestIdx> {
        let mut best: Option<(usize, i32)> = None;
        for (i, d) in dests.iter().enumerate() {
            let w = d.weight();
            if d.is_overloaded() || w <= 0 || i64::from(d.active_conns()) > i64::from(w) {
                continue;
            }
            if best.is_none_or(|(_, hw)| w > hw) {
                best = Some((i, w));
            }
        }
        best.map(|(i, _)| idx(i))
    }

    fn fork(&self) -> Box<dyn Scheduler> {
        Box::new(Ovf)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::sched::testutil::{activate, dests, run};

    #[test]
    fn overflows_when_active_exceeds_weight() {
        let d = dests(&[2, 4, 4]);
        assert_eq!(run(&Ovf, &d, 1), [Some(1)]);
        for _ in 0..5 {
            activate(&d[1]);
        }
        assert_eq!(run(&Ovf, &d, 1), [Some(2)]);
        for _ in 0..5 {
            activate(&d[2]);
        }
        assert_eq!(run(&Ovf, &d, 1), [Some(0)]);
    }
}
