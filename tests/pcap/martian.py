#!/usr/bin/python3
"""Martian frames and addresses through the real DPDK path (net_pcap), table-driven.

  martian.py make IN.pcap PORT_MAC MODE     writes the table's frames
  martian.py check OUT.pcap PORT_MAC MODE   checks rvsd's output with scapy and prints
                                            "expect COUNTER N" lines for the Rust side

MODE "lb": a NAT service 203.0.113.10:80 -> 203.0.113.11:8080 is configured, so every
IPv4 frame is first parsed (and screened) by the load-balancing path; "appliance": no
service, the appliance parses and screens (the LB cases are left out).
One port 203.0.113.1/24, a default route via the client 203.0.113.2 (routed packets go
back out to it). Each martian case must be dropped with its counter and transmit
nothing; the "ok" controls (the same kinds of frame, sane) must get their one output.
Rules (src/net/martian.rs, Linux ip_route_input_slow / fib_validate_source):
  Ethernet source broadcast, multicast, zero, or the port's own MAC -> drop_bad_eth_source
  Ethernet destination zero                                        -> drop_bad_eth_destination
  IPv4 source 0/8, 127/8, 224/4, 240/4, 255.255.255.255, ours, a VIP, our subnet
  broadcast (ARP: sender IP likewise, any port's or VLAN's subnet broadcast included, request
  or reply, 0.0.0.0 being an RFC 5227 probe) -> drop_martian_source
  IPv4 destination 0/8, 127/8                                       -> drop_martian_destination
"""
import sys
from collections import Counter
from scapy.all import Ether, ARP, IP, TCP, UDP, ICMP, wrpcap, rdpcap

C_MAC, R_MAC = "02:00:00:00:00:02", "02:00:00:00:00:11"
CLIENT, LOCAL, VIP, REAL, FAR = "203.0.113.2", "203.0.113.1", "203.0.113.10", "203.0.113.11", "198.51.100.7"
BCAST_MAC, MCAST_MAC, ZERO_MAC = "ff:ff:ff:ff:ff:ff", "01:00:5e:00:00:01", "00:00:00:00:00:00"


def garp(mac, ip):
    return Ether(dst=BCAST_MAC, src=mac) / ARP(op=1, hwsrc=mac, psrc=ip, pdst=ip)


