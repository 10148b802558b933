#!/usr/bin/env python3
"""The network example examples/httpd.c, unchanged, in an image: it serves
a file from an ext2 disk (-b DISK,mount=/www) to the host's curl through
hostfwd and exits after one request (--count 1).  Skips (77) without
mke2fs or curl."""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ak-run", required=True)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--image", required=True)
    args = ap.parse_args()
    if not shutil.which("mke2fs") or not shutil.which("curl"):
        print("needs mke2fs and curl: skipped")
        return 77
    body = "served from ext2 in an anykern unikernel\n"
    with tempfile.TemporaryDirectory() as tmp:
        os.mkdir(os.path.join(tmp, "www"))
        with open(os.path.join(tmp, "www", "index.html"), "w") as f:
            f.write(body)
        disk = os.path.join(tmp, "www.img")
        subprocess.run(["mke2fs", "-q", "-t", "ext2", "-d", os.path.join(tmp, "www"), disk, "4M"],
                       check=True)
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        cmd = [sys.executable, args.ak_run, "--qemu", args.qemu, "--timeout", "80",
               "-b", f"{disk},mount=/www", "-n", f"user,hostfwd=tcp:127.0.0.1:{port}-:8080",
               args.image, "--", "--port", "8080", "--count", "1", "/www/index.html"]
        print("+", " ".join(cmd), flush=True)
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.STDOUT)
        got = None
        deadline = time.monotonic() + 60
        while got is None and time.monotonic() < deadline and p.poll() is None:
            r = subprocess.run(["curl", "-s", "-m", "5", f"http://127.0.0.1:{port}/"],
                               capture_output=True, text=True)
            if r.returncode == 0:
                got = r.stdout
            else:
                time.sleep(0.5)
        try:
            out, _ = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
        sys.stdout.write(out.decode(errors="replace"))
        print(f"curl got {got!r}, ak-run exited {p.returncode}")
        return 0 if got == body and p.returncode == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
