#!/usr/bin/python3
"""Egress MTU through the real DPDK data path (net_pcap): fragmentation and frag-needed.

  egress.py make IN.pcap PORT_MAC [untagged|vlan]     writes the crafted input
  egress.py check OUT.pcap PORT_MAC [untagged|vlan]   dissects rvsd's output with scapy

`vlan`: the same cases on VLAN 100 of a trunk port; every fragment must leave tagged.

One port 203.0.113.1/24 with `mtu = 1400`. Services (UDP): NAT 203.0.113.10:80 -> .11:8080,
NAT .40:80 -> .14:8080 (never announced: held until its ARP reply),
DR .20:80 -> .12, TUN .30:80 -> .13. Client .2, also the router toward 198.51.100.0/24 and
the hop that answers frag-needed about an IPIP packet (tunnel PMTU, oracle cases F-J).
What Linux IPVS does with each case is recorded in tests/fixtures/oracle/egress/recording.txt
(NAT/DR: a 1500-byte DF-clear datagram over a 1400 MTU leaves as 1396 + 124 bytes; TUN: the
OUTER packet is fragmented, the inner left whole; DF set: frag-needed from the VIP).

CASES: name -> (input packet, expected outcome). Outcomes:
  ("frags", mac, expected[, mtu])     fragments to `mac`, each <= mtu (1400) bytes, payloads of
                                      (mtu - 20) & ~7 bytes but the last, MF/offsets right, one
                                      ident, DF clear; scapy's reassembly equals `expected`
  ("one", mac, expected)              one whole packet equal to `expected` (DF included)
  ("fragneeded", src, mtu[, id[, (qdst, qport)[, code]]])
                                      ICMP 3/4 (3/code) from `src` with that next-hop MTU, to the client,
                                      quoting the client's datagram (ident `id`, destination
                                      qdst:qport; defaults: the case packet's own)
  ("timeexceeded", src)               ICMP 11/0 from `src` to the client quoting its datagram
  ("drop",)                           nothing (the Rust side checks the counter)
"""
import sys
from scapy.all import ARP, ICMP, IP, UDP, Dot1Q, Ether, IPerror, UDPerror, defragment, raw, rdpcap, wrpcap

C_MAC = "02:00:00:00:00:02"
R_MACS = ["02:00:00:00:00:11", "02:00:00:00:00:12", "02:00:00:00:00:13"]
CLIENT, LOCAL = "203.0.113.2", "203.0.113.1"
# A NAT real server nobody announced: its next hop is unresolved when the datagram comes.
R_HELD, R_HELD_MAC, VIP_HELD = "203.0.113.14", "02:00:00:00:00:14", "203.0.113.40"
REALS = ["203.0.113.11", "203.0.113.12", "203.0.113.13"]
VIP_NAT, VIP_DR, VIP_TUN = "203.0.113.10", "203.0.113.20", "203.0.113.30"
FAR = "198.51.100.50"
MTU = 1400
VLAN = 100


def data(tag, n):
    return (tag.encode() * n)[:n]


def udp(src, dst, sport, dport, ident, size, df=False, ttl=64, tos=0):
    """A UDP datagram of `size` IP bytes."""
    return (IP(src=src, dst=dst, id=ident, ttl=ttl, tos=tos, flags="DF" if df else 0)
            / UDP(sport=sport, dport=dport) / data(str(ident % 10), size - 28))


def expect_udp(src, dst, sport, dport, ident, size, tag_ident, ttl=63, tos=0, df=False):
    """The datagram as it should arrive (TTL decremented, addresses rewritten)."""
    return (IP(src=src, dst=dst, id=ident, ttl=ttl, tos=tos, flags="DF" if df else 0)
            / UDP(sport=sport, dport=dport) / data(str(tag_ident % 10), size - 28))


def tun_outer(inner, df):
    """The IPIP packet rvs sends (the outer ident is rvs's own: not compared)."""
    return IP(src=LOCAL, dst=REALS[2], proto=4, ttl=inner.ttl, flags="DF" if df else 0) / inner


