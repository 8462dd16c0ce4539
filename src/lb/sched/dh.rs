//! `dh`: destination hashing.
//!
//! A static 256-bucket table hashed on the packet's destination address with the
//! kernel's `hash_32(ntohl(daddr), 8)` (current kernels; before 4.x IPVS used
//! `(ntohl(daddr) * 2654435761) & 255`, which the oracle recording on 6.1 rules out). The table is filled by walking the dest list
//! round robin, one bucket per dest, weights ignored (unlike sh). A bucket whose dest is
//! unavailable, quiesced (weight 0) or OVERLOADed gives no dest: there is no fallback.
//!
//! Workers: the table is read-only after `rebuild`; nothing is shared for writing.

use std::sync::Arc;

use super::{hash_32, idx, Scheduler};
use crate::lb::dest::{Dest, DestIdx};
use crate::lb::flow::FlowKey;

/// Bucket count (IPVS `IP_VS_DH_TAB_BITS` = 8).
pub const TABLE_SIZE: usize = 256;
const EMPTY: u16 = u16::MAX;

/// Destination-hashing table.
#[derive(Debug, Clone)]
pub struct Dh {
    /// Dest index per bucket, `EMPTY` when the service has no dest.
    buckets: Box<[u16; TABLE_SIZE]>,
}

impl Dh {
    /// An empty table.
    pub fn new() -> Self {
        Dh {
            buckets: Box::new([EMPTY; TABLE_SIZE]),
        }
    }

    /// The bucket of a destination address.
    pub fn bucket(daddr: std::net::Ipv4Addr) -> usize {
        hash_32(u32::from(daddr), 8) as usize
    }
}

impl Default for Dh {
    fn default() -> Self {
        Dh::new()
    }
}

impl Scheduler for Dh {
    fn name(&self) -> &'static str {
        "dh"
    }

    fn rebuild(&mut self, dests: &[Arc<Dest>]) {
        for (i, b) in self.buckets.iter_mut().enumerate() {
            *b = if dests.is_empty() {
                EMPTY
            } else {
                (i % dests.len()) as u16
            };
        }
    }

    fn pick(&self, dests: &[Arc<Dest>], flow: &FlowKey) -> Option<DestIdx> {
        let i = self.buckets[Dh::bucket(flow.daddr)] as usize;
        let d = dests.get(i)?;
        (d.is_available() && d.weight() > 0 && !d.is_overloaded()).then(|| idx(i))
    }

    fn fork(&self) -> Box<dyn Scheduler> {
        Box::new(self.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lb::sched::testutil::{dests, flow};
    use std::net::Ipv4Addr;

    #[test]
    fn same_daddr_same_dest_and_no_fallback() {
        let d = dests(&[1, 9, 1]);
        let mut s = Dh::new();
        s.rebuild(&d);
        let mut f = flow(Ipv4Addr::new(192, 0, 2, 7), 1);
        f.daddr = Ipv4Addr::new(203, 0, 113, 2);
        // bucket = hash_32(0xcb007102, 8), then bucket % 3.
        let b = Dh::bucket(f.daddr);
        assert_eq!(b, (0xcb00_7102u32.wrapping_mul(0x61C8_8647) >> 24) as usize);
        let want = DestIdx((b % 3) as u16);
        assert_eq!(s.pick(&d, &f), Some(want));
        d[want.0 as usize].set_weight(0);
        assert_eq!(s.pick(&d, &f), None);
        assert_eq!(Dh::new().pick(&[], &f), None);
    }
}
