//! What rvsd routes that is not load-balancer traffic (issue 10 item 6): the real
//! servers' own outbound flows through a NAT director, traffic from outside straight to
//! a real server's address, anything else that reaches the appliance's `forward`. The
//! operator chooses (`[routing] transit`, `[[port]] inside`, configs/README.md); rvsd's
//! default is [`TransitMode::None`], the safe one for an appliance in front of private
//! servers: it is a load balancer, not an open router (docs/DROPS.md, `drop_transit`).
//!
//! Load-balancer traffic (packets of a connection, ICMP errors about one) never comes
//! here: the LB path forwards it itself. Neither does what the kernel sends through the
//! exception path.

use super::route::PortIdx;
use std::collections::hash_map::RandomState;
use std::hash::BuildHasher;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Which transit packets are routed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TransitMode {
    /// None: every packet that is neither for the director nor load-balancer traffic
    /// is dropped (`drop_transit`). rvsd's default.
    None,
    /// What arrives on an inside port and leaves by a port that is not inside (the
    /// real servers reaching DNS, NTP or updates through a NAT director), and, the other
    /// way, only the replies to such a flow seen recently and the ICMP errors about one
    /// (stateful, as a home NAT router / Linux conntrack `ESTABLISHED,RELATED`; see
    /// [`FlowTable`]). Nothing else from outside reaches an inside host except through
    /// a virtual service.
    Outbound,
    /// Everything with a route, as a plain router (rvs before issue 10).
    All,
}

/// The transit policy: the mode and which ports are inside (the private side).
#[derive(Clone, Debug)]
pub struct Transit {
    mode: TransitMode,
    /// Indexed by `PortIdx`; a port beyond it is not inside.
    inside: Arc<[bool]>,
    /// The outbound flows seen recently, shared by every worker's view (a reply may
    /// arrive on another worker); allocated only for [`TransitMode::Outbound`].
    flows: Option<Arc<FlowTable>>,
}

/// What [`Transit::judge`] decided about one transit packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    /// Not routed (`drop_transit`).
    Drop,
    /// Routed.
    Route,
    /// Routed; once it is actually sent (or held for ARP), [`Transit::note`] this
    /// outbound flow so that its replies are let back.
    RouteAndNote(Note),
}

/// The keyed hashes an outbound packet stamps: its flow's, and its address pair's (for
/// the non-first fragments of a reply, which carry no ports).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Note {
    flow: u64,
    pair: u64,
}

/// Slots in the outbound flow table: a fixed 65536 (512 KiB, allocated at start), a
/// power of two. More flows than that at once evict each other (direct-mapped): an
/// evicted flow's replies are dropped until its next outbound packet notes it again.
pub const FLOW_SLOTS: usize = 1 << 16;

/// Idle time after its last outbound packet, in seconds, for which a flow's replies are
/// let back, by IP protocol: IPVS's defaults (`ip_vs_proto_tcp.c` ESTABLISHED 15 min,
/// `ip_vs_proto_udp.c` 5 min, ICMP 60 s); other protocols Linux conntrack's generic
/// timeout (`nf_conntrack_generic_timeout`, 600 s).
pub fn idle_timeout_secs(proto: u8) -> u32 {
    match proto {
        6 => 900,
        17 => 300,
        1 => 60,
        _ => 600,
    }
}

/// A flow as its outbound packets name it: IP protocol, the inside host's address and
/// port (ICMP echo: identifier), the outside peer's address and port (ICMP echo: 0;
/// protocols without ports: 0 and 0). A reply names the same flow reversed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct FlowKey {
    proto: u8,
    inside: u32,
    inside_port: u16,
    outside: u32,
    outside_port: u16,
    /// The address pair only (ports 0): what a reply's non-first fragment can match.
    pair: bool,
}

impl FlowKey {
    /// This flow's address pair (same protocol and addresses, no ports).
    fn pair(self) -> FlowKey {
        FlowKey {
            inside_port: 0,
            outside_port: 0,
            pair: true,
            ..self
        }
    }
}

const ICMP: u8 = 1;
const TCP: u8 = 6;
const UDP: u8 = 17;

fn be16(b: &[u8], at: usize) -> Option<u16> {
    Some(u16::from_be_bytes([*b.get(at)?, *b.get(at + 1)?]))
}

