#!/usr/bin/python3
"""Golden pcap for passive detection through the real DPDK data path (net_pcap).

  passive.py make IN.pcap PORT_MAC     writes the crafted input
  passive.py check OUT.pcap PORT_MAC   dissects rvsd's output with scapy (checksums recomputed)

One port 203.0.113.1/24. Service: NAT 203.0.113.10:80 -> .11:8080. Client .2. Input, in order:
  g1-g2  gratuitous ARP from the client and the real server (learnt, no output)
  a1     SYN client:41000 -> VIP:80           => SYN client:41000 -> .11:8080 (NAT in)
  a2     SYN-ACK .11:8080 -> client:41000     => SYN-ACK VIP:80 -> client (NAT out): answered
  rN     for client ports 41001..41003: SYN client -> VIP:80 (NAT in), then RST-ACK from
         .11:8080 answering it (NAT out, as VIP:80): three failed openings for .11:8080
Output also starts with rvsd's own announcements (gratuitous ARP for .1 and .10).
"""
import sys
from scapy.all import Ether, ARP, IP, TCP, wrpcap, rdpcap, raw

C_MAC, R_MAC = "02:00:00:00:00:02", "02:00:00:00:00:11"
CLIENT, LOCAL, REAL, VIP = "203.0.113.2", "203.0.113.1", "203.0.113.11", "203.0.113.10"
RESET_PORTS = [41001, 41002, 41003]


def garp(mac, ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / ARP(op=1, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00", pdst=ip)


def syn(pm, sport, ident):
    return Ether(dst=pm, src=C_MAC) / IP(src=CLIENT, dst=VIP, id=ident, ttl=64) / TCP(sport=sport, dport=80, flags="S", seq=1000 + sport)


def make(path, pm):
    f = [garp(C_MAC, CLIENT), garp(R_MAC, REAL)]
    f.append(syn(pm, 41000, 1))
    f.append(Ether(dst=pm, src=R_MAC) / IP(src=REAL, dst=CLIENT, id=2, ttl=64)
             / TCP(sport=8080, dport=41000, flags="SA", seq=5000, ack=1000 + 41000 + 1))
    for i, port in enumerate(RESET_PORTS):
        f.append(syn(pm, port, 10 + 2 * i))
        f.append(Ether(dst=pm, src=R_MAC) / IP(src=REAL, dst=CLIENT, id=11 + 2 * i, ttl=64)
                 / TCP(sport=8080, dport=port, flags="RA", seq=0, ack=1000 + port + 1))
    wrpcap(path, f)


def fail(msg):
    print("passive golden pcap check FAILED:", msg)
    sys.exit(1)


def csum_ok(p):
    """Recompute IP/TCP checksums with scapy and compare with what rvsd wrote."""
    fresh = Ether(raw(p))
    for layer in (IP, TCP):
        del fresh[layer].chksum
    fresh = Ether(raw(fresh))
    for layer in (IP, TCP):
        if p[layer].chksum != fresh[layer].chksum:
            return f"{layer.__name__} checksum {p[layer].chksum:#06x} != {fresh[layer].chksum:#06x}"
    return None


def check(path, pm):
    out = list(rdpcap(path))
    garps = [p for p in out if ARP in p and p[ARP].psrc == p[ARP].pdst]
    rest = [p for p in out if ARP not in p]
    if sorted(p[ARP].psrc for p in garps) != sorted([LOCAL, VIP]):
        fail(f"announcements {[p[ARP].psrc for p in garps]}")
    if len(rest) != 8:
        fail(f"expected 8 forwarded frames, got {len(rest)}: {[p.summary() for p in rest]}")
    for p in rest:
        if TCP not in p:
            fail(f"not TCP: {p.summary()}")
        bad = csum_ok(p)
        if bad:
            fail(f"{p.summary()}: {bad}")
        if p[Ether].src != pm:
            fail(f"source MAC of {p.summary()}")
    expect = [(41000, "S"), (41000, "SA")] + [x for port in RESET_PORTS for x in [(port, "S"), (port, "RA")]]
    for p, (port, flags) in zip(rest, expect):
        if flags == "S":
            ok = (p[IP].src == CLIENT and p[IP].dst == REAL and p[TCP].sport == port and p[TCP].dport == 8080
                  and p[Ether].dst == R_MAC)
        else:
            ok = (p[IP].src == VIP and p[IP].dst == CLIENT and p[TCP].sport == 80 and p[TCP].dport == port
                  and p[Ether].dst == C_MAC)
        if not ok or p[TCP].flags != flags:
            fail(f"expected {flags} for client port {port}, got {p.summary()}")
    print("passive golden pcap check OK: 4 SYNs NAT in, 1 SYN-ACK and 3 RSTs NAT out")


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2], sys.argv[3])
