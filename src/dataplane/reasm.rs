//! A worker's IPv4 reassembly table (Linux's `ip_defrag` / `inet_frag` queues, as IPVS
//! relies on them): the fragments of a TCP/UDP datagram are held, in their own
//! buffers, until every byte of the datagram is there; the complete datagram is then
//! handed back as its fragments in offset order, so the LB path schedules it once (on
//! the first fragment's ports) and sends every fragment along the same connection.
//! Nothing is copied: the fragments stay the buffers they arrived in.
//!
//! Per worker, no lock: RSS puts every fragment of a datagram on one queue, because
//! NICs hash fragments on the address pair only (a later fragment has no ports, so
//! the Toeplitz 4-tuple hash cannot apply to any fragment, first included).
//!
//! Bounds, fixed when the worker is built (nothing is allocated per packet):
//! - memory: every held fragment costs `truesize` bytes (its buffer, like an skb's
//!   truesize). A full table refuses NEW datagrams and keeps the ones in progress, as
//!   Linux since 4.17 (`inet_frag_find` returns nothing over `ipfrag_high_thresh`): a
//!   new datagram is refused once `low_thresh` bytes are held or all [`MAX_QUEUES`]
//!   datagrams are in progress, and a datagram in progress may grow up to
//!   `high_thresh` (the headroom lets the datagrams already there complete). Nothing
//!   is evicted to make room for another source: one source's flood cannot take the
//!   others' datagrams;
//! - per source, a bound that bites before the table's: a source holding
//!   `source_thresh` bytes or [`SOURCE_QUEUES`] datagrams loses its own oldest datagram
//!   to make room for its next one;
//! - [`MAX_FRAGS`] fragments per datagram;
//! - time: a datagram not complete `time_secs` after its first fragment arrived is
//!   dropped (Linux's `ipfrag_time`, 30 s).
//!
//! Hostile fragments (Linux's policy since 4.19, RFC 5722 in spirit): a fragment that
//! overlaps a held one, or disagrees with the known end of the datagram, kills the whole
//! datagram (`drop_frag_overlap`); an exact duplicate (same offset and length) is
//! dropped alone and the datagram goes on (`drop_frag_dup`, Linux's `IPFRAG_DUP`); a
//! first fragment that does not hold the whole TCP/UDP header kills the datagram
//! (`drop_frag_tiny`, RFC 1858); a datagram longer than 65535 bytes is dropped
//! (`drop_frag_too_big`); a non-last fragment whose length is not a multiple of 8, or an
//! empty one, is malformed and kills the datagram (`drop_malformed`). A killed datagram
//! leaves a tombstone (its key, [`MAX_TOMBS`] of them, the oldest replaced) for
//! `time_secs`: its later fragments are dropped at once under the same counter instead
//! of being held until they time out.
//!
//! Every fragment taken in is counted exactly once in the end: sent on as part of a
//! datagram (`frag_reasm_ok` counts the datagrams) or under one drop counter.

use super::counters::Counter;
use crate::lb::flow::proto;
use crate::wire::ipv4::Ipv4Packet;
use crate::wire::{Ipv4At, PacketBuf};
use std::net::Ipv4Addr;

/// Datagrams one worker reassembles at a time (a linear scan finds a fragment's
/// datagram: fragments are rare next to whole packets, and 256 compares stay cheap).
pub const MAX_QUEUES: usize = 256;
/// Fragments of one datagram (a 65535-byte datagram at a 1500-byte MTU has 45): more
/// kills the datagram, counted `drop_frag_mem` (a fragment is its buffer, whatever its
/// length, so tiny fragments are the costliest).
pub const MAX_FRAGS: usize = 64;
/// Datagrams one source address may have in progress (a quarter of [`MAX_QUEUES`]):
/// over it, the source's own oldest datagram goes, so a single source never fills the
/// table.
pub const SOURCE_QUEUES: usize = MAX_QUEUES / 4;
/// Killed datagrams remembered at once (see the module doc: tombstones).
pub const MAX_TOMBS: usize = MAX_QUEUES;
/// Largest IPv4 datagram (RFC 791: a 16-bit total length).
const MAX_DATAGRAM: u32 = 65535;

