#!/usr/bin/python3
"""Seeds for the lbpath fuzz target: frames addressed to the testbed director
(rvs::testkit::testbed: port MAC 02:00:00:00:00:01, VIPs 203.0.113.10/.20/.30/.40/.50)."""
import os
from scapy.all import Ether, IP, TCP, UDP, ICMP, raw

PM, CM = "02:00:00:00:00:01", "02:00:00:00:00:02"
out = os.path.join(os.path.dirname(__file__), "corpus", "lbpath")
os.makedirs(out, exist_ok=True)
e = lambda: Ether(dst=PM, src=CM)
seeds = {
    "syn-nat": e() / IP(src="203.0.113.2", dst="203.0.113.10") / TCP(sport=40000, dport=80, flags="S"),
    "syn-dr": e() / IP(src="203.0.113.2", dst="203.0.113.20") / TCP(sport=40001, dport=80, flags="S"),
    "syn-tun": e() / IP(src="203.0.113.2", dst="203.0.113.30", flags="DF") / TCP(sport=40002, dport=80, flags="S"),
    "syn-tun-big": e() / IP(src="203.0.113.2", dst="203.0.113.30", flags="DF") / TCP(sport=40003, dport=80, flags="S") / (b"x" * 1460),
    "syn-persist": e() / IP(src="203.0.113.2", dst="203.0.113.40") / TCP(sport=40004, dport=443, flags="S"),
    "syn-mark": e() / IP(src="203.0.113.2", dst="203.0.113.50") / TCP(sport=40005, dport=200, flags="S"),
    "udp-nat": e() / IP(src="203.0.113.2", dst="203.0.113.10") / UDP(sport=40006, dport=53) / b"q",
    "synack-reply": Ether(dst=PM, src="02:00:00:00:00:11") / IP(src="203.0.113.11", dst="203.0.113.2") / TCP(sport=8080, dport=40000, flags="SA"),
    "icmp-related": Ether(dst=PM, src="02:00:00:00:00:11") / IP(src="203.0.113.11", dst="203.0.113.2") / ICMP(type=3, code=3)
        / raw(IP(src="203.0.113.2", dst="203.0.113.11") / TCP(sport=40000, dport=8080, flags="S"))[:28],
    "ack-no-conn": e() / IP(src="203.0.113.2", dst="203.0.113.10") / TCP(sport=40007, dport=80, flags="A"),
    "fragment": e() / IP(src="203.0.113.2", dst="203.0.113.10", flags="MF") / TCP(sport=40008, dport=80, flags="S"),
    "ttl1": e() / IP(src="203.0.113.2", dst="203.0.113.10", ttl=1) / TCP(sport=40009, dport=80, flags="S"),
    "ip-options": e() / IP(src="203.0.113.2", dst="203.0.113.10", options=b"\x01\x01\x01\x00") / TCP(sport=40010, dport=80, flags="S"),
}
for name, pkt in seeds.items():
    with open(os.path.join(out, f"seed-{name}"), "wb") as f:
        f.write(raw(pkt))
    with open(os.path.join(out, f"seed-{name}-trunc-40"), "wb") as f:
        f.write(raw(pkt)[:40])
print(f"wrote {2 * len(seeds)} seeds to {out}")
