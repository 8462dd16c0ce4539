//! 802.1Q tags on data ports, Linux-sub-interface style: a `[[vlan]]` is a logical port
//! (its own `PortIdx`, addresses, VIPs, routes and neighbours) on a physical port's
//! queues. The worker strips the tag on RX, after checking the id is configured on that
//! physical port, and hands the untagged frame to the LB path and the appliance as
//! received on the logical port; whatever is sent on a logical port gets the tag pushed
//! on TX. No other code sees a tag, so every reply, forward, ARP and ICMP error keeps the
//! VLAN it belongs to.
//!
//! Policy (docs/DROPS.md): a tagged frame on a port without VLANs, a QinQ frame (802.1ad
//! 0x88a8, the old 0x9100, or two 802.1Q tags) and a tag the NIC stripped as QinQ are
//! dropped as `drop_vlan`; a tag whose id is not configured on a trunk port is dropped as
//! `drop_vlan_unknown`. A priority tag (id 0, IEEE 802.1p) is taken as untagged, as Linux
//! does. Tags are pushed with priority 0 (Linux's default egress QoS map).
//!
//! Fast path: no allocation (the id map is built at start), at most a 12-byte move.

use super::counters::Counter;
use crate::wire::PacketBuf;

/// IEEE 802.1Q tag protocol identifier.
const TPID_8021Q: u16 = 0x8100;
/// IEEE 802.1ad (QinQ service tag).
const TPID_8021AD: u16 = 0x88a8;
/// The pre-standard QinQ TPID some switches still send.
const TPID_QINQ_OLD: u16 = 0x9100;
/// Bytes of one tag (TPID + TCI).
const TAG_LEN: usize = 4;
/// Destination + source MAC: what moves when a tag is stripped or pushed.
const MACS_LEN: usize = 12;
/// "No VLAN with this id" in a port's id map (never a port index: at most 255 ports).
const NONE: u8 = u8::MAX;

/// The VLAN sub-interfaces of every physical port, as a worker needs them. The default
/// has none: every port is physical and every tagged frame is `drop_vlan`.
#[derive(Clone, Debug)]
pub struct Vlans {
    /// Physical ports: `PortIdx` below this is a physical port, from it on a VLAN.
    physical: usize,
    /// For logical port `physical + i`: (physical parent, VLAN id).
    subs: Vec<(usize, u16)>,
    /// Per physical port: VLAN id → logical port (`NONE` when not configured); empty
    /// for a port without VLANs (4096 bytes per trunk port).
    by_id: Vec<Box<[u8]>>,
}

impl Default for Vlans {
    fn default() -> Vlans {
        Vlans {
            physical: usize::MAX,
            subs: Vec::new(),
            by_id: Vec::new(),
        }
    }
}

#[inline]
fn be16(b: &[u8]) -> u16 {
    u16::from_be_bytes([b[0], b[1]])
}

impl Vlans {
    /// `physical` ports, and `subs[i]` = (parent, id) of logical port `physical + i`.
    /// Parents must be below `physical`, ids 1..4094 and unique per parent, and the total
    /// at most 255 (the config checks all of it; an entry breaking it is ignored here).
    pub fn new(physical: usize, subs: &[(usize, u16)]) -> Vlans {
        let mut by_id: Vec<Box<[u8]>> = (0..physical).map(|_| Box::from([])).collect();
        for (i, &(parent, id)) in subs.iter().enumerate() {
            let logical = physical + i;
            let (Some(map), Ok(l)) = (by_id.get_mut(parent), u8::try_from(logical)) else {
                continue;
            };
            if map.is_empty() {
                *map = vec![NONE; 4096].into_boxed_slice();
            }
            if (1..4095).contains(&id) && l != NONE {
                map[usize::from(id)] = l;
            }
        }
        Vlans {
            physical,
            subs: subs.to_vec(),
            by_id,
        }
    }

    /// The logical port a frame received on physical port `port` belongs to, with its
    /// tag stripped; or the counter it is dropped under. `stripped` is the tag the NIC
    /// already took off (`Mbuf::rx_vlan_stripped`). A frame too short for its tag is
    /// `drop_malformed`; one too short for an Ethernet header is left to the parsers.
    #[inline]
    pub fn rx<B: PacketBuf>(
        &self,
        port: usize,
        b: &mut B,
        stripped: Option<Result<u16, ()>>,
    ) -> Result<usize, Counter> {
        let tci = match stripped {
            Some(Err(())) => return Err(Counter::DropVlan),
            Some(Ok(tci)) => tci,
            None => {
                let d = b.data();
                if d.len() < MACS_LEN + 2 {
                    return Ok(port);
                }
                match be16(&d[MACS_LEN..]) {
                    TPID_8021Q => {}
                    TPID_8021AD | TPID_QINQ_OLD => return Err(Counter::DropVlan),
                    _ => return Ok(port),
                }
                if d.len() < MACS_LEN + TAG_LEN + 2 {
                    return Err(Counter::DropMalformed);
                }
                let tci = be16(&d[MACS_LEN + 2..]);
                if matches!(
                    be16(&d[MACS_LEN + TAG_LEN..]),
                    TPID_8021Q | TPID_8021AD | TPID_QINQ_OLD
                ) {
                    return Err(Counter::DropVlan);
                }
                b.data_mut().copy_within(0..MACS_LEN, TAG_LEN);
                b.adj(TAG_LEN);
                tci
            }
        };
        let id = usize::from(tci & 0x0fff);
        if id == 0 {
            return Ok(port);
        }
        match self.by_id.get(port) {
            Some(map) if !map.is_empty() => match map[id] {
                NONE => Err(Counter::DropVlanUnknown),
                l => Ok(usize::from(l)),
            },
            _ => Err(Counter::DropVlan),
        }
    }

