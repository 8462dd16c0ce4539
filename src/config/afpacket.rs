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
//! must fit an mbuf's 2048-byte data room.

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
/// Largest frame whose data fits the pool's mbufs (2048 + the 32 bytes of header the
/// PMD subtracts).
const MAX_FRAMESZ: u32 = 2048 + 32;

impl Checker<'_> {
    /// `s` (an `net_af_packet...` device string) with the ring options it lacks appended,
    /// after checking the ones it has.
    pub(super) fn af_packet_device(&self, path: &KeyPath, s: &str) -> Res<String> {
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
        let bad = |msg: String| Err(self.err(path, ErrorKind::Range, msg));
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
        ] {
            let e = device(dev).unwrap_err();
            assert!(
                e.contains(what) && e.contains("port[0].device"),
                "{dev}: {e}"
            );
        }
    }
}
