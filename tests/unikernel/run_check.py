#!/usr/bin/env python3
"""Run ak-run and check its output and exit status (suite qemu).

    run_check.py --status N [--expect TEXT]... -- AK-RUN-COMMAND...
"""
import argparse
import subprocess
import sys


def main():
    argv = sys.argv[1:]
    if "--" not in argv:
        sys.exit("usage: run_check.py [--status N] [--expect TEXT]... -- COMMAND...")
    i = argv.index("--")
    ap = argparse.ArgumentParser()
    ap.add_argument("--status", type=int, required=True)
    ap.add_argument("--expect", action="append", default=[])
    ap.add_argument("--timeout", type=float, default=80)
    args = ap.parse_args(argv[:i])
    cmd = argv[i + 1:]
    print("+", " ".join(cmd), flush=True)
    try:
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True,
                           timeout=args.timeout)
    except subprocess.TimeoutExpired:
        print(f"FAIL: still running after {args.timeout} s")
        return 1
    out = (p.stdout + p.stderr).decode(errors="replace").replace("\r\n", "\n")
    sys.stdout.write(out)
    ok = True
    for text in args.expect:
        if text not in out:
            print(f"FAIL: output lacks {text!r}")
            ok = False
    if p.returncode != args.status:
        print(f"FAIL: exit status {p.returncode}, expected {args.status}")
        ok = False
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
