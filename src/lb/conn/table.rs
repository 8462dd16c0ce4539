//! [`ConnTable`]: the shared connection table. Per-packet lookup with the state
//! transition, insertion of new connections, expiry (lazy and swept).
//! Persistence templates are in `template.rs`, listing in `list.rs`.

use super::sync::{dekker_fence, store_word, AtomicU32, Ordering};
use std::net::Ipv4Addr;
use std::sync::Arc;

use crate::lb::dest::{Dest, Fwd};
use crate::lb::flow::{proto, FlowKey};

use super::dests::{DestId, DestRef, Dests};
use super::index::{self, Index, Kind};
use super::passive::{self, Opening};
use super::slot::{
    SlotKey, SlotKind, Slots, View, Word, F_DEAD, F_INACTIVE, F_LIVE, F_PENDING, F_SETTLED,
    F_UNLINKED,
};
use super::state::{tcp_next, Side, TcpFlags, TcpState};
use super::timeouts::{Settings, SharedSettings, Timeouts, TEMPLATE_RECHECK_SECS};
use super::ConnError;

/// Most dests one table can name over its life (registry size).
pub const MAX_DESTS: u32 = 65_536;

/// A handle on one entry at one generation: goes stale (harmlessly) once the
/// entry expires and its slot is reused.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct ConnRef {
    pub(crate) idx: u32,
    pub(crate) gen: u32,
}

/// Which tuple of the connection a packet matched.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dir {
    /// Client → VIP.
    In,
    /// Real server → client (NAT only).
    Out,
}

/// State of an entry as `ipvsadm -Lnc` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ConnState {
    /// A TCP connection.
    Tcp(TcpState),
    /// A UDP (or other non-TCP) connection: one state, named `UDP`.
    Udp,
    /// A persistence template: `NONE` until one of its connections reaches
    /// ESTABLISHED, then `ASSURED` (as Linux 6.1 shows it, recorded by the oracle).
    Template {
        /// A controlled connection was seen ESTABLISHED.
        assured: bool,
    },
}

impl ConnState {
    /// The state column of `ipvsadm -Lnc`.
    pub fn name(self) -> &'static str {
        match self {
            ConnState::Tcp(s) => s.name(),
            ConnState::Udp => "UDP",
            ConnState::Template { assured: false } => "NONE",
            ConnState::Template { assured: true } => "ASSURED",
        }
    }
}

/// A new connection the scheduler decided on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NewConn {
    /// IP protocol (TCP gets the state machine; anything else is UDP-like).
    pub proto: u8,
    /// Client address and port.
    pub caddr: Ipv4Addr,
    /// Client port.
    pub cport: u16,
    /// VIP and virtual port the client addressed.
    pub vaddr: Ipv4Addr,
    /// Virtual port.
    pub vport: u16,
    /// Real server address and port the packets go to.
    pub raddr: Ipv4Addr,
    /// Real server port (the packet's dport for port-0 / mark services).
    pub rport: u16,
    /// Forwarding method (NAT entries are also reachable by their reply tuple).
    pub fwd: Fwd,
    /// The dest, as registered with [`ConnTable::register_dest`].
    pub dest: DestId,
}

/// What the per-packet lookup found, with everything the forwarder needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The entry.
    pub conn: ConnRef,
    /// Which tuple matched.
    pub dir: Dir,
    /// State after this packet.
    pub state: ConnState,
    /// Forwarding method.
    pub fwd: Fwd,
    /// The dest.
    pub dest: DestId,
    /// Client address.
    pub caddr: Ipv4Addr,
    /// Client port.
    pub cport: u16,
    /// VIP.
    pub vaddr: Ipv4Addr,
    /// Virtual port.
    pub vport: u16,
    /// Real server address.
    pub raddr: Ipv4Addr,
    /// Real server port.
    pub rport: u16,
    /// Passive detection: this packet showed that the connection's opening failed
    /// (the real server reset it in SYN_RECV, or the client sent its SYN again with
    /// no answer seen; rules in `lb/conn/passive.rs`). True for exactly one packet of
    /// a connection at most, across all workers: the worker that got it counts one
    /// failure for the connection's real server.
    pub failed_opening: bool,
}

