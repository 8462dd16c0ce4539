//! Nothing that touches DPDK can be made without the proof that the EAL is initialised.
use rvs::dpdk::{register_thread, Mempool, Port, Ring};

fn main() {
    let _pool = Mempool::new("pool", 1023, 32);
    let _port = Port::attach("net_null0");
    let _ring = Ring::new("ring", 64);
    let _lcore = register_thread();
}
