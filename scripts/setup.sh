#!/usr/bin/env bash
# Installs what rvs needs to build and test on a fresh Debian 12 machine (run as root).
# Shared by scripts/test.sh, scripts/demo.sh and the Vagrantfile's provisioner.
set -euo pipefail
pkgs=(libdpdk-dev dpdk clang libclang-dev pkg-config gcc libc6-dev iproute2 ethtool
      python3 python3-scapy tshark curl socat procps libpcap-dev ca-certificates
      iputils-ping openssl)
missing=()
for p in "${pkgs[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections 2>/dev/null || true
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
if ! command -v cargo >/dev/null 2>&1; then
  if [ -x "$HOME/.cargo/bin/cargo" ]; then
    export PATH="$HOME/.cargo/bin:$PATH"
  else
    echo "setup: installing the Rust toolchain (rustup)" >&2
    apt-get install -y -qq --no-install-recommends curl ca-certificates >/dev/null
    curl -sSf https://sh.rustup.rs | sh -s -- -y --profile minimal -c rustfmt,clippy >/dev/null
    export PATH="$HOME/.cargo/bin:$PATH"
  fi
fi
