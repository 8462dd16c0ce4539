//! Ethernet ports: attach by device string, configure queues (RSS where supported),
//! start, read link state and statistics; stopped and closed with the last handle.
//!
//! Lifetime rule: [`Port::start`] consumes the stopped port and hands out a
//! [`StartedPort`] (management: MAC, link, stats) and one [`RxQueue`]/[`TxQueue`] per
//! queue. All of them share the device ([`PortInner`], one `Arc` clone per handle, taken
//! once at start, never per packet), and the device is stopped and closed only when the
//! last of them is dropped, so no safe code can close a port whose queues are still
//! polled, and a started port cannot be configured again (`start` took it). The device
//! holds the mempool its RX queues fill from, the rings of a ring port, and the EAL.

use super::eal::Eal;
use super::error::{strerror, Error};
use super::mempool::Mempool;
use super::queue::{RxQueue, TxQueue};
use super::ring::RawRing;
use std::ffi::CString;
use std::sync::{Arc, Mutex};

/// Port ids that have a live handle ([`PortInner`]): a second handle to one device
/// would close it under the first one's queues when dropped, so `attach` refuses it.
/// Touched only when attaching and closing (management path).
static ATTACHED: Mutex<Vec<u16>> = Mutex::new(Vec::new());

/// Claims `id` for a new handle; false when another handle has it.
fn claim(id: u16) -> bool {
    let mut ids = ATTACHED.lock().unwrap_or_else(|e| e.into_inner());
    if ids.contains(&id) {
        return false;
    }
    ids.push(id);
    true
}

/// Releases `id` once its device is closed.
fn release(id: u16) {
    ATTACHED
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain(|&i| i != id);
}

/// How a port is set up. One RX and one TX queue per worker.
#[derive(Clone, Debug)]
pub struct PortConfig {
    /// RX/TX queue pairs (= number of workers).
    pub queues: u16,
    /// RX descriptors per queue (adjusted to the device's limits).
    pub rx_desc: u16,
    /// TX descriptors per queue (adjusted to the device's limits).
    pub tx_desc: u16,
    /// MTU to set; devices that cannot change it keep theirs (logged).
    pub mtu: u16,
    /// Accept frames for any destination MAC.
    pub promiscuous: bool,
}

impl Default for PortConfig {
    fn default() -> Self {
        PortConfig {
            queues: 1,
            rx_desc: 1024,
            tx_desc: 1024,
            mtu: 1500,
            promiscuous: false,
        }
    }
}

/// Link state as the device reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LinkState {
    /// True when the link is up.
    pub up: bool,
    /// Speed in Mbit/s (0 when unknown).
    pub speed_mbps: u32,
}

/// Device counters, including the drops that happen before rvs sees a packet.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PortStats {
    /// Packets received.
    pub ipackets: u64,
    /// Packets sent.
    pub opackets: u64,
    /// Bytes received.
    pub ibytes: u64,
    /// Bytes sent.
    pub obytes: u64,
    /// Packets the NIC dropped because RX queues were full (we polled too slowly).
    pub imissed: u64,
    /// Erroneous packets received.
    pub ierrors: u64,
    /// Failed transmissions.
    pub oerrors: u64,
    /// RX drops because the mempool had no free mbuf.
    pub rx_nombuf: u64,
}

/// One DPDK ethernet port, attached by its device string, not started yet. Dropping it
/// closes the device (for `net_tap` this removes the kernel interface).
pub struct Port {
    inner: PortInner,
}

/// A started port: management view (MAC, link, statistics). Its queues were handed out
/// by [`Port::start`]; the device is stopped and closed when this and every queue handle
/// are gone, in any order.
pub struct StartedPort {
    inner: Arc<PortInner>,
}