CASES = {
    # NAT client -> real server, DF clear: fragmented after the rewrite.
    "nat_in": (udp(CLIENT, VIP_NAT, 41001, 80, 0x1001, 1500),
               ("frags", R_MACS[0], expect_udp(CLIENT, REALS[0], 41001, 8080, 0x1001, 1500, 0x1001))),
    # NAT real server -> client (the reply of the connection nat_in made), DF clear.
    "nat_out": (udp(REALS[0], CLIENT, 8080, 41001, 0x1002, 1500),
                ("frags", C_MAC, expect_udp(VIP_NAT, CLIENT, 80, 41001, 0x1002, 1500, 0x1002))),
    # NAT with DF: frag-needed from the VIP with the egress MTU (oracle case B).
    "nat_df": (udp(CLIENT, VIP_NAT, 41003, 80, 0x1003, 1500, df=True), ("fragneeded", VIP_NAT, MTU)),
    # DR, DF clear: the datagram unchanged but for the TTL, in fragments (oracle case C).
    "dr": (udp(CLIENT, VIP_DR, 41004, 80, 0x1004, 1500, tos=0x28),
           ("frags", R_MACS[1], expect_udp(CLIENT, VIP_DR, 41004, 80, 0x1004, 1500, 0x1004, tos=0x28))),
    # TUN, DF clear: 1400 + 20 > 1400, the outer packet is fragmented (oracle case E).
    "tun": (udp(CLIENT, VIP_TUN, 41005, 80, 0x1005, 1400),
            ("frags", R_MACS[2], tun_outer(expect_udp(CLIENT, VIP_TUN, 41005, 80, 0x1005, 1400, 0x1005), False))),
    # TUN with DF: frag-needed with MTU - 20.
    "tun_df": (udp(CLIENT, VIP_TUN, 41006, 80, 0x1006, 1400, df=True), ("fragneeded", VIP_TUN, MTU - 20)),
    # Routed by the appliance (not LB traffic), DF clear: fragmented toward the router.
    "routed": (udp(CLIENT, FAR, 41007, 9, 0x1007, 1500),
               ("frags", C_MAC, expect_udp(CLIENT, FAR, 41007, 9, 0x1007, 1500, 0x1007))),
    # Routed with DF: frag-needed 1400 from the port's own address (Linux ip_forward).
    "routed_df": (udp(CLIENT, FAR, 41008, 9, 0x1008, 1500, df=True), ("fragneeded", LOCAL, MTU)),
    # Routed with TTL 1: ICMP time exceeded from the port's own address (RFC 1812 5.3.1
    # MUST; Linux ip_forward -> icmp_send(ICMP_TIME_EXCEEDED)), review finding 3.
    "routed_ttl1": (udp(CLIENT, FAR, 41011, 9, 0x1011, 100, ttl=1), ("timeexceeded", LOCAL)),
    # NAT to a real server whose MAC is unknown: held whole (one hold slot), fragmented
    # when its ARP reply (the next input frame) resolves it.
    "held": (udp(CLIENT, VIP_HELD, 41010, 80, 0x1010, 1500),
             ("frags", R_HELD_MAC, expect_udp(CLIENT, R_HELD, 41010, 8080, 0x1010, 1500, 0x1010))),
    # Tunnel PMTU (oracle cases F-J). A 900-byte DF datagram leaves in one IPIP packet...
    "pmtu_first": (udp(CLIENT, VIP_TUN, 41009, 80, 0x1009, 900, df=True),
                   ("one", R_MACS[2], tun_outer(expect_udp(CLIENT, VIP_TUN, 41009, 80, 0x1009, 900, 0x1009, df=True), True))),
    # ...a hop past the director answers frag-needed 1000 about that IPIP packet: the
    # director relays frag-needed 980 (1000 - 20) from the VIP quoting the inner packet...
    "pmtu_icmp": (IP(src=CLIENT, dst=LOCAL, id=0x100a) / ICMP(type=3, code=4, nexthopmtu=1000)
                  / raw(tun_outer(expect_udp(CLIENT, VIP_TUN, 41009, 80, 0x1009, 900, 0x1009, df=True), True))[:548],
                  ("fragneeded", VIP_TUN, 980, 0x1009, (VIP_TUN, 80))),
    # ...after which a 1000-byte DF datagram gets frag-needed 980 at once,
    "pmtu_df": (udp(CLIENT, VIP_TUN, 41009, 80, 0x100b, 1000, df=True), ("fragneeded", VIP_TUN, 980)),
    # a 980-byte one still fits (outer 1000),
    "pmtu_fits": (udp(CLIENT, VIP_TUN, 41009, 80, 0x100c, 980, df=True),
                  ("one", R_MACS[2], tun_outer(expect_udp(CLIENT, VIP_TUN, 41009, 80, 0x100c, 980, 0x100c, df=True), True))),
    # The real server answers protocol unreachable about an IPIP packet (no IPIP there):
    # relayed to the client from the VIP, type and code unchanged, quoting the inner
    # packet (IPVS ip_vs_in_icmp; recorded in tests/fixtures/golden/oracle/ipvs_ttl_mtu.txt).
    "tun_unreach": (IP(src=REALS[2], dst=LOCAL, id=0x100e) / ICMP(type=3, code=2)
                    / raw(tun_outer(expect_udp(CLIENT, VIP_TUN, 41009, 80, 0x100c, 980, 0x100c, df=True), True))[:548],
                    ("fragneeded", VIP_TUN, 0, 0x100c, (VIP_TUN, 80), 2)),
    # and a 1200-byte DF-clear one leaves as outer fragments of at most 1000 bytes.
    "pmtu_nodf": (udp(CLIENT, VIP_TUN, 41009, 80, 0x100d, 1200),
                  ("frags", R_MACS[2], tun_outer(expect_udp(CLIENT, VIP_TUN, 41009, 80, 0x100d, 1200, 0x100d), False),
                   1000)),
}


