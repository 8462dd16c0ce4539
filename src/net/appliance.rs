//! The appliance's own per-packet handling: ARP for its addresses and VIPs, ICMP echo,
//! routing of transit packets with next-hop resolution, and the hand-off of everything
//! else addressed to it to the kernel (exception path).

use super::conflict::ArpConflictSlot;
use super::ip_options::{self, Options};
use super::martian;
use super::neigh::NeighTable;
use super::nexthop::Resolution;
use super::route::{PortIdx, RouteTable};
use super::tables::NetTables;
use super::transit::{Decision, Transit, TransitMode};
use super::verdict::{DropReason, TxKind, Verdict};
use crate::lb::xform::reply::{ReplyLimiter, REPLIES_PER_SEC};
use crate::snapshot::Reader;
use crate::wire::arp::{ArpOperation, ArpPacket, ArpRepr};
use crate::wire::ethernet::{EtherType, EthernetAddress, EthernetFrame, EthernetRepr};
use crate::wire::icmp::{IcmpPacket, IcmpType};
use crate::wire::ipv4::{IpProtocol, Ipv4Packet};
use crate::wire::PacketBuf;
use crate::wire::{Ipv4At, Ipv4Net};
use std::cell::Cell;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// TTL of the echo replies we originate (Linux's default).
const REPLY_TTL: u8 = 64;

/// What the appliance knows about one data port.
#[derive(Clone, Debug)]
pub struct PortNet {
    /// The port's MAC address.
    pub mac: [u8; 6],
    /// Local addresses with prefix lengths.
    pub addrs: Vec<Ipv4Net>,
    /// True when a tap mirrors this port into the kernel.
    pub exception_path: bool,
    /// IP MTU of the port (TUN encapsulation and frag-needed use it).
    pub mtu: u16,
}

impl PortNet {
    fn is_local(&self, a: Ipv4Addr) -> bool {
        self.addrs.iter().any(|c| c.addr == a)
    }
    fn on_link(&self, a: Ipv4Addr) -> bool {
        self.addrs.iter().any(|c| c.contains(a))
    }
    /// The local address to speak from towards on-link `a` (first address otherwise).
    pub fn source_for(&self, a: Ipv4Addr) -> Option<Ipv4Addr> {
        self.addrs
            .iter()
            .find(|c| c.contains(a))
            .or(self.addrs.first())
            .map(|c| c.addr)
    }
}

/// One worker's view of the appliance networking state: the ports (immutable) and the
/// neighbour table (lock-free) are shared by all workers; the VIPs and routes are the
/// published [`NetTables`] snapshot this view last refreshed to.
pub struct Net {
    ports: Arc<[PortNet]>,
    neigh: Arc<NeighTable>,
    tables: Reader<NetTables>,
    /// This view's last ARP address conflict (its worker is the only writer).
    conflict: Arc<ArpConflictSlot>,
    /// Which transit packets are routed (`transit`).
    transit: Transit,
    /// This view's budget of ICMP errors about routed packets (time exceeded,
    /// frag-needed): `xform::reply::REPLIES_PER_SEC` a second, like the LB path's
    /// replies (Linux rate-limits `icmp_send` too). A `Cell`: the view belongs to one
    /// worker, which is its only user.
    icmp_limit: Cell<ReplyLimiter>,
}

impl Net {
    /// A first view: the ports (in `PortIdx` order), a fresh neighbour table with
    /// Linux's default timers and no static entries, and the VIP/route snapshots read
    /// through `tables`.
    pub fn new(ports: Vec<PortNet>, tables: Reader<NetTables>) -> Self {
        Self::with_neigh(ports, tables, NeighTable::new())
    }

    /// A first view with the neighbour table `neigh` (timers and static entries from
    /// the configuration).
    pub fn with_neigh(ports: Vec<PortNet>, tables: Reader<NetTables>, neigh: NeighTable) -> Self {
        Net {
            ports: ports.into(),
            neigh: Arc::new(neigh),
            tables,
            conflict: Arc::default(),
            transit: Transit::default(),
            icmp_limit: Cell::new(ReplyLimiter::new(REPLIES_PER_SEC)),
        }
    }

    /// Another view (for another worker, or another path of the same worker) sharing
    /// this one's ports and neighbour table, reading snapshots through `tables`, with
    /// an ARP conflict slot of its own (one writer per slot).
    pub fn view(&self, tables: Reader<NetTables>) -> Net {
        Net {
            ports: self.ports.clone(),
            neigh: self.neigh.clone(),
            tables,
            conflict: Arc::default(),
            transit: self.transit.clone(),
            icmp_limit: Cell::new(ReplyLimiter::new(REPLIES_PER_SEC)),
        }
    }

    /// This view with transit policy `transit` (views made from it share it); a new
    /// `Net` routes everything until given one (rvsd gives the configured policy).
    pub fn with_transit(mut self, transit: Transit) -> Net {
        self.transit = transit;
        self
    }

    /// The transit policy.
    pub fn transit(&self) -> &Transit {
        &self.transit
    }

    /// This view's last ARP address conflict, for the management thread to log.
    pub fn conflict_slot(&self) -> Arc<ArpConflictSlot> {
        self.conflict.clone()
    }

    /// The martian and IP options checks of a received IPv4 header (`ip`, its lengths
    /// and checksum already verified), at the one place each frame's header is first
    /// parsed (`LbPath::handle`, else [`Net::handle_at`]); see [`martian`] and
    /// [`ip_options`] for the rules and their sources. The source is checked first,
    /// then the destination, then the options.
    #[inline]
    pub fn screen_ipv4<B: AsRef<[u8]>>(&self, ip: &Ipv4Packet<B>) -> Result<Options, DropReason> {
        let (src, dst) = (ip.src_addr(), ip.dst_addr());
        let zeronet_ok = martian::is_zeronet_multicast_exception(src, dst, u8::from(ip.protocol()));
        if (martian::is_martian_source(src) && !zeronet_ok) || self.is_own_source(src) {
            return Err(DropReason::MartianSource);
        }
        if martian::is_martian_destination(dst) {
            return Err(DropReason::MartianDestination);
        }
        ip_options::check(ip.options())
    }

    /// True when no other host may send from `a`: one of our addresses, a VIP, or the
    /// broadcast address of one of our subnets (Linux `fib_validate_source` refuses a
    /// source whose route is local or broadcast).
    fn is_own_source(&self, a: Ipv4Addr) -> bool {
        self.is_vip(a)
            || self.ports.iter().any(|p| {
                p.addrs
                    .iter()
                    .any(|c| c.addr == a || martian::is_subnet_broadcast(c, a))
            })
    }

    /// True when `a` is the broadcast address of a subnet of any port or VLAN.
    fn is_any_subnet_broadcast(&self, a: Ipv4Addr) -> bool {
        self.ports
            .iter()
            .any(|p| p.addrs.iter().any(|c| martian::is_subnet_broadcast(c, a)))
    }

