#!/usr/bin/env python3
"""Boot the ak-server image (user networking, hostfwd) and drive it with the
host's akctl over TCP: mkdir, ls, ifconfig (list and set the MTU), route,
status, and a wrong token refused."""
import argparse
import os
import signal
import socket
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--ak-run", required=True)
    ap.add_argument("--qemu", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--akctl", required=True)
    ap.add_argument("--machine", default="microvm")
    args = ap.parse_args()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    token = "uk-test-" + os.urandom(8).hex()
    cmd = [sys.executable, args.ak_run, "--qemu", args.qemu, "--machine", args.machine,
           "--timeout", "100", "-n", f"user,hostfwd=tcp:127.0.0.1:{port}-:7000",
           "-e", f"AK_TOKEN={token}", args.image]
    print("+", " ".join(cmd), flush=True)
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                         stderr=subprocess.STDOUT, start_new_session=True)
    url = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, AK_TOKEN=token)
    ok = True

    def akctl(*a, environ=env):
        r = subprocess.run([args.akctl, "-u", url] + list(a), env=environ, capture_output=True,
                           text=True, timeout=30)
        print(f"$ akctl {' '.join(a)} -> {r.returncode}\n{r.stdout}{r.stderr}", end="")
        return r

    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if akctl("mkdir", "/from-host").returncode == 0:
                break
            time.sleep(0.5)
        else:
            print("FAIL: the server never answered")
            ok = False
        if ok:
            ok &= akctl("mkdir", "/from-host/sub").returncode == 0
            r = akctl("ls", "/from-host")
            ok &= r.returncode == 0 and "sub" in r.stdout
            # Interfaces inside the unikernel, configured from the host.
            r = akctl("ifconfig")
            ok &= r.returncode == 0 and "vioif0" in r.stdout and "10.0.2.15/24" in r.stdout
            ok &= akctl("ifconfig", "vioif0", "mtu", "1400").returncode == 0
            r = akctl("ifconfig", "vioif0")
            ok &= r.returncode == 0 and "mtu 1400" in r.stdout
            r = akctl("route")
            ok &= r.returncode == 0 and "default via 10.0.2.2 dev vioif0" in r.stdout
            r = akctl("status")
            ok &= r.returncode == 0 and "processes:" in r.stdout
            bad = akctl("ls", "/", environ=dict(os.environ, AK_TOKEN="wrong"))
            ok &= bad.returncode != 0
    finally:
        os.killpg(p.pid, signal.SIGTERM)
        out, _ = p.communicate(timeout=30)
        sys.stdout.write(out.decode(errors="replace"))
    print("ok" if ok else "FAIL")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