/// The device itself, shared by a started port and its queue handles; its Drop stops and
/// closes the device, then releases (field order) the pool, the rings and the EAL.
pub(crate) struct PortInner {
    id: u16,
    device: String,
    started: bool,
    rss: bool,
    /// The pool RX queues fill from: kept until the device is closed.
    pool: Option<Mempool>,
    /// A ring port's rings: kept until the device is closed.
    _rings: Vec<Arc<RawRing>>,
    /// Kept until everything above is released.
    _eal: Eal,
}

fn c_string(s: &str, device: &str) -> Result<CString, Error> {
    CString::new(s).map_err(|_| Error::Device {
        device: device.to_string(),
        reason: "contains a NUL byte".into(),
    })
}

impl PortInner {
    /// DPDK's port id, for the queue handles' fast path.
    pub(crate) fn id(&self) -> u16 {
        self.id
    }

    fn err(&self, what: impl Into<String>, rc: i32) -> Error {
        Error::Port {
            port: self.device.clone(),
            what: what.into(),
            reason: strerror(rc),
        }
    }

    fn info(&self) -> Result<dpdk_sys::rte_eth_dev_info, Error> {
        let mut info = dpdk_sys::rte_eth_dev_info::default();
        // SAFETY: valid port id from attach; info is a valid out-pointer.
        let rc = unsafe { dpdk_sys::rte_eth_dev_info_get(self.id, &mut info) };
        if rc != 0 {
            return Err(self.err("device info", rc));
        }
        Ok(info)
    }

    fn mac(&self) -> Result<[u8; 6], Error> {
        let mut addr = dpdk_sys::rte_ether_addr::default();
        // SAFETY: valid port id and out-pointer.
        let rc = unsafe { dpdk_sys::rte_eth_macaddr_get(self.id, &mut addr) };
        if rc != 0 {
            return Err(self.err("mac address", rc));
        }
        Ok(addr.addr_bytes)
    }

    fn link(&self) -> LinkState {
        let mut link = dpdk_sys::rte_eth_link::default();
        // SAFETY: valid port id and out-pointer; the nowait variant never blocks.
        let rc = unsafe { dpdk_sys::rte_eth_link_get_nowait(self.id, &mut link) };
        if rc != 0 {
            return LinkState {
                up: false,
                speed_mbps: 0,
            };
        }
        LinkState {
            up: link.link_status() != 0,
            speed_mbps: link.link_speed,
        }
    }

    fn stats(&self) -> PortStats {
        let mut s = dpdk_sys::rte_eth_stats::default();
        // SAFETY: valid port id and out-pointer.
        let rc = unsafe { dpdk_sys::rte_eth_stats_get(self.id, &mut s) };
        if rc != 0 {
            return PortStats::default();
        }
        PortStats {
            ipackets: s.ipackets,
            opackets: s.opackets,
            ibytes: s.ibytes,
            obytes: s.obytes,
            imissed: s.imissed,
            ierrors: s.ierrors,
            oerrors: s.oerrors,
            rx_nombuf: s.rx_nombuf,
        }
    }
}

/// Before probing an af_packet vdev: its `iface=` must exist in this network
/// namespace, else the PMD fails with only a log line (SIOCGIFINDEX: No such device)
/// and a bare -1.
fn af_packet_iface_exists(device: &str) -> Result<(), Error> {
    let name = device.split(',').next().unwrap_or(device);
    if !(name.starts_with("net_af_packet") || name.starts_with("eth_af_packet")) {
        return Ok(());
    }
    let Some(iface) = device
        .split(',')
        .skip(1)
        .find_map(|kv| kv.strip_prefix("iface="))
    else {
        return Ok(());
    };
    let ciface = c_string(iface, device)?;
    // SAFETY: ciface is a valid NUL-terminated C string; if_nametoindex only reads it.
    let index = unsafe { libc::if_nametoindex(ciface.as_ptr()) };
    if index == 0 {
        return Err(Error::Device {
            device: device.to_string(),
            reason: format!("interface {iface} does not exist"),
        });
    }
    Ok(())
}

