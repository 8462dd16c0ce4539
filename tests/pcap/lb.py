#!/usr/bin/python3
"""Golden pcap for the load-balancing path through the real DPDK data path (net_pcap).

  lb.py make IN.pcap PORT_MAC     writes the crafted input
  lb.py check OUT.pcap PORT_MAC   dissects rvsd's output with scapy (checksums recomputed)

One port 203.0.113.1/24. Services: NAT 203.0.113.10:80 -> .11:8080, DR .20:80 -> .12,
TUN .30:80 -> .13 (MTU 1500). Client .2. Input, in order:
  g1-g4  gratuitous ARP from the client and the three real servers (learnt, no output)
  n1     SYN client:40000 -> VIP10:80            => SYN client:40000 -> .11:8080 (NAT in)
  n2     SYN-ACK .11:8080 -> client:40000        => SYN-ACK VIP10:80 -> client (NAT out)
  n3     ICMP port-unreachable from .11 about n1's output => about VIP10:80, from VIP10 (related)
  d1     SYN client:40001 -> VIP20:80            => same packet, TTL-1, to .12's MAC (DR)
  t1     SYN client:40002 -> VIP30:80            => IPIP .1 -> .13 carrying it (TUN)
  t2     1500-byte DF ACK client:40002 -> VIP30  => ICMP frag-needed, MTU 1480, to the client
  x1     ACK client:40009 -> VIP10:80 (no conn)  => RST VIP10:80 -> client, seq = its ack (tx_tcp_reset)
  x2     SYN to VIP10:80 with MF set (fragment)  => held for reassembly, never completed: no output
  x3     SYN to VIP10:80 with a bad IP checksum  => dropped (drop_bad_ip_checksum)
Output also starts with rvsd's own announcements (gratuitous ARP for .1, .10, .20, .30).
"""
import sys
from scapy.all import Ether, ARP, IP, TCP, ICMP, IPerror, TCPerror, wrpcap, rdpcap, raw

C_MAC, R_MACS = "02:00:00:00:00:02", ["02:00:00:00:00:11", "02:00:00:00:00:12", "02:00:00:00:00:13"]
CLIENT, LOCAL = "203.0.113.2", "203.0.113.1"
REALS = ["203.0.113.11", "203.0.113.12", "203.0.113.13"]
VIP_NAT, VIP_DR, VIP_TUN = "203.0.113.10", "203.0.113.20", "203.0.113.30"


