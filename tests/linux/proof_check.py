#!/usr/bin/env python3
"""Unmodified Linux programs, built here from source with the ordinary
compilers, run natively and as unikernel images; their outputs must agree.

    proof_check.py --build BUILD --ak-bake AK-BAKE --ak-run AK-RUN --qemu QEMU
                   --src SRCDIR SCENARIO

Scenarios:
  cdemo      examples/linux/cdemo.c with musl-gcc -static (files, sockets,
             pipes, time, pthreads): same output and status 0 both ways
  cxxdemo    examples/linux/cxxdemo.cpp with g++ -static (std::thread,
             iostreams, exceptions): same output and status 0 both ways
  goserve    examples/linux/goserve with Go, CGO_ENABLED=0: the same answers
             to host curl natively and through QEMU's hostfwd; /quit exits 0
  minihttpd  examples/linux/minihttpd.c one source, four ways: native, under
             the hijack against ak-server, musl-gcc -static executable baked,
             and object file baked on the image's libc; the same answers
  dynamic    a dynamically linked executable is refused by ak-bake
Exit 77 (skipped, with a one-line reason) when a compiler or tool is missing.
"""
import argparse
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time

SKIP = 77


def skip(why):
    print(f"SKIP: {why}")
    sys.exit(SKIP)


def check(cond, what):
    if not cond:
        raise SystemExit(f"FAIL: {what}")
    print(f"ok: {what}")


def need(*tools):
    for t in tools:
        if not shutil.which(t):
            skip(f"{t} is not installed")


def run(cmd, timeout=300, **kw):
    print("+", " ".join(cmd), flush=True)
    return subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Ctx:
    def __init__(self, args, tmp):
        self.a = args
        self.tmp = tmp
        self.examples = os.path.join(args.src, "examples", "linux")

    def path(self, name):
        return os.path.join(self.tmp, name)

    def build(self, cmd, what):
        p = run(cmd)
        if p.returncode != 0:
            raise SystemExit(f"FAIL: building {what}: {p.stderr.strip()}")

    def bake(self, inputs, image):
        p = run([sys.executable, self.a.ak_bake, "-o", image] + inputs)
        check(p.returncode == 0, f"ak-bake {' '.join(os.path.basename(i) for i in inputs)}"
              f"{'' if p.returncode == 0 else ': ' + p.stderr.strip()}")
        print(p.stdout.strip())

    def ak_run(self, image, args=(), net=None, memory="128M", timeout=240):
        cmd = [sys.executable, self.a.ak_run, "--qemu", self.a.qemu, "-m", memory,
               "--timeout", str(timeout)]
        if net:
            cmd += ["-n", net]
        return cmd + [image, "--"] + list(args)


def kernel_lines(out):
    """The kernel's own console lines (e.g. a syscall logged as missing)."""
    return [l for l in out.splitlines() if l.startswith("anykern:")]


def app_lines(out):
    return [l for l in out.splitlines() if not l.startswith("anykern:")]


def compare_run(ctx, exe, args=()):
    native = run([exe] + list(args))
    print(native.stdout)
    check(native.returncode == 0, f"native {os.path.basename(exe)} exits 0 ({native.stderr.strip()})")
    image = exe + ".img"
    ctx.bake([exe], image)
    uk = run(ctx.ak_run(image, args), timeout=300)
    print(uk.stdout)
    if uk.stderr.strip():
        print(uk.stderr)
    for l in kernel_lines(uk.stdout):
        print(f"note: kernel said: {l}")
    check(uk.returncode == 0, f"unikernel {os.path.basename(exe)} exits 0 (got {uk.returncode})")
    if app_lines(uk.stdout) != app_lines(native.stdout):
        import difflib
        sys.stdout.writelines(difflib.unified_diff(
            [l + "\n" for l in app_lines(native.stdout)], [l + "\n" for l in app_lines(uk.stdout)],
            "native", "unikernel"))
        raise SystemExit("FAIL: the unikernel's output differs from the native run's")
    check(True, f"unikernel output equals the native output ({len(app_lines(uk.stdout))} lines)")


def scenario_cdemo(ctx):
    need("musl-gcc")
    exe = ctx.path("cdemo")
    ctx.build(["musl-gcc", "-static", "-O2", "-o", exe, os.path.join(ctx.examples, "cdemo.c"),
               "-lpthread"], "cdemo")
    compare_run(ctx, exe, ["/tmp"])


def scenario_cxxdemo(ctx):
    need("g++")
    exe = ctx.path("cxxdemo")
    ctx.build(["g++", "-static", "-O2", "-std=c++20", "-pthread", "-o", exe,
               os.path.join(ctx.examples, "cxxdemo.cpp")], "cxxdemo")
    compare_run(ctx, exe)


