//! Persistence templates in the LVS sense (IPVSADM.md §8): one entry per
//! (protocol, client network, service) that pins the client to a dest.
//!
//! A template lives in the same slot arena and index as connections (so it
//! counts against `max_conns`, as in IPVS) under its own cell kind. Its key
//! is (proto, client address AND netmask, cport 0, VIP, vport) — vport 0 for
//! a port-0 ("all ports") service; for a firewall-mark service proto is 0
//! (IPPROTO_IP) and the mark stands in the VIP field.
//!
//! Life cycle, as IPVS: created with the service's persistence timeout; every
//! new connection created under it re-arms it to that full timeout; when the
//! timer runs out while it still controls live connections it is re-armed for
//! 60 s and looked at again; it is freed only after its timeout AND once no
//! controlled connection is left. A template found while its dest is deleted
//! (or, with `expire_quiescent_template`, has weight 0) is invalidated: taken
//! out of the index so the caller schedules afresh, but kept (still counted in
//! the old dest's PersistConn) until its own timer and connections run out.
//! A template is listed `NONE` until one of its connections reaches
//! ESTABLISHED, then `ASSURED`.

use super::sync::Ordering;
use std::net::Ipv4Addr;

use super::dests::DestId;
use super::index::{self, Kind};
use super::slot::{SlotKey, SlotKind, Word, F_LIVE, F_PENDING, F_UNLINKED};
use super::table::{ConnRef, ConnTable, Expire};
use super::ConnError;

/// Key of a persistence template.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct TemplateKey {
    /// IP protocol of the service; 0 (IPPROTO_IP) for a firewall-mark service.
    pub proto: u8,
    /// Client address already masked with the service's persistence netmask.
    pub caddr: Ipv4Addr,
    /// VIP, or the firewall mark as an address for mark services.
    pub vaddr: Ipv4Addr,
    /// Virtual port; 0 for port-0 and mark services (and FTP's port 21).
    pub vport: u16,
}

impl TemplateKey {
    /// Key for an address service `-t/-u vaddr:vport -p -M netmask`.
    pub fn new(proto: u8, caddr: Ipv4Addr, netmask: Ipv4Addr, vaddr: Ipv4Addr, vport: u16) -> Self {
        TemplateKey {
            proto,
            caddr: (u32::from(caddr) & u32::from(netmask)).into(),
            vaddr,
            vport,
        }
    }

    /// Key for a firewall-mark service `-f mark -p -M netmask`.
    pub fn fwmark(caddr: Ipv4Addr, netmask: Ipv4Addr, mark: u32) -> Self {
        TemplateKey {
            proto: 0,
            caddr: (u32::from(caddr) & u32::from(netmask)).into(),
            vaddr: mark.into(),
            vport: 0,
        }
    }
}

/// A template that may be used for a new connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TemplateHit {
    /// Pass to [`ConnTable::insert`] as the controlling template.
    pub template: ConnRef,
    /// The dest the client is pinned to.
    pub dest: DestId,
    /// The port recorded with the template (dest port; 0 for port-0/mark services).
    pub rport: u16,
}

impl ConnTable {
    pub(crate) fn template_hash(&self, k: &SlotKey) -> u64 {
        self.hash(k.proto, k.caddr, 0, k.vaddr, k.vport)
    }

    fn key_of(&self, t: &TemplateKey) -> SlotKey {
        SlotKey {
            proto: t.proto,
            caddr: t.caddr.into(),
            cport: 0,
            vaddr: t.vaddr.into(),
            vport: t.vport,
            raddr: 0,
            rport: 0,
            kind: SlotKind::Template,
            dest: 0,
            control: 0,
            timeout_secs: 0,
        }
    }

    /// Finds the usable template for `key`. Invalidates (and does not return)
    /// one whose dest is deleted, or quiescent with `expire_quiescent_template`.
    /// A found template is not re-armed here; creating the connection does it.
    pub fn template_lookup(&self, key: &TemplateKey, now: u32) -> Option<TemplateHit> {
        let want = self.key_of(key);
        let h = self.template_hash(&want);
        let settings = self.settings.get();
        self.index.find(h, |_, c| {
            let (kind, idx) = index::decode(c);
            if kind != Kind::Template {
                return None;
            }
            let mut v = self.slots.read(idx)?;
            let k = &v.key;
            if k.kind != SlotKind::Template
                || (k.proto, k.caddr, k.vaddr, k.vport)
                    != (want.proto, want.caddr, want.vaddr, want.vport)
                || !v.word.alive()
            {
                return None;
            }
            if v.word.expired(now) {
                match self.try_expire(idx, v.word.gen, now, false) {
                    // Still controls connections: IPVS's timer would have re-armed it.
                    Expire::Rearmed | Expire::NotDue => v = self.slots.read(idx)?,
                    _ => return None,
                }
                if !v.word.alive() {
                    return None;
                }
            }
            let dest = self.dests.get(DestId(v.key.dest))?;
            if !dest.is_available() || (settings.expire_quiescent_template && dest.weight() == 0) {
                self.invalidate_template(idx, v.word.gen);
                return None;
            }
            Some(TemplateHit {
                template: ConnRef {
                    idx,
                    gen: v.word.gen,
                },
                dest: DestId(v.key.dest),
                rport: v.key.rport,
            })
        })
    }

