//! Fuzz target: untrusted bytes as an ICMP message; see rvs::testkit::fuzz_touch::icmp.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvs::testkit::fuzz_touch::icmp(data);
});
