#!/usr/bin/env bash
# Build (release) and run every benchmark; each prints anykern beside the
# strongest alternative measured in the same run, with the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
dir=build-release
if [ -d "$dir" ]; then meson setup --reconfigure "$dir" -Dbuildtype=release >/dev/null
else meson setup "$dir" -Dbuildtype=release -Dtests=false >/dev/null; fi
meson compile -C "$dir" >/dev/null
echo "== foundation (local client vs host kernel) =="
"$dir/bench/foundation_bench" "$@"
echo "== ext2 (local client vs fuse2fs) =="
if [ "${1:-}" = "--quick" ]; then
  AK_BENCH_REPEAT=1 python3 bench/ext2_bench.py "$dir/bench/ext2_bench" /usr/include/linux
else
  python3 bench/ext2_bench.py "$dir/bench/ext2_bench"
fi
echo "== remote round trips (ak-server vs raw unix-socket ping-pong) =="
"$dir/bench/remote_bench" "$dir/clients/server/ak-server"
echo "== network (anykern loopback / shm bus vs Linux loopback) =="
"$dir/bench/net_bench"
if [ -x "$dir/clients/bake/ak-bake" ] || [ -f "$dir/clients/bake/ak-bake" ]; then
  echo "== unikernel boot (hello vs the floor image), sizes, smallest -m =="
  python3 bench/boot_bench.py --build "$dir"
  echo "== static Linux executables: null syscall in the unikernel vs the host, bake time =="
  python3 bench/linux_bench.py --build "$dir"
fi