/// Outcome of [`ConnTable::lookup`]; every variant tells the caller what to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup {
    /// Forward along the entry (its state and timer were updated).
    Hit(Hit),
    /// No live entry: schedule (client → VIP) or hand to the next stage.
    Miss,
    /// A new SYN hit an old entry that IPVS would not reuse (`conn_reuse_mode`,
    /// or `expire_nodest_conn`): the old entry was expired; schedule the packet anew.
    Reschedule,
    /// The entry's dest was deleted and `expire_nodest_conn` is off: drop the
    /// packet silently, the entry times out by itself.
    DestUnavailable,
}

/// Result of trying to expire one slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Expire {
    /// Torn down and freed by us.
    Freed,
    /// Torn down and freed by us, by its timer, and it was a failed opening
    /// (`passive::expiry_failed`) of a connection to this dest.
    FreedFailedOpening(DestId),
    /// A template that still controls connections: re-armed instead.
    Rearmed,
    /// Timer not run out (and not forced).
    NotDue,
    /// Another generation, or someone else is tearing it down.
    NotOurs,
}

/// The shared, bounded, lock-free connection table (see the module doc of
/// `lb::conn` for the design and its memory-ordering argument).
pub struct ConnTable {
    pub(crate) slots: Slots,
    pub(crate) index: Index,
    pub(crate) dests: Dests,
    timeouts: Timeouts,
    pub(crate) settings: SharedSettings,
    /// Next slot the incremental sweep looks at. Range: any u32, taken modulo max_conns.
    sweep_cursor: AtomicU32,
    seed: [u64; 2],
}

fn ip(a: Ipv4Addr) -> u32 {
    u32::from(a)
}

/// Per-table random hash seeds, so clients cannot aim many tuples at one bucket.
#[cfg(not(feature = "loom"))]
fn seeds(max_conns: u32) -> (u64, u64) {
    use std::hash::{BuildHasher, Hasher};
    let rs = std::collections::hash_map::RandomState::new();
    let mut h = rs.build_hasher();
    h.write_u32(max_conns);
    let s0 = h.finish();
    h.write_u64(s0);
    (s0, h.finish())
}

/// Loom replays each model many times and needs every run to take the same
/// path: fixed seeds there (the models pick their keys from the hash anyway).
#[cfg(feature = "loom")]
fn seeds(_max_conns: u32) -> (u64, u64) {
    (0x243F_6A88_85A3_08D3, 0x1319_8A2E_0370_7344)
}

/// 64×64→128 multiply folded to 64 bits (the foldhash/wyhash mixer).
fn fold(a: u64, b: u64) -> u64 {
    let p = (a as u128).wrapping_mul(b as u128);
    (p as u64) ^ ((p >> 64) as u64)
}

impl ConnTable {
    /// A table for at most `max_conns` entries (connections and templates),
    /// all memory allocated now. Errors if `max_conns` is 0 or above 2^30 − 2.
    pub fn new(max_conns: u32) -> Result<Self, ConnError> {
        Self::with_settings(max_conns, Settings::default())
    }

    /// As [`ConnTable::new`] with non-default IPVS settings.
    pub fn with_settings(max_conns: u32, settings: Settings) -> Result<Self, ConnError> {
        Self::build(max_conns, settings, MAX_DESTS)
    }

    /// As [`ConnTable::new`] with room for only `max_dests` registered real servers
    /// (capped at [`MAX_DESTS`]; more are refused as with a full registry). Test
    /// scaffolding: the fuzz drivers build a director per input, and creating and
    /// dropping 65 536 dest slots cost 90 % of each run under cargo-fuzz.
    #[cfg(any(test, feature = "testkit"))]
    pub fn with_max_dests(max_conns: u32, max_dests: u32) -> Result<Self, ConnError> {
        Self::build(max_conns, Settings::default(), max_dests.min(MAX_DESTS))
    }

    fn build(max_conns: u32, settings: Settings, max_dests: u32) -> Result<Self, ConnError> {
        if max_conns == 0 || max_conns > index::MAX_SLOTS {
            return Err(ConnError::BadCapacity(max_conns));
        }
        let (s0, s1) = seeds(max_conns);
        Ok(ConnTable {
            slots: Slots::new(max_conns)?,
            // Each entry has at most 2 cells (NAT in + out).
            index: Index::with_capacity(2 * max_conns as usize)?,
            dests: Dests::new(max_dests),
            timeouts: Timeouts::default(),
            settings: SharedSettings::new(settings),
            sweep_cursor: AtomicU32::new(0),
            seed: [s0 | 1, s1 | 1],
        })
    }

