#!/usr/bin/env bash
# Packets-per-core benchmark: builds rvs-bench in release mode, runs every scenario
# (io-fwd baselines for 1 and 2 ports, route with 1 and 2 workers, DR/TUN/NAT with 1K, 1M
# and 10M live connections, new connections per scheduler) over in-process net_ring
# ports, and writes the table with a description of the machine (and its load) into
# docs/BENCHMARKS.md, between the `bench:begin` / `bench:end` markers. A full run takes
# several minutes (filling the 10M tables dominates), plus the build. rvs-bench exits
# non-zero when a scenario's counters do not account for every packet it offered; then
# nothing is written.
# Usage: sudo ./scripts/bench.sh [rvs-bench options, e.g. --runs 3 --secs 1]
# Figures are measurements, never pass/fail: nothing here fails on a slow result.
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "bench.sh: run as root (DPDK EAL)" >&2; exit 1; }
export PATH="$HOME/.cargo/bin:$PATH"

cargo build --release --features testkit --bin rvs-bench
table=$(mktemp)
trap 'rm -f "$table"' EXIT
./target/release/rvs-bench "$@" >"$table"

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
cores=$(nproc)
kernel=$(uname -r)
dpdk=$(pkg-config --modversion libdpdk 2>/dev/null || echo unknown)
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
dirty=$(git status --porcelain 2>/dev/null | grep -q . && echo " (with local changes)" || true)
date=$(date -u +%Y-%m-%dT%H:%MZ)
load=$(cut -d' ' -f1-3 /proc/loadavg)

block=$(mktemp)
trap 'rm -f "$table" "$block"' EXIT
{
  echo "<!-- bench:begin (written by scripts/bench.sh; do not edit by hand) -->"
  echo "Measured $date on: $cpu, $cores online core(s), Linux $kernel, DPDK $dpdk, rvs $commit$dirty."
  echo "Load average at the end of the run: $load (1, 5, 15 min; the machine is shared, other work ran beside the bench)."
  echo
  cat "$table"
  echo "<!-- bench:end -->"
} >"$block"

doc=docs/BENCHMARKS.md
if ! grep -q '<!-- bench:begin' "$doc" || ! grep -q '<!-- bench:end' "$doc"; then
  echo "bench.sh: $doc has no bench:begin/bench:end markers" >&2
  exit 1
fi
awk -v blockfile="$block" '
  /<!-- bench:begin/ { while ((getline line < blockfile) > 0) print line; skip = 1; next }
  /<!-- bench:end/   { skip = 0; next }
  !skip              { print }
' "$doc" >"$doc.new"
mv "$doc.new" "$doc"
cat "$block"
echo "bench.sh: table written to $doc" >&2
