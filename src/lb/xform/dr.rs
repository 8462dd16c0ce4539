//! Direct routing (gatewaying, `ipvsadm -g`): the real server shares a link
//! with the director and has the VIP on a non-ARPing interface, so the director
//! only readdresses the frame: destination MAC = the real server's MAC, source
//! MAC = our port's MAC. Addresses, ports and L4 checksums stay as they are.
//!
//! TTL: Linux IPVS *does* decrement it in DR mode. `ip_vs_dr_xmit` gets its
//! route from `__ip_vs_get_out_rt`, which calls `decrement_ttl` for every
//! non-local destination (and answers TTL ≤ 1 with ICMP time-exceeded) before
//! `ip_send_check` refreshes the header checksum; older kernels did not. Recorded
//! on Debian's 6.1 kernel: `tests/fixtures/golden/oracle/ipvs_ttl_mtu.txt`. rvs follows current kernels, so
//! a traceroute through an rvs director shows the same hops as through IPVS.
//! ICMP errors about the packet come from the VIP (its destination).

use super::{check_at, forward, ttl_then_mtu, valid_ipv4, Egress, Verdict};
use crate::wire::{Ipv4At, PacketBuf};

/// Forwards the packet at `l3` to the real server whose MAC is `eg.next_hop_mac`.
/// Any IPv4 protocol is carried (IPVS's DR is "used for ANY protocol").
pub fn dr<P: PacketBuf>(pkt: &mut P, l3: usize, eg: &Egress) -> Verdict {
    match check_at(pkt.data(), l3) {
        Ok(at) => dr_at(pkt, at, eg),
        Err(r) => Verdict::Drop(r),
    }
}

/// [`dr`] for a header the caller already checked (`at`: lengths and checksum).
pub fn dr_at<P: PacketBuf>(pkt: &mut P, at: Ipv4At, eg: &Egress) -> Verdict {
    let l3 = at.l3();
    let vip = match valid_ipv4(pkt.data(), at) {
        Ok(ip) => ip.dst_addr(),
        Err(r) => return Verdict::Drop(r),
    };
    if let Some(v) = ttl_then_mtu(pkt, l3, 0, vip, eg) {
        return v;
    }
    forward(pkt, l3, eg)
}