    /// The capacity given at construction.
    pub fn max_conns(&self) -> u32 {
        self.slots.len()
    }

    /// Bytes allocated for entries and index together.
    pub fn memory_bytes(&self) -> usize {
        self.slots.bytes() + self.index.bytes()
    }

    /// `memory_bytes() / max_conns()`: the per-connection cost including index.
    pub fn bytes_per_conn(&self) -> usize {
        self.memory_bytes() / self.max_conns() as usize
    }

    /// Run-time timeouts (`ipvsadm --set`).
    pub fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    /// Current IPVS settings.
    pub fn settings(&self) -> Settings {
        self.settings.get()
    }

    /// Changes the IPVS settings under running workers.
    pub fn set_settings(&self, s: Settings) {
        self.settings.set(s)
    }

    /// Management thread: the id entries use for `dest` (same `Arc` → same id).
    pub fn register_dest(&self, dest: &Arc<Dest>) -> Result<DestId, ConnError> {
        self.dests.register(dest)
    }

    /// Management thread: frees `id` for reuse by a later [`ConnTable::register_dest`].
    /// The caller guarantees that no worker can schedule its dest any more and that no
    /// connection or template counts on it; entries still naming `id` find no dest from
    /// now on (see `lb/conn/dests.rs`). False if `id` is stale or not registered.
    pub fn release_dest(&self, id: DestId) -> bool {
        self.dests.release(id)
    }

    /// The dest behind an id, for the current packet; `None` once the id was released.
    #[inline]
    pub fn dest(&self, id: DestId) -> Option<DestRef> {
        self.dests.get(id)
    }

    pub(crate) fn hash(&self, proto: u8, a: u32, ap: u16, b: u32, bp: u16) -> u64 {
        let x = (((a as u64) << 32) | b as u64) ^ self.seed[0];
        let y = (((ap as u64) << 32) | ((bp as u64) << 16) | proto as u64) ^ self.seed[1];
        fold(fold(x, y), 0x9E37_79B9_7F4A_7C15)
    }

    fn in_hash(&self, k: &SlotKey) -> u64 {
        self.hash(k.proto, k.caddr, k.cport, k.vaddr, k.vport)
    }

    fn out_hash(&self, k: &SlotKey) -> u64 {
        self.hash(k.proto, k.raddr, k.rport, k.caddr, k.cport)
    }

    fn hit(&self, idx: u32, v: &View, dir: Dir) -> Hit {
        let k = &v.key;
        Hit {
            conn: ConnRef {
                idx,
                gen: v.word.gen,
            },
            dir,
            state: self.state_of(k, v.word),
            fwd: match k.kind {
                SlotKind::Nat => Fwd::Nat,
                SlotKind::Tun => Fwd::Tun,
                _ => Fwd::Dr,
            },
            dest: DestId(k.dest),
            caddr: k.caddr.into(),
            cport: k.cport,
            vaddr: k.vaddr.into(),
            vport: k.vport,
            raddr: k.raddr.into(),
            rport: k.rport,
            failed_opening: false,
        }
    }

    pub(crate) fn state_of(&self, k: &SlotKey, w: Word) -> ConnState {
        if k.kind == SlotKind::Template {
            ConnState::Template {
                assured: w.state & 1 != 0,
            }
        } else if k.proto == proto::TCP {
            ConnState::Tcp(TcpState::from_bits(w.state))
        } else {
            ConnState::Udp
        }
    }

    /// The packet path: finds the entry `pkt` belongs to (either direction),
    /// applies IPVS's reuse/nodest rules and the state transition for `flags`
    /// (ignored for non-TCP), and re-arms its timer. Lock-free, allocation-free;
    /// expired entries met on the way are reclaimed.
    pub fn lookup(&self, pkt: &FlowKey, flags: TcpFlags, now: u32) -> Lookup {
        let (sa, da) = (ip(pkt.saddr), ip(pkt.daddr));
        let h = self.hash(pkt.proto, sa, pkt.sport, da, pkt.dport);
        let found = self.index.find(h, |_, c| {
            let (kind, idx) = index::decode(c);
            let dir = match kind {
                Kind::In => Dir::In,
                Kind::Out => Dir::Out,
                Kind::Template => return None,
            };
            let v = self.slots.read(idx)?;
            let k = &v.key;
            let matches = k.proto == pkt.proto
                && match dir {
                    Dir::In => {
                        k.kind != SlotKind::Template
                            && (k.caddr, k.cport, k.vaddr, k.vport)
                                == (sa, pkt.sport, da, pkt.dport)
                    }
                    Dir::Out => {
                        k.kind == SlotKind::Nat
                            && (k.raddr, k.rport, k.caddr, k.cport)
                                == (sa, pkt.sport, da, pkt.dport)
                    }
                };
            if !matches || !v.word.alive() {
                return None;
            }
            if v.word.expired(now) {
                // A failed opening is left to the sweep, which counts it for its worker.
                let tcp = k.proto == proto::TCP;
                self.expire_where(idx, v.word.gen, now, false, |w| {
                    passive::expiry_failed(k.kind, tcp, w.state, w.flags)
                });
                return None;
            }
            Some((idx, v, dir))
        });
        let Some((idx, v, dir)) = found else {
            return Lookup::Miss;
        };
        self.on_packet(idx, v, dir, flags, now)
    }