impl Port {
    /// Probes `device` (a vdev string such as `net_af_packet0,iface=eth1`, or a PCI
    /// address) unless the EAL already did, and finds its port id.
    pub fn attach(eal: &Eal, device: &str) -> Result<Port, Error> {
        let name = device.split(',').next().unwrap_or(device).trim();
        let cname = c_string(name, device)?;
        let mut id: u16 = 0;
        // SAFETY: the EAL is up (`eal`); cname is a valid C string; id a valid out-pointer.
        let rc = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) };
        if rc != 0 {
            af_packet_iface_exists(device)?;
            let cdev = c_string(device, device)?;
            // SAFETY: cdev is a valid C string; DPDK copies what it keeps.
            let rc = unsafe { dpdk_sys::rte_dev_probe(cdev.as_ptr()) };
            if rc != 0 {
                // Drivers return -1 (read as EPERM, "Operation not permitted") for
                // any failure and log the real cause themselves: say so, not EPERM.
                let reason = if rc == -1 {
                    "DPDK refused the device (its log line above says why)".to_string()
                } else {
                    format!(
                        "DPDK refused the device: {} (its log line above may say more)",
                        strerror(rc)
                    )
                };
                return Err(Error::Device {
                    device: device.to_string(),
                    reason,
                });
            }
            // SAFETY: as above.
            let rc = unsafe { dpdk_sys::rte_eth_dev_get_port_by_name(cname.as_ptr(), &mut id) };
            if rc != 0 {
                return Err(Error::Device {
                    device: device.to_string(),
                    reason: format!("probed, but no ethernet port named {name}"),
                });
            }
        }
        Port::from_id(eal, id, device, Vec::new())
    }

    /// Wraps a port id DPDK gave us (attach, or `rte_eth_from_rings` in ring.rs, with the
    /// rings the device uses): stopped, no queues yet; Drop closes it. Fails when the id
    /// already has a live handle (one handle per device, see [`ATTACHED`]).
    pub(crate) fn from_id(
        eal: &Eal,
        id: u16,
        device: &str,
        rings: Vec<Arc<RawRing>>,
    ) -> Result<Port, Error> {
        if !claim(id) {
            return Err(Error::Device {
                device: device.to_string(),
                reason: format!(
                    "port {id} is already attached (one handle per device until it is closed)"
                ),
            });
        }
        Ok(Port {
            inner: PortInner {
                id,
                device: device.to_string(),
                started: false,
                rss: false,
                pool: None,
                _rings: rings,
                _eal: eal.clone(),
            },
        })
    }

    /// DPDK's port id.
    pub fn id(&self) -> u16 {
        self.inner.id
    }

    /// The device string this port was attached with.
    pub fn device(&self) -> &str {
        &self.inner.device
    }

    /// The port's MAC address.
    pub fn mac(&self) -> Result<[u8; 6], Error> {
        self.inner.mac()
    }

    /// Sets the port's MAC address (`rte_eth_dev_default_mac_addr_set`, before start:
    /// the NIC's unicast filter then accepts it). `Ok(false)` when the driver has no
    /// MAC setting (ENOTSUP): the caller decides whether to use the address in software
    /// only. On `net_af_packet` the driver sets the kernel interface's MAC
    /// (`SIOCSIFHWADDR`), which is what the host NIC filters on.
    pub fn set_mac(&mut self, mac: [u8; 6]) -> Result<bool, Error> {
        let mut addr = dpdk_sys::rte_ether_addr { addr_bytes: mac };
        // SAFETY: valid port id from attach; addr is a valid pointer for the call (DPDK
        // copies the address).
        let rc = unsafe { dpdk_sys::rte_eth_dev_default_mac_addr_set(self.inner.id, &mut addr) };
        if rc == -libc::ENOTSUP {
            return Ok(false);
        }
        if rc != 0 {
            return Err(self.inner.err("set MAC address", rc));
        }
        Ok(true)
    }

    /// Configures `cfg.queues` RX/TX queue pairs, RSS over IPv4/TCP/UDP when the device
    /// supports it and more than one queue is asked for, the MTU, and promiscuity; then
    /// starts the port and returns it with one RX and one TX handle per queue. RX queues
    /// fill from `pool`, which the device keeps until it is closed. On error the port is
    /// closed (dropped).
    #[allow(clippy::type_complexity)]
    pub fn start(
        mut self,
        cfg: &PortConfig,
        pool: &Mempool,
    ) -> Result<(StartedPort, Vec<RxQueue>, Vec<TxQueue>), Error> {
        let p = &mut self.inner;
        let info = p.info()?;
        let queues = cfg.queues.max(1);
        if queues > info.max_rx_queues || queues > info.max_tx_queues {
            return Err(Error::Port {
                port: p.device.clone(),
                what: format!("{queues} queues"),
                reason: format!(
                    "device supports at most {} rx / {} tx queues",
                    info.max_rx_queues, info.max_tx_queues
                ),
            });
        }
        let mut conf = dpdk_sys::rte_eth_conf::default();
        // IPv4, fragmented IPv4, IPv4/TCP, IPv4/UDP, IPv4/other (RTE_ETH_RSS_* bits 2..7).
        const RSS_IPV4_ALL: u64 = 0b1111_1100;
        let rss_hf = info.flow_type_rss_offloads & RSS_IPV4_ALL;
        p.rss = queues > 1 && rss_hf != 0;
        if p.rss {
            conf.rxmode.mq_mode = dpdk_sys::rte_eth_rx_mq_mode_RTE_ETH_MQ_RX_RSS;
            conf.rx_adv_conf.rss_conf.rss_hf = rss_hf;
        }
        // TCP and UDP RX checksum offload where the device has it: the NIC's verdict in
        // each mbuf's ol_flags spares the software checksum of a new flow's first packet
        // (`Mbuf::rx_l4_checksum`). RTE_ETH_RX_OFFLOAD_UDP_CKSUM (bit 2) and _TCP_CKSUM
        // (bit 3), DPDK 22.11 rte_ethdev.h (function-like macros bindgen does not bind).
        const RX_L4_CKSUM: u64 = (1 << 2) | (1 << 3);
        conf.rxmode.offloads = info.rx_offload_capa & RX_L4_CKSUM;
        // SAFETY: valid port id, conf is a valid pointer for the call; the port is stopped
        // (a `Port` is never started: `start` consumes it).
        let rc = unsafe { dpdk_sys::rte_eth_dev_configure(p.id, queues, queues, &conf) };
        if rc != 0 {
            return Err(p.err("configure", rc));
        }
        let (mut nrx, mut ntx) = (cfg.rx_desc, cfg.tx_desc);
        // SAFETY: valid port id and out-pointers.
        let rc = unsafe { dpdk_sys::rte_eth_dev_adjust_nb_rx_tx_desc(p.id, &mut nrx, &mut ntx) };
        if rc != 0 {
            return Err(p.err("descriptor limits", rc));
        }
        // SAFETY: valid port id.
        let socket = unsafe { dpdk_sys::rte_eth_dev_socket_id(p.id) };
        let socket = if socket < 0 { 0 } else { socket as u32 };
        // The device keeps the pool from here on (dropped after the close in Drop).
        p.pool = Some(pool.clone());
        for q in 0..queues {
            // SAFETY: port configured with `queues` queues; q < queues; the pool outlives
            // the device (held in `p.pool`, released after close); NULL conf = defaults.
            let rc = unsafe {
                dpdk_sys::rte_eth_rx_queue_setup(
                    p.id,
                    q,
                    nrx,
                    socket,
                    std::ptr::null(),
                    pool.as_ptr(),
                )
            };
            if rc != 0 {
                return Err(p.err(format!("rx queue {q} setup"), rc));
            }
            // SAFETY: as above for the TX queue.
            let rc =
                unsafe { dpdk_sys::rte_eth_tx_queue_setup(p.id, q, ntx, socket, std::ptr::null()) };
            if rc != 0 {
                return Err(p.err(format!("tx queue {q} setup"), rc));
            }
        }
        if cfg.mtu != 0 {
            // SAFETY: valid port id.
            let rc = unsafe { dpdk_sys::rte_eth_dev_set_mtu(p.id, cfg.mtu) };
            if rc == -libc::ENOTSUP {
                // A driver without an MTU (net_ring, net_null): nothing to refuse.
                log::debug!("port {}: driver has no MTU setting", p.device);
            } else if rc != 0 {
                // Running with a smaller MTU than configured would drop every
                // full-size frame as malformed: refuse to start instead.
                return Err(p.err(format!("set MTU {}", cfg.mtu), rc));
            }
        }
        // SAFETY: valid, configured port.
        let rc = unsafe { dpdk_sys::rte_eth_dev_start(p.id) };
        if rc != 0 {
            return Err(p.err("start", rc));
        }
        p.started = true;
        if cfg.promiscuous {
            // SAFETY: valid, started port.
            let rc = unsafe { dpdk_sys::rte_eth_promiscuous_enable(p.id) };
            if rc != 0 {
                log::warn!("port {}: promiscuous mode: {}", p.device, strerror(rc));
            }
        }
        let inner = Arc::new(self.inner);
        let rx = (0..queues)
            .map(|q| RxQueue::new(inner.clone(), q))
            .collect();
        let tx = (0..queues)
            .map(|q| TxQueue::new(inner.clone(), q))
            .collect();
        Ok((StartedPort { inner }, rx, tx))
    }
}

