#!/usr/bin/env python3
"""Static Linux executables in images (suite qemu): build a program from
source with a host compiler, bake it with ak-bake, boot it with ak-run and
compare with the same binary run natively on the host.

    exec_check.py --ak-bake B --ak-run R --qemu Q --cc 'gcc -static'
                  --source hello.c [--args A...] [--env V=X...]
                  [--expect-status N] [--expect-line TEXT] [--reject-line TEXT]
                  [--expect-once TEXT]
                  [--native]
                  [--bake-refused TEXT]

--native: the program's stdout in the image must equal its stdout on the
host (console lines of the kernel, runtime and platform removed) and the
exit statuses must agree.  --bake-refused: ak-bake must fail, saying TEXT.
Exit 77 (skipped) when the image's platform has no user mode yet.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tempfile
import time

SKIP = 77
NO_USER_MODE = "this platform cannot run executables"
KERNEL_PREFIXES = ("ak-kvm:", "ak-rt:", "anykern", "ak-run:")


def run(cmd, **kw):
    print("+", " ".join(shlex.quote(c) for c in cmd), flush=True)
    return subprocess.run(cmd, capture_output=True, **kw)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ak-bake", required=True)
    ap.add_argument("--ak-run", required=True)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--cc", required=True, help="compiler command with its link mode")
    ap.add_argument("--source", required=True)
    ap.add_argument("--name", default=None, help="program name (default: from the source)")
    ap.add_argument("--config", default="linux")
    ap.add_argument("--args", nargs="*", default=[])
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--native", action="store_true")
    ap.add_argument("--expect-status", type=int)
    ap.add_argument("--expect-line", action="append", default=[])
    ap.add_argument("--reject-line", action="append", default=[],
                    help="text the console must not contain")
    ap.add_argument("--expect-once", action="append", default=[],
                    help="a console line containing TEXT appears exactly once")
    ap.add_argument("--bake-refused")
    ap.add_argument("--timeout", type=float, default=100)
    args = ap.parse_args()

    cc = shlex.split(args.cc)
    if not shutil.which(cc[0]):
        print(f"{cc[0]} is not installed")
        return SKIP
    tmp = tempfile.mkdtemp(prefix="ak-exec-test-")
    try:
        name = args.name or os.path.splitext(os.path.basename(args.source))[0]
        exe = os.path.join(tmp, name)
        p = run(cc + ["-O1", "-o", exe, args.source])
        if p.returncode != 0:
            sys.stdout.write(p.stderr.decode())
            print("FAIL: the host compiler failed")
            return 1

        image = os.path.join(tmp, name + ".img")
        start = time.monotonic()
        p = run([sys.executable, args.ak_bake, "-c", args.config, "-o", image, exe])
        bake_time = time.monotonic() - start
        out = (p.stdout + p.stderr).decode(errors="replace")
        sys.stdout.write(out)
        if args.bake_refused is not None:
            if p.returncode == 0:
                print("FAIL: ak-bake accepted it")
                return 1
            if args.bake_refused not in out:
                print(f"FAIL: ak-bake did not say {args.bake_refused!r}")
                return 1
            return 0
        if p.returncode != 0:
            print("FAIL: ak-bake failed")
            return 1
        print(f"bake time {bake_time:.2f} s")

        cmd = [sys.executable, args.ak_run, "--qemu", args.qemu, "--timeout",
               str(int(args.timeout - 10))]
        for e in args.env:
            cmd += ["-e", e]
        cmd += [image, "--"] + args.args
        try:
            p = run(cmd, stdin=subprocess.DEVNULL, timeout=args.timeout)
        except subprocess.TimeoutExpired:
            print(f"FAIL: still running after {args.timeout} s")
            return 1
        console = p.stdout.decode(errors="replace").replace("\r\n", "\n")
        sys.stdout.write(console)
        sys.stdout.write(p.stderr.decode(errors="replace"))
        if NO_USER_MODE in console:
            print("SKIP: the kvm platform has no user mode (hypercall user group) yet")
            return SKIP
        ok = True
        status = p.returncode
        if args.native:
            env = dict(e.split("=", 1) for e in args.env)
            nat = subprocess.run([name] + args.args, executable=exe, env=env, cwd=tmp,
                                 capture_output=True, timeout=30)
            expected = nat.stdout.decode(errors="replace").splitlines()
            got = [line for line in console.splitlines() if not line.startswith(KERNEL_PREFIXES)]
            if got != expected:
                print("FAIL: output differs from the native run")
                print("native:", expected)
                print("image: ", got)
                ok = False
            # Killed by a signal natively: the shell's 128 + signal, which
            # is what the image reports.
            nat_status = 128 - nat.returncode if nat.returncode < 0 else nat.returncode
            if status != nat_status:
                print(f"FAIL: exit status {status}, natively {nat_status}")
                ok = False
        if args.expect_status is not None and status != args.expect_status:
            print(f"FAIL: exit status {status}, expected {args.expect_status}")
            ok = False
        for text in args.expect_line:
            if text not in console:
                print(f"FAIL: the console lacks {text!r}")
                ok = False
        for text in args.expect_once:
            n = sum(text in line for line in console.splitlines())
            if n != 1:
                print(f"FAIL: {n} console lines have {text!r}, expected exactly one")
                ok = False
        for text in args.reject_line:
            if text in console:
                print(f"FAIL: the console has {text!r}")
                ok = False
        return 0 if ok else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