fn be32(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_be_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

/// What both flow keys read from IPv4 header bytes `ip` on: the fragment offset (in
/// 8-byte units), protocol, source and destination addresses, and the bytes after the
/// header (`None`: truncated).
struct Header<'a> {
    frag_off: u16,
    proto: u8,
    src: u32,
    dst: u32,
    l4: &'a [u8],
}

fn header(ip: &[u8]) -> Option<Header<'_>> {
    let hl = usize::from(ip.first()? & 0x0f) * 4;
    Some(Header {
        frag_off: be16(ip, 6)? & 0x1fff,
        proto: *ip.get(9)?,
        src: be32(ip, 12)?,
        dst: be32(ip, 16)?,
        l4: ip.get(hl..)?,
    })
}

/// The key of an outbound packet, from its IPv4 header bytes `ip` on (header and
/// payload): `None` when it starts no flow a reply could match (a non-first fragment,
/// an ICMP message other than echo request, a TCP/UDP header too short for its ports).
fn outbound_key(ip: &[u8]) -> Option<FlowKey> {
    let Header {
        frag_off,
        proto,
        src,
        dst,
        l4,
    } = header(ip)?;
    let key = |inside_port, outside_port| FlowKey {
        proto,
        inside: src,
        inside_port,
        outside: dst,
        outside_port,
        pair: false,
    };
    match proto {
        _ if frag_off != 0 => None,
        TCP | UDP => Some(key(be16(l4, 0)?, be16(l4, 2)?)),
        ICMP if *l4.first()? == 8 => Some(key(be16(l4, 4)?, 0)),
        ICMP => None,
        _ => Some(key(0, 0)),
    }
}

/// The outbound flow an inbound packet (IPv4 header bytes `ip` on) would belong to: a
/// TCP/UDP reply (reversed 5-tuple), an ICMP echo reply (reversed addresses, same
/// identifier), an ICMP error (destination unreachable, source quench, time exceeded,
/// parameter problem) sent to the inside host about a packet it sent (the quoted
/// packet's own outbound key: RELATED), or another protocol's reply (reversed
/// addresses); a non-first fragment (no ports) by its reversed address pair
/// ([`FlowKey::pair`]). `None`: it cannot be a reply.
fn inbound_key(ip: &[u8]) -> Option<FlowKey> {
    let Header {
        frag_off,
        proto,
        src,
        dst,
        l4,
    } = header(ip)?;
    let key = |inside_port, outside_port| FlowKey {
        proto,
        inside: dst,
        inside_port,
        outside: src,
        outside_port,
        pair: false,
    };
    match proto {
        _ if frag_off != 0 => Some(key(0, 0).pair()),
        TCP | UDP => Some(key(be16(l4, 2)?, be16(l4, 0)?)),
        ICMP => match *l4.first()? {
            0 => Some(key(be16(l4, 4)?, 0)),
            3 | 4 | 11 | 12 => {
                let quoted = l4.get(8..)?;
                let q = outbound_key(quoted)?;
                // The error must go to the host that sent the quoted packet.
                (q.inside == dst).then_some(q)
            }
            _ => None,
        },
        _ => Some(key(0, 0)),
    }
}

/// The outbound flows seen recently: a fixed direct-mapped table of [`FLOW_SLOTS`]
/// `AtomicU64`, each `(tag << 32) | stamp` where the tag is the high 32 bits of the
/// flow's keyed hash (SipHash-1-3 from std, with a random key drawn at start, so
/// outsiders cannot aim collisions), the slot index its low bits, and the stamp the
/// second of its last outbound packet plus one (0: empty). No lock, no allocation after
/// start; the outbound path writes a slot at most once a second per flow (only when the
/// stored word differs), a reply only reads. A collision can at worst let in a packet
/// whose flow hashes to the same slot and 32-bit tag as a live outbound flow (odds
/// 2^-32 per packet for a random one).
pub struct FlowTable {
    slots: Box<[AtomicU64]>,
    hasher: RandomState,
}

impl std::fmt::Debug for FlowTable {
    /// Its size only (the slots are state, the key a secret).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FlowTable({} slots)", self.slots.len())
    }
}