    /// The physical port a frame sent on logical port `port` leaves by, with the VLAN's
    /// tag pushed (priority 0); `drop_no_headroom` when the buffer has no 4 bytes in
    /// front, `drop_no_route` for a port that does not exist.
    #[inline]
    pub fn tx<B: PacketBuf>(&self, port: usize, b: &mut B) -> Result<usize, Counter> {
        if port < self.physical {
            return Ok(port);
        }
        let Some(&(parent, id)) = self.subs.get(port - self.physical) else {
            return Err(Counter::DropNoRoute);
        };
        if b.data().len() < MACS_LEN {
            return Err(Counter::DropMalformed);
        }
        if !b.prepend(TAG_LEN) {
            return Err(Counter::DropNoHeadroom);
        }
        let d = b.data_mut();
        d.copy_within(TAG_LEN..TAG_LEN + MACS_LEN, 0);
        d[MACS_LEN..MACS_LEN + 2].copy_from_slice(&TPID_8021Q.to_be_bytes());
        d[MACS_LEN + 2..MACS_LEN + 4].copy_from_slice(&(id & 0x0fff).to_be_bytes());
        Ok(parent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::HeadroomBuf;

    /// dst, src, then `rest` (ethertype and payload).
    fn frame(rest: &[u8]) -> Vec<u8> {
        let mut f = vec![0xaa; 6];
        f.extend([0xbb; 6]);
        f.extend_from_slice(rest);
        f
    }

    /// Port 0 plain, port 1 a trunk with VLAN 100 (logical 2) and 200 (logical 3).
    fn vlans() -> Vlans {
        Vlans::new(2, &[(1, 100), (1, 200)])
    }

    #[test]
    fn rx_strips_a_configured_tag_and_names_the_logical_port() {
        let v = vlans();
        let mut b = HeadroomBuf::new(&frame(&[0x81, 0x00, 0x20, 200, 0x08, 0x00, 0x45]));
        assert_eq!(v.rx(1, &mut b, None), Ok(3), "id 200 with priority 1");
        assert_eq!(b.data(), frame(&[0x08, 0x00, 0x45]).as_slice());
        let mut b = HeadroomBuf::new(&frame(&[0x08, 0x00, 0x45]));
        assert_eq!(
            v.rx(1, &mut b, None),
            Ok(1),
            "untagged on a trunk: the port"
        );
        assert_eq!(v.rx(1, &mut b, Some(Ok(100))), Ok(2), "stripped by the NIC");
    }

    #[test]
    fn rx_drops_what_is_not_configured_and_qinq() {
        let v = vlans();
        let tagged = frame(&[0x81, 0x00, 0x00, 100, 0x08, 0x06]);
        for (port, f, want) in [
            (0, tagged.clone(), Counter::DropVlan),
            (
                1,
                frame(&[0x81, 0x00, 0x01, 0x2c, 0x08, 0x00]),
                Counter::DropVlanUnknown,
            ),
            (
                1,
                frame(&[0x88, 0xa8, 0x00, 10, 0x81, 0x00, 0, 100, 8, 0]),
                Counter::DropVlan,
            ),
            (
                1,
                frame(&[0x91, 0x00, 0x00, 10, 0x08, 0x00]),
                Counter::DropVlan,
            ),
            (
                1,
                frame(&[0x81, 0x00, 0x00, 100, 0x81, 0x00, 0, 100]),
                Counter::DropVlan,
            ),
            (1, frame(&[0x81, 0x00, 0x00]), Counter::DropMalformed),
        ] {
            let mut b = HeadroomBuf::new(&f);
            assert_eq!(v.rx(port, &mut b, None), Err(want), "{f:02x?}");
        }
        let mut b = HeadroomBuf::new(&tagged);
        assert_eq!(v.rx(1, &mut b, Some(Err(()))), Err(Counter::DropVlan));
        assert_eq!(
            Vlans::new(1, &[]).rx(0, &mut b, Some(Ok(5))),
            Err(Counter::DropVlan)
        );
        assert_eq!(
            Vlans::default().rx(3, &mut b, Some(Ok(5))),
            Err(Counter::DropVlan)
        );
        assert_eq!(
            Vlans::default().tx(3, &mut b),
            Ok(3),
            "no VLAN: every port physical"
        );
    }

    #[test]
    fn priority_tag_is_untagged_as_in_linux() {
        let mut b = HeadroomBuf::new(&frame(&[0x81, 0x00, 0xe0, 0x00, 0x08, 0x00]));
        assert_eq!(vlans().rx(0, &mut b, None), Ok(0));
        assert_eq!(b.data(), frame(&[0x08, 0x00]).as_slice());
    }

    #[test]
    fn tx_pushes_the_tag_of_the_logical_port_only() {
        let v = vlans();
        let mut b = HeadroomBuf::new(&frame(&[0x08, 0x06, 1]));
        assert_eq!(v.tx(0, &mut b), Ok(0));
        assert_eq!(b.data(), frame(&[0x08, 0x06, 1]).as_slice());
        assert_eq!(v.tx(3, &mut b), Ok(1));
        assert_eq!(
            b.data(),
            frame(&[0x81, 0x00, 0x00, 200, 0x08, 0x06, 1]).as_slice()
        );
        assert_eq!(v.rx(1, &mut b, None), Ok(3), "round trip");
        assert_eq!(b.data(), frame(&[0x08, 0x06, 1]).as_slice());
        let mut tight = HeadroomBuf::with_room(&frame(&[8, 0]), 2, 64);
        assert_eq!(v.tx(2, &mut tight), Err(Counter::DropNoHeadroom));
        assert_eq!(v.tx(9, &mut tight), Err(Counter::DropNoRoute));
    }
}
