//! Fuzz target: untrusted bytes as a TCP segment; see rvs::testkit::fuzz_touch::tcp.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvs::testkit::fuzz_touch::tcp(data);
});