    /// Takes the newest published VIP/route snapshot (one atomic load when nothing
    /// changed); workers call it once per loop.
    #[inline]
    pub fn refresh(&mut self) {
        self.tables.refresh();
    }

    /// The VIP/route snapshot as of the last refresh.
    #[inline]
    pub fn tables(&self) -> &NetTables {
        self.tables.table()
    }

    /// Generation of the VIP/route snapshot as of the last refresh.
    #[inline]
    pub fn generation(&self) -> u64 {
        self.tables.generation()
    }

    /// The neighbour table.
    pub fn neigh(&self) -> &NeighTable {
        &self.neigh
    }

    /// The shared neighbour table itself (for the management side).
    pub fn neigh_handle(&self) -> Arc<NeighTable> {
        self.neigh.clone()
    }

    /// The route table (as of the last refresh).
    #[inline]
    pub fn routes(&self) -> &RouteTable {
        self.tables().routes()
    }

    /// The ports.
    pub fn ports(&self) -> &[PortNet] {
        &self.ports
    }

    /// True when `a` is a VIP of any port.
    #[inline]
    pub fn is_vip(&self, a: Ipv4Addr) -> bool {
        self.tables().is_vip(a)
    }

    /// True when `a` is one of the appliance's own addresses (on any port).
    pub fn is_local(&self, a: Ipv4Addr) -> bool {
        self.ports
            .iter()
            .any(|p| p.addrs.iter().any(|c| c.addr == a))
    }

    /// Handles one frame received on `in_port` at `now_secs`, rewriting it in place
    /// when it is answered or forwarded. Never panics, never allocates.
    pub fn handle<P: PacketBuf>(&self, in_port: PortIdx, pkt: &mut P, now_secs: u32) -> Verdict {
        self.handle_at(in_port, pkt, None, now_secs)
    }

    /// [`Net::handle`] for a frame whose IPv4 header the caller already parsed,
    /// checksum-verified and screened ([`Net::screen_ipv4`]): `ip`, from
    /// `LbPath::passed_ipv4` on a pass, the frame unchanged since. The header is then
    /// not verified nor screened again. With `None`, or a token for another offset,
    /// the appliance checks and screens the header itself.
    pub fn handle_at<P: PacketBuf>(
        &self,
        in_port: PortIdx,
        pkt: &mut P,
        ip: Option<Ipv4At>,
        now_secs: u32,
    ) -> Verdict {
        let Some(port) = self.ports.get(in_port as usize) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        let Ok(frame) = EthernetFrame::new_checked(pkt.data()) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        let dst = frame.dst_addr();
        if dst.is_unicast() && dst.0 != port.mac {
            return Verdict::Drop(DropReason::OtherHost);
        }
        let l3 = frame.l3();
        match l3.ethertype {
            EtherType::Arp => self.handle_arp(in_port, port, pkt, l3.l3_offset, now_secs),
            EtherType::Ipv4 => {
                // `screen`: no LB path screened this header, the appliance does.
                let (at, screen) = match ip {
                    Some(at) if at.l3() == l3.l3_offset => (at, false),
                    _ => match Ipv4At::check(pkt.data(), l3.l3_offset) {
                        Ok(at) => (at, true),
                        Err(_) => return Verdict::Drop(DropReason::Malformed),
                    },
                };
                // Nothing answered, routed or handed to the kernel carries more than
                // the datagram (a no-op after `LbPath::handle`, which trimmed already).
                if !at.trim(pkt) {
                    return Verdict::Drop(DropReason::Malformed);
                }
                if screen {
                    let screened = match at.view(pkt.data()) {
                        Ok(v) => self.screen_ipv4(&v).map(|_| ()),
                        Err(_) => Err(DropReason::Malformed),
                    };
                    if let Err(r) = screened {
                        return Verdict::Drop(r);
                    }
                }
                self.handle_ipv4(in_port, port, pkt, at, dst.is_unicast(), now_secs)
            }
            _ => Verdict::Drop(DropReason::UnknownEthertype),
        }
    }

    fn handle_arp<P: PacketBuf>(
        &self,
        in_port: PortIdx,
        port: &PortNet,
        pkt: &mut P,
        l3: usize,
        now_secs: u32,
    ) -> Verdict {
        let Some(bytes) = pkt.data().get(l3..) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        let Ok(arp) = ArpPacket::new_checked(bytes) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        let Ok(repr) = ArpRepr::parse(&arp) else {
            return Verdict::Drop(DropReason::Malformed);
        };
        let (sha, spa, tpa) = (
            repr.source_hardware_addr,
            repr.source_protocol_addr,
            repr.target_protocol_addr,
        );
        let for_us = port.is_local(tpa) || self.tables().is_vip_of(in_port, tpa);
        // Validate the sender before answering or learning anything from it.
        if !sha.is_unicast() || sha.0 == [0; 6] {
            return Verdict::Drop(DropReason::ArpBadSender);
        }
        if spa.is_unspecified() {
            // An RFC 5227 probe (duplicate address detection): answered for our own
            // addresses, so the prober sees they are taken (as Linux `arp_process`),
            // never learnt from.
            return match repr.operation {
                ArpOperation::Request if for_us => self.arp_reply(in_port, port, pkt, &repr),
                _ => Verdict::Drop(DropReason::ArpIgnored),
            };
        }
        // A subnet broadcast of any port or VLAN is no station (Linux `arp_process` ->
        // `fib_validate_source` finds RTN_BROADCAST): neither answered nor learnt,
        // whether request or reply (review finding 2).
        if martian::is_martian_source(spa) || self.is_any_subnet_broadcast(spa) {
            return Verdict::Drop(DropReason::MartianSource);
        }
        if self.is_local(spa) || self.is_vip(spa) {
            // Another station claims one of our addresses: an address conflict. No
            // reply, no learning; the management thread logs it.
            self.conflict.record(spa, sha.0);
            return Verdict::Drop(DropReason::ArpConflict);
        }
        // Learn on-link senders (requests to us, replies, gratuitous announcements),
        // as Linux does for its neighbours.
        if port.on_link(spa) && (for_us || spa == tpa || self.neigh_known(spa, now_secs)) {
            self.neigh.learn(spa, sha.0, now_secs);
        }
        match repr.operation {
            ArpOperation::Request if for_us && spa != tpa => {
                self.arp_reply(in_port, port, pkt, &repr)
            }
            ArpOperation::Reply if for_us && port.exception_path => Verdict::ToKernel,
            ArpOperation::Reply if for_us => Verdict::Consumed,
            _ => Verdict::Drop(DropReason::ArpIgnored),
        }
    }

