#!/usr/bin/python3
"""A bounded, continuous HTTP load for the lab, recording every request's outcome.

  http_load.py HOST PORT OUT [--keepalive N] [--max-seconds S] [--interval-ms MS]
               [--source ADDR]

Two kinds of traffic, each outcome a line appended (and flushed) as soon as it is known:
- OUT.new: one request after another, each on a NEW TCP connection (`Connection:
  close`), so each one is scheduled by the director; line "SEQ T ok SERVER" or
  "SEQ T fail REASON" (T: CLOCK_MONOTONIC seconds when the outcome was known). Requests are strictly sequential, so line order is scheduling
  order, which lets a test check a weighted scheduler's exact sequence.
- OUT.ka: N long-lived HTTP/1.1 keep-alive connections, all opened (one after another)
  before the first new-connection request, then each asked `GET /` every MS ms;
  line "SEQ T CONN ok SERVER" or "SEQ T CONN fail REASON". A connection is never reopened:
  once it has failed it stays failed, so it proves the connection lived through the run.
Stops when the file OUT.stop exists or after S seconds (the bound), then writes OUT.done.
With --source, connections come from ADDR (two loads through a NAT director towards the
same real servers must come from different addresses: the real servers would otherwise see
both loads' connections as one client address:port pair, and the client picks source
ports per destination, so the two can collide on a server's TIME_WAIT).
Every reply must be "200" with a body naming a real server (the lab's httpd.py).
"""
import argparse
import os
import socket
import threading
import time

# A new-connection request fails after 10 s: long enough for TCP's SYN retransmissions
# (1 s, then 3 s) to carry a request through a client or a director starved of CPU on
# a loaded 2-core machine (one request timed out at 3 s once, with the machine loaded);
# what rvsd drops is checked separately from its counters.
TIMEOUT = 10.0
# A keep-alive connection waits longer: while its real server is deleted (and
# expire_nodest_conn is off) the director drops its packets, and TCP's retransmissions
# carry it on once the server is re-added.
KA_TIMEOUT = 10.0


def read_reply(f):
    """Reads one HTTP/1.1 response from file object f; returns (status line, body)."""
    status = f.readline()
    if not status:
        raise RuntimeError("connection closed before a reply")
    length = None
    while True:
        h = f.readline()
        if not h:
            raise RuntimeError("connection closed in the headers")
        if h in (b"\r\n", b"\n"):
            break
        k, _, v = h.partition(b":")
        if k.strip().lower() == b"content-length":
            length = int(v.strip())
    if length is None:
        raise RuntimeError("reply without Content-Length")
    body = f.read(length)
    if len(body) != length:
        raise RuntimeError(f"short body {len(body)}/{length}")
    return status.decode(errors="replace").strip(), body.decode(errors="replace").strip()


def check(status, body):
    if not status.startswith("HTTP/1.1 200") and not status.startswith("HTTP/1.0 200"):
        raise RuntimeError(f"status {status!r}")
    if not body.startswith("rs") or " " in body:
        raise RuntimeError(f"body {body[:40]!r}")
    return body


def one_new(host, port, src):
    with socket.create_connection((host, port), timeout=TIMEOUT, source_address=src) as s:
        s.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
        with s.makefile("rb") as f:
            return check(*read_reply(f))


class Log:
    def __init__(self, path):
        self.f = open(path, "a", buffering=1)
        self.lock = threading.Lock()
        self.seq = 0

    def write(self, rest):
        with self.lock:
            self.f.write(f"{self.seq} {time.monotonic():.3f} {rest}\n")
            self.f.flush()
            self.seq += 1


def reason(e):
    return (type(e).__name__ + ":" + str(e)).replace(" ", "_").replace("\n", "_")[:120]


def keepalive(host, port, conn, sock, log, stop, interval):
    f = sock.makefile("rb")
    while not stop.is_set():
        try:
            sock.sendall(f"GET / HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            log.write(f"{conn} ok {check(*read_reply(f))}")
        except Exception as e:  # noqa: BLE001 (every failure is an outcome to record)
            log.write(f"{conn} fail {reason(e)}")
            return
        stop.wait(interval)
    sock.close()


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("host")
    ap.add_argument("port", type=int)
    ap.add_argument("out")
    ap.add_argument("--keepalive", type=int, default=0)
    ap.add_argument("--max-seconds", type=float, default=120)
    ap.add_argument("--interval-ms", type=float, default=20)
    ap.add_argument("--source", default=None)
    a = ap.parse_args()
    src = (a.source, 0) if a.source else None
    stop = threading.Event()
    deadline = time.monotonic() + a.max_seconds
    new_log, ka_log = Log(a.out + ".new"), Log(a.out + ".ka")
    threads = []
    for conn in range(a.keepalive):
        try:
            sock = socket.create_connection(
                (a.host, a.port), timeout=KA_TIMEOUT, source_address=src
            )
        except Exception as e:  # noqa: BLE001
            ka_log.write(f"{conn} fail {reason(e)}")
            continue
        t = threading.Thread(
            target=keepalive,
            args=(a.host, a.port, conn, sock, ka_log, stop, a.interval_ms / 1000),
            daemon=True,
        )
        t.start()
        threads.append(t)
    while not os.path.exists(a.out + ".stop") and time.monotonic() < deadline:
        try:
            new_log.write(f"ok {one_new(a.host, a.port, src)}")
        except Exception as e:  # noqa: BLE001
            new_log.write(f"fail {reason(e)}")
    stop.set()
    for t in threads:
        t.join(KA_TIMEOUT * 2)
    with open(a.out + ".done", "w") as f:
        f.write(f"{new_log.seq} {ka_log.seq}\n")


main()
