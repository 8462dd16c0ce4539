#!/usr/bin/python3
"""Userspace IP-in-IP decapsulator for TUN-mode real servers in the lab.

The lab kernel has no `ipip` module. On a normal host a TUN real server does:
    ip link add tunl0 type ipip && ip link set tunl0 up && ip addr add VIP/32 dev tunl0
Here, instead, this helper reads every IPIP packet (IP protocol 4) with a raw socket,
strips the outer IPv4 header and writes the inner packet into a TUN device, so the
kernel delivers it to the VIP (configured on lo) and the real server answers directly.

  ipip_decap.py [--dev rvsdecap0]
Prints "ready" once the TUN device is up.
"""
import argparse
import fcntl
import os
import socket
import struct
import subprocess

TUNSETIFF = 0x400454CA
IFF_TUN = 0x0001
IFF_NO_PI = 0x1000

ap = argparse.ArgumentParser()
ap.add_argument("--dev", default="rvsdecap0")
a = ap.parse_args()

tun = os.open("/dev/net/tun", os.O_RDWR)
fcntl.ioctl(tun, TUNSETIFF, struct.pack("16sH", a.dev.encode(), IFF_TUN | IFF_NO_PI))
subprocess.run(["ip", "link", "set", a.dev, "up"], check=True)
for key in ("all", a.dev):
    with open(f"/proc/sys/net/ipv4/conf/{key}/rp_filter", "w") as f:
        f.write("0")
    with open(f"/proc/sys/net/ipv4/conf/{key}/accept_local", "w") as f:
        f.write("1")

raw = socket.socket(socket.AF_INET, socket.SOCK_RAW, 4)
print("ready", flush=True)
while True:
    pkt = raw.recv(65535)
    if len(pkt) < 20:
        continue
    ihl = (pkt[0] & 0x0F) * 4
    inner = pkt[ihl:]
    if len(inner) >= 20 and inner[0] >> 4 == 4:
        os.write(tun, inner)
