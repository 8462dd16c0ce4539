//! The neighbour (ARP) table shared by all workers, lock-free, with Linux's
//! reachability state machine (`reachable → stale → delay → probe → failed`, see the
//! kernel's `net/core/neighbour.c` and `man 7 arp`).
//!
//! Any worker may learn an entry (an ARP reply can arrive on any RX queue) and any
//! worker may read one, so the table is a direct-mapped array of atomic slots indexed by
//! a hash of the IPv4 address. A slot holds the address (`AtomicU32`), the MAC packed in
//! the low 48 bits of an `AtomicU64` whose high 16 bits carry a check tag derived from
//! the address, and the entry's timestamps. A reader accepts a slot only when the address
//! matches before and after reading the MAC word and the tag matches the address: a
//! concurrent overwrite by a colliding address is then seen as a miss, never as the
//! wrong MAC. Two addresses hashing to the same slot evict each other (a cache, like the
//! kernel's, not a database); 65 536 slots keep that rare. No lock, no allocation after
//! construction.
//!
//! The states are derived from timestamps at lookup, as the kernel's timers would set
//! them (times in seconds of the worker clock):
//! - *reachable*: confirmed (an ARP packet from the neighbour) less than
//!   `reachable_secs` ago; used as is.
//! - *stale*: older; still used. The first lookup that uses it marks it in use (the
//!   kernel's DELAY: one compare-and-swap per staleness, not a write per packet).
//! - *probe*: `delay_first_probe_secs` after that, [`NeighTable::due_probes`] (the
//!   worker's housekeeping) hands out up to `ucast_solicit` unicast ARP requests to the
//!   known MAC, then `mcast_resolicit` broadcast ones, one per `retrans_secs`. The entry
//!   stays usable meanwhile; a reply (any ARP from the neighbour) confirms it again.
//! - *failed*: every probe went unanswered for `retrans_secs`: unusable, resolution
//!   starts over with broadcast requests ([`Neigh::Unknown`]).
//! - A stale entry nobody uses is forgotten `gc_stale_secs` after it became stale
//!   (the kernel's `gc_stale_time`).
//!
//! Static entries (from the configuration) live apart, never expire and are never probed.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Slots in the table (a power of two). Range of a slot index: `0..SLOTS`.
pub const SLOTS: usize = 1 << 16;

/// The state machine's timers and limits, in the units of the worker clock (seconds)
/// and packets. Defaults are Linux's (`/proc/sys/net/ipv4/neigh/default/*`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NeighParams {
    /// A confirmed entry is reachable this long (`base_reachable_time_ms`, rounded up
    /// to whole seconds; Linux default 30 s).
    pub reachable_secs: u32,
    /// Stale and in use this long before the first probe (`delay_first_probe_time`, 5 s).
    pub delay_first_probe_secs: u32,
    /// Between two requests or probes for one address (`retrans_time_ms` rounded up, 1 s).
    pub retrans_secs: u32,
    /// Unicast probes to the known MAC before giving up (`ucast_solicit`, 3).
    pub ucast_solicit: u32,
    /// Broadcast probes after the unicast ones (`mcast_resolicit`, 0).
    pub mcast_resolicit: u32,
    /// Broadcast requests for an unresolved address; packets held for it wait at most
    /// `mcast_solicit × retrans_secs` (`mcast_solicit`, 3).
    pub mcast_solicit: u32,
    /// An unused stale entry is forgotten after this long (`gc_stale_time`, 60 s).
    pub gc_stale_secs: u32,
    /// Packets held per unresolved address (`unres_qlen`, 3 per `man 7 arp`).
    pub unres_qlen: u32,
}

impl Default for NeighParams {
    fn default() -> Self {
        NeighParams {
            reachable_secs: 30,
            delay_first_probe_secs: 5,
            retrans_secs: 1,
            ucast_solicit: 3,
            mcast_resolicit: 0,
            mcast_solicit: 3,
            gc_stale_secs: 60,
            unres_qlen: 3,
        }
    }
}

struct Slot {
    addr: AtomicU32,
    mac_tag: AtomicU64,
    /// Last confirmation (seconds).
    confirmed: AtomicU32,
    /// Last request or probe claimed, as a [`stamp`] (0 = never).
    requested: AtomicU32,
    /// When the stale entry was first used (DELAY start), as a [`stamp`] (0 = not in use).
    in_use: AtomicU32,
    /// Probes sent since `in_use` was set.
    probes: AtomicU32,
    /// When the last probe was sent (seconds).
    probed: AtomicU32,
}

/// What a lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Neigh {
    /// A usable MAC (reachable, stale, being probed, or static).
    Known {
        /// The neighbour's MAC address.
        mac: [u8; 6],
    },
    /// No usable entry. `request` says this caller should send a broadcast ARP request
    /// now (at most one caller per address per `retrans_secs` is told so).
    Unknown {
        /// True when the caller should send an ARP request.
        request: bool,
    },
}

