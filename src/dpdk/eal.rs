//! EAL initialisation (once per process) and thread registration.

use super::error::{last_error, Error};
use std::ffi::CString;
use std::os::raw::c_char;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// DPDK allows `rte_eal_init` once per process; this flag turns a second call into an
/// error instead of undefined behaviour.
static EAL_STARTED: AtomicBool = AtomicBool::new(false);

/// The initialised Environment Abstraction Layer: the proof of initialisation that every
/// DPDK constructor takes ([`Mempool::new`](super::Mempool::new), [`Port::attach`](super::Port::attach),
/// [`Ring::new`](super::Ring::new), [`register_thread`]). Cloning is cheap (one `Arc`);
/// every object made with it keeps a clone, so `rte_eal_cleanup` runs only when the last
/// handle and the last object are gone, whatever order the owner drops them in.
#[derive(Clone)]
pub struct Eal {
    _guard: Arc<EalGuard>,
}

/// Runs `rte_eal_cleanup` when the last [`Eal`] clone goes.
struct EalGuard;

impl Eal {
    /// Initialises the EAL with `args` (without argv[0]; "rvsd" is prepended).
    pub fn init(args: &[String]) -> Result<Eal, Error> {
        if EAL_STARTED.swap(true, Ordering::SeqCst) {
            return Err(Error::EalTwice);
        }
        let mut owned: Vec<CString> = Vec::with_capacity(args.len() + 1);
        owned.push(CString::new("rvsd").expect("literal has no NUL"));
        for a in args {
            let c = CString::new(a.as_str())
                .map_err(|_| Error::EalInit(format!("argument {a:?} contains a NUL byte")))?;
            owned.push(c);
        }
        // rte_eal_init may permute argv, so give it a private array of pointers into
        // `owned`, which outlives the call.
        let mut argv: Vec<*mut c_char> = owned.iter().map(|c| c.as_ptr() as *mut c_char).collect();
        let argc = argv.len() as i32;
        // SAFETY: argv holds argc valid NUL-terminated strings kept alive by `owned`;
        // EAL_STARTED guarantees this is the process's only call.
        let rc = unsafe { dpdk_sys::rte_eal_init(argc, argv.as_mut_ptr()) };
        if rc < 0 {
            return Err(Error::EalInit(last_error()));
        }
        // DPDK keeps pointers into argv for some options (e.g. --file-prefix): leak the
        // strings, once per process.
        std::mem::forget(owned);
        Ok(Eal {
            _guard: Arc::new(EalGuard),
        })
    }
}

impl Drop for EalGuard {
    fn drop(&mut self) {
        // SAFETY: the EAL was initialised by `Eal::init` (the only maker of a guard), and
        // this is the last clone: every mempool, port, queue and ring holds one, so none
        // is left to use DPDK memory after the cleanup. A mempool that still has mbufs
        // out leaks its clone (mempool.rs), so then this never runs.
        let rc = unsafe { dpdk_sys::rte_eal_cleanup() };
        if rc < 0 {
            log::warn!("rte_eal_cleanup: {}", super::error::strerror(rc));
        }
    }
}

/// Registers the calling (non-EAL) thread with the EAL so it gets an lcore id, and with
/// it the per-lcore mempool cache. Workers call this once after pinning themselves; the
/// `Eal` proves the EAL is up (and stays up for the call).
pub fn register_thread(_eal: &Eal) -> Result<u32, Error> {
    // SAFETY: the EAL is initialised and not cleaned up (`_eal` is alive); registers only
    // the calling thread.
    let rc = unsafe { dpdk_sys::rte_thread_register() };
    if rc < 0 {
        return Err(Error::ThreadRegister(last_error()));
    }
    // SAFETY: reads the calling thread's lcore id, set just above.
    Ok(unsafe { dpdk_sys::rvs_lcore_id() })
}

/// Time-stamp counter ticks per second (from the EAL's calibration; 0 before EAL init,
/// which is why it needs no `Eal`: it reads one integer and touches no DPDK memory).
pub fn tsc_hz() -> u64 {
    // SAFETY: a plain getter of a global set by rte_eal_init; 0 before, harmless.
    unsafe { dpdk_sys::rte_get_tsc_hz() }
}

/// The current time-stamp counter: the syscall-free clock of the fast path.
#[inline]
pub fn rdtsc() -> u64 {
    // SAFETY: reads the CPU's TSC; no memory is touched.
    unsafe { dpdk_sys::rvs_rdtsc() }
}