    /// Takes a template out of the index (one thread wins the F_UNLINKED CAS);
    /// the slot stays until its timer runs out with no controlled connections.
    /// The key is read (at `gen`) BEFORE the CAS: once F_UNLINKED is set,
    /// `try_expire` leaves the cell to us and may free and reuse the slot at
    /// once, so a read after the CAS could find no key and leak the cell.
    fn invalidate_template(&self, idx: u32, gen: u32) {
        let Some(slot) = self.slots.get(idx) else {
            return;
        };
        let Some(v) = self.slots.read(idx) else {
            return;
        };
        if v.word.gen != gen {
            return;
        }
        let mut raw = v.raw;
        loop {
            let w = Word::unpack(raw);
            if w.gen != gen || !w.alive() || w.flags & F_UNLINKED != 0 {
                return;
            }
            let new = Word {
                flags: w.flags | F_UNLINKED,
                ..w
            };
            match slot
                .word
                .compare_exchange(raw, new.pack(), Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break,
                Err(a) => raw = a,
            }
        }
        // The CAS succeeded at `gen`, so `v.key` is this entry's key.
        let h = self.template_hash(&v.key);
        self.index.remove(h, index::cell(h, Kind::Template, idx));
    }

    /// Creates the template for `key` pinned to `dest` (port `rport`) for
    /// `timeout_secs` (the service's `-p`). Errors as [`ConnTable::insert`];
    /// on [`ConnError::Exists`] another worker just made it: look it up again.
    pub fn template_insert(
        &self,
        key: &TemplateKey,
        dest: DestId,
        rport: u16,
        timeout_secs: u32,
        now: u32,
    ) -> Result<ConnRef, ConnError> {
        let d = self.dests.get(dest).ok_or(ConnError::UnknownDest)?;
        let idx = self.slots.pop().ok_or(ConnError::Full)?;
        let mut k = self.key_of(key);
        k.dest = dest.0;
        k.rport = rport;
        k.raddr = d.addr.into();
        k.timeout_secs = timeout_secs;
        d.bind_template();
        let word = Word {
            expires: now.saturating_add(timeout_secs),
            state: 0,
            flags: F_LIVE | F_PENDING,
            gen: self.slots.current_gen(idx),
        };
        self.slots.publish(idx, &k, word);
        let h = self.template_hash(&k);
        self.link_unique(idx, word, &k, Kind::Template, h, now)?;
        Ok(ConnRef { idx, gen: word.gen })
    }

    /// Re-arms a template to its full persistence timeout from `now`.
    pub(crate) fn rearm_template(&self, t: ConnRef, now: u32) {
        let Some(slot) = self.slots.get(t.idx) else {
            return;
        };
        let Some(v) = self.slots.read(t.idx) else {
            return;
        };
        let mut raw = slot.word.load(Ordering::SeqCst);
        loop {
            let w = Word::unpack(raw);
            if w.gen != t.gen || !w.alive() {
                return;
            }
            let new = Word {
                expires: now.saturating_add(v.key.timeout_secs),
                ..w
            };
            match slot
                .word
                .compare_exchange(raw, new.pack(), Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return,
                Err(a) => raw = a,
            }
        }
    }

    /// Marks a template ASSURED (a controlled connection reached ESTABLISHED).
    /// Only generation `t.gen` of the slot: the controlled connection may have
    /// expired since the caller saw it, and with it the template, whose slot
    /// may already hold another entry (whose state bits must not change).
    pub(crate) fn assure_template(&self, t: ConnRef) {
        let Some(slot) = self.slots.get(t.idx) else {
            return;
        };
        let mut raw = slot.word.load(Ordering::SeqCst);
        loop {
            let w = Word::unpack(raw);
            if w.gen != t.gen || !w.alive() || w.state & 1 != 0 {
                return;
            }
            let new = Word {
                state: w.state | 1,
                ..w
            };
            match slot
                .word
                .compare_exchange(raw, new.pack(), Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return,
                Err(a) => raw = a,
            }
        }
    }

    /// Number of live connections a template controls (tests, listing).
    pub fn template_controls(&self, t: ConnRef) -> Option<u32> {
        let v = self.slots.read(t.idx)?;
        (v.word.gen == t.gen && v.word.alive())
            .then(|| {
                self.slots
                    .get(t.idx)
                    .map(|s| s.n_control.load(Ordering::SeqCst))
            })
            .flatten()
    }
}

#[cfg(test)]
#[path = "template_tests.rs"]
mod tests;
