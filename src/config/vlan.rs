//! Checks of `[[vlan]]`: 802.1Q sub-interfaces of a physical port, as an appliance on a
//! trunk port needs (Linux `ip link add link trunk name v100 type vlan id 100`). Each
//! becomes a logical [`Port`] appended after the physical ones, with its own name,
//! addresses and exception path (a tap of its own, like Linux's `trunk.100`), so routes,
//! services and neighbours name it like any port, and its parent's device, MAC and MTU.

use std::collections::HashSet;

use super::locate::KeyPath;
use super::raw::RawVlan;
use super::validate::{Checker, Res};
use super::{ErrorKind, Port, Vlan};

/// Most ports, physical and VLAN together: the data plane's port index is a `u8`.
pub const MAX_PORTS: usize = 255;
/// Bytes an 802.1Q tag adds to a frame.
const TAG_LEN: u32 = 4;

impl Checker<'_> {
    /// Appends one logical port per `[[vlan]]` to `ports` (which holds the physical
    /// ports). Errors: a name already used by a port or VLAN, a parent that is not a
    /// physical port, an id outside 1..4094 (0 is a priority tag, 4095 reserved: IEEE
    /// 802.1Q) or already used on that parent, the address and exception-path errors of
    /// `[[port]]` (a tap name used twice, `tap_name` without `exception_path`), more than
    /// [`MAX_PORTS`] ports, an af_packet parent whose `framesz` cannot carry a tagged
    /// full-MTU frame.
    pub(super) fn vlans(&self, ports: &mut Vec<Port>, raw: Vec<RawVlan>) -> Res<()> {
        let physical = ports.len();
        let mut local: HashSet<_> = ports
            .iter()
            .flat_map(|p| p.addresses.iter().map(|a| a.addr))
            .collect();
        for (i, rv) in raw.into_iter().enumerate() {
            let path = KeyPath::root().key("vlan").idx(i);
            let np = path.key("name");
            self.ifname(&np, &rv.name, "VLAN name")?;
            if ports.iter().any(|p| p.name == rv.name) {
                return Err(self.err(
                    &np,
                    ErrorKind::Duplicate,
                    format!(
                        "duplicate port name {:?} (ports and VLANs share names)",
                        rv.name
                    ),
                ));
            }
            if ports.len() >= MAX_PORTS {
                return Err(self.err(
                    &np,
                    ErrorKind::Range,
                    format!("more than {MAX_PORTS} ports and VLANs"),
                ));
            }
            let pp = path.key("port");
            let parent = match ports.iter().position(|p| p.name == rv.port) {
                Some(i) if i < physical => i,
                Some(_) => {
                    return Err(self.err(
                        &pp,
                        ErrorKind::Conflict,
                        format!(
                            "{:?} is a VLAN: a VLAN's port must be a [[port]] (no QinQ)",
                            rv.port
                        ),
                    ))
                }
                None => {
                    return Err(self.err(
                        &pp,
                        ErrorKind::Reference,
                        format!("no [[port]] is named {:?}", rv.port),
                    ))
                }
            };
            let ip = path.key("id");
            let id: u16 = self.num(&ip, Some(rv.id), 0, (1, 4094), "VLAN id")?;
            if let Some(other) = ports.iter().find(|p| p.vlan == Some(Vlan { parent, id })) {
                return Err(self.err(
                    &ip,
                    ErrorKind::Duplicate,
                    format!(
                        "VLAN id {id} is already {:?} on port {:?}",
                        other.name, rv.port
                    ),
                ));
            }
            let exception_path =
                self.exception_path(&path, rv.exception_path, rv.tap_name, &rv.name, ports)?;
            let addresses = self.local_addresses(&path, &rv.addresses, &mut local)?;
            self.subnets_apart(&path, &addresses, ports)?;
            let p = &ports[parent];
            // An af_packet ring slot must hold a full-MTU frame plus the tag (the rule of
            // `mtu_fits_frames`, 4 bytes more).
            if let Some(fsz) = super::afpacket::framesz(&p.device.to_string()) {
                let need = u32::from(p.mtu) + TAG_LEN + super::afpacket::FRAME_OVERHEAD;
                if need > fsz {
                    return Err(self.err(
                        &pp,
                        ErrorKind::Conflict,
                        format!(
                            "port {:?}: framesz={fsz} cannot carry a tagged frame of MTU {} (needs framesz >= {need})",
                            p.name, p.mtu
                        ),
                    ));
                }
            }
            let port = Port {
                name: rv.name,
                device: p.device.clone(),
                addresses,
                exception_path,
                mtu: p.mtu,
                promiscuous: p.promiscuous,
                rx_desc: p.rx_desc,
                tx_desc: p.tx_desc,
                mac: p.mac,
                inside: rv.inside,
                vlan: Some(Vlan { parent, id }),
            };
            ports.push(port);
        }
        Ok(())
    }
}
