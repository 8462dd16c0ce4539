#!/usr/bin/env bash
# Builds and tears down the rvs network-namespace lab by hand (for the README and the demo).
# It makes the same topologies, names and addresses as the test harness (tests/common/lab.rs):
#
#   nat  two-armed: client 203.0.113.2 --[br-client]-- rvs-ext | rvsd | rvs-int --[br-server]--
#        rs1..rsN 192.0.2.11.. (default route via the director 192.0.2.1); VIP 203.0.113.10
#   dr   one-armed on 192.0.2.0/24: client 192.0.2.2 (route VIP via 192.0.2.1), director port
#        rvs-int (192.0.2.1), real servers with VIP 192.0.2.10/32 on lo, arp_ignore=1/announce=2
#   tun  as dr, plus tests/lab/ipip_decap.py in each real server (this kernel has no ipip)
#
# Hosts are namespaces <prefix>-<host>; every bridge lives in <prefix>-sw, so the root
# namespace's routes are untouched. The director ports (rvs-ext, rvs-int) stay in the root
# namespace for rvsd's net_af_packet: up, no address, IPv6/forwarding/ARP off, offloads off.
#
# Usage (as root):
#   scripts/lab.sh up nat|dr|tun [--prefix rvslab] [--ext rvs-ext] [--int rvs-int]
#                                [--servers 3] [--httpd] [--udpecho]
#   scripts/lab.sh exec [PREFIX] HOST CMD...    e.g. scripts/lab.sh exec rvslab client curl -s http://203.0.113.10/
#   scripts/lab.sh status [PREFIX]
#   scripts/lab.sh down [PREFIX]                kills the lab's processes, removes namespaces and ports
# --httpd starts tests/lab/httpd.py NAME on port 8080 (nat) or 80 (dr, tun) in each real server (NAME = rs1, rs2, ...),
# --udpecho starts tests/lab/udpecho.py NAME on port 53; logs and pids go to .lab/<prefix>/.
set -Eeuo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)

die() { echo "lab.sh: $*" >&2; exit 1; }
[ "$(id -u)" = 0 ] || die "run as root (network namespaces)"
for t in ip ethtool python3 sysctl; do command -v "$t" >/dev/null || die "missing tool: $t"; done

nsx() { local ns=$1; shift; ip netns exec "$ns" "$@"; }
offloads_off() { # [NS] IF
  if [ $# = 2 ]; then nsx "$1" ethtool -K "$2" tx off tso off gso off gro off >/dev/null
  else ethtool -K "$1" tx off tso off gso off gro off >/dev/null; fi
}
quiet_ns() {
  nsx "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1 \
    net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.default.rp_filter=0
}

PREFIX=rvslab EXT=rvs-ext INT=rvs-int SERVERS=3 HTTPD=0 UDPECHO=0 SEQ=0

network() { # NAME
  ip -n "$PREFIX-sw" link add "br-$1" type bridge
  ip -n "$PREFIX-sw" link set "br-$1" type bridge stp_state 0 forward_delay 0
  ip -n "$PREFIX-sw" link set "br-$1" up
}
host() { # NAME
  ip netns add "$PREFIX-$1"
  quiet_ns "$PREFIX-$1"
  ip -n "$PREFIX-$1" link set lo up
}
attach() { # HOST NETWORK CIDR   (host end eth0: one network per host here)
  local ns="$PREFIX-$1" sw="$PREFIX-sw"; SEQ=$((SEQ + 1))
  ip link add eth0 netns "$ns" type veth peer name "p$SEQ" netns "$sw"
  offloads_off "$sw" "p$SEQ"
  ip -n "$sw" link set "p$SEQ" master "br-$2" up
  offloads_off "$ns" eth0
  ip -n "$ns" addr add "$3" dev eth0
  ip -n "$ns" link set eth0 up
}
director_port() { # NETWORK IFNAME
  local sw="$PREFIX-sw"; SEQ=$((SEQ + 1))
  ip link show dev "$2" >/dev/null 2>&1 && die "$2 already exists (scripts/lab.sh down?)"
  ip link add "$2" type veth peer name "d$SEQ" netns "$sw"
  ip link set dev "$2" alias "$PREFIX"
  sysctl -qw "net.ipv6.conf.$2.disable_ipv6=1" "net.ipv4.conf.$2.forwarding=0" \
    "net.ipv4.conf.$2.arp_ignore=8" "net.ipv4.conf.$2.rp_filter=0"
  offloads_off "$2"
  offloads_off "$sw" "d$SEQ"
  ip -n "$sw" link set "d$SEQ" master "br-$1" up
  ip link set dev "$2" up
}
vip_on_lo() { # HOST VIP
  local ns="$PREFIX-$1"
  nsx "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
    net.ipv4.conf.default.arp_ignore=1 net.ipv4.conf.default.arp_announce=2 \
    net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2
  ip -n "$ns" addr add "$2/32" dev lo
}
start() { # HOST LABEL CMD...  (background, own session; pid recorded for `down`)
  local h=$1 label=$2; shift 2
  local log="$ROOT/.lab/$PREFIX/$h-$label.log"
  setsid ip netns exec "$PREFIX-$h" "$@" >"$log" 2>&1 </dev/null &
  echo $! >>"$ROOT/.lab/$PREFIX/pids"
  for _ in $(seq 200); do grep -q ready "$log" 2>/dev/null && return 0; sleep 0.1; done
  die "$h: $label did not get ready: $(cat "$log")"
}

down() {
  local p=$1 n=0
  if [ -f "$ROOT/.lab/$p/pids" ]; then
    while read -r pid; do kill -KILL "$pid" 2>/dev/null || true; done <"$ROOT/.lab/$p/pids"
  fi
  # Director ports carry the prefix as alias.
  ip -o link show | awk -v p="$p" '{ if (match($0, /alias [^ \\]+/)) { a = substr($0, RSTART + 6, RLENGTH - 6);
      if (a == p) { n = $2; sub(/@.*/, "", n); sub(/:$/, "", n); print n } } }' |
    while read -r l; do ip link del dev "$l" && echo "removed link $l"; done
  for ns in $(ip netns list | awk '{print $1}'); do
    case "$ns" in
      "$p"|"$p"-*)
        for pid in $(ip netns pids "$ns"); do kill -KILL "$pid" 2>/dev/null || true; done
        ip netns del "$ns" && n=$((n + 1)) ;;
    esac
  done
  rm -rf "${ROOT:?}/.lab/$p"
  echo "lab.sh: $p down ($n namespaces removed)"
}

