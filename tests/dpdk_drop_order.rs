//! The safe DPDK layer keeps what it uses alive, whatever order the owner drops things
//! in (src/dpdk/mod.rs, "Ownership"): the EAL handle first, then a started port's
//! handle while its queues still poll it (a `net_ring` port and a `net_null` port), then
//! the pool's handle while one of its mbufs is alive. Each step must keep working (the
//! queues still receive and send; the mbuf's bytes are intact), nothing may crash, and
//! once the last queue is gone every mbuf is back in the pool. One test: the EAL is once
//! per process.

mod common;

use common::eal::{mbuf_with, root_or_skip, test_eal};
use rvs::dpdk::{Mempool, Port, PortConfig, Ring, RxBurst};

#[test]
fn wrong_drop_order_is_harmless_and_leaks_no_mbuf() {
    if !root_or_skip() {
        return;
    }
    let eal = test_eal("rvdrop", &["net_null_rvdrop0"]);
    let pool = Mempool::new(&eal, "drop_order", 1023, 0).expect("mempool");
    let full = pool.available();
    let cfg = PortConfig {
        queues: 1,
        rx_desc: 64,
        tx_desc: 64,
        mtu: 0,
        ..PortConfig::default()
    };

    // A ring port and a null port, both started, their RX queues filled from `pool`.
    let rx_ring = Ring::new(&eal, "d_rx", 64).expect("rx ring");
    let tx_ring = Ring::new(&eal, "d_tx", 64).expect("tx ring");
    let ring_port = Port::from_rings("d_port", &[&rx_ring], &[&tx_ring]).expect("ring port");
    let (ring_started, mut ring_rx, mut ring_tx) = ring_port.start(&cfg, &pool).expect("start");
    let null_port = Port::attach(&eal, "net_null_rvdrop0").expect("null port");
    // A second handle to the same device would close it under the first one's queues
    // when dropped: attach refuses a device that already has a live handle.
    assert!(
        Port::attach(&eal, "net_null_rvdrop0").is_err(),
        "a device is attached once at a time"
    );
    let (null_started, mut null_rx, mut null_tx) = null_port.start(&cfg, &pool).expect("start");

    // Wrong order 1: the EAL handle and the ports' handles go first; the queues keep the
    // devices (and the EAL) up.
    let eal2 = eal.clone(); // only to make objects again at the end
    drop(eal);
    drop(ring_started);
    drop(null_started);

    let mut burst = RxBurst::default();
    let mut v = vec![mbuf_with(&pool, &[0x42; 60])];
    assert_eq!(rx_ring.enqueue(&mut v), 1);
    assert_eq!(
        ring_rx[0].rx_burst(&mut burst),
        1,
        "a ring port whose handle was dropped still receives on its live queue"
    );
    let m = burst.next_mbuf().expect("the frame");
    assert_eq!(m.data(), &[0x42; 60][..]);
    ring_tx[0].push(m);
    ring_tx[0].flush();
    assert_eq!(ring_tx[0].sent_pkts, 1, "and still sends");
    let mut back = Vec::with_capacity(4);
    assert_eq!(tx_ring.dequeue(&mut back, 4), 1);
    assert_eq!(back[0].data(), &[0x42; 60][..]);

    // net_null makes packets from the queue's pool and frees what it is given.
    let got = null_rx[0].rx_burst(&mut burst);
    assert!(
        got > 0,
        "a null port whose handle was dropped still receives"
    );
    while let Some(m) = burst.next_mbuf() {
        null_tx[0].push(m);
    }
    null_tx[0].flush();
    assert_eq!(null_tx[0].sent_pkts, got as u64, "and still sends");

    // Wrong order 2: the ring handles before the queues of the port that uses them.
    drop((rx_ring, tx_ring));
    assert_eq!(
        ring_rx[0].rx_burst(&mut burst),
        0,
        "an empty ring, not a freed one"
    );

    // Last queue gone → devices closed, their RX descriptors' mbufs back in the pool.
    drop((ring_rx, ring_tx, null_rx, null_tx, back, burst, v));
    assert_eq!(pool.available(), full, "no mbuf leaked");
    assert_eq!(pool.in_use(), 0);
    // Once closed, the device may be attached again (net_null_rvdrop0 came from --vdev;
    // closing unplugged it, so this probes a fresh one).
    let again = Port::attach(&eal2, "net_null_rvdrop0,size=64").expect("attach again");
    drop(again);

    // A pool dropped with no mbuf out is freed: its name can be taken again.
    let scratch = Mempool::new(&eal2, "drop_scratch", 63, 0).expect("scratch pool");
    drop(scratch);
    let scratch = Mempool::new(&eal2, "drop_scratch", 63, 0).expect("freed, so the name is free");
    drop(scratch);

    // Wrong order 3: the last pool handle goes while one of its mbufs is alive. The
    // pool is leaked rather than freed under it (its name stays taken), so the mbuf
    // stays valid and can still be written and freed.
    let mut m = mbuf_with(&pool, &[7; 60]);
    assert_eq!(pool.in_use(), 1);
    drop(pool);
    assert!(
        Mempool::new(&eal2, "drop_order", 63, 0).is_err(),
        "a pool with an mbuf out must not be freed"
    );
    m.data_mut()[0] = 8;
    assert_eq!(m.data()[0], 8);
    assert_eq!(m.data()[59], 7);
    drop((m, eal2));
}