    fn on_packet(&self, idx: u32, v: View, dir: Dir, flags: TcpFlags, now: u32) -> Lookup {
        let k = v.key;
        let Some(dest) = self.dests.get(DestId(k.dest)) else {
            return Lookup::Miss;
        };
        let tcp = k.proto == proto::TCP;
        if dir == Dir::In {
            let st = self.settings.get();
            if tcp && flags.contains(TcpFlags::SYN) && st.conn_reuse_mode != 0 {
                let state = TcpState::from_bits(v.word.state);
                let closing = matches!(state, TcpState::TimeWait | TcpState::Close)
                    || (st.conn_reuse_mode & 2 != 0
                        && state == TcpState::FinWait
                        && k.kind != SlotKind::Nat);
                // Entries under a persistence template are never "expected" to
                // be reused: the template sends the client to the same server anyway.
                if (st.expire_nodest_conn && dest.weight() == 0) || (k.control == 0 && closing) {
                    self.try_expire(idx, v.word.gen, now, true);
                    return Lookup::Reschedule;
                }
            }
            if !dest.is_available() {
                if st.expire_nodest_conn {
                    self.try_expire(idx, v.word.gen, now, true);
                    return Lookup::Reschedule;
                }
                return Lookup::DestUnavailable;
            }
        }
        let side = match (dir, k.kind) {
            (Dir::Out, _) => Side::Output,
            (Dir::In, SlotKind::Nat) => Side::Input,
            (Dir::In, _) => Side::InputOnly,
        };
        let slot = match self.slots.get(idx) {
            Some(s) => s,
            None => return Lookup::Miss,
        };
        let mut raw = v.raw;
        loop {
            let w = Word::unpack(raw);
            if w.gen != v.word.gen || !w.alive() {
                return Lookup::Miss;
            }
            let (state, timeout, opening) = if tcp {
                let prev = TcpState::from_bits(w.state);
                let s = tcp_next(side, flags, prev);
                // Armed in this tick: `expires` is exactly what re-arming it now gives.
                let same_tick = w.expires == now.saturating_add(self.timeouts.tcp_secs(prev));
                let opening = passive::judge_packet(side, flags, prev, w.flags, same_tick);
                (s as u8, self.timeouts.tcp_secs(s), opening)
            } else {
                (0, self.timeouts.udp_secs(), Opening::Unchanged)
            };
            let active = tcp && state == TcpState::Established as u8;
            let mut flags_new = if active {
                w.flags & !F_INACTIVE
            } else {
                w.flags | F_INACTIVE
            };
            if opening != Opening::Unchanged {
                // In the same CAS as the state: exactly one worker judges the opening.
                flags_new |= F_SETTLED;
            }
            let new = Word {
                expires: now.saturating_add(timeout),
                state,
                flags: flags_new,
                gen: w.gen,
            };
            let new_raw = new.pack();
            if new_raw != raw {
                // AcqRel: orders the counter updates below after the state change
                // others can observe; the CAS on the generation-carrying word is
                // what makes exactly one thread account each transition.
                match slot
                    .word
                    .compare_exchange(raw, new_raw, Ordering::AcqRel, Ordering::Acquire)
                {
                    Ok(_) => {
                        let was_active = w.flags & F_INACTIVE == 0;
                        if was_active && !active {
                            dest.conn_became_inactive();
                        } else if !was_active && active {
                            dest.conn_became_active();
                            if k.control != 0 {
                                // The template may have gone since our CAS (the
                                // connection expired meanwhile): only that
                                // generation of its slot may be marked.
                                self.assure_template(ConnRef {
                                    idx: k.control - 1,
                                    gen: k.timeout_secs,
                                });
                            }
                        }
                    }
                    Err(actual) => {
                        raw = actual;
                        continue;
                    }
                }
            }
            let mut view = v;
            view.word = new;
            let mut hit = self.hit(idx, &view, dir);
            // `Failed` implies a flag change, so this CAS (not another worker's) made it.
            hit.failed_opening = opening == Opening::Failed;
            return Lookup::Hit(hit);
        }
    }

