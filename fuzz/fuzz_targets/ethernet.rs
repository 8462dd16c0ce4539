//! Fuzz target: untrusted bytes as a whole Ethernet frame, dissected down to
//! ARP or IPv4 and ICMP/TCP/UDP the way the data path would
//! (rvs::testkit::fuzz_touch::frame).
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    rvs::testkit::fuzz_touch::frame(data);
});
