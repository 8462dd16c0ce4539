//! The safe ring layer against real DPDK rings and a real `net_ring` port: what does not
//! fit a ring is handed back in order, a port's end of a ring is refused to the handle,
//! frames go handle → RX ring → port RX queue and port TX queue → TX ring → handle, and
//! `Mbuf::refill` undoes a prepend. One test: the EAL is once per process.

mod common;

use common::eal::{mbuf_with, root_or_skip, test_eal};
use rvs::dpdk::{Mbuf, Mempool, Port, PortConfig, Ring, RxBurst};

fn frame(tag: u8) -> Vec<u8> {
    let mut f = vec![0u8; 60];
    f[0] = tag;
    f[59] = tag;
    f
}

fn mbuf(pool: &Mempool, tag: u8) -> Mbuf {
    mbuf_with(pool, &frame(tag))
}

#[test]
fn rings_and_ring_ports_move_mbufs_and_keep_their_roles() {
    if !root_or_skip() {
        return;
    }
    let eal = test_eal("rvring", &[]);
    let pool = Mempool::new(&eal, "ring_test", 1023, 0).expect("mempool");
    let before = pool.available();

    // A free ring of 4 slots holds 3: of 5 mbufs, 3 go in, 2 come back in order.
    assert!(
        Ring::new(&eal, "bad", 6).is_err(),
        "size must be a power of two"
    );
    let r = Ring::new(&eal, "t_free", 4).expect("ring");
    assert_eq!(r.capacity(), 3);
    let mut v: Vec<Mbuf> = (1..=5).map(|t| mbuf(&pool, t)).collect();
    assert_eq!(r.enqueue(&mut v), 3);
    assert_eq!(r.len(), 3);
    let left: Vec<u8> = v.iter().map(|m| m.data()[0]).collect();
    assert_eq!(left, vec![1, 2], "the rest is handed back, in order");
    let mut out = Vec::with_capacity(8);
    assert_eq!(r.dequeue(&mut out, 8), 3);
    let got: Vec<u8> = out.iter().map(|m| m.data()[0]).collect();
    assert_eq!(
        got,
        vec![5, 4, 3],
        "enqueue takes from the end of the vector"
    );
    assert!(r.is_empty());

    // Mbufs left in a dropped ring go back to the pool.
    let mut v2 = vec![mbuf(&pool, 9)];
    assert_eq!(r.enqueue(&mut v2), 1);
    drop(r);

    // refill undoes a prepend (what TUN does to a packet) and restores the bytes.
    let mut m = out.pop().expect("one mbuf");
    assert!(m.prepend(20));
    m.data_mut()[0] = 0xee;
    let m = m.refill(&frame(7)).ok().expect("refill");
    assert_eq!(m.data(), &frame(7)[..]);
    assert_eq!(m.headroom(), 128, "default headroom is back");
    assert!(m.refill(&vec![0u8; 70_000]).is_err(), "too big is refused");

    // A ring port: handle → RX ring → port RX queue; port TX queue → TX ring → handle.
    let rx = Ring::new(&eal, "t_rx", 64).expect("rx ring");
    let tx = Ring::new(&eal, "t_tx", 64).expect("tx ring");
    assert!(
        Port::from_rings("t_dup", &[&rx], &[&rx]).is_err(),
        "one ring cannot be both sides"
    );
    let port = Port::from_rings("t_port", &[&rx], &[&tx]).expect("ring port");
    assert!(
        Port::from_rings("t_again", &[&rx], &[&tx]).is_err(),
        "a ring serves one port"
    );
    let cfg = PortConfig {
        queues: 1,
        mtu: 0,
        ..PortConfig::default()
    };
    let (port, mut rxq, mut txq) = port.start(&cfg, &pool).expect("start");

    let mut in_ = vec![mbuf(&pool, 0x42)];
    assert_eq!(
        tx.enqueue(&mut in_),
        0,
        "the port is the TX ring's producer"
    );
    assert_eq!(in_.len(), 1, "refused mbufs are handed back");
    assert_eq!(rx.enqueue(&mut in_), 1);
    let mut stolen = Vec::new();
    assert_eq!(
        rx.dequeue(&mut stolen, 1),
        0,
        "the port is the RX ring's consumer"
    );

    let mut burst = RxBurst::default();
    assert_eq!(rxq[0].rx_burst(&mut burst), 1);
    let m = burst.next_mbuf().expect("the frame");
    assert_eq!(m.data(), &frame(0x42)[..]);
    txq[0].push(m);
    txq[0].flush();
    assert_eq!(txq[0].sent_pkts, 1);
    let mut back = Vec::with_capacity(4);
    assert_eq!(tx.dequeue(&mut back, 4), 1);
    assert_eq!(back[0].data(), &frame(0x42)[..]);
    let st = port.stats();
    assert_eq!((st.ipackets, st.opackets), (1, 1));

    // Everything returns to the pool once handles, queues and the port are gone.
    drop((back, burst, rxq, txq, port, rx, tx, in_, stolen, v, v2, out));
    assert_eq!(pool.available(), before, "no mbuf leaked");
}