up() {
  local topo=${1:-}; shift || true
  while [ $# -gt 0 ]; do
    case "$1" in
      --prefix) PREFIX=$2; shift 2 ;;
      --ext) EXT=$2; shift 2 ;;
      --int) INT=$2; shift 2 ;;
      --servers) SERVERS=$2; shift 2 ;;
      --httpd) HTTPD=1; shift ;;
      --udpecho) UDPECHO=1; shift ;;
      *) die "up: unknown option $1" ;;
    esac
  done
  [[ "$PREFIX" =~ ^[a-z0-9-]{1,40}$ ]] || die "prefix must be 1-40 of [a-z0-9-]"
  [[ "$SERVERS" =~ ^[0-9]+$ ]] && [ "$SERVERS" -ge 1 ] && [ "$SERVERS" -le 80 ] || die "--servers 1..80"
  case "$topo" in nat|dr|tun) ;; *) die "up: topology must be nat, dr or tun" ;; esac
  if ip netns list | awk '{print $1}' | grep -qx "$PREFIX-sw"; then die "lab $PREFIX is up (down it first)"; fi
  mkdir -p "$ROOT/.lab/$PREFIX"
  trap 'echo "lab.sh: failed, tearing down" >&2; down "$PREFIX" >/dev/null 2>&1' ERR
  ip netns add "$PREFIX-sw"; quiet_ns "$PREFIX-sw"
  network server
  if [ "$topo" = nat ]; then
    network client
    host client; attach client client 203.0.113.2/24
    ip -n "$PREFIX-client" route add default via 203.0.113.1
  else
    host client; attach client server 192.0.2.2/24
    ip -n "$PREFIX-client" route add 192.0.2.10/32 via 192.0.2.1
  fi
  for i in $(seq "$SERVERS"); do
    host "rs$i"; attach "rs$i" server "192.0.2.$((10 + i))/24"
    if [ "$topo" = nat ]; then
      ip -n "$PREFIX-rs$i" route add default via 192.0.2.1
    else
      vip_on_lo "rs$i" 192.0.2.10
    fi
    if [ "$topo" = tun ]; then start "rs$i" ipip_decap python3 "$ROOT/tests/lab/ipip_decap.py" --dev tun0; fi
    # configs/lab-nat.toml sends to port 8080; DR/TUN keep the VIP's port 80.
    hport=80; [ "$topo" = nat ] && hport=8080
    if [ "$HTTPD" = 1 ]; then start "rs$i" httpd python3 "$ROOT/tests/lab/httpd.py" "rs$i" --port "$hport"; fi
    if [ "$UDPECHO" = 1 ]; then start "rs$i" udpecho python3 "$ROOT/tests/lab/udpecho.py" "rs$i" --port 53; fi
  done
  if [ "$topo" = nat ]; then director_port client "$EXT"; fi
  director_port server "$INT"
  trap - ERR
  echo "lab.sh: $topo lab $PREFIX up: hosts $(ip netns list | awk -v p="$PREFIX-" 'index($1, p) == 1 {printf "%s ", $1}')"
  if [ "$topo" = nat ]; then echo "  director ports: $EXT (203.0.113.1) $INT (192.0.2.1); VIP 203.0.113.10"
  else echo "  director port: $INT (192.0.2.1); VIP 192.0.2.10"; fi
  echo "  try: scripts/lab.sh exec $PREFIX client curl -s http://VIP/   then: scripts/lab.sh down $PREFIX"
}

cmd=${1:-}; shift || true
case "$cmd" in
  up) up "$@" ;;
  down) down "${1:-rvslab}" ;;
  exec)
    # exec [PREFIX] HOST CMD...: PREFIX may be left out when it is the default.
    if [ $# -ge 2 ] && ip netns list | awk '{print $1}' | grep -qx "$1-$2"; then PREFIX=$1; shift; fi
    [ $# -ge 2 ] || die "exec [PREFIX] HOST CMD..."
    h=$1; shift
    exec ip netns exec "$PREFIX-$h" "$@" ;;
  status)
    p=${1:-rvslab}
    ip netns list | awk -v p="$p" '$1 == p || index($1, p "-") == 1 {print "netns " $1}'
    ip -o link show | grep -F "alias $p" | awk '{n = $2; sub(/@.*/, "", n); sub(/:$/, "", n); print "port " n}' || true ;;
  *) sed -n '2,/^set -/p' "$0" | sed '$d' | sed 's/^# \{0,1\}//'; [ -z "$cmd" ] || exit 1 ;;
esac
