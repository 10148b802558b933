#!/usr/bin/env python3
"""Make an ext2 disk, boot the ext2 app with ak-run -b DISK,mount=/mnt, then
check the disk on the host: e2fsck -fn finds it clean and debugfs reads the
files the guest wrote.  Exit 77 (skip) without e2fsprogs."""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ak-run", required=True)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--machine", default="microvm")
    args = ap.parse_args()
    for tool in ("mke2fs", "e2fsck", "debugfs"):
        if not shutil.which(tool):
            print(f"{tool} not found: skipped")
            return 77
    with tempfile.TemporaryDirectory() as tmp:
        disk = os.path.join(tmp, "disk.img")
        subprocess.run(["mke2fs", "-q", "-t", "ext2", "-b", "1024", "-F", disk, "8M"], check=True)
        cmd = [sys.executable, args.ak_run, "--qemu", args.qemu, "--machine", args.machine,
               "--timeout", "80", "-b", f"{disk},mount=/mnt", args.image]
        print("+", " ".join(cmd), flush=True)
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, capture_output=True, text=True)
        print(p.stdout + p.stderr)
        if p.returncode != 0 or "ext2-app: wrote" not in p.stdout:
            print(f"FAIL: ak-run exited {p.returncode}")
            return 1
        fsck = subprocess.run(["e2fsck", "-fn", disk], capture_output=True, text=True)
        print(fsck.stdout + fsck.stderr)
        if fsck.returncode != 0:
            print(f"FAIL: e2fsck -fn exited {fsck.returncode}")
            return 1
        cat = subprocess.run(["debugfs", "-R", "cat /unikernel/hello.txt", disk],
                             capture_output=True, text=True)
        if cat.stdout != "written by an anykern unikernel\n":
            print(f"FAIL: debugfs read {cat.stdout!r}")
            return 1
        big = subprocess.run(["debugfs", "-R", "cat /unikernel/big.bin", disk],
                             capture_output=True).stdout
        want = b"".join(bytes([ord("a") + i % 26]) * 4096 for i in range(50))
        if big != want:
            print(f"FAIL: big.bin differs ({len(big)} bytes read)")
            return 1
        print("ok: e2fsck clean, files intact")
    return 0


if __name__ == "__main__":
    sys.exit(main())
