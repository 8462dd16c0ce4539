//! One poll-mode worker: owns queue `i` of every data port (and of its exception-path
//! tap), and loops rx burst → net/lb → tx burst until told to stop.

use super::counters::{Counter, WorkerCounters};
use super::lbpath::{LbPath, LbVerdict};
use super::reasm::{Reasm, MAX_FRAGS};
use super::unres::{Release, UnresQueue};
use super::vlan::Vlans;
use crate::dpdk::{rdtsc, Mbuf, Mempool, RxBurst, RxQueue, TxQueue};
use crate::net::{Net, PortIdx, TxKind, Verdict};
use crate::wire::fragment::{self, FragError};
use crate::wire::Ipv4At;
use std::net::Ipv4Addr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

/// Queue `i` of one data port, and of its tap when the exception path is on.
pub struct PortQueues {
    /// Data port RX.
    pub rx: RxQueue,
    /// Data port TX.
    pub tx: TxQueue,
    /// Exception path: (RX of what the kernel sends, TX of what goes up to it).
    pub tap: Option<(RxQueue, TxQueue)>,
}

/// The counter an appliance verdict is counted under (`ToKernel` without a tap is
/// counted by the caller as `drop_no_exception_path`).
pub fn net_counter(v: &Verdict) -> Counter {
    match *v {
        Verdict::Tx { kind, .. } => match kind {
            TxKind::ArpReply => Counter::ArpReplies,
            TxKind::EchoReply => Counter::EchoReplies,
            TxKind::Forward => Counter::Forwarded,
            TxKind::FragNeeded => Counter::TxIcmpFragNeeded,
            TxKind::TimeExceeded => Counter::TxIcmpTimeExceeded,
        },
        Verdict::Hold { .. } => Counter::NeighHeld,
        Verdict::Fragment { .. } => Counter::Forwarded,
        Verdict::ToKernel => Counter::ToKernel,
        Verdict::Consumed => Counter::Consumed,
        Verdict::Drop(r) => Counter::of_drop(r),
    }
}

/// A worker's whole state: it owns it, nothing else writes it.
pub struct Worker {
    /// Worker index (= queue index).
    pub index: usize,
    /// Queues, indexed by `PortIdx`.
    pub ports: Vec<PortQueues>,
    /// This worker's view of the appliance networking state (ports and the lock-free
    /// neighbour table shared; VIPs and routes from the published snapshot).
    pub net: Net,
    /// This worker's counters (it is their only writer).
    pub counters: Arc<WorkerCounters>,
    /// Set by the runtime to stop the loop.
    pub stop: Arc<AtomicBool>,
    /// TSC ticks per second, for the coarse clock.
    pub tsc_hz: u64,
    /// TSC at runtime start: the clock's epoch, shared by all workers.
    pub tsc_start: u64,
    /// The packet pool, for packets the worker originates (gratuitous ARP).
    pub pool: Arc<Mempool>,
    /// True for the one worker that announces local addresses and VIPs at start, and
    /// every VIP added at run time when it sees the snapshot that added it.
    pub announce: bool,
    /// Newest VIP/route snapshot generation whose added VIPs were announced.
    pub announced: u64,
    /// The load-balancing path (None: appliance only, no service configured).
    pub lb: Option<LbPath>,
    /// Packets waiting for their next hop's MAC (see `unres`).
    pub unres: UnresQueue<Mbuf>,
    /// Addresses (real servers, gateways) whose next hops this worker resolves at start.
    pub prime: Vec<Ipv4Addr>,
    /// True for the one worker that sends the neighbour table's due probes.
    pub neigh_sweep: bool,
    /// VLAN sub-interfaces: `PortIdx` past the physical ports (`ports`) are VLANs on
    /// them; RX strips their tags, TX pushes them (see `vlan`).
    pub vlans: Vlans,
    /// Queue `i` of the VLANs' exception-path taps, by VLAN (`PortIdx` − physical
    /// ports): (RX of what the kernel sends, TX of what goes up to it), untagged.
    pub vlan_taps: Vec<Option<(RxQueue, TxQueue)>>,
    /// Fragments waiting for the rest of their datagram (see `reasm`).
    pub reasm: Reasm<Mbuf>,
    /// A completed datagram's fragments (capacity `MAX_FRAGS`, reused: no allocation).
    pub reasm_out: Vec<(Mbuf, Ipv4At)>,
}

