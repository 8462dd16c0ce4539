//! A worker's whole per-frame path without DPDK, for the `lbpath` and `appliance` fuzz
//! targets and the corpus replay test (`tests/fuzz_corpus.rs`).
//!
//! [`WorkerPath::rx`] does for one frame what `dataplane::worker::Worker::poll_port`
//! does: the 802.1Q stage (`dataplane::vlan::Vlans`: without the VLAN option the
//! testbed port has no VLAN, so a tagged frame is `drop_vlan` and nothing gets a tag;
//! with it, id 100 is logical port 1), [`LbPath::handle`], then on a pass
//! [`Net::handle_at`] with the IPv4 header the LB path verified, and the verdicts applied (frames sent are kept in
//! [`WorkerPath::sent`], held frames go to the real hold queue, ARP requests are built
//! by the real [`Net::arp_request`]); [`WorkerPath::tick`] does the per-loop work after
//! the bursts (release of held frames, neighbour probes, the connection sweep, the
//! reassembly timeout); fragments go through the real reassembly table
//! (`dataplane::reasm`) and complete datagrams through [`LbPath::handle_datagram`]. When the
//! worker's loop gains a stage, this mirror gains it too (docs/FUZZING.md says how to
//! check that it still matches).
//!
//! The fuzz input is a sequence, so state (connections, templates, neighbours, held
//! frames) carries from one frame to the next, on a clock that moves:
//!
//! ```text
//! input  := options:u8 record*
//! record := tag:u8 len:u16be frame[len]     (a short last frame takes what is left)
//! ```
//!
//! `options` bit 0: exception path; bit 1: default route via a gateway never learnt;
//! bit 2: no neighbour known at start; bit 3: static neighbours; bit 4: a VLAN
//! sub-interface (id 100 on port 0, 192.0.2.1/24, NAT VIP 192.0.2.10:80); bits 5-6:
//! the transit policy (0 all, 1 none, 2 outbound from the VLAN, 3 outbound from port
//! 0) (see [`testbed::Options`]). `tag`: the clock moves by `tag & 0x7f` seconds, times 64
//! when bit 7 is set, before the frame is received (so timeouts of connections,
//! templates, neighbours and held frames are reached).

use super::testbed::{self, Options};
use crate::dataplane::counters::Counter;
use crate::dataplane::reasm::{Reasm, ReasmParams, MAX_FRAGS};
use crate::dataplane::unres::{Release, UnresQueue};
use crate::dataplane::vlan::Vlans;
use crate::dataplane::worker::net_counter;
use crate::dataplane::{LbPath, LbVerdict, Views};
use crate::mgmt::Manager;
use crate::net::{Net, PortIdx, Verdict};
use crate::wire::{HeadroomBuf, Ipv4At, PacketBuf};
use std::net::Ipv4Addr;

/// Connection entries of the fuzzed director: small, so a sequence can fill the table
/// (`drop_conn_table_full`).
const MAX_CONNS: u32 = 64;
/// Frames one input may carry: enough for handshakes, fragment trains and floods of
/// the hold queue, few enough that an input runs in microseconds.
pub const MAX_FRAMES: usize = 64;
/// Connection entries looked at per loop, as the worker (`SWEEP_BUDGET`).
const SWEEP_BUDGET: u32 = 64;
/// Neighbour slots looked at per loop, as the worker (`NEIGH_SWEEP_BUDGET`).
const NEIGH_SWEEP_BUDGET: usize = 256;

/// One frame that left the worker: its port, its counter and its bytes.
#[derive(Clone, Debug)]
pub struct Sent {
    /// Outgoing port (the tap of the receiving port for `to_kernel`).
    pub port: PortIdx,
    /// What it was counted as (`nat_in`, `arp_replies`, `to_kernel`, ...).
    pub counter: Counter,
    /// The frame as transmitted.
    pub frame: Vec<u8>,
}

/// One worker over the testbed director: its LB path (unless appliance only), its view
/// of the appliance, its hold queue, and what it counted and sent.
pub struct WorkerPath {
    lb: Option<LbPath>,
    net: Net,
    unres: UnresQueue<HeadroomBuf>,
    reasm: Reasm<HeadroomBuf>,
    neigh_cursor: usize,
    vlans: Vlans,
    /// Counter totals, indexed by `Counter as usize`.
    pub counts: Vec<u64>,
    /// Frames sent since the last [`WorkerPath::take_sent`].
    pub sent: Vec<Sent>,
    _mgr: Manager,
}

