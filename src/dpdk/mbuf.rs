//! An owned packet buffer.

use std::ptr::NonNull;

/// One DPDK mbuf, owned: `Drop` returns it to its pool, transmitting consumes it.
/// Only single-segment packets are exposed as slices; the worker drops multi-segment
/// ones (counted) because none of our devices produces them at MTU 1500.
pub struct Mbuf {
    raw: NonNull<dpdk_sys::rte_mbuf>,
}

// SAFETY: an Mbuf is the unique owner of its rte_mbuf; moving it to another thread moves
// that ownership, and mempool free is thread-safe.
unsafe impl Send for Mbuf {}

impl Mbuf {
    /// Wraps a raw mbuf.
    ///
    /// # Safety
    /// `raw` must be a valid mbuf that nobody else owns or will free.
    #[inline]
    pub(crate) unsafe fn from_raw(raw: NonNull<dpdk_sys::rte_mbuf>) -> Mbuf {
        Mbuf { raw }
    }

    /// Gives up ownership without freeing (for handing to `rte_eth_tx_burst`).
    #[inline]
    pub(crate) fn into_raw(self) -> *mut dpdk_sys::rte_mbuf {
        let p = self.raw.as_ptr();
        std::mem::forget(self);
        p
    }

    /// Bytes in the first (and normally only) segment.
    #[inline]
    pub fn len(&self) -> usize {
        // SAFETY: valid owned mbuf.
        unsafe { dpdk_sys::rvs_pktmbuf_data_len(self.raw.as_ptr()) as usize }
    }

    /// True when the segment holds no byte.
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Number of segments in the chain.
    #[inline]
    pub fn segments(&self) -> u16 {
        // SAFETY: valid owned mbuf.
        unsafe { dpdk_sys::rvs_pktmbuf_nb_segs(self.raw.as_ptr()) }
    }

    /// The packet bytes.
    #[inline]
    pub fn data(&self) -> &[u8] {
        let len = self.len();
        // SAFETY: mtod points at data_len initialised bytes inside the mbuf's buffer,
        // which lives as long as self; the shared borrow of self prevents mutation.
        unsafe { std::slice::from_raw_parts(self.mtod(), len) }
    }

    /// The packet bytes, writable.
    #[inline]
    pub fn data_mut(&mut self) -> &mut [u8] {
        let len = self.len();
        // SAFETY: as in `data`, and the unique borrow of self makes the slice exclusive.
        unsafe { std::slice::from_raw_parts_mut(self.mtod(), len) }
    }

    #[inline]
    fn mtod(&self) -> *mut u8 {
        // SAFETY: valid owned mbuf; computes buf_addr + data_off.
        unsafe { dpdk_sys::rvs_pktmbuf_mtod(self.raw.as_ptr()) }
    }

    /// Free bytes in front of the data (room for an IPIP header).
    #[inline]
    pub fn headroom(&self) -> usize {
        // SAFETY: valid owned mbuf.
        unsafe { dpdk_sys::rvs_pktmbuf_headroom(self.raw.as_ptr()) as usize }
    }

    /// Free bytes after the data.
    #[inline]
    pub fn tailroom(&self) -> usize {
        // SAFETY: valid owned mbuf.
        unsafe { dpdk_sys::rvs_pktmbuf_tailroom(self.raw.as_ptr()) as usize }
    }

    /// Grows the packet at the front by `n` bytes; false (packet unchanged) without headroom.
    #[inline]
    pub fn prepend(&mut self, n: usize) -> bool {
        let Ok(n) = u16::try_from(n) else {
            return false;
        };
        // SAFETY: valid owned mbuf; DPDK checks the headroom and returns NULL if short.
        !unsafe { dpdk_sys::rvs_pktmbuf_prepend(self.raw.as_ptr(), n) }.is_null()
    }

    /// Removes `n` bytes from the front; false (unchanged) if the packet is shorter.
    #[inline]
    pub fn adj(&mut self, n: usize) -> bool {
        let Ok(n) = u16::try_from(n) else {
            return false;
        };
        // SAFETY: valid owned mbuf; DPDK checks the length and returns NULL if short.
        !unsafe { dpdk_sys::rvs_pktmbuf_adj(self.raw.as_ptr(), n) }.is_null()
    }

