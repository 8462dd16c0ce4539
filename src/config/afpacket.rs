//! `net_af_packet` device options: the ring geometry rvsd appends when the operator's
//! device string does not set it, and the checks that turn a geometry the kernel or the
//! PMD would refuse into a located config error.
//!
//! The PMD (DPDK 22.11 drivers/net/af_packet) gives each queue pair one packet socket
//! with an RX ring and a TX ring of `framecnt` frames of `framesz` bytes, carved from
//! blocks of `blocksz` bytes, mapped and locked in memory (MAP_LOCKED): a queue pair
//! costs 2 × `framecnt` × `framesz` bytes of locked memory. Its own default of 512
//! frames (1 MiB per ring) overflowed in the lab under 8 parallel 10 MiB downloads
//! (7.6 % of the frames lost before rvsd saw them); rvsd's default of 4096 frames
//! (8 MiB per ring, 16 MiB per queue pair) holds about 50 ms of full-size frames at
//! 1 Gbit/s while a worker is not polling (a preempted worker on a shared core). `qdisc_bypass=1` (the PMD's default too) sends straight to
//! the driver without the kernel's queueing discipline. Kernel rules (packet(7),
//! Documentation/networking/packet_mmap.rst): `framesz` a multiple of 16
//! (TPACKET_ALIGNMENT), `blocksz` a multiple of the page size holding whole frames,
//! `framecnt` = blocks × frames per block. PMD rule: a frame's data (`framesz` − 32)
//! must fit an mbuf's data room (`[tables] mbuf_data_room`, 2048 by default).

use super::locate::KeyPath;
use super::validate::{Checker, Res};
use super::ErrorKind;

/// Frames per ring rvsd asks for when the device string does not say.
pub const DEFAULT_FRAMECNT: u32 = 4096;
/// Bytes per frame: a 1500-byte MTU frame with VLAN tag plus the TPACKET_V2 header.
pub const DEFAULT_FRAMESZ: u32 = 2048;
/// Bytes per block: one 4 KiB page (order-0 allocations, two frames each).
pub const DEFAULT_BLOCKSZ: u32 = 4096;
/// Send without the kernel's qdisc.
pub const DEFAULT_QDISC_BYPASS: u32 = 1;
/// Page size the block size must be a multiple of (x86-64 and arm64 4 KiB pages).
const PAGE: u32 = 4096;
/// Largest frame whose data fits the largest mbuf data room (`[tables] mbuf_data_room`
/// up to 65407, + the 32 bytes of header the PMD subtracts), a multiple of 16; the
/// configured data room bounds it further (checked once both are known).
pub const MAX_FRAMESZ: u32 = (super::validate::MAX_MBUF_DATA_ROOM + 32) / 16 * 16;

/// The keys DPDK 22.11's af_packet PMD accepts (its `valid_arguments`, printed by the
/// installed PMD as `iface=<string> qpairs=<int> blocksz=<int> framesz=<int>
/// framecnt=<int> qdisc_bypass=<0|1>`). Any other key makes the PMD refuse the device.
pub const KEYS: [&str; 6] = [
    "iface",
    "qpairs",
    "blocksz",
    "framesz",
    "framecnt",
    "qdisc_bypass",
];
/// Most queue pairs the PMD opens (RTE_PMD_AF_PACKET_MAX_RINGS in DPDK 22.11).
pub const MAX_QPAIRS: u32 = 16;
/// Longest Linux interface name (IFNAMSIZ − 1, linux/if.h).
const MAX_IFACE_LEN: usize = 15;
/// Bytes of a frame that are not packet data when the PMD sizes the MTU it allows:
/// the TPACKET_V2 header and address (TPACKET2_HDRLEN); the PMD refuses an MTU above
/// `framesz` − 52.
pub const FRAME_OVERHEAD: u32 = 52;
/// Largest MTU DPDK 22.11's af_packet PMD accepts whatever `framesz` is: it reports a
/// maximum frame of 1518 bytes (`RTE_ETHER_MAX_LEN`), and ethdev refuses an MTU whose
/// frame (MTU + 18) exceeds it ("Frame size (1519) > device max frame size (1518)").
pub const MAX_MTU: u32 = 1500;

