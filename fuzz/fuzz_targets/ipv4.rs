//! Fuzz target: untrusted bytes as an IPv4 packet; see rvs::testkit::fuzz_touch::ipv4.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvs::testkit::fuzz_touch::ipv4(data);
});