def curl(url, timeout=60):
    p = subprocess.run(["curl", "-s", "-S", "-m", str(timeout), url], capture_output=True,
                       timeout=timeout + 10)
    if p.returncode != 0:
        print(f"curl {url}: exit {p.returncode}: {p.stderr.decode().strip()}")
        return None
    return p.stdout


def wait_listening(proc, what, timeout=120):
    """Reads the program's stdout until its 'listening' line."""
    deadline = time.time() + timeout
    seen = []
    while time.time() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        seen.append(line)
        if "listening" in line:
            return
    proc.kill()
    rest = proc.communicate()[0] or ""
    raise SystemExit(f"FAIL: {what} did not start listening: {''.join(seen) + rest}")


def http_answers(base, paths):
    out = {}
    for p in paths:
        body = None
        for _ in range(3):
            body = curl(base + p)
            if body is not None:
                break
            time.sleep(1)
        check(body is not None, f"GET {p} answered")
        out[p] = hashlib.sha256(body).hexdigest() if len(body) > 4096 else body.decode()
    return out


def stop(proc, timeout=60):
    try:
        return proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def scenario_goserve(ctx):
    need("go", "curl")
    exe = ctx.path("goserve")
    env = dict(os.environ, CGO_ENABLED="0", GOCACHE=ctx.path("gocache"), HOME=ctx.tmp,
               GOPATH=ctx.path("gopath"))
    p = run(["go", "build", "-o", exe, "main.go"], cwd=os.path.join(ctx.examples, "goserve"),
            env=env, timeout=600)
    if p.returncode != 0:
        raise SystemExit(f"FAIL: go build: {p.stderr}")
    paths = ["/", "/hello/world", "/sum?n=1000000", "/big"]

    port = free_port()
    native = subprocess.Popen([exe, str(port)], stdout=subprocess.PIPE, text=True)
    try:
        wait_listening(native, "native goserve")
        want = http_answers(f"http://127.0.0.1:{port}", paths)
        curl(f"http://127.0.0.1:{port}/quit")
        check(stop(native) == 0, "native goserve exits 0 after /quit")
    finally:
        if native.poll() is None:
            native.kill()
    print(want)

    image = exe + ".img"
    ctx.bake([exe], image)
    port = free_port()
    uk = subprocess.Popen(ctx.ak_run(image, ["8080"], net=f"user,hostfwd=tcp:127.0.0.1:{port}-:8080",
                                     memory="256M"),
                          stdout=subprocess.PIPE, text=True)
    try:
        wait_listening(uk, "goserve in the unikernel", timeout=200)
        got = http_answers(f"http://127.0.0.1:{port}", paths)
        print(got)
        check(got == want, "the unikernel's Go server answers as the native one")
        curl(f"http://127.0.0.1:{port}/quit")
        status = stop(uk, timeout=120)
        out = uk.stdout.read()
        print(out)
        check(status == 0, f"goserve image exits 0 after /quit (got {status})")
    finally:
        if uk.poll() is None:
            uk.kill()
            uk.wait()


def minihttpd_native(exe, paths):
    port = free_port()
    p = subprocess.Popen([exe, str(port), str(len(paths))], stdout=subprocess.PIPE, text=True)
    try:
        wait_listening(p, "native minihttpd")
        got = http_answers(f"http://127.0.0.1:{port}", paths)
        check(stop(p) == 0, "native minihttpd exits 0 after its requests")
        return got
    finally:
        if p.poll() is None:
            p.kill()


def minihttpd_hijacked(ctx, exe, paths):
    """Under the hijack, the server's sockets are ak-server's: reach it with
    examples/httpget over a shared-memory bus (no privileges needed)."""
    b = ctx.a.build
    sock, bus = ctx.path("ak.sock"), ctx.path("bus")
    server = subprocess.Popen([f"{b}/clients/server/ak-server", "-f", "--if",
                               f"shm:{bus},addr=10.9.0.2/24", f"unix://{sock}"],
                              stderr=subprocess.PIPE)
    prog = None
    try:
        for _ in range(200):
            if os.path.exists(sock):
                break
            time.sleep(0.05)
        check(os.path.exists(sock), "ak-server is up")
        env = dict(os.environ, AK_SERVER=f"unix://{sock}", AK_HIJACK="sockets=inet",
                   LD_PRELOAD=f"{b}/clients/hijack/libak-hijack.so")
        prog = subprocess.Popen([exe, "8080", str(len(paths))], stdout=subprocess.PIPE, text=True,
                                env=env)
        wait_listening(prog, "hijacked minihttpd")
        got = {}
        for path in paths:
            out = ctx.path("page")
            r = run([f"{b}/examples/httpget", "--if", f"shm:{bus},addr=10.9.0.1/24", "-o", out,
                     f"http://10.9.0.2:8080{path}"], timeout=60)
            check(r.returncode == 0, f"httpget {path} from the hijacked server ({r.stderr.strip()})")
            with open(out) as f:
                got[path] = f.read()
        check(stop(prog) == 0, "hijacked minihttpd exits 0 after its requests")
        return got
    finally:
        if prog and prog.poll() is None:
            prog.kill()
        server.terminate()
        stop(server, 10)


