//! Raw DPDK bindings (placeholder until the bindgen build lands).
