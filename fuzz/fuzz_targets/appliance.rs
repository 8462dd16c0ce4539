//! Fuzz target: sequences of untrusted frames through a worker without services (the
//! appliance only: ARP, ICMP echo, routing, to-kernel verdicts, the hold queue and
//! neighbour probes) on the DPDK-free testbed; see rvs::testkit::worker_path.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvs::testkit::worker_path::fuzz_appliance(data);
});