    /// Read-only lookup: the entry `pkt` belongs to, without state change or
    /// timer refresh (for ICMP errors quoting a packet, and for tests).
    pub fn find(&self, pkt: &FlowKey, now: u32) -> Option<Hit> {
        let (sa, da) = (ip(pkt.saddr), ip(pkt.daddr));
        let h = self.hash(pkt.proto, sa, pkt.sport, da, pkt.dport);
        self.index.find(h, |_, c| {
            let (kind, idx) = index::decode(c);
            let v = self.slots.read(idx)?;
            let k = &v.key;
            let dir = match kind {
                Kind::In
                    if k.kind != SlotKind::Template
                        && (k.proto, k.caddr, k.cport, k.vaddr, k.vport)
                            == (pkt.proto, sa, pkt.sport, da, pkt.dport) =>
                {
                    Dir::In
                }
                Kind::Out
                    if (k.proto, k.raddr, k.rport, k.caddr, k.cport)
                        == (pkt.proto, sa, pkt.sport, da, pkt.dport) =>
                {
                    Dir::Out
                }
                _ => return None,
            };
            (v.word.alive() && !v.word.expired(now)).then(|| self.hit(idx, &v, dir))
        })
    }

    /// Creates the entry for a new connection and applies its first packet
    /// (`flags`, client → VIP). With `template`, the connection is controlled by
    /// that persistence template, which is re-armed to its full timeout.
    ///
    /// Errors: [`ConnError::Full`] (table or index full: drop and count; nothing
    /// existing is touched), [`ConnError::Exists`] (another worker created the
    /// same connection a moment ago: look it up again), [`ConnError::TemplateGone`]
    /// (the template expired meanwhile: schedule again), [`ConnError::UnknownDest`].
    pub fn insert(
        &self,
        c: &NewConn,
        flags: TcpFlags,
        template: Option<ConnRef>,
        now: u32,
    ) -> Result<Hit, ConnError> {
        let dest = self.dests.get(c.dest).ok_or(ConnError::UnknownDest)?;
        let idx = self.slots.pop().ok_or(ConnError::Full)?;
        let (control, control_gen) = match template {
            None => (0, 0),
            Some(t) => match self.attach(t) {
                Some(()) => (t.idx + 1, t.gen),
                None => {
                    self.slots.free(idx);
                    return Err(ConnError::TemplateGone);
                }
            },
        };
        let kind = match c.fwd {
            Fwd::Nat => SlotKind::Nat,
            Fwd::Dr => SlotKind::Dr,
            Fwd::Tun => SlotKind::Tun,
        };
        let key = SlotKey {
            proto: c.proto,
            caddr: ip(c.caddr),
            cport: c.cport,
            vaddr: ip(c.vaddr),
            vport: c.vport,
            raddr: ip(c.raddr),
            rport: c.rport,
            kind,
            dest: c.dest.0,
            control,
            timeout_secs: control_gen,
        };
        let (state, timeout) = if c.proto == proto::TCP {
            let side = if kind == SlotKind::Nat {
                Side::Input
            } else {
                Side::InputOnly
            };
            let s = tcp_next(side, flags, TcpState::None);
            (s as u8, self.timeouts.tcp_secs(s))
        } else {
            (0, self.timeouts.udp_secs())
        };
        let active = c.proto == proto::TCP && state == TcpState::Established as u8;
        // Count before publishing, so no other worker's transition can run ahead of the bind.
        dest.bind_conn();
        if active {
            dest.conn_became_active();
        }
        let word = Word {
            expires: now.saturating_add(timeout),
            state,
            flags: F_LIVE | F_PENDING | if active { 0 } else { F_INACTIVE },
            gen: self.slots.current_gen(idx),
        };
        self.slots.publish(idx, &key, word);
        // Reply tuple first: once any worker can find the entry by its client
        // tuple, the reply tuple must already lead to it too.
        if kind == SlotKind::Nat {
            let h_out = self.out_hash(&key);
            if self
                .index
                .insert(h_out, index::cell(h_out, Kind::Out, idx))
                .is_none()
            {
                self.kill_own(idx, word);
                return Err(ConnError::Full);
            }
        }
        let h_in = self.in_hash(&key);
        self.link_unique(idx, word, &key, Kind::In, h_in, now)?;
        if let Some(t) = template {
            self.rearm_template(t, now);
            if active {
                self.assure_template(t);
            }
        }
        let view = View {
            word,
            raw: word.pack(),
            key,
        };
        Ok(self.hit(idx, &view, Dir::In))
    }

