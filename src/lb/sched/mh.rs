//! `mh`: Maglev hashing (Eisenbud et al., NSDI 2016, §3.4), as IPVS does it.
//!
//! Each dest gets a permutation of the `M` table slots from two hashes of its address
//! and port (`offset = h1 % M`, `skip = h2 % (M - 1) + 1`); the table is filled round
//! by round, each dest taking its next free preferred slot `turns` times per round,
//! until all `M` slots are taken. A flow looks up slot `h1(saddr [+ sport]) % M`.
//!
//! IPVS details kept so that rvs picks the same dests as the kernel:
//! - the hash is the kernel's `hsiphash` of the 32-bit value `offset + port + addr`
//!   (host order) with the fixed keys IPVS uses (on 64-bit kernels `hsiphash` is
//!   SipHash-1-3 with two 64-bit key words, truncated to 32 bits);
//! - `turns` = `(last_weight / gcd) >> rshift`, or 1 if that is 0 but the weight is not,
//!   where `rshift` = bit length of `max/gcd` minus `bits` (never negative) and `bits`
//!   = half the table's index (6 for 4093): big weight ratios are compressed;
//! - the table is sized by `last_weight` (the latest non-zero weight): a quiesced dest
//!   keeps its slots and its flows get no dest, or another one with `mh-fallback`
//!   (rehash with offsets `ihash + k` until an available dest turns up); a dest added
//!   with weight 0 takes no slot at all;
//! - `mh-port` adds the source port to the flow hash.
//!
//! Table size: IPVS uses `primes[CONFIG_IP_VS_MH_TAB_INDEX - 8]`, a build-time choice
//! among [`IPVS_SIZES`]; Debian's kernel (index 12) has 4093, recorded in
//! `tests/fixtures/oracle/sched/`. rvs defaults to the same 4093
//! ([`DEFAULT_TABLE_SIZE`]) so that every mh flow goes where the kernel sends it, and a
//! service may choose another of the kernel's primes (`mh_table_size` in the config) to
//! match a kernel built with another index, or for finer balance with many dests
//! (65521 keeps the imbalance under 1% up to ~650 dests). Other sizes are refused.
//!
//! Workers: the table is read-only after `rebuild`.

use std::sync::Arc;

use super::{gcd, idx, selectable, SchedFlags, Scheduler};
use crate::lb::dest::{Dest, DestIdx};
use crate::lb::flow::FlowKey;

/// The table sizes a kernel can be built with: IPVS's `primes[]`, indexed by
/// `CONFIG_IP_VS_MH_TAB_INDEX - 8` (index 8..=17).
pub const IPVS_SIZES: [u32; 10] = [
    251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
];
/// The kernel's default (`CONFIG_IP_VS_MH_TAB_INDEX` = 12, Debian's build).
pub const IPVS_TABLE_SIZE: u32 = 4093;
/// rvs's default lookup table size: the kernel's, so mh choices equal IPVS's.
pub const DEFAULT_TABLE_SIZE: u32 = IPVS_TABLE_SIZE;
const EMPTY: u16 = u16::MAX;
const KEY1: [u64; 2] = [2_654_435_761, 2_654_435_761];
const KEY2: [u64; 2] = [2_654_446_892, 2_654_446_892];

/// Maglev lookup table and flags.
#[derive(Debug, Clone)]
pub struct Mh {
    /// Dest index per slot (`EMPTY` when no dest has a weight); `len()` = M.
    table: Vec<u16>,
    /// IPVS `IP_VS_MH_TAB_BITS`, used to compress large weight ratios.
    bits: u32,
    fallback: bool,
    port: bool,
}

