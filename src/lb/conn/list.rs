//! Listing for `ipvsadm -Lnc`: a snapshot the management thread builds by
//! reading every slot with the same generation-checked read workers use. It
//! takes no lock and writes nothing, so workers never wait for it; an entry
//! changing during the walk is shown in one of its states or skipped.

use std::net::Ipv4Addr;

use crate::lb::dest::Fwd;
use crate::lb::flow::proto;

use super::slot::SlotKind;
use super::table::{ConnState, ConnTable};

/// One row of the connection listing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ConnEntry {
    /// IP protocol (0 for firewall-mark templates).
    pub proto: u8,
    /// State.
    pub state: ConnState,
    /// Seconds until the entry expires.
    pub expire_secs: u32,
    /// Client address (masked for templates).
    pub caddr: Ipv4Addr,
    /// Client port (0 for templates).
    pub cport: u16,
    /// VIP (or mark for mark templates).
    pub vaddr: Ipv4Addr,
    /// Virtual port.
    pub vport: u16,
    /// Real server address.
    pub raddr: Ipv4Addr,
    /// Real server port.
    pub rport: u16,
    /// Forwarding method; None for templates.
    pub fwd: Option<Fwd>,
}

impl ConnEntry {
    /// The protocol column: `TCP`, `UDP`, `IP` (mark templates), else the number.
    pub fn proto_name(&self) -> String {
        match self.proto {
            proto::TCP => "TCP".into(),
            proto::UDP => "UDP".into(),
            0 => "IP".into(),
            n => n.to_string(),
        }
    }

    /// The row as `ipvsadm -Lnc` prints it (`%-3s %-6s %-11s %-18s %-18s %s`,
    /// expire as minutes:seconds).
    pub fn ipvsadm_row(&self) -> String {
        let exp = format!("{:02}:{:02}", self.expire_secs / 60, self.expire_secs % 60);
        let src = format!("{}:{}", self.caddr, self.cport);
        let vip = format!("{}:{}", self.vaddr, self.vport);
        format!(
            "{:<3} {:<6} {:<11} {:<18} {:<18} {}:{}",
            self.proto_name(),
            exp,
            self.state.name(),
            src,
            vip,
            self.raddr,
            self.rport
        )
    }
}

impl ConnTable {
    /// Every live entry at `now`, in slot order. Management thread; allocates.
    pub fn snapshot(&self, now: u32) -> Vec<ConnEntry> {
        let mut out = Vec::new();
        for idx in 0..self.slots.len() {
            let Some(v) = self.slots.read(idx) else {
                continue;
            };
            if !v.word.alive() || v.word.expired(now) {
                continue;
            }
            let k = &v.key;
            out.push(ConnEntry {
                proto: k.proto,
                state: self.state_of(k, v.word),
                expire_secs: v.word.expires - now,
                caddr: k.caddr.into(),
                cport: k.cport,
                vaddr: k.vaddr.into(),
                vport: k.vport,
                raddr: k.raddr.into(),
                rport: k.rport,
                fwd: match k.kind {
                    SlotKind::Nat => Some(Fwd::Nat),
                    SlotKind::Dr => Some(Fwd::Dr),
                    SlotKind::Tun => Some(Fwd::Tun),
                    SlotKind::Template => None,
                },
            });
        }
        out
    }
}