impl Default for FlowTable {
    /// An empty table of [`FLOW_SLOTS`] slots with a fresh random hash key.
    fn default() -> Self {
        FlowTable {
            slots: (0..FLOW_SLOTS).map(|_| AtomicU64::new(0)).collect(),
            hasher: RandomState::new(),
        }
    }
}

impl FlowTable {
    /// The keyed hash of `k`.
    fn hash(&self, k: &FlowKey) -> u64 {
        self.hasher.hash_one(k)
    }

    fn slot(&self, h: u64) -> &AtomicU64 {
        &self.slots[(h as usize) & (FLOW_SLOTS - 1)]
    }

    /// Records the flow whose hash is `h` as seen at `now_secs`.
    pub fn note(&self, h: u64, now_secs: u32) {
        let want = (h & !0xffff_ffff) | u64::from(now_secs.wrapping_add(1));
        let slot = self.slot(h);
        if slot.load(Ordering::Relaxed) != want {
            slot.store(want, Ordering::Relaxed);
        }
    }

    /// True when the flow whose hash is `h` was noted at most `idle_secs` before
    /// `now_secs`.
    pub fn seen(&self, h: u64, now_secs: u32, idle_secs: u32) -> bool {
        let word = self.slot(h).load(Ordering::Relaxed);
        let stamp = word as u32;
        stamp != 0
            && word >> 32 == h >> 32
            && now_secs.wrapping_add(1).wrapping_sub(stamp) <= idle_secs
    }
}

impl Default for Transit {
    /// Routes everything ([`TransitMode::All`]): what a bare `Net` does for tests and
    /// tools; rvsd always sets the configured policy (default `none`).
    fn default() -> Self {
        Transit::new(TransitMode::All, Vec::new())
    }
}

impl Transit {
    /// `mode`, with `inside[i]` true for each inside port `i`.
    pub fn new(mode: TransitMode, inside: Vec<bool>) -> Self {
        Transit {
            mode,
            inside: inside.into(),
            flows: (mode == TransitMode::Outbound).then(|| Arc::new(FlowTable::default())),
        }
    }

    /// The mode.
    pub fn mode(&self) -> TransitMode {
        self.mode
    }

    /// True when port `p` is inside.
    #[inline]
    pub fn is_inside(&self, p: PortIdx) -> bool {
        self.inside.get(usize::from(p)).copied().unwrap_or(false)
    }

    /// Whether the transit packet `ip` (its checked IPv4 header and payload, bytes),
    /// received on `in_port` and routed by `out_port`, may leave, at `now_secs`: with
    /// "outbound", inside to not inside always (to be noted once sent), not inside to
    /// inside only when it belongs to a flow noted within the protocol's
    /// [`idle_timeout_secs`], anything else never.
    #[inline]
    pub fn judge(&self, in_port: PortIdx, out_port: PortIdx, ip: &[u8], now_secs: u32) -> Decision {
        match self.mode {
            TransitMode::None => Decision::Drop,
            TransitMode::All => Decision::Route,
            TransitMode::Outbound => {
                let (from_in, to_in) = (self.is_inside(in_port), self.is_inside(out_port));
                let Some(flows) = &self.flows else {
                    return Decision::Drop;
                };
                if from_in && !to_in {
                    match outbound_key(ip) {
                        Some(k) => Decision::RouteAndNote(Note {
                            flow: flows.hash(&k),
                            pair: flows.hash(&k.pair()),
                        }),
                        None => Decision::Route,
                    }
                } else if !from_in && to_in {
                    match inbound_key(ip) {
                        Some(k)
                            if flows.seen(flows.hash(&k), now_secs, idle_timeout_secs(k.proto)) =>
                        {
                            Decision::Route
                        }
                        _ => Decision::Drop,
                    }
                } else {
                    Decision::Drop
                }
            }
        }
    }