impl StartedPort {
    /// DPDK's port id.
    pub fn id(&self) -> u16 {
        self.inner.id
    }

    /// The device string this port was attached with.
    pub fn device(&self) -> &str {
        &self.inner.device
    }

    /// True when RSS spreads flows over several RX queues.
    pub fn rss(&self) -> bool {
        self.inner.rss
    }

    /// The port's MAC address.
    pub fn mac(&self) -> Result<[u8; 6], Error> {
        self.inner.mac()
    }

    /// Link state without waiting.
    pub fn link(&self) -> LinkState {
        self.inner.link()
    }

    /// Device counters (management thread; DPDK sums per-queue counters).
    pub fn stats(&self) -> PortStats {
        self.inner.stats()
    }
}

impl Drop for PortInner {
    fn drop(&mut self) {
        if self.started {
            // SAFETY: valid started port; this is the last handle (Arc), so no queue
            // handle exists and nobody polls the device.
            let rc = unsafe { dpdk_sys::rte_eth_dev_stop(self.id) };
            if rc != 0 {
                log::warn!("port {}: stop: {}", self.device, strerror(rc));
            }
        }
        // SAFETY: the port is stopped (or was never started) and no queue handle is left
        // (see above); the pool and the rings it uses are released only after this.
        let rc = unsafe { dpdk_sys::rte_eth_dev_close(self.id) };
        if rc != 0 {
            log::warn!("port {}: close: {}", self.device, strerror(rc));
        }
        if self.device.starts_with("net_") {
            let name = self.device.split(',').next().unwrap_or("");
            if let Ok(cname) = CString::new(name) {
                // SAFETY: both are valid C strings; removing a closed vdev frees its
                // resources (for net_tap: the kernel interface).
                let rc =
                    unsafe { dpdk_sys::rte_eal_hotplug_remove(c"vdev".as_ptr(), cname.as_ptr()) };
                if rc != 0 {
                    log::debug!("port {}: hotplug remove: {}", self.device, strerror(rc));
                }
            }
        }
        release(self.id);
    }
}
