//! Errors of the DPDK layer, so that rvsd can say which resource failed and why.

use std::ffi::CStr;

/// What went wrong while setting DPDK up. Each variant carries the DPDK error text.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// `rte_eal_init` failed (bad EAL argument, no memory, ...).
    #[error("EAL init failed: {0}")]
    EalInit(String),
    /// The EAL was already initialised in this process (DPDK allows it once).
    #[error("EAL already initialised in this process")]
    EalTwice,
    /// A mempool could not be created (usually: not enough memory for `-m`).
    #[error("mempool {name}: {reason}")]
    Mempool {
        /// Pool name.
        name: String,
        /// DPDK's reason.
        reason: String,
    },
    /// A device string named no device DPDK could probe.
    #[error("device {device}: {reason}")]
    Device {
        /// The device string from the config.
        device: String,
        /// DPDK's reason.
        reason: String,
    },
    /// Configuring or starting a port, or one of its queues, failed.
    #[error("port {port}: {what}: {reason}")]
    Port {
        /// Port name (device string) for the message.
        port: String,
        /// Which step failed ("rx queue 1 setup", "start", ...).
        what: String,
        /// DPDK's reason.
        reason: String,
    },
    /// A ring could not be created (name taken, no memory, bad size).
    #[error("ring {name}: {reason}")]
    Ring {
        /// Ring name.
        name: String,
        /// DPDK's reason.
        reason: String,
    },
    /// Registering a non-EAL thread with the EAL failed (too many lcores?).
    #[error("thread registration failed: {0}")]
    ThreadRegister(String),
}

/// DPDK's text for a negative return code or `rte_errno` value.
pub(crate) fn strerror(code: i32) -> String {
    let code = code.abs();
    // SAFETY: rte_strerror accepts any errno value and returns a pointer to a static or
    // thread-local NUL-terminated string, valid until the next call on this thread.
    let ptr = unsafe { dpdk_sys::rte_strerror(code) };
    if ptr.is_null() {
        return format!("error {code}");
    }
    // SAFETY: non-null, NUL-terminated (see above); copied out at once.
    unsafe { CStr::from_ptr(ptr) }
        .to_string_lossy()
        .into_owned()
}

/// The current thread's `rte_errno` as text.
pub(crate) fn last_error() -> String {
    // SAFETY: rvs_errno reads the calling thread's per-lcore errno; always valid.
    let code = unsafe { dpdk_sys::rvs_errno() };
    strerror(code)
}
