//! The kernel side of `net_af_packet` ports: keeping the host kernel's IP stack off the
//! interface while rvsd runs, and leaving the interface as rvsd found it afterwards.
//!
//! A packet socket does not steal frames: the kernel would also receive them on that
//! interface and, because Linux accepts traffic for any local address on any interface,
//! answer pings and ARP for the director's addresses a second time (duplicate replies)
//! and see TCP segments twice. On a real NIC bound to a DPDK driver the kernel never sees
//! the frames, so this only matters for af_packet ports (the lab, the VM). The interface
//! has no address and no route, so strict reverse-path filtering drops every IPv4 packet
//! arriving on it, and `arp_ignore = 8` stops its ARP replies.
//!
//! rvsd changes these sysctls, and DPDK changes the promiscuous flag (`rte_eth_dev_start`
//! replays the port's promiscuous setting, so a port configured without it clears
//! `IFF_PROMISC` on the interface, and one configured with it sets it for good). What
//! [`isolate`] and [`Saved::take`] record is put back by [`Saved::restore`] at shutdown.
//! Runs on the management thread, at start and at stop, never per packet.

use std::fs;

/// `IFF_PROMISC` in `/sys/class/net/<iface>/flags` (linux/if.h).
const IFF_PROMISC: u32 = 0x100;

/// The kernel interface behind a `net_af_packet` device string, if it is one.
pub fn iface_of(device: &str) -> Option<&str> {
    let mut parts = device.split(',');
    if !parts.next()?.starts_with("net_af_packet") {
        return None;
    }
    parts.find_map(|kv| kv.strip_prefix("iface="))
}

/// What rvsd found on an interface before touching it: its flags' promiscuous bit, its
/// MAC and the values of the sysctls [`isolate`] changed.
#[derive(Debug, Default)]
pub struct Saved {
    iface: String,
    promisc: Option<bool>,
    /// The interface's MAC as found (`/sys/class/net/<iface>/address`): a `[[port]] mac`
    /// makes the PMD change it, and it is put back at stop.
    mac: Option<String>,
    sysctls: Vec<(String, String)>,
}

fn read_mac(iface: &str) -> Option<String> {
    let text = fs::read_to_string(format!("/sys/class/net/{iface}/address")).ok()?;
    Some(text.trim().to_string())
}

fn flags_path(iface: &str) -> String {
    format!("/sys/class/net/{iface}/flags")
}

fn read_flags(iface: &str) -> Option<u32> {
    let text = fs::read_to_string(flags_path(iface)).ok()?;
    u32::from_str_radix(text.trim().trim_start_matches("0x"), 16).ok()
}

/// True when `iface` is promiscuous now; `None` when it cannot be read.
pub fn is_promisc(iface: &str) -> Option<bool> {
    read_flags(iface).map(|f| f & IFF_PROMISC != 0)
}

/// Sets or clears `IFF_PROMISC` through sysfs (which, like `ip link set promisc`,
/// changes the flag the administrator sees, not another socket's promiscuity count).
fn set_promisc(iface: &str, on: bool) -> std::io::Result<()> {
    let flags = read_flags(iface).ok_or_else(|| std::io::Error::other("flags unreadable"))?;
    let new = if on {
        flags | IFF_PROMISC
    } else {
        flags & !IFF_PROMISC
    };
    fs::write(flags_path(iface), format!("{new:#x}"))
}

impl Saved {
    /// Records `iface`'s promiscuous flag (before its port starts).
    pub fn take(iface: &str) -> Saved {
        Saved {
            iface: iface.to_string(),
            promisc: is_promisc(iface),
            mac: read_mac(iface),
            sysctls: Vec::new(),
        }
    }

    /// The interface.
    pub fn iface(&self) -> &str {
        &self.iface
    }

    /// After the port started: an operator's promiscuous flag that DPDK's start
    /// cleared is set again (rvs's port never needs it off). Returns a note to log.
    pub fn keep_promisc(&self) -> Option<String> {
        if self.promisc == Some(true) && is_promisc(&self.iface) == Some(false) {
            return Some(match set_promisc(&self.iface, true) {
                Ok(()) => format!(
                    "{}: promiscuous flag set again after port start",
                    self.iface
                ),
                Err(e) => format!("{}: cannot set the promiscuous flag again: {e}", self.iface),
            });
        }
        None
    }

    /// Puts back the promiscuous flag and every sysctl as found (after the port is
    /// closed). Returns what could not be restored, one line each.
    pub fn restore(&self) -> Vec<String> {
        let mut failed = Vec::new();
        if let (Some(was), Some(now)) = (self.promisc, is_promisc(&self.iface)) {
            if was != now {
                if let Err(e) = set_promisc(&self.iface, was) {
                    failed.push(format!("{}: promiscuous flag: {e}", self.iface));
                }
            }
        }
        if let (Some(was), Some(now)) = (&self.mac, read_mac(&self.iface)) {
            if *was != now {
                let out = std::process::Command::new("ip")
                    .args(["link", "set", "dev", &self.iface, "address", was])
                    .output();
                match out {
                    Ok(o) if o.status.success() => {}
                    Ok(o) => failed.push(format!(
                        "{}: MAC {was}: {}",
                        self.iface,
                        String::from_utf8_lossy(&o.stderr).trim()
                    )),
                    Err(e) => failed.push(format!("{}: MAC {was}: ip: {e}", self.iface)),
                }
            }
        }
        for (path, value) in self.sysctls.iter().rev() {
            if let Err(e) = fs::write(path, value) {
                failed.push(format!("{path}: {e}"));
            }
        }
        failed
    }

    fn set_sysctl(&mut self, path: String, value: &str) -> std::io::Result<()> {
        let old = fs::read_to_string(&path)?;
        fs::write(&path, value)?;
        self.sysctls.push((path, old.trim().to_string()));
        Ok(())
    }
}

/// Applies the isolation sysctls to `iface`, recording their old values in `saved`;
/// returns a warning text when the kernel's global settings weaken them (loose
/// `rp_filter` on `all` wins over strict per-interface).
pub fn isolate(iface: &str, saved: &mut Saved) -> Result<Option<String>, std::io::Error> {
    let conf = format!("/proc/sys/net/ipv4/conf/{iface}");
    saved.set_sysctl(format!("{conf}/rp_filter"), "1")?;
    saved.set_sysctl(format!("{conf}/arp_ignore"), "8")?;
    let _ = saved.set_sysctl(format!("/proc/sys/net/ipv6/conf/{iface}/disable_ipv6"), "1");
    let all = fs::read_to_string("/proc/sys/net/ipv4/conf/all/rp_filter").unwrap_or_default();
    Ok((all.trim() == "2").then(|| {
        format!(
            "net.ipv4.conf.all.rp_filter=2 (loose) overrides strict filtering on {iface}: \
             the host kernel may answer for the director's addresses too"
        )
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn finds_the_interface_of_af_packet_devices_only() {
        assert_eq!(
            iface_of("net_af_packet0,iface=rvs-ext,qpairs=2"),
            Some("rvs-ext")
        );
        assert_eq!(iface_of("net_af_packet1,qpairs=2,iface=x"), Some("x"));
        assert_eq!(iface_of("net_pcap0,iface=eth0"), None);
        assert_eq!(iface_of("0000:00:08.0"), None);
        assert_eq!(iface_of("net_af_packet0"), None);
    }
}
