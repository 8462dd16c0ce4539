#!/usr/bin/python3
"""Seeds for the lbpath and appliance fuzz targets: sequences of frames for a worker
over the testbed director (rvs::testkit::testbed: port MAC 02:00:00:00:00:01,
203.0.113.1/24, VIPs 203.0.113.10/.20/.30/.40/.50, real servers .11-.13, client .2),
in the input format of rvs::testkit::worker_path:

    input  := options:u8 record*
    record := tag:u8 len:u16be frame[len]

options bit 0: exception path, 1: default route via 203.0.113.254, 2: no neighbour
known, 3: static neighbours, 4: VLAN 100 on port 0 (192.0.2.1/24, client 192.0.2.2 at
02:00:00:00:00:22, NAT VIP 192.0.2.10:80 to the untagged real servers), 5-6: transit
policy (0 all, 1 none, 2 outbound from the VLAN, 3 outbound from port 0). tag: clock step (tag & 0x7f seconds, x64 with bit 7).
Run from anywhere: writes fuzz/corpus/lbpath and fuzz/corpus/appliance."""
import os
import struct
from scapy.all import ARP, Dot1Q, Ether, ICMP, IP, TCP, UDP, fragment, raw

PM, CM = "02:00:00:00:00:01", "02:00:00:00:00:02"
RS = {11: "02:00:00:00:00:11", 12: "02:00:00:00:00:12", 13: "02:00:00:00:00:13"}
GW = "02:00:00:00:00:fe"
EXC, DEF, NONEIGH, STATIC, VLAN = 1, 2, 4, 8, 16
T_NONE, T_OUT_VLAN, T_OUT_PORT0 = 1 << 5, 2 << 5, 3 << 5
VM = "02:00:00:00:00:22"


def v100(pkt):
    """A frame from the VLAN-100 client, tagged."""
    return Ether(dst=PM, src=VM) / Dot1Q(vlan=100) / pkt
here = os.path.dirname(os.path.abspath(__file__))


def enc(options, frames):
    """frames: list of packets or (tag, packet)."""
    out = bytes([options])
    for f in frames:
        tag, pkt = f if isinstance(f, tuple) else (1, f)
        b = pkt if isinstance(pkt, bytes) else raw(pkt)
        out += bytes([tag]) + struct.pack(">H", len(b)) + b
    return out


def e(src=CM, dst=PM):
    return Ether(dst=dst, src=src)


def c2v(vip, dport, sport=40000, flags="S", proto="tcp", payload=b"", **ip):
    l4 = TCP(sport=sport, dport=dport, flags=flags) if proto == "tcp" else UDP(sport=sport, dport=dport)
    return e() / IP(src="203.0.113.2", dst=vip, **ip) / l4 / payload


def replies(sport, rport, flags="SA", proto="tcp"):
    """The reply from each real server (the scheduler picks one of them)."""
    out = []
    for d, mac in RS.items():
        l4 = TCP(sport=rport, dport=sport, flags=flags) if proto == "tcp" else UDP(sport=rport, dport=sport)
        out.append(e(src=mac) / IP(src=f"203.0.113.{d}", dst="203.0.113.2") / l4)
    return out


def arp_reply(ip, mac):
    return Ether(dst=PM, src=mac) / ARP(op=2, hwsrc=mac, psrc=ip, hwdst=PM, pdst="203.0.113.1")


def ping(dst, **kw):
    return e() / IP(src="203.0.113.2", dst=dst, **kw) / ICMP(id=7, seq=1) / b"ping"


big_udp = IP(src="203.0.113.2", dst="203.0.113.10", id=77) / UDP(sport=40100, dport=53) / (b"d" * 3000)
frags = [e() / f for f in fragment(big_udp, fragsize=1400)]
overlap = [e() / f for f in fragment(big_udp, fragsize=1000)] + [e() / f for f in fragment(big_udp, fragsize=1400)]

