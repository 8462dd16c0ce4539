//! Fuzz target: untrusted bytes as an ICMP message; see rvs::wire::fuzz_touch::icmp.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvs::wire::fuzz_touch::icmp(data);
});
