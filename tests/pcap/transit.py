#!/usr/bin/python3
"""The transit policy (issue 10 item 6) through the real DPDK path (net_pcap), table-driven.

  transit.py make IN.pcap PORT_MAC MODE     writes the table's frames
  transit.py check OUT.pcap PORT_MAC MODE   checks rvsd's output with scapy and prints
                                            "expect COUNTER N" lines for the Rust side

One port 203.0.113.1/24 (route 198.51.100.0/24 via the client 203.0.113.2), a NAT
service 203.0.113.10:80 -> 203.0.113.11:8080. MODE is the `[routing] transit` in force:
"none" (rvsd's default: the section left out), "all", or "outbound" (then a [[vlan]] v100,
id 100, 192.0.2.1/25, is the inside network, its host 192.0.2.11 at I_MAC). Load-balancer
traffic and the director's own traffic are the same in all; transit (not for us, not a
connection's) is dropped as drop_transit with "none" and routed with "all"; no route is no
route in all. With "outbound" nothing between outside hosts is routed; an inside host's
flows go out, and only their replies (reversed 5-tuple, echo reply with the same
identifier, ICMP errors quoting such a flow) come back in, tagged, to it.
"""
import sys
from collections import Counter
from scapy.all import Ether, Dot1Q, ARP, IP, TCP, UDP, ICMP, UDPerror, fragment, wrpcap, rdpcap

C_MAC, R_MAC = "02:00:00:00:00:02", "02:00:00:00:00:11"
CLIENT, LOCAL, VIP, REAL = "203.0.113.2", "203.0.113.1", "203.0.113.10", "203.0.113.11"
# "outbound": the inside host (on v100) and outside peers (behind CLIENT, the next hop).
I_MAC, INSIDE, DNS, PEER = "02:00:00:00:01:11", "192.0.2.11", "198.51.100.53", "198.51.100.80"


def outbound_cases(pm):
    """(name, frame, expected, output check) for "outbound": the two directions."""
    def out(l4):  # from the inside host, tagged
        return Ether(dst=pm, src=I_MAC) / Dot1Q(vlan=100) / IP(src=INSIDE, dst=l4[0]) / l4[1]

    def back(src, l4):  # from outside, untagged, to the inside host
        return Ether(dst=pm, src=C_MAC) / IP(src=src, dst=INSIDE) / l4

    def went_out(proto_ok):
        return lambda p: Dot1Q not in p and p[Ether].dst == C_MAC and IP in p and p[IP].src == INSIDE \
            and p[IP].ttl == 63 and proto_ok(p)

    def came_in(proto_ok):
        return lambda p: Dot1Q in p and p[Dot1Q].vlan == 100 and p[Ether].dst == I_MAC and IP in p \
            and p[IP].dst == INSIDE and p[IP].ttl == 63 and proto_ok(p)

    ntp_q = IP(src=INSIDE, dst=DNS) / UDP(sport=33335, dport=123) / b"n"
    # A big answer in two fragments: the second carries no ports (matched by addresses).
    big = fragment(IP(src=DNS, dst=INSIDE, id=77) / UDP(sport=53, dport=33333) / (b"x" * 1200), fragsize=800)
    other_q = IP(src=INSIDE, dst=DNS) / UDP(sport=33336, dport=123) / b"n"
    return [
        ("in: an answer before any query", back(DNS, UDP(sport=53, dport=33333) / b"a"), "drop_transit", None),
        ("in: a SYN from outside to the inside host", back(DNS, TCP(sport=5555, dport=22, flags="S")),
         "drop_transit", None),
        ("transit: out: DNS query", out((DNS, UDP(sport=33333, dport=53) / b"q")), "ok",
         went_out(lambda p: UDP in p and p[UDP].sport == 33333)),
        ("transit: in: its answer", back(DNS, UDP(sport=53, dport=33333) / b"a"), "ok",
         came_in(lambda p: UDP in p and p[UDP].dport == 33333 and p[UDP].sport == 53
                 and p[IP].id != 77)),
        ("transit: in: its big answer's first fragment", Ether(dst=pm, src=C_MAC) / big[0], "ok",
         came_in(lambda p: p[IP].id == 77 and p[IP].frag == 0 and p[IP].flags.MF)),
        ("transit: in: its big answer's second fragment", Ether(dst=pm, src=C_MAC) / big[1], "ok",
         came_in(lambda p: p[IP].id == 77 and p[IP].frag == 100 and not p[IP].flags.MF)),
        ("in: an answer to another port", back(DNS, UDP(sport=53, dport=33334) / b"a"), "drop_transit", None),
        ("in: an answer from another host", back("198.51.100.54", UDP(sport=53, dport=33333) / b"a"),
         "drop_transit", None),
        ("transit: out: ping", out((DNS, ICMP(id=9, seq=1))), "ok",
         went_out(lambda p: ICMP in p and p[ICMP].type == 8 and p[ICMP].id == 9)),
        ("transit: in: its echo reply", back(DNS, ICMP(type=0, id=9, seq=1)), "ok",
         came_in(lambda p: ICMP in p and p[ICMP].type == 0 and p[ICMP].id == 9)),
        ("in: an echo reply with another identifier", back(DNS, ICMP(type=0, id=10, seq=1)), "drop_transit", None),
        ("transit: out: SYN", out((PEER, TCP(sport=40000, dport=443, flags="S", seq=1))), "ok",
         went_out(lambda p: TCP in p and p[TCP].flags == "S")),
        ("transit: in: its SYN-ACK", back(PEER, TCP(sport=443, dport=40000, flags="SA", seq=7, ack=2)), "ok",
         came_in(lambda p: TCP in p and p[TCP].flags == "SA" and p[TCP].dport == 40000)),
        ("transit: out: NTP query", out((DNS, ntp_q[UDP])), "ok",
         went_out(lambda p: UDP in p and p[UDP].sport == 33335)),
        ("transit: in: port unreachable quoting it (related)", back(DNS, ICMP(type=3, code=3) / ntp_q), "ok",
         came_in(lambda p: ICMP in p and p[ICMP].type == 3 and UDPerror in p and p[UDPerror].sport == 33335)),
        ("in: port unreachable quoting a flow never sent", back(DNS, ICMP(type=3, code=3) / other_q),
         "drop_transit", None),
    ]


