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