/// The `iface=` value of an af_packet device string (None for other devices).
pub fn iface(device: &str) -> Option<&str> {
    let name = device.split(',').next()?;
    if !(name.starts_with("net_af_packet") || name.starts_with("eth_af_packet")) {
        return None;
    }
    device
        .split(',')
        .skip(1)
        .find_map(|kv| kv.strip_prefix("iface="))
}

/// The `framesz=` of an af_packet device string after rvsd appended its defaults.
pub fn framesz(device: &str) -> Option<u32> {
    iface(device)?;
    device
        .split(',')
        .skip(1)
        .find_map(|kv| kv.strip_prefix("framesz="))
        .and_then(|v| v.parse().ok())
}

impl Checker<'_> {
    /// `s` (an `net_af_packet...` device string) with the ring options it lacks appended,
    /// after checking the ones it has: only the PMD's keys, each once, `iface` present
    /// and a possible Linux name, `qpairs` within the PMD's limit.
    pub(super) fn af_packet_device(&self, path: &KeyPath, s: &str) -> Res<String> {
        let bad = |msg: String| Err(self.err(path, ErrorKind::Range, msg));
        let mut seen: Vec<&str> = Vec::new();
        for kv in s.split(',').skip(1) {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            if !KEYS.contains(&k) {
                return bad(format!(
                    "unknown af_packet option {k:?} (the PMD accepts {}; keys are lower case, without spaces)",
                    KEYS.join(", ")
                ));
            }
            if seen.contains(&k) {
                return bad(format!(
                    "af_packet option {k} is given twice (the PMD would use the last one)"
                ));
            }
            if v.is_empty() {
                return bad(format!("af_packet option {k} has an empty value"));
            }
            seen.push(k);
        }
        let Some(ifname) = iface(s) else {
            return bad(format!(
                "af_packet device {s:?} names no interface (add \",iface=<host interface>\")"
            ));
        };
        if ifname.len() > MAX_IFACE_LEN || ifname.contains(['/', ' ']) {
            return bad(format!(
                "af_packet iface {ifname:?} is not a Linux interface name (1..{MAX_IFACE_LEN} characters, no '/' or space)"
            ));
        }
        let get = |key: &str, default: u32| -> Res<(u32, bool)> {
            let prefix = format!("{key}=");
            match s.split(',').skip(1).find_map(|kv| kv.strip_prefix(&prefix)) {
                None => Ok((default, false)),
                Some(v) => match v.parse::<u32>() {
                    Ok(n) if n > 0 || key == "qdisc_bypass" => Ok((n, true)),
                    _ => Err(self.err(
                        path,
                        ErrorKind::Range,
                        format!("invalid af_packet {key} value {v:?} (a positive integer)"),
                    )),
                },
            }
        };
        let (framecnt, has_cnt) = get("framecnt", DEFAULT_FRAMECNT)?;
        let (framesz, has_sz) = get("framesz", DEFAULT_FRAMESZ)?;
        let (blocksz, has_blk) = get("blocksz", DEFAULT_BLOCKSZ)?;
        let (bypass, has_bypass) = get("qdisc_bypass", DEFAULT_QDISC_BYPASS)?;
        let (qpairs, _) = get("qpairs", 1)?;
        if qpairs > MAX_QPAIRS {
            return bad(format!(
                "af_packet qpairs={qpairs}: the PMD opens at most {MAX_QPAIRS} queue pairs"
            ));
        }
        if bypass > 1 {
            return bad(format!("af_packet qdisc_bypass={bypass} (0 or 1)"));
        }
        if framesz % 16 != 0 || !(64..=MAX_FRAMESZ).contains(&framesz) {
            return bad(format!(
                "af_packet framesz={framesz}: a multiple of 16 in 64..={MAX_FRAMESZ}"
            ));
        }
        if blocksz % PAGE != 0 || blocksz < framesz {
            return bad(format!(
                "af_packet blocksz={blocksz}: a multiple of {PAGE} holding at least one frame of {framesz}"
            ));
        }
        let per_block = blocksz / framesz;
        if framecnt % per_block != 0 {
            return bad(format!(
                "af_packet framecnt={framecnt}: a multiple of the {per_block} frames a {blocksz}-byte block holds"
            ));
        }
        let mut out = s.to_string();
        for (has, key, v) in [
            (has_cnt, "framecnt", framecnt),
            (has_sz, "framesz", framesz),
            (has_blk, "blocksz", blocksz),
            (has_bypass, "qdisc_bypass", bypass),
        ] {
            if !has {
                out.push_str(&format!(",{key}={v}"));
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use crate::config::{Config, Device};

    fn device(dev: &str) -> Result<Device, String> {
        let text = std::fs::read_to_string("configs/lab-appliance.toml")
            .unwrap()
            .replace("net_af_packet0,iface=rvs-ext", dev);
        Config::from_str_named(&text, "t.toml")
            .map(|c| c.ports[0].device.clone())
            .map_err(|e| e.to_string())
    }

    #[test]
    fn ring_defaults_are_appended_and_operator_values_kept() {
        assert_eq!(
            device("net_af_packet0,iface=x").unwrap().to_string(),
            "net_af_packet0,iface=x,framecnt=4096,framesz=2048,blocksz=4096,qdisc_bypass=1"
        );
        assert_eq!(
            device("net_af_packet0,iface=x,framecnt=2,qdisc_bypass=0")
                .unwrap()
                .to_string(),
            "net_af_packet0,iface=x,framecnt=2,qdisc_bypass=0,framesz=2048,blocksz=4096"
        );
        // Other vdevs are left alone.
        assert_eq!(
            device("net_pcap0,rx_pcap=a.pcap").unwrap().to_string(),
            "net_pcap0,rx_pcap=a.pcap"
        );
    }

    #[test]
    fn ring_geometry_the_kernel_would_refuse_is_a_located_error() {
        for (dev, what) in [
            ("net_af_packet0,iface=x,framecnt=3", "framecnt=3"),
            ("net_af_packet0,iface=x,framecnt=0", "framecnt"),
            ("net_af_packet0,iface=x,framesz=1000", "framesz=1000"),
            (
                "net_af_packet0,iface=x,framesz=4096,blocksz=4096",
                "framesz=4096",
            ),
            ("net_af_packet0,iface=x,blocksz=6000", "blocksz=6000"),
            ("net_af_packet0,iface=x,qdisc_bypass=2", "qdisc_bypass=2"),
            // What the PMD itself refuses (DPDK 22.11 rte_eth_af_packet.c).
            ("net_af_packet0,framecnt=4096", "names no interface"),
            ("net_af_packet0,iface=", "iface has an empty value"),
            (
                "net_af_packet0,iface=x,bogus=1",
                "unknown af_packet option \"bogus\"",
            ),
            ("net_af_packet0,iface=x,FRAMECNT=3", "\"FRAMECNT\""),
            ("net_af_packet0, iface=x", "\" iface\""),
            (
                "net_af_packet0,iface=x,framecnt=4096,framecnt=3",
                "framecnt is given twice",
            ),
            ("net_af_packet0,iface=x,iface=y", "iface is given twice"),
            (
                "net_af_packet0,iface=abcdefghijklmnop",
                "not a Linux interface name",
            ),
            ("net_af_packet0,iface=x,qpairs=17", "at most 16 queue pairs"),
            ("net_af_packet0,iface=x,qpairs=0", "qpairs"),
        ] {
            let e = device(dev).unwrap_err();
            assert!(
                e.contains(what) && e.contains("port[0].device"),
                "{dev}: {e}"
            );
        }
    }
}
