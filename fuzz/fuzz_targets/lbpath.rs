//! Fuzz target: sequences of untrusted frames through a worker's whole per-frame path
//! (LB path -> appliance on a pass -> verdicts applied, hold queue, sweeps) on the
//! DPDK-free testbed director (NAT, DR, TUN, persistence, a mark service, routes and
//! neighbours), on a moving clock; see rvs::testkit::worker_path for the input format.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvs::testkit::worker_path::fuzz_lbpath(data);
});