    /// Answers ARP request `req` in place, from the port's MAC to the requester.
    fn arp_reply<P: PacketBuf>(
        &self,
        in_port: PortIdx,
        port: &PortNet,
        pkt: &mut P,
        req: &ArpRepr,
    ) -> Verdict {
        let reply = ArpRepr {
            operation: ArpOperation::Reply,
            source_hardware_addr: EthernetAddress(port.mac),
            source_protocol_addr: req.target_protocol_addr,
            target_hardware_addr: req.source_hardware_addr,
            target_protocol_addr: req.source_protocol_addr,
        };
        let eth = EthernetRepr {
            src_addr: EthernetAddress(port.mac),
            dst_addr: req.source_hardware_addr,
            ethertype: EtherType::Arp,
            vlan_tci: None,
        };
        if emit_arp(pkt, &eth, &reply).is_none() {
            return Verdict::Drop(DropReason::Malformed);
        }
        Verdict::Tx {
            port: in_port,
            kind: TxKind::ArpReply,
        }
    }

    fn neigh_known(&self, a: Ipv4Addr, now_secs: u32) -> bool {
        self.neigh.lookup_quiet(a, now_secs).is_some()
    }

    fn handle_ipv4<P: PacketBuf>(
        &self,
        in_port: PortIdx,
        port: &PortNet,
        pkt: &mut P,
        at: Ipv4At,
        unicast: bool,
        now_secs: u32,
    ) -> Verdict {
        let l3 = at.l3();
        let (dst, proto) = match at.view(pkt.data()) {
            Ok(ip) => (ip.dst_addr(), ip.protocol()),
            Err(_) => return Verdict::Drop(DropReason::Malformed),
        };
        if self.is_local(dst) {
            if proto == IpProtocol::Icmp {
                if let Some(v) = echo_reply(in_port, port, pkt, at) {
                    return v;
                }
            }
            return self.to_kernel(port);
        }
        if self.is_vip(dst) {
            // As a VIP on an LVS director's interface: it answers ping; anything else
            // the load balancer did not take (no service on that port) is dropped. The
            // load balancer takes only frames to our MAC (IPVS: PACKET_HOST), so one in
            // a broadcast or multicast frame has its own reason (review finding 11).
            if !unicast && proto != IpProtocol::Icmp {
                return Verdict::Drop(DropReason::NotUnicast);
            }
            if proto == IpProtocol::Icmp {
                if let Some(v) = echo_reply(in_port, port, pkt, at) {
                    return v;
                }
            }
            return Verdict::Drop(DropReason::NoService);
        }
        // A directed broadcast to any connected subnet (this port's or another's) is
        // RTN_BROADCAST, delivered locally and never forwarded (Linux bc_forwarding = 0,
        // RFC 2644 / BCP 34): never resolved, never held (review finding 2).
        if !unicast || dst.is_broadcast() || dst.is_multicast() || self.is_any_subnet_broadcast(dst)
        {
            return self.to_kernel(port);
        }
        // Transit: not for us, not load-balancer traffic. Routed only as the operator
        // chose (`transit`); without a route at all it stays `drop_no_route`.
        let mut note = None;
        if self.transit.mode() != TransitMode::All {
            if let Some(nh) = self.routes().lookup(dst) {
                let ip = pkt.data().get(l3..).unwrap_or_default();
                match self.transit.judge(in_port, nh.port, ip, now_secs) {
                    Decision::Drop => return Verdict::Drop(DropReason::Transit),
                    Decision::Route => {}
                    Decision::RouteAndNote(h) => note = Some(h),
                }
            }
        }
        if let Some(v) = self.time_exceeded(in_port, port, pkt, at, dst, now_secs) {
            return v;
        }
        if let Some(v) = self.frag_needed(in_port, port, pkt, at, dst, now_secs) {
            return v;
        }
        let v = self.forward(pkt, l3, dst, now_secs);
        // An outbound flow is noted only once its packet is on its way (sent or held
        // for ARP): nothing that dropped it leaves state behind.
        if let (Some(h), Verdict::Tx { .. } | Verdict::Hold { .. }) = (note, &v) {
            self.transit.note(h, now_secs);
        }
        v
    }

    /// Takes one token of this view's ICMP error budget at `now_secs`.
    fn icmp_allow(&self, now_secs: u32) -> bool {
        let mut l = self.icmp_limit.get();
        let ok = l.allow(now_secs);
        self.icmp_limit.set(l);
        ok
    }

    /// A transit packet with a route whose TTL would reach 0 (TTL <= 1): ICMP time
    /// exceeded back to its sender, as Linux's `ip_forward` (RFC 1812 5.3.1 MUST; the
    /// TTL is checked before the MTU, review finding 3), from this port's address
    /// toward the sender (`icmp_send`'s route source), or `drop_ttl_exceeded` where no
    /// ICMP error may be sent about it (RFC 1812 4.3.2.7) or this second's budget is
    /// spent (`icmp_limit`). `None`: not the case (TTL left, or no route:
    /// `drop_no_route` later).
    fn time_exceeded<P: PacketBuf>(
        &self,
        in_port: PortIdx,
        port: &PortNet,
        pkt: &mut P,
        at: Ipv4At,
        dst: Ipv4Addr,
        now_secs: u32,
    ) -> Option<Verdict> {
        self.routes().lookup(dst)?;
        let (sender, ident) = {
            let ip = at.view(pkt.data()).ok()?;
            if ip.ttl() > 1 {
                return None;
            }
            if !crate::wire::icmp::may_send_error_about(&ip) || !self.icmp_allow(now_secs) {
                return Some(Verdict::Drop(DropReason::TtlExceeded));
            }
            (ip.src_addr(), ip.ident())
        };
        let Some(src) = port.source_for(sender) else {
            return Some(Verdict::Drop(DropReason::TtlExceeded));
        };
        let err = crate::wire::IcmpError::ttl_exceeded();
        Some(
            match crate::lb::xform::frag::send_back_error(pkt, at.l3(), err, src, ident) {
                crate::lb::xform::Verdict::Drop(r) => Verdict::Drop(r),
                _ => Verdict::Tx {
                    port: in_port,
                    kind: TxKind::TimeExceeded,
                },
            },
        )
    }

