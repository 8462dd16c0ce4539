//! The fragmenter (`wire::fragment`) writing into real DPDK mbufs, as the worker's
//! `send_fragments` does: a fresh mbuf from the pool grows to each fragment's length,
//! the fragments reassemble to the datagram, and an exhausted pool stops the split
//! part-way with the count of fragments already made (the worker's `drop_frag_nobuf`),
//! every mbuf going back to the pool. One test: the EAL is once per process.

mod common;

use common::eal::{mbuf_with, root_or_skip, test_eal};
use rvs::dpdk::{Mbuf, Mempool};
use rvs::wire::fragment::{fragment, FragError};
use rvs::wire::Ipv4Packet;

/// Ethernet + a 4000-byte UDP datagram with DF clear and a valid header checksum.
fn big_frame() -> Vec<u8> {
    let total = 4000usize;
    let mut f = vec![0u8; 14 + total];
    f[..12].copy_from_slice(&[2, 0, 0, 0, 0, 0x11, 2, 0, 0, 0, 0, 1]);
    f[12] = 0x08;
    let ip = &mut f[14..];
    ip[0] = 0x45;
    ip[2..4].copy_from_slice(&(total as u16).to_be_bytes());
    ip[4..6].copy_from_slice(&0x4242u16.to_be_bytes());
    ip[8] = 63;
    ip[9] = 17;
    ip[12..16].copy_from_slice(&[203, 0, 113, 7]);
    ip[16..20].copy_from_slice(&[198, 51, 100, 11]);
    for (i, b) in ip[20..].iter_mut().enumerate() {
        *b = (i * 7) as u8;
    }
    Ipv4Packet::new_unchecked(&mut ip[..total]).fill_checksum();
    f
}

#[test]
fn fragments_are_written_into_pool_mbufs_and_an_empty_pool_stops_the_split() {
    if !root_or_skip() {
        return;
    }
    let eal = test_eal("rvfrag", &[]);
    let pool = Mempool::new(&eal, "frag_test", 63, 0).expect("mempool");
    let before = pool.available();
    let f = big_frame();
    // The datagram itself sits in a test buffer; 3 fragments of <= 1500 bytes.
    let mut out: Vec<Mbuf> = Vec::new();
    let r = fragment(&f, 14, 1500, || pool.alloc(), |m| out.push(m));
    assert_eq!(r, Ok(3));
    let mut whole = Vec::new();
    for (i, m) in out.iter().enumerate() {
        let ip = Ipv4Packet::new_checked(&m.data()[14..]).expect("a valid IPv4 fragment");
        assert!(ip.verify_checksum());
        assert!(usize::from(ip.total_len()) <= 1500 && m.len() == 14 + usize::from(ip.total_len()));
        assert_eq!(usize::from(ip.frag_offset_bytes()), i * 1480);
        assert_eq!(ip.more_frags(), i < 2);
        whole.extend_from_slice(ip.payload());
    }
    assert_eq!(whole, &f[34..], "the fragments carry the datagram");
    drop(out);
    assert_eq!(pool.available(), before, "every fragment mbuf went back");

    // A pool with one free mbuf left: one fragment made, then NoBuffer { sent: 1 }.
    let keep: Vec<Mbuf> = (0..before - 1)
        .map(|_| mbuf_with(&pool, &[0; 60]))
        .collect();
    let mut out: Vec<Mbuf> = Vec::new();
    let r = fragment(&f, 14, 1500, || pool.alloc(), |m| out.push(m));
    assert_eq!(r, Err(FragError::NoBuffer { sent: 1 }));
    assert_eq!(out.len(), 1);
    drop(out);
    drop(keep);
    assert_eq!(
        pool.available(),
        before,
        "nothing leaked on the failed split"
    );
}
