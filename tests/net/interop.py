#!/usr/bin/env python3
"""Interop tests: the anykern stack against the Linux kernel's.

Usage: interop.py BUILD_DIR SCENARIO

Every scenario makes its own network namespace with a tap device (the
Linux side, 10.77.0.1/24) and runs an anykern example program inside it
on that tap (10.77.0.2/24); the namespace is deleted afterwards.  Exits
77 (skipped) with a one-line reason when it cannot run here.
Scenarios: ping, http-server, http-client, http-server-faults,
http-client-faults, udp-echo, shm (two anykern processes on a
shared-memory bus; needs no privileges).
"""
import hashlib
import os
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77
FAULTS = 'loss=5,reorder=5,dup=5,seed=7'
BIG = 64 << 20


def skip(why):
    print(f'SKIP: {why}')
    sys.exit(SKIP)


def sha(path):
    h = hashlib.sha256()
    with open(path, 'rb') as f:
        for chunk in iter(lambda: f.read(1 << 20), b''):
            h.update(chunk)
    return h.hexdigest()


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, **kw)


class Netns:
    def __init__(self):
        self.name = f'akt{os.getpid()}'

    def __enter__(self):
        if os.geteuid() != 0:
            skip('needs root for ip netns and tap devices')
        if not os.path.exists('/dev/net/tun'):
            skip('/dev/net/tun is missing')
        try:
            run(['ip', 'netns', 'add', self.name], capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            skip('ip netns is not available')
        self.ex(['ip', 'link', 'set', 'lo', 'up'])
        self.ex(['ip', 'tuntap', 'add', 'dev', 'ak0', 'mode', 'tap'])
        self.ex(['ip', 'addr', 'add', '10.77.0.1/24', 'dev', 'ak0'])
        self.ex(['ip', 'link', 'set', 'ak0', 'up'])
        return self

    def __exit__(self, *a):
        subprocess.run(['ip', 'netns', 'del', self.name], capture_output=True)

    def cmd(self, argv):
        return ['ip', 'netns', 'exec', self.name] + argv

    def ex(self, argv, **kw):
        return run(self.cmd(argv), **kw)

    def popen(self, argv, **kw):
        return subprocess.Popen(self.cmd(argv), **kw)


def wait_ready(proc, timeout=10):
    line = proc.stdout.readline()
    if b'ready' not in line:
        raise SystemExit(f'server did not start: {line!r}')


def linux_ping(ns, addr, count=3):
    """ICMP echo from the Linux stack (raw socket inside the namespace)."""
    code = f'''
import socket, struct, sys, time
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_ICMP)
s.settimeout(2)
def csum(b):
    if len(b) % 2: b += b"\\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b)); t = (t >> 16) + (t & 0xffff); t += t >> 16
    return ~t & 0xffff
ok = 0
for seq in range(1, {count} + 1):
    body = struct.pack("!BBHHH", 8, 0, 0, 0x4242, seq) + b"x" * 32
    pkt = body[:2] + struct.pack("!H", csum(body)) + body[4:]
    s.sendto(pkt, ("{addr}", 0))
    end = time.time() + 2
    while time.time() < end:
        try: r = s.recv(2048)
        except socket.timeout: break
        ihl = (r[0] & 15) * 4
        if r[ihl] == 0 and struct.unpack("!HH", r[ihl+4:ihl+8]) == (0x4242, seq):
            ok += 1; break
print(ok); sys.exit(0 if ok == {count} else 1)
'''
    return ns.ex([sys.executable, '-c', code], capture_output=True).returncode == 0


def scenario_ping(build):
    with Netns() as ns:
        srv = ns.popen([f'{build}/examples/httpd', '--if', 'tap:ak0,addr=10.77.0.2/24', '/dev/null'],
                       stdout=subprocess.PIPE)
        try:
            wait_ready(srv)
            assert linux_ping(ns, '10.77.0.2'), 'Linux -> anykern ping failed'
            print('Linux -> anykern: ok')
        finally:
            srv.kill()
            srv.wait()
        ns.ex([f'{build}/examples/akping', '--if', 'tap:ak0,addr=10.77.0.2/24', '-c', '3', '10.77.0.1'])
        print('anykern -> Linux: ok')


def make_file(tmp):
    path = os.path.join(tmp, 'big')
    with open(path, 'wb') as f:
        f.write(os.urandom(BIG))
    return path


def scenario_http_server(build, faults=False):
    spec = 'tap:ak0,addr=10.77.0.2/24' + (',' + FAULTS if faults else '')
    with tempfile.TemporaryDirectory() as tmp, Netns() as ns:
        src = make_file(tmp)
        srv = ns.popen([f'{build}/examples/httpd', '--if', spec, '--count', '1', src],
                       stdout=subprocess.PIPE)
        try:
            wait_ready(srv)
            out = os.path.join(tmp, 'got')
            t0 = time.time()
            ns.ex(['curl', '-sS', '--max-time', '150', '-o', out, 'http://10.77.0.2:8080/big'])
            dt = time.time() - t0
            assert sha(out) == sha(src), 'SHA-256 mismatch'
            print(f'curl fetched {BIG >> 20} MiB from anykern httpd in {dt:.2f} s '
                  f'({BIG * 8 / dt / 1e6:.0f} Mbit/s), SHA-256 ok')
        finally:
            srv.kill()
            srv.wait()


def scenario_http_client(build, faults=False):
    spec = 'tap:ak0,addr=10.77.0.2/24' + (',' + FAULTS if faults else '')
    with tempfile.TemporaryDirectory() as tmp, Netns() as ns:
        src = make_file(tmp)
        srv = ns.popen([sys.executable, '-m', 'http.server', '8000', '--bind', '10.77.0.1',
                        '--directory', tmp], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            out = os.path.join(tmp, 'got')
            t0 = time.time()
            ns.ex([f'{build}/examples/httpget', '--if', spec, '-o', out, 'http://10.77.0.1:8000/big'],
                  timeout=150)
            dt = time.time() - t0
            assert sha(out) == sha(src), 'SHA-256 mismatch'
            print(f'anykern httpget fetched {BIG >> 20} MiB from python http.server in {dt:.2f} s, '
                  'SHA-256 ok')
        finally:
            srv.kill()
            srv.wait()


def scenario_udp_echo(build):
    with Netns() as ns:
        # anykern echoes, Linux sends.
        srv = ns.popen([f'{build}/examples/udpecho', '--if', 'tap:ak0,addr=10.77.0.2/24', 'server',
                        '7777', '20'], stdout=subprocess.PIPE)
        try:
            wait_ready(srv)
            code = '''
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(2); ok = 0
for i in range(20):
    m = b"ping %d" % i; s.sendto(m, ("10.77.0.2", 7777))
    try: ok += s.recv(2048) == m
    except socket.timeout: pass
print(ok); sys.exit(0 if ok == 20 else 1)
'''
            ns.ex([sys.executable, '-c', code])
            print('Linux -> anykern UDP echo: ok')
        finally:
            srv.kill()
            srv.wait()
        # Linux echoes, anykern sends.
        code = '''
import socket
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.bind(("10.77.0.1", 7778)); s.settimeout(20)
for i in range(20):
    m, a = s.recvfrom(2048); s.sendto(m, a)
'''
        echo = ns.popen([sys.executable, '-c', code])
        try:
            time.sleep(0.3)
            ns.ex([f'{build}/examples/udpecho', '--if', 'tap:ak0,addr=10.77.0.2/24', 'client',
                   '10.77.0.1', '7778', '20'])
            print('anykern -> Linux UDP echo: ok')
        finally:
            echo.kill()
            echo.wait()


def scenario_shm(build):
    with tempfile.TemporaryDirectory() as tmp:
        bus = os.path.join(tmp, 'bus')
        src = os.path.join(tmp, 'file')
        with open(src, 'wb') as f:
            f.write(os.urandom(16 << 20))
        srv = subprocess.Popen([f'{build}/examples/httpd', '--if', f'shm:{bus},addr=10.88.0.1/24',
                                '--count', '1', src], stdout=subprocess.PIPE)
        try:
            wait_ready(srv)
            out = os.path.join(tmp, 'got')
            run([f'{build}/examples/httpget', '--if', f'shm:{bus},addr=10.88.0.2/24', '-o', out,
                 'http://10.88.0.1:8080/file'], timeout=60)
            assert sha(out) == sha(src), 'SHA-256 mismatch'
            print('two anykern processes over the shared-memory bus: 16 MiB, SHA-256 ok')
        finally:
            srv.kill()
            srv.wait()


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    build, name = sys.argv[1], sys.argv[2]
    table = {
        'ping': scenario_ping,
        'http-server': scenario_http_server,
        'http-client': scenario_http_client,
        'http-server-faults': lambda b: scenario_http_server(b, True),
        'http-client-faults': lambda b: scenario_http_client(b, True),
        'udp-echo': scenario_udp_echo,
        'shm': scenario_shm,
    }
    if name in ('http-server', 'http-server-faults', 'http-client', 'http-client-faults'):
        if subprocess.run(['which', 'curl'], capture_output=True).returncode and 'server' in name:
            skip('curl is not installed')
    table[name](build)


if __name__ == '__main__':
    main()
