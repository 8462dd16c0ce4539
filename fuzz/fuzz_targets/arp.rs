//! Fuzz target: untrusted bytes as an ARP packet; see rvs::testkit::fuzz_touch::arp.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvs::testkit::fuzz_touch::arp(data);
});
