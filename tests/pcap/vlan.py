#!/usr/bin/python3
"""802.1Q VLANs and the port's configured MAC, through the real DPDK data path (net_pcap).

  vlan.py make IN.pcap PORT_MAC MODE     writes the crafted input for MODE
  vlan.py check OUT.pcap PORT_MAC MODE   dissects rvsd's output with scapy and checks it

Port `ext` 203.0.113.1/24 (lab-appliance.toml), client 203.0.113.2. Each MODE is a table of
cases: input frame -> expected output (None: dropped, nothing sent; the Rust side checks
which counter).

MODE mac (`[[port]] mac = PORT_MAC`, no VLAN): ARP, ping and a NAT SYN are answered or
  forwarded, and every frame rvsd sends (gratuitous ARP, ARP requests too) carries PORT_MAC
  as Ethernet source and ARP sender.
MODE untagged (no VLAN configured): tagged ARP, ping, SYN to a VIP, routed packet, QinQ
  (0x88a8) frame: all dropped, nothing sent for them; a priority-tagged ping (VLAN id 0,
  802.1p) is taken as untagged, as Linux does, and answered untagged; an untagged ping is
  answered.
MODE trunk (`[[vlan]]` v100 = id 100 192.0.2.1/25, v200 = id 200 192.0.2.129/25, port MAC
  set): ARP and ping on each VLAN answered with that VLAN's tag; SYN to NAT VIP .10 (v100)
  -> real 192.0.2.140:8080 on v200 (tag 200), its SYN-ACK back to the client with tag 100;
  SYN to DR VIP .20 -> real .30 on v100 (tag 100); SYN to NAT VIP .12 -> real
  203.0.113.11:8080 on the untagged port; SYN to NAT VIP .11 -> real .141 on v200, not
  resolved yet: held, then sent with tag 200 once .141's tagged ARP reply arrives (held
  packets leave after the burst: outputs are matched to cases in any order); a ping with
  an unknown VLAN id (300) and a QinQ
  frame dropped; an untagged ping answered untagged. Every frame sent carries PORT_MAC, a
  tag for the subnet it belongs to (192.0.2.0/25: 100, 192.0.2.128/25: 200, 203.0.113/24:
  none).
"""
import ipaddress
import sys

from scapy.all import ARP, ICMP, IP, TCP, Dot1Q, Dot1AD, Ether, rdpcap, wrpcap

C_MAC = "02:00:00:00:00:02"
CLIENT, LOCAL = "203.0.113.2", "203.0.113.1"
BCAST = "ff:ff:ff:ff:ff:ff"

# trunk mode
V_CLIENT, V100_IP, V200_IP = "192.0.2.2", "192.0.2.1", "192.0.2.129"
R30, R140, R11 = "192.0.2.30", "192.0.2.140", "203.0.113.11"
R30_MAC, R140_MAC, R11_MAC = "02:00:00:00:00:30", "02:00:00:00:01:40", "02:00:00:00:00:11"
R141, R141_MAC = "192.0.2.141", "02:00:00:00:01:41"
VIP_NAT, VIP_DR, VIP_NAT_UNTAGGED, VIP_HELD = "192.0.2.10", "192.0.2.20", "192.0.2.12", "192.0.2.11"


def fail(msg):
    print("vlan pcap check FAILED:", msg)
    sys.exit(1)


def eth(pm, vid=None, src=C_MAC, dst=None, outer=None):
    """Ethernet header to the port (`pm`), with an 802.1Q tag `vid` and, for QinQ, an
    802.1ad outer tag `outer` in front of it."""
    e = Ether(dst=dst or pm, src=src)
    if outer is not None:
        e = e / Dot1AD(vlan=outer)
    if vid is not None:
        e = e / Dot1Q(vlan=vid)
    return e


def arp_req(pm, vid, src_mac, src_ip, target, outer=None):
    return eth(pm, vid, src_mac, BCAST, outer) / ARP(op=1, hwsrc=src_mac, psrc=src_ip, pdst=target)


