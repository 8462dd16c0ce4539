//! Packet-buffer pools.

use super::error::{last_error, Error};
use super::mbuf::Mbuf;
use std::ffi::CString;
use std::ptr::NonNull;

/// A DPDK packet mempool. Shared by all workers (DPDK mempools are thread-safe, with a
/// per-lcore cache for registered threads).
pub struct Mempool {
    raw: NonNull<dpdk_sys::rte_mempool>,
}

// SAFETY: rte_mempool operations are multi-producer/multi-consumer safe; the pointer is
// only freed in Drop, after every user is gone (rvsd drops the pool last).
unsafe impl Send for Mempool {}
// SAFETY: as above, concurrent get/put from several threads is what DPDK pools are for.
unsafe impl Sync for Mempool {}

impl Mempool {
    /// Creates a pool of `n` mbufs with a per-lcore cache of `cache` and the default
    /// data room (2048 bytes + headroom).
    pub fn new(name: &str, n: u32, cache: u32) -> Result<Mempool, Error> {
        let cname = CString::new(name).map_err(|_| Error::Mempool {
            name: name.to_string(),
            reason: "name contains NUL".into(),
        })?;
        let room = (dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE) as u16;
        // SAFETY: name is a valid C string for the call; DPDK copies it. SOCKET_ID_ANY
        // lets DPDK choose memory.
        let raw = unsafe {
            dpdk_sys::rte_pktmbuf_pool_create(
                cname.as_ptr(),
                n,
                cache,
                0,
                room,
                dpdk_sys::SOCKET_ID_ANY,
            )
        };
        let raw = NonNull::new(raw).ok_or_else(|| Error::Mempool {
            name: name.to_string(),
            reason: last_error(),
        })?;
        Ok(Mempool { raw })
    }

    /// Takes one mbuf from the pool; `None` when the pool is exhausted (count it).
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool pointer is valid for self's lifetime; alloc is thread-safe.
        let m = unsafe { dpdk_sys::rvs_pktmbuf_alloc(self.raw.as_ptr()) };
        NonNull::new(m).map(|m| {
            // SAFETY: a freshly allocated mbuf owned by nobody else.
            unsafe { Mbuf::from_raw(m) }
        })
    }

    /// Mbufs currently free in the pool (management/diagnostics only: walks caches).
    pub fn available(&self) -> u32 {
        // SAFETY: valid pool pointer; read-only counter walk.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.raw.as_ptr()) }
    }

    /// The raw pool pointer, for queue setup inside this module only.
    pub(crate) fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.raw.as_ptr()
    }
}

impl Drop for Mempool {
    fn drop(&mut self) {
        // SAFETY: rvsd drops the pool after ports are closed and workers joined, so no
        // mbuf of this pool is referenced any more.
        unsafe { dpdk_sys::rte_mempool_free(self.raw.as_ptr()) }
    }
}
