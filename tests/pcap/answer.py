#!/usr/bin/python3
"""Validate before answering (issue 10 item 3) through the real DPDK path, table-driven.

  answer.py make IN.pcap PORT_MAC     writes the table's frames
  answer.py check OUT.pcap PORT_MAC   checks rvsd's output with scapy and prints
                                      "expect COUNTER N" lines for the Rust side

One port 203.0.113.1/24, a NAT service 203.0.113.10:80 -> 203.0.113.11:8080, a default
route via the client 203.0.113.2, no exception path. The rules (docs/DROPS.md):
  IP options, every path: malformed list -> drop_bad_ip_options; LSRR/SSRR ->
  drop_source_route; other well-formed options: ICMP echo -> drop_ip_options, routed ->
  forwarded with the options unchanged.
  ICMP echo: answered only when well formed (ICMP checksum -> drop_bad_icmp_checksum,
  shorter than an ICMP header -> drop_malformed); never to a broadcast destination.
  ARP: a sender IP that is ours or a VIP -> drop_arp_conflict (logged, not learnt); a
  sender MAC that is not unicast -> drop_arp_bad_sender (not learnt: a later SYN still
  goes to the real server's true MAC); a probe from 0.0.0.0 for our address is answered.
"""
import sys
from collections import Counter
from scapy.all import Ether, ARP, IP, TCP, UDP, ICMP, wrpcap, rdpcap, raw
from scapy.utils import checksum

C_MAC, R_MAC, OTHER_MAC = "02:00:00:00:00:02", "02:00:00:00:00:11", "02:00:00:00:00:66"
CLIENT, LOCAL, VIP, REAL, FAR = "203.0.113.2", "203.0.113.1", "203.0.113.10", "203.0.113.11", "198.51.100.7"
BCAST = "ff:ff:ff:ff:ff:ff"

# Option bytes, inserted raw (scapy refuses to build the malformed ones).
RA = b"\x94\x04\x00\x00"                    # Router Alert, well formed
BAD_LEN0 = b"\x94\x00\x00\x00"              # length 0
BAD_PAST = b"\x07\x09\x04\x00"              # record route longer than the header
LSRR = b"\x83\x07\x04\xc6\x33\x64\x07\x00"  # loose source route via 198.51.100.7
SSRR = b"\x89\x07\x04\xc6\x33\x64\x07\x00"  # strict source route


