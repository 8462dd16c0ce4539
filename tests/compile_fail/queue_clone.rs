//! Queue handles cannot be duplicated, so each has exactly one owner thread.
use rvs::dpdk::{RxQueue, TxQueue};

fn duplicate(rx: RxQueue, tx: TxQueue) -> (RxQueue, RxQueue, TxQueue, TxQueue) {
    (rx.clone(), rx, tx.clone(), tx)
}

fn main() {
    let _ = duplicate;
}
