//! Martian frames and addresses: what a Linux router refuses before it routes, answers
//! or delivers anything (`ip_route_input_slow`, `fib_validate_source`, `arp_process`),
//! as pure functions the data path applies once per frame:
//!
//! - Ethernet, in the worker before any path sees the frame ([`check_eth`]): a source
//!   MAC that is broadcast, multicast (I/G bit set), all zeros or the receiving port's
//!   own MAC, and an all-zero destination MAC, are impossible on a sane segment (a
//!   reply would go to a group, or to ourselves) and dropped.
//! - IPv4, where the header is first parsed (`LbPath::handle`, else `Net::handle_at`):
//!   a source in 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/4 or 240.0.0.0/4 (which holds
//!   255.255.255.255) is a martian source ([`is_martian_source`]), as is one of the
//!   director's own addresses, VIPs or subnet broadcasts (`Net::screen_ipv4`); a
//!   destination in 0.0.0.0/8 or 127.0.0.0/8 is a martian destination
//!   ([`is_martian_destination`]). Linux counts both as martians; rvs counts
//!   `drop_martian_source` / `drop_martian_destination`.
//!
//! ARP has its own exception: a request from 0.0.0.0 is an RFC 5227 probe (duplicate
//! address detection), which Linux answers for its own addresses and never learns
//! from; every other martian sender address is dropped (see `Net::handle_arp`).

use super::verdict::DropReason;
use crate::wire::Ipv4Net;
use std::net::Ipv4Addr;

/// True when a frame from Ethernet source `src` cannot be genuine on a port whose MAC
/// is `port_mac`: broadcast or multicast (the I/G bit, IEEE 802 §8.2), all zeros, or
/// the port's own address (a loop, or someone spoofing us).
#[inline]
pub fn is_bad_eth_source(src: [u8; 6], port_mac: [u8; 6]) -> bool {
    src[0] & 1 != 0 || src == [0; 6] || src == port_mac
}

/// True when Ethernet destination `dst` is all zeros (no station has it).
#[inline]
pub fn is_bad_eth_destination(dst: [u8; 6]) -> bool {
    dst == [0; 6]
}

/// The Ethernet checks of a frame received on a port with MAC `port_mac`, on the
/// frame's first 12 bytes (destination, source). A frame too short to hold them passes
/// here and is dropped as `drop_malformed` by the parse that follows.
#[inline]
pub fn check_eth(frame: &[u8], port_mac: [u8; 6]) -> Result<(), DropReason> {
    let (Some(dst), Some(src)) = (frame.get(0..6), frame.get(6..12)) else {
        return Ok(());
    };
    let mut d = [0u8; 6];
    d.copy_from_slice(dst);
    let mut s = [0u8; 6];
    s.copy_from_slice(src);
    if is_bad_eth_source(s, port_mac) {
        return Err(DropReason::BadEthSource);
    }
    if is_bad_eth_destination(d) {
        return Err(DropReason::BadEthDestination);
    }
    Ok(())
}

/// True for an IPv4 source no host may send from (Linux `ip_route_input_slow`:
/// `ipv4_is_zeronet`, `ipv4_is_loopback`, `ipv4_is_multicast`, `ipv4_is_lbcast`; and
/// RFC 1812 5.3.7, which adds class E, 240.0.0.0/4).
#[inline]
pub fn is_martian_source(a: Ipv4Addr) -> bool {
    let o = a.octets()[0];
    o == 0 || o == 127 || o >= 224
}

/// True when a source in 0.0.0.0/8 is allowed all the same: Linux `ip_route_input_mc`
/// accepts a zero-network source toward a multicast group when the group is link-local
/// (224.0.0.0/24) or the packet is IGMP (`proto` 2), because a host joining groups before
/// it has an address sends IGMP reports from 0.0.0.0 (RFC 3376 4.2.13: IGMPv3 reports
/// to 224.0.0.22). Such a frame is segment chatter (it goes to the exception path as any
/// multicast does), not a martian.
#[inline]
pub fn is_zeronet_multicast_exception(src: Ipv4Addr, dst: Ipv4Addr, proto: u8) -> bool {
    src.octets()[0] == 0 && dst.is_multicast() && (proto == 2 || dst.octets()[..3] == [224, 0, 0])
}

