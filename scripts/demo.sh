#!/usr/bin/env bash
# The rvs demo: builds rvs, builds a small virtual lab of network namespaces, starts rvsd
# on a DPDK port (net_af_packet on a veth) and shows the appliance at work, then tears
# everything down (also on failure or Ctrl-C).
# Usage: sudo ./scripts/demo.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "demo.sh: run as root (the lab uses network namespaces)" >&2; exit 1; }
source scripts/setup.sh
export PATH="$HOME/.cargo/bin:$PATH"

echo "== building rvs (release)"
cargo build --release --quiet
RVSD=target/release/rvsd

P=rvsdemo$$
NS_C=${P}c NS_SW=${P}sw NS_F=${P}f NS_FSW=${P}fsw
VETH=${P}x TAP=${P}t
WORK=$(mktemp -d /tmp/rvs-demo.XXXXXX)
PIDS=()
cleanup() {
  set +e
  for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null; done
  ip link del "$VETH" 2>/dev/null
  for ns in $NS_C $NS_SW $NS_F $NS_FSW; do ip netns del "$ns" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

nsup() { ip netns add "$1"; ip -n "$1" link set lo up; ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1; }
nooffload() { ethtool -K "$1" tx off tso off gso off gro off >/dev/null 2>&1 || true; }

echo "== lab: client 203.0.113.2 --[bridge]-- rvsd port 203.0.113.1; network 198.51.100.0/24 behind the client"
for ns in $NS_C $NS_SW $NS_F $NS_FSW; do nsup "$ns"; done
ip -n $NS_SW link add br0 type bridge; ip -n $NS_SW link set br0 up
ip -n $NS_FSW link add br0 type bridge; ip -n $NS_FSW link set br0 up
ip link add eth0 netns $NS_C type veth peer name c0 netns $NS_SW
ip link add eth1 netns $NS_C type veth peer name c1 netns $NS_FSW
ip link add eth0 netns $NS_F type veth peer name f0 netns $NS_FSW
ip link add "$VETH" type veth peer name d0 netns $NS_SW
ip -n $NS_SW link set c0 master br0 up; ip -n $NS_SW link set d0 master br0 up
ip -n $NS_FSW link set c1 master br0 up; ip -n $NS_FSW link set f0 master br0 up
ip -n $NS_C addr add 203.0.113.2/24 dev eth0; ip -n $NS_C link set eth0 up
ip -n $NS_C addr add 198.51.100.1/24 dev eth1; ip -n $NS_C link set eth1 up
ip netns exec $NS_C sysctl -qw net.ipv4.ip_forward=1
ip -n $NS_F addr add 198.51.100.5/24 dev eth0; ip -n $NS_F link set eth0 up
ip -n $NS_F route add default via 198.51.100.1
sysctl -qw "net.ipv6.conf.$VETH.disable_ipv6=1"; ip link set "$VETH" up
nooffload "$VETH"
for i in eth0 eth1; do ip netns exec $NS_C ethtool -K $i tx off tso off gso off gro off >/dev/null; done
ip netns exec $NS_F ethtool -K eth0 tx off tso off gso off gro off >/dev/null

sed -e "s/iface=rvs-ext/iface=$VETH/" -e "s/rvs-appliance/$P/" \
    -e "s/^exception_path = true.*/exception_path = true\ntap_name = \"$TAP\"/" \
    configs/lab-appliance.toml > "$WORK/rvsd.toml"

echo "== starting rvsd ($WORK/rvsd.toml)"
RUST_LOG=info $RVSD --config "$WORK/rvsd.toml" > "$WORK/rvsd.log" 2>&1 &
RVSD_PID=$!; PIDS+=("$RVSD_PID")
for _ in $(seq 1 100); do grep -q "rvsd running" "$WORK/rvsd.log" && break; sleep 0.1; done
grep -q "rvsd running" "$WORK/rvsd.log" || { cat "$WORK/rvsd.log"; echo "rvsd did not start" >&2; exit 1; }

ip netns exec $NS_C /usr/bin/python3 -m http.server 8080 --bind 203.0.113.2 >/dev/null 2>&1 & PIDS+=($!)
ip netns exec $NS_F /usr/bin/python3 -m http.server 8080 --bind 198.51.100.5 >/dev/null 2>&1 & PIDS+=($!)
/usr/bin/python3 -m http.server 8081 --bind 203.0.113.1 >/dev/null 2>&1 & PIDS+=($!)
sleep 1

echo; echo "== client pings the director (ARP + ICMP echo answered by rvsd's worker)"
ip netns exec $NS_C ping -c 3 -i 0.3 203.0.113.1
echo; echo "== client's ARP entry for the director:"; ip -n $NS_C neigh show 203.0.113.1
echo; echo "== exception path: the director's kernel interface $TAP"; ip -br addr show "$TAP"
echo; echo "== client -> HTTP server of the director's kernel on 203.0.113.1:8081"
ip netns exec $NS_C curl -s -o /dev/null -w "HTTP %{http_code} from 203.0.113.1:8081\n" http://203.0.113.1:8081/
echo "== director's kernel -> lab servers through the DPDK port (on-link, and routed via 203.0.113.2)"
curl -s -o /dev/null -w "HTTP %{http_code} from 203.0.113.2:8080\n" http://203.0.113.2:8080/
curl -s -o /dev/null -w "HTTP %{http_code} from 198.51.100.5:8080\n" http://198.51.100.5:8080/

echo; echo "== stopping rvsd (SIGTERM); its counters:"
kill -TERM "$RVSD_PID"; wait "$RVSD_PID"; PIDS=("${PIDS[@]:1}")
grep -E "counter|port " "$WORK/rvsd.log" | sed 's/^.*\] //'
[ -e "/sys/class/net/$TAP" ] && { echo "tap left behind!" >&2; exit 1; }
echo; echo "demo OK: rvsd answered ARP and ping, carried kernel traffic both ways, and left nothing behind"
