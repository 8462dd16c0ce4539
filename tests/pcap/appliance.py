#!/usr/bin/python3
"""Golden pcaps for the appliance through the real DPDK path (net_pcap ports).

  appliance.py make IN.pcap PORT_MAC     writes the crafted input frames
  appliance.py check OUT.pcap PORT_MAC   dissects rvsd's output with scapy and checks it

Scapy is the independent dissector: it recomputes every checksum it checks.
At start rvsd announces 203.0.113.1 and the VIP 203.0.113.10 (gratuitous ARP) and asks
for the MACs of its next hops (the route gateway 203.0.113.2 and the real server
203.0.113.20: broadcast ARP requests from 203.0.113.1, so the first packets need not wait).
Cases (input -> expected output):
  1. ARP who-has 203.0.113.1 (local address)   -> ARP is-at PORT_MAC
  2. ARP who-has 203.0.113.10 (VIP of a service) -> ARP is-at PORT_MAC
  3. ARP who-has 203.0.113.99 (nobody we know)  -> nothing
  4. ICMP echo request to 203.0.113.1           -> echo reply with valid checksums
  5. the same echo with a broken IP checksum     -> nothing (drop_malformed)
  6. a unicast frame for another MAC             -> nothing (drop_other_host)
  7. a truncated IPv4 header                     -> nothing (drop_malformed)
  8. an IPv6 frame                               -> nothing (drop_unknown_ethertype)
"""
import sys
from scapy.all import Ether, ARP, IP, ICMP, IPv6, wrpcap, rdpcap, raw

CLIENT_MAC = "02:00:00:00:00:02"
CLIENT = "203.0.113.2"
LOCAL = "203.0.113.1"
VIP = "203.0.113.10"
# Next hops rvsd resolves at start (configs/lab-appliance.toml route via; the real server tests/pcap_path.rs adds).
PRIMED = ["203.0.113.2", "203.0.113.20"]


def make(path, port_mac):
    frames = [
        Ether(dst="ff:ff:ff:ff:ff:ff", src=CLIENT_MAC) / ARP(op=1, hwsrc=CLIENT_MAC, psrc=CLIENT, pdst=LOCAL),
        Ether(dst="ff:ff:ff:ff:ff:ff", src=CLIENT_MAC) / ARP(op=1, hwsrc=CLIENT_MAC, psrc=CLIENT, pdst=VIP),
        Ether(dst="ff:ff:ff:ff:ff:ff", src=CLIENT_MAC) / ARP(op=1, hwsrc=CLIENT_MAC, psrc=CLIENT, pdst="203.0.113.99"),
        Ether(dst=port_mac, src=CLIENT_MAC) / IP(src=CLIENT, dst=LOCAL, id=7) / ICMP(id=0x1234, seq=1) / b"golden-ping",
        Ether(dst=port_mac, src=CLIENT_MAC) / IP(src=CLIENT, dst=LOCAL, id=8, chksum=0xdead) / ICMP(id=0x1234, seq=2) / b"bad-csum",
        Ether(dst="02:00:00:00:00:99", src=CLIENT_MAC) / IP(src=CLIENT, dst=LOCAL) / ICMP(seq=3),
        Ether(raw(Ether(dst=port_mac, src=CLIENT_MAC) / IP(src=CLIENT, dst=LOCAL) / ICMP(seq=4))[:14 + 12]),
        Ether(dst=port_mac, src=CLIENT_MAC) / IPv6(src="2001:db8::2", dst="2001:db8::1"),
    ]
    wrpcap(path, frames)


def fail(msg):
    print("golden pcap check FAILED:", msg)
    sys.exit(1)


def check(path, port_mac):
    out = rdpcap(path)
    garps = [p for p in out if ARP in p and p[ARP].op == 1 and p[ARP].psrc == p[ARP].pdst]
    requests = [p for p in out if ARP in p and p[ARP].op == 1 and p[ARP].psrc != p[ARP].pdst]
    arps = [p for p in out if ARP in p and p[ARP].op != 1]
    pings = [p for p in out if ICMP in p]
    if len(out) != 7:
        fail(f"expected 7 output frames (2 announcements, 2 start-up ARP requests, 2 ARP replies, 1 echo reply), got {len(out)}: {[p.summary() for p in out]}")
    if sorted(p[ARP].pdst for p in requests) != sorted(PRIMED):
        fail(f"start-up ARP requests for {[p[ARP].pdst for p in requests]}, expected {PRIMED}")
    for p in requests:
        if p[ARP].psrc != LOCAL or p[ARP].hwsrc != port_mac or p[Ether].src != port_mac or p[Ether].dst != "ff:ff:ff:ff:ff:ff":
            fail(f"bad start-up ARP request {p.summary()}")
    if sorted(p[ARP].psrc for p in garps) != sorted([LOCAL, VIP]):
        fail(f"gratuitous ARP for {[p[ARP].psrc for p in garps]}")
    for p in garps:
        if p[ARP].pdst != p[ARP].psrc or p[ARP].hwsrc != port_mac or p[Ether].dst != "ff:ff:ff:ff:ff:ff":
            fail(f"bad announcement {p.summary()}")
    answered = sorted(p[ARP].psrc for p in arps)
    if answered != sorted([LOCAL, VIP]):
        fail(f"ARP replies for {answered}")
    for p in arps:
        if p[ARP].op != 2 or p[ARP].hwsrc != port_mac or p[Ether].src != port_mac:
            fail(f"bad ARP reply {p.summary()} hwsrc={p[ARP].hwsrc}")
        if p[ARP].pdst != CLIENT or p[ARP].hwdst != CLIENT_MAC or p[Ether].dst != CLIENT_MAC:
            fail(f"ARP reply not addressed to the client: {p.summary()}")
    if len(pings) != 1:
        fail(f"expected one echo reply, got {len(pings)}")
    r = pings[0]
    if r[ICMP].type != 0 or r[IP].src != LOCAL or r[IP].dst != CLIENT or bytes(r[ICMP].payload) != b"golden-ping":
        fail(f"bad echo reply {r.summary()}")
    if r[Ether].dst != CLIENT_MAC or r[Ether].src != port_mac:
        fail("echo reply MACs")
    ip_sum, icmp_sum = r[IP].chksum, r[ICMP].chksum
    fresh = Ether(raw(r))
    del fresh[IP].chksum
    del fresh[ICMP].chksum
    fresh = Ether(raw(fresh))
    if fresh[IP].chksum != ip_sum or fresh[ICMP].chksum != icmp_sum:
        fail("echo reply checksums do not verify")
    print("golden pcap check OK: 2 announcements, 2 start-up ARP requests, 2 ARP replies, 1 echo reply, 5 drops")


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2], sys.argv[3])