/// The reassembly bounds (config `[fragments]`, Linux's names).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReasmParams {
    /// Held bytes up to which datagrams in progress may grow (`ipfrag_high_thresh`).
    pub high_thresh: u64,
    /// Held bytes from which new datagrams are refused (`ipfrag_low_thresh`).
    pub low_thresh: u64,
    /// Held bytes one source address may use before its own oldest datagrams go.
    pub source_thresh: u64,
    /// Seconds a datagram may take to complete (`ipfrag_time`).
    pub time_secs: u32,
    /// Bytes one held fragment costs (its buffer: the mbuf's data room).
    pub truesize: u64,
}

impl Default for ReasmParams {
    /// Linux's defaults (4 MiB high, 3 MiB low, 30 s), a 1 MiB share per source, and
    /// DPDK's default mbuf buffer (2176 bytes) per fragment.
    fn default() -> Self {
        ReasmParams {
            high_thresh: 4 << 20,
            low_thresh: 3 << 20,
            source_thresh: 1 << 20,
            time_secs: 30,
            truesize: 2048 + 128,
        }
    }
}

impl ReasmParams {
    /// Fragment buffers the table can hold at most (`high_thresh / truesize`, at most
    /// `MAX_QUEUES * MAX_FRAGS`): the slots allocated at start.
    pub fn slots(&self) -> usize {
        let n = self.high_thresh / self.truesize.max(1);
        (n as usize).min(MAX_QUEUES * MAX_FRAGS)
    }
}

/// A datagram's identity (RFC 791: source, destination, protocol, identification).
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
struct Key {
    src: Ipv4Addr,
    dst: Ipv4Addr,
    ident: u16,
    proto: u8,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            used: false,
            key: Key {
                src: Ipv4Addr::UNSPECIFIED,
                dst: Ipv4Addr::UNSPECIFIED,
                ident: 0,
                proto: 0,
            },
            since: 0,
            len: 0,
            last_in: false,
            meat: 0,
            n: 0,
            order: [0; MAX_FRAGS],
        }
    }
}

/// One datagram in progress.
struct Queue {
    used: bool,
    key: Key,
    /// When its first fragment arrived (seconds).
    since: u32,
    /// The datagram's payload length as far as known (largest fragment end seen; final
    /// once the last fragment, MF clear, arrived).
    len: u32,
    /// The last fragment arrived.
    last_in: bool,
    /// Payload bytes held (no overlaps, so complete when `meat == len && last_in`).
    meat: u32,
    /// Fragments held, their slots in `order[..n]`, sorted by offset.
    n: usize,
    order: [u16; MAX_FRAGS],
}

/// One held fragment.
struct Slot<P> {
    pkt: P,
    hdr: Ipv4At,
    off: u32,
    end: u32,
}

/// A datagram killed as hostile: its later fragments are dropped at once.
#[derive(Clone, Copy)]
struct Tomb {
    key: Key,
    /// When it was killed (seconds); it lives `time_secs`.
    since: u32,
    /// The counter that killed it, which its later fragments go under.
    why: Counter,
}

/// The counters the table moved since the worker last drained them.
const EVENTS: [Counter; 8] = [
    Counter::FragReasmReqds,
    Counter::FragReasmOk,
    Counter::DropFragTimeout,
    Counter::DropFragOverlap,
    Counter::DropFragDup,
    Counter::DropFragMem,
    Counter::DropFragTiny,
    Counter::DropFragTooBig,
];

/// A worker's reassembly table (see the module doc).
pub struct Reasm<P> {
    params: ReasmParams,
    queues: Vec<Queue>,
    slots: Vec<Option<Slot<P>>>,
    free: Vec<u16>,
    /// Held bytes (fragments × truesize).
    mem: u64,
    /// Datagrams in progress.
    active: usize,
    /// Killed datagrams (see [`Tomb`]).
    tombs: Vec<Option<Tomb>>,
    /// The second the last timeout scan ran.
    scanned: u32,
    /// Pending counts, `EVENTS` order, plus `drop_malformed` last.
    pending: [u64; EVENTS.len() + 1],
}

/// What one fragment parses to.
struct Piece {
    key: Key,
    off: u32,
    end: u32,
    more: bool,
    hlen: u32,
    /// For an offset-0 fragment: true when it holds the whole TCP/UDP header.
    l4_whole: bool,
}

