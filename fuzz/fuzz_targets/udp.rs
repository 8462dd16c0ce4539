//! Fuzz target: untrusted bytes as a UDP datagram; see rvs::testkit::fuzz_touch::udp.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvs::testkit::fuzz_touch::udp(data);
});
