//! `start` consumes the stopped port: a started port (whose queues may be polled) cannot
//! be configured and started again.
use rvs::dpdk::{Eal, Mempool, Port, PortConfig};

fn main() {
    let eal = Eal::init(&[]).unwrap();
    let pool = Mempool::new(&eal, "pool", 1023, 32).unwrap();
    let port = Port::attach(&eal, "net_null0").unwrap();
    let (_started, _rx, _tx) = port.start(&PortConfig::default(), &pool).unwrap();
    let _again = port.start(&PortConfig::default(), &pool);
}