fn piece(frame: &[u8], hdr: Ipv4At) -> Option<Piece> {
    let ip: Ipv4Packet<&[u8]> = hdr.view(frame).ok()?;
    let off = u32::from(ip.frag_offset_bytes());
    let hlen = ip.header_len() as u32;
    let plen = u32::from(ip.total_len()).saturating_sub(hlen);
    let p = ip.payload();
    let l4_whole = match u8::from(ip.protocol()) {
        proto::UDP => p.len() >= 8,
        // The data offset's whole header, options included (RFC 1858: the first
        // fragment must carry the flags a filter looks at).
        proto::TCP => p.len() >= 20 && p.len() >= usize::from(p[12] >> 4) * 4,
        _ => false,
    };
    Some(Piece {
        key: Key {
            src: ip.src_addr(),
            dst: ip.dst_addr(),
            ident: ip.ident(),
            proto: u8::from(ip.protocol()),
        },
        off,
        end: off + plen,
        more: ip.more_frags(),
        hlen,
        l4_whole,
    })
}

impl<P: PacketBuf> Reasm<P> {
    /// An empty table with its slots allocated (see [`ReasmParams::slots`]).
    pub fn new(params: ReasmParams) -> Self {
        let n = params.slots();
        Reasm {
            params,
            queues: (0..MAX_QUEUES).map(|_| Queue::default()).collect(),
            slots: (0..n).map(|_| None).collect(),
            free: (0..n as u16).rev().collect(),
            mem: 0,
            active: 0,
            tombs: vec![None; MAX_TOMBS],
            scanned: 0,
            pending: [0; EVENTS.len() + 1],
        }
    }

    /// Bytes held now (fragments × truesize).
    pub fn mem(&self) -> u64 {
        self.mem
    }

    /// Datagrams in progress.
    pub fn active(&self) -> usize {
        self.active
    }

    /// Hands the counts moved since the last call to `f` (counter, amount) and clears
    /// them.
    pub fn drain_counts(&mut self, mut f: impl FnMut(Counter, u64)) {
        for (i, n) in self.pending.iter_mut().enumerate() {
            if *n != 0 {
                f(EVENTS.get(i).copied().unwrap_or(Counter::DropMalformed), *n);
                *n = 0;
            }
        }
    }

    fn count(&mut self, c: Counter, n: u64) {
        let i = EVENTS.iter().position(|e| *e == c).unwrap_or(EVENTS.len());
        self.pending[i] += n;
    }

