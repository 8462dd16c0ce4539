//! In-process rings of mbufs, and ethernet ports made of them (DPDK `net_ring`), so a
//! benchmark can drive the real worker loop without a NIC: a generator thread feeds a
//! port's RX rings and drains its TX rings while the worker polls the port as usual.
//!
//! Soundness: the rings are created single-producer/single-consumer, the cheapest
//! kind, which is only correct when exactly one thread enqueues and one dequeues. The
//! types keep it so without trusting the caller:
//! - a [`Ring`] is `Send` but not `Sync` (and not `Clone`), so only one thread at a time
//!   can use its methods;
//! - once [`Port::from_rings`] has given a ring to a port, the port owns one end of it
//!   (it dequeues from an RX ring and enqueues into a TX ring), and the [`Ring`] handle
//!   refuses that end: `enqueue` on a TX ring and `dequeue` on an RX ring take nothing;
//! - the port keeps the ring's memory alive (its device releases the rings only after
//!   closing), so dropping the handle first is harmless.

use super::eal::Eal;
use super::error::{last_error, Error};
use super::mbuf::Mbuf;
use super::port::Port;
use super::queue::BURST_SIZE;
use std::cell::Cell;
use std::ffi::CString;
use std::ptr::NonNull;
use std::sync::Arc;

/// The ring memory itself, shared by the user's [`Ring`] handle and the [`RingPort`]
/// port that polls it; freed (with any mbuf left in it) when the last of them goes.
pub(crate) struct RawRing {
    raw: NonNull<dpdk_sys::rte_ring>,
    /// Keeps the EAL up until the ring is freed.
    eal: Eal,
}

// SAFETY: an rte_ring lives in EAL shared memory and may be used from any thread; which
// thread may enqueue or dequeue (SP/SC) is enforced by `Ring`'s roles, not by RawRing.
unsafe impl Send for RawRing {}
// SAFETY: RawRing itself exposes nothing but the pointer; see above.
unsafe impl Sync for RawRing {}

impl Drop for RawRing {
    fn drop(&mut self) {
        // Nobody else holds the ring now (last Arc), so this thread may be its consumer:
        // give back the mbufs still in it, then free it.
        let mut pkts = [std::ptr::null_mut(); BURST_SIZE];
        loop {
            // SAFETY: the ring is valid until rte_ring_free below; this is its only user.
            let n = unsafe {
                dpdk_sys::rvs_ring_dequeue_burst(
                    self.raw.as_ptr(),
                    pkts.as_mut_ptr(),
                    BURST_SIZE as u32,
                )
            };
            if n == 0 {
                break;
            }
            // SAFETY: only mbufs are ever enqueued (by `Ring::enqueue` and the ring PMD),
            // each one owned by the ring until dequeued here; freed once.
            unsafe { dpdk_sys::rvs_pktmbuf_free_bulk(pkts.as_mut_ptr(), n) };
        }
        // SAFETY: no port and no handle refers to the ring any more (last Arc).
        unsafe { dpdk_sys::rte_ring_free(self.raw.as_ptr()) }
    }
}

/// Which end of a ring a port took, i.e. which end the [`Ring`] handle may no longer use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    /// Not attached to a port: the handle may enqueue and dequeue.
    Free,
    /// An RX ring: the port dequeues, the handle may only enqueue.
    PortConsumes,
    /// A TX ring: the port enqueues, the handle may only dequeue.
    PortProduces,
}

/// A single-producer/single-consumer ring of mbufs, owned by one thread at a time.
/// Enqueue and dequeue are bursts without heap allocation (callers pass vectors with
/// enough capacity), lock-free and syscall-free.
pub struct Ring {
    inner: Arc<RawRing>,
    role: Cell<Role>,
    capacity: usize,
}

// SAFETY: moving the handle moves the right to use the free end(s) of the ring to the
// new thread; `Cell` keeps the handle `!Sync`, so two threads never use it at once.
unsafe impl Send for Ring {}

