//! Would the request-direction transform forward this packet? Asked by the LB path for
//! the first packet of a new flow *before* it creates a connection entry or a template
//! (issue 10 item 4: no state from what is dropped), once the real server and its next
//! hop are known. It makes, without changing the frame, exactly the checks of
//! [`super::nat_in_at`], [`super::dr_at`] and [`super::tun_at`] that can end in something
//! else than [`Verdict::Forward`](super::Verdict::Forward) or
//! [`Verdict::Fragment`](super::Verdict::Fragment): not a fragment, no IP options, a
//! TCP/UDP header that fits (NAT), TTL > 1, length (+ 20 for TUN) within the egress MTU
//! unless DF is clear, 20 bytes of headroom (TUN). When it says no, the caller runs the transform itself,
//! which builds the ICMP error or names the drop exactly as before; a property test
//! (`xform::proptests`) holds the two to the same answer.

use super::{nat, valid_ipv4, Egress};
use crate::lb::dest::Fwd;
use crate::wire::ipip::OUTER_HEADER_LEN;
use crate::wire::{Ipv4At, Ipv4Packet, PacketBuf};

/// True when the request-direction transform for `fwd` would forward the frame in `pkt`
/// (header `at`, checked) to `eg`, whole or in fragments. Reads only; no allocation.
pub fn admits<P: PacketBuf>(pkt: &P, at: Ipv4At, fwd: Fwd, eg: &Egress) -> bool {
    let frame = pkt.data();
    let Ok(ip) = valid_ipv4(frame, at) else {
        return false;
    };
    ttl_and_size_admit(&ip, fwd, eg)
        && match fwd {
            Fwd::Nat => nat::check(frame, at).is_ok(),
            Fwd::Dr => true,
            Fwd::Tun => pkt.headroom() >= OUTER_HEADER_LEN,
        }
}

/// The checks every request-direction transform shares, for whole packets and
/// fragments alike (`datagram::admits`): TTL > 1 (else time exceeded), and the length
/// (+ 20 bytes of outer header for TUN) within the egress MTU unless DF is clear (with
/// DF, frag-needed or a drop; without, the packet leaves in fragments,
/// `Verdict::Fragment`).
pub(super) fn ttl_and_size_admit(ip: &Ipv4Packet<&[u8]>, fwd: Fwd, eg: &Egress) -> bool {
    let overhead = match fwd {
        Fwd::Tun => OUTER_HEADER_LEN as u32,
        Fwd::Nat | Fwd::Dr => 0,
    };
    ip.ttl() > 1 && !(u32::from(ip.total_len()) + overhead > u32::from(eg.mtu) && ip.dont_frag())
}