    /// Puts the unique-keyed cell (In or Template) of a just-published slot in
    /// the index and resolves a race with concurrent inserts of the same key
    /// (`key`, published at `word`, still `F_PENDING`). Each inserter stores its
    /// cell (SeqCst), then scans the key's whole probe path (SeqCst), so of two
    /// racers at least one sees the other. What a scan finds decides:
    /// * a committed rival wins: we back out with [`ConnError::Exists`];
    /// * a pending rival in a lower slot wins: we back out;
    /// * a pending rival in a higher slot loses: we evict it (CAS on its word
    ///   expecting it still pending), or, if it committed first, we back out.
    ///
    /// Then we commit (CAS clearing `F_PENDING`), which fails if a racer evicted
    /// us first. So never two live entries for one key in the index, and of
    /// racers the lowest slot (or an earlier committed entry) always survives:
    /// no livelock. A racer never evicts an entry whose insert returned Ok.
    /// (Scanning only the cells before one's own was not enough: a delete can
    /// free an earlier cell for the second racer, which then sees nothing.)
    pub(crate) fn link_unique(
        &self,
        idx: u32,
        word: Word,
        key: &SlotKey,
        kind: Kind,
        h: u64,
        now: u32,
    ) -> Result<(), ConnError> {
        let my_cell = index::cell(h, kind, idx);
        if self.index.insert(h, my_cell).is_none() {
            self.kill_own(idx, word);
            return Err(ConnError::Full);
        }
        dekker_fence();
        let same_key = |k: &SlotKey| {
            (k.proto, k.caddr, k.cport, k.vaddr, k.vport)
                == (key.proto, key.caddr, key.cport, key.vaddr, key.vport)
        };
        let lost_to = self.index.find(h, |_, c| {
            let (k, j) = index::decode(c);
            if c == my_cell || k != kind {
                return None;
            }
            let v = self.slots.read(j)?;
            if !v.word.alive() || v.word.expired(now) || !same_key(&v.key) {
                return None;
            }
            let rival = ConnRef {
                idx: j,
                gen: v.word.gen,
            };
            if v.word.flags & F_PENDING == 0 || j < idx || !self.evict_pending(j, v.word.gen, now) {
                return Some(rival);
            }
            None
        });
        if let Some(w) = lost_to {
            self.evict_pending(idx, word.gen, now);
            return Err(ConnError::Exists(w));
        }
        // Commit: clears F_PENDING unless a racer evicted us meanwhile.
        let Some(slot) = self.slots.get(idx) else {
            return Err(ConnError::Full);
        };
        let mut raw = slot.word.load(Ordering::SeqCst);
        loop {
            let w = Word::unpack(raw);
            if w.gen != word.gen || !w.alive() || w.flags & F_UNLINKED != 0 {
                // Evicted by a racer in a lower slot: that entry is the key's.
                // Otherwise it was expired (a sweep, a flush) or invalidated
                // right after it was made, as it could have been a moment after
                // the commit: the insert itself succeeded.
                let winner = self.index.find(h, |_, c| {
                    let (k, j) = index::decode(c);
                    let v = self.slots.read(j)?;
                    (k == kind && j != idx && v.word.alive() && same_key(&v.key)).then_some(
                        ConnRef {
                            idx: j,
                            gen: v.word.gen,
                        },
                    )
                });
                return match winner {
                    Some(r) => Err(ConnError::Exists(r)),
                    None => Ok(()),
                };
            }
            let done = Word {
                flags: w.flags & !F_PENDING,
                ..w
            };
            match slot
                .word
                .compare_exchange(raw, done.pack(), Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => return Ok(()),
                Err(a) => raw = a,
            }
        }
    }