    /// Takes in one fragment (`hdr`: its validated IPv4 header). Returns true when it
    /// completed its datagram: then `out` (emptied first; give it capacity
    /// [`MAX_FRAGS`] so this never allocates) holds the datagram's fragments in offset
    /// order, the first one (offset 0, with the ports) at index 0. Otherwise the
    /// fragment is held or dropped (and counted).
    pub fn insert(&mut self, pkt: P, hdr: Ipv4At, now: u32, out: &mut Vec<(P, Ipv4At)>) -> bool {
        out.clear();
        self.expire(now);
        let Some(pc) = piece(pkt.data(), hdr) else {
            self.count(Counter::DropMalformed, 1);
            return false;
        };
        self.count(Counter::FragReasmReqds, 1);
        let q = self.queues.iter().position(|q| q.used && q.key == pc.key);
        if q.is_none() {
            if let Some(why) = self.tomb(pc.key, now) {
                self.count(why, 1);
                return false;
            }
        }
        // RFC 791: 65535 bytes at most, header included (Linux: `ip_frag_queue`).
        if pc.end + pc.hlen > MAX_DATAGRAM {
            return self.refuse(q, Counter::DropFragTooBig, Some((pc.key, now)));
        }
        if pc.end == pc.off || (pc.more && (pc.end - pc.off) % 8 != 0) {
            return self.refuse(q, Counter::DropMalformed, Some((pc.key, now)));
        }
        if pc.off == 0 && !pc.l4_whole {
            return self.refuse(q, Counter::DropFragTiny, Some((pc.key, now)));
        }
        let qi = match q {
            Some(i) => i,
            None => match self.new_queue(pc.key, now) {
                Some(i) => i,
                None => return self.refuse(None, Counter::DropFragMem, None),
            },
        };
        // Consistency with what the datagram already says about its end (Linux
        // `ip_frag_queue`: a last fragment short of data already seen, a second last
        // fragment elsewhere, data past the last one).
        let qu = &self.queues[qi];
        let bad_end = if pc.more {
            qu.last_in && pc.end > qu.len
        } else {
            pc.end < qu.len || (qu.last_in && pc.end != qu.len)
        };
        if bad_end {
            return self.refuse(Some(qi), Counter::DropFragOverlap, Some((pc.key, now)));
        }
        // Where it goes in offset order, or why it cannot.
        let mut pos = Ok(qu.n);
        for (k, &s) in qu.order[..qu.n].iter().enumerate() {
            let Some(h) = self.slots[usize::from(s)].as_ref() else {
                continue;
            };
            if h.off == pc.off && h.end == pc.end {
                pos = Err(Counter::DropFragDup);
                break;
            }
            if pc.off < h.end && h.off < pc.end {
                pos = Err(Counter::DropFragOverlap);
                break;
            }
            if pos == Ok(qu.n) && pc.off < h.off {
                pos = Ok(k);
            }
        }
        let pos = match pos {
            Ok(p) => p,
            Err(Counter::DropFragDup) => {
                self.count(Counter::DropFragDup, 1);
                return false;
            }
            Err(c) => return self.refuse(Some(qi), c, Some((pc.key, now))),
        };
        if self.queues[qi].n == MAX_FRAGS {
            return self.refuse(Some(qi), Counter::DropFragMem, None);
        }
        if !self.make_room(qi, pc.key.src) {
            return self.refuse(Some(qi), Counter::DropFragMem, None);
        }
        let Some(s) = self.free.pop() else {
            return self.refuse(Some(qi), Counter::DropFragMem, None);
        };
        self.slots[usize::from(s)] = Some(Slot {
            pkt,
            hdr,
            off: pc.off,
            end: pc.end,
        });
        self.mem += self.params.truesize;
        let qu = &mut self.queues[qi];
        qu.order.copy_within(pos..qu.n, pos + 1);
        qu.order[pos] = s;
        qu.n += 1;
        qu.meat += pc.end - pc.off;
        qu.len = qu.len.max(pc.end);
        qu.last_in |= !pc.more;
        if !(qu.last_in && qu.meat == qu.len) {
            return false;
        }
        let n = qu.n;
        let order = qu.order;
        for &s in &order[..n] {
            if let Some(h) = self.slots[usize::from(s)].take() {
                out.push((h.pkt, h.hdr));
            }
            self.free.push(s);
        }
        self.mem -= self.params.truesize * n as u64;
        self.queues[qi].used = false;
        self.active -= 1;
        self.count(Counter::FragReasmOk, 1);
        true
    }

    /// Drops the incoming fragment and, when `q` is a datagram in progress, all of it,
    /// counting them under `c`; `tomb` (the datagram's key, now) leaves a tombstone so
    /// its later fragments go at once too. Returns false (nothing completed).
    fn refuse(&mut self, q: Option<usize>, c: Counter, tomb: Option<(Key, u32)>) -> bool {
        self.count(c, 1);
        if let Some(i) = q {
            self.kill(i, c);
        }
        if let Some((key, since)) = tomb {
            self.bury(Tomb { key, since, why: c });
        }
        false
    }

    /// Whether `t` still lives at `now`.
    fn alive(&self, t: &Tomb, now: u32) -> bool {
        now.wrapping_sub(t.since) < self.params.time_secs
    }

    /// The counter a killed datagram `key` died under, while its tombstone lives.
    fn tomb(&self, key: Key, now: u32) -> Option<Counter> {
        self.tombs
            .iter()
            .flatten()
            .find(|t| t.key == key && self.alive(t, now))
            .map(|t| t.why)
    }

    /// Remembers a killed datagram, in a dead tombstone's place or the oldest one's.
    fn bury(&mut self, t: Tomb) {
        let now = t.since;
        let at = self
            .tombs
            .iter()
            .position(|o| o.as_ref().is_none_or(|o| !self.alive(o, now)))
            .or_else(|| {
                (0..self.tombs.len()).max_by_key(|&i| {
                    self.tombs[i]
                        .as_ref()
                        .map_or(u32::MAX, |o| now.wrapping_sub(o.since))
                })
            });
        if let Some(i) = at {
            self.tombs[i] = Some(t);
        }
    }

    /// Drops datagram `i` and its fragments, counting them under `c`.
    fn kill(&mut self, i: usize, c: Counter) {
        let qu = &mut self.queues[i];
        if !qu.used {
            return;
        }
        qu.used = false;
        let n = qu.n;
        let order = qu.order;
        for &s in &order[..n] {
            self.slots[usize::from(s)] = None;
            self.free.push(s);
        }
        self.mem -= self.params.truesize * n as u64;
        self.active -= 1;
        self.count(c, n as u64);
    }