impl Ring {
    /// Creates a ring that holds up to `count - 1` mbufs (`count` a power of two, as DPDK
    /// requires). `name` must be unique in the process.
    pub fn new(eal: &Eal, name: &str, count: u32) -> Result<Ring, Error> {
        let err = |reason: String| Error::Ring {
            name: name.to_string(),
            reason,
        };
        if !count.is_power_of_two() || count < 2 {
            return Err(err(format!("size {count} is not a power of two >= 2")));
        }
        let cname = CString::new(name).map_err(|_| err("name contains NUL".into()))?;
        let flags = dpdk_sys::RING_F_SP_ENQ | dpdk_sys::RING_F_SC_DEQ;
        // SAFETY: the EAL is up (`eal`); cname is a valid C string for the call (DPDK
        // copies it); any socket.
        let raw = unsafe {
            dpdk_sys::rte_ring_create(cname.as_ptr(), count, dpdk_sys::SOCKET_ID_ANY, flags)
        };
        let raw = NonNull::new(raw).ok_or_else(|| err(last_error()))?;
        Ok(Ring {
            inner: Arc::new(RawRing {
                raw,
                eal: eal.clone(),
            }),
            role: Cell::new(Role::Free),
            capacity: count as usize - 1,
        })
    }

    /// How many mbufs the ring holds at most.
    pub fn capacity(&self) -> usize {
        self.capacity
    }

    /// How many mbufs are in the ring now (a snapshot: the other end keeps moving).
    #[inline]
    pub fn len(&self) -> usize {
        // SAFETY: valid ring; rte_ring_count only reads the head/tail indexes.
        unsafe { dpdk_sys::rvs_ring_count(self.inner.raw.as_ptr()) as usize }
    }

    /// True when the ring holds no mbuf (a snapshot).
    #[inline]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Moves mbufs from the end of `pkts` into the ring, as many as fit; the rest stay in
    /// `pkts` (handed back). Returns how many went in: 0 on a TX ring of a port, whose
    /// producer is the port.
    #[inline]
    pub fn enqueue(&self, pkts: &mut Vec<Mbuf>) -> usize {
        if self.role.get() == Role::PortProduces {
            return 0;
        }
        let mut total = 0;
        let mut burst = [std::ptr::null_mut(); BURST_SIZE];
        while !pkts.is_empty() {
            // Pop up to a burst: burst[0] is the last mbuf of `pkts`.
            let mut k = 0;
            while k < BURST_SIZE {
                let Some(m) = pkts.pop() else { break };
                burst[k] = m.into_raw();
                k += 1;
            }
            // SAFETY: valid ring; burst[..k] are owned mbufs; this thread is the ring's
            // only producer (role check above, `Ring` is !Sync). DPDK takes the first n.
            let n = unsafe {
                dpdk_sys::rvs_ring_enqueue_burst(
                    self.inner.raw.as_ptr(),
                    burst.as_mut_ptr(),
                    k as u32,
                )
            } as usize;
            total += n;
            if n < k {
                // Hand the rest back, in their original order.
                for &p in burst[n..k].iter().rev() {
                    if let Some(p) = NonNull::new(p) {
                        // SAFETY: DPDK refused these; they are still ours, wrapped once.
                        pkts.push(unsafe { Mbuf::from_raw(p) });
                    }
                }
                break;
            }
        }
        total
    }

    /// Moves up to `max` mbufs out of the ring onto the end of `out`. Returns how many:
    /// 0 on an RX ring of a port, whose consumer is the port. Allocates only if `out`
    /// lacks capacity.
    #[inline]
    pub fn dequeue(&self, out: &mut Vec<Mbuf>, max: usize) -> usize {
        if self.role.get() == Role::PortConsumes {
            return 0;
        }
        let mut total = 0;
        let mut burst = [std::ptr::null_mut(); BURST_SIZE];
        while total < max {
            let k = (max - total).min(BURST_SIZE);
            // SAFETY: valid ring; burst has room for k pointers; this thread is the ring's
            // only consumer (role check above, `Ring` is !Sync).
            let n = unsafe {
                dpdk_sys::rvs_ring_dequeue_burst(
                    self.inner.raw.as_ptr(),
                    burst.as_mut_ptr(),
                    k as u32,
                )
            } as usize;
            for &p in burst.iter().take(n) {
                if let Some(p) = NonNull::new(p) {
                    // SAFETY: the ring held only owned mbufs; dequeuing made this thread
                    // their only owner.
                    out.push(unsafe { Mbuf::from_raw(p) });
                }
            }
            total += n;
            if n < k {
                break;
            }
        }
        total
    }
}

