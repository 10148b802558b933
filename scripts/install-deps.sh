#!/usr/bin/env bash
# Install everything anykern needs to build, test and benchmark on Debian 12.
set -euo pipefail
SUDO=""
if [ "$(id -u)" != 0 ]; then SUDO="sudo"; fi
PACKAGES=(
  # build
  build-essential g++ clang lld llvm meson ninja-build pkg-config python3 binutils
  doctest-dev libcap-ng-dev libfuse3-dev liburing-dev libclang-rt-14-dev clang-format
  # running images
  qemu-system-x86
  # peers and oracles for tests and benchmarks
  e2fsprogs fuse2fs fuse3 iproute2 iperf3 curl hping3 stress-ng musl-tools golang-go hyperfine
  procps psmisc dnsmasq-base
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
echo "install-deps: all ${#PACKAGES[@]} packages present"
