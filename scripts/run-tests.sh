#!/usr/bin/env bash
# Build and run the whole test suite: the default build (gcc) and a
# sanitizer build (clang, ASan + UBSan, libFuzzer targets), then print the
# totals on one line: "N passed, N failed, N skipped".
set -uo pipefail
cd "$(dirname "$0")/.."

setup() { # dir, extra meson options...
  local dir=$1; shift
  if [ -d "$dir" ]; then
    meson setup --reconfigure "$dir" "$@" >/dev/null
  else
    meson setup "$dir" "$@" >/dev/null
  fi
}

status=0
logs=()
run_suite() { # dir, meson test arguments...
  local dir=$1; shift
  meson test -C "$dir" --print-errorlogs --num-processes 2 "$@" | tee "$dir/ci-test.out"
  [ "${PIPESTATUS[0]}" -eq 0 ] || status=1
  logs+=("$dir/ci-test.out")
}

setup build -Dwerror=true || exit 1
meson compile -C build || exit 1
run_suite build

if command -v clang >/dev/null; then
  CC=clang CXX=clang++ setup build-asan -Db_sanitize=address,undefined -Db_lundef=false \
    -Dfuzzers=enabled -Dbuildtype=debugoptimized || exit 1
  meson compile -C build-asan || exit 1
  run_suite build-asan --suite unit --suite integration --suite fuzz-smoke --suite build
fi

python3 - "${logs[@]}" <<'PY'
import re, sys
tot = {"ok": 0, "fail": 0, "skip": 0}
for path in sys.argv[1:]:
    text = open(path).read()
    for key, pat in (("ok", r"^Ok:\s+(\d+)"), ("ok", r"^Expected Fail:\s+(\d+)"),
                     ("fail", r"^Fail:\s+(\d+)"), ("fail", r"^Unexpected Pass:\s+(\d+)"),
                     ("fail", r"^Timeout:\s+(\d+)"), ("skip", r"^Skipped:\s+(\d+)")):
        for m in re.finditer(pat, text, re.M):
            tot[key] += int(m.group(1))
print(f"{tot['ok']} passed, {tot['fail']} failed, {tot['skip']} skipped")
PY
exit $status
