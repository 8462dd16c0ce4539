//! A single-producer/single-consumer ring handle cannot be used from two threads at once:
//! `Ring` is not `Sync`, so no `&Ring` can cross to a second thread.
use rvs::dpdk::Ring;

fn assert_sync<T: Sync>() {}

fn main() {
    // Asserted directly (not through `thread::scope`) so the compiler's message does not
    // depend on how it abbreviates `Send` in a given dependency graph.
    assert_sync::<Ring>();
}