def with_options(frame, opts):
    """`frame` (Ether/IP, no options) with the raw option bytes `opts` (a multiple of 4)
    inserted: IHL, total length and header checksum fixed (L4 checksums do not cover them)."""
    if not opts:
        return frame
    b = bytearray(raw(frame))
    b[34:34] = opts
    hl = 20 + len(opts)
    b[14] = 0x40 | (hl // 4)
    b[16:18] = (int.from_bytes(b[16:18], "big") + len(opts)).to_bytes(2, "big")
    b[24:26] = b"\x00\x00"
    b[24:26] = checksum(bytes(b[14:14 + hl])).to_bytes(2, "big")
    return Ether(bytes(b))


def garp(mac, ip):
    return Ether(dst=BCAST, src=mac) / ARP(op=1, hwsrc=mac, psrc=ip, pdst=ip)


def table(pm):
    """(name, frame, expected counter or "ok") in input order."""
    def ping(dst=LOCAL, options=b"", icmp_sum=None, edst=pm, seq=1):
        f = Ether(dst=edst, src=C_MAC) / IP(src=CLIENT, dst=dst) / ICMP(id=7, seq=seq, chksum=icmp_sum) / b"answer"
        return with_options(f, options)

    def syn(options, sport):
        return with_options(Ether(dst=pm, src=C_MAC) / IP(src=CLIENT, dst=VIP) / TCP(sport=sport, dport=80, flags="S"), options)

    def routed(options, sport):
        return with_options(Ether(dst=pm, src=C_MAC) / IP(src=CLIENT, dst=FAR) / UDP(sport=sport, dport=53) / b"q", options)

    def arp(psrc=CLIENT, hwsrc=C_MAC, esrc=C_MAC, pdst=LOCAL):
        return Ether(dst=BCAST, src=esrc) / ARP(op=1, hwsrc=hwsrc, psrc=psrc, pdst=pdst)

    short_icmp = Ether(raw(Ether(dst=pm, src=C_MAC) / IP(src=CLIENT, dst=LOCAL, proto=1, len=24) / b"\x08\x00\x00\x00"))
    return [
        ("echo ok", ping(), "ok"),
        # Every word of the reply is zero: its checksum must be 0xffff as a full sum gives
        # (Linux recomputes), not the 0x0000 of an RFC 1624 incremental update.
        ("echo ok: all-zero reply", Ether(dst=pm, src=C_MAC) / IP(src=CLIENT, dst=LOCAL) / ICMP(id=0, seq=0), "ok"),
        ("echo: Router Alert option", ping(options=RA, seq=2), "drop_ip_options"),
        ("echo: option of length 0", ping(options=BAD_LEN0, seq=3), "drop_bad_ip_options"),
        ("echo: option past the header", ping(options=BAD_PAST, seq=4), "drop_bad_ip_options"),
        ("echo: loose source route", ping(options=LSRR, seq=5), "drop_source_route"),
        ("echo: strict source route", ping(options=SSRR, seq=6), "drop_source_route"),
        ("echo: bad ICMP checksum", ping(icmp_sum=0x1234, seq=7), "drop_bad_icmp_checksum"),
        ("echo to the VIP: bad ICMP checksum", ping(dst=VIP, icmp_sum=0x1234, seq=8), "drop_bad_icmp_checksum"),
        ("echo: 4-byte ICMP", short_icmp, "drop_malformed"),
        ("echo to our subnet broadcast", ping(dst="203.0.113.255", edst=BCAST, seq=9), "drop_no_exception_path"),
        ("echo to 255.255.255.255", ping(dst="255.255.255.255", edst=BCAST, seq=10), "drop_no_exception_path"),
        ("SYN: loose source route", syn(LSRR, 41000), "drop_source_route"),
        ("SYN: option of length 0", syn(BAD_LEN0, 41001), "drop_bad_ip_options"),
        ("routed ok: Router Alert kept", routed(RA, 5001), "ok"),
        ("routed: loose source route", routed(LSRR, 5002), "drop_source_route"),
        ("routed: option past the header", routed(BAD_PAST, 5003), "drop_bad_ip_options"),
        # Contents as Linux's ip_options_compile (review finding 7): Timestamp pointer < 5,
        # Record Route pointer < 4 are malformed, not routed.
        ("routed: timestamp pointer 2", routed(b"\x44\x08\x02\x00\x00\x00\x00\x00", 5004), "drop_bad_ip_options"),
        ("routed: record route pointer 1", routed(b"\x07\x07\x01\x00\x00\x00\x00\x00", 5005), "drop_bad_ip_options"),
        ("arp ok", arp(), "ok"),
        ("arp probe ok: from 0.0.0.0", arp(psrc="0.0.0.0", hwsrc=OTHER_MAC, esrc=OTHER_MAC), "ok"),
        ("arp: another station claims our address", arp(psrc=LOCAL, hwsrc=OTHER_MAC, esrc=OTHER_MAC, pdst=VIP), "drop_arp_conflict"),
        ("arp: another station claims the VIP", arp(psrc=VIP, hwsrc=OTHER_MAC, esrc=OTHER_MAC), "drop_arp_conflict"),
        ("arp: multicast sender MAC claiming the real server", arp(psrc=REAL, hwsrc="01:00:5e:00:00:01"), "drop_arp_bad_sender"),
        ("arp: zero sender MAC claiming the real server", arp(psrc=REAL, hwsrc="00:00:00:00:00:00"), "drop_arp_bad_sender"),
        ("SYN ok: to the real server's true MAC", syn(b"", 41002), "ok"),
    ]


def make(path, pm):
    frames = [garp(C_MAC, CLIENT), garp(R_MAC, REAL)] + [f for _, f, _ in table(pm)]
    wrpcap(path, frames)


def fail(msg):
    print("answer check FAILED:", msg)
    sys.exit(1)


def check(path, pm):
    cases = table(pm)
    out = list(rdpcap(path))
    own = [p for p in out if ARP in p and p[ARP].op == 1 and p[ARP].hwsrc == pm]
    rest = [p for p in out if p not in own]
    wanted = {
        "echo ok": lambda p: ICMP in p and p[ICMP].type == 0 and p[IP].ihl == 5 and p[IP].src == LOCAL
        and p[IP].dst == CLIENT and p[Ether].dst == C_MAC and bytes(p[ICMP].payload) == b"answer",
        "echo ok: all-zero reply": lambda p: ICMP in p and p[ICMP].type == 0 and p[ICMP].id == 0
        and p[ICMP].seq == 0 and p[ICMP].chksum == 0xffff and p[IP].dst == CLIENT and not bytes(p[ICMP].payload),
        "routed ok: Router Alert kept": lambda p: UDP in p and p[IP].dst == FAR and p[IP].ttl == 63
        and raw(p[IP])[20:24] == b"\x94\x04\x00\x00" and p[Ether].dst == C_MAC,
        "arp ok": lambda p: ARP in p and p[ARP].op == 2 and p[ARP].psrc == LOCAL and p[ARP].pdst == CLIENT
        and p[Ether].dst == C_MAC,
        "arp probe ok: from 0.0.0.0": lambda p: ARP in p and p[ARP].op == 2 and p[ARP].psrc == LOCAL
        and p[ARP].pdst == "0.0.0.0" and p[ARP].hwdst == OTHER_MAC and p[Ether].dst == OTHER_MAC,
        "SYN ok: to the real server's true MAC": lambda p: TCP in p and p[IP].dst == REAL and p[TCP].sport == 41002
        and p[Ether].dst == R_MAC,
    }
    oks = [n for n, _, e in cases if e == "ok"]
    for name in oks:
        hits = [p for p in rest if wanted[name](p)]
        if len(hits) != 1:
            fail(f"{name}: expected its one output frame, got {[p.summary() for p in hits]}")
    if len(rest) != len(oks):
        fail(f"expected only the {len(oks)} controls' outputs, got {len(rest)}: {[p.summary() for p in rest]}")
    expect = Counter(e for _, _, e in cases if e != "ok")
    for name, n in sorted(expect.items()):
        print(f"expect {name} {n}")
    print(f"answer check OK: {len(cases)} cases, {len(oks)} controls answered, the rest sent nothing")


if __name__ == "__main__":
    {"make": make, "check": check}[sys.argv[1]](sys.argv[2], sys.argv[3])