    /// A transit packet with DF set that is longer than its egress port's MTU: ICMP
    /// frag-needed with that MTU back to its sender, as Linux's `ip_forward` (checked
    /// after the TTL, before the decrement, so the quote keeps the TTL as received),
    /// from this port's address toward the sender (`icmp_send`'s route source), or a
    /// drop where no ICMP error may be sent about it (RFC 1812 4.3.2.7) or this second's
    /// budget is spent (`icmp_limit`). `None`: not the
    /// case (fits, DF clear: fragmented later, TTL expiring, no route).
    fn frag_needed<P: PacketBuf>(
        &self,
        in_port: PortIdx,
        port: &PortNet,
        pkt: &mut P,
        at: Ipv4At,
        dst: Ipv4Addr,
        now_secs: u32,
    ) -> Option<Verdict> {
        let out = self.routes().lookup(dst)?;
        let mtu = self.ports.get(out.port as usize)?.mtu;
        let (sender, ident) = {
            let ip = at.view(pkt.data()).ok()?;
            if u32::from(ip.total_len()) <= u32::from(mtu) || !ip.dont_frag() || ip.ttl() <= 1 {
                return None;
            }
            if !crate::wire::icmp::may_send_error_about(&ip) || !self.icmp_allow(now_secs) {
                return Some(Verdict::Drop(DropReason::TooBig));
            }
            (ip.src_addr(), ip.ident())
        };
        let src = port.source_for(sender)?;
        let err = crate::wire::IcmpError::frag_needed(mtu);
        // The ICMP's own ident: the offending packet's (a 576-byte error is never
        // fragmented, so any value will do; this one costs no state).
        Some(
            match crate::lb::xform::frag::send_back_error(pkt, at.l3(), err, src, ident) {
                crate::lb::xform::Verdict::Drop(r) => Verdict::Drop(r),
                _ => Verdict::Tx {
                    port: in_port,
                    kind: TxKind::FragNeeded,
                },
            },
        )
    }

    fn to_kernel(&self, port: &PortNet) -> Verdict {
        if port.exception_path {
            Verdict::ToKernel
        } else {
            Verdict::Drop(DropReason::NoExceptionPath)
        }
    }

    /// Routes a transit packet: longest-prefix match, next-hop MAC, TTL decrement.
    /// With the next hop unresolved the packet is to be held ([`Verdict::Hold`]).
    pub fn forward<P: PacketBuf>(
        &self,
        pkt: &mut P,
        l3: usize,
        dst: Ipv4Addr,
        now_secs: u32,
    ) -> Verdict {
        self.send_toward(pkt, l3, dst, now_secs, true, TxKind::Forward)
    }

    /// Sends a packet the load balancer already rewrote toward `dst` (the real server,
    /// the tunnel endpoint or the client): route, next-hop MAC, Ethernet addresses; the
    /// IP header is left as the transform made it.
    pub fn send_lb<P: PacketBuf>(
        &self,
        pkt: &mut P,
        dst: Ipv4Addr,
        now_secs: u32,
        kind: TxKind,
    ) -> Verdict {
        self.send_toward(pkt, 0, dst, now_secs, false, kind)
    }

    fn send_toward<P: PacketBuf>(
        &self,
        pkt: &mut P,
        l3: usize,
        dst: Ipv4Addr,
        now_secs: u32,
        decrement_ttl: bool,
        kind: TxKind,
    ) -> Verdict {
        let (port, port_mac, mac, hold) = match self.resolve(dst, now_secs) {
            Resolution::NoRoute => return Verdict::Drop(DropReason::NoRoute),
            Resolution::Ready {
                port,
                port_mac,
                mac,
                ..
            } => (port, port_mac, mac, None),
            Resolution::Hold {
                port,
                port_mac,
                next_hop,
                request,
            } => (port, port_mac, [0; 6], Some((next_hop, request))),
        };
        if decrement_ttl {
            let Some(bytes) = pkt.data_mut().get_mut(l3..) else {
                return Verdict::Drop(DropReason::Malformed);
            };
            let mut ip = Ipv4Packet::new_unchecked(bytes);
            if ip.ttl() <= 1 {
                return Verdict::Drop(DropReason::TtlExceeded);
            }
            ip.decrement_ttl();
        }
        // Longer than the egress MTU (Linux's `ip_forward` → `ip_exceeds_mtu`): DF clear
        // is fragmented by the worker; DF set was answered by `frag_needed` already
        // (what reaches here with DF is dropped).
        let mtu = self.ports.get(port as usize).map_or(0, |p| p.mtu);
        let too_big = decrement_ttl && crate::wire::fragment::exceeds_mtu(pkt.data(), l3, mtu);
        if too_big && pkt.data().get(l3 + 6).is_some_and(|b| b & 0x40 != 0) {
            return Verdict::Drop(DropReason::TooBig);
        }
        if pkt.data().len() < crate::wire::ethernet::HEADER_LEN {
            return Verdict::Drop(DropReason::Malformed);
        }
        let mut frame = EthernetFrame::new_unchecked(pkt.data_mut());
        frame.set_dst_addr(EthernetAddress(mac));
        frame.set_src_addr(EthernetAddress(port_mac));
        if too_big {
            return Verdict::Fragment { port, mtu, hold };
        }
        match hold {
            None => Verdict::Tx { port, kind },
            Some((next_hop, request)) => Verdict::Hold {
                port,
                next_hop,
                request,
            },
        }
    }

    /// Writes an ARP request for `target` out of `port` into `pkt` (a fresh buffer):
    /// broadcast when `mac` is `None` (resolution), else unicast to the known MAC (a
    /// reachability probe, as Linux's PROBE state sends). False when the port is
    /// unknown or has no address to ask from.
    pub fn arp_request<P: PacketBuf>(
        &self,
        pkt: &mut P,
        port: PortIdx,
        target: Ipv4Addr,
        mac: Option<[u8; 6]>,
    ) -> bool {
        let Some(out) = self.ports.get(port as usize) else {
            return false;
        };
        let Some(src) = out.source_for(target) else {
            return false;
        };
        let req = ArpRepr {
            operation: ArpOperation::Request,
            source_hardware_addr: EthernetAddress(out.mac),
            source_protocol_addr: src,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: target,
        };
        let eth = EthernetRepr {
            src_addr: EthernetAddress(out.mac),
            dst_addr: mac.map_or(EthernetAddress::BROADCAST, EthernetAddress),
            ethertype: EtherType::Arp,
            vlan_tci: None,
        };
        emit_arp(pkt, &eth, &req).is_some()
    }

    /// Builds a gratuitous ARP (an announcement of `addr` at the port's MAC) into `pkt`.
    pub fn gratuitous_arp<P: PacketBuf>(&self, pkt: &mut P, port: PortIdx, addr: Ipv4Addr) -> bool {
        let Some(out) = self.ports.get(port as usize) else {
            return false;
        };
        let req = ArpRepr {
            operation: ArpOperation::Request,
            source_hardware_addr: EthernetAddress(out.mac),
            source_protocol_addr: addr,
            target_hardware_addr: EthernetAddress([0; 6]),
            target_protocol_addr: addr,
        };
        let eth = EthernetRepr {
            src_addr: EthernetAddress(out.mac),
            dst_addr: EthernetAddress::BROADCAST,
            ethertype: EtherType::Arp,
            vlan_tci: None,
        };
        emit_arp(pkt, &eth, &req).is_some()
    }
}

/// Writes an Ethernet + ARP frame over the whole packet, resizing it.
fn emit_arp<P: PacketBuf>(pkt: &mut P, eth: &EthernetRepr, arp: &ArpRepr) -> Option<()> {
    let hl = eth.header_len();
    if !pkt.set_len(hl + crate::wire::arp::PACKET_LEN) {
        return None;
    }
    let buf = pkt.data_mut();
    eth.emit(buf).ok()?;
    arp.emit(buf.get_mut(hl..)?).ok()?;
    Some(())
}