def garp(mac, ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / ARP(op=1, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00", pdst=ip)


def tag(frame, mode):
    """In `vlan` mode every input frame is on VLAN 100 of a trunk (a `[[vlan]]` with the
    addresses the untagged run has on the port)."""
    if mode != "vlan":
        return frame
    e = frame[Ether]
    return Ether(dst=e.dst, src=e.src) / Dot1Q(vlan=VLAN) / e.payload


def untag(p, mode):
    """Checks the output frame's tag in `vlan` mode and returns the frame without it."""
    if mode != "vlan" or (Dot1Q not in p and ARP in p):  # the parent port's own announcements
        return p
    if Dot1Q not in p or p[Dot1Q].vlan != VLAN:
        fail(f"frame not on VLAN {VLAN}: {p.summary()}")
    e = p[Ether]
    return Ether(raw(Ether(dst=e.dst, src=e.src, type=p[Dot1Q].type) / p[Dot1Q].payload))


def make(path, pm, mode="untagged"):
    f = [garp(C_MAC, CLIENT)] + [garp(m, a) for m, a in zip(R_MACS, REALS)]
    for name, (pkt, _) in CASES.items():
        src_mac = R_MACS[0] if name == "nat_out" else C_MAC
        f.append(Ether(dst=pm, src=src_mac) / pkt)
        if name == "held":
            f.append(Ether(dst=pm, src=R_HELD_MAC) / ARP(op=2, hwsrc=R_HELD_MAC, psrc=R_HELD, hwdst=pm, pdst=LOCAL))
    wrpcap(path, [tag(x, mode) for x in f])


def fail(msg):
    print("egress pcap check FAILED:", msg)
    sys.exit(1)


def inner_id(p):
    """The ident of the datagram an IPIP packet (its first fragment) carries."""
    return IP(raw(p[IP].payload)).id


def check(path, pm, mode="untagged"):
    out = [untag(p, mode) for p in rdpcap(path)]
    out = [p for p in out if ARP not in p]
    groups = {}
    tun_of = {}  # outer ident -> inner ident, from the first fragments
    for p in out:
        if IP not in p:
            fail(f"non-IP frame {p.summary()}")
        if p[Ether].src != pm:
            fail(f"source MAC of {p.summary()}")
        ip = p[IP]
        if ip.proto == 4 and ip.frag == 0:
            tun_of[ip.id] = inner_id(p)
    for p in out:
        ip = p[IP]
        if ICMP in ip and IPerror in ip[ICMP]:
            k = ("icmp", ip[ICMP][IPerror].id)
        elif ip.proto == 4:
            k = ("ip", tun_of.get(ip.id, -1))
        else:
            k = ("ip", ip.id)
        groups.setdefault(k, []).append(p)
    seen = set()
    for name, (pkt, want) in CASES.items():
        ident = pkt[IP].id
        if want[0] == "drop":
            if ("ip", ident) in groups or ("icmp", ident) in groups:
                fail(f"{name}: expected a drop, got {[p.summary() for p in groups.get(('ip', ident), [])]}")
            continue
        if want[0] == "timeexceeded":
            k = ("icmp", ident)
            got = groups.get(k, [])
            seen.add(k)
            if len(got) != 1:
                fail(f"{name}: expected one time exceeded, got {len(got)}")
            e = got[0]
            if not (e[ICMP].type == 11 and e[ICMP].code == 0 and e[IP].src == want[1] and e[IP].dst == CLIENT
                    and e[Ether].dst == C_MAC):
                fail(f"{name}: {e.summary()} src={e[IP].src}")
            q = e[ICMP][IPerror]
            if not (q.src == CLIENT and q.dst == pkt[IP].dst and UDPerror in q and q[UDPerror].dport == pkt[UDP].dport):
                fail(f"{name}: the quote is not the client's datagram: {q.summary()}")
            continue
        if want[0] == "fragneeded":
            k = ("icmp", want[3] if len(want) > 3 else ident)
            got = groups.get(k, [])
            seen.add(k)
            if len(got) != 1:
                fail(f"{name}: expected one frag-needed, got {len(got)}")
            e = got[0]
            code = want[5] if len(want) > 5 else 4
            if not (e[ICMP].type == 3 and e[ICMP].code == code and e[ICMP].nexthopmtu == want[2]
                    and e[IP].src == want[1] and e[IP].dst == CLIENT and e[Ether].dst == C_MAC):
                fail(f"{name}: {e.summary()} mtu={e[ICMP].nexthopmtu} src={e[IP].src}")
            q = e[ICMP][IPerror]
            qdst, qport = want[4] if len(want) > 4 else (pkt[IP].dst, pkt[UDP].dport)
            if not (q.src == CLIENT and q.dst == qdst and UDPerror in q and q[UDPerror].dport == qport):
                fail(f"{name}: the quote is not the client's datagram: {q.summary()}")
            continue
        mac, expected = want[1], want[2]
        mtu = want[3] if len(want) > 3 else MTU
        k = ("ip", ident)
        frags = groups.get(k, [])
        seen.add(k)
        if want[0] == "one":
            if len(frags) != 1 or frags[0][IP].flags.MF or frags[0][IP].frag:
                fail(f"{name}: expected one whole packet, got {[p.summary() for p in frags]}")
        elif len(frags) < 2:
            fail(f"{name}: expected fragments, got {[p.summary() for p in frags]}")
        offset = 0
        for i, fr in enumerate(frags):
            ip = fr[IP]
            last = i == len(frags) - 1
            plen = ip.len - ip.ihl * 4
            if ip.len > mtu or len(raw(fr)) > 14 + mtu:
                fail(f"{name}: fragment {i} is {ip.len} bytes > MTU {mtu}")
            if fr[Ether].dst != mac:
                fail(f"{name}: fragment {i} to {fr[Ether].dst}, expected {mac}")
            if want[0] == "frags" and (ip.frag * 8 != offset or bool(ip.flags.MF) == last or ip.flags.DF):
                fail(f"{name}: fragment {i} offset {ip.frag * 8} (expected {offset}) flags {ip.flags}")
            if want[0] == "frags" and not last and plen != (mtu - 20) & ~7:
                fail(f"{name}: fragment {i} carries {plen} bytes, Linux's ip_fragment carries {(mtu - 20) & ~7}")
            if ip.id != frags[0][IP].id:
                fail(f"{name}: fragments with different idents")
            offset += plen
        whole = defragment(frags) if want[0] == "frags" else frags
        if len(whole) != 1:
            fail(f"{name}: scapy reassembled {len(whole)} datagrams")
        w = whole[0][IP] if IP in whole[0] else IP(raw(whole[0]))
        e = IP(raw(expected))
        for f in ("src", "dst", "proto", "ttl", "tos"):
            if getattr(w, f) != getattr(e, f):
                fail(f"{name}: reassembled {f} {getattr(w, f)} != {getattr(e, f)}")
        if want[0] == "one" and w.flags.DF != e.flags.DF:
            fail(f"{name}: DF {w.flags} != {e.flags}")
        if e.proto != 4 and w.id != e.id:
            fail(f"{name}: ident {w.id:#x} != {e.id:#x}")
        if raw(w.payload) != raw(e.payload):
            fail(f"{name}: reassembled payload differs ({len(raw(w.payload))} vs {len(raw(e.payload))} bytes)")
    extra = [k for k in groups if k not in seen]
    if extra:
        fail(f"unexpected output: {[[p.summary() for p in groups[k]] for k in extra]}")
    print(f"egress pcap check OK: {len(CASES)} cases")


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](*sys.argv[2:5])