    /// Records the outbound flow [`Decision::RouteAndNote`] named, as sent at `now_secs`.
    #[inline]
    pub fn note(&self, n: Note, now_secs: u32) {
        if let Some(flows) = &self.flows {
            flows.note(n.flow, now_secs);
            flows.note(n.pair, now_secs);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const IN: [u8; 4] = [198, 51, 100, 11];
    const OUT: [u8; 4] = [192, 0, 2, 53];

    /// IPv4 header bytes (no options, checksum not needed here) with payload `l4`.
    fn ip(proto: u8, src: [u8; 4], dst: [u8; 4], frag: u16, l4: &[u8]) -> Vec<u8> {
        let mut v = vec![0x45, 0, 0, 0, 0, 0, 0, 0, 64, proto, 0, 0];
        v[2..4].copy_from_slice(&(20 + l4.len() as u16).to_be_bytes());
        v[6..8].copy_from_slice(&frag.to_be_bytes());
        v.extend_from_slice(&src);
        v.extend_from_slice(&dst);
        v.extend_from_slice(l4);
        v
    }

    fn ports(s: u16, d: u16) -> Vec<u8> {
        let mut v = s.to_be_bytes().to_vec();
        v.extend_from_slice(&d.to_be_bytes());
        v.extend_from_slice(&[0; 16]);
        v
    }

    fn icmp(ty: u8, id: u16, rest: &[u8]) -> Vec<u8> {
        let mut v = vec![ty, 0, 0, 0];
        v.extend_from_slice(&id.to_be_bytes());
        v.extend_from_slice(&[0, 1]);
        v.extend_from_slice(rest);
        v
    }

    #[test]
    fn the_policy_table_without_state() {
        // Port 0 outside, port 1 inside, port 2 outside.
        let inside = vec![false, true, false];
        let pkt = ip(47, IN, OUT, 0, &[]);
        for (mode, from, to, ok) in [
            (TransitMode::None, 1, 0, false),
            (TransitMode::None, 0, 1, false),
            (TransitMode::Outbound, 1, 0, true),
            (TransitMode::Outbound, 1, 2, true),
            (TransitMode::Outbound, 0, 1, false),
            (TransitMode::Outbound, 0, 2, false),
            (TransitMode::Outbound, 1, 1, false),
            (TransitMode::Outbound, 9, 0, false),
            (TransitMode::All, 0, 1, true),
            (TransitMode::All, 0, 0, true),
        ] {
            let t = Transit::new(mode, inside.clone());
            let d = t.judge(from, to, &pkt, 5);
            assert_eq!(d != Decision::Drop, ok, "{mode:?} {from} -> {to}: {d:?}");
        }
        assert_eq!(Transit::default().judge(0, 0, &pkt, 5), Decision::Route);
    }

    /// Each case: the outbound packet sent from inside (port 1) to outside (port 0) at
    /// second 100, then an inbound packet (outside to inside) at `at`, and whether it is
    /// let in. On a fresh table every inbound packet is dropped.
    #[test]
    fn replies_and_related_errors_of_outbound_flows_come_back() {
        let udp_q = ip(17, IN, OUT, 0, &ports(33333, 53));
        let udp_a = ip(17, OUT, IN, 0, &ports(53, 33333));
        let tcp_syn = ip(6, IN, OUT, 0, &ports(40000, 443));
        let tcp_synack = ip(6, OUT, IN, 0, &ports(443, 40000));
        let echo = ip(1, IN, OUT, 0, &icmp(8, 9, &[]));
        let echo_reply = ip(1, OUT, IN, 0, &icmp(0, 9, &[]));
        let unreach = ip(1, OUT, IN, 0, &icmp(3, 0, &udp_q[..28]));
        let other = ip(47, IN, OUT, 0, &[1, 2, 3, 4]);
        let other_back = ip(47, OUT, IN, 0, &[1, 2, 3, 4]);
        let third = [203, 0, 113, 9];
        for (name, out, back, at, ok) in [
            ("udp answer", &udp_q, udp_a.clone(), 101, true),
            ("udp answer within 300 s", &udp_q, udp_a.clone(), 400, true),
            ("udp answer after 300 s", &udp_q, udp_a.clone(), 401, false),
            (
                "udp wrong port",
                &udp_q,
                ip(17, OUT, IN, 0, &ports(53, 33334)),
                101,
                false,
            ),
            (
                "udp from another host",
                &udp_q,
                ip(17, third, IN, 0, &ports(53, 33333)),
                101,
                false,
            ),
            (
                "udp answer as tcp",
                &udp_q,
                ip(6, OUT, IN, 0, &ports(53, 33333)),
                101,
                false,
            ),
            ("tcp syn-ack", &tcp_syn, tcp_synack.clone(), 101, true),
            ("tcp within 900 s", &tcp_syn, tcp_synack.clone(), 1000, true),
            ("tcp after 900 s", &tcp_syn, tcp_synack.clone(), 1001, false),
            ("echo reply", &echo, echo_reply.clone(), 101, true),
            (
                "echo reply other id",
                &echo,
                ip(1, OUT, IN, 0, &icmp(0, 10, &[])),
                101,
                false,
            ),
            (
                "echo request back",
                &echo,
                ip(1, OUT, IN, 0, &icmp(8, 9, &[])),
                101,
                false,
            ),
            (
                "echo reply after 60 s",
                &echo,
                echo_reply.clone(),
                161,
                false,
            ),
            (
                "unreachable quoting the query",
                &udp_q,
                unreach.clone(),
                101,
                true,
            ),
            (
                "unreachable to another host",
                &udp_q,
                ip(1, OUT, third, 0, &icmp(3, 0, &udp_q[..28])),
                101,
                false,
            ),
            (
                "unreachable without the flow",
                &tcp_syn,
                unreach.clone(),
                101,
                false,
            ),
            ("other protocol", &other, other_back.clone(), 101, true),
            (
                "reply's non-first fragment",
                &udp_q,
                ip(17, OUT, IN, 1, &[7; 8]),
                101,
                true,
            ),
            (
                "its more-fragments first",
                &udp_q,
                ip(17, OUT, IN, 0x2000, &ports(53, 33333)),
                101,
                true,
            ),
            (
                "non-first fragment after 300 s",
                &udp_q,
                ip(17, OUT, IN, 1, &[7; 8]),
                401,
                false,
            ),
            (
                "non-first fragment, other host",
                &udp_q,
                ip(17, third, IN, 1, &[7; 8]),
                101,
                false,
            ),
            (
                "non-first fragment, other proto",
                &udp_q,
                ip(6, OUT, IN, 1, &[7; 8]),
                101,
                false,
            ),
        ] {
            let t = Transit::new(TransitMode::Outbound, vec![false, true]);
            assert_eq!(t.judge(0, 1, &back, 100), Decision::Drop, "{name}: fresh");
            let Decision::RouteAndNote(h) = t.judge(1, 0, out, 100) else {
                panic!("{name}: outbound not noted");
            };
            // Not noted yet (it may still be dropped): nothing comes back.
            assert_eq!(t.judge(0, 1, &back, 100), Decision::Drop, "{name}: unnoted");
            t.note(h, 100);
            let d = t.judge(0, 1, &back, at);
            assert_eq!(d == Decision::Route, ok, "{name}: {d:?}");
            // A reply is never let out to a port that is not inside, nor inside to inside.
            assert_eq!(t.judge(0, 2, &back, at), Decision::Drop, "{name}");
            assert_eq!(t.judge(1, 1, &back, at), Decision::Drop, "{name}");
        }
    }

    #[test]
    fn the_outbound_path_refreshes_a_flow_and_writes_once_a_second() {
        let t = Transit::new(TransitMode::Outbound, vec![false, true]);
        let q = ip(17, IN, OUT, 0, &ports(33333, 53));
        let a = ip(17, OUT, IN, 0, &ports(53, 33333));
        let Decision::RouteAndNote(h) = t.judge(1, 0, &q, 0) else {
            panic!("not noted")
        };
        t.note(h, 0);
        let flows = t.flows.as_ref().unwrap();
        let word = flows.slot(h.flow).load(Ordering::Relaxed);
        t.note(h, 0);
        assert_eq!(flows.slot(h.flow).load(Ordering::Relaxed), word);
        t.note(h, 250);
        assert!(t.judge(0, 1, &a, 550) == Decision::Route);
        assert!(t.judge(0, 1, &a, 551) == Decision::Drop);
        // Too short for the ports: never let in, never a panic.
        for n in 0..24 {
            assert_eq!(t.judge(0, 1, &a[..n], 250), Decision::Drop, "{n}");
            let _ = t.judge(1, 0, &q[..n], 250);
        }
        // Only "outbound" holds a table.
        assert!(Transit::new(TransitMode::None, vec![]).flows.is_none());
        assert!(Transit::default().flows.is_none());
    }
}