/// An ARP probe [`NeighTable::due_probes`] asks the caller to send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Probe {
    /// The neighbour being probed (the request's target).
    pub addr: Ipv4Addr,
    /// Unicast to this MAC; `None`: broadcast (`mcast_resolicit`).
    pub mac: Option<[u8; 6]>,
}

/// The shared neighbour table.
pub struct NeighTable {
    slots: Box<[Slot]>,
    params: NeighParams,
    statics: Vec<(Ipv4Addr, [u8; 6])>,
}

impl Default for NeighTable {
    fn default() -> Self {
        Self::new()
    }
}

fn index(addr: u32) -> usize {
    // Fibonacci hashing spreads sequential lab addresses over the table.
    (addr.wrapping_mul(0x9E37_79B9) >> 16) as usize & (SLOTS - 1)
}

fn tag(addr: u32) -> u64 {
    // Never 0, so an all-zero (empty) slot never matches address 0.0.0.0.
    ((addr ^ (addr >> 16)) as u64 & 0xffff) | 1
}

/// A time `now_secs` stored in a slot where 0 means "never": the second plus one, so
/// the worker clock's second 0 is a real time too. (Storing `max(1)` instead made
/// `0 - 1` wrap at second 0, and every lookup of an unresolved address in the first
/// second claimed an ARP request: a broadcast flood.) The clock would need 136 years
/// to reach `u32::MAX`, where the stamp wraps to "never".
fn stamp(now_secs: u32) -> u32 {
    now_secs.wrapping_add(1)
}

/// Seconds from the time stored as `stamp` (not 0) to `now_secs`.
fn since(stamp: u32, now_secs: u32) -> u32 {
    now_secs.wrapping_add(1).wrapping_sub(stamp)
}

fn unpack(word: u64) -> [u8; 6] {
    let mut mac = [0u8; 6];
    for (i, b) in mac.iter_mut().enumerate() {
        *b = (word >> (40 - 8 * i)) as u8;
    }
    mac
}

impl NeighTable {
    /// An empty table with Linux's default timers and no static entries.
    pub fn new() -> Self {
        Self::with_params(NeighParams::default(), Vec::new())
    }

    /// An empty table with `params` and the static entries `statics` (allocates its
    /// slots once, here).
    pub fn with_params(params: NeighParams, statics: Vec<(Ipv4Addr, [u8; 6])>) -> Self {
        let slots = (0..SLOTS)
            .map(|_| Slot {
                addr: AtomicU32::new(0),
                mac_tag: AtomicU64::new(0),
                confirmed: AtomicU32::new(0),
                requested: AtomicU32::new(0),
                in_use: AtomicU32::new(0),
                probes: AtomicU32::new(0),
                probed: AtomicU32::new(0),
            })
            .collect();
        NeighTable {
            slots,
            params,
            statics,
        }
    }

    /// The timers and limits.
    pub fn params(&self) -> &NeighParams {
        &self.params
    }

    fn static_mac(&self, a: Ipv4Addr) -> Option<[u8; 6]> {
        if self.statics.is_empty() {
            return None;
        }
        self.statics.iter().find(|s| s.0 == a).map(|s| s.1)
    }

    /// Records `addr` at `mac`, confirmed at `now_secs` (from an ARP request or reply):
    /// the entry is reachable again and any probing stops.
    pub fn learn(&self, addr: Ipv4Addr, mac: [u8; 6], now_secs: u32) {
        let a = u32::from(addr);
        if a == 0 || mac[0] & 1 != 0 || self.static_mac(addr).is_some() {
            return; // 0.0.0.0 (ARP probes), multicast MACs and static entries are not learnt.
        }
        let slot = &self.slots[index(a)];
        let mut m = 0u64;
        for b in mac {
            m = (m << 8) | b as u64;
        }
        // Publish address first and the MAC word last with Release: a reader that sees the
        // new MAC word (Acquire) also sees the new address; the tag check covers a reader
        // that raced between the two stores.
        slot.addr.store(a, Ordering::Relaxed);
        slot.confirmed.store(now_secs, Ordering::Relaxed);
        slot.in_use.store(0, Ordering::Relaxed);
        slot.probes.store(0, Ordering::Relaxed);
        slot.mac_tag.store((tag(a) << 48) | m, Ordering::Release);
    }

    /// The slot's MAC and age when it holds `a`.
    fn read(slot: &Slot, a: u32, now_secs: u32) -> Option<([u8; 6], u32)> {
        let word = slot.mac_tag.load(Ordering::Acquire);
        if word == 0 || (word >> 48) != tag(a) || slot.addr.load(Ordering::Relaxed) != a {
            return None;
        }
        let age = now_secs.wrapping_sub(slot.confirmed.load(Ordering::Relaxed));
        Some((unpack(word), age))
    }