    /// A free queue for a new datagram `key`, or none when the table is full (Linux
    /// since 4.17: a new queue is refused, the ones in progress kept). The source's own
    /// oldest datagrams go first when it is at its share ([`SOURCE_QUEUES`] datagrams
    /// or `source_thresh` bytes), so its bound bites before the table's.
    fn new_queue(&mut self, key: Key, now: u32) -> Option<usize> {
        let t = self.params.truesize;
        loop {
            let (queues, mem) = self.source_use(key.src);
            if queues < SOURCE_QUEUES && mem + t <= self.params.source_thresh {
                break;
            }
            let old = self.oldest(|q| q.key.src == key.src, usize::MAX)?;
            self.kill(old, Counter::DropFragMem);
        }
        if self.mem + t > self.params.low_thresh.min(self.params.high_thresh)
            || self.free.is_empty()
        {
            return None;
        }
        let i = self.queues.iter().position(|q| !q.used)?;
        self.queues[i] = Queue {
            used: true,
            key,
            since: now,
            ..Queue::default()
        };
        self.active += 1;
        Some(i)
    }

    /// The oldest datagram in progress (other than `except`) that `f` accepts.
    fn oldest(&self, f: impl Fn(&Queue) -> bool, except: usize) -> Option<usize> {
        self.queues
            .iter()
            .enumerate()
            .filter(|(i, q)| q.used && *i != except && f(q))
            .min_by_key(|(_, q)| q.since)
            .map(|(i, _)| i)
    }

    /// Datagrams `src` has in progress and the bytes they hold.
    fn source_use(&self, src: Ipv4Addr) -> (usize, u64) {
        let (mut queues, mut frags) = (0, 0);
        for q in self.queues.iter().filter(|q| q.used && q.key.src == src) {
            queues += 1;
            frags += q.n;
        }
        (queues, frags as u64 * self.params.truesize)
    }

    /// Bytes `src`'s datagrams hold.
    #[cfg(test)]
    fn source_mem(&self, src: Ipv4Addr) -> u64 {
        self.source_use(src).1
    }

    /// Room for one more fragment of datagram `qi` from `src`: the source's own other
    /// datagrams go (oldest first) when it is over its share; nothing of another source
    /// is ever evicted. False when the table holds `high_thresh` bytes or no free slot.
    fn make_room(&mut self, qi: usize, src: Ipv4Addr) -> bool {
        let t = self.params.truesize;
        while self.source_use(src).1 + t > self.params.source_thresh {
            match self.oldest(|q| q.key.src == src, qi) {
                Some(o) => self.kill(o, Counter::DropFragMem),
                None => return false,
            }
        }
        self.mem + t <= self.params.high_thresh && !self.free.is_empty()
    }