def garp(mac, ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / ARP(op=1, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00", pdst=ip)


def make(path, pm):
    f = [garp(C_MAC, CLIENT)] + [garp(m, a) for m, a in zip(R_MACS, REALS)]
    syn = Ether(dst=pm, src=C_MAC) / IP(src=CLIENT, dst=VIP_NAT, id=1, ttl=64) / TCP(sport=40000, dport=80, flags="S", seq=1000)
    f.append(syn)
    f.append(Ether(dst=pm, src=R_MACS[0]) / IP(src=REALS[0], dst=CLIENT, id=2, ttl=64)
             / TCP(sport=8080, dport=40000, flags="SA", seq=5000, ack=1001))
    # The real server's error quotes the packet it received: client:40000 -> .11:8080.
    quoted = IP(src=CLIENT, dst=REALS[0], id=1, ttl=63) / TCP(sport=40000, dport=8080, flags="S", seq=1000)
    f.append(Ether(dst=pm, src=R_MACS[0]) / IP(src=REALS[0], dst=CLIENT, id=3) / ICMP(type=3, code=3) / raw(quoted)[:28])
    f.append(Ether(dst=pm, src=C_MAC) / IP(src=CLIENT, dst=VIP_DR, id=4) / TCP(sport=40001, dport=80, flags="S"))
    f.append(Ether(dst=pm, src=C_MAC) / IP(src=CLIENT, dst=VIP_TUN, id=5, flags="DF") / TCP(sport=40002, dport=80, flags="S"))
    big = IP(src=CLIENT, dst=VIP_TUN, id=6, flags="DF") / TCP(sport=40002, dport=80, flags="A") / (b"x" * 1460)
    f.append(Ether(dst=pm, src=C_MAC) / big)
    f.append(Ether(dst=pm, src=C_MAC) / IP(src=CLIENT, dst=VIP_NAT, id=7) / TCP(sport=40009, dport=80, flags="A", ack=7777))
    f.append(Ether(dst=pm, src=C_MAC) / IP(src=CLIENT, dst=VIP_NAT, id=8, flags="MF") / TCP(sport=40010, dport=80, flags="S"))
    f.append(Ether(dst=pm, src=C_MAC) / IP(src=CLIENT, dst=VIP_NAT, id=9, chksum=0x1234) / TCP(sport=40011, dport=80, flags="S"))
    wrpcap(path, f)


def fail(msg):
    print("lb golden pcap check FAILED:", msg)
    sys.exit(1)


def csum_ok(p):
    """Recompute IP/TCP/ICMP checksums with scapy and compare with what rvsd wrote."""
    fresh = Ether(raw(p))
    for layer in (IP, TCP, ICMP):
        if layer in fresh:
            del fresh[layer].chksum
    fresh = Ether(raw(fresh))
    for layer in (IP, TCP, ICMP):
        if layer in p and p[layer].chksum != fresh[layer].chksum:
            return f"{layer.__name__} checksum {p[layer].chksum:#06x} != {fresh[layer].chksum:#06x}"
    if IP in p and IP in p[IP].payload:  # IPIP inner header
        inner = p[IP].payload
        f2 = IP(raw(inner))
        del f2.chksum
        if IP(raw(f2)).chksum != inner.chksum:
            return "inner IP checksum"
    return None


def check(path, pm):
    out = list(rdpcap(path))
    # Gratuitous ARP (sender = target); rvsd's start-up requests for its real servers aside.
    garps = [p for p in out if ARP in p and p[ARP].psrc == p[ARP].pdst]
    rest = [p for p in out if ARP not in p]
    if sorted(p[ARP].psrc for p in garps) != sorted([LOCAL, VIP_NAT, VIP_DR, VIP_TUN]):
        fail(f"announcements {[p[ARP].psrc for p in garps]}")
    if len(rest) != 7:
        fail(f"expected 7 forwarded/generated frames, got {len(rest)}: {[p.summary() for p in rest]}")
    for p in rest:
        bad = csum_ok(p)
        if bad:
            fail(f"{p.summary()}: {bad}")
        if p[Ether].src != pm:
            fail(f"source MAC of {p.summary()}")
    n1, n2, n3, d1, t1, t2, x1 = rest
    if not (n1[IP].src == CLIENT and n1[IP].dst == REALS[0] and n1[TCP].dport == 8080 and n1[TCP].sport == 40000
            and n1[Ether].dst == R_MACS[0] and n1[IP].ttl == 63 and n1[TCP].flags == "S"):
        fail(f"NAT in: {n1.summary()} ttl={n1[IP].ttl}")
    if not (n2[IP].src == VIP_NAT and n2[TCP].sport == 80 and n2[IP].dst == CLIENT and n2[Ether].dst == C_MAC
            and n2[TCP].flags == "SA" and n2[IP].ttl == 63):
        fail(f"NAT out: {n2.summary()}")
    if not (ICMP in n3 and n3[ICMP].type == 3 and n3[IP].src == VIP_NAT and n3[IP].dst == CLIENT
            and n3[IPerror].dst == VIP_NAT and n3[TCPerror].dport == 80 and n3[Ether].dst == C_MAC):
        fail(f"ICMP related: {n3.summary()} {n3[IP].src}")
    ip_err = IP(raw(n3[IPerror]))
    del ip_err.chksum
    if IP(raw(ip_err)).chksum != n3[IPerror].chksum:
        fail("quoted IP header checksum after rewrite")
    if not (d1[IP].dst == VIP_DR and d1[IP].src == CLIENT and d1[Ether].dst == R_MACS[1] and d1[TCP].dport == 80):
        fail(f"DR: {d1.summary()}")
    if not (t1[IP].proto == 4 and t1[IP].src == LOCAL and t1[IP].dst == REALS[2] and t1[Ether].dst == R_MACS[2]):
        fail(f"TUN outer: {t1.summary()}")
    inner = IP(raw(t1[IP].payload))
    if not (inner.dst == VIP_TUN and inner.src == CLIENT and TCP in inner and inner[TCP].dport == 80 and t1[IP].flags.DF):
        fail(f"TUN inner: {inner.summary()}")
    if not (ICMP in t2 and t2[ICMP].type == 3 and t2[ICMP].code == 4 and t2[ICMP].nexthopmtu == 1480
            and t2[IP].dst == CLIENT and t2[Ether].dst == C_MAC):
        fail(f"frag-needed: {t2.summary()} mtu={t2[ICMP].nexthopmtu if ICMP in t2 else None}")
    if not (TCP in x1 and x1[TCP].flags == "R" and x1[TCP].seq == 7777 and x1[IP].src == VIP_NAT
            and x1[TCP].sport == 80 and x1[TCP].dport == 40009 and x1[IP].dst == CLIENT and x1[Ether].dst == C_MAC):
        fail(f"RST: {x1.summary()}")
    print("lb golden pcap check OK: NAT in/out, ICMP related, DR, TUN, frag-needed, RST; 2 drops")


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2], sys.argv[3])