def table(pm, mode):
    """(name, frame, expected counter or "ok") in input order."""
    def syn(src=CLIENT, esrc=C_MAC, edst=pm, sport=40000):
        return Ether(dst=edst, src=esrc) / IP(src=src, dst=VIP) / TCP(sport=sport, dport=80, flags="S")

    def ping(src=CLIENT, dst=LOCAL, esrc=C_MAC, edst=pm):
        return Ether(dst=edst, src=esrc) / IP(src=src, dst=dst) / ICMP(id=7, seq=1) / b"martian"

    def arp(psrc=CLIENT, esrc=C_MAC, hwsrc=C_MAC):
        return Ether(dst=BCAST_MAC, src=esrc) / ARP(op=1, hwsrc=hwsrc, psrc=psrc, pdst=LOCAL)

    def routed(src=CLIENT, dst=FAR, esrc=C_MAC, edst=pm):
        return Ether(dst=edst, src=esrc) / IP(src=src, dst=dst) / UDP(sport=5000, dport=53) / b"q"

    lb = [
        ("lb ok: SYN from the client", syn(), "ok"),
        ("lb: SYN from 127.0.0.1", syn(src="127.0.0.1", sport=1), "drop_martian_source"),
        ("lb: SYN from 0.0.0.0", syn(src="0.0.0.0", sport=2), "drop_martian_source"),
        ("lb: SYN from 0.1.2.3", syn(src="0.1.2.3", sport=3), "drop_martian_source"),
        ("lb: SYN from 224.0.0.5", syn(src="224.0.0.5", sport=4), "drop_martian_source"),
        ("lb: SYN from 240.0.0.1", syn(src="240.0.0.1", sport=5), "drop_martian_source"),
        ("lb: SYN from 255.255.255.255", syn(src="255.255.255.255", sport=6), "drop_martian_source"),
        ("lb: SYN from our own address", syn(src=LOCAL, sport=7), "drop_martian_source"),
        ("lb: SYN from the VIP", syn(src=VIP, sport=8), "drop_martian_source"),
        ("lb: SYN from our subnet broadcast", syn(src="203.0.113.255", sport=9), "drop_martian_source"),
        ("lb: SYN from Ethernet broadcast", syn(esrc=BCAST_MAC, sport=10), "drop_bad_eth_source"),
        ("lb: SYN from Ethernet multicast", syn(esrc=MCAST_MAC, sport=11), "drop_bad_eth_source"),
        ("lb: SYN from Ethernet zero", syn(esrc=ZERO_MAC, sport=12), "drop_bad_eth_source"),
        ("lb: SYN from our own MAC", syn(esrc=pm, sport=13), "drop_bad_eth_source"),
        ("lb: SYN to Ethernet zero", syn(edst=ZERO_MAC, sport=14), "drop_bad_eth_destination"),
        # IPVS schedules only PACKET_HOST frames: a SYN to a VIP in an Ethernet broadcast or
        # multicast frame is dropped under its own reason, not drop_no_service (finding 11).
        ("lb: SYN to Ethernet broadcast", syn(edst=BCAST_MAC, sport=15), "drop_not_unicast"),
        ("lb: SYN to Ethernet multicast", syn(edst=MCAST_MAC, sport=16), "drop_not_unicast"),
    ]
    rest = [
        ("ping ok: from the client", ping(), "ok"),
        ("ping: from 127.0.0.1", ping(src="127.0.0.1"), "drop_martian_source"),
        ("ping: from 224.0.0.1", ping(src="224.0.0.1"), "drop_martian_source"),
        ("ping: from our own address", ping(src=LOCAL), "drop_martian_source"),
        ("ping: to 127.0.0.1", ping(dst="127.0.0.1"), "drop_martian_destination"),
        ("ping: to 0.0.0.0", ping(dst="0.0.0.0"), "drop_martian_destination"),
        ("ping: from Ethernet broadcast", ping(esrc=BCAST_MAC), "drop_bad_eth_source"),
        ("ping: from Ethernet multicast", ping(esrc=MCAST_MAC), "drop_bad_eth_source"),
        ("ping: to Ethernet zero", ping(edst=ZERO_MAC), "drop_bad_eth_destination"),
        ("arp ok: from the client", arp(), "ok"),
        ("arp: sender 127.0.0.1", arp(psrc="127.0.0.1"), "drop_martian_source"),
        ("arp: sender 224.0.0.1", arp(psrc="224.0.0.1"), "drop_martian_source"),
        ("arp: sender 255.255.255.255", arp(psrc="255.255.255.255"), "drop_martian_source"),
        # A subnet broadcast is never a station (Linux arp_process -> fib_validate_source:
        # RTN_BROADCAST): no reply, not learnt, request or unsolicited reply (finding 2).
        ("arp: sender our subnet broadcast", arp(psrc="203.0.113.255"), "drop_martian_source"),
        ("arp: reply from our subnet broadcast", Ether(dst=pm, src=C_MAC) / ARP(op=2, hwsrc=C_MAC,
         psrc="203.0.113.255", hwdst=pm, pdst=LOCAL), "drop_martian_source"),
        ("arp: from Ethernet broadcast", arp(esrc=BCAST_MAC), "drop_bad_eth_source"),
        ("arp: from Ethernet zero", arp(esrc=ZERO_MAC), "drop_bad_eth_source"),
        ("arp: from our own MAC", arp(esrc=pm), "drop_bad_eth_source"),
        ("routed ok: client to 198.51.100.7", routed(), "ok"),
        ("routed: to 0.0.0.0", routed(dst="0.0.0.0"), "drop_martian_destination"),
        ("routed: to 0.0.0.9", routed(dst="0.0.0.9"), "drop_martian_destination"),
        ("routed: to 127.0.0.1", routed(dst="127.0.0.1"), "drop_martian_destination"),
        ("routed: from 127.0.0.1", routed(src="127.0.0.1"), "drop_martian_source"),
        ("routed: from 240.1.2.3", routed(src="240.1.2.3"), "drop_martian_source"),
        ("routed: from Ethernet multicast", routed(esrc=MCAST_MAC), "drop_bad_eth_source"),
        ("routed: to Ethernet zero", routed(edst=ZERO_MAC), "drop_bad_eth_destination"),
    ]
    return (lb if mode == "lb" else []) + rest


def make(path, pm, mode):
    frames = [garp(C_MAC, CLIENT), garp(R_MAC, REAL)] + [f for _, f, _ in table(pm, mode)]
    wrpcap(path, frames)


def fail(msg):
    print("martian check FAILED:", msg)
    sys.exit(1)


def check(path, pm, mode):
    cases = table(pm, mode)
    out = list(rdpcap(path))
    # rvsd's own start-up frames: announcements and requests for its next hops.
    own = [p for p in out if ARP in p and p[ARP].op == 1 and p[ARP].hwsrc == pm]
    rest = [p for p in out if p not in own]
    wanted = {
        "lb ok: SYN from the client": lambda p: TCP in p and p[IP].src == CLIENT and p[IP].dst == REAL
        and p[TCP].dport == 8080 and p[Ether].dst == R_MAC,
        "ping ok: from the client": lambda p: ICMP in p and p[ICMP].type == 0 and p[IP].src == LOCAL
        and p[IP].dst == CLIENT and p[Ether].dst == C_MAC,
        "arp ok: from the client": lambda p: ARP in p and p[ARP].op == 2 and p[ARP].psrc == LOCAL
        and p[ARP].pdst == CLIENT and p[Ether].dst == C_MAC,
        "routed ok: client to 198.51.100.7": lambda p: UDP in p and p[IP].dst == FAR and p[IP].ttl == 63
        and p[Ether].dst == C_MAC,
    }
    oks = [n for n, _, e in cases if e == "ok"]
    for name in oks:
        hits = [p for p in rest if wanted[name](p)]
        if len(hits) != 1:
            fail(f"{name}: expected its one output frame, got {[p.summary() for p in hits]}")
    if len(rest) != len(oks):
        fail(f"expected only the {len(oks)} controls' outputs, got {len(rest)}: {[p.summary() for p in rest]}")
    for p in rest:
        if p[Ether].src != pm:
            fail(f"source MAC of {p.summary()}")
    expect = Counter(e for _, _, e in cases if e != "ok")
    for name, n in sorted(expect.items()):
        print(f"expect {name} {n}")
    print(f"martian check OK ({mode}): {len(cases)} cases, {len(oks)} controls answered, the rest sent nothing")


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2], sys.argv[3], sys.argv[4])
