//! Fuzz target: untrusted frames through the whole load-balancing path (classify ->
//! connection lookup / schedule with persistence -> NAT/DR/TUN transform) on the
//! DPDK-free testbed; see rvs::testkit::testbed and rvs::testkit::testbed::fuzz_one.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvs::testkit::testbed::fuzz_one(data);
});
