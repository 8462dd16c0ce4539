#!/usr/bin/env python3
"""Writes the seed corpus in fuzz/corpus/<target>/seed-*: the packets of the
src/wire unit-test fixtures (built here with scapy, same parameters), plus
truncated and length-inconsistent variants. Re-run after changing fixtures:
    /usr/bin/python3 fuzz/make_corpus.py
tests/fuzz_corpus.rs replays every seed through rvs::testkit::fuzz_touch."""
import os
from scapy.all import Ether, Dot1Q, ARP, IP, ICMP, TCP, UDP, Raw, IPOption_RR

HERE = os.path.dirname(os.path.abspath(__file__))
CLIENT_MAC, OUR_MAC = "52:54:00:12:34:56", "52:54:00:ab:cd:ef"
OPTS = [("MSS", 1460), ("SAckOK", b""), ("Timestamp", (1, 0)), ("NOP", None), ("WScale", 7)]

syn_ip = IP(src="198.51.100.7", dst="192.0.2.10", id=0x0101, flags="DF", ttl=64, tos=0x10) / \
    TCP(sport=40000, dport=80, seq=0x11223344, flags="S", window=64240, options=OPTS)
fin_ip = IP(src="192.0.2.10", dst="198.51.100.7") / TCP(sport=80, dport=40000, seq=1, ack=2, flags="FA") / b"bye"
echo_ip = IP(src="198.51.100.7", dst="192.0.2.10", id=0x1234, flags="DF", ttl=64) / \
    ICMP(type=8, id=0x4242, seq=7) / b"rvs-ping-payload"
dns_ip = IP(src="198.51.100.7", dst="192.0.2.10", id=0x0202, ttl=64) / UDP(sport=53000, dport=53) / \
    b"\x12\x34\x01\x00\x00\x01\x00\x00\x00\x00\x00\x00"
opts_ip = IP(src="198.51.100.7", dst="192.0.2.10", id=3, ttl=5, options=[IPOption_RR(routers=["0.0.0.0"])]) / \
    UDP(sport=1, dport=2)
frag_needed_ip = IP(src="192.0.2.254", dst="198.51.100.7", id=0x77, ttl=64) / \
    ICMP(type=3, code=4, nexthopmtu=1400) / Raw(bytes(syn_ip)[:28])
ipip_ip = IP(src="192.0.2.1", dst="203.0.113.5", id=9, flags="DF", ttl=63, proto=4, tos=0x10) / \
    IP(src="198.51.100.7", dst="192.0.2.10", id=0x0101, flags="DF", ttl=63, tos=0x10) / \
    TCP(sport=40000, dport=80, seq=1, flags="S", window=1024)
arp_req = ARP(op=1, hwsrc=CLIENT_MAC, psrc="192.0.2.1", pdst="192.0.2.10")
arp_rep = ARP(op=2, hwsrc="02:00:00:00:00:0a", psrc="192.0.2.10", hwdst=CLIENT_MAC, pdst="192.0.2.1")

def eth(p, vlan=None):
    e = Ether(src=CLIENT_MAC, dst=OUR_MAC)
    return bytes(e / Dot1Q(vlan=vlan, prio=3) / p if vlan else e / p)

def with_len(b, off, val):
    return b[:off] + val.to_bytes(2, "big") + b[off + 2:]

ip_pkts = {n: bytes(p) for n, p in [("syn", syn_ip), ("fin", fin_ip), ("echo", echo_ip), ("dns", dns_ip),
                                     ("options", opts_ip), ("frag-needed", frag_needed_ip), ("ipip", ipip_ip)]}
corpus = {
    "ethernet": {**{n: eth(bytes(p)) for n, p in [("syn", syn_ip), ("echo", echo_ip), ("dns", dns_ip), ("ipip", ipip_ip),
                                                  ("frag-needed", frag_needed_ip), ("arp-request", arp_req)]},
                 "vlan-arp": eth(bytes(arp_req), vlan=100), "vlan-syn": eth(bytes(syn_ip), vlan=7),
                 "padded-arp": eth(bytes(arp_req)) + bytes(18)},
    "arp": {"request": bytes(arp_req), "reply": bytes(arp_rep), "gratuitous":
            bytes(ARP(op=1, hwsrc=OUR_MAC, psrc="192.0.2.100", pdst="192.0.2.100"))},
    "ipv4": ip_pkts,
    "icmp": {"echo": bytes(echo_ip[ICMP]), "frag-needed": bytes(frag_needed_ip)[20:],
             "frag-needed-full": bytes(IP(src="192.0.2.254", dst="198.51.100.7") / ICMP(type=3, code=4, nexthopmtu=1400) / syn_ip)[20:],
             "time-exceeded": bytes(ICMP(type=11, code=0) / Raw(bytes(dns_ip)[:28]))},
    "tcp": {"syn": bytes(syn_ip)[20:], "fin-data": bytes(fin_ip)[20:]},
    "udp": {"dns": bytes(dns_ip)[20:], "no-checksum": bytes(dns_ip)[20:26] + b"\0\0" + bytes(dns_ip)[28:]},
}
# Truncated and inconsistent variants of each target's first seeds.
for target, seeds in corpus.items():
    extra = {}
    for name, b in list(seeds.items())[:3]:
        extra[name + "-trunc-half"] = b[: len(b) // 2]
        extra[name + "-trunc-1"] = b[:-1]
    seeds.update(extra)
corpus["ipv4"]["syn-total-len-too-big"] = with_len(ip_pkts["syn"], 2, 0xffff)
corpus["ipv4"]["syn-total-len-too-small"] = with_len(ip_pkts["syn"], 2, 19)
corpus["ipv4"]["echo-ihl-15"] = b"\x4f" + ip_pkts["echo"][1:]  # 60-byte header in 44 bytes
corpus["udp"]["dns-len-too-big"] = with_len(corpus["udp"]["dns"], 4, 0x100)
corpus["udp"]["dns-len-7"] = with_len(corpus["udp"]["dns"], 4, 7)
corpus["tcp"]["syn-doff-15"] = corpus["tcp"]["syn"][:12] + b"\xf2" + corpus["tcp"]["syn"][13:]

for target, seeds in corpus.items():
    d = os.path.join(HERE, "corpus", target)
    os.makedirs(d, exist_ok=True)
    for name, b in seeds.items():
        with open(os.path.join(d, "seed-" + name), "wb") as f:
            f.write(b)
    print(target, len(seeds))