/// The kernel's `hsiphash(&v, 4, key)` on 64-bit: SipHash-1-3 of 4 little-endian bytes.
pub fn hsiphash_u32(v: u32, key: &[u64; 2]) -> u32 {
    let mut s = [
        0x736f_6d65_7073_6575u64 ^ key[0],
        0x646f_7261_6e64_6f6du64 ^ key[1],
        0x6c79_6765_6e65_7261u64 ^ key[0],
        0x7465_6462_7974_6573u64 ^ key[1],
    ];
    fn round(s: &mut [u64; 4]) {
        s[0] = s[0].wrapping_add(s[1]);
        s[1] = s[1].rotate_left(13) ^ s[0];
        s[0] = s[0].rotate_left(32);
        s[2] = s[2].wrapping_add(s[3]);
        s[3] = s[3].rotate_left(16) ^ s[2];
        s[0] = s[0].wrapping_add(s[3]);
        s[3] = s[3].rotate_left(21) ^ s[0];
        s[2] = s[2].wrapping_add(s[1]);
        s[1] = s[1].rotate_left(17) ^ s[2];
        s[2] = s[2].rotate_left(32);
    }
    let b = (4u64 << 56) | u64::from(v);
    s[3] ^= b;
    round(&mut s);
    s[0] ^= b;
    s[2] ^= 0xff;
    round(&mut s);
    round(&mut s);
    round(&mut s);
    ((s[0] ^ s[1]) ^ (s[2] ^ s[3])) as u32
}

impl Mh {
    /// An empty table of `size` slots; `None` unless `size` is one of [`IPVS_SIZES`]
    /// (flag-1 = mh-fallback, flag-2 = mh-port).
    pub fn new(flags: SchedFlags, size: u32) -> Option<Self> {
        if !IPVS_SIZES.contains(&size) {
            return None;
        }
        Some(Mh {
            table: vec![EMPTY; size as usize],
            bits: (32 - (size - 1).leading_zeros()) / 2,
            fallback: flags.has(SchedFlags::FLAG1),
            port: flags.has(SchedFlags::FLAG2),
        })
    }

    fn m(&self) -> u32 {
        self.table.len() as u32
    }

    fn slot(&self, addr: u32, port: u16, offset: u32) -> usize {
        let v = offset.wrapping_add(u32::from(port)).wrapping_add(addr);
        (hsiphash_u32(v, &KEY1) % self.m()) as usize
    }

    /// Slots held by each dest, for tests and `rvsadm` diagnostics.
    pub fn slots_per_dest(&self, n: usize) -> Vec<usize> {
        let mut c = vec![0; n];
        for &t in &self.table {
            if let Some(x) = c.get_mut(t as usize) {
                *x += 1;
            }
        }
        c
    }
}