    /// Evicts an entry whose insert has not committed yet (its own inserter
    /// backing out, or a racer in a lower slot): claims its teardown with a CAS
    /// that expects `F_PENDING`. A template is also taken out of the index, so
    /// it cannot stay findable if a stale attach makes the teardown re-arm it.
    /// False if it committed first (then it is the key's entry); true if it is
    /// gone or going.
    fn evict_pending(&self, idx: u32, gen: u32, now: u32) -> bool {
        let Some(slot) = self.slots.get(idx) else {
            return true;
        };
        let mut raw = slot.word.load(Ordering::SeqCst);
        let w = loop {
            let w = Word::unpack(raw);
            if w.gen != gen || !w.alive() {
                return true;
            }
            if w.flags & F_PENDING == 0 {
                return false;
            }
            let dead = Word {
                flags: w.flags | F_DEAD,
                ..w
            };
            match slot
                .word
                .compare_exchange(raw, dead.pack(), Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break w,
                Err(a) => raw = a,
            }
        };
        self.teardown(idx, w, now, true, false);
        true
    }

    /// Tears down an entry this thread just published and nobody can have
    /// changed into another generation (it may have changed state).
    fn kill_own(&self, idx: u32, word: Word) {
        // If another thread expired it first, that thread freed it.
        let _ = self.try_expire(idx, word.gen, 0, true);
    }

    /// Template side of a controlled insert: counts the new connection on the
    /// template, then checks the template is still that generation and alive.
    /// Dekker pair with `try_expire` (count-then-check here, mark-then-check
    /// there, all SeqCst): the template can never be freed under a connection.
    fn attach(&self, t: ConnRef) -> Option<()> {
        let ts = self.slots.get(t.idx)?;
        ts.n_control.fetch_add(1, Ordering::SeqCst);
        dekker_fence();
        let w = Word::unpack(ts.word.load(Ordering::SeqCst));
        if w.gen == t.gen && w.alive() {
            Some(())
        } else {
            ts.n_control.fetch_sub(1, Ordering::SeqCst);
            None
        }
    }

    /// Expires one entry: at once with `force`, else only if its timer ran out
    /// at `now`. Exactly one thread wins the F_DEAD CAS and does the teardown
    /// (unlink, dest counters, template count, free). A template that still
    /// controls connections is never freed; it is re-armed for 60 s instead.
    pub(crate) fn try_expire(&self, idx: u32, gen: u32, now: u32, force: bool) -> Expire {
        self.expire_where(idx, gen, now, force, |_| false)
    }

    /// As [`ConnTable::try_expire`], but a due entry whose word satisfies `keep` (read
    /// in the CAS loop, so on the very word the CAS would replace) is left alone
    /// ([`Expire::NotDue`]).
    fn expire_where(
        &self,
        idx: u32,
        gen: u32,
        now: u32,
        force: bool,
        keep: impl Fn(Word) -> bool,
    ) -> Expire {
        let Some(slot) = self.slots.get(idx) else {
            return Expire::NotOurs;
        };
        let mut raw = slot.word.load(Ordering::SeqCst);
        let w = loop {
            let w = Word::unpack(raw);
            if w.gen != gen || !w.alive() {
                return Expire::NotOurs;
            }
            if !force && (!w.expired(now) || keep(w)) {
                return Expire::NotDue;
            }
            let dead = Word {
                flags: w.flags | F_DEAD,
                ..w
            };
            match slot
                .word
                .compare_exchange(raw, dead.pack(), Ordering::SeqCst, Ordering::SeqCst)
            {
                Ok(_) => break w,
                Err(a) => raw = a,
            }
        };
        self.teardown(idx, w, now, false, !force)
    }

