//! `sh`: source hashing.
//!
//! A static 256-bucket table (IPVS `CONFIG_IP_VS_SH_TAB_BITS` = 8) hashed on the source
//! address, `hash_32(ntohl(saddr) + sport, 8)` in kernels since 4.x (the port term only
//! with `sh-port`, else 0). The table is filled by walking the dest list and giving each
//! dest `weight` consecutive buckets; a weight-0 dest still gets one bucket (IPVS's
//! `++count >= weight` test), so quiescing a dest does not move the others.
//!
//! A pick whose bucket dest has weight <= 0 or is OVERLOADed gives no dest, unless
//! `sh-fallback`: then IPVS rehashes with offsets `ihash + k` (`k = 0..255`, hash
//! offset added before masking) until an available dest turns up.
//! Old kernels (before 4.x) hashed with `(ntohl(saddr) * 2654435761) & 255` and had no
//! flags; rvs matches the current kernels (recorded against 6.1).
//!
//! Workers: the table is read-only after `rebuild`.

use std::sync::Arc;

use super::{hash_32, idx, selectable, SchedFlags, Scheduler};
use crate::lb::dest::{Dest, DestIdx};
use crate::lb::flow::FlowKey;

/// log2 of the bucket count.
pub const TABLE_BITS: u32 = 8;
/// Bucket count.
pub const TABLE_SIZE: usize = 1 << TABLE_BITS;
const EMPTY: u16 = u16::MAX;

/// Source-hashing table and flags.
#[derive(Debug, Clone)]
pub struct Sh {
    buckets: Box<[u16; TABLE_SIZE]>,
    fallback: bool,
    port: bool,
}

impl Sh {
    /// An empty table; flag-1 = sh-fallback, flag-2 = sh-port.
    pub fn new(flags: SchedFlags) -> Self {
        Sh {
            buckets: Box::new([EMPTY; TABLE_SIZE]),
            fallback: flags.has(SchedFlags::FLAG1),
            port: flags.has(SchedFlags::FLAG2),
        }
    }

    fn hashkey(saddr: u32, port: u16, offset: u32) -> usize {
        (offset.wrapping_add(hash_32(saddr.wrapping_add(u32::from(port)), TABLE_BITS)) as usize)
            & (TABLE_SIZE - 1)
    }
}

impl Scheduler for Sh {
    fn name(&self) -> &'static str {
        "sh"
    }

    fn rebuild(&mut self, dests: &[Arc<Dest>]) {
        let (mut p, mut count) = (0usize, 0i32);
        for b in self.buckets.iter_mut() {
            if dests.is_empty() {
                *b = EMPTY;
                continue;
            }
            *b = p as u16;
            count += 1;
            if count >= dests[p].weight() {
                p = (p + 1) % dests.len();
                count = 0;
            }
        }
    }

    fn pick(&self, dests: &[Arc<Dest>], flow: &FlowKey) -> Option<DestIdx> {
        let saddr = u32::from(flow.saddr);
        let port = if self.port { flow.sport } else { 0 };
        let ihash = Sh::hashkey(saddr, port, 0);
        let first = dests.get(self.buckets[ihash] as usize)?;
        if selectable(first) {
            return Some(idx(self.buckets[ihash] as usize));
        }
        if !self.fallback {
            return None;
        }
        for off in 0..TABLE_SIZE as u32 {
            let roff = (off + ihash as u32) % TABLE_SIZE as u32;
            let i = self.buckets[Sh::hashkey(saddr, port, roff)] as usize;
            let d = dests.get(i)?;
            if selectable(d) {
                return Some(idx(i));
            }
        }
        None
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
    fn buckets_follow_weights_and_zero_gets_one() {
        let d = dests(&[3, 0, 1]);
        let mut s = Sh::new(SchedFlags::default());
        s.rebuild(&d);
        assert_eq!(&s.buckets[..9], &[0, 0, 0, 1, 2, 0, 0, 0, 1]);
    }

    #[test]
    fn hash_matches_kernel_hash_32_and_fallback_walks() {
        let d = dests(&[1, 1]);
        let mut s = Sh::new(SchedFlags::default());
        s.rebuild(&d);
        let f = flow(Ipv4Addr::new(192, 0, 2, 10), 5);
        let h = (0xc000_020au32.wrapping_mul(0x61C8_8647) >> 24) as u16;
        assert_eq!(s.pick(&d, &f), Some(DestIdx(h % 2)));
        d[(h % 2) as usize].set_weight(0);
        assert_eq!(s.pick(&d, &f), None);
        let mut fb = Sh::new(SchedFlags(SchedFlags::FLAG1));
        fb.rebuild(&d);
        assert_eq!(fb.pick(&d, &f), Some(DestIdx(1 - h % 2)));
    }

    #[test]
    fn port_flag_spreads_one_source() {
        let d = dests(&[1, 1, 1, 1]);
        let mut s = Sh::new(SchedFlags(SchedFlags::FLAG2));
        s.rebuild(&d);
        let mut seen = [false; 4];
        for p in 0..64 {
            let x = s
                .pick(&d, &flow(Ipv4Addr::new(192, 0, 2, 10), 40000 + p))
                .unwrap();
            seen[x.0 as usize] = true;
        }
        assert_eq!(seen, [true; 4]);
    }
}
