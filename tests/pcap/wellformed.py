#!/usr/bin/python3
"""The shared well-formedness checker: every frame rvsd transmitted must pass it.

  wellformed.py OUT.pcap      exit 0 and print "wellformed OK: N frames", or exit 1 naming
                              each bad frame (index, scapy summary, what is wrong)

Every net_pcap test runs it on rvsd's output (tests/common/pcap.rs), so no test can pass
while rvsd sends a malformed frame. Checked with scapy, a dissector we did not write:
  Ethernet  source unicast and not all-zero; destination not all-zero;
            at most one 802.1Q tag, with a VLAN id 1..4094
  ARP       Ethernet/IPv4 sizes, operation 1 or 2, sender MAC unicast, sender IP not martian
  IPv4      version 4, IHL >= 5, header checksum right, total length >= header and the frame
            carries exactly the datagram (no trailing bytes beyond it except zero padding up
            to the 60-byte Ethernet minimum, 64 with a tag), source not 0/8, 127/8, 224/4, 240/4 or
            255.255.255.255, destination not 0.0.0.0 or 127/8, TTL > 0, options (if any)
            well formed, fragment fields consistent (offset*8 + payload <= 65535, a
            non-final fragment carries a multiple of 8 bytes)
  TCP/UDP   (whole datagrams only) header inside the datagram, checksum right (UDP 0 = none),
            source port != 0
  ICMP      (whole datagrams only) checksum right
  IPIP      the inner datagram fills the outer payload exactly and passes the IPv4 checks
"""
import ipaddress
import struct
import sys

from scapy.all import rdpcap, raw
from scapy.utils import checksum


def martian_src(a):
    ip = ipaddress.IPv4Address(a)
    return (a.startswith("0.") or a.startswith("127.") or ip.is_multicast
            or int(ip) >= 0xF0000000)


def martian_dst(a):
    return a == "0.0.0.0" or a.startswith("127.")


def unicast_mac(b):
    return (b[0] & 1) == 0 and b != b"\x00" * 6


def check_options(opts):
    i = 0
    while i < len(opts):
        t = opts[i]
        if t == 0:  # end of list
            return None
        if t == 1:  # no-op
            i += 1
            continue
        if i + 1 >= len(opts):
            return "option without a length byte"
        n = opts[i + 1]
        if n < 2 or i + n > len(opts):
            return f"option type {t} with bad length {n}"
        i += n
    return None


def l4_sum(src, dst, proto, seg):
    pseudo = src + dst + struct.pack("!BBH", 0, proto, len(seg))
    return checksum(pseudo + seg)