/// An empty reassembly output buffer for a worker (allocated once, at start).
pub fn reasm_out() -> Vec<(Mbuf, Ipv4At)> {
    Vec::with_capacity(MAX_FRAGS)
}

/// Builds a worker's hold queue from the neighbour parameters: `unres_qlen` per next
/// hop, held for at most `mcast_solicit` retransmission intervals (as long as Linux
/// keeps an INCOMPLETE neighbour's queue).
pub fn unres_queue(net: &Net) -> UnresQueue<Mbuf> {
    let p = net.neigh().params();
    UnresQueue::new(
        p.unres_qlen,
        p.mcast_solicit.max(1).saturating_mul(p.retrans_secs.max(1)),
    )
}

/// Connection entries each loop's sweep looks at: bounded work per loop, and with
/// ~1 M loops/s per worker a 1 M-entry table is swept about 60 times a second.
const SWEEP_BUDGET: u32 = 64;
/// Neighbour slots each loop's probe sweep looks at: the 65 536-slot table is covered
/// every 256 loops, far more often than the one-second probe clock ticks.
const NEIGH_SWEEP_BUDGET: usize = 256;

impl Worker {
    /// Seconds since the runtime started, from the TSC (no syscall).
    #[inline]
    fn now_secs(&self) -> u32 {
        (rdtsc().wrapping_sub(self.tsc_start) / self.tsc_hz.max(1)) as u32
    }

    /// The loop. Returns when `stop` is set.
    pub fn run(mut self) {
        if self.announce {
            self.gratuitous_arp();
        }
        self.prime_neighbours();
        let mut burst = RxBurst::default();
        let mut neigh_cursor = 0usize;
        while !self.stop.load(Ordering::Relaxed) {
            let t0 = rdtsc();
            self.refresh();
            let now = self.now_secs();
            let mut work = 0;
            for p in 0..self.ports.len() {
                work += self.poll_port(p, &mut burst, now);
                work += self.poll_tap(p, &mut burst);
            }
            work += self.poll_vlan_taps(&mut burst);
            work += self.release_held(now);
            self.expire_fragments(now);
            if self.neigh_sweep {
                self.send_probes(&mut neigh_cursor, now);
            }
            for q in self.ports.iter_mut() {
                q.tx.flush();
                if let Some((_, tap_tx)) = q.tap.as_mut() {
                    tap_tx.flush();
                }
            }
            for (_, tap_tx) in self.vlan_taps.iter_mut().flatten() {
                tap_tx.flush();
            }
            self.counters.inc(Counter::Loops);
            if let Some(lb) = self.lb.as_ref() {
                lb.sweep(now, SWEEP_BUDGET);
                self.counters.set(Counter::ConnsNew, lb.conns_new);
            }
            let tx_drops: u64 = self
                .ports
                .iter()
                .map(|q| q.tx.drop_tx_full + q.tap.as_ref().map_or(0, |t| t.1.drop_tx_full))
                .chain(self.vlan_taps.iter().flatten().map(|t| t.1.drop_tx_full))
                .sum();
            self.counters.set(Counter::DropTxFull, tx_drops);
            if work > 0 {
                // Cycles spent on loops that moved packets: cycles per packet without
                // the idle polling, whatever the offered load.
                self.counters
                    .add(Counter::BusyCycles, rdtsc().wrapping_sub(t0));
            }
        }
    }

    /// Takes the newest published snapshots (one atomic load each when nothing
    /// changed), every loop: an idle worker must not pin old tables in memory. The
    /// announcing worker then announces the VIPs the new snapshot added.
    #[inline]
    fn refresh(&mut self) {
        self.net.refresh();
        if let Some(lb) = self.lb.as_mut() {
            lb.refresh();
        }
        if self.announce && self.net.generation() != self.announced {
            self.announce_vips_since(self.announced);
            self.announced = self.net.generation();
        }
    }

    /// Announces every local address and VIP of every port (RFC 5227 ARP
    /// announcements), so switches and neighbours learn where they live now: the
    /// director may have just taken them over.
    fn gratuitous_arp(&mut self) {
        for p in 0..self.net.ports().len() {
            for i in 0..self.net.ports()[p].addrs.len() {
                let addr = self.net.ports()[p].addrs[i].addr;
                self.announce_one(p, addr);
            }
        }
        self.announce_vips_since_start();
        self.announced = self.net.generation();
    }

