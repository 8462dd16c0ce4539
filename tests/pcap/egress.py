#!/usr/bin/python3
"""Egress MTU through the real DPDK data path (net_pcap): fragmentation and frag-needed.

  egress.py make IN.pcap PORT_MAC     writes the crafted input
  egress.py check OUT.pcap PORT_MAC   dissects rvsd's output with scapy

One port 203.0.113.1/24 with `mtu = 1400`. Services (UDP): NAT 203.0.113.10:80 -> .11:8080,
DR .20:80 -> .12, TUN .30:80 -> .13. Client .2, also the router toward 198.51.100.0/24.
What Linux IPVS does with each case is recorded in tests/fixtures/oracle/egress/recording.txt
(NAT/DR: a 1500-byte DF-clear datagram over a 1400 MTU leaves as 1396 + 124 bytes; TUN: the
OUTER packet is fragmented, the inner left whole; DF set: frag-needed from the VIP).

CASES: name -> (input packet, expected outcome). Outcomes:
  ("frags", mac, expected IP packet)  fragments to `mac`, each <= 1400 bytes, payloads of
                                      1376 bytes but the last, MF/offsets right, one ident,
                                      DF clear; scapy's reassembly equals the expected packet
  ("fragneeded", src, mtu)            ICMP 3/4 from `src` with that next-hop MTU, to the client
  ("drop",)                           nothing (the Rust side checks the counter)
"""
import sys
from scapy.all import ARP, ICMP, IP, UDP, Ether, IPerror, UDPerror, defragment, raw, rdpcap, wrpcap

C_MAC = "02:00:00:00:00:02"
R_MACS = ["02:00:00:00:00:11", "02:00:00:00:00:12", "02:00:00:00:00:13"]
CLIENT, LOCAL = "203.0.113.2", "203.0.113.1"
REALS = ["203.0.113.11", "203.0.113.12", "203.0.113.13"]
VIP_NAT, VIP_DR, VIP_TUN = "203.0.113.10", "203.0.113.20", "203.0.113.30"
FAR = "198.51.100.50"
MTU = 1400


def data(tag, n):
    return (tag.encode() * n)[:n]


def udp(src, dst, sport, dport, ident, size, df=False, ttl=64, tos=0):
    """A UDP datagram of `size` IP bytes."""
    return (IP(src=src, dst=dst, id=ident, ttl=ttl, tos=tos, flags="DF" if df else 0)
            / UDP(sport=sport, dport=dport) / data(str(ident % 10), size - 28))


def expect_udp(src, dst, sport, dport, ident, size, tag_ident, ttl=63, tos=0):
    """The datagram as it should arrive (TTL decremented, addresses rewritten)."""
    return (IP(src=src, dst=dst, id=ident, ttl=ttl, tos=tos)
            / UDP(sport=sport, dport=dport) / data(str(tag_ident % 10), size - 28))


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
            ("frags", R_MACS[2], IP(src=LOCAL, dst=REALS[2], proto=4, ttl=63)
             / expect_udp(CLIENT, VIP_TUN, 41005, 80, 0x1005, 1400, 0x1005))),
    # TUN with DF: frag-needed with MTU - 20.
    "tun_df": (udp(CLIENT, VIP_TUN, 41006, 80, 0x1006, 1400, df=True), ("fragneeded", VIP_TUN, MTU - 20)),
    # Routed by the appliance (not LB traffic), DF clear: fragmented toward the router.
    "routed": (udp(CLIENT, FAR, 41007, 9, 0x1007, 1500),
               ("frags", C_MAC, expect_udp(CLIENT, FAR, 41007, 9, 0x1007, 1500, 0x1007))),
    # Routed with DF: dropped (drop_too_big; the appliance sends no ICMP errors).
    "routed_df": (udp(CLIENT, FAR, 41008, 9, 0x1008, 1500, df=True), ("drop",)),
}