def minihttpd_image(ctx, image, paths):
    port = free_port()
    p = subprocess.Popen(ctx.ak_run(image, ["8080", str(len(paths))],
                                    net=f"user,hostfwd=tcp:127.0.0.1:{port}-:8080"),
                         stdout=subprocess.PIPE, text=True)
    try:
        wait_listening(p, f"{os.path.basename(image)}", timeout=200)
        got = http_answers(f"http://127.0.0.1:{port}", paths)
        check(stop(p, 120) == 0, f"{os.path.basename(image)} exits 0 after its requests")
        return got
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()


def scenario_minihttpd(ctx):
    need("musl-gcc", "curl", "cc", "pkg-config")
    src = os.path.join(ctx.examples, "minihttpd.c")
    paths = ["/", "/one/two", "/three?x=1"]
    native_exe = ctx.path("minihttpd")
    ctx.build(["cc", "-O2", "-o", native_exe, src], "minihttpd (native)")
    want = minihttpd_native(native_exe, paths)
    print(want)
    check(all(v.startswith("Hello from minihttpd: ") for v in want.values()), "native answers")

    if os.environ.get("AK_TEST_PRELOAD"):
        print("skip: the hijacked way in a sanitizer build (the default build runs it)")
    else:
        check(minihttpd_hijacked(ctx, native_exe, paths) == want,
              "way 2: the same binary under the hijack answers alike")

    static_exe = ctx.path("minihttpd-musl")
    ctx.build(["musl-gcc", "-static", "-O2", "-o", static_exe, src], "minihttpd (musl static)")
    ctx.bake([static_exe], static_exe + ".img")
    check(minihttpd_image(ctx, static_exe + ".img", paths) == want,
          "way 3: the static executable in a unikernel answers alike")

    pc = run(["pkg-config", "--cflags", "anykern"],
             env=dict(os.environ, PKG_CONFIG_PATH=os.path.join(ctx.a.build, "meson-uninstalled")))
    if pc.returncode != 0:
        pc = run(["pkg-config", "--cflags", "anykern-uninstalled"],
                 env=dict(os.environ, PKG_CONFIG_PATH=os.path.join(ctx.a.build, "meson-uninstalled")))
    check(pc.returncode == 0, "pkg-config finds anykern")
    obj = ctx.path("minihttpd.o")
    ctx.build(["cc", "-c", "-O2", "-fno-pie"] + pc.stdout.split() + ["-o", obj, src],
              "minihttpd.o")
    ctx.bake([obj], obj + ".img")
    check(minihttpd_image(ctx, obj + ".img", paths) == want,
          "way 4: the object file baked on the image's libc answers alike")


def scenario_dynamic(ctx):
    need("cc")
    exe = ctx.path("dyn")
    with open(ctx.path("dyn.c"), "w") as f:
        f.write('#include <stdio.h>\nint main(void) { puts("hi"); return 0; }\n')
    ctx.build(["cc", "-o", exe, ctx.path("dyn.c")], "a dynamic executable")
    p = run([sys.executable, ctx.a.ak_bake, "-o", exe + ".img", exe])
    print(p.stderr)
    check(p.returncode != 0, "ak-bake refuses a dynamic executable")
    check("dynamically linked" in p.stderr and "-static" in p.stderr,
          "with a message naming the problem and the fix")
    check(not os.path.exists(exe + ".img"), "and writes no image")


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build", required=True)
    ap.add_argument("--ak-bake", required=True)
    ap.add_argument("--ak-run", required=True)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--src", required=True)
    ap.add_argument("scenario", choices=["cdemo", "cxxdemo", "goserve", "minihttpd", "dynamic"])
    a = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="ak-proof-") as tmp:
        globals()["scenario_" + a.scenario](Ctx(a, tmp))
    return 0


if __name__ == "__main__":
    sys.exit(main())