impl WorkerPath {
    /// A worker over a fresh testbed with the variations `o`: with the LB path (as
    /// rvsd with services) or appliance only (`with_lb` false: as rvsd without).
    pub fn new(with_lb: bool, o: Options) -> Self {
        let (net, mut mgr) = testbed::setup_with(MAX_CONNS, "wlc", o);
        let lb = if with_lb {
            let views = mgr.lb_views().expect("the manager has LB views");
            Some(LbPath::new(net.view(mgr.net_reader()), views, 0))
        } else {
            None
        };
        let unres = {
            let p = net.neigh().params();
            UnresQueue::new(
                p.unres_qlen,
                p.mcast_solicit.max(1).saturating_mul(p.retrans_secs.max(1)),
            )
        };
        WorkerPath {
            lb,
            net,
            unres,
            // Small bounds (16 fragments, 8 per source, 30 s), so a sequence reaches them.
            reasm: Reasm::new(ReasmParams {
                high_thresh: 16 * 2176,
                low_thresh: 12 * 2176,
                source_thresh: 8 * 2176,
                time_secs: 30,
                truesize: 2176,
            }),
            neigh_cursor: 0,
            vlans: o.vlans(),
            counts: vec![0; Counter::ALL.len()],
            sent: Vec::new(),
            _mgr: mgr,
        }
    }

    /// The LB path's connection entries (0 appliance only).
    pub fn conns(&self) -> usize {
        self.lb.as_ref().map_or(0, |lb| lb.conns().count())
    }

    /// Total of counter `c`.
    pub fn count(&self, c: Counter) -> u64 {
        self.counts[c as usize]
    }

    fn inc(&mut self, c: Counter) {
        self.counts[c as usize] += 1;
    }

    fn send(&mut self, port: PortIdx, mut pkt: HeadroomBuf, counter: Counter) {
        let port = match self.vlans.tx(port as usize, &mut pkt) {
            Ok(phys) => phys as PortIdx,
            Err(drop) => return self.inc(drop),
        };
        self.inc(counter);
        self.inc(Counter::TxPkts);
        if (port as usize) < self.net.ports().len() {
            self.sent.push(Sent {
                port,
                counter,
                frame: pkt.data().to_vec(),
            });
        } else {
            self.inc(Counter::DropNoRoute);
        }
    }

    fn arp_request(&mut self, port: PortIdx, target: Ipv4Addr, mac: Option<[u8; 6]>) {
        let mut m = HeadroomBuf::new(&[]);
        if self.net.arp_request(&mut m, port, target, mac) {
            let c = if mac.is_some() {
                Counter::ArpProbes
            } else {
                Counter::ArpRequests
            };
            self.send(port, m, c);
        }
    }

