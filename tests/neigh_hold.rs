//! The first packet to an unresolved next hop waits for ARP instead of being dropped:
//! through the testbed's LB path (the workers' code), the worker's hold queue and the
//! appliance's ARP handling, with the frame finally sent compared byte for byte to the
//! one the same path makes when the neighbour is already known.

use rvs::dataplane::unres::{Release, UnresQueue};
use rvs::dataplane::{Counter, LbVerdict};
use rvs::net::Verdict;
use rvs::testkit::testbed::{director, tcp_frame, CLIENT_MAC, PORT_MAC};
use rvs::wire::{EthernetFrame, HeadroomBuf, PacketBuf};
use std::net::Ipv4Addr;

fn a(d: u8) -> Ipv4Addr {
    Ipv4Addr::new(203, 0, 113, d)
}

/// Neighbours the testbed learnt at t=0 are long forgotten by then (unused stale
/// entries go after base_reachable_time + gc_stale_time = 90 s).
const LATER: u32 = 1000;

/// Ether(dst=PORT_MAC, src=mac)/ARP(op=2, hwsrc=mac, psrc=ip, hwdst=PORT_MAC, pdst=203.0.113.1)
fn arp_reply(ip: Ipv4Addr, mac: [u8; 6]) -> Vec<u8> {
    let mut f = Vec::with_capacity(42);
    f.extend_from_slice(&PORT_MAC);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&[0x08, 0x06, 0, 1, 0x08, 0, 6, 4, 0, 2]);
    f.extend_from_slice(&mac);
    f.extend_from_slice(&ip.octets());
    f.extend_from_slice(&PORT_MAC);
    f.extend_from_slice(&a(1).octets());
    f
}

#[test]
fn first_syn_to_an_unresolved_real_server_is_held_and_sent_once_arp_answers() {
    let syn = tcp_frame(a(2), 40000, a(10), 80, 0x02, PORT_MAC, CLIENT_MAC);

    // The reference: a director that knows every real server.
    let (mut known, _p1) = director(1024, "rr");
    for d in [11u8, 12, 13] {
        known.net().neigh().learn(a(d), [2, 0, 0, 0, 0, d], LATER);
    }
    let mut expected = HeadroomBuf::new(&syn);
    assert_eq!(
        known.handle(0, &mut expected, LATER),
        LbVerdict::Tx {
            port: 0,
            counter: Counter::NatIn
        }
    );

    // The same SYN to a director that has forgotten them: held, request asked for.
    let (mut lb, _p2) = director(1024, "rr");
    let mut b = HeadroomBuf::new(&syn);
    let v = lb.handle(0, &mut b, LATER);
    let LbVerdict::Hold {
        port: 0,
        next_hop,
        request: true,
        counter: Counter::NatIn,
    } = v
    else {
        panic!("expected the SYN held with a request, got {v:?}");
    };
    let rs_mac = [2, 0, 0, 0, 0, next_hop.octets()[3]];
    assert_eq!(
        EthernetFrame::new_checked(b.data()).unwrap().dst_addr().0,
        [0; 6],
        "MAC left for the release"
    );
    // The worker sends the broadcast request for it.
    let mut req = HeadroomBuf::new(&[]);
    assert!(lb.net().arp_request(&mut req, 0, next_hop, None));
    assert_eq!(&req.data()[38..42], &next_hop.octets());

    let mut q: UnresQueue<HeadroomBuf> = UnresQueue::new(3, 3);
    assert!(q.hold(b, 0, next_hop, Counter::NatIn, LATER).is_ok());
    let mut out = Vec::new();
    let release = |q: &mut UnresQueue<HeadroomBuf>, net: &rvs::net::Net, out: &mut Vec<_>| {
        q.release(net.neigh(), LATER, |r| {
            if let Release::Send {
                pkt, port, counter, ..
            } = r
            {
                out.push((pkt.data().to_vec(), port, counter));
            }
        })
    };
    release(&mut q, lb.net(), &mut out);
    assert_eq!(q.len(), 1, "still waiting: nothing answered yet");

    // The real server answers; the appliance learns it; the next loop sends the SYN.
    let mut reply = HeadroomBuf::new(&arp_reply(next_hop, rs_mac));
    assert_eq!(lb.net().handle(0, &mut reply, LATER), Verdict::Consumed);
    release(&mut q, lb.net(), &mut out);
    assert!(q.is_empty());
    let (frame, port, counter) = out.pop().expect("the held SYN is sent");
    assert_eq!((port, counter), (0, Counter::NatIn));
    assert_eq!(
        frame,
        expected.data(),
        "same frame as with the neighbour known"
    );
    assert_eq!(
        EthernetFrame::new_checked(&frame[..]).unwrap().dst_addr().0,
        rs_mac
    );
}

#[test]
fn held_packet_expires_when_arp_never_answers() {
    let (mut lb, _p) = director(1024, "rr");
    let mut b = HeadroomBuf::new(&tcp_frame(
        a(2),
        40001,
        a(20),
        80,
        0x02,
        PORT_MAC,
        CLIENT_MAC,
    ));
    let LbVerdict::Hold {
        next_hop, counter, ..
    } = lb.handle(0, &mut b, LATER)
    else {
        panic!("expected a hold");
    };
    assert_eq!(counter, Counter::DrOut);
    let net = lb.net();
    let p = net.neigh().params();
    let timeout = p.mcast_solicit * p.retrans_secs;
    let mut q: UnresQueue<HeadroomBuf> = UnresQueue::new(p.unres_qlen, timeout);
    assert!(q.hold(b, 0, next_hop, counter, LATER).is_ok());
    let (mut requests, mut expired) = (0, 0);
    for now in LATER..=LATER + timeout {
        q.release(net.neigh(), now, |r| match r {
            Release::Request { .. } => requests += 1,
            Release::Expired(_) => expired += 1,
            Release::Send { .. } => panic!("nobody answered"),
        });
    }
    // One request per second after the first (sent by the worker at hold time).
    assert_eq!((requests, expired), (timeout - 1, 1));
}
