#!/usr/bin/env bash
# The whole test suite: installs what is missing, then runs format and lint checks, unit and
# integration tests, golden packets, the fuzz corpus and the network-namespace lab.
# Usage: sudo ./scripts/test.sh
set -euo pipefail
cd "$(dirname "$0")/.."
[ "$(id -u)" = 0 ] || { echo "test.sh: run as root (the lab needs network namespaces)" >&2; exit 1; }
source scripts/setup.sh
# Test-only extra: `vagrant validate` checks the Vagrantfile (no VM is started).
if ! command -v vagrant >/dev/null 2>&1; then
  echo "test.sh: installing vagrant (for vagrant validate)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends vagrant >/dev/null
fi
# Test-only extra: `keepalived --config-test` judges that the keepalived.conf fixtures of
# tests/keepalived_import.rs are keepalived configurations (the daemon is not started).
if ! command -v keepalived >/dev/null 2>&1; then
  echo "test.sh: installing keepalived (for keepalived --config-test)" >&2
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends keepalived >/dev/null
fi
export PATH="$HOME/.cargo/bin:$PATH"
step() { printf '\n=== %s ===\n' "$*"; }

step "cargo fmt --check"
cargo fmt --all -- --check
step "cargo clippy"
cargo clippy --all-targets -- -D warnings
step "loom models of the connection table (lb::conn::loom_tests)"
LOOM_MAX_PREEMPTIONS=3 cargo test --features loom --lib lb::conn::loom_tests
step "cargo test (unit, integration, golden, lab)"
cargo test --all -- --test-threads=1
echo
echo "test.sh: all tests passed"
