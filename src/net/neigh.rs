//! The neighbour (ARP) table shared by all workers, lock-free.
//!
//! Any worker may learn an entry (an ARP reply can arrive on any RX queue) and any
//! worker may read one, so the table is a direct-mapped array of atomic slots indexed by
//! a hash of the IPv4 address. A slot holds the address (`AtomicU32`), the MAC packed in
//! the low 48 bits of an `AtomicU64` whose high 16 bits carry a check tag derived from
//! the address, and the time it was learnt. A reader accepts a slot only when the address
//! matches before and after reading the MAC word and the tag matches the address: a
//! concurrent overwrite by a colliding address is then seen as a miss, never as the
//! wrong MAC. Two addresses hashing to the same slot evict each other (a cache, like the
//! kernel's, not a database); 65 536 slots keep that rare. No lock, no allocation after
//! construction.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// Slots in the table (a power of two). Range of a slot index: `0..SLOTS`.
const SLOTS: usize = 1 << 16;
/// After this many seconds an entry is stale: still used, but a refresh request is sent.
pub const STALE_SECS: u32 = 60;
/// After this many seconds without confirmation an entry is no longer used.
pub const EXPIRE_SECS: u32 = 300;
/// At most one ARP request per address per this many seconds.
pub const REQUEST_INTERVAL_SECS: u32 = 1;

struct Slot {
    addr: AtomicU32,
    mac_tag: AtomicU64,
    learnt_secs: AtomicU32,
    requested_secs: AtomicU32,
}

/// What a lookup found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Neigh {
    /// A usable MAC. `refresh` says the entry is stale and a request should be sent.
    Known {
        /// The neighbour's MAC address.
        mac: [u8; 6],
        /// True when the entry is older than [`STALE_SECS`].
        refresh: bool,
    },
    /// No usable entry. `request` says this caller should send the ARP request now (at
    /// most one caller per address per [`REQUEST_INTERVAL_SECS`] is told so).
    Unknown {
        /// True when the caller should send an ARP request.
        request: bool,
    },
}

/// The shared neighbour table.
pub struct NeighTable {
    slots: Box<[Slot]>,
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

impl NeighTable {
    /// An empty table (allocates its slots once, here).
    pub fn new() -> Self {
        let slots = (0..SLOTS)
            .map(|_| Slot {
                addr: AtomicU32::new(0),
                mac_tag: AtomicU64::new(0),
                learnt_secs: AtomicU32::new(0),
                requested_secs: AtomicU32::new(0),
            })
            .collect();
        NeighTable { slots }
    }

