#!/usr/bin/python3
"""Never forward more than the datagram (issue 10 item 2), through the real DPDK path.

  trim.py make IN.pcap PORT_MAC     writes the crafted input
  trim.py check OUT.pcap PORT_MAC   dissects rvsd's output with scapy

One port 203.0.113.1/24, route 198.51.100.0/24 via the client .2. Services: NAT
203.0.113.10:80 -> .11:8080, DR .20:80 -> .12, TUN .30:80 -> .13. Every case frame carries
bytes after its IP datagram: 7 bytes of junk (0xde) or Ethernet zero padding to 60 bytes.
Each must come out as exactly the datagram it carries (frame = Ethernet header + IP total
length; for TUN the outer length = 20 + the inner datagram), with the junk nowhere in it.
The table: name, input frame, what the output frame must be (a predicate on it).
"""
import sys
from scapy.all import Ether, ARP, IP, TCP, UDP, ICMP, IPerror, TCPerror, wrpcap, rdpcap, raw

C_MAC = "02:00:00:00:00:02"
R_MACS = ["02:00:00:00:00:11", "02:00:00:00:00:12", "02:00:00:00:00:13"]
CLIENT, LOCAL, FAR = "203.0.113.2", "203.0.113.1", "198.51.100.5"
REALS = ["203.0.113.11", "203.0.113.12", "203.0.113.13"]
VIP_NAT, VIP_DR, VIP_TUN = "203.0.113.10", "203.0.113.20", "203.0.113.30"
JUNK = b"\xde" * 7


def garp(mac, ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / ARP(op=1, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00", pdst=ip)


def pad60(b):
    return b + b"\x00" * max(0, 60 - len(b))


def cases(pm):
    """(name, input bytes, check(out) -> error or None), in input order."""
    c2v = Ether(dst=pm, src=C_MAC)
    syn = IP(src=CLIENT, dst=VIP_NAT, id=1) / TCP(sport=40000, dport=80, flags="S", seq=1000)
    quoted = IP(src=CLIENT, dst=REALS[0], id=1, ttl=63) / TCP(sport=40000, dport=8080, flags="S", seq=1000)
    return [
        ("nat_in", raw(c2v / syn) + JUNK,
         lambda p: p[IP].dst == REALS[0] and p[TCP].dport == 8080 and p[TCP].flags == "S"),
        ("nat_out", raw(Ether(dst=pm, src=R_MACS[0]) / IP(src=REALS[0], dst=CLIENT, id=2)
                        / TCP(sport=8080, dport=40000, flags="SA", seq=5000, ack=1001)) + JUNK,
         lambda p: p[IP].src == VIP_NAT and p[TCP].sport == 80 and p[TCP].flags == "SA"),
        ("icmp_related", raw(Ether(dst=pm, src=R_MACS[0]) / IP(src=REALS[0], dst=CLIENT, id=3)
                             / ICMP(type=3, code=3) / raw(quoted)[:28]) + JUNK,
         lambda p: ICMP in p and p[IP].src == VIP_NAT and p[IPerror].dst == VIP_NAT and p[TCPerror].dport == 80),
        ("dr", raw(c2v / IP(src=CLIENT, dst=VIP_DR, id=4) / TCP(sport=40001, dport=80, flags="S")) + JUNK,
         lambda p: p[IP].dst == VIP_DR and p[Ether].dst == R_MACS[1] and p[TCP].sport == 40001),
        ("dr_padded", pad60(raw(c2v / IP(src=CLIENT, dst=VIP_DR, id=5) / TCP(sport=40003, dport=80, flags="S"))),
         lambda p: p[IP].dst == VIP_DR and p[Ether].dst == R_MACS[1] and p[TCP].sport == 40003),
        ("tun", raw(c2v / IP(src=CLIENT, dst=VIP_TUN, id=6) / TCP(sport=40002, dport=80, flags="S")) + JUNK,
         lambda p: p[IP].proto == 4 and p[IP].dst == REALS[2] and p[IP].len == 20 + 40
         and IP(raw(p[IP].payload)).dst == VIP_TUN),
        ("routed", raw(Ether(dst=pm, src=R_MACS[0]) / IP(src=REALS[0], dst=FAR, id=7) / UDP(sport=5353, dport=53)
                       / b"q") + JUNK,
         lambda p: p[IP].dst == FAR and p[Ether].dst == C_MAC and p[IP].ttl == 63),
        ("echo", raw(c2v / IP(src=CLIENT, dst=LOCAL, id=8) / ICMP(type=8, id=1, seq=1) / b"ping") + JUNK,
         lambda p: ICMP in p and p[ICMP].type == 0 and p[IP].dst == CLIENT and bytes(p[ICMP].payload) == b"ping"),
    ]


def make(path, pm):
    f = [garp(C_MAC, CLIENT)] + [garp(m, a) for m, a in zip(R_MACS, REALS)]
    f += [Ether(b) for _, b, _ in cases(pm)]
    wrpcap(path, f)


def fail(msg):
    print("trim pcap check FAILED:", msg)
    sys.exit(1)


def check(path, pm):
    out = [p for p in rdpcap(path) if ARP not in p]
    table = cases(pm)
    if len(out) != len(table):
        fail(f"expected {len(table)} frames, got {len(out)}: {[p.summary() for p in out]}")
    for (name, _, want), p in zip(table, out):
        b = raw(p)
        if IP not in p or len(b) != 14 + p[IP].len:
            fail(f"{name}: {len(b)}-byte frame for a {p[IP].len if IP in p else '?'}-byte datagram: {b.hex()}")
        if not want(p):
            fail(f"{name}: {p.summary()} {b.hex()}")
    print(f"trim pcap check OK: {len(out)} frames, each exactly its datagram")


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2], sys.argv[3])
