//! Per-state timeouts (IPVS defaults, `ipvsadm --set tcp tcpfin udp`) and the
//! few IPVS sysctls that change how the table treats old entries.
//!
//! Both live inside the table as relaxed atomics: the management thread
//! writes them at run time, workers read them per packet. A worker that uses
//! the old value for one more packet is harmless (IPVS reads its sysctls the
//! same way), so no ordering beyond atomicity is needed.

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU8, Ordering};

use super::state::{TcpState, TCP_STATES};

/// IPVS default TCP timeouts in seconds, indexed by [`TcpState`] (IPVSADM.md §5.1).
pub const DEFAULT_TCP_TIMEOUT_SECS: [u32; TCP_STATES] = [
    2,       // NONE
    15 * 60, // ESTABLISHED
    2 * 60,  // SYN_SENT
    60,      // SYN_RECV
    2 * 60,  // FIN_WAIT
    2 * 60,  // TIME_WAIT
    10,      // CLOSE
    60,      // CLOSE_WAIT
    30,      // LAST_ACK
    2 * 60,  // LISTEN
    2 * 60,  // SYNACK
];

/// IPVS default UDP timeout in seconds.
pub const DEFAULT_UDP_TIMEOUT_SECS: u32 = 5 * 60;

/// Extra life given to a template whose timer fired while it still controls
/// connections (IPVS re-arms such entries for 60 s and checks again).
pub const TEMPLATE_RECHECK_SECS: u32 = 60;

/// The three values `ipvsadm --set` and `ipvsadm -L --timeout` speak of.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TimeoutTriple {
    /// ESTABLISHED timeout (`tcp`).
    pub tcp_secs: u32,
    /// FIN_WAIT timeout (`tcpfin`).
    pub tcpfin_secs: u32,
    /// UDP timeout (`udp`).
    pub udp_secs: u32,
}

/// Run-time settable per-state timeouts, shared by all workers.
#[derive(Debug)]
pub struct Timeouts {
    tcp_secs: [AtomicU32; TCP_STATES],
    udp_secs: AtomicU32,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            tcp_secs: DEFAULT_TCP_TIMEOUT_SECS.map(AtomicU32::new),
            udp_secs: AtomicU32::new(DEFAULT_UDP_TIMEOUT_SECS),
        }
    }
}

impl Timeouts {
    /// Timeout of a TCP state.
    pub fn tcp_secs(&self, s: TcpState) -> u32 {
        self.tcp_secs[s as usize].load(Ordering::Relaxed)
    }

    /// Timeout of every UDP (and other non-TCP) entry.
    pub fn udp_secs(&self) -> u32 {
        self.udp_secs.load(Ordering::Relaxed)
    }

    /// `ipvsadm --set tcp tcpfin udp`: as in IPVS, 0 leaves that value unchanged,
    /// and only ESTABLISHED, FIN_WAIT and UDP can be changed. Entries pick the
    /// new value up at their next packet (their running timer is not shortened).
    pub fn set(&self, t: TimeoutTriple) {
        if t.tcp_secs != 0 {
            self.tcp_secs[TcpState::Established as usize].store(t.tcp_secs, Ordering::Relaxed);
        }
        if t.tcpfin_secs != 0 {
            self.tcp_secs[TcpState::FinWait as usize].store(t.tcpfin_secs, Ordering::Relaxed);
        }
        if t.udp_secs != 0 {
            self.udp_secs.store(t.udp_secs, Ordering::Relaxed);
        }
    }

    /// `ipvsadm -L --timeout`.
    pub fn get(&self) -> TimeoutTriple {
        TimeoutTriple {
            tcp_secs: self.tcp_secs(TcpState::Established),
            tcpfin_secs: self.tcp_secs(TcpState::FinWait),
            udp_secs: self.udp_secs(),
        }
    }
}

/// The IPVS sysctls (`/proc/sys/net/ipv4/vs/*`) the connection table obeys.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Settings {
    /// `expire_nodest_conn`: false (IPVS default) = packets of an entry whose dest
    /// was deleted are dropped and the entry times out normally; true = the entry
    /// is expired at once and the packet rescheduled (current kernels). Also makes
    /// a new SYN hitting an entry whose dest has weight 0 reschedule.
    pub expire_nodest_conn: bool,
    /// `expire_quiescent_template`: true = a template whose dest has weight 0 is
    /// invalidated on use, so persistent clients move off a quiesced server.
    pub expire_quiescent_template: bool,
    /// `conn_reuse_mode` (default 1): bit 0 = a SYN hitting an uncontrolled entry in
    /// TIME_WAIT or CLOSE expires it and reschedules; bit 1 = also FIN_WAIT of DR/TUN
    /// entries. 0 = the SYN just reopens the old entry (to the old server).
    pub conn_reuse_mode: u8,
    /// `sloppy_tcp` (default false): any TCP segment but a RST may create a
    /// connection (recorded: an ACK makes an ESTABLISHED entry), not only a SYN.
    pub sloppy_tcp: bool,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            expire_nodest_conn: false,
            expire_quiescent_template: false,
            conn_reuse_mode: 1,
            sloppy_tcp: false,
        }
    }
}

