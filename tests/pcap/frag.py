#!/usr/bin/python3
"""Fragments, as IPVS handles them (issue 10 item 7), through the real DPDK path.

  frag.py make IN.pcap PORT_MAC table|bounds     writes the crafted input
  frag.py check OUT.pcap PORT_MAC table|bounds   dissects rvsd's output with scapy

One port 203.0.113.1/24, route 198.51.100.0/24 via the client .2. Services: UDP NAT
203.0.113.10:53 -> .11:5353, TCP NAT .10:80 -> .11:8080, UDP DR .20:53 -> .12, UDP TUN
.30:53 -> .13.

`table`: one row per case: name, the input frames (fragments made by scapy), and what must
come out: the number of frames and a predicate on them. Whole datagrams are checked by
reassembling the output fragments here (scapy, not rvs) and comparing addresses, ports,
the TCP/UDP checksum over the whole datagram and the content byte for byte.

`bounds` (config: ipfrag_high_thresh 16 fragments, ipfrag_low_thresh 8, source share 4,
ipfrag_time 4 s): the first fragment of a good datagram, a flood of never-completed
datagrams from 50 sources (the table fills: new datagrams are refused, the one in progress
kept), then the rest of the good datagram, which must come out whole. What the flood costs
is counted (the Rust side checks counters).
"""
import sys
from scapy.all import (Ether, ARP, IP, TCP, UDP, ICMP, IPerror, UDPerror, Raw, wrpcap, rdpcap, raw,
                       fragment)

C_MAC = "02:00:00:00:00:02"
R_MACS = ["02:00:00:00:00:11", "02:00:00:00:00:12", "02:00:00:00:00:13"]
CLIENT, FAR = "203.0.113.2", "198.51.100.5"
REALS = ["203.0.113.11", "203.0.113.12", "203.0.113.13"]
VIP_NAT, VIP_DR, VIP_TUN = "203.0.113.10", "203.0.113.20", "203.0.113.30"


