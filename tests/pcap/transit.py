#!/usr/bin/python3
"""The transit policy (issue 10 item 6) through the real DPDK path (net_pcap), table-driven.

  transit.py make IN.pcap PORT_MAC MODE     writes the table's frames
  transit.py check OUT.pcap PORT_MAC MODE   checks rvsd's output with scapy and prints
                                            "expect COUNTER N" lines for the Rust side

One port 203.0.113.1/24 (route 198.51.100.0/24 via the client 203.0.113.2), a NAT
service 203.0.113.10:80 -> 203.0.113.11:8080. MODE is the `[routing] transit` in force:
"none" (rvsd's default: the section left out) or "all". Load-balancer traffic and the
director's own traffic are the same in both; transit (not for us, not a connection's) is
dropped as drop_transit with "none" and routed with "all"; no route is no route in both.
"""
import sys
from collections import Counter
from scapy.all import Ether, ARP, IP, TCP, UDP, ICMP, wrpcap, rdpcap

C_MAC, R_MAC = "02:00:00:00:00:02", "02:00:00:00:00:11"
CLIENT, LOCAL, VIP, REAL = "203.0.113.2", "203.0.113.1", "203.0.113.10", "203.0.113.11"


def garp(mac, ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / ARP(op=1, hwsrc=mac, psrc=ip, pdst=ip)


def table(pm, mode):
    """(name, frame, expected: "ok" (an output frame) or a counter) in input order."""
    transit = "ok" if mode == "all" else "drop_transit"

    def udp(src, dst, smac, sport):
        return Ether(dst=pm, src=smac) / IP(src=src, dst=dst) / UDP(sport=sport, dport=53) / b"q"

    return [
        ("lb: SYN to the VIP", Ether(dst=pm, src=C_MAC) / IP(src=CLIENT, dst=VIP)
         / TCP(sport=40000, dport=80, flags="S", seq=1), "ok"),
        ("lb: the real server's SYN-ACK", Ether(dst=pm, src=R_MAC) / IP(src=REAL, dst=CLIENT)
         / TCP(sport=8080, dport=40000, flags="SA", seq=9, ack=2), "ok"),
        ("own: ping the director", Ether(dst=pm, src=C_MAC) / IP(src=CLIENT, dst=LOCAL) / ICMP(id=1, seq=1), "ok"),
        ("transit: outside to the real server's own address", udp(CLIENT, REAL, C_MAC, 5001), transit),
        ("transit: the real server's own outbound flow", udp(REAL, "198.51.100.9", R_MAC, 5002), transit),
        ("transit: client to a routed network", udp(CLIENT, "198.51.100.7", C_MAC, 5003), transit),
        ("no route", udp(CLIENT, "192.0.2.77", C_MAC, 5004), "drop_no_route"),
    ]


def make(path, pm, mode):
    wrpcap(path, [garp(C_MAC, CLIENT), garp(R_MAC, REAL)] + [f for _, f, _ in table(pm, mode)])


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
