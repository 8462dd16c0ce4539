//! One RX queue cannot be polled from two threads at once (DPDK queues are not
//! thread-safe): polling takes `&mut self`.
use rvs::dpdk::{RxBurst, RxQueue};

fn poll_from_two_threads(mut q: RxQueue) {
    std::thread::scope(|s| {
        s.spawn(|| q.rx_burst(&mut RxBurst::default()));
        s.spawn(|| q.rx_burst(&mut RxBurst::default()));
    });
}

fn main() {
    let _ = poll_from_two_threads;
}
