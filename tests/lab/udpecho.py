#!/usr/bin/python3
"""UDP echo that names itself: each datagram is answered with b"NAME " + payload.

  udpecho.py NAME [--bind ADDR] [--port 53]
"""
import argparse
import socket

ap = argparse.ArgumentParser()
ap.add_argument("name")
ap.add_argument("--bind", default="0.0.0.0")
ap.add_argument("--port", type=int, default=53)
a = ap.parse_args()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind((a.bind, a.port))
print("ready", flush=True)
prefix = a.name.encode() + b" "
while True:
    data, peer = s.recvfrom(65535)
    s.sendto(prefix + data, peer)