/// True for an IPv4 destination no packet may be sent to (Linux
/// `ip_route_input_slow`: `ipv4_is_zeronet(daddr)`, `ipv4_is_loopback(daddr)`).
#[inline]
pub fn is_martian_destination(a: Ipv4Addr) -> bool {
    let o = a.octets()[0];
    o == 0 || o == 127
}

/// True when `a` is the broadcast address of the connected subnet `c` (host bits all
/// ones). Linux adds such a broadcast route only for prefixes shorter than /31
/// (`fib_add_ifaddr`): a /31 has no broadcast (RFC 3021) and a /32 is one host. The
/// network address (host bits zero) is not a broadcast: Linux 5.14 made it a unicast
/// host address ("unicast extensions"), so it is not refused either.
#[inline]
pub fn is_subnet_broadcast(c: &Ipv4Net, a: Ipv4Addr) -> bool {
    c.len < 31 && c.contains(a) && (u32::from(a) | u32::from(c.netmask())) == u32::MAX
}

/// Why an address cannot be a VIP rvsd publishes (answers ARP and ping for, sends
/// gratuitous ARP for): the one rule the configuration file, `rvsadm vip add`, reload
/// and the state restore share ([`check_vip`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq, thiserror::Error)]
pub enum VipRefusal {
    /// In 0.0.0.0/8, 127.0.0.0/8, 224.0.0.0/4 or 240.0.0.0/4 (which holds
    /// 255.255.255.255): the martian sources of [`is_martian_source`], no host's address.
    #[error("VIP {0} is not a unicast address")]
    NotUnicast(Ipv4Addr),
    /// The broadcast address of a connected subnet ([`is_subnet_broadcast`]): answering
    /// for it would make rvsd reply to directed broadcasts.
    #[error("VIP {addr} is the broadcast address of the connected subnet {subnet}")]
    SubnetBroadcast {
        /// The refused VIP.
        addr: Ipv4Addr,
        /// The subnet (network/len) whose broadcast it is.
        subnet: Ipv4Net,
    },
}

