#!/usr/bin/python3
"""A userspace 802.1Q access port for the lab, whose kernel has no 8021q module and no
bridge VLAN filtering (`ip link add ... type vlan` answers "Unknown device type").

  vlan_tagger.py ACCESS_IF TRUNK_IF VID

Frames the host behind ACCESS_IF sends leave on TRUNK_IF with an 802.1Q tag VID (priority
0); tagged frames with VID arriving on TRUNK_IF leave on ACCESS_IF untagged, other frames
from the trunk are ignored: what a switch access port, or Linux's `eth0.VID`, does.

The kernel takes a received tag off before packet sockets see the frame and reports it in
the PACKET_AUXDATA control message (tp_status TP_STATUS_VLAN_VALID, tp_vlan_tci), so the
trunk side reads the tag from there (and from the frame, should a kernel leave it inline).
"""
import socket
import struct
import sys
import select

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_AUXDATA = 8
PACKET_OUTGOING = 4
TP_STATUS_VLAN_VALID = 1 << 4


def open_if(name):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    s.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    s.bind((name, 0))
    return s


def recv(s):
    """(frame, tci or None), or None for a frame this host sent itself."""
    data, anc, _flags, addr = s.recvmsg(65535, socket.CMSG_SPACE(64))
    if addr[2] == PACKET_OUTGOING:
        return None
    tci = None
    for level, kind, d in anc:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(d) >= 20:
            status, _len, _snap, _mac, _net, vtci, _tpid = struct.unpack("IIIHHHH", d[:20])
            if status & TP_STATUS_VLAN_VALID:
                tci = vtci
    if tci is None and len(data) >= 18 and data[12:14] == b"\x81\x00":
        tci = struct.unpack("!H", data[14:16])[0]
        data = data[:12] + data[16:]
    return data, tci


def main(access, trunk, vid):
    a, t = open_if(access), open_if(trunk)
    tag = b"\x81\x00" + struct.pack("!H", vid & 0x0FFF)
    while True:
        ready, _, _ = select.select([a, t], [], [])
        for s in ready:
            got = recv(s)
            if got is None:
                continue
            frame, tci = got
            if s is a and tci is None:
                t.send(frame[:12] + tag + frame[12:])
            elif s is t and tci is not None and tci & 0x0FFF == vid:
                a.send(frame)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2], int(sys.argv[3]))