lbpath = {
    "nat-handshake": enc(0, [c2v("203.0.113.10", 80)] + replies(40000, 8080)
                         + [c2v("203.0.113.10", 80, flags="A"), c2v("203.0.113.10", 80, flags="FA"),
                            (0xff, c2v("203.0.113.10", 80, flags="A"))]),
    "dr": enc(0, [c2v("203.0.113.20", 80, sport=40001), c2v("203.0.113.20", 80, sport=40001, flags="A")]),
    "tun": enc(0, [c2v("203.0.113.30", 80, sport=40002, flags="S")]),
    "tun-big-df": enc(0, [c2v("203.0.113.30", 80, sport=40003, payload=b"x" * 1460, flags="S")]),
    "tun-big-nodf": enc(0, [e() / IP(src="203.0.113.2", dst="203.0.113.30", flags=0) / TCP(sport=40004, dport=80, flags="S") / (b"x" * 1460)]),
    "persist": enc(0, [c2v("203.0.113.40", 443, sport=40005), c2v("203.0.113.40", 443, sport=40006),
                       (0xa0, c2v("203.0.113.40", 443, sport=40007))]),
    "mark": enc(0, [c2v("203.0.113.50", 200, sport=40008), c2v("203.0.113.50", 443, sport=40008)]),
    "udp-nat": enc(0, [c2v("203.0.113.10", 53, sport=40009, proto="udp", payload=b"q")] + replies(40009, 53, proto="udp")),
    "udp-ops": enc(0, [c2v("203.0.113.10", 5353, sport=40010, proto="udp", payload=b"q")] + replies(40010, 5353, proto="udp")),
    "icmp-related": enc(0, [c2v("203.0.113.10", 80, sport=40011)] + [
        e(src=mac) / IP(src=f"203.0.113.{d}", dst="203.0.113.2") / ICMP(type=3, code=4, nexthopmtu=1400)
        / raw(IP(src="203.0.113.2", dst=f"203.0.113.{d}") / TCP(sport=40011, dport=8080, flags="S"))[:28]
        for d, mac in RS.items()]),
    # A real server (or a hop on the tunnel path) says our IPIP packet is too big:
    # the tunnel MTU toward it is lowered and frag-needed relayed to the client.
    "tun-pmtu": enc(0, [e() / IP(src="203.0.113.2", dst="203.0.113.30", flags="DF") / TCP(sport=40040, dport=80, flags="S")] + [
        e(src=mac) / IP(src=f"203.0.113.{d}", dst="203.0.113.1") / ICMP(type=3, code=4, nexthopmtu=1300)
        / raw(IP(src="203.0.113.1", dst=f"203.0.113.{d}", proto=4, flags="DF")
              / IP(src="203.0.113.2", dst="203.0.113.30", flags="DF") / TCP(sport=40040, dport=80, flags="S"))[:48]
        for d, mac in RS.items()] + [
        e() / IP(src="203.0.113.2", dst="203.0.113.30", flags="DF") / TCP(sport=40040, dport=80, flags="A") / (b"y" * 1400),
        e() / IP(src="203.0.113.2", dst="203.0.113.30") / TCP(sport=40040, dport=80, flags="A") / (b"z" * 1400)]),
    "ack-no-conn": enc(0, [c2v("203.0.113.10", 80, sport=40012, flags="A")]),
    "rst-no-conn": enc(0, [c2v("203.0.113.10", 80, sport=40013, flags="R")]),
    "no-service-port": enc(0, [c2v("203.0.113.10", 81, sport=40014)]),
    "fragments-udp": enc(0, frags),
    "fragments-overlap": enc(0, overlap),
    "fragments-reversed": enc(0, list(reversed(frags))),
    "fragment-first-only": enc(0, [frags[0], (0xff, frags[0])]),
    "ttl1": enc(0, [c2v("203.0.113.10", 80, sport=40015, ttl=1)]),
    "ip-options": enc(0, [c2v("203.0.113.10", 80, sport=40016, options=b"\x01\x01\x01\x00")]),
    "ip-options-bad": enc(0, [c2v("203.0.113.10", 80, sport=40017, options=b"\x07\x27\x04\x00")]),
    "vlan-syn": enc(0, [Ether(dst=PM, src=CM) / Dot1Q(vlan=100) / IP(src="203.0.113.2", dst="203.0.113.10") / TCP(sport=40018, dport=80, flags="S")]),
    "martian-src-loopback": enc(0, [e() / IP(src="127.0.0.1", dst="203.0.113.10") / TCP(sport=40019, dport=80, flags="S")]),
    "martian-src-zero": enc(0, [e() / IP(src="0.0.0.0", dst="203.0.113.10") / TCP(sport=40020, dport=80, flags="S")]),
    "martian-src-vip": enc(0, [e() / IP(src="203.0.113.10", dst="203.0.113.20") / TCP(sport=40021, dport=80, flags="S")]),
    "martian-src-multicast": enc(0, [e() / IP(src="224.0.0.1", dst="203.0.113.10") / TCP(sport=40022, dport=80, flags="S")]),
    "martian-eth-broadcast-src": enc(0, [e(src="ff:ff:ff:ff:ff:ff") / IP(src="203.0.113.2", dst="203.0.113.10") / TCP(sport=40023, dport=80, flags="S")]),
    "trailing-junk": enc(0, [raw(c2v("203.0.113.10", 80, sport=40024)) + b"JUNKJUNK"]),
    "bad-tcp-checksum": enc(0, [e() / IP(src="203.0.113.2", dst="203.0.113.10") / TCP(sport=40025, dport=80, flags="S", chksum=0x1234)]),
    "sport-zero": enc(0, [c2v("203.0.113.10", 80, sport=0), c2v("203.0.113.10", 53, sport=0, proto="udp", payload=b"q")]),
    "hold-unresolved": enc(NONEIGH, [c2v("203.0.113.10", 80, sport=40026), c2v("203.0.113.10", 80, sport=40027),
                                     arp_reply("203.0.113.11", RS[11]), (5, c2v("203.0.113.10", 80, sport=40028))]),
    "table-fill": enc(0, [c2v("203.0.113.10", 80, sport=41000 + i) for i in range(40)] + [(0xff, c2v("203.0.113.10", 80, sport=42000))]),
    "ping-vip": enc(0, [ping("203.0.113.10")]),
    "arp-vip": enc(0, [Ether(dst="ff:ff:ff:ff:ff:ff", src=CM) / ARP(op=1, hwsrc=CM, psrc="203.0.113.2", pdst="203.0.113.20")]),
    "vlan-nat-handshake": enc(VLAN, [v100(IP(src="192.0.2.2", dst="192.0.2.10") / TCP(sport=40030, dport=80, flags="S"))]
                              + [e(src=mac) / IP(src=f"203.0.113.{d}", dst="192.0.2.2") / TCP(sport=8080, dport=40030, flags="SA")
                                 for d, mac in RS.items()]
                              + [v100(IP(src="192.0.2.2", dst="192.0.2.10") / TCP(sport=40030, dport=80, flags="A"))]),
    "vlan-wrong-id": enc(VLAN, [Ether(dst=PM, src=VM) / Dot1Q(vlan=101) / IP(src="192.0.2.2", dst="192.0.2.10") / TCP(sport=40031, dport=80, flags="S")]),
    "vlan-qinq": enc(VLAN, [Ether(dst=PM, src=VM, type=0x88a8) / Dot1Q(vlan=100) / Dot1Q(vlan=100) / IP(src="192.0.2.2", dst="192.0.2.10") / TCP(sport=40032, dport=80, flags="S")]),
    "vlan-fragments": enc(VLAN, [v100(f) for f in fragment(IP(src="192.0.2.2", dst="192.0.2.10", id=9) / TCP(sport=40033, dport=80, flags="S") / (b"v" * 2000), fragsize=1400)]),
    "transit-default-route": enc(DEF | EXC, [e() / IP(src="203.0.113.2", dst="192.0.2.7") / UDP(sport=5, dport=6) / b"t",
                                             arp_reply("203.0.113.254", GW)]),
}

