//! Packet-buffer pools.
//!
//! Lifetime rule: a pool is freed only when no handle to it is left (every [`Mempool`]
//! clone, and every port whose RX queues were set up with it) AND no mbuf of it is
//! outstanding. The second half is a run-time check, not a type: [`Mbuf`] carries no
//! lifetime or reference count (that would cost per packet, or spread a lifetime through
//! every worker type), so the last handle's Drop asks DPDK how many mbufs are in use and,
//! if any is, leaks the pool and the EAL with it (logged) instead of freeing memory that
//! a live mbuf points into. In a correct shutdown the count is 0 and the pool is freed.
//! Caveat: DPDK counts without a lock (ring + per-lcore caches), so the count is exact only
//! when no other thread is freeing mbufs of this pool at that instant. With the last handle
//! gone such a thread could only hold mbufs moved to it by value; rvsd and rvs-bench join
//! every thread that holds mbufs before dropping their last pool handle.

use super::eal::Eal;
use super::error::{last_error, Error};
use super::mbuf::Mbuf;
use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::Arc;

/// A DPDK packet mempool. Shared by all workers (DPDK mempools are thread-safe, with a
/// per-lcore cache for registered threads); cloning is cheap (one `Arc`) and is what a
/// port does to keep the pool of its RX queues alive.
#[derive(Clone)]
pub struct Mempool {
    inner: Arc<PoolInner>,
}

/// The pool itself, freed with the last handle (see the module doc for the mbuf check).
struct PoolInner {
    raw: NonNull<dpdk_sys::rte_mempool>,
    name: String,
    /// Keeps the EAL up while the pool exists; leaked with the pool when mbufs are out.
    eal: Option<Eal>,
}

// SAFETY: rte_mempool operations are multi-producer/multi-consumer safe; the pointer is
// only freed in Drop, by the last handle (Arc).
unsafe impl Send for PoolInner {}
// SAFETY: as above, concurrent get/put from several threads is what DPDK pools are for.
unsafe impl Sync for PoolInner {}

impl Mempool {
    /// Creates a pool of `n` mbufs with a per-lcore cache of `cache` and the default
    /// data room (2048 bytes + headroom). `name` must be unique in the process.
    pub fn new(eal: &Eal, name: &str, n: u32, cache: u32) -> Result<Mempool, Error> {
        Self::with_data_room(eal, name, n, cache, 2048)
    }

    /// [`Mempool::new`] with `data_room` bytes of packet data per mbuf after the
    /// headroom (2048 is DPDK's default; at most 65407, the `u16` DPDK takes minus the
    /// headroom: more is an error). Bigger rooms let af_packet frames of up to
    /// `data_room + 32` bytes arrive in one mbuf.
    pub fn with_data_room(
        eal: &Eal,
        name: &str,
        n: u32,
        cache: u32,
        data_room: u32,
    ) -> Result<Mempool, Error> {
        let cname = CString::new(name).map_err(|_| Error::Mempool {
            name: name.to_string(),
            reason: "name contains NUL".into(),
        })?;
        let headroom = dpdk_sys::RTE_MBUF_DEFAULT_BUF_SIZE - 2048;
        let room = u16::try_from(data_room + headroom).map_err(|_| Error::Mempool {
            name: name.to_string(),
            reason: format!("data room {data_room} + headroom {headroom} exceeds 65535"),
        })?;
        // SAFETY: the EAL is up (`eal`); name is a valid C string for the call; DPDK
        // copies it. SOCKET_ID_ANY lets DPDK choose memory.
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
        Ok(Mempool {
            inner: Arc::new(PoolInner {
                raw,
                name: name.to_string(),
                eal: Some(eal.clone()),
            }),
        })
    }

    /// Takes one mbuf from the pool; `None` when the pool is exhausted (count it).
    #[inline]
    pub fn alloc(&self) -> Option<Mbuf> {
        // SAFETY: the pool pointer is valid for self's lifetime; alloc is thread-safe.
        let m = unsafe { dpdk_sys::rvs_pktmbuf_alloc(self.inner.raw.as_ptr()) };
        NonNull::new(m).map(|m| {
            // SAFETY: a freshly allocated mbuf owned by nobody else.
            unsafe { Mbuf::from_raw(m) }
        })
    }

    /// Mbufs currently free in the pool (management/diagnostics only: walks caches).
    pub fn available(&self) -> u32 {
        // SAFETY: valid pool pointer; read-only counter walk.
        unsafe { dpdk_sys::rte_mempool_avail_count(self.inner.raw.as_ptr()) }
    }

    /// Mbufs of this pool held outside it (by the program, rings, or a port's
    /// descriptors); diagnostics only, like [`Mempool::available`].
    pub fn in_use(&self) -> u32 {
        self.inner.in_use()
    }

    /// The raw pool pointer, for queue setup inside this module only.
    pub(crate) fn as_ptr(&self) -> *mut dpdk_sys::rte_mempool {
        self.inner.raw.as_ptr()
    }
}

impl PoolInner {
    fn in_use(&self) -> u32 {
        // SAFETY: valid pool pointer; read-only counter walk.
        unsafe { dpdk_sys::rte_mempool_in_use_count(self.raw.as_ptr()) }
    }
}

impl Drop for PoolInner {
    fn drop(&mut self) {
        let out = self.in_use();
        if out > 0 {
            // A live Mbuf (or one in a ring or descriptor we do not own) still points into
            // this pool: freeing it, or cleaning up the EAL under it, would be a
            // use-after-free. Leak both; the process is normally about to exit.
            log::error!(
                "mempool {}: {out} mbuf(s) still in use at drop; leaking the pool and the EAL",
                self.name
            );
            std::mem::forget(self.eal.take());
            return;
        }
        // SAFETY: the last handle is going (Arc), so nobody can allocate any more, no port
        // uses it for RX (ports hold a handle), and no mbuf of it is outstanding (checked
        // above): nothing refers to the pool's memory after this.
        unsafe { dpdk_sys::rte_mempool_free(self.raw.as_ptr()) }
        // The EAL clone goes with the other fields, after the pool it kept valid.
    }
}
