#!/usr/bin/env python3
"""Boot the httpd image with ak-run and fetch pages with the host's curl.

    http_check.py --ak-run AK-RUN --qemu QEMU --image IMG --mode user|tap
                  [--machine M] [--memory MEM]

user: QEMU user networking with hostfwd from a free local port to :80.
tap:  a tap device in a fresh network namespace (needs root, ip, /dev/net/tun;
      exit 77 = skipped otherwise); QEMU and curl run inside the namespace.
Checks two answers, asks for /quit and expects exit status 0.
"""
import argparse
import os
import shutil
import socket
import subprocess
import sys
import time

SKIP = 77


def curl(url, prefix):
    r = subprocess.run(prefix + ["curl", "-s", "-m", "5", url], capture_output=True, text=True)
    return r.stdout if r.returncode == 0 else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ak-run", required=True)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--mode", choices=["user", "tap"], default="user")
    ap.add_argument("--machine", default="microvm")
    ap.add_argument("--memory", default="64M")
    ap.add_argument("--dhcp", action="store_true", help="configure the guest by DHCP")
    args = ap.parse_args()
    if not shutil.which("curl"):
        print("curl not found")
        return SKIP
    prefix, ns = [], None
    run = [sys.executable, args.ak_run, "--qemu", args.qemu, "--machine", args.machine,
           "-m", args.memory, "--timeout", "80"]
    if args.mode == "user":
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        run += ["-n", f"user,hostfwd=tcp:127.0.0.1:{port}-:80"] + (["--dhcp"] if args.dhcp else [])
        base = f"http://127.0.0.1:{port}"
    else:
        if os.geteuid() != 0 or not shutil.which("ip") or not os.path.exists("/dev/net/tun"):
            print("tap test needs root, iproute2 and /dev/net/tun: skipped")
            return SKIP
        ns = f"akuk{os.getpid()}"
        setup = [["ip", "netns", "add", ns],
                 ["ip", "netns", "exec", ns, "ip", "link", "set", "lo", "up"],
                 ["ip", "netns", "exec", ns, "ip", "tuntap", "add", "tap0", "mode", "tap"],
                 ["ip", "netns", "exec", ns, "ip", "addr", "add", "10.77.0.1/24", "dev", "tap0"],
                 ["ip", "netns", "exec", ns, "ip", "link", "set", "tap0", "up"]]
        for c in setup:
            if subprocess.run(c, capture_output=True).returncode != 0:
                print("cannot set up the test namespace:", " ".join(c))
                subprocess.run(["ip", "netns", "del", ns], capture_output=True)
                return SKIP
        prefix = ["ip", "netns", "exec", ns]
        run += ["-n", "tap=tap0", "--ip", "10.77.0.2/24"]
        base = "http://10.77.0.2"
    run += [args.image]
    print("+", " ".join(prefix + run), flush=True)
    p = subprocess.Popen(prefix + run, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT)
    ok = False
    try:
        deadline = time.monotonic() + 60
        first = None
        while time.monotonic() < deadline and p.poll() is None and first is None:
            first = curl(base + "/first", prefix)
            if first is None:
                time.sleep(0.5)
        second = curl(base + "/second", prefix) if first else None
        quit_ = curl(base + "/quit", prefix) if second else None
        print(f"answers: {first!r} {second!r} {quit_!r}")
        ok = (first and "hello from anykern httpd: /first" in first and second
              and "/second" in second and quit_ is not None)
        try:
            out, _ = p.communicate(timeout=30)
        except subprocess.TimeoutExpired:
            p.kill()
            out, _ = p.communicate()
            ok = False
        sys.stdout.write(out.decode(errors="replace"))
        if p.returncode != 0:
            print(f"FAIL: ak-run exited {p.returncode}, expected 0")
            ok = False
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
        if ns:
            subprocess.run(["ip", "netns", "del", ns], capture_output=True)
    print("ok" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