impl Scheduler for Mh {
    fn name(&self) -> &'static str {
        "mh"
    }

    fn rebuild(&mut self, dests: &[Arc<Dest>]) {
        let m = self.m();
        self.table.iter_mut().for_each(|t| *t = EMPTY);
        let g = dests
            .iter()
            .map(|d| d.last_weight())
            .filter(|&w| w > 0)
            .fold(0, gcd);
        if g < 1 || dests.len() >= EMPTY as usize {
            return;
        }
        let max_w = dests.iter().map(|d| d.last_weight()).max().unwrap_or(0);
        let bitlen = 32 - ((max_w / g) as u32).leading_zeros();
        let rshift = bitlen.saturating_sub(self.bits);
        // (next preferred slot, skip, turns) per dest
        let mut setup: Vec<(u32, u32, i32)> = dests
            .iter()
            .map(|d| {
                let v = u32::from(d.addr).wrapping_add(u32::from(d.port));
                let offset = hsiphash_u32(v, &KEY1) % m;
                let skip = hsiphash_u32(v, &KEY2) % (m - 1) + 1;
                let lw = d.last_weight();
                let t = (lw / g) >> rshift;
                (offset, skip, if t != 0 { t } else { i32::from(lw != 0) })
            })
            .collect();
        let mut filled = 0u32;
        while filled < m {
            for (j, (perm, skip, turns)) in setup.iter_mut().enumerate() {
                for _ in 0..*turns {
                    while self.table[*perm as usize] != EMPTY {
                        *perm += *skip;
                        if *perm >= m {
                            *perm -= m;
                        }
                    }
                    self.table[*perm as usize] = j as u16;
                    filled += 1;
                    if filled == m {
                        return;
                    }
                }
            }
        }
    }

    fn pick(&self, dests: &[Arc<Dest>], flow: &FlowKey) -> Option<DestIdx> {
        let addr = u32::from(flow.saddr);
        let port = if self.port { flow.sport } else { 0 };
        let ihash = self.slot(addr, port, 0);
        let i = self.table[ihash] as usize;
        let d = dests.get(i)?;
        if selectable(d) {
            return Some(idx(i));
        }
        if !self.fallback {
            return None;
        }
        let m = self.m();
        for off in 0..m {
            let roff = (off + ihash as u32) % m;
            let i = self.table[self.slot(addr, port, roff)] as usize;
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
    fn sizes_are_the_kernels_primes() {
        assert_eq!(DEFAULT_TABLE_SIZE, 4093, "IPVS's size by default");
        for bad in [65536, 65537, 4091, 0] {
            assert!(Mh::new(SchedFlags::default(), bad).is_none(), "{bad}");
        }
        // IP_VS_MH_TAB_BITS = index / 2, index = 8 + position in primes[].
        for (i, &m) in IPVS_SIZES.iter().enumerate() {
            let s = Mh::new(SchedFlags::default(), m).unwrap();
            assert_eq!(s.bits, (8 + i as u32) / 2, "{m}");
        }
    }

    #[test]
    fn weights_share_the_table() {
        let d = dests(&[3, 2, 1]);
        let mut s = Mh::new(SchedFlags::default(), IPVS_TABLE_SIZE).unwrap();
        s.rebuild(&d);
        // 4093 slots in rounds of 3 + 2 + 1: 682 full rounds (4092) then one more slot.
        assert_eq!(s.slots_per_dest(3), [2047, 1364, 682]);
    }

    #[test]
    fn large_table_balance_within_one_percent() {
        let d = dests(&[1; 10]);
        let mut s = Mh::new(SchedFlags::default(), 65521).unwrap();
        s.rebuild(&d);
        let want = 65521.0 / 10.0;
        for c in s.slots_per_dest(10) {
            assert!((c as f64 - want).abs() <= want * 0.01, "{c} vs {want}");
        }
    }

    #[test]
    fn removing_one_dest_moves_few_other_slots() {
        let d = dests(&[1; 10]);
        let mut a = Mh::new(SchedFlags::default(), 65521).unwrap();
        a.rebuild(&d);
        let d2: Vec<_> = d
            .iter()
            .filter(|x| !Arc::ptr_eq(x, &d[4]))
            .cloned()
            .collect();
        let mut b = Mh::new(SchedFlags::default(), 65521).unwrap();
        b.rebuild(&d2);
        let (mut kept, mut moved) = (0, 0);
        for (x, y) in a.table.iter().zip(&b.table) {
            if *x == 4 {
                continue; // the removed dest's slots must move
            }
            let before = &d[*x as usize];
            if Arc::ptr_eq(before, &d2[*y as usize]) {
                kept += 1
            } else {
                moved += 1
            }
        }
        // The Maglev paper's bound: only a small fraction of the survivors' slots move.
        assert!(
            moved * 100 <= (kept + moved) * 5,
            "moved {moved} of {}",
            kept + moved
        );
    }

    #[test]
    fn quiesced_keeps_slots_fallback_reroutes() {
        let d = dests(&[1, 1]);
        let mut s = Mh::new(SchedFlags::default(), IPVS_TABLE_SIZE).unwrap();
        let mut fb = Mh::new(SchedFlags(SchedFlags::FLAG1), IPVS_TABLE_SIZE).unwrap();
        s.rebuild(&d);
        fb.rebuild(&d);
        let f = (1..255)
            .map(|i| flow(Ipv4Addr::new(192, 0, 2, i), 1))
            .find(|f| s.pick(&d, f) == Some(DestIdx(0)))
            .expect("some source maps to dest 0");
        d[0].set_weight(0);
        s.rebuild(&d);
        fb.rebuild(&d);
        assert!(s.slots_per_dest(2)[0] > 0);
        assert_eq!(s.pick(&d, &f), None);
        assert_eq!(fb.pick(&d, &f), Some(DestIdx(1)));
    }
}