    /// True when every probe of an in-use entry (marked at the [`stamp`] `start`) went
    /// unanswered for a retransmission interval.
    fn failed(&self, slot: &Slot, start: u32, now_secs: u32) -> bool {
        let p = &self.params;
        let probes = slot.probes.load(Ordering::Relaxed);
        if probes < p.ucast_solicit + p.mcast_resolicit {
            return false;
        }
        let in_use = since(start, now_secs);
        let quiet = if probes > 0 {
            now_secs.wrapping_sub(slot.probed.load(Ordering::Relaxed))
        } else {
            in_use.wrapping_sub(p.delay_first_probe_secs)
        };
        quiet >= p.retrans_secs.max(1) && in_use >= p.delay_first_probe_secs
    }

    /// The usable MAC in `slot` for `a`, marking a stale entry in use when `mark`.
    fn usable(&self, slot: &Slot, a: u32, now_secs: u32, mark: bool) -> Option<[u8; 6]> {
        let (mac, age) = Self::read(slot, a, now_secs)?;
        let p = &self.params;
        if age < p.reachable_secs {
            return Some(mac);
        }
        let start = slot.in_use.load(Ordering::Relaxed);
        if start == 0 {
            if age >= p.reachable_secs.saturating_add(p.gc_stale_secs) {
                return None; // stale, unused, forgotten
            }
            if mark {
                // DELAY: the first user of a stale entry starts the probe timer.
                let _ = slot.in_use.compare_exchange(
                    0,
                    stamp(now_secs),
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            return Some(mac);
        }
        if self.failed(slot, start, now_secs) {
            return None;
        }
        Some(mac)
    }

    /// Looks `addr` up at time `now_secs` for a packet that will use the answer (a
    /// stale entry is marked in use, so it gets probed).
    pub fn lookup(&self, addr: Ipv4Addr, now_secs: u32) -> Neigh {
        if let Some(mac) = self.static_mac(addr) {
            return Neigh::Known { mac };
        }
        let a = u32::from(addr);
        let slot = &self.slots[index(a)];
        match self.usable(slot, a, now_secs, true) {
            Some(mac) => Neigh::Known { mac },
            None => Neigh::Unknown {
                request: self.claim_request(slot, now_secs),
            },
        }
    }

    /// The MAC of `addr` if usable, without side effects (for deciding whether to
    /// refresh an entry from overheard ARP, and for releasing held packets).
    pub fn lookup_quiet(&self, addr: Ipv4Addr, now_secs: u32) -> Option<[u8; 6]> {
        if let Some(mac) = self.static_mac(addr) {
            return Some(mac);
        }
        let a = u32::from(addr);
        self.usable(&self.slots[index(a)], a, now_secs, false)
    }

    /// True for exactly one caller per slot per retransmission interval
    /// (compare-and-swap on the request time), so concurrent workers do not flood ARP.
    fn claim_request(&self, slot: &Slot, now_secs: u32) -> bool {
        let last = slot.requested.load(Ordering::Relaxed);
        if last != 0 && since(last, now_secs) < self.params.retrans_secs.max(1) {
            return false;
        }
        slot.requested
            .compare_exchange(last, stamp(now_secs), Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Housekeeping: looks at up to `budget` slots from `*cursor` (advanced, wrapping)
    /// and calls `send` for each in-use stale entry whose next probe is due, claiming it
    /// (one caller per probe). Bounded work, no allocation; run by one worker per loop.
    pub fn due_probes(
        &self,
        cursor: &mut usize,
        budget: usize,
        now_secs: u32,
        mut send: impl FnMut(Probe),
    ) {
        let p = &self.params;
        for _ in 0..budget.min(SLOTS) {
            let i = *cursor & (SLOTS - 1);
            *cursor = i + 1;
            let slot = &self.slots[i];
            let start = slot.in_use.load(Ordering::Relaxed);
            if start == 0 || since(start, now_secs) < p.delay_first_probe_secs {
                continue;
            }
            let a = slot.addr.load(Ordering::Relaxed);
            let Some((mac, age)) = Self::read(slot, a, now_secs) else {
                continue;
            };
            let sent = slot.probes.load(Ordering::Relaxed);
            if age < p.reachable_secs
                || sent >= p.ucast_solicit + p.mcast_resolicit
                || !self.claim_request(slot, now_secs)
            {
                continue;
            }
            slot.probed.store(now_secs, Ordering::Relaxed);
            slot.probes.store(sent + 1, Ordering::Relaxed);
            send(Probe {
                addr: Ipv4Addr::from(a),
                mac: (sent < p.ucast_solicit).then_some(mac),
            });
        }
    }

    /// Every usable entry with its age in seconds, static ones (age 0) included
    /// (management thread, for listings and tests).
    pub fn entries(&self, now_secs: u32) -> Vec<(Ipv4Addr, [u8; 6], u32)> {
        let mut out: Vec<_> = self.statics.iter().map(|&(a, m)| (a, m, 0)).collect();
        for slot in self.slots.iter() {
            let a = slot.addr.load(Ordering::Relaxed);
            if let (Some(mac), Some((_, age))) = (
                self.usable(slot, a, now_secs, false),
                Self::read(slot, a, now_secs),
            ) {
                out.push((Ipv4Addr::from(a), mac, age));
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests;
