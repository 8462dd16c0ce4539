//! Per-worker RX and TX queue handles and their fixed-size bursts.

use super::mbuf::Mbuf;
use super::port::PortInner;
use std::ptr::NonNull;
use std::sync::Arc;

/// Packets per RX burst and per TX flush: DPDK's customary 32.
pub const BURST_SIZE: usize = 32;

/// How many times a TX flush retries what the NIC did not take before freeing it.
const TX_RETRIES: u32 = 3;

/// The RX side of queue `queue` of one port. Owned by one worker: not `Clone`, and
/// polling takes `&mut self`. Keeps the port's device open (one `Arc`, cloned at start).
pub struct RxQueue {
    port: u16,
    queue: u16,
    _dev: Arc<PortInner>,
}

/// A burst of received mbufs in a fixed array (no heap). Mbufs not taken out are freed
/// when the burst is refilled or dropped.
pub struct RxBurst {
    pkts: [*mut dpdk_sys::rte_mbuf; BURST_SIZE],
    len: usize,
    next: usize,
}

// SAFETY: the raw pointers are owned mbufs (see Mbuf's Send).
unsafe impl Send for RxBurst {}

impl Default for RxBurst {
    fn default() -> Self {
        RxBurst {
            pkts: [std::ptr::null_mut(); BURST_SIZE],
            len: 0,
            next: 0,
        }
    }
}

impl RxBurst {
    fn free_rest(&mut self) {
        while let Some(m) = self.next_mbuf() {
            drop(m);
        }
    }

    /// Takes the next received mbuf out of the burst.
    #[inline]
    pub fn next_mbuf(&mut self) -> Option<Mbuf> {
        if self.next >= self.len {
            return None;
        }
        let raw = self.pkts[self.next];
        self.next += 1;
        // SAFETY: slots below `len` hold mbufs written by rte_eth_rx_burst that nobody
        // owns yet; `next` advances past each one exactly once.
        NonNull::new(raw).map(|p| unsafe { Mbuf::from_raw(p) })
    }
}

impl Drop for RxBurst {
    fn drop(&mut self) {
        self.free_rest();
    }
}

impl RxQueue {
    pub(crate) fn new(dev: Arc<PortInner>, queue: u16) -> Self {
        RxQueue {
            port: dev.id(),
            queue,
            _dev: dev,
        }
    }

    /// The port id.
    pub fn port_id(&self) -> u16 {
        self.port
    }

    /// The queue index.
    pub fn queue_id(&self) -> u16 {
        self.queue
    }

    /// Polls the queue once, replacing `burst`'s content (freeing anything left in it).
    /// Returns how many mbufs arrived.
    #[inline]
    pub fn rx_burst(&mut self, burst: &mut RxBurst) -> usize {
        burst.free_rest();
        // SAFETY: the port was started with this queue set up (Port::start created the
        // handle) and stays started while `_dev` lives; `pkts` has room for BURST_SIZE
        // pointers, and &mut self makes this the only thread polling the queue.
        let n = unsafe {
            dpdk_sys::rvs_eth_rx_burst(
                self.port,
                self.queue,
                burst.pkts.as_mut_ptr(),
                BURST_SIZE as u16,
            )
        };
        burst.len = n as usize;
        burst.next = 0;
        burst.len
    }
}

/// The TX side of queue `queue` of one port, with a buffer that collects up to
/// [`BURST_SIZE`] mbufs before sending. Owned by one worker: not `Clone`. Keeps the
/// port's device open, like [`RxQueue`].
pub struct TxQueue {
    port: u16,
    queue: u16,
    _dev: Arc<PortInner>,
    pkts: [*mut dpdk_sys::rte_mbuf; BURST_SIZE],
    len: usize,
    /// Packets sent by the NIC.
    pub sent_pkts: u64,
    /// Packets the NIC refused after retries, freed and counted here.
    pub drop_tx_full: u64,
}

// SAFETY: the buffered pointers are owned mbufs (see Mbuf's Send); the device handle is
// Send; DPDK allows any one thread per queue, and single ownership (no Clone, `&mut` to
// send) keeps it to one thread at a time.
unsafe impl Send for TxQueue {}

impl TxQueue {
    pub(crate) fn new(dev: Arc<PortInner>, queue: u16) -> Self {
        TxQueue {
            port: dev.id(),
            queue,
            _dev: dev,
            pkts: [std::ptr::null_mut(); BURST_SIZE],
            len: 0,
            sent_pkts: 0,
            drop_tx_full: 0,
        }
    }

    /// The port id.
    pub fn port_id(&self) -> u16 {
        self.port
    }

    /// Queues one mbuf for sending; flushes when the buffer is full.
    #[inline]
    pub fn push(&mut self, m: Mbuf) {
        if self.len == BURST_SIZE {
            self.flush();
        }
        self.pkts[self.len] = m.into_raw();
        self.len += 1;
    }

    /// Sends everything buffered; retries what the NIC did not take a few times, then
    /// frees the rest and counts it in `drop_tx_full`.
    #[inline]
    pub fn flush(&mut self) {
        let mut done = 0usize;
        let mut tries = 0;
        while done < self.len && tries <= TX_RETRIES {
            // SAFETY: pkts[done..len] are owned mbufs; the queue was set up at start, the
            // port stays started while `_dev` lives, and &mut self makes this the only thread using it. The NIC takes ownership of
            // the first `sent` pointers.
            let sent = unsafe {
                dpdk_sys::rvs_eth_tx_burst(
                    self.port,
                    self.queue,
                    self.pkts.as_mut_ptr().add(done),
                    (self.len - done) as u16,
                )
            };
            done += sent as usize;
            tries += 1;
        }
        self.sent_pkts += done as u64;
        if done < self.len {
            let rest = self.len - done;
            // SAFETY: pkts[done..len] are still ours (the NIC refused them); freed once.
            unsafe {
                dpdk_sys::rvs_pktmbuf_free_bulk(self.pkts.as_mut_ptr().add(done), rest as u32)
            };
            self.drop_tx_full += rest as u64;
        }
        self.len = 0;
    }
}

impl Drop for TxQueue {
    fn drop(&mut self) {
        if self.len > 0 {
            // SAFETY: pkts[..len] are owned mbufs never handed to the NIC.
            unsafe { dpdk_sys::rvs_pktmbuf_free_bulk(self.pkts.as_mut_ptr(), self.len as u32) };
            self.len = 0;
        }
    }
}
