#!/usr/bin/env python3
"""Unikernel benchmarks: boot-to-exit of hello against the floor image,
image sizes, and the smallest guest RAM that still runs an image.

    bench/boot_bench.py [--build DIR] [--runs N] [--machine M] [--http-image IMG]

hello is examples/hello.c baked by ak-bake (configuration fs) exactly as a
user would; the floor is platforms/kvm/floor (a PVH image that writes one
line to COM1 and exits).  Both boot with the same QEMU command; runs are
interleaved (floor, hello, floor, ...) so load on the machine hits both
alike, and the medians are compared.  Under TCG always; under KVM too when
/dev/kvm is usable.  Sizes are of stripped images.  The memory search
boots with -m from 2 MiB up (binary search) until the image works; for an
HTTP server image (--http-image, an image that serves on port 80) "works"
means a host curl through hostfwd gets an answer.
"""
import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def qemu_cmd(qemu, accel, machine, image, mem=64, append="-- -- hello", extra=()):
    cmd = [qemu, "-M", machine, "-accel", accel, "-m", str(mem), "-nodefaults",
           "-no-user-config", "-display", "none", "-no-reboot", "-serial", "null",
           "-device", "isa-debug-exit,iobase=0xf4,iosize=0x04", "-kernel", image]
    if accel == "tcg":
        cmd += ["-cpu", "max"]
    if append:
        cmd += ["-append", append]
    return cmd + list(extra)


def timed(cmd):
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, timeout=60)
    t = time.perf_counter() - t0
    if r.returncode != 1:  # isa-debug-exit with status 0
        sys.exit(f"{cmd[-3] if '-append' in cmd else cmd[-1]}: QEMU exit code {r.returncode}")
    return t


def boot_bench(qemu, accel, machine, floor, hello, runs):
    # The floor ignores its command line; both get the same one.
    cmds = {"floor": qemu_cmd(qemu, accel, machine, floor),
            "hello": qemu_cmd(qemu, accel, machine, hello)}
    for c in cmds.values():
        timed(c)  # warm caches
    times = {"floor": [], "hello": []}
    for _ in range(runs):
        for name, c in cmds.items():
            times[name].append(timed(c))
    for name, t in times.items():
        print(f"  {accel} {machine:8} {name:5} median {statistics.median(t)*1000:6.1f} ms  "
              f"mean {statistics.mean(t)*1000:6.1f} ms  min {min(t)*1000:6.1f} ms")
    ratio = statistics.median(times["hello"]) / statistics.median(times["floor"])
    ratio_min = min(times["hello"]) / min(times["floor"])
    print(f"  {accel} {machine:8} ratio hello/floor: {ratio:.2f} (median), {ratio_min:.2f} (min)"
          f"   target <= 1.25 under TCG")
    return ratio


def bake(build, obj, config, out, strip):
    cmd = [sys.executable, os.path.join(build, "clients/bake/ak-bake"), "-c", config, "-o", out]
    if strip:
        cmd.append("--strip")
    subprocess.run(cmd + [obj], check=True, stdout=subprocess.DEVNULL)
    return os.path.getsize(out)


def works_in(qemu, accel, machine, image, mem, http):
    if not http:
        r = subprocess.run(qemu_cmd(qemu, accel, machine, image, mem), stdin=subprocess.DEVNULL,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=60)
        return r.returncode == 1
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    extra = ["-netdev", f"user,id=n0,hostfwd=tcp:127.0.0.1:{port}-:80",
             "-device", "virtio-net-device,netdev=n0",
             "-global", "virtio-mmio.force-legacy=false"]
    p = subprocess.Popen(qemu_cmd(qemu, accel, machine + ",acpi=off", image, mem,
                                  "ip=10.0.2.15/24 gw=10.0.2.2 -- -- httpd", extra),
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline and p.poll() is None:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/", timeout=3) as r:
                    return r.status == 200
            except OSError:
                time.sleep(0.3)
        return False
    finally:
        p.kill()
        p.wait()


def min_memory(qemu, accel, machine, image, http=False):
    lo, hi = 2, 64  # MiB: lo fails or is untested, hi must work
    if not works_in(qemu, accel, machine, image, hi, http):
        return None
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if works_in(qemu, accel, machine, image, mid, http):
            hi = mid
        else:
            lo = mid
    return hi


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--qemu", default="qemu-system-x86_64")
    ap.add_argument("--machine", default="microvm")
    ap.add_argument("--runs", type=int, default=20)
    ap.add_argument("--http-image", help="an HTTP server image (serves on port 80)")
    args = ap.parse_args()
    qemu = shutil.which(args.qemu)
    if not qemu:
        sys.exit("qemu-system-x86_64 not found")
    floor = os.path.join(args.build, "platforms/kvm/floor/ak-kvm-floor.elf")
    if not os.path.exists(floor):
        sys.exit(f"{floor} missing: build first (ninja -C {args.build})")
    tmp = tempfile.mkdtemp(prefix="ak-boot-bench-")
    try:
        obj = os.path.join(tmp, "hello.o")
        cflags = ["-I" + os.path.join(ROOT, "clients/include"),
                  "-I" + os.path.join(args.build, "clients/include")]
        subprocess.run(["cc", "-O2", "-c", os.path.join(ROOT, "examples/hello.c"), "-o", obj]
                       + cflags, check=True)
        hello = os.path.join(tmp, "hello.img")
        size = bake(args.build, obj, "fs", hello, strip=True)
        print(f"image sizes (stripped):\n  hello (fs)         {size:8} bytes = {size/1024:6.0f} KiB"
              f"   target <= 512 KiB")
        for config in ("minimal", "full"):
            s = bake(args.build, obj, config, os.path.join(tmp, f"hello-{config}.img"), True)
            print(f"  hello ({config:7})    {s:8} bytes = {s/1024:6.0f} KiB")
        if args.http_image:
            stripped = os.path.join(tmp, "httpd.img")
            subprocess.run(["strip", "-o", stripped, args.http_image], check=True)
            s = os.path.getsize(stripped)
            print(f"  HTTP server        {s:8} bytes = {s/1024:6.0f} KiB   target <= 1 MiB")
        print(f"boot to exit, {args.runs} interleaved runs each, same QEMU command:")
        accels = ["tcg"] + (["kvm"] if os.access("/dev/kvm", os.R_OK | os.W_OK) else [])
        for accel in accels:
            boot_bench(qemu, accel, args.machine, floor, hello, args.runs)
        if "kvm" not in accels:
            print("  kvm: /dev/kvm is not usable on this machine; not measured")
        m = min_memory(qemu, "tcg", args.machine, hello)
        print(f"smallest -m (MiB) at which hello runs: {m}")
        if args.http_image:
            m = min_memory(qemu, "tcg", "microvm", args.http_image, http=True)
            print(f"smallest -m (MiB) at which the HTTP server serves: {m}   target <= 8")
        else:
            print("HTTP server: no image given (--http-image); not measured")
    finally:
        shutil.rmtree(tmp)
    return 0


if __name__ == "__main__":
    sys.exit(main())