    fn hold(
        &mut self,
        m: HeadroomBuf,
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
            Ok(()) => self.inc(Counter::NeighHeld),
            Err(_dropped) => self.inc(Counter::DropNeighUnresolved),
        }
    }

    /// As the worker's `fragment`: split now, or hold whole and split at release.
    fn fragment(
        &mut self,
        m: HeadroomBuf,
        port: PortIdx,
        mtu: u16,
        hold: Option<(Ipv4Addr, bool)>,
        counter: Counter,
        now: u32,
    ) {
        let Some((next_hop, request)) = hold else {
            return self.send_fragments(port, &m, mtu, counter);
        };
        if request {
            self.arp_request(port, next_hop, None);
        }
        match self
            .unres
            .hold_fragmenting(m, port, next_hop, counter, Some(mtu), now)
        {
            Ok(()) => self.inc(Counter::NeighHeld),
            Err(_dropped) => self.inc(Counter::DropNeighUnresolved),
        }
    }

    /// As the worker's `send_fragments`, with heap buffers of a default mbuf's size
    /// standing in for the mempool.
    fn send_fragments(&mut self, port: PortIdx, m: &HeadroomBuf, mtu: u16, counter: Counter) {
        use crate::wire::fragment::{fragment, FragError};
        let data = m.data();
        let Ok(eth) = crate::wire::ethernet::EthernetFrame::new_checked(data) else {
            return self.inc(Counter::DropMalformed);
        };
        let mut frags = Vec::new();
        let r = fragment(
            data,
            eth.l3().l3_offset,
            mtu,
            || {
                Some(HeadroomBuf::with_room(
                    &[],
                    HeadroomBuf::DEFAULT_HEADROOM,
                    HeadroomBuf::DEFAULT_ROOM,
                ))
            },
            |f| frags.push(f),
        );
        for f in frags {
            self.send(port, f, Counter::FragCreated);
        }
        match r {
            Ok(_) => {
                self.inc(counter);
                self.inc(Counter::FragOks);
            }
            Err(FragError::NoBuffer { .. }) => self.inc(Counter::DropFragNobuf),
            Err(FragError::Malformed) => self.inc(Counter::DropMalformed),
            Err(FragError::DontFragment | FragError::MtuTooSmall) => self.inc(Counter::DropTooBig),
        }
    }

    /// Receives `frame` on port `p` at `now` (seconds), as the worker's `poll_port`
    /// does for each frame of a burst.
    pub fn rx(&mut self, p: PortIdx, frame: &[u8], now: u32) {
        self.inc(Counter::RxPkts);
        self.counts[Counter::RxBytes as usize] += frame.len() as u64;
        let mut m = HeadroomBuf::new(frame);
        // Ethernet sanity first, as the worker (`net::martian`).
        if let Some(port) = self.net.ports().get(usize::from(p)) {
            if let Err(r) = crate::net::martian::check_eth(frame, port.mac) {
                return self.inc(Counter::of_drop(r));
            }
        }
        let p = match self.vlans.rx(p as usize, &mut m, None) {
            Ok(logical) => logical as PortIdx,
            Err(drop) => return self.inc(drop),
        };
        let mut checked = None;
        if let Some(lb) = self.lb.as_mut() {
            match lb.handle(p, &mut m, now) {
                LbVerdict::Pass => checked = lb.passed_ipv4(),
                LbVerdict::Tx { port, counter } => return self.send(port, m, counter),
                LbVerdict::Hold {
                    port,
                    next_hop,
                    request,
                    counter,
                } => return self.hold(m, port, next_hop, request, counter, now),
                LbVerdict::Drop(counter) => return self.inc(counter),
                LbVerdict::Fragment {
                    port,
                    mtu,
                    hold,
                    counter,
                } => return self.fragment(m, port, mtu, hold, counter, now),
                LbVerdict::Reassemble(hdr) => return self.reassemble(p, m, hdr, now),
            }
        }
        self.pass(p, m, checked, now);
    }

    /// As the worker's `reassemble`: the fragment joins the reassembly table; a complete
    /// datagram goes through [`LbPath::handle_datagram`] and each fragment its way.
    fn reassemble(&mut self, p: PortIdx, m: HeadroomBuf, hdr: Ipv4At, now: u32) {
        let mut frags = Vec::with_capacity(MAX_FRAGS);
        let done = self.reasm.insert(m, hdr, now, &mut frags);
        self.drain_reasm();
        if !done {
            return;
        }
        let mut verdicts = [LbVerdict::Pass; MAX_FRAGS];
        if let Some(lb) = self.lb.as_mut() {
            lb.handle_datagram(p, &mut frags, &mut verdicts, now);
        }
        for ((m, hdr), v) in frags.into_iter().zip(verdicts) {
            match v {
                LbVerdict::Pass => self.pass(p, m, Some(hdr), now),
                LbVerdict::Tx { port, counter } => self.send(port, m, counter),
                LbVerdict::Hold {
                    port,
                    next_hop,
                    request,
                    counter,
                } => self.hold(m, port, next_hop, request, counter, now),
                LbVerdict::Drop(counter) => self.inc(counter),
                LbVerdict::Fragment {
                    port,
                    mtu,
                    hold,
                    counter,
                } => self.fragment(m, port, mtu, hold, counter, now),
                LbVerdict::Reassemble(_) => self.inc(Counter::DropMalformed),
            }
        }
    }

    fn drain_reasm(&mut self) {
        let counts = &mut self.counts;
        self.reasm.drain_counts(|c, n| counts[c as usize] += n);
    }

    /// What the appliance does with a frame the LB path passed (`checked`: its header
    /// as the LB path verified it).
    fn pass(&mut self, p: PortIdx, mut m: HeadroomBuf, checked: Option<Ipv4At>, now: u32) {
        let verdict = self.net.handle_at(p, &mut m, checked, now);
        match verdict {
            Verdict::Tx { port, .. } => self.send(port, m, net_counter(&verdict)),
            Verdict::Hold {
                port,
                next_hop,
                request,
            } => self.hold(m, port, next_hop, request, Counter::Forwarded, now),
            Verdict::Fragment { port, mtu, hold } => {
                self.fragment(m, port, mtu, hold, Counter::Forwarded, now)
            }
            Verdict::ToKernel => {
                if self
                    .net
                    .ports()
                    .get(p as usize)
                    .is_some_and(|x| x.exception_path)
                {
                    self.inc(Counter::ToKernel);
                    self.sent.push(Sent {
                        port: p,
                        counter: Counter::ToKernel,
                        frame: m.data().to_vec(),
                    });
                } else {
                    self.inc(Counter::DropNoExceptionPath);
                }
            }
            Verdict::Consumed | Verdict::Drop(_) => self.inc(net_counter(&verdict)),
        }
    }

    /// The per-loop work after the bursts, at `now`: held frames whose next hop
    /// resolved are sent (expired ones dropped, due requests sent), due neighbour
    /// probes are sent, the connection sweep runs.
    pub fn tick(&mut self, now: u32) {
        let mut out = Vec::new();
        self.unres.release(self.net.neigh(), now, |r| out.push(r));
        for r in out {
            match r {
                Release::Send {
                    pkt,
                    port,
                    counter,
                    frag_mtu: None,
                } => self.send(port, pkt, counter),
                Release::Send {
                    pkt,
                    port,
                    counter,
                    frag_mtu: Some(mtu),
                } => self.send_fragments(port, &pkt, mtu, counter),
                Release::Expired(_pkt) => self.inc(Counter::DropNeighUnresolved),
                Release::Request { port, next_hop } => self.arp_request(port, next_hop, None),
            }
        }
        let mut probes = Vec::new();
        let net = &self.net;
        net.neigh()
            .due_probes(&mut self.neigh_cursor, NEIGH_SWEEP_BUDGET, now, |pr| {
                if let Some(nh) = net.routes().lookup(pr.addr) {
                    probes.push((nh.port, pr.addr, pr.mac));
                }
            });
        for (port, addr, mac) in probes {
            self.arp_request(port, addr, mac);
        }
        if let Some(lb) = self.lb.as_ref() {
            lb.sweep(now, SWEEP_BUDGET);
        }
        self.reasm.expire(now);
        self.drain_reasm();
    }

    /// Takes the frames sent so far.
    pub fn take_sent(&mut self) -> Vec<Sent> {
        std::mem::take(&mut self.sent)
    }
}