    fn announce_vips_since_start(&mut self) {
        for p in 0..self.net.ports().len() {
            for i in 0..self.net.tables().vips(p as u8).len() {
                let addr = self.net.tables().vips(p as u8)[i].addr;
                self.announce_one(p, addr);
            }
            if let Some(q) = self.ports.get_mut(p) {
                q.tx.flush();
            }
        }
    }

    /// Announces the VIPs added by snapshots newer than generation `since`.
    fn announce_vips_since(&mut self, since: u64) {
        for p in 0..self.net.ports().len() {
            for i in 0..self.net.tables().vips(p as u8).len() {
                let vip = self.net.tables().vips(p as u8)[i];
                if vip.since > since {
                    self.announce_one(p, vip.addr);
                }
            }
            if let Some(q) = self.ports.get_mut(p) {
                q.tx.flush();
            }
        }
    }

    /// One gratuitous ARP for `addr` out of port `p` (off the packet path: a mempool
    /// buffer, no heap allocation).
    fn announce_one(&mut self, p: usize, addr: std::net::Ipv4Addr) {
        let Some(mut m) = self.pool.alloc() else {
            return;
        };
        if self.net.gratuitous_arp(&mut m, p as u8, addr) {
            match self.vlans.tx(p, &mut m) {
                Ok(phys) => {
                    self.counters.inc(Counter::GratuitousArps);
                    self.ports[phys].tx.push(m);
                }
                Err(drop) => self.counters.inc(drop),
            }
        }
    }

    /// Asks for the next hops of the configured real servers and gateways, so the
    /// first connection to each does not wait for ARP.
    fn prime_neighbours(&mut self) {
        let prime = std::mem::take(&mut self.prime);
        let asks = self.net.prime(&prime, self.now_secs());
        for (port, next_hop) in asks {
            self.arp_request(port, next_hop, None);
        }
        for q in self.ports.iter_mut() {
            q.tx.flush();
        }
    }

    /// Sends an ARP request for `target` out of `port` (see [`send_arp`]).
    fn arp_request(&mut self, port: PortIdx, target: Ipv4Addr, mac: Option<[u8; 6]>) {
        send_arp(
            &self.net,
            &self.pool,
            &mut self.ports,
            &self.vlans,
            &self.counters,
            port,
            target,
            mac,
        );
    }

    /// Holds a packet for an unresolved next hop (sending the broadcast request when
    /// this worker claimed it); counts `neigh_held`, or `drop_neigh_unresolved` when the
    /// hold queue has no room for it.
    fn hold(
        &mut self,
        m: Mbuf,
        port: PortIdx,
        next_hop: Ipv4Addr,
        request: bool,
        counter: Counter,
        now: u32,
    ) {
        if request {
            self.arp_request(port, next_hop, None);
        }
        match self.unres.hold(m, port, next_hop, counter, now) {
            Ok(()) => self.counters.inc(Counter::NeighHeld),
            Err(_dropped) => self.counters.inc(Counter::DropNeighUnresolved),
        }
    }

    /// A datagram longer than `port`'s MTU with DF clear (`LbVerdict::Fragment`):
    /// fragmented now into fresh mbufs and sent, or, with its next hop unresolved,
    /// held whole and fragmented when it leaves (`Release::Send::frag_mtu`).
    fn fragment(
        &mut self,
        m: Mbuf,
        port: PortIdx,
        mtu: u16,
        hold: Option<(Ipv4Addr, bool)>,
        counter: Counter,
        now: u32,
    ) {
        let Some((next_hop, request)) = hold else {
            send_fragments(
                &self.pool,
                &mut self.ports,
                &self.vlans,
                &self.counters,
                port,
                &m,
                mtu,
                counter,
            );
            return;
        };
        if request {
            self.arp_request(port, next_hop, None);
        }
        match self
            .unres
            .hold_fragmenting(m, port, next_hop, counter, Some(mtu), now)
        {
            Ok(()) => self.counters.inc(Counter::NeighHeld),
            Err(_dropped) => self.counters.inc(Counter::DropNeighUnresolved),
        }
    }

