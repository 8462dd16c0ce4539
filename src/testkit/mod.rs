//! Test scaffolding, outside the production API: compiled for this crate's unit tests and
//! with the `testkit` feature (enabled for integration tests and benches through the
//! self dev-dependency in Cargo.toml, for `rvs-bench` and for the fuzz crate).
//!
//! * [`testbed`]: a complete DPDK-free director (one port, known services and
//!   neighbours) over the real LB path and the real [`crate::mgmt::Manager`];
//! * [`fuzz_touch`]: parse-and-touch drivers shared by the fuzz targets, the no-panic
//!   property tests and the corpus replay test;
//! * [`worker_path`]: a worker's whole per-frame path (LB, appliance, hold queue,
//!   sweeps) over the testbed, fed sequences of frames by the `lbpath` and `appliance`
//!   fuzz targets;
//! * heap packet buffers: `wire::HeadroomBuf` (gated the same way).

pub mod fuzz_touch;
pub mod testbed;
pub mod worker_path;