appliance = {
    "arp-request-local": enc(0, [Ether(dst="ff:ff:ff:ff:ff:ff", src=CM) / ARP(op=1, hwsrc=CM, psrc="203.0.113.2", pdst="203.0.113.1")]),
    "arp-request-vip": enc(0, [Ether(dst="ff:ff:ff:ff:ff:ff", src=CM) / ARP(op=1, hwsrc=CM, psrc="203.0.113.2", pdst="203.0.113.10")]),
    "arp-request-conflict": enc(0, [Ether(dst="ff:ff:ff:ff:ff:ff", src=CM) / ARP(op=1, hwsrc=CM, psrc="203.0.113.1", pdst="203.0.113.10")]),
    "arp-request-bcast-sender": enc(0, [Ether(dst="ff:ff:ff:ff:ff:ff", src=CM) / ARP(op=1, hwsrc="ff:ff:ff:ff:ff:ff", psrc="203.0.113.2", pdst="203.0.113.1")]),
    "arp-gratuitous": enc(0, [Ether(dst="ff:ff:ff:ff:ff:ff", src=CM) / ARP(op=1, hwsrc=CM, psrc="203.0.113.2", pdst="203.0.113.2")]),
    "arp-reply-exc": enc(EXC, [arp_reply("203.0.113.2", CM)]),
    "vlan-arp": enc(0, [Ether(dst="ff:ff:ff:ff:ff:ff", src=CM) / Dot1Q(vlan=7) / ARP(op=1, hwsrc=CM, psrc="203.0.113.2", pdst="203.0.113.1")]),
    "ping-local": enc(0, [ping("203.0.113.1")]),
    "ping-local-options": enc(0, [ping("203.0.113.1", options=b"\x07\x07\x04\x00\x00\x00\x00\x00")]),
    "ping-bad-option": enc(0, [ping("203.0.113.1", options=b"\x44\x02\x05\x00")]),
    "ping-bcast-src": enc(0, [e(src="ff:ff:ff:ff:ff:ff") / IP(src="203.0.113.2", dst="203.0.113.1") / ICMP()]),
    "ping-fragments": enc(0, [e() / f for f in fragment(IP(src="203.0.113.2", dst="203.0.113.1") / ICMP() / (b"p" * 3000), fragsize=1400)]),
    "ping-trailing-junk": enc(0, [raw(ping("203.0.113.1")) + b"\0" * 9]),
    "to-kernel-tcp": enc(EXC, [e() / IP(src="203.0.113.2", dst="203.0.113.1") / TCP(sport=40000, dport=22, flags="S")]),
    "broadcast-udp": enc(EXC, [e(dst="ff:ff:ff:ff:ff:ff") / IP(src="203.0.113.2", dst="203.0.113.255") / UDP(sport=68, dport=67)]),
    "multicast": enc(EXC, [e(dst="01:00:5e:00:00:01") / IP(src="203.0.113.2", dst="224.0.0.1") / UDP()]),
    "route-on-link": enc(0, [e() / IP(src="198.51.100.9", dst="203.0.113.12") / UDP(sport=1, dport=2)]),
    "route-via-client": enc(0, [e(src=RS[11]) / IP(src="203.0.113.11", dst="198.51.100.9") / UDP(sport=1, dport=2)]),
    "route-default-held": enc(DEF | NONEIGH, [e() / IP(src="203.0.113.2", dst="192.0.2.7") / UDP(sport=5, dport=6),
                                             e() / IP(src="203.0.113.2", dst="192.0.2.8") / UDP(sport=5, dport=6),
                                             (2, arp_reply("203.0.113.254", GW))]),
    "route-default-expire": enc(DEF, [e() / IP(src="203.0.113.2", dst="192.0.2.7") / UDP(sport=5, dport=6), (0x85, ping("203.0.113.1"))]),
    "route-ttl1": enc(DEF, [e() / IP(src="203.0.113.2", dst="192.0.2.7", ttl=1) / UDP(sport=5, dport=6)]),
    "route-to-zero": enc(DEF, [e() / IP(src="203.0.113.2", dst="0.0.0.0") / UDP(sport=5, dport=6)]),
    "route-to-loopback": enc(DEF, [e() / IP(src="203.0.113.2", dst="127.0.0.1") / UDP(sport=5, dport=6)]),
    "route-big-df": enc(DEF | STATIC, [e() / IP(src="203.0.113.2", dst="203.0.113.12", flags="DF") / UDP() / (b"b" * 1472)]),
    "neigh-stale-probe": enc(0, [(0xc0, e() / IP(src="198.51.100.9", dst="203.0.113.12") / UDP(sport=1, dport=2)), (3, ping("203.0.113.1"))]),
    "vlan-arp-ping": enc(VLAN, [Ether(dst="ff:ff:ff:ff:ff:ff", src=VM) / Dot1Q(vlan=100) / ARP(op=1, hwsrc=VM, psrc="192.0.2.2", pdst="192.0.2.1"),
                                 v100(IP(src="192.0.2.2", dst="192.0.2.1") / ICMP() / b"v"),
                                 v100(IP(src="192.0.2.2", dst="203.0.113.12") / UDP(sport=1, dport=2)),
                                 e(src=RS[12]) / IP(src="203.0.113.12", dst="192.0.2.2") / UDP(sport=2, dport=1)]),
    "vlan-held": enc(VLAN | NONEIGH, [e() / IP(src="203.0.113.2", dst="192.0.2.9") / UDP(sport=1, dport=2),
                                      Ether(dst=PM, src="02:00:00:00:00:09") / Dot1Q(vlan=100) / ARP(op=2, hwsrc="02:00:00:00:00:09", psrc="192.0.2.9", hwdst=PM, pdst="192.0.2.1")]),
    "transit-none": enc(DEF | T_NONE, [e() / IP(src="203.0.113.2", dst="192.0.2.7") / UDP(sport=5, dport=6),
                                       ping("203.0.113.1")]),
    "transit-outbound-vlan": enc(DEF | VLAN | T_OUT_VLAN, [v100(IP(src="192.0.2.2", dst="8.8.8.8") / UDP(sport=5, dport=53)),
                                                           e() / IP(src="203.0.113.2", dst="192.0.2.2") / UDP(sport=5, dport=6),
                                                           v100(IP(src="192.0.2.2", dst="203.0.113.12") / UDP(sport=5, dport=6))]),
    "transit-outbound-port0": enc(DEF | VLAN | T_OUT_PORT0, [e(src=RS[11]) / IP(src="203.0.113.11", dst="192.0.2.2") / UDP(sport=5, dport=6),
                                                             v100(IP(src="192.0.2.2", dst="203.0.113.11") / UDP(sport=5, dport=6))]),
    "eth-zero-dst": enc(0, [e(dst="00:00:00:00:00:00") / IP(src="203.0.113.2", dst="203.0.113.1") / ICMP()]),
}

for target, seeds in (("lbpath", lbpath), ("appliance", appliance)):
    out = os.path.join(here, "corpus", target)
    os.makedirs(out, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(out, f"seed-{name}"), "wb") as f:
            f.write(data)
    print(f"wrote {len(seeds)} seeds to {out}")