    /// The teardown of an entry whose `F_DEAD` CAS this thread won (`w`: its
    /// word before). A template that still controls connections is re-armed
    /// instead of freed (taken out of the index first with `unlink`). With
    /// `by_timer` (the entry expired, nobody forced it), a failed opening is
    /// reported as [`Expire::FreedFailedOpening`].
    fn teardown(&self, idx: u32, w: Word, now: u32, unlink: bool, by_timer: bool) -> Expire {
        let Some(slot) = self.slots.get(idx) else {
            return Expire::NotOurs;
        };
        dekker_fence();
        // We own the slot's teardown now; its key fields cannot change.
        let Some(v) = self.slots.read(idx) else {
            return Expire::NotOurs;
        };
        let k = v.key;
        if k.kind == SlotKind::Template && slot.n_control.load(Ordering::SeqCst) > 0 {
            let mut back = Word {
                expires: now.max(w.expires).saturating_add(TEMPLATE_RECHECK_SECS),
                ..w
            };
            if unlink && w.flags & F_UNLINKED == 0 {
                let h = self.template_hash(&k);
                self.index.remove(h, index::cell(h, Kind::Template, idx));
                back.flags |= F_UNLINKED;
            }
            store_word(&slot.word, back.pack(), Ordering::SeqCst);
            return Expire::Rearmed;
        }
        let dest = self.dests.get(DestId(k.dest));
        if k.kind == SlotKind::Template {
            if w.flags & F_UNLINKED == 0 {
                let h = self.template_hash(&k);
                self.index.remove(h, index::cell(h, Kind::Template, idx));
            }
            if let Some(d) = dest {
                d.unbind_template();
            }
        } else {
            let h_in = self.in_hash(&k);
            self.index.remove(h_in, index::cell(h_in, Kind::In, idx));
            if k.kind == SlotKind::Nat {
                let h_out = self.out_hash(&k);
                self.index.remove(h_out, index::cell(h_out, Kind::Out, idx));
            }
            if let Some(d) = dest {
                d.unbind_conn(w.flags & F_INACTIVE == 0);
            }
            if k.control != 0 {
                if let Some(t) = self.slots.get(k.control - 1) {
                    t.n_control.fetch_sub(1, Ordering::SeqCst);
                }
            }
        }
        self.slots.free(idx);
        let tcp = k.proto == proto::TCP;
        if by_timer && passive::expiry_failed(k.kind, tcp, w.state, w.flags) {
            return Expire::FreedFailedOpening(DestId(k.dest));
        }
        Expire::Freed
    }

    /// Expires an entry at once (management: flush, `expire_nodest_conn` sweeps).
    /// False if it was already gone, or is a template still controlling entries.
    pub fn expire_now(&self, conn: ConnRef) -> bool {
        self.try_expire(conn.idx, conn.gen, 0, true) == Expire::Freed
    }

    /// Incremental expiry: looks at the next `budget` slots (round robin over the
    /// whole table, shared by all callers) and expires those whose timer ran out.
    /// Returns how many entries were freed. Failed openings that expire are not
    /// reported: workers call [`ConnTable::sweep_counting`].
    pub fn sweep(&self, now: u32, budget: u32) -> u32 {
        self.sweep_counting(now, budget, |_| {})
    }

    /// [`ConnTable::sweep`], calling `failed_opening(dest)` once for each expired
    /// entry that was a failed opening of a connection to `dest` (NAT, SYN_RECV,
    /// nothing ever came back from the real server; `lb/conn/passive.rs`). Each
    /// worker calls it once per loop and counts those in its own block of the
    /// dest's stats. Lookups leave such entries to the sweep, so none is lost.
    pub fn sweep_counting(
        &self,
        now: u32,
        budget: u32,
        mut failed_opening: impl FnMut(DestId),
    ) -> u32 {
        let n = self.slots.len();
        let budget = budget.min(n);
        // Relaxed: the cursor only spreads work; any interleaving is correct.
        let start = self.sweep_cursor.fetch_add(budget, Ordering::Relaxed) % n;
        let mut freed = 0;
        for i in 0..budget {
            let idx = (start + i) % n;
            let Some(slot) = self.slots.get(idx) else {
                continue;
            };
            let w = Word::unpack(slot.word.load(Ordering::Acquire));
            if !w.alive() || !w.expired(now) {
                continue;
            }
            match self.try_expire(idx, w.gen, now, false) {
                Expire::Freed => freed += 1,
                Expire::FreedFailedOpening(d) => {
                    failed_opening(d);
                    freed += 1;
                }
                Expire::Rearmed | Expire::NotDue | Expire::NotOurs => {}
            }
        }
        freed
    }

    /// Number of live entries (connections and templates). O(max_conns):
    /// management and tests only.
    pub fn count(&self) -> usize {
        (0..self.slots.len())
            .filter(|&i| {
                self.slots
                    .get(i)
                    .is_some_and(|s| Word::unpack(s.word.load(Ordering::Acquire)).alive())
            })
            .count()
    }
}

#[cfg(test)]
#[path = "table_tests.rs"]
mod tests;
