#!/usr/bin/env python3
"""Checks that DPDK itself accepts what the example configs ask of it.

For each configs/*.toml (or the files given), this starts `dpdk-testpmd` with
the config's own [eal] args, one `--vdev` per [[port]] device string, one
net_tap per exception path, and as many RX/TX queues as there are worker
cores, then asks it for port info and quits. The af_packet devices need their
`iface=` interfaces to exist, so everything runs inside a network namespace
this script creates (with veth pairs of those names) and deletes afterwards;
nothing touches the root namespace.

Run as root:  python3 configs/check-with-testpmd.py [configs/lab-nat.toml ...]
Exit status 0 when every config started all its ports.
"""

import glob
import os
import re
import subprocess
import sys
import tomllib

NETNS = f"rvscfg{os.getpid() % 100000}"


def sh(*args, check=True):
    return subprocess.run(args, check=check, capture_output=True, text=True)


def check(path):
    with open(path, "rb") as f:
        cfg = tomllib.load(f)
    workers = len(cfg["cores"]["workers"])
    eal = list(cfg.get("eal", {}).get("args", []))
    # A prefix of our own, so a running rvsd or another check is never disturbed.
    if "--file-prefix" in eal:
        i = eal.index("--file-prefix")
        eal[i + 1] = f"{NETNS}-{eal[i + 1]}"
    ports = cfg["port"]
    for n, port in enumerate(ports):
        dev = port["device"]
        m = re.search(r"iface=([^,]+)", dev)
        if m:
            sh("ip", "netns", "exec", NETNS, "ip", "link", "add", m.group(1), "type", "veth",
               "peer", "name", f"peer{n}")
            for ifname in (m.group(1), f"peer{n}"):
                sh("ip", "netns", "exec", NETNS, "ip", "link", "set", ifname, "up")
        eal += ["--vdev", dev]
    taps = 0
    for port in ports:
        if port.get("exception_path"):
            name = port.get("tap_name", port["name"])
            eal += ["--vdev", f"net_tap{taps},iface={name}"]
            taps += 1
    cmd = ["ip", "netns", "exec", NETNS, "dpdk-testpmd", *eal, "--",
           "-i", f"--rxq={workers}", f"--txq={workers}", "--total-num-mbufs=16384"]
    out = subprocess.run(cmd, input="show port summary all\nquit\n", capture_output=True,
                         text=True, timeout=120)
    text = out.stdout + out.stderr
    started = len(re.findall(r"^Port \d+: ", text, re.M))
    expected = len(ports) + taps
    # testpmd prints "Port N: <MAC>" for each port it started, and "Fail to
    # start/configure port" otherwise (net_tap's qdisc warnings are harmless).
    ok = out.returncode == 0 and started >= expected and "Fail to " not in text
    print(f"{'ok  ' if ok else 'FAIL'} {path}: {started}/{expected} ports started "
          f"with {workers} queue pair(s) each")
    if not ok:
        print(text[-3000:])
    # Remove this config's interfaces before the next one.
    for n, port in enumerate(ports):
        m = re.search(r"iface=([^,]+)", port["device"])
        if m:
            sh("ip", "netns", "exec", NETNS, "ip", "link", "del", m.group(1), check=False)
    return ok


def main():
    files = sys.argv[1:] or sorted(glob.glob(os.path.join(os.path.dirname(__file__), "*.toml")))
    sh("ip", "netns", "add", NETNS)
    try:
        results = [check(f) for f in files]
    finally:
        sh("ip", "netns", "del", NETNS, check=False)
    sys.exit(0 if all(results) else 1)


if __name__ == "__main__":
    main()