    /// Once per loop: sends held packets whose next hop resolved, drops the expired,
    /// re-asks for the still unresolved. Returns the packets sent or dropped.
    fn release_held(&mut self, now: u32) -> usize {
        if self.unres.is_empty() {
            return 0;
        }
        let Worker {
            unres,
            net,
            pool,
            ports,
            vlans,
            counters,
            ..
        } = self;
        let mut n = 0;
        unres.release(net.neigh(), now, |r| match r {
            Release::Send {
                pkt,
                port,
                counter,
                frag_mtu,
            } => {
                n += 1;
                match frag_mtu {
                    None => push_tx(ports, vlans, counters, port as usize, pkt, counter),
                    Some(mtu) => {
                        send_fragments(pool, ports, vlans, counters, port, &pkt, mtu, counter)
                    }
                }
            }
            Release::Expired(_pkt) => {
                n += 1;
                counters.inc(Counter::DropNeighUnresolved);
            }
            Release::Request { port, next_hop } => {
                send_arp(net, pool, ports, vlans, counters, port, next_hop, None)
            }
        });
        n
    }

    /// Sends the probes the neighbour table says are due (stale entries in use).
    fn send_probes(&mut self, cursor: &mut usize, now: u32) {
        let Worker {
            net,
            pool,
            ports,
            vlans,
            counters,
            ..
        } = self;
        net.neigh()
            .due_probes(cursor, NEIGH_SWEEP_BUDGET, now, |p| {
                if let Some(nh) = net.routes().lookup(p.addr) {
                    send_arp(net, pool, ports, vlans, counters, nh.port, p.addr, p.mac);
                }
            });
    }

    fn poll_port(&mut self, p: usize, burst: &mut RxBurst, now: u32) -> usize {
        let n = self.ports[p].rx.rx_burst(burst);
        if n == 0 {
            return 0;
        }
        self.counters.add(Counter::RxPkts, n as u64);
        while let Some(mut m) = burst.next_mbuf() {
            self.counters.add(Counter::RxBytes, m.len() as u64);
            if m.segments() > 1 {
                self.counters.inc(Counter::DropMultiSegment);
                continue;
            }
            // Ethernet sanity first, for every path (`net::martian`).
            if let Some(port) = self.net.ports().get(p) {
                if let Err(r) = crate::net::martian::check_eth(m.data(), port.mac) {
                    self.counters.inc(Counter::of_drop(r));
                    continue;
                }
            }
            // 802.1Q: the (logical) port the frame belongs to, its tag stripped.
            let stripped = m.rx_vlan_stripped();
            let p = match self.vlans.rx(p, &mut m, stripped) {
                Ok(logical) => logical,
                Err(drop) => {
                    self.counters.inc(drop);
                    continue;
                }
            };
            // The IPv4 header the LB path verified, so the appliance does not again.
            let mut checked = None;
            if let Some(lb) = self.lb.as_mut() {
                match lb.handle(p as u8, &mut m, now) {
                    LbVerdict::Pass => checked = lb.passed_ipv4(),
                    LbVerdict::Tx { port, counter } => {
                        self.send(port as usize, m, counter);
                        continue;
                    }
                    LbVerdict::Hold {
                        port,
                        next_hop,
                        request,
                        counter,
                    } => {
                        self.hold(m, port, next_hop, request, counter, now);
                        continue;
                    }
                    LbVerdict::Drop(counter) => {
                        self.counters.inc(counter);
                        continue;
                    }
                    LbVerdict::Fragment {
                        port,
                        mtu,
                        hold,
                        counter,
                    } => {
                        self.fragment(m, port, mtu, hold, counter, now);
                        continue;
                    }
                    LbVerdict::Reassemble(hdr) => {
                        self.reassemble(p, m, hdr, now);
                        continue;
                    }
                }
            }
            let verdict = self.net.handle_at(p as u8, &mut m, checked, now);
            self.apply(p, m, verdict, now);
        }
        n
    }