def garp(mac, ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / ARP(op=1, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00", pdst=ip)


def body(n, seed):
    return bytes((i * 7 + seed) & 0xFF for i in range(n))


def frags(eth, pkt, size=1000):
    return [eth / f for f in fragment(pkt, fragsize=size)]


def whole(ips):
    """Reassembles IPv4 fragments (scapy views) here: sorted by offset, contiguous."""
    ips = sorted(ips, key=lambda p: p.frag)
    data, at = b"", 0
    for p in ips:
        if p.frag * 8 != at:
            raise AssertionError(f"hole or overlap at {at}: {[(q.frag * 8, q.len) for q in ips]}")
        chunk = raw(p)[p.ihl * 4:p.len]
        data += chunk
        at += len(chunk)
    if ips[-1].flags.MF:
        raise AssertionError("last fragment has MF")
    f = ips[0]
    return IP(raw(IP(src=f.src, dst=f.dst, proto=f.proto, ttl=f.ttl, id=f.id) / Raw(data)))


def l4_ok(d):
    """The TCP/UDP checksum of a whole datagram `d` verifies (recomputed by scapy)."""
    l4 = d[UDP] if UDP in d else d[TCP]
    got = l4.chksum
    if UDP in d and got == 0:
        return True
    again = IP(src=d.src, dst=d.dst, proto=d.proto) / l4.__class__(raw(l4))
    again[l4.__class__].chksum = None
    return IP(raw(again))[l4.__class__].chksum == got


def same_udp(d, src, sport, dst, dport, data):
    return (UDP in d and d.src == src and d.dst == dst and d[UDP].sport == sport and d[UDP].dport == dport
            and bytes(d[UDP].payload) == data and l4_ok(d))


def cases(pm):
    """(name, input frames, output frame count, check(out frames) -> bool)."""
    c2v = Ether(dst=pm, src=C_MAC)
    r2v = Ether(dst=pm, src=R_MACS[0])
    q = body(2500, 1)
    a = body(3000, 2)
    nat_req = IP(src=CLIENT, dst=VIP_NAT, id=101) / UDP(sport=40000, dport=53) / q
    rev_req = IP(src=CLIENT, dst=VIP_NAT, id=102) / UDP(sport=40001, dport=53) / q
    answer = IP(src=REALS[0], dst=CLIENT, id=103) / UDP(sport=5353, dport=40000) / a
    dr_req = IP(src=CLIENT, dst=VIP_DR, id=104) / UDP(sport=40002, dport=53) / q
    tun_req = IP(src=CLIENT, dst=VIP_TUN, id=105) / UDP(sport=40003, dport=53) / q
    tun_full = IP(src=CLIENT, dst=VIP_TUN, id=114) / UDP(sport=40009, dport=53) / q
    dup = frags(c2v, IP(src=CLIENT, dst=VIP_NAT, id=106) / UDP(sport=40004, dport=53) / q)
    routed = IP(src=REALS[0], dst=FAR, id=107) / UDP(sport=5353, dport=53) / a
    bad_sum = IP(src=CLIENT, dst=VIP_NAT, id=108) / UDP(sport=40005, dport=53, chksum=0x1234) / q
    udp_hdr = raw(UDP(sport=40006, dport=53, len=8 + 24)) + body(24, 3)
    syn = raw(TCP(sport=40007, dport=80, flags="S") / body(8, 4))
    big = raw(UDP(sport=40008, dport=53, len=8 + 8)) + body(8, 5)
    quote_first = raw(IP(src=CLIENT, dst=REALS[0], id=101, flags="MF", ttl=63) / UDP(sport=40000, dport=5353, len=2508))[:28]
    quote_later = raw(IP(src=CLIENT, dst=REALS[0], id=101, frag=125, ttl=63, proto=17) / body(8, 9))
    tun_df = [f[IP] for f in fragment(IP(src=CLIENT, dst=VIP_TUN, id=115) / UDP(sport=40010, dport=53) / body(3000, 8),
                                     fragsize=1480)]
    tun_df[0].flags = "MF+DF"
    tun_df[0].chksum = None
    tun_df = [c2v / IP(raw(f)) for f in tun_df]
    return [
        # As IPVS (tests/fixtures/oracle/reasm): the fragments leave as they came, same
        # offsets and sizes, in offset order.
        ("nat_in", frags(c2v, nat_req), 3,
         lambda o: all(p[Ether].dst == R_MACS[0] for p in o)
         and [(p[IP].frag * 8, p[IP].len) for p in o] == [(0, 1020), (1000, 1020), (2000, 528)]
         and same_udp(whole([p[IP] for p in o]), CLIENT, 40000, REALS[0], 5353, q)),
        ("nat_in_reversed", frags(c2v, rev_req)[::-1], 3,
         lambda o: [(p[IP].frag * 8, p[IP].len) for p in o] == [(0, 1020), (1000, 1020), (2000, 528)]
         and same_udp(whole([p[IP] for p in o]), CLIENT, 40001, REALS[0], 5353, q)),
        ("nat_out", frags(r2v, answer), 4,
         lambda o: all(p[Ether].dst == C_MAC for p in o)
         and same_udp(whole([p[IP] for p in o]), VIP_NAT, 53, CLIENT, 40000, a)),
        ("dr", frags(c2v, dr_req), 3,
         lambda o: all(p[Ether].dst == R_MACS[1] and p[IP].ttl == 63 for p in o)
         and same_udp(whole([p[IP] for p in o]), CLIENT, 40002, VIP_DR, 53, q)),
        ("tun", frags(c2v, tun_req), 3,
         lambda o: all(p[IP].proto == 4 and p[IP].dst == REALS[2] for p in o)
         and same_udp(whole([IP(raw(p[IP].payload)) for p in o]), CLIENT, 40003, VIP_TUN, 53, q)),
        # 1500-byte fragments: + 20 outer bytes exceed the MTU, so the outer packet of the
        # first is fragmented on egress (2 frames) and the second fits (1 frame).
        ("tun_refragmented", frags(c2v, tun_full, 1480), 3,
         lambda o: all(p[IP].proto == 4 and p[IP].dst == REALS[2] and len(p) <= 1514 for p in o)
         and same_udp(whole([IP(raw(whole([q[IP] for q in o if q[IP].id == i]).payload))
                             for i in sorted({p[IP].id for p in o})]), CLIENT, 40009, VIP_TUN, 53, q)),
        ("duplicate", dup[:2] + dup[1:], 3,
         lambda o: same_udp(whole([p[IP] for p in o]), CLIENT, 40004, REALS[0], 5353, q)),
        # A killed datagram is gone at once: its later fragments (here: the first again,
        # the later one again) are dropped at once, not held until ipfrag_time.
        ("overlap", [c2v / IP(src=CLIENT, dst=VIP_NAT, id=109, flags="MF", proto=17) / udp_hdr[:16],
                     c2v / IP(src=CLIENT, dst=VIP_NAT, id=109, frag=1, proto=17) / udp_hdr[8:32],
                     c2v / IP(src=CLIENT, dst=VIP_NAT, id=109, flags="MF", proto=17) / udp_hdr[:16]], 0, None),
        ("tiny_tcp_first", [c2v / IP(src=CLIENT, dst=VIP_NAT, id=110, frag=1, proto=6) / syn[8:],
                            c2v / IP(src=CLIENT, dst=VIP_NAT, id=110, flags="MF", proto=6) / syn[:8],
                            c2v / IP(src=CLIENT, dst=VIP_NAT, id=110, frag=1, proto=6) / syn[8:]], 0, None),
        ("over_65535", [c2v / IP(src=CLIENT, dst=VIP_NAT, id=111, flags="MF", proto=17) / big,
                        c2v / IP(src=CLIENT, dst=VIP_NAT, id=111, frag=8191, proto=17) / body(16, 6)], 0, None),
        ("bad_l4_checksum", frags(c2v, bad_sum), 0, None),
        ("icmp_quoting_first", [r2v / IP(src=REALS[0], dst=CLIENT, id=112) / ICMP(type=3, code=3) / quote_first], 1,
         lambda o: ICMP in o[0] and o[0][IP].src == VIP_NAT and o[0][IPerror].dst == VIP_NAT
         and o[0][UDPerror].dport == 53),
        ("icmp_quoting_later", [r2v / IP(src=REALS[0], dst=CLIENT, id=113) / ICMP(type=3, code=3) / quote_later], 0,
         None),
        ("routed", frags(r2v, routed), 4,
         lambda o: all(p[Ether].dst == C_MAC and p[IP].ttl == 63 for p in o)
         and same_udp(whole([p[IP] for p in o]), REALS[0], 5353, FAR, 53, a)),
        # The datagram is judged as a whole (review finding 8): its first fragment has DF
        # and does not fit the tunnel, so frag-needed goes back to the client and none of
        # the other fragments is sent on (they were tun_out without a connection).
        ("tun_first_df", tun_df, 1,
         lambda o: ICMP in o[0] and o[0][ICMP].type == 3 and o[0][ICMP].code == 4 and o[0][IP].dst == CLIENT
         and o[0][Ether].dst == C_MAC),
    ]


def flood(pm):
    """200 first fragments of datagrams that never complete, from 50 sources."""
    out = []
    for i in range(200):
        src = f"203.0.113.{100 + i % 50}"
        out.append(Ether(dst=pm, src=C_MAC) / IP(src=src, dst=VIP_NAT, id=1000 + i, flags="MF")
                   / UDP(sport=30000 + i, dport=53, len=8 + 16) / body(8, 7))
    return out


def make(path, pm, mode):
    f = [garp(C_MAC, CLIENT)] + [garp(m, a) for m, a in zip(R_MACS, REALS)]
    if mode == "table":
        for _, frames, _, _ in cases(pm):
            f += frames
    else:
        q = body(2500, 1)
        good = frags(Ether(dst=pm, src=C_MAC), IP(src=CLIENT, dst=VIP_NAT, id=7) / UDP(sport=40000, dport=53) / q)
        f += good[:1] + flood(pm) + good[1:]
    wrpcap(path, f)


def fail(msg):
    print("frag pcap check FAILED:", msg)
    sys.exit(1)


def check(path, pm, mode):
    out = [p for p in rdpcap(path) if ARP not in p]
    if mode == "bounds":
        if len(out) != 3 or not same_udp(whole([p[IP] for p in out]), CLIENT, 40000, REALS[0], 5353, body(2500, 1)):
            fail(f"the good datagram after the flood: {[p.summary() for p in out]}")
        print("frag pcap check OK: bounds")
        return
    table = cases(pm)
    want = sum(n for _, _, n, _ in table)
    if len(out) != want:
        fail(f"expected {want} frames, got {len(out)}: {[p.summary() for p in out]}")
    i = 0
    for name, _, n, ok in table:
        got = out[i:i + n]
        i += n
        try:
            good = n == 0 or ok(got)
        except Exception as e:  # a missing layer is a wrong frame
            good, name = False, f"{name} ({e!r})"
        if not good:
            fail(f"{name}: {[p.summary() for p in got]}")
    print(f"frag pcap check OK: {len(table)} cases, {len(out)} frames")


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2], sys.argv[3], sys.argv[4])