/// `Ok` when `addr` may be published as a VIP given the director's connected
/// `subnets` (every port's and VLAN's, as the data path treats a directed broadcast to
/// any of them as a broadcast). Errors: [`VipRefusal`]. Only VIPs rvsd answers for are
/// checked; an IPVS service address (`-A -t 127.0.0.1:80`) is not a VIP and IPVS
/// accepts it.
pub fn check_vip(
    addr: Ipv4Addr,
    subnets: impl IntoIterator<Item = Ipv4Net>,
) -> Result<(), VipRefusal> {
    if is_martian_source(addr) {
        return Err(VipRefusal::NotUnicast(addr));
    }
    match subnets.into_iter().find(|c| is_subnet_broadcast(c, addr)) {
        Some(c) => Err(VipRefusal::SubnetBroadcast {
            addr,
            subnet: Ipv4Net {
                addr: c.network(),
                len: c.len,
            },
        }),
        None => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PORT: [u8; 6] = [2, 0, 0, 0, 0, 1];

    #[test]
    fn vips_that_are_martian_or_subnet_broadcasts_are_refused() {
        let nets = ["203.0.113.1/24", "192.0.2.9/31", "198.51.100.7/32"]
            .map(|s| s.parse::<Ipv4Net>().unwrap());
        for a in [
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "224.0.0.5",
            "239.1.2.3",
            "240.0.0.1",
            "255.255.255.255",
        ] {
            let a: Ipv4Addr = a.parse().unwrap();
            assert_eq!(check_vip(a, nets), Err(VipRefusal::NotUnicast(a)));
        }
        let b = Ipv4Addr::new(203, 0, 113, 255);
        assert_eq!(
            check_vip(b, nets).unwrap_err().to_string(),
            "VIP 203.0.113.255 is the broadcast address of the connected subnet 203.0.113.0/24"
        );
        // Linux: the network address is a host (5.14), a /31 has no broadcast
        // (RFC 3021), a /32 is one host; off-subnet addresses are not judged here.
        for a in [
            "203.0.113.0",
            "203.0.113.77",
            "192.0.2.8",
            "192.0.2.9",
            "198.51.100.7",
            "198.51.100.255",
        ] {
            assert_eq!(check_vip(a.parse().unwrap(), nets), Ok(()), "{a}");
        }
    }

    #[test]
    fn zeronet_sources_may_send_igmp_and_link_local_multicast_only() {
        let z = Ipv4Addr::UNSPECIFIED;
        let g22 = Ipv4Addr::new(224, 0, 0, 22);
        let g1 = Ipv4Addr::new(239, 1, 2, 3);
        assert!(is_zeronet_multicast_exception(z, g22, 2));
        assert!(is_zeronet_multicast_exception(z, g22, 17));
        assert!(is_zeronet_multicast_exception(z, g1, 2));
        assert!(!is_zeronet_multicast_exception(z, g1, 17));
        assert!(!is_zeronet_multicast_exception(
            z,
            Ipv4Addr::new(203, 0, 113, 1),
            2
        ));
        assert!(!is_zeronet_multicast_exception(
            Ipv4Addr::new(127, 0, 0, 1),
            g22,
            2
        ));
    }

    #[test]
    fn ethernet_sources_and_destinations() {
        for (src, bad) in [
            ([2, 0, 0, 0, 0, 2], false),
            ([0x00, 0x1b, 0x21, 1, 2, 3], false),
            ([0xff; 6], true),
            ([0x01, 0x00, 0x5e, 0, 0, 1], true),
            ([0x33, 0x33, 0, 0, 0, 1], true),
            ([0; 6], true),
            (PORT, true),
        ] {
            assert_eq!(is_bad_eth_source(src, PORT), bad, "{src:x?}");
        }
        assert!(is_bad_eth_destination([0; 6]));
        assert!(!is_bad_eth_destination([0xff; 6]));
        assert!(!is_bad_eth_destination(PORT));
    }

    #[test]
    fn check_eth_reports_the_first_fault_and_lets_short_frames_through() {
        let mut f = [0u8; 14];
        f[..6].copy_from_slice(&PORT);
        f[6..12].copy_from_slice(&[2, 0, 0, 0, 0, 2]);
        assert_eq!(check_eth(&f, PORT), Ok(()));
        f[6] = 0xff;
        assert_eq!(check_eth(&f, PORT), Err(DropReason::BadEthSource));
        f[6] = 2;
        f[..6].copy_from_slice(&[0; 6]);
        assert_eq!(check_eth(&f, PORT), Err(DropReason::BadEthDestination));
        assert_eq!(check_eth(&f[..11], PORT), Ok(()));
    }

    #[test]
    fn martian_sources_and_destinations() {
        let ip = |s: &str| s.parse::<Ipv4Addr>().unwrap();
        for (a, src, dst) in [
            ("0.0.0.0", true, true),
            ("0.1.2.3", true, true),
            ("127.0.0.1", true, true),
            ("127.255.255.254", true, true),
            ("224.0.0.1", true, false),
            ("239.255.255.255", true, false),
            ("240.0.0.1", true, false),
            ("255.255.255.255", true, false),
            ("203.0.113.2", false, false),
            ("1.0.0.0", false, false),
            ("126.255.255.255", false, false),
            ("128.0.0.1", false, false),
            ("223.255.255.255", false, false),
        ] {
            assert_eq!(is_martian_source(ip(a)), src, "source {a}");
            assert_eq!(is_martian_destination(ip(a)), dst, "destination {a}");
        }
    }
}
