#!/usr/bin/env bash
# The rvs demo: builds rvs, builds a virtual lab of network namespaces (a client network,
# a server network with three real servers that name themselves), starts rvsd on two DPDK
# ports (net_af_packet on veths) as a NAT director for VIP 203.0.113.10:80, and shows
# requests being balanced, rvsadm's listing on rvsd's (private) control socket, a run-time
# weight change with rvsadm -e and the new split, then the director's counters. Everything is torn down on exit,
# failure or Ctrl-C.
# Usage: sudo ./scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (the lab uses network namespaces)" >&2; exit 1; }
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

echo "== building rvs (release)"
cargo build --release --quiet
RVSD=target/release/rvsd
RVSADM=target/release/rvsadm

P=rvd$$
NSC=${P}c NSE=${P}se NSI=${P}si
VEXT=${P}x VINT=${P}i
WORK=$(mktemp -d /tmp/rvs-demo.XXXXXX)
PIDS=()
NSS=($NSC $NSE $NSI ${P}r1 ${P}r2 ${P}r3)
cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  ip link del "$VEXT" 2>/dev/null; ip link del "$VINT" 2>/dev/null
  for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

nsup() { ip netns add "$1"; ip -n "$1" link set lo up; ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1; }
off() { ip netns exec "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null; }

echo "== lab: client 203.0.113.2 | rvsd ext 203.0.113.1 (VIP 203.0.113.10) | rvsd int 192.0.2.1 | rs1-3 192.0.2.11-13"
for ns in "${NSS[@]}"; do nsup "$ns"; done
for sw in $NSE $NSI; do ip -n $sw link add br0 type bridge; ip -n $sw link set br0 up; done
ip link add eth0 netns $NSC type veth peer name c0 netns $NSE
ip -n $NSE link set c0 master br0 up; off $NSE c0
ip -n $NSC addr add 203.0.113.2/24 dev eth0; ip -n $NSC link set eth0 up; off $NSC eth0
for pair in "$VEXT:$NSE" "$VINT:$NSI"; do
  v=${pair%%:*} sw=${pair##*:}
  ip link add "$v" type veth peer name d0 netns "$sw"
  ip -n "$sw" link set d0 master br0 up; off "$sw" d0
  sysctl -qw "net.ipv6.conf.$v.disable_ipv6=1"; ip link set "$v" up
  ethtool -K "$v" tx off tso off gso off gro off >/dev/null
done
for i in 1 2 3; do
  ns=${P}r$i
  ip link add eth0 netns "$ns" type veth peer name r$i netns $NSI
  ip -n $NSI link set r$i master br0 up; off $NSI r$i
  ip -n "$ns" addr add 192.0.2.1$i/24 dev eth0; ip -n "$ns" link set eth0 up; off "$ns" eth0
  ip -n "$ns" route add default via 192.0.2.1
  ip netns exec "$ns" /usr/bin/python3 tests/lab/httpd.py rs$i --port 8080 >/dev/null 2>&1 & PIDS+=($!)
done

sed -e "s/iface=rvs-ext/iface=$VEXT/" -e "s/iface=rvs-int/iface=$VINT/" -e "s/rvs-nat/$P/" \
    -e 's/scheduler = "wlc"/scheduler = "wrr"/' \
    -e "s|/run/rvs/rvsd.sock|$WORK/rvsd.sock|" \
    -e "0,/^exception_path = true/s//exception_path = true\ntap_name = \"${P}tx\"/" \
    -e "0,/^exception_path = true$/s//exception_path = true\ntap_name = \"${P}ti\"/" \
    configs/lab-nat.toml > "$WORK/rvsd.toml"

echo "== starting rvsd ($WORK/rvsd.toml)"
RUST_LOG=info $RVSD --config "$WORK/rvsd.toml" > "$WORK/rvsd.log" 2>&1 &
RVSD_PID=$!; PIDS=("$RVSD_PID" "${PIDS[@]}")
for _ in $(seq 1 100); do grep -q "rvsd running" "$WORK/rvsd.log" && break; sleep 0.1; done
grep -q "rvsd running" "$WORK/rvsd.log" || { cat "$WORK/rvsd.log"; echo "rvsd did not start" >&2; exit 1; }
sleep 1

echo; echo "== the client pings the director and resolves the VIP (answered by rvsd's worker)"
ip netns exec $NSC ping -c 2 -i 0.3 203.0.113.1 | grep -E "bytes from|received"
ip netns exec $NSC ping -c 1 -W 1 203.0.113.10 >/dev/null 2>&1 || true
ip -n $NSC neigh show 203.0.113.10

echo; echo "== 12 HTTP requests to the VIP 203.0.113.10:80, scheduler wrr (equal weights), NAT to rs1-rs3:8080"
for i in $(seq 12); do
  printf "request %2d answered by %s\n" "$i" "$(ip netns exec $NSC curl -s -m 5 http://203.0.113.10/)"
done
echo; echo "== 300 more requests, tallied:"
for i in $(seq 300); do ip netns exec $NSC curl -s -m 5 http://203.0.113.10/; done | sort | uniq -c
echo; echo "== rvsadm on rvsd's control socket (a private one: $WORK/rvsd.sock), ipvsadm's listing:"
$RVSADM --socket "$WORK/rvsd.sock" -Ln --stats
echo; echo "== run-time change: rs1's weight to 3 (rvsadm -e), then 300 requests, tallied:"
$RVSADM --socket "$WORK/rvsd.sock" -e -t 203.0.113.10:80 -r 192.0.2.11:8080 -m -w 3
$RVSADM --socket "$WORK/rvsd.sock" -Ln
for i in $(seq 300); do ip netns exec $NSC curl -s -m 5 http://203.0.113.10/; done | sort | uniq -c
echo; echo "== a 10 MB download through the director:"
ip netns exec $NSC curl -s -o /dev/null -w "%{size_download} bytes at %{speed_download} B/s\n" http://203.0.113.10/bytes/10485760

echo; echo "== stopping rvsd (SIGTERM); its counters:"
kill -TERM "$RVSD_PID"; wait "$RVSD_PID"; PIDS=("${PIDS[@]:1}")
grep -E "counter|port " "$WORK/rvsd.log" | sed 's/^.*\] //'
echo; echo "demo OK: rvsd balanced the VIP over rs1-rs3 by NAT and stopped cleanly"