def garp(mac, ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / ARP(op=1, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00", pdst=ip)


def make(path, pm):
    f = [garp(C_MAC, CLIENT)] + [garp(m, a) for m, a in zip(R_MACS, REALS)]
    for name, (pkt, _) in CASES.items():
        src_mac = R_MACS[0] if name == "nat_out" else C_MAC
        f.append(Ether(dst=pm, src=src_mac) / pkt)
    wrpcap(path, f)


def fail(msg):
    print("egress pcap check FAILED:", msg)
    sys.exit(1)


def key_of(p):
    """Which case a transmitted frame belongs to: the UDP datagram's ident (inner for TUN)."""
    ip = p[IP]
    if ICMP in ip and IPerror in ip[ICMP]:
        return ("icmp", ip[ICMP][IPerror].id)
    if ip.proto == 4:
        return ("tun", ip.id)
    return ("ip", ip.id)


def check(path, pm):
    out = [p for p in rdpcap(path) if ARP not in p]
    groups = {}
    for p in out:
        if IP not in p:
            fail(f"non-IP frame {p.summary()}")
        if p[Ether].src != pm:
            fail(f"source MAC of {p.summary()}")
        groups.setdefault(key_of(p), []).append(p)
    seen = set()
    tun_keys = [k for k in groups if k[0] == "tun"]
    for name, (pkt, want) in CASES.items():
        ident = pkt[IP].id
        if want[0] == "drop":
            if ("ip", ident) in groups or ("icmp", ident) in groups:
                fail(f"{name}: expected a drop, got {[p.summary() for p in groups.get(('ip', ident), [])]}")
            continue
        if want[0] == "fragneeded":
            got = groups.get(("icmp", ident), [])
            seen.add(("icmp", ident))
            if len(got) != 1:
                fail(f"{name}: expected one frag-needed, got {len(got)}")
            e = got[0]
            if not (e[ICMP].type == 3 and e[ICMP].code == 4 and e[ICMP].nexthopmtu == want[2]
                    and e[IP].src == want[1] and e[IP].dst == CLIENT and e[Ether].dst == C_MAC):
                fail(f"{name}: {e.summary()} mtu={e[ICMP].nexthopmtu} src={e[IP].src}")
            continue
        _, mac, expected = want
        if name == "tun":
            if len(tun_keys) != 1:
                fail(f"tun: expected one outer datagram, got {tun_keys}")
            k = tun_keys[0]
        else:
            k = ("ip", ident)
        frags = groups.get(k, [])
        seen.add(k)
        if len(frags) < 2:
            fail(f"{name}: expected fragments, got {[p.summary() for p in frags]}")
        offset = 0
        for i, fr in enumerate(frags):
            ip = fr[IP]
            last = i == len(frags) - 1
            plen = ip.len - ip.ihl * 4
            if ip.len > MTU or len(raw(fr)) > 14 + MTU:
                fail(f"{name}: fragment {i} is {ip.len} bytes > MTU {MTU}")
            if fr[Ether].dst != mac:
                fail(f"{name}: fragment {i} to {fr[Ether].dst}, expected {mac}")
            if ip.frag * 8 != offset or bool(ip.flags.MF) == last or ip.flags.DF:
                fail(f"{name}: fragment {i} offset {ip.frag * 8} (expected {offset}) flags {ip.flags}")
            if not last and plen != (MTU - 20) & ~7:
                fail(f"{name}: fragment {i} carries {plen} bytes, Linux's ip_fragment carries {(MTU - 20) & ~7}")
            if ip.id != frags[0][IP].id:
                fail(f"{name}: fragments with different idents")
            offset += plen
        whole = defragment(frags)
        if len(whole) != 1:
            fail(f"{name}: scapy reassembled {len(whole)} datagrams")
        w = whole[0][IP] if IP in whole[0] else IP(raw(whole[0]))
        e = IP(raw(expected))
        for f in ("src", "dst", "proto", "ttl", "tos"):
            if getattr(w, f) != getattr(e, f):
                fail(f"{name}: reassembled {f} {getattr(w, f)} != {getattr(e, f)}")
        if name != "tun" and w.id != e.id:
            fail(f"{name}: ident {w.id:#x} != {e.id:#x}")
        if raw(w.payload) != raw(e.payload):
            fail(f"{name}: reassembled payload differs ({len(raw(w.payload))} vs {len(raw(e.payload))} bytes)")
    extra = [k for k in groups if k not in seen]
    if extra:
        fail(f"unexpected output: {[[p.summary() for p in groups[k]] for k in extra]}")
    print(f"egress pcap check OK: {len(CASES)} cases")


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2], sys.argv[3])