def check_ipv4(b, whole_frame_tail):
    """Checks the IPv4 datagram at the start of `b`; returns a reason or None.
    `whole_frame_tail`: bytes after the datagram must be zero padding of a minimum frame."""
    if len(b) < 20:
        return "IPv4 header truncated"
    ver, ihl = b[0] >> 4, (b[0] & 15) * 4
    if ver != 4 or ihl < 20 or len(b) < ihl:
        return f"IPv4 version {ver} / IHL {ihl}"
    total = struct.unpack("!H", b[2:4])[0]
    if total < ihl or total > len(b):
        return f"IPv4 total length {total} vs {len(b)} bytes carried"
    tail = b[total:]
    if tail and not whole_frame_tail(tail):
        return f"{len(tail)} bytes after the datagram (total length {total})"
    if checksum(b[:ihl]) != 0:
        return "IPv4 header checksum"
    src = str(ipaddress.IPv4Address(b[12:16]))
    dst = str(ipaddress.IPv4Address(b[16:20]))
    if martian_src(src):
        return f"martian source {src}"
    if martian_dst(dst):
        return f"martian destination {dst}"
    if b[8] == 0:
        return "TTL 0"
    bad = check_options(b[20:ihl])
    if bad:
        return bad
    frag = struct.unpack("!H", b[6:8])[0]
    mf, off = bool(frag & 0x2000), (frag & 0x1FFF) * 8
    if frag & 0x8000:
        return "reserved fragment flag set"
    payload = b[ihl:total]
    if off + len(payload) > 65535:
        return "fragment ends beyond 65535"
    if mf and len(payload) % 8:
        return "non-final fragment not a multiple of 8 bytes"
    if mf or off:
        return None  # L4 checks need the whole datagram
    proto = b[9]
    if proto == 6:
        if len(payload) < 20 or (payload[12] >> 4) * 4 < 20 or (payload[12] >> 4) * 4 > len(payload):
            return "TCP header outside the datagram"
        if l4_sum(b[12:16], b[16:20], 6, payload) != 0:
            return "TCP checksum"
        if payload[0:2] == b"\x00\x00":
            return "TCP source port 0"
    elif proto == 17:
        if len(payload) < 8:
            return "UDP header truncated"
        ulen = struct.unpack("!H", payload[4:6])[0]
        if ulen < 8 or ulen > len(payload):
            return f"UDP length {ulen} vs {len(payload)}"
        if payload[6:8] != b"\x00\x00" and l4_sum(b[12:16], b[16:20], 17, payload[:ulen]) not in (0, 0xFFFF):
            return "UDP checksum"
        if payload[0:2] == b"\x00\x00":
            return "UDP source port 0"
    elif proto == 1:
        if len(payload) < 8:
            return "ICMP shorter than 8 bytes"
        if checksum(payload) != 0:
            return "ICMP checksum"
    elif proto == 4:
        inner = check_ipv4(payload, lambda t: False)
        if inner:
            return f"IPIP inner: {inner}"
        if struct.unpack("!H", payload[2:4])[0] != len(payload):
            return "IPIP inner length does not fill the outer payload"
    return None


def check_frame(b):
    if len(b) < 14:
        return "shorter than an Ethernet header"
    dst, src = b[0:6], b[6:12]
    if dst == b"\x00" * 6:
        return "all-zero destination MAC"
    if not unicast_mac(src):
        return "source MAC not unicast"
    et, off = struct.unpack("!H", b[12:14])[0], 14
    if et == 0x8100:
        if len(b) < 18:
            return "802.1Q tag truncated"
        vid = struct.unpack("!H", b[14:16])[0] & 0x0FFF
        if vid in (0, 4095):
            return f"VLAN id {vid}"
        et, off = struct.unpack("!H", b[16:18])[0], 18
        if et == 0x8100:
            return "two 802.1Q tags"
    body = b[off:]

    def padding(tail):
        # The 60-byte minimum frame (without FCS) is counted without the tag: a tagged
        # minimum frame is 64 bytes (IEEE 802.1Q: the tag does not count toward it).
        return len(b) - (off - 14) <= 60 and tail == b"\x00" * len(tail)

    if et == 0x0806:
        if len(body) < 28:
            return "ARP truncated"
        htype, ptype, hlen, plen, op = struct.unpack("!HHBBH", body[:8])
        if (htype, ptype, hlen, plen) != (1, 0x0800, 6, 4) or op not in (1, 2):
            return f"ARP fields {htype} {ptype:#x} {hlen} {plen} op {op}"
        if not unicast_mac(body[8:14]):
            return "ARP sender MAC not unicast"
        if martian_src(str(ipaddress.IPv4Address(body[14:18]))):
            return "ARP sender IP martian"
        if len(body) > 28 and not padding(body[28:]):
            return f"{len(body) - 28} bytes after the ARP packet"
        return None
    if et == 0x0800:
        return check_ipv4(body, padding)
    return None  # other ethertypes (none expected) are not judged here


def main(path):
    bad = []
    frames = rdpcap(path)
    for i, p in enumerate(frames):
        why = check_frame(raw(p))
        if why:
            bad.append(f"frame {i}: {p.summary()}: {why}")
    if bad:
        print("wellformed FAILED:\n" + "\n".join(bad))
        sys.exit(1)
    print(f"wellformed OK: {len(frames)} frames")


if __name__ == "__main__":
    main(sys.argv[1])
