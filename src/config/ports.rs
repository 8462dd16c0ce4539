//! Checks of `[[port]]` and `[[route]]`: names, DPDK device strings, local
//! addresses, the exception path, queue and descriptor counts, and routes that
//! must leave by a defined port through an on-link next hop.

use std::collections::HashSet;

use super::locate::KeyPath;
use super::raw::{RawPort, RawRoute};
use super::validate::{Checker, Res, MAX_IFNAME_LEN};
use super::{Cores, Device, Eal, ErrorKind, ExceptionPath, Port, Route};

impl Checker<'_> {
    /// A Linux-interface-like name (port names double as default tap names).
    pub(super) fn ifname(&self, path: &KeyPath, name: &str, what: &str) -> Res<()> {
        let ok = !name.is_empty()
            && name.len() <= MAX_IFNAME_LEN
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !ok {
            return Err(self.err(
                path,
                ErrorKind::Range,
                format!(
                    "invalid {what} {name:?} (1..{MAX_IFNAME_LEN} characters of A-Z a-z 0-9 - _ .)"
                ),
            ));
        }
        Ok(())
    }

    pub(super) fn ports(&self, eal: &Eal, cores: &Cores, raw: Vec<RawPort>) -> Res<Vec<Port>> {
        let root = KeyPath::root();
        if raw.is_empty() {
            return Err(self.err(
                &root.key("port"),
                ErrorKind::Schema,
                "at least one [[port]] is required",
            ));
        }
        let no_pci = eal.args.iter().any(|a| a == "--no-pci");
        let mut ports: Vec<Port> = Vec::with_capacity(raw.len());
        let mut local = HashSet::new();
        for (i, rp) in raw.into_iter().enumerate() {
            let path = root.key("port").idx(i);
            self.ifname(&path.key("name"), &rp.name, "port name")?;
            if ports.iter().any(|p| p.name == rp.name) {
                return Err(self.err(
                    &path.key("name"),
                    ErrorKind::Duplicate,
                    format!("duplicate port name {:?}", rp.name),
                ));
            }
            let dp = path.key("device");
            let device = self.device(&dp, &rp.device)?;
            if ports.iter().any(|p| p.device.name() == device.name()) {
                return Err(self.err(
                    &dp,
                    ErrorKind::Duplicate,
                    format!("device {:?} is already used by another port", device.name()),
                ));
            }
            if let Some(ifname) = super::afpacket::iface(dev_str(&device)) {
                if ports
                    .iter()
                    .any(|p| super::afpacket::iface(dev_str(&p.device)) == Some(ifname))
                {
                    return Err(self.err(
                        &dp,
                        ErrorKind::Duplicate,
                        format!("af_packet iface {ifname:?} is already used by another port (each port needs its own host interface)"),
                    ));
                }
            }
            if let Device::Pci(_) = device {
                if no_pci {
                    return Err(self.err(
                        &dp,
                        ErrorKind::Conflict,
                        "a PCI device cannot be used with --no-pci in [eal] args",
                    ));
                }
            }
            self.queues_suffice(&dp, &device, cores)?;
            let addresses = self.local_addresses(&path, &rp.addresses, &mut local)?;
            self.subnets_apart(&path, &addresses, &ports)?;
            let exception_path =
                self.exception_path(&path, rp.exception_path, rp.tap_name, &rp.name, &ports)?;
            let mtu = self.num(&path.key("mtu"), rp.mtu, 1500, (68, 9216), "mtu")?;
            self.mtu_fits_frames(&path, rp.mtu.is_some(), &device, mtu)?;
            let rx_desc = self.desc(&path.key("rx_desc"), rp.rx_desc)?;
            let tx_desc = self.desc(&path.key("tx_desc"), rp.tx_desc)?;
            let mac = match &rp.mac {
                Some(m) => Some(self.port_mac(&path.key("mac"), m)?),
                None => None,
            };
            ports.push(Port {
                name: rp.name,
                device,
                addresses,
                exception_path,
                mtu,
                promiscuous: rp.promiscuous,
                rx_desc,
                tx_desc,
                mac,
                inside: rp.inside,
                vlan: None,
            });
        }
        Ok(ports)
    }

    /// A port's (or VLAN's) `exception_path` and `tap_name`: the tap is named `tap_name`,
    /// else after the port (`name`); it must be a valid interface name not used by an
    /// earlier port's tap (`ports`), and `tap_name` without `exception_path` is an error.
    pub(super) fn exception_path(
        &self,
        path: &KeyPath,
        on: bool,
        tap_name: Option<String>,
        name: &str,
        ports: &[Port],
    ) -> Res<Option<ExceptionPath>> {
        match (on, tap_name) {
            (true, tap_name) => {
                let tap_name = tap_name.unwrap_or_else(|| name.to_string());
                let tp = path.key("tap_name");
                self.ifname(&tp, &tap_name, "tap_name")?;
                let clash = ports
                    .iter()
                    .any(|p| p.exception_path.as_ref().map(|e| &e.tap_name) == Some(&tap_name));
                if clash {
                    return Err(self.err(
                        &tp,
                        ErrorKind::Duplicate,
                        format!("duplicate tap_name {tap_name:?}"),
                    ));
                }
                Ok(Some(ExceptionPath { tap_name }))
            }
            (false, Some(_)) => Err(self.err(
                &path.key("tap_name"),
                ErrorKind::Conflict,
                "tap_name needs exception_path = true",
            )),
            (false, None) => Ok(None),
        }
    }

    /// A port's (or VLAN's) `addresses`: unicast, with a prefix, none already in `local`
    /// (every address taken so far, which this extends).
    pub(super) fn local_addresses(
        &self,
        path: &KeyPath,
        raw: &[String],
        local: &mut HashSet<std::net::Ipv4Addr>,
    ) -> Res<Vec<super::Ipv4Net>> {
        let mut addresses = Vec::with_capacity(raw.len());
        for (j, a) in raw.iter().enumerate() {
            let ap = path.key("addresses").idx(j);
            let n = self.net(&ap, a)?;
            self.unicast(&ap, &n.addr.to_string(), "local address")?;
            if n.len == 0 {
                return Err(self.err(
                    &ap,
                    ErrorKind::Address,
                    "a local address needs a prefix length of 1..32",
                ));
            }
            if !local.insert(n.addr) {
                return Err(self.err(
                    &ap,
                    ErrorKind::Duplicate,
                    format!("duplicate local address {}", n.addr),
                ));
            }
            addresses.push(n);
        }
        Ok(addresses)
    }

    /// A port's (or VLAN's) subnets `addresses` must not overlap a subnet of another
    /// port or VLAN in `others` (every one built so far): the same address range on two
    /// interfaces makes ARP, routing and the broadcast rules ambiguous (review finding
    /// 12). Two addresses on one port may share a subnet (secondary addresses).
    pub(super) fn subnets_apart(
        &self,
        path: &KeyPath,
        addresses: &[super::Ipv4Net],
        others: &[Port],
    ) -> Res<()> {
        for (j, n) in addresses.iter().enumerate() {
            for p in others {
                if let Some(c) = p
                    .addresses
                    .iter()
                    .find(|c| n.contains(c.addr) || c.contains(n.addr))
                {
                    return Err(self.err(
                        &path.key("addresses").idx(j),
                        ErrorKind::Conflict,
                        format!("subnet {n} overlaps {c} of {:?}", p.name),
                    ));
                }
            }
        }
        Ok(())
    }

    /// An af_packet PMD refuses an MTU above `framesz` − 52 (config/afpacket.rs), and
    /// rvsd would then run with frames the ring truncates: refuse it here, at `mtu` if
    /// the operator set it, else at the device whose `framesz` is too small.
    fn mtu_fits_frames(&self, path: &KeyPath, mtu_set: bool, device: &Device, mtu: u16) -> Res<()> {
        use super::afpacket::{framesz, FRAME_OVERHEAD, MAX_FRAMESZ, MAX_MTU};
        let Some(fsz) = framesz(dev_str(device)) else {
            return Ok(());
        };
        let mtu = u32::from(mtu);
        let at = if mtu_set {
            path.key("mtu")
        } else {
            path.key("device")
        };
        if mtu > MAX_MTU {
            let msg = format!(
                "mtu {mtu} is above what the af_packet PMD accepts ({MAX_MTU}: DPDK 22.11 reports a 1518-byte maximum frame for af_packet ports)"
            );
            return Err(self.err(&at, ErrorKind::Conflict, msg));
        }
        if mtu + FRAME_OVERHEAD <= fsz {
            return Ok(());
        }
        let need = (mtu + FRAME_OVERHEAD).div_ceil(16) * 16;
        let msg = if need > MAX_FRAMESZ {
            format!(
                "mtu {mtu} does not fit an af_packet frame: framesz={fsz} carries an MTU of at most {}, and framesz can be at most {MAX_FRAMESZ} (MTU {})",
                fsz - FRAME_OVERHEAD,
                MAX_FRAMESZ - FRAME_OVERHEAD
            )
        } else {
            format!(
                "mtu {mtu} does not fit an af_packet frame: framesz={fsz} carries an MTU of at most {} (use framesz={need} or a smaller mtu)",
                fsz - FRAME_OVERHEAD
            )
        };
        Err(self.err(&at, ErrorKind::Conflict, msg))
    }

    /// A port's own MAC: `aa:bb:cc:dd:ee:ff` (or with `-`), unicast (the group bit of
    /// the first octet clear, IEEE 802) and not all-zero: a station address.
    fn port_mac(&self, path: &KeyPath, s: &str) -> Res<[u8; 6]> {
        match super::neighbour::parse_mac(s) {
            Some(m) if m == [0; 6] => Err(self.err(
                path,
                ErrorKind::Address,
                format!("MAC {s} is all-zero (not a station address)"),
            )),
            Some(m) if m[0] & 1 != 0 => Err(self.err(
                path,
                ErrorKind::Address,
                format!("MAC {s} is a multicast address (a port needs a unicast MAC)"),
            )),
            Some(m) => Ok(m),
            None => Err(self.err(
                path,
                ErrorKind::Address,
                format!("invalid MAC {s:?} (expected aa:bb:cc:dd:ee:ff)"),
            )),
        }
    }

    /// A descriptor count: a power of two in 64..=32768 suits every DPDK driver's alignment rule.
    fn desc(&self, path: &KeyPath, v: Option<i64>) -> Res<u16> {
        let n: u16 = self.num(path, v, 1024, (64, 32768), "descriptor count")?;
        if !n.is_power_of_two() {
            return Err(self.err(
                path,
                ErrorKind::Range,
                format!("descriptor count {n} is not a power of two"),
            ));
        }
        Ok(n)
    }

    /// `net_...` strings are virtual devices; anything else must be a PCI address
    /// (`DDDD:BB:DD.F` or `BB:DD.F`, hexadecimal).
    fn device(&self, path: &KeyPath, s: &str) -> Res<Device> {
        if s.starts_with("net_") || s.starts_with("eth_") {
            let name = s.split(',').next().unwrap_or("");
            let bad_arg = s.split(',').skip(1).any(|kv| !kv.contains('='));
            if name.len() <= 4 || name.contains(char::is_whitespace) || bad_arg {
                return Err(self.err(
                    path,
                    ErrorKind::Address,
                    format!("invalid virtual device {s:?} (expected e.g. \"net_af_packet0,iface=rvs-ext\")"),
                ));
            }
            if name.starts_with("net_af_packet") || name.starts_with("eth_af_packet") {
                return Ok(Device::Vdev(self.af_packet_device(path, s)?));
            }
            return Ok(Device::Vdev(s.to_owned()));
        }
        let hex = |p: &str, n: usize| p.len() == n && p.chars().all(|c| c.is_ascii_hexdigit());
        let parts: Vec<&str> = s.split([':', '.']).collect();
        let pci = match parts.as_slice() {
            [d, b, dev, f] => hex(d, 4) && hex(b, 2) && hex(dev, 2) && f.len() == 1 && hex(f, 1),
            [b, dev, f] => hex(b, 2) && hex(dev, 2) && hex(f, 1),
            _ => false,
        };
        if !pci {
            return Err(self.err(
                path,
                ErrorKind::Address,
                format!("invalid device {s:?} (expected a vdev like \"net_af_packet0,iface=rvs-ext\" or a PCI address like \"0000:00:08.0\")"),
            ));
        }
        Ok(Device::Pci(s.to_owned()))
    }

    /// Worker `i` uses queue `i` of every port; an af_packet vdev has `qpairs`
    /// queues (default 1), so it must have at least one per worker.
    fn queues_suffice(&self, path: &KeyPath, device: &Device, cores: &Cores) -> Res<()> {
        let Device::Vdev(s) = device else {
            return Ok(());
        };
        if !device.name().starts_with("net_af_packet") {
            return Ok(());
        }
        let mut qpairs = 1u64;
        for kv in s.split(',').skip(1) {
            if let Some(v) = kv.strip_prefix("qpairs=") {
                qpairs = v.parse().map_err(|_| {
                    self.err(
                        path,
                        ErrorKind::Address,
                        format!("invalid qpairs value {v:?}"),
                    )
                })?;
            }
        }
        let workers = cores.workers.len() as u64;
        if qpairs < workers {
            return Err(self.err(
                path,
                ErrorKind::Conflict,
                format!("{workers} workers need {workers} queue pairs, but the device has qpairs={qpairs} (add \",qpairs={workers}\")"),
            ));
        }
        Ok(())
    }

    pub(super) fn routes(&self, ports: &[Port], raw: Vec<RawRoute>) -> Res<Vec<Route>> {
        let mut routes: Vec<Route> = Vec::with_capacity(raw.len());
        for (i, r) in raw.into_iter().enumerate() {
            let path = KeyPath::root().key("route").idx(i);
            let prefix = self.network(&path.key("prefix"), &r.prefix)?;
            let port = ports.iter().find(|p| p.name == r.port).ok_or_else(|| {
                self.err(
                    &path.key("port"),
                    ErrorKind::Reference,
                    format!("no [[port]] is named {:?}", r.port),
                )
            })?;
            let via = match &r.via {
                None => None,
                Some(v) => {
                    let vp = path.key("via");
                    let via = self.unicast(&vp, v, "next hop")?;
                    if !port.on_link(via) {
                        return Err(self.err(
                            &vp,
                            ErrorKind::Conflict,
                            format!(
                                "next hop {via} is not on a connected subnet of port {:?}",
                                port.name
                            ),
                        ));
                    }
                    if port.addresses.iter().any(|a| a.addr == via) {
                        return Err(self.err(
                            &vp,
                            ErrorKind::Conflict,
                            format!("next hop {via} is a local address of port {:?}", port.name),
                        ));
                    }
                    Some(via)
                }
            };
            if routes.iter().any(|x| x.prefix == prefix) {
                return Err(self.err(
                    &path.key("prefix"),
                    ErrorKind::Duplicate,
                    format!("duplicate route to {prefix}"),
                ));
            }
            routes.push(Route {
                prefix,
                via,
                port: r.port,
            });
        }
        Ok(routes)
    }
}

/// The text of a device (a vdev string or a PCI address).
fn dev_str(d: &Device) -> &str {
    match d {
        Device::Vdev(s) | Device::Pci(s) => s,
    }
}