/// The testbed variations selected by an input's first byte (see the module doc).
pub fn options(b: u8) -> Options {
    Options {
        exception_path: b & 1 != 0,
        default_route: b & 2 != 0,
        no_neighbours: b & 4 != 0,
        static_neighbours: b & 8 != 0,
        vlan: b & 16 != 0,
        transit: (b >> 5) & 3,
        small_dest_registry: true,
    }
}

/// Splits a fuzz input into its options byte and its (clock step, frame) records.
pub fn records(data: &[u8]) -> (u8, impl Iterator<Item = (u32, &[u8])>) {
    let (opts, mut rest) = match data.split_first() {
        Some((o, r)) => (*o, r),
        None => (0, data),
    };
    let it = std::iter::from_fn(move || {
        if rest.len() < 3 {
            return None;
        }
        let tag = rest[0];
        let len = u16::from_be_bytes([rest[1], rest[2]]) as usize;
        let body = &rest[3..];
        let len = len.min(body.len());
        let (frame, next) = body.split_at(len);
        rest = next;
        let step = (tag & 0x7f) as u32 * if tag & 0x80 != 0 { 64 } else { 1 };
        Some((step, frame))
    })
    .take(MAX_FRAMES);
    (opts, it)
}

/// Encodes a sequence in the fuzz input format (for seeds and tests): `options`, then
/// each frame with its clock step tag.
pub fn encode(options: u8, frames: &[(u8, &[u8])]) -> Vec<u8> {
    let mut v = vec![options];
    for (tag, f) in frames {
        v.push(*tag);
        v.extend_from_slice(&(f.len() as u16).to_be_bytes());
        v.extend_from_slice(f);
    }
    v
}

/// Runs one fuzz input through a worker (`with_lb`: the LB path and the appliance;
/// else the appliance only). Returns a digest of the outcomes, never 0 for an input
/// with a frame, so the replay test can tell inputs that did nothing. Frames sent are
/// handed to `check` (the fuzz targets' well-formedness oracle, see
/// [`check_sent_frame`]).
pub fn run(data: &[u8], with_lb: bool, mut check: impl FnMut(&Sent)) -> u64 {
    let (opts, recs) = records(data);
    let mut w = WorkerPath::new(with_lb, options(opts));
    let mut now = 1u32;
    let mut digest = 0u64;
    for (step, frame) in recs {
        now = now.wrapping_add(step);
        w.rx(0, frame, now);
        w.tick(now);
        for s in w.take_sent() {
            check(&s);
            digest = digest
                .wrapping_mul(31)
                .wrapping_add(s.frame.len() as u64 ^ s.counter as u64);
        }
        digest = digest.wrapping_mul(1_000_003).wrapping_add(1);
    }
    for (i, c) in w.counts.iter().enumerate() {
        digest = digest.wrapping_mul(31).wrapping_add(c ^ i as u64);
    }
    digest
}