/// [`Settings`] as atomics, so the management thread can flip them under running workers.
#[derive(Debug)]
pub(crate) struct SharedSettings {
    expire_nodest_conn: AtomicBool,
    expire_quiescent_template: AtomicBool,
    conn_reuse_mode: AtomicU8,
    sloppy_tcp: AtomicBool,
}

impl SharedSettings {
    pub(crate) fn new(s: Settings) -> Self {
        SharedSettings {
            expire_nodest_conn: AtomicBool::new(s.expire_nodest_conn),
            expire_quiescent_template: AtomicBool::new(s.expire_quiescent_template),
            conn_reuse_mode: AtomicU8::new(s.conn_reuse_mode),
            sloppy_tcp: AtomicBool::new(s.sloppy_tcp),
        }
    }
    pub(crate) fn get(&self) -> Settings {
        Settings {
            expire_nodest_conn: self.expire_nodest_conn.load(Ordering::Relaxed),
            expire_quiescent_template: self.expire_quiescent_template.load(Ordering::Relaxed),
            conn_reuse_mode: self.conn_reuse_mode.load(Ordering::Relaxed),
            sloppy_tcp: self.sloppy_tcp.load(Ordering::Relaxed),
        }
    }
    pub(crate) fn set(&self, s: Settings) {
        self.expire_nodest_conn
            .store(s.expire_nodest_conn, Ordering::Relaxed);
        self.expire_quiescent_template
            .store(s.expire_quiescent_template, Ordering::Relaxed);
        self.conn_reuse_mode
            .store(s.conn_reuse_mode, Ordering::Relaxed);
        self.sloppy_tcp.store(s.sloppy_tcp, Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_ipvs() {
        let t = Timeouts::default();
        let want = [
            (TcpState::None, 2),
            (TcpState::Established, 900),
            (TcpState::SynSent, 120),
            (TcpState::SynRecv, 60),
            (TcpState::FinWait, 120),
            (TcpState::TimeWait, 120),
            (TcpState::Close, 10),
            (TcpState::CloseWait, 60),
            (TcpState::LastAck, 30),
            (TcpState::Listen, 120),
            (TcpState::SynAck, 120),
        ];
        for (s, secs) in want {
            assert_eq!(t.tcp_secs(s), secs, "{}", s.name());
        }
        assert_eq!(t.udp_secs(), 300);
        assert_eq!(
            t.get(),
            TimeoutTriple {
                tcp_secs: 900,
                tcpfin_secs: 120,
                udp_secs: 300
            }
        );
    }

    #[test]
    fn set_zero_means_unchanged() {
        let t = Timeouts::default();
        t.set(TimeoutTriple {
            tcp_secs: 100,
            tcpfin_secs: 0,
            udp_secs: 40,
        });
        assert_eq!(
            t.get(),
            TimeoutTriple {
                tcp_secs: 100,
                tcpfin_secs: 120,
                udp_secs: 40
            }
        );
        t.set(TimeoutTriple {
            tcp_secs: 0,
            tcpfin_secs: 50,
            udp_secs: 0,
        });
        assert_eq!(
            t.get(),
            TimeoutTriple {
                tcp_secs: 100,
                tcpfin_secs: 50,
                udp_secs: 40
            }
        );
        // Other states are fixed.
        assert_eq!(t.tcp_secs(TcpState::TimeWait), 120);
    }

    #[test]
    fn settings_defaults_and_roundtrip() {
        let s = Settings::default();
        assert!(!s.expire_nodest_conn && !s.expire_quiescent_template && !s.sloppy_tcp);
        assert_eq!(s.conn_reuse_mode, 1);
        let sh = SharedSettings::new(s);
        let s2 = Settings {
            expire_nodest_conn: true,
            expire_quiescent_template: true,
            conn_reuse_mode: 3,
            sloppy_tcp: true,
        };
        sh.set(s2);
        assert_eq!(sh.get(), s2);
    }
}
