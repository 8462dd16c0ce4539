//! Fuzz target: untrusted bytes as a UDP datagram; see rvs::wire::fuzz_touch::udp.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvs::wire::fuzz_touch::udp(data);
});
