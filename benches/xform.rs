//! ns per packet of the forwarding transforms, next to a baseline measured in the
//! same run: copying the frame into a fresh buffer (what every case pays anyway,
//! since each iteration starts from the same input). Inputs are golden fixture
//! rows (`tests/fixtures/golden/cases.json`), so the benchmark runs exactly the
//! packets the tests check. Read the ratios, not the absolute numbers.
//!
//! Run: `cargo bench --bench xform`.

use std::net::{Ipv4Addr, SocketAddrV4};

use criterion::{black_box, criterion_group, criterion_main, Criterion};
use rvs::lb::xform::{self, Egress, Tunnel};
use rvs::wire::{EthernetAddress, HeadroomBuf, Ipv4At, PacketBuf};

fn fixture(name: &str) -> Vec<u8> {
    let text = std::fs::read_to_string("tests/fixtures/golden/cases.json").expect("golden cases");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("json");
    let c = doc["cases"]
        .as_array()
        .expect("cases")
        .iter()
        .find(|c| c["name"] == name)
        .expect("named case");
    let h = c["input"].as_str().expect("hex");
    (0..h.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&h[i..i + 2], 16).expect("hex"))
        .collect()
}

fn bench(c: &mut Criterion) {
    let eg = Egress {
        port_mac: EthernetAddress([2, 0, 0, 0, 0, 1]),
        next_hop_mac: EthernetAddress([2, 0, 0, 0, 0, 0x11]),
        mtu: 1500,
        ident: 1,
    };
    let rip = SocketAddrV4::new(Ipv4Addr::new(198, 51, 100, 11), 8080);
    let vip = SocketAddrV4::new(Ipv4Addr::new(192, 0, 2, 10), 80);
    let local = Ipv4Addr::new(198, 51, 100, 1);
    let tunnel = Tunnel {
        src_addr: local,
        dst_addr: *rip.ip(),
    };
    let syn = fixture("nat_in_tcp_syn");
    let reply = fixture("nat_out_tcp_synack");
    let dr_in = fixture("dr_tcp_syn");
    let tun_in = fixture("tun_tcp_syn_df");

    let mut g = c.benchmark_group("xform");
    // One reusable buffer: each iteration puts the data start back at the default
    // headroom and copies the input in (as an rx burst fills an mbuf, and with no
    // allocation), then runs the transform.
    let mut buf = HeadroomBuf::new(&syn);
    let reset = |buf: &mut HeadroomBuf, bytes: &[u8]| {
        let h = buf.headroom();
        let home = HeadroomBuf::DEFAULT_HEADROOM;
        let moved = if h > home {
            buf.prepend(h - home)
        } else {
            buf.adj(home - h)
        };
        let sized = buf.set_len(bytes.len());
        assert!(moved && sized, "bench buffer back at its home position");
        buf.data_mut().copy_from_slice(bytes);
    };
    g.bench_function("baseline_copy", |b| {
        b.iter(|| {
            reset(&mut buf, &syn);
            black_box(buf.data()[0]);
        })
    });
    g.bench_function("nat_in_tcp", |b| {
        b.iter(|| {
            reset(&mut buf, &syn);
            black_box(xform::nat_in(&mut buf, 14, rip, &eg))
        })
    });
    // The LB path's form: the header was checked once by `lb::classify`, so the
    // transform takes the token and verifies nothing (issue 15). Against
    // `nat_in_tcp`, which checks the header first, this is one checksum saved.
    let syn_at = Ipv4At::check(&syn, 14).expect("fixture header is valid");
    g.bench_function("nat_in_tcp_prechecked", |b| {
        b.iter(|| {
            reset(&mut buf, &syn);
            black_box(xform::nat_in_at(&mut buf, syn_at, rip, &eg))
        })
    });
    g.bench_function("nat_out_tcp", |b| {
        b.iter(|| {
            reset(&mut buf, &reply);
            black_box(xform::nat_out(&mut buf, 14, vip, local, &eg))
        })
    });
    g.bench_function("dr_tcp", |b| {
        b.iter(|| {
            reset(&mut buf, &dr_in);
            black_box(xform::dr(&mut buf, 14, &eg))
        })
    });
    g.bench_function("tun_tcp", |b| {
        b.iter(|| {
            reset(&mut buf, &tun_in);
            black_box(xform::tun(&mut buf, 14, &tunnel, &eg))
        })
    });
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
