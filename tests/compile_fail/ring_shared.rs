//! A single-producer/single-consumer ring handle cannot be used from two threads at once.
use rvs::dpdk::Ring;

fn share(ring: Ring) {
    std::thread::scope(|s| {
        s.spawn(|| ring.len());
        s.spawn(|| ring.len());
    });
}

fn main() {
    let _ = share;
}