impl Port {
    /// Makes a `net_ring` port whose RX queue `i` dequeues from `rx[i]` and TX queue `i`
    /// enqueues into `tx[i]`; start it with as many queues as rings per side. Its MAC is 00:00:00:00:00:00 and cannot be changed (the driver has no
    /// `mac_addr_set`) nor filters on it, so benchmarks give `net` MACs of their own.
    /// `name` must be unique (DPDK calls the port `net_ring_<name>`). Each ring may serve
    /// one port, one side, once; the handles keep only the other end (see the module doc).
    /// The device keeps the rings (and through them the EAL) until it is closed.
    pub fn from_rings(name: &str, rx: &[&Ring], tx: &[&Ring]) -> Result<Port, Error> {
        let err = |reason: String| Error::Device {
            device: name.to_string(),
            reason,
        };
        if rx.is_empty() || tx.is_empty() {
            return Err(err("needs at least one RX and one TX ring".into()));
        }
        let all: Vec<&Ring> = rx.iter().chain(tx).copied().collect();
        for (i, r) in all.iter().enumerate() {
            if r.role.get() != Role::Free {
                return Err(err("a ring is already attached to a port".into()));
            }
            if all[..i].iter().any(|o| Arc::ptr_eq(&o.inner, &r.inner)) {
                return Err(err("the same ring is given twice".into()));
            }
        }
        let cname = CString::new(name).map_err(|_| err("contains a NUL byte".into()))?;
        let rx_ptrs: Vec<*mut dpdk_sys::rte_ring> =
            rx.iter().map(|r| r.inner.raw.as_ptr()).collect();
        let tx_ptrs: Vec<*mut dpdk_sys::rte_ring> =
            tx.iter().map(|r| r.inner.raw.as_ptr()).collect();
        // SAFETY: cname is a valid C string; the pointer arrays hold rx.len()/tx.len()
        // valid rings, which the returned RingPort keeps alive for as long as the port
        // exists (the driver does not free rings it was given).
        let rc = unsafe {
            dpdk_sys::rte_eth_from_rings(
                cname.as_ptr(),
                rx_ptrs.as_ptr(),
                rx.len() as u32,
                tx_ptrs.as_ptr(),
                tx.len() as u32,
                0,
            )
        };
        if rc < 0 {
            return Err(err(last_error()));
        }
        let rings: Vec<Arc<RawRing>> = all.iter().map(|r| r.inner.clone()).collect();
        let eal = rings[0].eal.clone();
        // Take the id DPDK returned: the driver names the ethdev `net_ring_<name>` and
        // makes no vdev, so a lookup by name would miss and `attach` would probe a second
        // device. The device string says "rings:", not "net_", so Drop closes the port
        // without trying to unplug a vdev that does not exist.
        let port = Port::from_id(&eal, rc as u16, &format!("rings:{name}"), rings)?;
        for r in rx {
            r.role.set(Role::PortConsumes);
        }
        for r in tx {
            r.role.set(Role::PortProduces);
        }
        Ok(port)
    }
}

impl Mbuf {
    /// Makes this single-segment mbuf hold exactly `bytes`, undoing whatever was done to
    /// it (headroom used by a prepend, length changes): how a benchmark generator recycles
    /// a transmitted packet without allocating. Hands the mbuf back in `Err` when it is
    /// chained (untouched) or `bytes` does not fit (then it is left empty).
    pub fn refill(self, bytes: &[u8]) -> Result<Mbuf, Mbuf> {
        if self.segments() > 1 {
            return Err(self);
        }
        let raw = self.into_raw();
        // SAFETY: `raw` is a valid single-segment mbuf we own (from `self`); reset only
        // rewinds its data offset and lengths, leaking no segment.
        unsafe { dpdk_sys::rvs_pktmbuf_reset(raw) };
        // SAFETY: still the same owned mbuf; ownership goes back into an Mbuf at once.
        let mut m =
            unsafe { Mbuf::from_raw(NonNull::new(raw).expect("into_raw of an Mbuf is non-null")) };
        if !m.append(bytes.len()) {
            return Err(m);
        }
        m.data_mut().copy_from_slice(bytes);
        Ok(m)
    }
}
