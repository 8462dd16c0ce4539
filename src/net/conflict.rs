//! The last ARP address conflict a worker saw, for the management thread to log:
//! workers must not log (fast path), so the worker that drops a conflicting ARP packet
//! (`drop_arp_conflict`) stores who claimed which of our addresses here, and the
//! management tick logs a warning when the counter rises (`mgmt::manager`).
//!
//! One writer (the worker owning the slot), any number of readers, relaxed atomics:
//! the address and the MAC are two stores, so a reader racing two conflicts in a row
//! may pair one's address with the other's MAC. The log line is a hint for the
//! operator, the counter is the record.

use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// One worker's last address conflict.
#[derive(Debug, Default)]
pub struct ArpConflictSlot {
    /// The claimed address (host order); meaningful once `mac` is non-zero.
    ip: AtomicU32,
    /// The claimant's MAC in the low 48 bits, bit 48 set once anything was recorded.
    mac: AtomicU64,
}

/// Marks a recorded MAC (a zero MAC is never recorded: it is not unicast).
const RECORDED: u64 = 1 << 48;

impl ArpConflictSlot {
    /// Records that `mac` claimed `ip` (the owning worker only: plain stores).
    #[inline]
    pub fn record(&self, ip: Ipv4Addr, mac: [u8; 6]) {
        let mut m = [0u8; 8];
        m[2..].copy_from_slice(&mac);
        self.ip.store(u32::from(ip), Ordering::Relaxed);
        self.mac
            .store(u64::from_be_bytes(m) | RECORDED, Ordering::Relaxed);
    }

    /// The last conflict recorded (claimed address, claimant's MAC), if any.
    pub fn last(&self) -> Option<(Ipv4Addr, [u8; 6])> {
        let m = self.mac.load(Ordering::Relaxed);
        if m & RECORDED == 0 {
            return None;
        }
        let ip = Ipv4Addr::from(self.ip.load(Ordering::Relaxed));
        let b = m.to_be_bytes();
        let mut mac = [0u8; 6];
        mac.copy_from_slice(&b[2..]);
        Some((ip, mac))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_the_last_conflict() {
        let s = ArpConflictSlot::default();
        assert_eq!(s.last(), None);
        s.record(Ipv4Addr::new(203, 0, 113, 1), [2, 0, 0, 0, 0, 0x66]);
        s.record(Ipv4Addr::new(203, 0, 113, 10), [2, 0, 0, 0, 0, 0x77]);
        assert_eq!(
            s.last(),
            Some((Ipv4Addr::new(203, 0, 113, 10), [2, 0, 0, 0, 0, 0x77]))
        );
    }
}
