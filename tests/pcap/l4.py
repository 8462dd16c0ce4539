#!/usr/bin/python3
"""No state from what is dropped; L4 validity before state (issue 10 item 4), through the
real DPDK path.

  l4.py make IN.pcap PORT_MAC     writes the crafted input
  l4.py check OUT.pcap PORT_MAC   dissects rvsd's output with scapy

One port 203.0.113.1/24. Services: NAT TCP 203.0.113.10:80 -> .11:8080, TUN TCP .30:80 ->
.13, NAT UDP .10:53 -> .11:53. Client .2. A first packet that is dropped or answered
instead of forwarded must leave no connection entry: each such SYN is followed by an ACK
of the same flow, which must then get the RST a VIP without an entry answers (an entry
would forward it). TCP/UDP to VIP:99 (no service) gets what the director's stack answers. The table: name, input frame, expected output (None: nothing sent;
else a predicate on the one frame it causes), in input order. Rust (tests/hostile_l4.rs)
checks the counters.
"""
import sys
from scapy.all import Ether, ARP, IP, TCP, UDP, ICMP, TCPerror, UDPerror, wrpcap, rdpcap, raw

C_MAC, R_MACS = "02:00:00:00:00:02", ["02:00:00:00:00:11", "02:00:00:00:00:13"]
CLIENT, REALS = "203.0.113.2", ["203.0.113.11", "203.0.113.13"]
VIP, VIP_TUN = "203.0.113.10", "203.0.113.30"


def garp(mac, ip):
    return Ether(dst="ff:ff:ff:ff:ff:ff", src=mac) / ARP(op=1, hwsrc=mac, psrc=ip, hwdst="00:00:00:00:00:00", pdst=ip)


def nat_tcp(sport):
    return lambda p: TCP in p and p[IP].dst == REALS[0] and p[TCP].sport == sport and p[TCP].dport == 8080


def nat_udp(sport):
    return lambda p: UDP in p and p[IP].dst == REALS[0] and p[UDP].sport == sport and p[UDP].dport == 53


def rst(sport, vip=VIP):
    return lambda p: (TCP in p and p[TCP].flags.R and p[IP].src == vip and p[TCP].dport == sport
                      and p[IP].dst == CLIENT)


def icmp(type_, code, sport):
    return lambda p: (ICMP in p and p[ICMP].type == type_ and p[ICMP].code == code and p[IP].dst == CLIENT
                      and TCPerror in p and p[TCPerror].sport == sport)


def cases(pm):
    e = Ether(dst=pm, src=C_MAC)

    def tcp(sport, flags="S", dst=VIP, dport=80, ip=None, **kw):
        return e / IP(src=CLIENT, dst=dst, **(ip or {})) / TCP(sport=sport, dport=dport, flags=flags, seq=1000,
                                                                ack=1 if "A" in flags else 0, **kw)

    def bad_doff(sport, doff):
        b = bytearray(raw(tcp(sport)))
        b[14 + 20 + 12] = doff << 4
        return Ether(bytes(b))

    def udp(sport, ulen=None, chksum=None, dport=53):
        u = UDP(sport=sport, dport=dport)
        if ulen is not None:
            u.len = ulen
        if chksum is not None:
            u.chksum = chksum
        return e / IP(src=CLIENT, dst=VIP) / u / b"query"

    big = b"x" * 1460
    return [
        ("syn_ok", tcp(41000), nat_tcp(41000)),
        ("syn_ttl1", tcp(41001, ip={"ttl": 1}), icmp(11, 0, 41001)),
        ("ack_after_ttl1", tcp(41001, "A"), rst(41001)),
        ("syn_ip_options", tcp(41002, ip={"options": b"\x01\x01\x01\x00"}), None),
        ("ack_after_options", tcp(41002, "A"), rst(41002)),
        ("syn_too_big_df", tcp(41003, dst=VIP_TUN, ip={"flags": "DF"}) / big, icmp(3, 4, 41003)),
        ("ack_after_too_big", tcp(41003, "A", dst=VIP_TUN), rst(41003, VIP_TUN)),
        ("syn_bad_tcp_checksum", tcp(41005, chksum=0x1234), None),
        ("ack_after_bad_checksum", tcp(41005, "A"), rst(41005)),
        # A service port, no connection, a corrupted segment: Linux's tcp_v4_rcv discards a
        # bad checksum before tcp_v4_send_reset, so no RST (review finding 5).
        ("ack_bad_checksum_no_conn", tcp(41014, "A", chksum=0x1), None),
        ("syn_sport_0", tcp(0), None),
        ("syn_dport_0", tcp(41006, dport=0), None),
        ("tcp_data_offset_4", bad_doff(41007, 4), None),
        ("tcp_data_offset_beyond", bad_doff(41008, 15), None),
        ("udp_length_7", udp(41009, ulen=7), None),
        ("udp_length_beyond", udp(41010, ulen=200), None),
        ("udp_bad_checksum", udp(41011, chksum=0x1234), None),
        ("udp_checksum_none", udp(41012, chksum=0), nat_udp(41012)),
        ("udp_ok", udp(41013), nat_udp(41013)),
        ("ack_of_syn_ok", tcp(41000, "A"), nat_tcp(41000)),
        # No service on VIP:99: the director's stack answers (RST, port unreachable), not
        # for a RST and not for a corrupted segment.
        ("no_service_syn", tcp(41020, dport=99),
         lambda p: rst(41020)(p) and p[TCP].flags == "RA" and p[TCP].seq == 0 and p[TCP].ack == 1001),
        ("no_service_ack", tcp(41021, "A", dport=99), lambda p: rst(41021)(p) and p[TCP].seq == 1),
        ("no_service_rst", tcp(41022, "R", dport=99), None),
        ("no_service_bad_checksum", tcp(41023, dport=99, chksum=0x1234), None),
        ("no_service_udp", udp(41024, dport=99),
         lambda p: ICMP in p and p[ICMP].type == 3 and p[ICMP].code == 3 and p[IP].src == VIP
         and UDPerror in p and p[UDPerror].sport == 41024 and p[UDPerror].dport == 99),
    ]


def make(path, pm):
    f = [garp(C_MAC, CLIENT)] + [garp(m, a) for m, a in zip(R_MACS, REALS)]
    f += [Ether(raw(p)) for _, p, _ in cases(pm)]
    wrpcap(path, f)


def fail(msg):
    print("l4 pcap check FAILED:", msg)
    sys.exit(1)


def check(path, pm):
    out = [p for p in rdpcap(path) if ARP not in p]
    want = [(n, w) for n, _, w in cases(pm) if w is not None]
    if len(out) != len(want):
        fail(f"expected {len(want)} frames ({[n for n, _ in want]}), got {len(out)}: {[p.summary() for p in out]}")
    for (name, w), p in zip(want, out):
        if not w(p):
            fail(f"{name}: {p.summary()}")
    print(f"l4 pcap check OK: {len(out)} frames as the table says")


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2], sys.argv[3])