/// Turns an ICMP echo request to a local address into the reply, in place: addresses
/// swapped, type 0, checksums updated, MACs swapped. `None` when it is not an echo
/// request (the kernel may want it). Only a well-formed request is answered: one with
/// IP options is dropped (`drop_ip_options`: a reply would have to reverse them, see
/// `ip_options`), one whose ICMP checksum is wrong too (`drop_bad_icmp_checksum`).
/// Requests to broadcast or multicast destinations never get here (`handle_ipv4`
/// hands them to the kernel, which ignores them: `icmp_echo_ignore_broadcasts`).
fn echo_reply<P: PacketBuf>(
    in_port: PortIdx,
    port: &PortNet,
    pkt: &mut P,
    at: Ipv4At,
) -> Option<Verdict> {
    // The header's lengths as `handle_ipv4` validated them (no new parse), so the
    // mutable view below stays inside the buffer.
    at.view(pkt.data()).ok()?;
    let data = pkt.data_mut();
    let (eth_hdr, rest) = data.split_at_mut(at.l3());
    let mut ip = Ipv4Packet::new_unchecked(&mut rest[..]);
    if ip.is_fragment() {
        return None;
    }
    let (src, dst) = (ip.src_addr(), ip.dst_addr());
    let has_options = ip.header_len() != crate::wire::ipv4::MIN_HEADER_LEN;
    {
        let payload = ip.payload_mut();
        let Ok(mut icmp) = IcmpPacket::new_checked(&mut payload[..]) else {
            // Shorter than an ICMP header: nobody can make sense of it.
            return Some(Verdict::Drop(DropReason::Malformed));
        };
        if icmp.msg_type() != IcmpType::EchoRequest {
            return None;
        }
        if has_options {
            return Some(Verdict::Drop(DropReason::IpOptions));
        }
        if !icmp.verify_checksum() {
            return Some(Verdict::Drop(DropReason::BadIcmpChecksum));
        }
        icmp.make_echo_reply().ok()?;
    }
    ip.set_src_addr(dst);
    ip.set_dst_addr(src);
    ip.set_ttl(REPLY_TTL);
    let mut eth = EthernetFrame::new_unchecked(&mut eth_hdr[..]);
    let peer = eth.src_addr();
    eth.set_dst_addr(peer);
    eth.set_src_addr(EthernetAddress(port.mac));
    Some(Verdict::Tx {
        port: in_port,
        kind: TxKind::EchoReply,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::net::route::Route;
    use crate::snapshot::Publisher;
    use crate::wire::HeadroomBuf;

    const OUR_MAC: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const CLIENT_MAC: [u8; 6] = [2, 0, 0, 0, 0, 2];

    /// scapy: Ether(dst=bcast, src=02:..:02)/ARP(op=1, hwsrc=02:..:02, psrc=203.0.113.2, pdst=203.0.113.1)
    const ARP_REQUEST: [u8; 42] = [
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x06, 0x00,
        0x01, 0x08, 0x00, 0x06, 0x04, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0xcb, 0x00,
        0x71, 0x02, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xcb, 0x00, 0x71, 0x01,
    ];
    /// scapy: Ether(dst=02:..:01, src=02:..:02)/IP(src=203.0.113.2, dst=203.0.113.1, id=1)/ICMP(id=7, seq=1)/b"rvs-ping"
    const PING: [u8; 50] = [
        0x02, 0x00, 0x00, 0x00, 0x00, 0x01, 0x02, 0x00, 0x00, 0x00, 0x00, 0x02, 0x08, 0x00, 0x45,
        0x00, 0x00, 0x24, 0x00, 0x01, 0x00, 0x00, 0x40, 0x01, 0x02, 0xd4, 0xcb, 0x00, 0x71, 0x02,
        0xcb, 0x00, 0x71, 0x01, 0x08, 0x00, 0x33, 0x83, 0x00, 0x07, 0x00, 0x01, 0x72, 0x76, 0x73,
        0x2d, 0x70, 0x69, 0x6e, 0x67,
    ];

    fn net(exception_path: bool) -> Net {
        let port = PortNet {
            mac: OUR_MAC,
            addrs: vec!["203.0.113.1/24".parse().unwrap()],
            exception_path,
            mtu: 1500,
        };
        let port1 = PortNet {
            mac: [2, 0, 0, 0, 1, 1],
            addrs: vec!["192.0.2.1/24".parse().unwrap()],
            exception_path: false,
            mtu: 1500,
        };
        let routes = vec![
            Route {
                prefix: "203.0.113.0/24".parse().unwrap(),
                via: None,
                port: 0,
            },
            Route {
                prefix: "192.0.2.0/24".parse().unwrap(),
                via: None,
                port: 1,
            },
            Route {
                prefix: "198.51.100.0/24".parse().unwrap(),
                via: Some(Ipv4Addr::new(192, 0, 2, 254)),
                port: 1,
            },
        ];
        let mut tables = NetTables::new(2, routes);
        tables.add_vip(0, Ipv4Addr::new(203, 0, 113, 10), 0);
        // The reader keeps its snapshot alive after the publisher is gone.
        Net::new(vec![port, port1], Publisher::new(tables).reader())
    }

    #[test]
    fn arp_request_for_local_address_is_answered_in_place_and_sender_learnt() {
        let n = net(true);
        let mut b = HeadroomBuf::new(&ARP_REQUEST);
        assert_eq!(
            n.handle(0, &mut b, 1),
            Verdict::Tx {
                port: 0,
                kind: TxKind::ArpReply
            }
        );
        let f = EthernetFrame::new_checked(b.data()).unwrap();
        assert_eq!(f.dst_addr().0, CLIENT_MAC);
        assert_eq!(f.src_addr().0, OUR_MAC);
        let r = ArpRepr::parse(&ArpPacket::new_checked(&b.data()[14..]).unwrap()).unwrap();
        assert_eq!(r.operation, ArpOperation::Reply);
        assert_eq!(r.source_hardware_addr.0, OUR_MAC);
        assert_eq!(r.source_protocol_addr, Ipv4Addr::new(203, 0, 113, 1));
        assert_eq!(r.target_protocol_addr, Ipv4Addr::new(203, 0, 113, 2));
        assert_eq!(
            n.neigh().lookup_quiet(Ipv4Addr::new(203, 0, 113, 2), 1),
            Some(CLIENT_MAC)
        );
    }

    #[test]
    fn arp_request_for_vip_is_answered_and_for_others_ignored() {
        let n = net(false);
        let mut req = ARP_REQUEST;
        req[41] = 10; // pdst 203.0.113.10, the VIP
        let mut b = HeadroomBuf::new(&req);
        assert_eq!(
            n.handle(0, &mut b, 1),
            Verdict::Tx {
                port: 0,
                kind: TxKind::ArpReply
            }
        );
        req[41] = 99;
        let mut b = HeadroomBuf::new(&req);
        assert_eq!(
            n.handle(0, &mut b, 1),
            Verdict::Drop(DropReason::ArpIgnored)
        );
    }

    #[test]
    fn vip_answers_ping_and_drops_what_no_service_takes() {
        let n = net(true);
        let mut p = PING;
        p[33] = 10; // dst 203.0.113.10, the VIP
        Ipv4Packet::new_unchecked(&mut p[14..34]).fill_checksum();
        let mut b = HeadroomBuf::new(&p);
        assert_eq!(
            n.handle(0, &mut b, 1),
            Verdict::Tx {
                port: 0,
                kind: TxKind::EchoReply
            }
        );
        let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
        assert_eq!(ip.src_addr(), Ipv4Addr::new(203, 0, 113, 10));
        let mut t = p;
        t[23] = 17; // UDP to the VIP, no service
        Ipv4Packet::new_unchecked(&mut t[14..34]).fill_checksum();
        assert_eq!(
            n.handle(0, &mut HeadroomBuf::new(&t), 1),
            Verdict::Drop(DropReason::NoService)
        );
    }

    #[test]
    fn echo_request_becomes_a_valid_reply() {
        let n = net(true);
        let mut b = HeadroomBuf::new(&PING);
        assert_eq!(
            n.handle(0, &mut b, 1),
            Verdict::Tx {
                port: 0,
                kind: TxKind::EchoReply
            }
        );
        let f = EthernetFrame::new_checked(b.data()).unwrap();
        assert_eq!(f.dst_addr().0, CLIENT_MAC);
        let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
        assert!(ip.verify_checksum());
        assert_eq!(ip.src_addr(), Ipv4Addr::new(203, 0, 113, 1));
        assert_eq!(ip.dst_addr(), Ipv4Addr::new(203, 0, 113, 2));
        let icmp = IcmpPacket::new_checked(ip.payload()).unwrap();
        assert_eq!(icmp.msg_type(), IcmpType::EchoReply);
        assert!(icmp.verify_checksum());
        assert_eq!(icmp.payload(), b"rvs-ping");
    }

    #[test]
    fn other_local_traffic_goes_to_the_kernel_or_is_counted_without_exception_path() {
        let mut tcp = PING;
        tcp[23] = 6; // protocol TCP (checksum now wrong: fix it)
        let mut ip = Ipv4Packet::new_unchecked(&mut tcp[14..34]);
        ip.fill_checksum();
        assert_eq!(
            net(true).handle(0, &mut HeadroomBuf::new(&tcp), 1),
            Verdict::ToKernel
        );
        assert_eq!(
            net(false).handle(0, &mut HeadroomBuf::new(&tcp), 1),
            Verdict::Drop(DropReason::NoExceptionPath)
        );
    }

    /// A subnet broadcast of any port is never a neighbour (ARP sender: martian, not
    /// learnt) and never routed (a directed broadcast goes to the kernel, or is counted
    /// without an exception path), review finding 2 (Linux: RTN_BROADCAST,
    /// bc_forwarding = 0, RFC 2644).
    #[test]
    fn subnet_broadcasts_are_neither_neighbours_nor_routed() {
        let n = net(false);
        // ARP on port 0 from 192.0.2.255, port 1's subnet broadcast.
        let mut a = ARP_REQUEST;
        a[28..32].copy_from_slice(&[192, 0, 2, 255]);
        let mut b = HeadroomBuf::new(&a);
        assert_eq!(
            n.handle(0, &mut b, 1),
            Verdict::Drop(DropReason::MartianSource)
        );
        assert!(n
            .neigh()
            .lookup_quiet(Ipv4Addr::new(192, 0, 2, 255), 1)
            .is_none());
        // A ping from port 0 to port 1's subnet broadcast: not resolved, not held.
        let mut p = PING;
        p[30..34].copy_from_slice(&[192, 0, 2, 255]);
        Ipv4Packet::new_unchecked(&mut p[14..34]).fill_checksum();
        let mut b = HeadroomBuf::new(&p);
        assert_eq!(
            n.handle(0, &mut b, 1),
            Verdict::Drop(DropReason::NoExceptionPath)
        );
    }

    #[test]
    fn transit_packet_waits_for_arp_then_is_routed_with_ttl_decremented() {
        let n = net(true);
        let mut p = PING;
        p[33] = 50; // dst 203.0.113.50 -> ... reroute to 198.51.100.7 below
        p[30..34].copy_from_slice(&[198, 51, 100, 7]);
        Ipv4Packet::new_unchecked(&mut p[14..34]).fill_checksum();
        let mut b = HeadroomBuf::new(&p);
        let gw = Ipv4Addr::new(192, 0, 2, 254);
        // First packet: next hop 192.0.2.254 unknown -> routed but held (zero destination
        // MAC), and this caller sends the request.
        assert_eq!(
            n.handle(0, &mut b, 1),
            Verdict::Hold {
                port: 1,
                next_hop: gw,
                request: true
            }
        );
        let f = EthernetFrame::new_checked(b.data()).unwrap();
        assert_eq!(f.dst_addr().0, [0; 6]);
        assert_eq!(f.src_addr().0, [2, 0, 0, 0, 1, 1]);
        assert_eq!(Ipv4Packet::new_checked(&b.data()[14..]).unwrap().ttl(), 63);
        // The broadcast request it asks for, from the port's own address.
        let mut r = HeadroomBuf::new(&[]);
        assert!(n.arp_request(&mut r, 1, gw, None));
        let f = EthernetFrame::new_checked(r.data()).unwrap();
        assert_eq!(f.dst_addr(), EthernetAddress::BROADCAST);
        let req = ArpRepr::parse(&ArpPacket::new_checked(&r.data()[14..]).unwrap()).unwrap();
        assert_eq!(req.operation, ArpOperation::Request);
        assert_eq!(req.target_protocol_addr, gw);
        assert_eq!(req.source_protocol_addr, Ipv4Addr::new(192, 0, 2, 1));
        // A probe goes unicast to the known MAC.
        assert!(n.arp_request(&mut r, 1, gw, Some([2, 0, 0, 0, 2, 0x54])));
        assert_eq!(
            EthernetFrame::new_checked(r.data()).unwrap().dst_addr().0,
            [2, 0, 0, 0, 2, 0x54]
        );
        // Second packet in the same second: held, no second request.
        assert_eq!(
            n.handle(0, &mut HeadroomBuf::new(&p), 1),
            Verdict::Hold {
                port: 1,
                next_hop: gw,
                request: false
            }
        );
        n.neigh()
            .learn(Ipv4Addr::new(192, 0, 2, 254), [2, 0, 0, 0, 2, 0x54], 1);
        let mut b = HeadroomBuf::new(&p);
        assert_eq!(
            n.handle(0, &mut b, 1),
            Verdict::Tx {
                port: 1,
                kind: TxKind::Forward
            }
        );
        let ip = Ipv4Packet::new_checked(&b.data()[14..]).unwrap();
        assert_eq!(ip.ttl(), 63);
        assert!(ip.verify_checksum());
        assert_eq!(
            EthernetFrame::new_checked(b.data()).unwrap().dst_addr().0,
            [2, 0, 0, 0, 2, 0x54]
        );
        // TTL 1 is not forwarded: ICMP time exceeded goes back out of the receiving
        // port (RFC 1812 5.3.1); an unroutable destination is dropped.
        let mut t = p;
        t[22] = 1;
        Ipv4Packet::new_unchecked(&mut t[14..34]).fill_checksum();
        assert_eq!(
            n.handle(0, &mut HeadroomBuf::new(&t), 1),
            Verdict::Tx {
                port: 0,
                kind: TxKind::TimeExceeded
            }
        );
        // Rate-limited like the other replies: the rest of this second's budget, then
        // drop_ttl_exceeded until the next second.
        let te = Verdict::Tx {
            port: 0,
            kind: TxKind::TimeExceeded,
        };
        for _ in 1..crate::lb::xform::reply::REPLIES_PER_SEC {
            assert_eq!(n.handle(0, &mut HeadroomBuf::new(&t), 1), te);
        }
        assert_eq!(
            n.handle(0, &mut HeadroomBuf::new(&t), 1),
            Verdict::Drop(DropReason::TtlExceeded)
        );
        assert_eq!(n.handle(0, &mut HeadroomBuf::new(&t), 2), te);
        let mut u = p;
        u[30..34].copy_from_slice(&[8, 8, 8, 8]);
        Ipv4Packet::new_unchecked(&mut u[14..34]).fill_checksum();
        assert_eq!(
            n.handle(0, &mut HeadroomBuf::new(&u), 1),
            Verdict::Drop(DropReason::NoRoute)
        );
    }

    /// `PING` with `opts` as IP options (IHL grown to fit), checksums right.
    fn ping_with_options(opts: &[u8]) -> Vec<u8> {
        let mut f = PING[..34].to_vec();
        f.extend_from_slice(opts);
        f.extend_from_slice(&PING[34..]);
        let hl = 20 + opts.len();
        f[14] = 0x40 | (hl / 4) as u8;
        f[16..18].copy_from_slice(&((hl + 16) as u16).to_be_bytes());
        Ipv4Packet::new_unchecked(&mut f[14..14 + hl]).fill_checksum();
        f
    }

    #[test]
    fn screen_refuses_martians_ours_and_bad_options() {
        let n = net(false);
        let screen = |src: [u8; 4], dst: [u8; 4], opts: &[u8]| {
            let mut f = ping_with_options(opts);
            f[26..30].copy_from_slice(&src);
            f[30..34].copy_from_slice(&dst);
            n.screen_ipv4(&Ipv4Packet::new_checked(&f[14..]).unwrap())
        };
        let (c, l) = ([203, 0, 113, 2], [203, 0, 113, 1]);
        assert_eq!(screen(c, l, &[]), Ok(Options::None));
        assert_eq!(screen(c, l, &[0x94, 4, 0, 0]), Ok(Options::Present));
        for src in [
            [127, 0, 0, 1],
            [0, 0, 0, 0],
            [224, 0, 0, 1],
            [255; 4],
            l,
            [203, 0, 113, 10],
            [203, 0, 113, 255],
            [192, 0, 2, 1],
        ] {
            assert_eq!(
                screen(src, l, &[]),
                Err(DropReason::MartianSource),
                "{src:?}"
            );
        }
        // A zero-network source is allowed toward link-local groups (Linux
        // `ip_route_input_mc`): hosts send IGMP reports before they have an address.
        assert_eq!(screen([0; 4], [224, 0, 0, 22], &[]), Ok(Options::None));
        assert_eq!(
            screen([0; 4], [239, 1, 2, 3], &[]),
            Err(DropReason::MartianSource)
        );
        for dst in [[127, 0, 0, 1], [0, 0, 0, 0], [0, 9, 9, 9]] {
            assert_eq!(
                screen(c, dst, &[]),
                Err(DropReason::MartianDestination),
                "{dst:?}"
            );
        }
        assert_eq!(
            screen(c, l, &[0x94, 0, 0, 0]),
            Err(DropReason::BadIpOptions)
        );
        assert_eq!(screen(c, l, &[0x83, 3, 4, 0]), Err(DropReason::SourceRoute));
        // The appliance screens what it parses itself.
        let mut f = PING;
        f[26..30].copy_from_slice(&[127, 0, 0, 1]);
        Ipv4Packet::new_unchecked(&mut f[14..34]).fill_checksum();
        assert_eq!(
            n.handle(0, &mut HeadroomBuf::new(&f), 1),
            Verdict::Drop(DropReason::MartianSource)
        );
    }

    #[test]
    fn echo_is_answered_only_when_well_formed() {
        let n = net(true);
        let drop = |f: &[u8]| n.handle(0, &mut HeadroomBuf::new(f), 1);
        // Options: well formed -> not answered; malformed or source route -> screened.
        assert_eq!(
            drop(&ping_with_options(&[0x94, 4, 0, 0])),
            Verdict::Drop(DropReason::IpOptions)
        );
        assert_eq!(
            drop(&ping_with_options(&[0x94, 0, 0, 0])),
            Verdict::Drop(DropReason::BadIpOptions)
        );
        assert_eq!(
            drop(&ping_with_options(&[0x89, 7, 4, 192, 0, 2, 9, 0])),
            Verdict::Drop(DropReason::SourceRoute)
        );
        let mut bad = PING;
        bad[36] ^= 0xff; // ICMP checksum
        assert_eq!(drop(&bad), Verdict::Drop(DropReason::BadIcmpChecksum));
        let mut short = PING[..34 + 4].to_vec();
        short[16..18].copy_from_slice(&24u16.to_be_bytes());
        Ipv4Packet::new_unchecked(&mut short[14..34]).fill_checksum();
        assert_eq!(drop(&short), Verdict::Drop(DropReason::Malformed));
    }

    #[test]
    fn arp_from_a_conflicting_or_non_unicast_sender_is_not_answered_nor_learnt() {
        let n = net(false);
        let slot = n.conflict_slot();
        // Someone else claims our address 203.0.113.1, asking for the VIP.
        let mut req = ARP_REQUEST;
        req[28..32].copy_from_slice(&[203, 0, 113, 1]);
        req[41] = 10;
        assert_eq!(
            n.handle(0, &mut HeadroomBuf::new(&req), 1),
            Verdict::Drop(DropReason::ArpConflict)
        );
        assert_eq!(
            slot.last(),
            Some((Ipv4Addr::new(203, 0, 113, 1), CLIENT_MAC))
        );
        assert_eq!(
            n.neigh().lookup_quiet(Ipv4Addr::new(203, 0, 113, 1), 1),
            None
        );
        // A multicast or zero sender hardware address: no reply, not learnt.
        for sha in [[1, 0, 0x5e, 0, 0, 1], [0; 6], [0xff; 6]] {
            let mut req = ARP_REQUEST;
            req[22..28].copy_from_slice(&sha);
            assert_eq!(
                n.handle(0, &mut HeadroomBuf::new(&req), 1),
                Verdict::Drop(DropReason::ArpBadSender)
            );
        }
        assert_eq!(
            n.neigh().lookup_quiet(Ipv4Addr::new(203, 0, 113, 2), 1),
            None
        );
        // A martian sender address.
        let mut req = ARP_REQUEST;
        req[28..32].copy_from_slice(&[127, 0, 0, 1]);
        assert_eq!(
            n.handle(0, &mut HeadroomBuf::new(&req), 1),
            Verdict::Drop(DropReason::MartianSource)
        );
        // An RFC 5227 probe (sender 0.0.0.0) for our address is answered, not learnt.
        let mut req = ARP_REQUEST;
        req[28..32].copy_from_slice(&[0; 4]);
        let mut b = HeadroomBuf::new(&req);
        assert_eq!(
            n.handle(0, &mut b, 1),
            Verdict::Tx {
                port: 0,
                kind: TxKind::ArpReply
            }
        );
        let r = ArpRepr::parse(&ArpPacket::new_checked(&b.data()[14..]).unwrap()).unwrap();
        assert_eq!(r.target_protocol_addr, Ipv4Addr::UNSPECIFIED);
        assert_eq!(r.target_hardware_addr.0, CLIENT_MAC);
        assert_eq!(n.neigh().lookup_quiet(Ipv4Addr::UNSPECIFIED, 1), None);
    }

    #[test]
    fn transit_is_routed_as_the_policy_says() {
        use crate::net::{Transit, TransitMode};
        // A UDP-less IPv4 packet (the PING) from `src` to `dst` received on port `p`.
        let frame = |p: usize, src: [u8; 4], dst: [u8; 4]| {
            let mut f = PING;
            if p == 1 {
                f[..6].copy_from_slice(&[2, 0, 0, 0, 1, 1]);
            }
            f[26..30].copy_from_slice(&src);
            f[30..34].copy_from_slice(&dst);
            Ipv4Packet::new_unchecked(&mut f[14..34]).fill_checksum();
            f
        };
        let inside_out = frame(1, [192, 0, 2, 5], [203, 0, 113, 7]);
        let outside_in = frame(0, [203, 0, 113, 2], [192, 0, 2, 5]);
        let inside_inside = frame(1, [192, 0, 2, 5], [198, 51, 100, 7]);
        let no_route = frame(1, [192, 0, 2, 5], [8, 8, 8, 8]);
        // The echo reply to `inside_out` (same identifier), from outside.
        let mut reply = frame(0, [203, 0, 113, 7], [192, 0, 2, 5]);
        reply[34] = 0;
        let routed = |v: Verdict| matches!(v, Verdict::Tx { .. } | Verdict::Hold { .. });
        let transit = Verdict::Drop(DropReason::Transit);
        for (mode, want) in [
            (TransitMode::None, [false, false, false]),
            (TransitMode::Outbound, [true, false, false]),
            (TransitMode::All, [true, true, true]),
        ] {
            // Port 1 (192.0.2.1/24) is inside.
            let n = net(false).with_transit(Transit::new(mode, vec![false, true]));
            // Every view of it (the other workers') has the same policy.
            let mut p = Publisher::new(NetTables::new(2, Vec::new()));
            assert_eq!(n.view(p.reader()).transit().mode(), mode);
            // A reply to nothing yet: only "all" routes it.
            let v = n.handle(0, &mut HeadroomBuf::new(&reply), 1);
            assert_eq!(routed(v), mode == TransitMode::All, "{mode:?}: {v:?}");
            for (f, ok) in [&inside_out, &outside_in, &inside_inside]
                .into_iter()
                .zip(want)
            {
                let p = if f[0..6] == OUR_MAC { 0 } else { 1 };
                let v = n.handle(p, &mut HeadroomBuf::new(f), 1);
                assert!(if ok { routed(v) } else { v == transit }, "{mode:?}: {v:?}");
            }
            // After `inside_out` went out, its reply comes back, on another worker's
            // view too, with "outbound" (stateful) as with "all".
            let to_inside = Route {
                prefix: "192.0.2.0/24".parse().unwrap(),
                via: None,
                port: 1,
            };
            let mut p = Publisher::new(NetTables::new(2, vec![to_inside]));
            let other = n.view(p.reader());
            let v = other.handle(0, &mut HeadroomBuf::new(&reply), 2);
            assert_eq!(routed(v), mode != TransitMode::None, "{mode:?}: {v:?}");
            // No route is no route, whatever the policy; our own traffic is not transit.
            assert_eq!(
                n.handle(1, &mut HeadroomBuf::new(&no_route), 1),
                Verdict::Drop(DropReason::NoRoute)
            );
            assert_eq!(
                n.handle(0, &mut HeadroomBuf::new(&PING), 1),
                Verdict::Tx {
                    port: 0,
                    kind: TxKind::EchoReply
                }
            );
        }
    }

    #[test]
    fn foreign_unicast_malformed_and_non_ip_frames_are_dropped_with_reasons() {
        let n = net(true);
        let mut other = PING;
        other[5] = 0x77;
        assert_eq!(
            n.handle(0, &mut HeadroomBuf::new(&other), 1),
            Verdict::Drop(DropReason::OtherHost)
        );
        let mut v6 = PING;
        v6[12..14].copy_from_slice(&[0x86, 0xdd]);
        assert_eq!(
            n.handle(0, &mut HeadroomBuf::new(&v6), 1),
            Verdict::Drop(DropReason::UnknownEthertype)
        );
        let mut bad = PING;
        bad[24] ^= 0xff; // IPv4 header checksum
        assert_eq!(
            n.handle(0, &mut HeadroomBuf::new(&bad), 1),
            Verdict::Drop(DropReason::Malformed)
        );
        for len in 0..PING.len() {
            let _ = n.handle(0, &mut HeadroomBuf::new(&PING[..len]), 1);
            let _ = n.handle(0, &mut HeadroomBuf::new(&ARP_REQUEST[..len.min(42)]), 1);
        }
        assert_eq!(
            n.handle(0, &mut HeadroomBuf::new(&ARP_REQUEST[..30]), 1),
            Verdict::Drop(DropReason::Malformed)
        );
        assert_eq!(
            n.handle(9, &mut HeadroomBuf::new(&PING), 1),
            Verdict::Drop(DropReason::Malformed)
        );
    }
}
