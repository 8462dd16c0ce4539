#!/usr/bin/python3
"""Opens N concurrent HTTP/1.1 connections to URL-less VIP:PORT, spread over the given
source addresses, sends GET / on each once all are open, and checks every body names a
real server. Prints one line: "ok <n> <name>=<count> ..." or "fail <reason>".

  many_clients.py VIP PORT N SRC [SRC...]
"""
import asyncio
import collections
import sys


async def one(vip, port, src, barrier):
    r, w = await asyncio.wait_for(asyncio.open_connection(vip, port, local_addr=(src, 0)), 20)
    await barrier.wait()
    w.write(f"GET / HTTP/1.1\r\nHost: {vip}\r\nConnection: close\r\n\r\n".encode())
    await w.drain()
    data = await asyncio.wait_for(r.read(), 30)
    w.close()
    head, _, body = data.partition(b"\r\n\r\n")
    if not head.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"bad reply {head[:40]!r}")
    return body.decode().strip()


async def main():
    vip, port, n, srcs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4:]
    barrier = asyncio.Barrier(n)
    tasks = [one(vip, port, srcs[i % len(srcs)], barrier) for i in range(n)]
    res = await asyncio.gather(*tasks, return_exceptions=True)
    errs = [r for r in res if isinstance(r, Exception)]
    if errs:
        print(f"fail {len(errs)} errors, first: {errs[0]!r}")
        return 1
    c = collections.Counter(res)
    print("ok", n, " ".join(f"{k}={v}" for k, v in sorted(c.items())))
    return 0


sys.exit(asyncio.run(main()))
