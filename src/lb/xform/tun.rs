//! IP-in-IP tunnelling (`ipvsadm -i`, RFC 2003): the director prepends an outer
//! IPv4 header (protocol 4) from its own address to the real server's; the real
//! server decapsulates and answers the client directly from the VIP.
//!
//! Following `ip_vs_tunnel_xmit`:
//! - the inner TTL is decremented first (TTL ≤ 1: time-exceeded from the VIP),
//!   then the outer header copies the inner TTL, DF (IPVS copies DF while
//!   `pmtu_disc` is on, the default) and TOS, with ECN encapsulated as RFC 6040
//!   normal mode (`INET_ECN_encapsulate`: a CE inner mark becomes ECT(0) outside);
//! - a fresh identification ([`Egress::ident`]), no options, a full header checksum;
//! - the MTU is the caller's: `LbPath` lowers [`Egress::mtu`] to the tunnel path MTU
//!   learnt from frag-needed errors about our IPIP packets (`tun_pmtu`);
//! - MTU: when inner length + 20 exceeds the port MTU, a DF packet is answered
//!   with ICMP frag-needed carrying `mtu - 20`, sent from the VIP (Linux's
//!   `icmp_send` answers from the local destination address) back out of the
//!   receiving port; the quote shows the packet after the TTL decrement, as
//!   IPVS's does. Without DF the packet is encapsulated whole and the OUTER packet
//!   is fragmented to the MTU ([`Verdict::Fragment`]), as Linux's `ip_fragment`
//!   after `ip_vs_tunnel_xmit` (recorded: tests/fixtures/oracle/egress).
//!
//! Layout: `eth | ip ...` becomes `eth | outer ip | ip ...` by prepending 20
//! bytes of headroom and moving only the Ethernet header (14 or 18 bytes).

use std::net::Ipv4Addr;

use super::{check_at, forward, ipv4_mut, ttl_then_mtu, valid_ipv4, DropReason, Egress, Verdict};
use crate::wire::ipip::{self, OUTER_HEADER_LEN};
use crate::wire::{Ipv4At, Ipv4Packet, PacketBuf};

/// ECN codepoint "congestion experienced" (RFC 3168).
const ECN_CE: u8 = 0b11;
/// ECN codepoint ECT(0).
const ECN_ECT0: u8 = 0b10;

/// The two ends of a tunnel.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Tunnel {
    /// The director's address on the network towards the real server (outer source).
    pub src_addr: Ipv4Addr,
    /// The real server's address (outer destination).
    pub dst_addr: Ipv4Addr,
}

/// Encapsulates the packet at `l3` towards `tunnel.dst_addr`.
pub fn tun<P: PacketBuf>(pkt: &mut P, l3: usize, tunnel: &Tunnel, eg: &Egress) -> Verdict {
    match check_at(pkt.data(), l3) {
        Ok(at) => tun_at(pkt, at, tunnel, eg),
        Err(r) => Verdict::Drop(r),
    }
}

/// [`tun`] for a header the caller already checked (`at`: lengths and checksum).
pub fn tun_at<P: PacketBuf>(pkt: &mut P, at: Ipv4At, tunnel: &Tunnel, eg: &Egress) -> Verdict {
    let l3 = at.l3();
    let (vip, inner_len) = match valid_ipv4(pkt.data(), at) {
        Ok(ip) => (ip.dst_addr(), usize::from(ip.total_len())),
        Err(r) => return Verdict::Drop(r),
    };
    encapsulate(pkt, l3, vip, inner_len, tunnel, eg)
}

/// The TTL/MTU steps and the encapsulation of [`tun_at`] for a packet that passed its
/// checks (also the fragments of a reassembled datagram, `xform::datagram`): `vip` is
/// the source of ICMP errors about it, `inner_len` its IPv4 total length.
pub(crate) fn encapsulate<P: PacketBuf>(
    pkt: &mut P,
    l3: usize,
    vip: Ipv4Addr,
    inner_len: usize,
    tunnel: &Tunnel,
    eg: &Egress,
) -> Verdict {
    if let Some(v) = ttl_then_mtu(pkt, l3, OUTER_HEADER_LEN as u16, vip, eg) {
        return v;
    }
    // Drop Ethernet padding behind short packets: the outer length says where
    // the packet ends, and the padding would otherwise sit inside the new frame.
    if !pkt.set_len(l3 + inner_len) || !pkt.prepend(OUTER_HEADER_LEN) {
        return Verdict::Drop(DropReason::NoHeadroom);
    }
    let data = pkt.data_mut();
    data.copy_within(OUTER_HEADER_LEN..OUTER_HEADER_LEN + l3, 0);
    if ipip::encapsulate(&mut data[l3..], tunnel.src_addr, tunnel.dst_addr, eg.ident).is_err() {
        return Verdict::Drop(DropReason::Malformed);
    }
    let mut outer = ipv4_mut(pkt, l3);
    let tos = outer.tos();
    if tos & ECN_CE == ECN_CE {
        outer.set_tos(tos & !ECN_CE | ECN_ECT0);
    }
    debug_assert!(Ipv4Packet::new_checked(&pkt.data()[l3..]).is_ok());
    forward(pkt, l3, eg)
}