def garp(mac, ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / ARP(op=1, hwsrc=mac, psrc=ip, pdst=ip)


def table(pm, mode):
    """(name, frame, expected: "ok" (an output frame) or a counter) in input order."""
    transit = "ok" if mode == "all" else "drop_transit"

    def udp(src, dst, smac, sport):
        return Ether(dst=pm, src=smac) / IP(src=src, dst=dst) / UDP(sport=sport, dport=53) / b"q"

    extra = [(n, f, e) for n, f, e, _ in outbound_cases(pm)] if mode == "outbound" else []
    return [
        ("lb: SYN to the VIP", Ether(dst=pm, src=C_MAC) / IP(src=CLIENT, dst=VIP)
         / TCP(sport=40000, dport=80, flags="S", seq=1), "ok"),
        ("lb: the real server's SYN-ACK", Ether(dst=pm, src=R_MAC) / IP(src=REAL, dst=CLIENT)
         / TCP(sport=8080, dport=40000, flags="SA", seq=9, ack=2), "ok"),
        ("own: ping the director", Ether(dst=pm, src=C_MAC) / IP(src=CLIENT, dst=LOCAL) / ICMP(id=1, seq=1), "ok"),
        ("transit: outside to the real server's own address", udp(CLIENT, REAL, C_MAC, 5001), transit),
        ("transit: the real server's own outbound flow", udp(REAL, "198.51.100.9", R_MAC, 5002), transit),
        ("transit: client to a routed network", udp(CLIENT, "198.51.100.7", C_MAC, 5003), transit),
        ("no route", udp(CLIENT, "192.0.2.177", C_MAC, 5004), "drop_no_route"),
    ] + extra


def make(path, pm, mode):
    learn = [garp(C_MAC, CLIENT), garp(R_MAC, REAL)]
    if mode == "outbound":
        learn.append(Ether(dst="ff:ff:ff:ff:ff:ff", src=I_MAC) / Dot1Q(vlan=100)
                     / ARP(op=1, hwsrc=I_MAC, psrc=INSIDE, pdst=INSIDE))
    wrpcap(path, learn + [f for _, f, _ in table(pm, mode)])


def fail(msg):
    print("transit check FAILED:", msg)
    sys.exit(1)


def check(path, pm, mode):
    cases = table(pm, mode)
    out = list(rdpcap(path))
    own = [p for p in out if ARP in p and p[ARP].op == 1 and p[ARP].hwsrc == pm]
    rest = [p for p in out if p not in own]
    wanted = {
        "lb: SYN to the VIP": lambda p: TCP in p and p[IP].dst == REAL and p[TCP].dport == 8080 and p[Ether].dst == R_MAC,
        "lb: the real server's SYN-ACK": lambda p: TCP in p and p[IP].src == VIP and p[TCP].sport == 80
        and p[IP].dst == CLIENT and p[Ether].dst == C_MAC,
        "own: ping the director": lambda p: ICMP in p and p[ICMP].type == 0 and p[IP].src == LOCAL,
        "transit: outside to the real server's own address": lambda p: UDP in p and p[UDP].sport == 5001
        and p[IP].dst == REAL and p[Ether].dst == R_MAC and p[IP].ttl == 63,
        "transit: the real server's own outbound flow": lambda p: UDP in p and p[UDP].sport == 5002
        and p[IP].src == REAL and p[Ether].dst == C_MAC and p[IP].ttl == 63,
        "transit: client to a routed network": lambda p: UDP in p and p[UDP].sport == 5003
        and p[Ether].dst == C_MAC and p[IP].ttl == 63,
    }
    if mode == "outbound":
        wanted.update({n: w for n, _, e, w in outbound_cases(pm) if e == "ok"})
    oks = [n for n, _, e in cases if e == "ok"]
    for name in oks:
        hits = [p for p in rest if wanted[name](p)]
        if len(hits) != 1:
            fail(f"{name}: expected its one output frame, got {[p.summary() for p in hits]}")
    if len(rest) != len(oks):
        fail(f"expected only {len(oks)} output frames, got {len(rest)}: {[p.summary() for p in rest]}")
    expect = Counter(e for _, _, e in cases if e != "ok")
    expect.setdefault("drop_transit", 0)
    expect["forwarded"] = sum(1 for n in oks if n.startswith("transit:"))
    for name, n in sorted(expect.items()):
        print(f"expect {name} {n}")
    print(f"transit check OK ({mode}): {len(cases)} cases, {len(oks)} output frames")


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2], sys.argv[3], sys.argv[4])