    /// Takes a fragment into the reassembly table; when it completes its datagram, the
    /// LB path decides for the whole datagram and each fragment goes its way.
    fn reassemble(&mut self, p: usize, m: Mbuf, hdr: Ipv4At, now: u32) {
        let mut frags = std::mem::take(&mut self.reasm_out);
        if self.reasm.insert(m, hdr, now, &mut frags) {
            let mut verdicts = [LbVerdict::Pass; MAX_FRAGS];
            if let Some(lb) = self.lb.as_mut() {
                lb.handle_datagram(p as u8, &mut frags, &mut verdicts, now);
            }
            for ((mut m, hdr), v) in frags.drain(..).zip(verdicts) {
                match v {
                    LbVerdict::Pass => {
                        let verdict = self.net.handle_at(p as u8, &mut m, Some(hdr), now);
                        self.apply(p, m, verdict, now);
                    }
                    LbVerdict::Tx { port, counter } => self.send(port as usize, m, counter),
                    LbVerdict::Hold {
                        port,
                        next_hop,
                        request,
                        counter,
                    } => self.hold(m, port, next_hop, request, counter, now),
                    LbVerdict::Drop(counter) => self.counters.inc(counter),
                    LbVerdict::Fragment {
                        port,
                        mtu,
                        hold,
                        counter,
                    } => self.fragment(m, port, mtu, hold, counter, now),
                    // handle_datagram never asks for reassembly again.
                    LbVerdict::Reassemble(_) => self.counters.inc(Counter::DropMalformed),
                }
            }
        }
        self.reasm_out = frags;
        let c = &self.counters;
        self.reasm.drain_counts(|counter, n| c.add(counter, n));
    }

    /// Once per loop: drops the datagrams that took too long (`drop_frag_timeout`).
    fn expire_fragments(&mut self, now: u32) {
        if self.reasm.active() == 0 {
            return;
        }
        self.reasm.expire(now);
        let c = &self.counters;
        self.reasm.drain_counts(|counter, n| c.add(counter, n));
    }

    /// Queues `m` on `port`'s TX buffer, counting `counter` and `tx_pkts`.
    #[inline]
    fn send(&mut self, port: usize, m: Mbuf, counter: Counter) {
        push_tx(
            &mut self.ports,
            &self.vlans,
            &self.counters,
            port,
            m,
            counter,
        );
    }

    #[inline]
    fn apply(&mut self, in_port: usize, m: Mbuf, verdict: Verdict, now: u32) {
        let c = &self.counters;
        match verdict {
            Verdict::Tx { port, .. } => self.send(port as usize, m, net_counter(&verdict)),
            Verdict::Hold {
                port,
                next_hop,
                request,
            } => self.hold(m, port, next_hop, request, Counter::Forwarded, now),
            Verdict::Fragment { port, mtu, hold } => {
                self.fragment(m, port, mtu, hold, Counter::Forwarded, now)
            }
            // A VLAN's tap is in `vlan_taps` (PortIdx past the physical ports).
            Verdict::ToKernel => {
                let tap = match in_port.checked_sub(self.ports.len()) {
                    None => self.ports.get_mut(in_port).and_then(|q| q.tap.as_mut()),
                    Some(v) => self.vlan_taps.get_mut(v).and_then(Option::as_mut),
                };
                match tap {
                    Some((_, tap_tx)) => {
                        c.inc(Counter::ToKernel);
                        tap_tx.push(m);
                    }
                    None => c.inc(Counter::DropNoExceptionPath),
                }
            }
            Verdict::Consumed | Verdict::Drop(_) => c.inc(net_counter(&verdict)),
        }
    }

    /// What the kernel sends through the tap leaves through the data port unchanged
    /// (the kernel resolved MACs itself); ARP replies in it also teach us.
    fn poll_tap(&mut self, p: usize, burst: &mut RxBurst) -> usize {
        let q = &mut self.ports[p];
        let Some((tap_rx, _)) = q.tap.as_mut() else {
            return 0;
        };
        let n = tap_rx.rx_burst(burst);
        if n == 0 {
            return 0;
        }
        self.counters.add(Counter::FromKernel, n as u64);
        self.counters.add(Counter::TxPkts, n as u64);
        while let Some(m) = burst.next_mbuf() {
            q.tx.push(m);
        }
        n
    }
}