    /// Records `addr` at `mac`, learnt at `now_secs` (from an ARP request or reply).
    pub fn learn(&self, addr: Ipv4Addr, mac: [u8; 6], now_secs: u32) {
        let a = u32::from(addr);
        if a == 0 || mac[0] & 1 != 0 {
            return; // 0.0.0.0 (ARP probes) and multicast MACs are never neighbours.
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
        slot.learnt_secs.store(now_secs, Ordering::Relaxed);
        slot.mac_tag.store((tag(a) << 48) | m, Ordering::Release);
    }

    /// Looks `addr` up at time `now_secs`.
    pub fn lookup(&self, addr: Ipv4Addr, now_secs: u32) -> Neigh {
        let a = u32::from(addr);
        let slot = &self.slots[index(a)];
        let word = slot.mac_tag.load(Ordering::Acquire);
        if word != 0 && (word >> 48) == tag(a) && slot.addr.load(Ordering::Relaxed) == a {
            let age = now_secs.wrapping_sub(slot.learnt_secs.load(Ordering::Relaxed));
            if age <= EXPIRE_SECS {
                let mut mac = [0u8; 6];
                for (i, b) in mac.iter_mut().enumerate() {
                    *b = (word >> (40 - 8 * i)) as u8;
                }
                let refresh = age > STALE_SECS && self.claim_request(slot, now_secs);
                return Neigh::Known { mac, refresh };
            }
        }
        Neigh::Unknown {
            request: self.claim_request(slot, now_secs),
        }
    }

    /// The MAC of `addr` if usable, without claiming a request (for deciding whether to
    /// refresh an entry from overheard ARP).
    pub fn lookup_quiet(&self, addr: Ipv4Addr, now_secs: u32) -> Option<[u8; 6]> {
        let a = u32::from(addr);
        let slot = &self.slots[index(a)];
        let word = slot.mac_tag.load(Ordering::Acquire);
        let age = now_secs.wrapping_sub(slot.learnt_secs.load(Ordering::Relaxed));
        if word == 0
            || (word >> 48) != tag(a)
            || slot.addr.load(Ordering::Relaxed) != a
            || age > EXPIRE_SECS
        {
            return None;
        }
        let mut mac = [0u8; 6];
        for (i, b) in mac.iter_mut().enumerate() {
            *b = (word >> (40 - 8 * i)) as u8;
        }
        Some(mac)
    }

    /// True for exactly one caller per slot per request interval (compare-and-swap on
    /// the request time), so concurrent workers do not flood ARP requests.
    fn claim_request(&self, slot: &Slot, now_secs: u32) -> bool {
        let last = slot.requested_secs.load(Ordering::Relaxed);
        if last != 0 && now_secs.wrapping_sub(last) < REQUEST_INTERVAL_SECS {
            return false;
        }
        let stamp = now_secs.max(1);
        slot.requested_secs
            .compare_exchange(last, stamp, Ordering::Relaxed, Ordering::Relaxed)
            .is_ok()
    }

    /// Every usable entry (management thread, for listings and tests).
    pub fn entries(&self, now_secs: u32) -> Vec<(Ipv4Addr, [u8; 6], u32)> {
        let mut out = Vec::new();
        for slot in self.slots.iter() {
            let word = slot.mac_tag.load(Ordering::Acquire);
            if word == 0 {
                continue;
            }
            let a = slot.addr.load(Ordering::Relaxed);
            let age = now_secs.wrapping_sub(slot.learnt_secs.load(Ordering::Relaxed));
            if (word >> 48) == tag(a) && age <= EXPIRE_SECS {
                let mut mac = [0u8; 6];
                for (i, b) in mac.iter_mut().enumerate() {
                    *b = (word >> (40 - 8 * i)) as u8;
                }
                out.push((Ipv4Addr::from(a), mac, age));
            }
        }
        out.sort();
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IP: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
    const MAC: [u8; 6] = [0x02, 0, 0, 0, 0, 0x11];

    #[test]
    fn unknown_address_asks_for_one_request_per_interval() {
        let t = NeighTable::new();
        assert_eq!(t.lookup(IP, 10), Neigh::Unknown { request: true });
        assert_eq!(t.lookup(IP, 10), Neigh::Unknown { request: false });
        assert_eq!(t.lookup(IP, 11), Neigh::Unknown { request: true });
    }

    #[test]
    fn learnt_entry_is_found_then_stale_then_expired() {
        let t = NeighTable::new();
        t.learn(IP, MAC, 100);
        assert_eq!(
            t.lookup(IP, 100),
            Neigh::Known {
                mac: MAC,
                refresh: false
            }
        );
        assert_eq!(
            t.lookup(IP, 100 + STALE_SECS + 1),
            Neigh::Known {
                mac: MAC,
                refresh: true
            }
        );
        assert!(matches!(
            t.lookup(IP, 100 + EXPIRE_SECS + 1),
            Neigh::Unknown { .. }
        ));
        assert_eq!(t.entries(100), vec![(IP, MAC, 0)]);
    }

    #[test]
    fn probes_and_multicast_are_not_learnt() {
        let t = NeighTable::new();
        t.learn(Ipv4Addr::UNSPECIFIED, MAC, 1);
        t.learn(IP, [0x01, 0, 0x5e, 0, 0, 1], 1);
        assert!(t.entries(1).is_empty());
    }

    #[test]
    fn colliding_address_evicts_and_never_returns_wrong_mac() {
        let t = NeighTable::new();
        // Find another address in the same slot.
        let a = u32::from(IP);
        let other = (1..u32::MAX)
            .map(|d| a.wrapping_add(d))
            .find(|&b| index(b) == index(a))
            .unwrap();
        t.learn(IP, MAC, 5);
        t.learn(Ipv4Addr::from(other), [2, 0, 0, 0, 0, 0x22], 5);
        assert!(matches!(t.lookup(IP, 5), Neigh::Unknown { .. }));
    }

    #[test]
    fn concurrent_learning_and_lookup_never_mixes_entries() {
        let t = std::sync::Arc::new(NeighTable::new());
        let addrs: Vec<Ipv4Addr> = (0..512u32)
            .map(|i| Ipv4Addr::from(0xC000_0200 + i))
            .collect();
        let mac_of = |a: Ipv4Addr| {
            let o = a.octets();
            [2, 0, o[0], o[1], o[2], o[3]]
        };
        let writers: Vec<_> = (0..2)
            .map(|_| {
                let (t, addrs) = (t.clone(), addrs.clone());
                std::thread::spawn(move || {
                    for _ in 0..200 {
                        for &a in &addrs {
                            t.learn(a, mac_of(a), 1);
                        }
                    }
                })
            })
            .collect();
        for _ in 0..200 {
            for &a in &addrs {
                if let Neigh::Known { mac, .. } = t.lookup(a, 1) {
                    assert_eq!(mac, mac_of(a));
                }
            }
        }
        for w in writers {
            w.join().unwrap();
        }
    }
}