/// True when `RVS_FUZZ_STRICT` is set in the environment: the fuzz targets then also
/// panic on a transmitted frame [`check_sent_frame`] refuses (off by default: the
/// campaign's pass criterion is "no crash"; strict runs hunt for malformed output).
pub fn strict() -> bool {
    static STRICT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *STRICT.get_or_init(|| std::env::var_os("RVS_FUZZ_STRICT").is_some())
}

fn oracle(s: &Sent) {
    if strict() {
        if let Err(e) = check_sent_frame(s) {
            panic!(
                "malformed frame sent ({:?}): {e}: {:02x?}",
                s.counter, s.frame
            );
        }
    }
}

/// The `lbpath` fuzz target: the whole worker path (LB, then the appliance on a pass).
pub fn fuzz_lbpath(data: &[u8]) -> u64 {
    run(data, true, oracle)
}

/// The `appliance` fuzz target: a worker without services (ARP, echo, routing,
/// to-kernel verdicts only).
pub fn fuzz_appliance(data: &[u8]) -> u64 {
    run(data, false, oracle)
}

/// What every frame rvsd transmits to a data port must be (issue 10: "never send a
/// malformed frame; never forward more than the datagram"): an Ethernet header from
/// the port's MAC to a non-zero MAC, and for IPv4 a valid header (version, IHL,
/// checksum) whose total length is exactly the rest of the frame, with the same for
/// the inner header of IPIP. Frames to the kernel (`to_kernel`) are not checked: they
/// are the received frame unchanged. Returns what is wrong.
pub fn check_sent_frame(s: &Sent) -> Result<(), String> {
    if s.counter == Counter::ToKernel {
        return Ok(());
    }
    let f = &s.frame[..];
    if f.len() < 14 {
        return Err(format!("frame of {} bytes", f.len()));
    }
    if f[0..6] == [0; 6] {
        return Err("destination MAC all zeros".into());
    }
    if f[6..12] != testbed::PORT_MAC {
        return Err(format!("source MAC {:02x?} is not the port's", &f[6..12]));
    }
    let mut l3 = 12;
    let mut et = u16::from_be_bytes([f[l3], f[l3 + 1]]);
    if et == 0x8100 && f.len() >= 18 {
        l3 += 4;
        et = u16::from_be_bytes([f[l3], f[l3 + 1]]);
    }
    let l3 = l3 + 2;
    match et {
        0x0800 => {
            let inner = check_ipv4(&f[l3..], true)?;
            if let Some(inner) = inner {
                check_ipv4(&f[l3 + inner..], false)?;
            }
            Ok(())
        }
        0x0806 => {
            if f.len() < l3 + 28 {
                return Err("short ARP".into());
            }
            Ok(())
        }
        other => Err(format!("ethertype {other:#06x}")),
    }
}

/// Checks one IPv4 header spanning all of `ip`; returns the inner header's offset for
/// IPIP when `outer`.
fn check_ipv4(ip: &[u8], outer: bool) -> Result<Option<usize>, String> {
    if ip.len() < 20 {
        return Err(format!("IPv4 packet of {} bytes", ip.len()));
    }
    if ip[0] >> 4 != 4 {
        return Err("IP version".into());
    }
    let ihl = (ip[0] & 0xf) as usize * 4;
    let total = u16::from_be_bytes([ip[2], ip[3]]) as usize;
    if ihl < 20 || ihl > total || ihl > ip.len() {
        return Err(format!("IHL {ihl} (total length {total})"));
    }
    if total != ip.len() {
        return Err(format!(
            "IPv4 total length {total} but {} bytes after the Ethernet header",
            ip.len()
        ));
    }
    if crate::wire::checksum::data(&ip[..ihl]) != 0xffff {
        return Err("IPv4 header checksum".into());
    }
    let frag = u16::from_be_bytes([ip[6], ip[7]]) & 0x3fff;
    Ok((outer && ip[9] == 4 && frag == 0).then_some(ihl))
}
