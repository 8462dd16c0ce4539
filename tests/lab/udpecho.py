#!/usr/bin/env python3
"""A UDP echo server that names itself: replies to each datagram with "NAME <payload>".

Usage: udpecho.py NAME [--port 53] [--bind 0.0.0.0]

The reply leaves FROM the address the request was sent TO (IP_PKTINFO), not from whatever
address the route would pick. That matters for DR and TUN real servers: the request is for the
VIP (held on lo), and the client only accepts an answer from the VIP; a plain sendto() on a
socket bound to 0.0.0.0 would answer from the interface address instead. Python stdlib only.
Prints "ready" (flushed) once bound.
"""
import argparse
import socket
import struct
import sys

IP_PKTINFO = getattr(socket, "IP_PKTINFO", 8)  # Linux value; older Pythons lack the name


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("name")
    ap.add_argument("--port", type=int, default=53)
    ap.add_argument("--bind", default="0.0.0.0")
    args = ap.parse_args()
    prefix = args.name.encode() + b" "
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_IP, IP_PKTINFO, 1)
    sock.bind((args.bind, args.port))
    print("ready", flush=True)
    cmsg_space = socket.CMSG_SPACE(12)
    while True:
        data, ancdata, _flags, peer = sock.recvmsg(65535, cmsg_space)
        cmsgs = []
        for level, ctype, cdata in ancdata:
            if level == socket.IPPROTO_IP and ctype == IP_PKTINFO and len(cdata) >= 12:
                # struct in_pktinfo { int ifindex; in_addr spec_dst; in_addr addr; }:
                # answer from the header's destination address, let routing pick the device.
                _ifindex, _spec, dst = struct.unpack("i4s4s", cdata[:12])
                cmsgs = [(socket.IPPROTO_IP, IP_PKTINFO, struct.pack("i4s4s", 0, dst, b"\0" * 4))]
        try:
            sock.sendmsg([prefix + data], cmsgs, 0, peer)
        except OSError as e:
            print("udpecho: send to %s failed: %s" % (peer, e), file=sys.stderr, flush=True)


if __name__ == "__main__":
    try:
        sys.exit(main())
    except KeyboardInterrupt:
        sys.exit(0)