    /// Grows the packet at the end by `n` bytes; false (unchanged) without tailroom.
    #[inline]
    pub fn append(&mut self, n: usize) -> bool {
        let Ok(n) = u16::try_from(n) else {
            return false;
        };
        // SAFETY: valid owned mbuf; DPDK checks the tailroom and returns NULL if short.
        !unsafe { dpdk_sys::rvs_pktmbuf_append(self.raw.as_ptr(), n) }.is_null()
    }

    /// Shrinks the packet at the end by `n` bytes; false (unchanged) if shorter.
    #[inline]
    pub fn trim(&mut self, n: usize) -> bool {
        let Ok(n) = u16::try_from(n) else {
            return false;
        };
        // SAFETY: valid owned mbuf; DPDK checks the length and returns -1 if short.
        unsafe { dpdk_sys::rvs_pktmbuf_trim(self.raw.as_ptr(), n) == 0 }
    }

    /// Sets the packet length to exactly `len` bytes (within the segment's room).
    pub fn set_len(&mut self, len: usize) -> bool {
        let cur = self.len();
        if len >= cur {
            self.append(len - cur)
        } else {
            self.trim(cur - len)
        }
    }

    /// The port id the NIC received this mbuf on.
    #[inline]
    pub fn port(&self) -> u16 {
        // SAFETY: valid owned mbuf.
        unsafe { dpdk_sys::rvs_pktmbuf_port(self.raw.as_ptr()) }
    }

    /// The TCI of an 802.1Q tag the NIC stripped on RX (`RTE_MBUF_F_RX_VLAN_STRIPPED`):
    /// `Some(Ok(tci))`, `Some(Err(()))` when it stripped two (QinQ), `None` when the
    /// frame arrived with its tags inline (rvsd never asks for VLAN strip offload, and
    /// net_af_packet re-inserts a tag the kernel took off, but a driver may strip anyway).
    #[inline]
    pub fn rx_vlan_stripped(&self) -> Option<Result<u16, ()>> {
        // SAFETY: valid owned mbuf.
        let v = unsafe { dpdk_sys::rvs_pktmbuf_rx_vlan(self.raw.as_ptr()) };
        match v {
            -1 => None,
            t if t >= 0 => Some(Ok(t as u16)),
            _ => Some(Err(())),
        }
    }

    /// The NIC's verdict on the TCP/UDP checksum (`ol_flags & RTE_MBUF_F_RX_L4_CKSUM_MASK`).
    #[inline]
    pub fn rx_l4_checksum(&self) -> crate::wire::RxL4Checksum {
        // SAFETY: valid owned mbuf; the shim only reads its ol_flags.
        match unsafe { dpdk_sys::rvs_pktmbuf_rx_l4_cksum(self.raw.as_ptr()) } {
            1 => crate::wire::RxL4Checksum::Bad,
            2 | 3 => crate::wire::RxL4Checksum::Good,
            _ => crate::wire::RxL4Checksum::Unknown,
        }
    }

    /// The NIC's RSS hash, or 0 when the device gave none.
    #[inline]
    pub fn rss_hash(&self) -> u32 {
        // SAFETY: valid owned mbuf.
        unsafe { dpdk_sys::rvs_pktmbuf_rss_hash(self.raw.as_ptr()) }
    }
}

impl Drop for Mbuf {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `raw` came from a pool or an RX burst and this Mbuf is its only owner;
        // Drop runs once, so nothing can touch the pointer after the free.
        unsafe { dpdk_sys::rvs_pktmbuf_free(self.raw.as_ptr()) }
    }
}

impl crate::wire::PacketBuf for Mbuf {
    #[inline]
    fn data(&self) -> &[u8] {
        Mbuf::data(self)
    }
    #[inline]
    fn data_mut(&mut self) -> &mut [u8] {
        Mbuf::data_mut(self)
    }
    #[inline]
    fn prepend(&mut self, n: usize) -> bool {
        Mbuf::prepend(self, n)
    }
    #[inline]
    fn adj(&mut self, n: usize) -> bool {
        Mbuf::adj(self, n)
    }
    #[inline]
    fn set_len(&mut self, len: usize) -> bool {
        Mbuf::set_len(self, len)
    }
    #[inline]
    fn headroom(&self) -> usize {
        Mbuf::headroom(self)
    }
    #[inline]
    fn rx_l4_checksum(&self) -> crate::wire::RxL4Checksum {
        Mbuf::rx_l4_checksum(self)
    }
}
