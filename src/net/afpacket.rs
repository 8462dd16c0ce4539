//! Keeping the host kernel's IP stack off an interface that DPDK reads with
//! `net_af_packet`. A packet socket does not steal frames: the kernel would also receive
//! them on that interface and, because Linux accepts traffic for any local address on any
//! interface, answer pings and ARP for the director's addresses a second time (duplicate
//! replies) and see TCP segments twice. On a real NIC bound to a DPDK driver the kernel
//! never sees the frames, so this only matters for af_packet ports (the lab, the VM).
//!
//! The interface has no address and no route, so strict reverse-path filtering drops every
//! IPv4 packet arriving on it, and `arp_ignore = 8` stops its ARP replies. Runs once at
//! start on the management thread.

use std::fs;

/// The kernel interface behind a `net_af_packet` device string, if it is one.
pub fn iface_of(device: &str) -> Option<&str> {
    let mut parts = device.split(',');
    if !parts.next()?.starts_with("net_af_packet") {
        return None;
    }
    parts.find_map(|kv| kv.strip_prefix("iface="))
}

/// Applies the isolation sysctls to `iface`; returns a warning text when the kernel's
/// global settings weaken them (loose `rp_filter` on `all` wins over strict per-interface).
pub fn isolate(iface: &str) -> Result<Option<String>, std::io::Error> {
    let conf = format!("/proc/sys/net/ipv4/conf/{iface}");
    fs::write(format!("{conf}/rp_filter"), "1")?;
    fs::write(format!("{conf}/arp_ignore"), "8")?;
    let _ = fs::write(format!("/proc/sys/net/ipv6/conf/{iface}/disable_ipv6"), "1");
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