def garp(pm, vid, mac, ip):
    return eth(pm, vid, mac, BCAST) / ARP(op=1, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00", pdst=ip)


def ping(pm, vid, src, dst, ident, outer=None):
    return eth(pm, vid, outer=outer) / IP(src=src, dst=dst, id=ident) / ICMP(id=ident, seq=1)


def syn(pm, vid, src, dst, sport, src_mac=C_MAC):
    return eth(pm, vid, src_mac) / IP(src=src, dst=dst, id=sport % 1000) / TCP(sport=sport, dport=80, flags="S", seq=1000)


def vid_of(p):
    return p[Dot1Q].vlan if Dot1Q in p else None


def tag_for(ip):
    """The VLAN a frame about `ip` (an address of one of the port's subnets) must carry."""
    a = ipaddress.IPv4Address(ip)
    if a in ipaddress.IPv4Network("192.0.2.0/25"):
        return 100
    if a in ipaddress.IPv4Network("192.0.2.128/25"):
        return 200
    return None


def cases(mode, pm):
    """(name, input frame, predicate on the one output frame it must cause, or None)."""
    if mode == "mac":
        return [
            ("learn client", garp(pm, None, C_MAC, CLIENT), None),
            ("learn real", garp(pm, None, R11_MAC, R11), None),
            ("arp", arp_req(pm, None, C_MAC, CLIENT, LOCAL),
             lambda p: ARP in p and p[ARP].op == 2 and p[ARP].psrc == LOCAL and p[ARP].hwsrc == pm),
            ("ping", ping(pm, None, CLIENT, LOCAL, 11),
             lambda p: ICMP in p and p[ICMP].type == 0 and p[ICMP].id == 11 and p[Ether].dst == C_MAC),
            ("nat syn", syn(pm, None, CLIENT, "203.0.113.10", 40000),
             lambda p: TCP in p and p[IP].dst == R11 and p[TCP].dport == 8080 and p[Ether].dst == R11_MAC),
        ]
    if mode == "untagged":
        return [
            ("learn client", garp(pm, None, C_MAC, CLIENT), None),
            ("tagged arp", arp_req(pm, 100, C_MAC, CLIENT, LOCAL), None),
            ("tagged ping", ping(pm, 100, CLIENT, LOCAL, 21), None),
            ("tagged syn", syn(pm, 100, CLIENT, "203.0.113.10", 40001), None),
            ("tagged routed", eth(pm, 100) / IP(src=CLIENT, dst="198.51.100.5", id=22) / ICMP(id=22), None),
            ("qinq arp", arp_req(pm, 100, C_MAC, CLIENT, LOCAL, outer=10), None),
            ("priority-tagged ping", ping(pm, 0, CLIENT, LOCAL, 23),
             lambda p: ICMP in p and p[ICMP].type == 0 and p[ICMP].id == 23 and Dot1Q not in p),
            ("untagged ping", ping(pm, None, CLIENT, LOCAL, 24),
             lambda p: ICMP in p and p[ICMP].type == 0 and p[ICMP].id == 24 and Dot1Q not in p),
        ]
    if mode == "trunk":
        return [
            ("learn client v100", garp(pm, 100, C_MAC, V_CLIENT), None),
            ("learn real .30 v100", garp(pm, 100, R30_MAC, R30), None),
            ("learn real .140 v200", garp(pm, 200, R140_MAC, R140), None),
            ("learn real 203.0.113.11", garp(pm, None, R11_MAC, R11), None),
            ("arp v100", arp_req(pm, 100, C_MAC, V_CLIENT, V100_IP),
             lambda p: ARP in p and p[ARP].op == 2 and p[ARP].psrc == V100_IP and vid_of(p) == 100
             and p[ARP].hwsrc == pm and p[ARP].pdst == V_CLIENT),
            ("arp vip v100", arp_req(pm, 100, C_MAC, V_CLIENT, VIP_NAT),
             lambda p: ARP in p and p[ARP].op == 2 and p[ARP].psrc == VIP_NAT and vid_of(p) == 100),
            ("arp v200", arp_req(pm, 200, R140_MAC, R140, V200_IP),
             lambda p: ARP in p and p[ARP].op == 2 and p[ARP].psrc == V200_IP and vid_of(p) == 200),
            ("ping v100", ping(pm, 100, V_CLIENT, V100_IP, 31),
             lambda p: ICMP in p and p[ICMP].type == 0 and p[ICMP].id == 31 and vid_of(p) == 100
             and p[IP].src == V100_IP),
            ("ping v200", ping(pm, 200, R140, V200_IP, 32),
             lambda p: ICMP in p and p[ICMP].type == 0 and p[ICMP].id == 32 and vid_of(p) == 200),
            ("nat syn v100 -> real on v200", syn(pm, 100, V_CLIENT, VIP_NAT, 40010),
             lambda p: TCP in p and p[TCP].flags == "S" and p[IP].dst == R140 and p[TCP].dport == 8080
             and p[IP].src == V_CLIENT and vid_of(p) == 200 and p[Ether].dst == R140_MAC),
            ("nat syn-ack v200 -> client on v100",
             eth(pm, 200, R140_MAC) / IP(src=R140, dst=V_CLIENT, id=33)
             / TCP(sport=8080, dport=40010, flags="SA", seq=5000, ack=1001),
             lambda p: TCP in p and p[TCP].flags == "SA" and p[IP].src == VIP_NAT and p[TCP].sport == 80
             and p[IP].dst == V_CLIENT and vid_of(p) == 100 and p[Ether].dst == C_MAC),
            ("dr syn v100", syn(pm, 100, V_CLIENT, VIP_DR, 40011),
             lambda p: TCP in p and p[IP].dst == VIP_DR and p[TCP].sport == 40011 and vid_of(p) == 100
             and p[Ether].dst == R30_MAC),
            ("nat syn v100 -> untagged real", syn(pm, 100, V_CLIENT, VIP_NAT_UNTAGGED, 40012),
             lambda p: TCP in p and p[IP].dst == R11 and p[TCP].sport == 40012 and vid_of(p) is None
             and p[Ether].dst == R11_MAC),
            ("nat syn v100 -> unresolved real on v200: held",
             syn(pm, 100, V_CLIENT, VIP_HELD, 40013),
             lambda p: TCP in p and p[IP].dst == R141 and p[TCP].sport == 40013 and vid_of(p) == 200
             and p[Ether].dst == R141_MAC),
            ("arp reply from .141 on v200 (releases the held SYN)",
             eth(pm, 200, R141_MAC) / ARP(op=2, hwsrc=R141_MAC, psrc=R141, hwdst=pm, pdst=V200_IP), None),
            ("unknown vlan 300 ping", ping(pm, 300, V_CLIENT, V100_IP, 34), None),
            ("qinq ping", ping(pm, 100, V_CLIENT, V100_IP, 35, outer=10), None),
            ("untagged ping", ping(pm, None, CLIENT, LOCAL, 36),
             lambda p: ICMP in p and p[ICMP].type == 0 and p[ICMP].id == 36 and vid_of(p) is None),
        ]
    fail(f"unknown mode {mode}")


def make(path, pm, mode):
    wrpcap(path, [f for _, f, _ in cases(mode, pm)])


def own(p):
    """rvsd's own frames (not caused by one input frame): gratuitous ARP and ARP requests."""
    return ARP in p and p[ARP].op == 1


def check(path, pm, mode):
    out = list(rdpcap(path))
    for p in out:
        if p[Ether].src != pm:
            fail(f"{p.summary()}: Ethernet source {p[Ether].src}, not the port's {pm}")
        if ARP in p and p[ARP].hwsrc != pm:
            fail(f"{p.summary()}: ARP sender MAC {p[ARP].hwsrc}, not the port's {pm}")
        if Dot1AD in p or (Dot1Q in p and Dot1Q in p[Dot1Q].payload):
            fail(f"{p.summary()}: more than one tag")
        if mode == "trunk":
            # The subnet of the far end (ARP target, IP destination) says the VLAN: every
            # destination in this test is on the link it is sent to (DR: the VIP is).
            dst = p[ARP].pdst if ARP in p else p[IP].dst
            if vid_of(p) != tag_for(dst):
                fail(f"{p.summary()}: tag {vid_of(p)}, expected {tag_for(dst)}")
        elif mode != "trunk" and Dot1Q in p:
            fail(f"{p.summary()}: tagged, but the port has no VLAN")
    rest = [p for p in out if not own(p)]
    expected = [(n, pred) for n, _, pred in cases(mode, pm) if pred is not None]
    if len(rest) != len(expected):
        fail(f"expected {len(expected)} answers/forwards ({[n for n, _ in expected]}), got {len(rest)}: "
             f"{[p.summary() for p in rest]}")
    unused = list(rest)
    for name, pred in expected:
        match = next((p for p in unused if pred(p)), None)
        if match is None:
            fail(f"case {name!r}: no matching output among {[f'{p.summary()} tag {vid_of(p)}' for p in unused]}")
        unused.remove(match)
    if mode == "trunk":
        garps = sorted((p[ARP].psrc, vid_of(p)) for p in out if own(p) and p[ARP].psrc == p[ARP].pdst)
        want = sorted([(LOCAL, None), (V100_IP, 100), (V200_IP, 200), (VIP_NAT, 100), (VIP_DR, 100),
                       (VIP_NAT_UNTAGGED, 100), (VIP_HELD, 100)])
        if garps != want:
            fail(f"gratuitous ARP {garps}, expected {want}")
    print(f"vlan pcap check OK ({mode}): {len(expected)} answered/forwarded, "
          f"{len(cases(mode, pm)) - len(expected)} dropped or learnt, {len(out)} frames")


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2], sys.argv[3], sys.argv[4])