impl Worker {
    /// What the kernel sends through a VLAN's tap leaves through the VLAN's physical
    /// port with the VLAN's tag pushed (`from_kernel`, `tx_pkts`).
    fn poll_vlan_taps(&mut self, burst: &mut RxBurst) -> usize {
        let physical = self.ports.len();
        let mut total = 0;
        for v in 0..self.vlan_taps.len() {
            let Some((tap_rx, _)) = self.vlan_taps[v].as_mut() else {
                continue;
            };
            let n = tap_rx.rx_burst(burst);
            self.counters.add(Counter::FromKernel, n as u64);
            total += n;
            while let Some(mut m) = burst.next_mbuf() {
                match self.vlans.tx(physical + v, &mut m) {
                    Ok(p) => {
                        self.counters.inc(Counter::TxPkts);
                        self.ports[p].tx.push(m);
                    }
                    Err(drop) => self.counters.inc(drop),
                }
            }
        }
        total
    }
}

/// Queues `m` on `port`'s TX buffer (a VLAN's: its physical port's, tag pushed),
/// counting `counter` and `tx_pkts` (a free function so the hold queue's and the probe
/// sweep's callbacks can use it while they borrow other parts of the worker).
#[inline]
fn push_tx(
    ports: &mut [PortQueues],
    vlans: &Vlans,
    c: &WorkerCounters,
    port: usize,
    mut m: Mbuf,
    counter: Counter,
) {
    let port = match vlans.tx(port, &mut m) {
        Ok(phys) => phys,
        Err(drop) => return c.inc(drop),
    };
    c.inc(counter);
    c.inc(Counter::TxPkts);
    match ports.get_mut(port) {
        Some(q) => q.tx.push(m),
        None => c.inc(Counter::DropNoRoute),
    }
}

/// Cuts the frame `m` (ready for `port`, MACs written) into fragments of at most `mtu`
/// IP bytes in fresh mbufs from `pool` (`wire::fragment`; no heap allocation) and
/// queues them on `port`: `counter` and `frag_oks` once, `frag_created` and `tx_pkts`
/// per fragment. An empty pool part-way is `drop_frag_nobuf` (the fragments made are
/// sent); a frame that cannot be fragmented (MTU below 28 bytes, malformed) is
/// `drop_too_big`. `m` itself is freed by the caller dropping it.
#[allow(clippy::too_many_arguments)]
fn send_fragments(
    pool: &Mempool,
    ports: &mut [PortQueues],
    vlans: &Vlans,
    c: &WorkerCounters,
    port: PortIdx,
    m: &Mbuf,
    mtu: u16,
    counter: Counter,
) {
    let data = m.data();
    let l3 = match crate::wire::ethernet::EthernetFrame::new_checked(data) {
        Ok(f) => f.l3().l3_offset,
        Err(_) => {
            c.inc(Counter::DropMalformed);
            return;
        }
    };
    let r = fragment::fragment(
        data,
        l3,
        mtu,
        || pool.alloc(),
        |f| push_tx(ports, vlans, c, port as usize, f, Counter::FragCreated),
    );
    match r {
        Ok(_) => {
            c.inc(counter);
            c.inc(Counter::FragOks);
        }
        Err(FragError::NoBuffer { .. }) => c.inc(Counter::DropFragNobuf),
        Err(FragError::Malformed) => c.inc(Counter::DropMalformed),
        Err(FragError::DontFragment | FragError::MtuTooSmall) => c.inc(Counter::DropTooBig),
    }
}

/// Sends an ARP request for `target` out of `port` in a fresh mbuf (off the packet
/// path: a mempool buffer, no heap allocation): broadcast, or a unicast probe to
/// `mac`. Counted `arp_requests` / `arp_probes`; nothing is sent (and nothing counted)
/// when the pool is empty.
#[allow(clippy::too_many_arguments)]
fn send_arp(
    net: &Net,
    pool: &Mempool,
    ports: &mut [PortQueues],
    vlans: &Vlans,
    c: &WorkerCounters,
    port: PortIdx,
    target: Ipv4Addr,
    mac: Option<[u8; 6]>,
) {
    let Some(mut m) = pool.alloc() else {
        return;
    };
    if !net.arp_request(&mut m, port, target, mac) {
        return;
    }
    let counter = if mac.is_some() {
        Counter::ArpProbes
    } else {
        Counter::ArpRequests
    };
    push_tx(ports, vlans, c, port as usize, m, counter);
}
