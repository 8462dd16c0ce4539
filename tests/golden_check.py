#!/usr/bin/python3
"""Checks the expected outputs of the golden packet cases with scapy.

Usage: /usr/bin/python3 tests/golden_check.py [tests/fixtures/golden/cases.json]

For every case with an expected output frame:
- scapy dissects it; every checksum of the outer layers (IPv4 headers, TCP, UDP,
  ICMP) is recomputed by deleting the field and rebuilding: the bytes must not
  change (a UDP checksum of 0 means "none" and is left as it is);
- the IPv4 header quoted inside an ICMP error must sum correctly on its own;
- the key fields listed in "expect" ("Layer:n.field": value) must hold.
Also checks each input frame dissects as Ethernet (so a typo in the generator
shows), and that the ICMP errors rvs originates quote at least header + 8 bytes.

Exit status: 0 all good, 1 some check failed, 77 scapy is not installed.
"""

import json
import sys

try:
    from scapy.all import ICMP, IP, TCP, UDP, Ether, IPerror, Raw, Dot1Q, TCPerror, UDPerror, raw  # noqa: F401
except ImportError as e:  # pragma: no cover
    print(f"scapy not importable: {e}", file=sys.stderr)
    sys.exit(77)

LAYERS = {
    "Ether": Ether,
    "Dot1Q": Dot1Q,
    "IP": IP,
    "TCP": TCP,
    "UDP": UDP,
    "ICMP": ICMP,
    "IPerror": IPerror,
    "TCPerror": TCPerror,
    "UDPerror": UDPerror,
}


def ones_sum(b):
    if len(b) % 2:
        b += b"\x00"
    s = 0
    for i in range(0, len(b), 2):
        s += (b[i] << 8) | b[i + 1]
    while s > 0xFFFF:
        s = (s & 0xFFFF) + (s >> 16)
    return s


def recomputed(frame):
    """The frame with every outer checksum recomputed by scapy."""
    p = Ether(frame)
    layer = p
    while layer is not None and not isinstance(layer, Raw):
        if type(layer) in (IP, TCP, ICMP) and "chksum" in layer.fields:
            del layer.chksum
        elif type(layer) is UDP and layer.chksum != 0:
            del layer.chksum
        if type(layer) is ICMP:
            break  # what follows is a quote: its checksums are not ours to fix
        layer = layer.payload if layer.payload else None
    return raw(p)


def field(p, key):
    lname, fname = key.split(".", 1)
    cls, _, n = lname.partition(":")
    layer = p.getlayer(LAYERS[cls], nb=int(n or 1))
    if layer is None:
        raise KeyError(f"no layer {lname}")
    v = getattr(layer, fname)
    if fname == "flags":
        v = int(v)
    return v


def check_case(c):
    errs = []
    name = c["name"]
    inp = bytes.fromhex(c["input"])
    if len(inp) >= 14 and Ether not in Ether(inp):
        errs.append("input does not dissect as Ethernet")
    if c["output"] is None:
        if c["verdict"] in ("forward",) or c["verdict"].startswith("send_back"):
            errs.append("a forwarding verdict needs an expected output")
        return errs
    out = bytes.fromhex(c["output"])
    p = Ether(out)
    # Ethernet padding is not part of any checksum: compare up to it only.
    try:
        again = recomputed(out)
    except Exception as e:  # noqa: BLE001
        return [f"{name}: scapy cannot rebuild the output: {e}"]
    if again[: len(out)] != out[: len(again)]:
        diff = next(i for i in range(min(len(out), len(again))) if out[i] != again[i])
        errs.append(f"checksum/length mismatch after recompute at byte {diff}")
    if IPerror in p:
        q = p[IPerror]
        hdr = raw(q)[: q.ihl * 4]
        if len(hdr) == q.ihl * 4 and ones_sum(hdr) != 0xFFFF:
            errs.append("quoted IPv4 header checksum is wrong")
    if c["verdict"].startswith("send_back"):
        icmp = p[ICMP]
        quote = raw(icmp.payload)
        if len(quote) < 28:
            errs.append("ICMP error quotes less than header + 8 bytes")
        if len(p[IP]) > 576:
            errs.append("ICMP error longer than 576 bytes")
        # The quote is the received packet, except for the TTL byte (IPVS decrements it
        # before its MTU check) and so the quoted header checksum.
        a, b = bytearray(quote), bytearray(inp[c["params"]["l3"]:][: len(quote)])
        if len(a) == len(b) and len(a) >= 20:
            a[8] = b[8]
            a[10:12] = b[10:12]
        if a != b:
            errs.append("quote differs from the received packet beyond TTL and header checksum")
    for key, want in c["expect"].items():
        try:
            got = field(p, key)
        except Exception as e:  # noqa: BLE001
            errs.append(f"{key}: {e}")
            continue
        if got != want:
            errs.append(f"{key} = {got!r}, want {want!r}")
    return errs


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else "tests/fixtures/golden/cases.json"
    with open(path) as f:
        doc = json.load(f)
    bad = 0
    for c in doc["cases"]:
        errs = check_case(c)
        for e in errs:
            print(f"{c['name']}: {e}")
        bad += bool(errs)
    n = len(doc["cases"])
    print(f"golden_check: {n - bad}/{n} cases pass")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