    /// Drops the datagrams older than `time_secs` (`drop_frag_timeout`); scans at most
    /// once a second, and not at all with nothing held.
    pub fn expire(&mut self, now: u32) {
        if self.active == 0 || now == self.scanned {
            return;
        }
        self.scanned = now;
        for i in 0..self.queues.len() {
            let q = &self.queues[i];
            if q.used && now.wrapping_sub(q.since) >= self.params.time_secs {
                self.kill(i, Counter::DropFragTimeout);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::wire::HeadroomBuf;
    use std::collections::HashMap;

    const TRUE: u64 = 2048;

    fn params() -> ReasmParams {
        ReasmParams {
            high_thresh: 64 * TRUE,
            low_thresh: 48 * TRUE,
            source_thresh: 32 * TRUE,
            time_secs: 30,
            truesize: TRUE,
        }
    }

    /// A UDP fragment from `src`, ident `id`, at byte offset `off` with `len` bytes of
    /// payload (byte i of the datagram payload is `i as u8`), MF as `more`.
    fn frag(src: u8, id: u16, off: u16, len: u16, more: bool) -> (HeadroomBuf, Ipv4At) {
        let mut f = vec![0u8; 14 + 20 + usize::from(len)];
        f[12] = 0x08;
        let ip = &mut f[14..34];
        ip[0] = 0x45;
        ip[2..4].copy_from_slice(&(20 + len).to_be_bytes());
        ip[4..6].copy_from_slice(&id.to_be_bytes());
        let fo = (off / 8) | if more { 0x2000 } else { 0 };
        ip[6..8].copy_from_slice(&fo.to_be_bytes());
        ip[8] = 64;
        ip[9] = proto::UDP;
        ip[12..16].copy_from_slice(&[203, 0, 113, src]);
        ip[16..20].copy_from_slice(&[192, 0, 2, 10]);
        Ipv4Packet::new_unchecked(&mut f[14..34]).fill_checksum();
        for i in 0..usize::from(len) {
            f[34 + i] = (usize::from(off) + i) as u8;
        }
        let at = Ipv4At::check(&f, 14).expect("valid header");
        (HeadroomBuf::new(&f), at)
    }

    fn counts(r: &mut Reasm<HeadroomBuf>) -> HashMap<&'static str, u64> {
        let mut m = HashMap::new();
        r.drain_counts(|c, n| *m.entry(c.name()).or_default() += n);
        m
    }

    fn put(
        r: &mut Reasm<HeadroomBuf>,
        f: (HeadroomBuf, Ipv4At),
        now: u32,
    ) -> Vec<(HeadroomBuf, Ipv4At)> {
        let mut out = Vec::with_capacity(MAX_FRAGS);
        r.insert(f.0, f.1, now, &mut out);
        out
    }

    fn offsets(out: &[(HeadroomBuf, Ipv4At)]) -> Vec<u16> {
        out.iter()
            .map(|(b, at)| at.view(b.data()).unwrap().frag_offset_bytes())
            .collect()
    }

    #[test]
    fn in_order_and_out_of_order_datagrams_complete_in_offset_order() {
        let mut r = Reasm::new(params());
        assert!(put(&mut r, frag(1, 7, 0, 16, true), 0).is_empty());
        assert!(put(&mut r, frag(1, 7, 16, 16, true), 0).is_empty());
        assert_eq!(
            offsets(&put(&mut r, frag(1, 7, 32, 5, false), 0)),
            [0, 16, 32]
        );
        // Last first, first last.
        assert!(put(&mut r, frag(1, 8, 32, 5, false), 0).is_empty());
        assert!(put(&mut r, frag(1, 8, 16, 16, true), 0).is_empty());
        assert_eq!(
            offsets(&put(&mut r, frag(1, 8, 0, 16, true), 0)),
            [0, 16, 32]
        );
        let c = counts(&mut r);
        assert_eq!((c["frag_reasm_reqds"], c["frag_reasm_ok"]), (6, 2));
        assert_eq!((r.mem(), r.active()), (0, 0), "nothing left held");
    }

    #[test]
    fn an_overlap_kills_the_whole_datagram_and_a_duplicate_only_itself() {
        let mut r = Reasm::new(params());
        put(&mut r, frag(1, 7, 0, 16, true), 0);
        put(&mut r, frag(1, 7, 16, 16, true), 0);
        assert!(put(&mut r, frag(1, 7, 8, 16, true), 0).is_empty());
        let c = counts(&mut r);
        assert_eq!(
            c["drop_frag_overlap"], 3,
            "both held and the overlapping one"
        );
        assert_eq!(r.active(), 0);
        // A later fragment of the killed datagram starts a new one, which never completes
        // without its first fragment.
        put(&mut r, frag(1, 9, 0, 16, true), 0);
        assert!(put(&mut r, frag(1, 9, 0, 16, true), 0).is_empty());
        assert_eq!(counts(&mut r)["drop_frag_dup"], 1);
        assert_eq!(offsets(&put(&mut r, frag(1, 9, 16, 3, false), 0)), [0, 16]);
        // Data past a known end, or a second different end.
        put(&mut r, frag(1, 10, 16, 8, false), 0);
        assert!(put(&mut r, frag(1, 10, 24, 8, true), 0).is_empty());
        assert_eq!(counts(&mut r)["drop_frag_overlap"], 2);
    }

    #[test]
    fn tiny_first_fragments_too_big_datagrams_and_odd_lengths_are_dropped() {
        let mut r = Reasm::new(params());
        put(&mut r, frag(1, 7, 8, 8, false), 0);
        put(&mut r, frag(1, 7, 0, 0, true), 0);
        let c = counts(&mut r);
        assert_eq!(
            c["drop_malformed"], 2,
            "an empty fragment kills the datagram"
        );
        // 20 + 65528 + 16 > 65535.
        put(&mut r, frag(1, 8, 0, 16, true), 0);
        put(&mut r, frag(1, 8, 65528, 16, false), 0);
        assert_eq!(counts(&mut r)["drop_frag_too_big"], 2);
        // A TCP first fragment of 8 bytes: ports only, no flags (RFC 1858).
        let (mut b, _) = frag(1, 11, 0, 8, true);
        b.data_mut()[14 + 9] = proto::TCP;
        Ipv4Packet::new_unchecked(&mut b.data_mut()[14..34]).fill_checksum();
        let at = Ipv4At::check(b.data(), 14).unwrap();
        put(&mut r, (b, at), 0);
        assert_eq!(counts(&mut r)["drop_frag_tiny"], 1);
        put(&mut r, frag(1, 12, 0, 12, true), 0);
        assert_eq!(counts(&mut r)["drop_malformed"], 1, "MF with 12 bytes");
        assert_eq!((r.mem(), r.active()), (0, 0));
    }

    #[test]
    fn incomplete_datagrams_time_out() {
        let mut r = Reasm::new(params());
        put(&mut r, frag(1, 7, 0, 16, true), 100);
        put(&mut r, frag(1, 7, 32, 16, false), 110);
        r.expire(129);
        assert_eq!(r.active(), 1, "29 s after the first fragment: kept");
        r.expire(130);
        assert_eq!(counts(&mut r)["drop_frag_timeout"], 2);
        assert_eq!((r.mem(), r.active()), (0, 0));
    }

    #[test]
    fn a_flood_stays_within_the_bound_and_every_fragment_is_counted() {
        let p = params();
        let mut r = Reasm::new(p);
        let mut n = 0u64;
        // Many sources, many incomplete datagrams (never the last fragment).
        for i in 0..5000u32 {
            put(
                &mut r,
                frag((i % 200) as u8, i as u16, (i % 3) as u16 * 16, 16, true),
                i / 100,
            );
            n += 1;
            assert!(r.mem() <= p.high_thresh, "bound held at {i}");
            assert!(r.active() <= MAX_QUEUES);
        }
        // A good datagram gets through once the flood timed out.
        put(&mut r, frag(250, 1, 0, 16, true), 80);
        assert_eq!(
            offsets(&put(&mut r, frag(250, 1, 16, 1, false), 80)),
            [0, 16]
        );
        n += 2;
        let c = counts(&mut r);
        assert_eq!(c["frag_reasm_reqds"], n);
        let dropped: u64 = ["drop_frag_mem", "drop_frag_timeout"]
            .iter()
            .map(|k| c.get(k).copied().unwrap_or(0))
            .sum();
        assert!(c["drop_frag_mem"] > 0);
        assert_eq!(
            dropped + r.mem() / TRUE + 2,
            n,
            "held, sent or counted: {c:?}"
        );
    }

    #[test]
    fn one_source_over_its_share_evicts_its_own_datagrams_not_others() {
        let p = params();
        let mut r = Reasm::new(p);
        put(&mut r, frag(9, 1, 0, 16, true), 0);
        for i in 0..100u16 {
            put(&mut r, frag(1, i, 0, 16, true), 0);
            assert!(r.source_mem(Ipv4Addr::new(203, 0, 113, 1)) <= p.source_thresh);
        }
        assert_eq!(
            offsets(&put(&mut r, frag(9, 1, 16, 1, false), 0)),
            [0, 16],
            "the other source's datagram survived"
        );
        assert_eq!(counts(&mut r)["drop_frag_mem"], 100 - 32);
    }

    /// The review's case (finding 4): with Linux's default bounds, 300 never-completed
    /// datagrams from one source must not evict another source's datagram in progress
    /// (it did: the 256-datagram cap evicted the oldest).
    #[test]
    fn a_flood_from_one_source_does_not_evict_another_sources_datagram() {
        let mut r = Reasm::new(ReasmParams::default());
        put(&mut r, frag(9, 999, 0, 16, true), 0);
        for i in 0..300u16 {
            put(&mut r, frag(6, i, 0, 16, true), 0);
            assert!(r.source_use(Ipv4Addr::new(203, 0, 113, 6)).0 <= SOURCE_QUEUES);
        }
        assert_eq!(
            offsets(&put(&mut r, frag(9, 999, 16, 1, false), 0)),
            [0, 16],
            "the good datagram survived the flood"
        );
        assert_eq!(counts(&mut r)["drop_frag_mem"], 300 - SOURCE_QUEUES as u64);
    }

    /// A full table refuses new datagrams and keeps the ones in progress (Linux since
    /// 4.17); the timeout frees it again.
    #[test]
    fn a_full_table_refuses_new_datagrams_and_completes_the_ones_in_progress() {
        let p = params();
        let mut r = Reasm::new(p);
        put(&mut r, frag(9, 1, 0, 16, true), 0);
        for i in 0..100u16 {
            put(&mut r, frag(10 + i as u8, i, 0, 16, true), 0);
        }
        assert_eq!(r.mem(), p.low_thresh, "new datagrams stop at low_thresh");
        assert_eq!(counts(&mut r)["drop_frag_mem"], 100 - 47);
        // In progress: grows past low_thresh and completes.
        put(&mut r, frag(9, 1, 16, 16, true), 0);
        assert_eq!(
            offsets(&put(&mut r, frag(9, 1, 32, 1, false), 0)),
            [0, 16, 32]
        );
        // New: refused while full, taken once the flood timed out.
        put(&mut r, frag(250, 2, 0, 16, true), 0);
        put(&mut r, frag(250, 3, 0, 16, true), 0);
        assert_eq!(
            counts(&mut r)["drop_frag_mem"],
            1,
            "the table is full again"
        );
        put(&mut r, frag(250, 3, 0, 16, true), 30);
        assert_eq!(counts(&mut r)["drop_frag_timeout"], 48);
        assert_eq!(
            offsets(&put(&mut r, frag(250, 3, 16, 1, false), 30)),
            [0, 16]
        );
    }

    /// Finding 9: a datagram killed as hostile is gone at once, held fragments and
    /// later ones alike (a tombstone for `ipfrag_time`), not held until its timeout.
    #[test]
    fn a_killed_datagrams_later_fragments_are_dropped_at_once_until_the_tombstone_ends() {
        let mut r = Reasm::new(params());
        // A tiny TCP first fragment first, then the rest.
        let (mut b, _) = frag(1, 11, 0, 8, true);
        b.data_mut()[14 + 9] = proto::TCP;
        Ipv4Packet::new_unchecked(&mut b.data_mut()[14..34]).fill_checksum();
        let at = Ipv4At::check(b.data(), 14).unwrap();
        put(&mut r, (b, at), 0);
        let later = |off, more| {
            let (mut b, _) = frag(1, 11, off, 8, more);
            b.data_mut()[14 + 9] = proto::TCP;
            Ipv4Packet::new_unchecked(&mut b.data_mut()[14..34]).fill_checksum();
            let at = Ipv4At::check(b.data(), 14).unwrap();
            (b, at)
        };
        put(&mut r, later(8, true), 1);
        put(&mut r, later(16, false), 2);
        assert_eq!(r.active(), 0, "nothing of it held");
        assert_eq!(counts(&mut r)["drop_frag_tiny"], 3);
        // An overlap: the held fragments and the later ones.
        put(&mut r, frag(1, 7, 0, 16, true), 0);
        put(&mut r, frag(1, 7, 8, 16, true), 0);
        assert_eq!(counts(&mut r)["drop_frag_overlap"], 2);
        put(&mut r, frag(1, 7, 24, 8, false), 29);
        assert_eq!(r.active(), 0);
        assert_eq!(counts(&mut r)["drop_frag_overlap"], 1);
        // ipfrag_time later the key is free again.
        put(&mut r, frag(1, 7, 0, 16, true), 30);
        assert_eq!(offsets(&put(&mut r, frag(1, 7, 16, 1, false), 30)), [0, 16]);
        // Many dead datagrams: the table of tombstones stays bounded.
        for i in 0..2 * MAX_TOMBS as u16 {
            put(&mut r, frag(2, i, 0, 4, true), 31);
        }
        assert_eq!(r.tombs.iter().flatten().count(), MAX_TOMBS);
    }

    #[test]
    fn too_many_fragments_kill_the_datagram() {
        let mut r = Reasm::new(ReasmParams {
            high_thresh: 1 << 30,
            low_thresh: 1 << 29,
            source_thresh: 1 << 30,
            ..params()
        });
        for i in 0..=MAX_FRAGS as u16 {
            put(&mut r, frag(1, 7, i * 8, 8, true), 0);
        }
        assert_eq!(counts(&mut r)["drop_frag_mem"], MAX_FRAGS as u64 + 1);
        assert_eq!(r.active(), 0);
    }
}
