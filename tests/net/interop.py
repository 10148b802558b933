#!/usr/bin/env python3
"""Interop tests: the anykern stack against the Linux kernel's.

Usage: interop.py BUILD_DIR SCENARIO

Every scenario makes its own network namespace with a tap device (the
Linux side, 10.77.0.1/24) and runs an anykern example program inside it
on that tap (10.77.0.2/24); the namespace is deleted afterwards.  Exits
77 (skipped) with a one-line reason when it cannot run here.
Scenarios: ping, http-server, http-client, http-server-faults,
http-client-faults, udp-echo; keepalive, zero-window, linger (TCP
behaviours through tests/net/tcptool, checked on a segment log recorded in
the namespace); tun (a tun device, 10.78.0.0/24), packet (AF_PACKET on one
end of a veth pair whose other end is in a second namespace, 10.79.0.0/24),
dhcp (ak-server --if packet:...,dhcp and tap:...,dhcp against dnsmasq);
shm (two anykern processes on a shared-memory bus; needs no privileges).
"""
import hashlib
import os
import shutil
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


def need_netns():
    if os.geteuid() != 0:
        skip('needs root for ip netns and tap/tun/veth devices')
    if not os.path.exists('/dev/net/tun'):
        skip('/dev/net/tun is missing')


class Netns:
    """A network namespace, deleted (with its devices) on exit.  With a
    device kind, also a tap or tun device DEV (the Linux side, ADDR/24) in
    it for an anykern program to attach to."""

    def __init__(self, kind='tap', dev='ak0', addr='10.77.0.1', suffix=''):
        self.name = f'akt{os.getpid()}{suffix}'
        self.kind, self.dev, self.addr = kind, dev, addr

    def __enter__(self):
        need_netns()
        try:
            run(['ip', 'netns', 'add', self.name], capture_output=True)
        except (OSError, subprocess.CalledProcessError):
            skip('ip netns is not available')
        try:
            self.ex(['ip', 'link', 'set', 'lo', 'up'])
            if self.kind in ('tap', 'tun'):
                self.ex(['ip', 'tuntap', 'add', 'dev', self.dev, 'mode', self.kind])
                self.ex(['ip', 'addr', 'add', f'{self.addr}/24', 'dev', self.dev])
                self.ex(['ip', 'link', 'set', self.dev, 'up'])
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *a):
        subprocess.run(['ip', 'netns', 'del', self.name], capture_output=True)

    def cmd(self, argv):
        return ['ip', 'netns', 'exec', self.name] + argv

    def ex(self, argv, **kw):
        return run(self.cmd(argv), **kw)

    def popen(self, argv, **kw):
        kw.setdefault('bufsize', 0)  # unbuffered: expect_line selects on the pipe
        return subprocess.Popen(self.cmd(argv), **kw)


class VethPair:
    """Two namespaces joined by a veth pair: the Linux end (ADDR/24, in
    .linux) and a bare end with no address (in .ak) for an anykern program's
    AF_PACKET backend.  Both namespaces go on exit."""

    def __init__(self, addr):
        self.addr = addr
        self.linux = Netns(kind=None, suffix='l')
        self.ak = Netns(kind=None, suffix='a')

    def __enter__(self):
        self.linux.__enter__()
        try:
            self.ak.__enter__()
            self.linux.ex(['ip', 'link', 'add', 'akv0', 'type', 'veth', 'peer', 'name', 'akv1',
                           'netns', self.ak.name])
            self.linux.ex(['ip', 'addr', 'add', f'{self.addr}/24', 'dev', 'akv0'])
            self.linux.ex(['ip', 'link', 'set', 'akv0', 'up'])
            self.ak.ex(['ip', 'link', 'set', 'akv1', 'up'])
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *a):
        self.ak.__exit__()
        self.linux.__exit__()


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


# --- A TCP segment log, recorded inside a namespace --------------------------------------
def sniff_main(iface, link):
    """Print one line per TCP segment seen on iface until killed:
    time src sport dst dport flags seq ack win len (link: eth or ip)."""
    import signal
    signal.signal(signal.SIGTERM, lambda *a: sys.exit(0))
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(3))  # ETH_P_ALL
    s.bind((iface, 0))
    print('sniffing', flush=True)
    while True:
        try:
            f = s.recv(70000)
        except OSError:  # the link went down (a test's doing): wait for it
            time.sleep(0.05)
            continue
        if link == 'eth':
            if len(f) < 14 or f[12:14] != b'\x08\x00':
                continue
            f = f[14:]
        if len(f) < 40 or f[0] >> 4 != 4 or f[9] != 6:
            continue
        ihl = (f[0] & 15) * 4
        total = struct.unpack('!H', f[2:4])[0]
        t = f[ihl:total]
        if len(t) < 20:
            continue
        sport, dport, seq, ack, off, flags, win = struct.unpack('!HHIIBBH', t[:16])
        plen = len(t) - (off >> 4) * 4
        print(f'{time.monotonic():.3f} {socket.inet_ntoa(f[12:16])} {sport} '
              f'{socket.inet_ntoa(f[16:20])} {dport} {flags} {seq} {ack} {win} {plen}',
              flush=True)


class Sniffer:
    def __init__(self, ns, iface, link='eth'):
        self.out = tempfile.TemporaryFile(mode='w+')
        self.proc = ns.popen([sys.executable, os.path.abspath(__file__), 'sniff', iface, link],
                             stdout=subprocess.PIPE, text=True)
        if 'sniffing' not in self.proc.stdout.readline():
            raise SystemExit('sniffer did not start')

    def stop(self):
        """Stop and return the segments as dicts, in order."""
        time.sleep(0.2)
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        segs = []
        for line in out.splitlines():
            t, src, sport, dst, dport, flags, seq, ack, win, plen = line.split()
            segs.append(dict(t=float(t), src=src, sport=int(sport), dst=dst, dport=int(dport),
                             flags=int(flags), seq=int(seq), ack=int(ack), win=int(win),
                             len=int(plen)))
        return segs


def probes(segs, prober, t0=0, t1=1e18):
    """Keepalive probes prober sent between t0 and t1 (RFC 9293 §3.8.4:
    SEG.SEQ one below what the peer acknowledged, at most one byte) and
    whether each was answered by an ACK from the peer."""
    last_ack = None
    found = []
    for i, g in enumerate(segs):
        if g['src'] != prober and g['flags'] & 0x10:
            last_ack = g['ack']
        if (g['src'] == prober and t0 <= g['t'] <= t1 and last_ack is not None and g['len'] <= 1
                and g['seq'] == (last_ack - 1) % (1 << 32) and not g['flags'] & 0x7):
            answered = any(h['src'] != prober and h['flags'] & 0x10 and h['t'] >= g['t']
                           for h in segs[i + 1:])
            found.append(answered)
    return found


def check(cond, what):
    if not cond:
        raise SystemExit(f'FAIL: {what}')
    print(f'ok: {what}')


def expect_line(proc, prefix, timeout=60):
    """The next line of proc's stdout, which must start with prefix."""
    import select
    end = time.time() + timeout
    while time.time() < end:
        r, _, _ = select.select([proc.stdout], [], [], 1)
        if r:
            line = proc.stdout.readline()
            if not line:
                break
            line = line.decode() if isinstance(line, bytes) else line
            if line.startswith(prefix):
                return line.strip()
            raise SystemExit(f'FAIL: expected "{prefix}...", got {line.strip()!r}')
    raise SystemExit(f'FAIL: no "{prefix}" line within {timeout} s')


def stop(*procs):
    for p in procs:
        if p and p.poll() is None:
            p.kill()
        if p:
            p.wait()


# --- keepalive, zero window, SO_LINGER against Linux ------------------------------------
KEEPALIVE_PEER = r"""
import socket, sys
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.bind(("10.77.0.1", 9100)); l.listen(1); print("listening", flush=True)
c, _ = l.accept()
# Linux probes anykern too: 1 s idle, 1 s apart, gives up after 2 unanswered.
c.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, 1)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, 1)
c.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
try:
    while True:
        d = c.recv(100)
        if not d: break
        c.sendall(d)
except OSError as e:
    print("peer error", e, flush=True)
"""


def scenario_keepalive(build):
    idle, intvl, cnt, quiet = 2, 1, 3, 7
    with Netns() as ns:
        peer = ns.popen([sys.executable, '-c', KEEPALIVE_PEER], stdout=subprocess.PIPE)
        sn = tool = None
        try:
            expect_line(peer, 'listening')
            sn = Sniffer(ns, 'ak0')
            tool = ns.popen([f'{build}/tests/net/tcptool', '--if', 'tap:ak0,addr=10.77.0.2/24',
                             'keepalive', '10.77.0.1', '9100', str(idle), str(intvl), str(cnt),
                             str(quiet)], stdout=subprocess.PIPE)
            expect_line(tool, 'connected')
            t_quiet = time.monotonic()
            expect_line(tool, 'survived', timeout=quiet + 10)
            t_survived = time.monotonic()
            print(f'ok: the connection survived {quiet} s of idling with keepalive on both ends')
            expect_line(tool, 'idle')
            # The peer vanishes without a word: its link goes down.
            ns.ex(['ip', 'link', 'set', 'ak0', 'down'])
            line = expect_line(tool, 'error', timeout=60)
            segs = sn.stop()
            sn = None
            words = line.split()
            took = float(words[3])
            want = idle + intvl * cnt
            check(words[1] == 'ETIMEDOUT', f'recv failed with ETIMEDOUT ({line})')
            check(want - 0.7 <= took <= want + 2.5,
                  f'after {took:.1f} s, about idle + intvl * cnt = {want} s')
            ours = probes(segs, '10.77.0.2', t_quiet, t_survived)
            theirs = probes(segs, '10.77.0.1', t_quiet, t_survived)
            check(len(ours) >= quiet // idle - 1 and all(ours),
                  f'anykern sent {len(ours)} keepalive probes while idle, Linux answered each')
            check(len(theirs) >= quiet - 2 and all(theirs),
                  f'Linux sent {len(theirs)} keepalive probes, anykern answered each')
            check(tool.wait(timeout=10) == 0, 'tcptool keepalive exit status')
        finally:
            if sn:
                sn.stop()
            stop(tool, peer)


ZW_READER = r"""
import hashlib, socket, sys, time
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # inherited by the connection
l.bind(("10.77.0.1", 9200)); l.listen(1); print("listening", flush=True)
c, _ = l.accept()
time.sleep(float(sys.argv[1]))   # the application stops reading
print("reading", flush=True)
h = hashlib.sha256(); n = 0
while True:
    d = c.recv(65536)
    if not d: break
    h.update(d); n += len(d)
c.sendall(h.hexdigest().encode()); c.close()
print("read", n, flush=True)
"""

ZW_WRITER = r"""
import socket, sys
data = open(sys.argv[1], "rb").read()
c = socket.create_connection(("10.77.0.2", 9300), timeout=60)
c.sendall(data); c.shutdown(socket.SHUT_WR)
print(c.recv(100).decode(), flush=True)
"""


def zero_window_interval(segs, advertiser):
    """[first zero window advertiser sent, first open window after it]."""
    start = end = None
    for g in segs:
        if g['src'] != advertiser or not g['flags'] & 0x10:
            continue
        if start is None and g['win'] == 0:
            start = g['t']
        elif start is not None and g['win'] > 0:
            end = g['t']
            break
    return start, end


def scenario_zero_window(build):
    stall = 5
    with tempfile.TemporaryDirectory() as tmp, Netns() as ns:
        src = os.path.join(tmp, 'src')
        with open(src, 'wb') as f:
            f.write(os.urandom(2 << 20))
        # 1. anykern sends to a Linux application that stops reading.
        peer = ns.popen([sys.executable, '-c', ZW_READER, str(stall)], stdout=subprocess.PIPE)
        sn = tool = None
        try:
            expect_line(peer, 'listening')
            sn = Sniffer(ns, 'ak0')
            tool = ns.popen([f'{build}/tests/net/tcptool', '--if', 'tap:ak0,addr=10.77.0.2/24',
                             'send', '10.77.0.1', '9200', src], stdout=subprocess.PIPE)
            expect_line(tool, 'connected')
            expect_line(tool, 'sent', timeout=stall + 60)
            reply = expect_line(tool, 'reply', timeout=60).split()[1]
            check(reply == sha(src), 'Linux received the 2 MiB byte-exact after its reader resumed')
            check(tool.wait(timeout=10) == 0, 'tcptool send exit status')
            segs = sn.stop()
            sn = None
            t0, t1 = zero_window_interval(segs, '10.77.0.1')
            check(t0 is not None and t1 is not None and t1 - t0 >= stall - 2,
                  f'Linux advertised a zero window for {(t1 or 0) - (t0 or 0):.1f} s')
            during = [g for g in segs if g['src'] == '10.77.0.2' and t0 < g['t'] < t1]
            zwp = [g for g in during if g['len'] == 1]
            check(len(zwp) >= 3 and len(during) <= 40 and all(g['len'] <= 1 for g in during),
                  f'anykern kept probing the zero window: {len(zwp)} one-byte probes, '
                  f'{len(during)} segments in all (no spinning)')
            gaps = [b['t'] - a['t'] for a, b in zip(zwp, zwp[1:])]
            check(all(b >= a * 0.9 for a, b in zip(gaps, gaps[1:])),
                  'probe intervals back off (' + ', '.join(f'{g:.2f}' for g in gaps) + ' s)')
        finally:
            if sn:
                sn.stop()
            stop(tool, peer)
        # 2. Linux sends to an anykern application that stops reading.
        got = os.path.join(tmp, 'got')
        tool = ns.popen([f'{build}/tests/net/tcptool', '--if', 'tap:ak0,addr=10.77.0.2/24',
                         'recv', '9300', got, str(stall), '4096'], stdout=subprocess.PIPE)
        sn = peer = None
        try:
            expect_line(tool, 'ready')
            sn = Sniffer(ns, 'ak0')
            peer = ns.popen([sys.executable, '-c', ZW_WRITER, src], stdout=subprocess.PIPE)
            expect_line(tool, 'accepted')
            expect_line(tool, 'reading', timeout=stall + 10)
            done = expect_line(tool, 'done', timeout=60)
            check(done == f'done {2 << 20}' and sha(got) == sha(src),
                  'anykern received the 2 MiB byte-exact after its reader resumed')
            check(peer.wait(timeout=30) == 0, 'the Linux sender finished')
            segs = sn.stop()
            sn = None
            t0, t1 = zero_window_interval(segs, '10.77.0.2')
            check(t0 is not None and t1 is not None and t1 - t0 >= stall - 2,
                  f'anykern advertised a zero window for {(t1 or 0) - (t0 or 0):.1f} s')
            lp = [g for g in segs if g['src'] == '10.77.0.1' and t0 < g['t'] < t1]
            answered = all(any(h['src'] == '10.77.0.2' and h['t'] >= g['t'] and h['win'] == 0
                               for h in segs) for g in lp)
            check(len(lp) >= 2 and answered,
                  f'Linux probed {len(lp)} times, anykern answered each with its window')
        finally:
            if sn:
                sn.stop()
            stop(tool, peer)


LINGER_PEER = r"""
import hashlib, socket, sys, time
delay, rcvbuf = float(sys.argv[1]), int(sys.argv[2])
l = socket.socket(); l.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
if rcvbuf: l.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
l.bind(("10.77.0.1", 9400)); l.listen(1); print("listening", flush=True)
c, _ = l.accept()
time.sleep(delay)
h = hashlib.sha256(); n = 0
try:
    while True:
        d = c.recv(65536)
        if not d: break
        h.update(d); n += len(d)
    print("eof", n, h.hexdigest(), flush=True)
except ConnectionResetError:
    print("reset", n, flush=True)
"""


def scenario_linger(build):
    with tempfile.TemporaryDirectory() as tmp, Netns() as ns:
        small = os.path.join(tmp, 'small')
        with open(small, 'wb') as f:
            f.write(os.urandom(1000))
        big = os.path.join(tmp, 'big')
        with open(big, 'wb') as f:
            f.write(os.urandom(3 << 20))

        def case(src, linger, delay, rcvbuf):
            peer = ns.popen([sys.executable, '-c', LINGER_PEER, str(delay), str(rcvbuf)],
                            stdout=subprocess.PIPE)
            tool = None
            try:
                expect_line(peer, 'listening')
                tool = ns.popen([f'{build}/tests/net/tcptool', '--if',
                                 'tap:ak0,addr=10.77.0.2/24', 'linger', '10.77.0.1', '9400', src,
                                 str(linger)], stdout=subprocess.PIPE)
                expect_line(tool, 'connected')
                words = expect_line(tool, 'close took', timeout=linger + 30).split()
                check(words[4] == '(0)', 'close returned 0')
                result = expect_line(peer, '', timeout=delay + 30).split()
                return float(words[2]), result
            finally:
                stop(tool, peer)

        took, res = case(small, 0, 0.5, 0)
        check(res[0] == 'reset' and took < 0.5,
              f'SO_LINGER {{1, 0}}: close took {took:.1f} s and the Linux peer got ECONNRESET')
        took, res = case(big, 2, 6, 4096)
        check(1.8 <= took <= 3.5 and res[0] == 'reset',
              f'SO_LINGER {{1, 2}} to a peer that does not read: close blocked {took:.1f} s, '
              'then the peer got ECONNRESET')
        took, res = case(big, 20, 0.5, 0)
        check(res[0] == 'eof' and res[2] == sha(big) and took < 15,
              f'SO_LINGER {{1, 20}} to a reading peer: close returned after {took:.1f} s, '
              '3 MiB delivered byte-exact, then EOF')


# --- tun, AF_PACKET, DHCP ----------------------------------------------------------------
def transfers(build, ns_ak, ns_linux, spec, linux_addr, ak_addr, size=16 << 20):
    """curl (Linux) fetching from anykern httpd, and anykern httpget
    fetching from Linux's python http.server, SHA-256 checked."""
    with tempfile.TemporaryDirectory() as tmp:
        os.chmod(tmp, 0o755)
        src = os.path.join(tmp, 'big')
        with open(src, 'wb') as f:
            f.write(os.urandom(size))
        out = os.path.join(tmp, 'got')
        srv = ns_ak.popen([f'{build}/examples/httpd', '--if', spec, '--count', '1', src],
                          stdout=subprocess.PIPE)
        try:
            wait_ready(srv)
            t0 = time.time()
            ns_linux.ex(['curl', '-sS', '--max-time', '120', '-o', out,
                         f'http://{ak_addr}:8080/big'])
            dt = time.time() - t0
            check(sha(out) == sha(src), f'curl fetched {size >> 20} MiB from anykern httpd in '
                  f'{dt:.2f} s, SHA-256 equal')
        finally:
            stop(srv)
        os.unlink(out)
        http = ns_linux.popen([sys.executable, '-m', 'http.server', '8000', '--bind', linux_addr,
                               '--directory', tmp], stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
        try:
            time.sleep(0.5)
            t0 = time.time()
            ns_ak.ex([f'{build}/examples/httpget', '--if', spec, '-o', out,
                      f'http://{linux_addr}:8000/big'], timeout=120)
            dt = time.time() - t0
            check(sha(out) == sha(src), f'anykern httpget fetched {size >> 20} MiB from python '
                  f'http.server in {dt:.2f} s, SHA-256 equal')
        finally:
            stop(http)


def pings(build, ns_ak, ns_linux, spec, linux_addr, ak_addr):
    srv = ns_ak.popen([f'{build}/examples/httpd', '--if', spec, '/dev/null'],
                      stdout=subprocess.PIPE)
    try:
        wait_ready(srv)
        check(linux_ping(ns_linux, ak_addr), 'Linux -> anykern ping (3 of 3)')
    finally:
        stop(srv)
    ns_ak.ex([f'{build}/examples/akping', '--if', spec, '-c', '3', linux_addr])
    print('ok: anykern -> Linux ping (3 of 3)')


def scenario_tun(build):
    with Netns(kind='tun', dev='ak1', addr='10.78.0.1') as ns:
        spec = 'tun:ak1,addr=10.78.0.2/24'
        pings(build, ns, ns, spec, '10.78.0.1', '10.78.0.2')
        transfers(build, ns, ns, spec, '10.78.0.1', '10.78.0.2')


class AkServer:
    """ak-server in namespace ns with interface spec; akctl talks to it
    over a unix socket (which crosses namespaces)."""

    def __init__(self, build, ns, spec, tmp):
        self.build = build
        self.url = 'unix://' + os.path.join(tmp, 'ak.sock')
        self.proc = ns.popen([f'{build}/clients/server/ak-server', '-f', '--if', spec, self.url],
                             stderr=subprocess.PIPE)
        for _ in range(400):
            if os.path.exists(self.url[7:]):
                return
            if self.proc.poll() is not None:
                raise SystemExit(f'FAIL: ak-server: {self.proc.stderr.read().decode()}')
            time.sleep(0.05)
        stop(self.proc)
        raise SystemExit('FAIL: ak-server did not start')

    def akctl(self, *args):
        p = subprocess.run([f'{self.build}/clients/akctl/akctl', '-u', self.url] + list(args),
                           capture_output=True, text=True, timeout=60)
        if p.returncode:
            raise SystemExit(f'FAIL: akctl {" ".join(args)}: {p.stderr}')
        return p.stdout

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
        self.proc.wait(timeout=10)


def scenario_packet(build):
    with tempfile.TemporaryDirectory() as tmp, VethPair('10.79.0.1') as v:
        spec = 'packet:akv1,addr=10.79.0.2/24'
        srv = AkServer(build, v.ak, spec, tmp)
        try:
            check('inet 10.79.0.2/24' in srv.akctl('ifconfig'), 'ak-server --if packet:akv1 is up')
            out = srv.akctl('ping', '-c', '3', '-i', '0.2', '10.79.0.1')
            check(out.count('bytes from') == 3, 'akctl ping -c 3 to the Linux end of the veth')
            check(linux_ping(v.linux, '10.79.0.2'), 'Linux -> ak-server ping (3 of 3)')
        finally:
            srv.stop()
        pings(build, v.ak, v.linux, spec, '10.79.0.1', '10.79.0.2')
        transfers(build, v.ak, v.linux, spec, '10.79.0.1', '10.79.0.2')


def dnsmasq(ns, iface, tmp):
    """A DHCP server (dnsmasq, DNS off) on iface, offering 10.80.0.50-60
    with router 10.80.0.1."""
    return ns.popen(['dnsmasq', '--no-daemon', '--conf-file=/dev/null', '--port=0',
                     f'--interface={iface}', '--bind-interfaces', '--no-resolv',
                     '--dhcp-range=10.80.0.50,10.80.0.60,255.255.255.0,1h',
                     '--dhcp-option=3,10.80.0.1',
                     f'--dhcp-leasefile={os.path.join(tmp, "leases")}',
                     '--pid-file='], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def dhcp_checks(srv, linux_ns):
    ifc = srv.akctl('ifconfig')
    import re
    m = re.search(r'inet (10\.80\.0\.(\d+))/24', ifc)
    check(m and 50 <= int(m.group(2)) <= 60, f'the lease from dnsmasq is configured ({m and m.group(1)})')
    check('default via 10.80.0.1' in srv.akctl('route'), 'the router option made a default route')
    out = srv.akctl('ping', '-c', '3', '-i', '0.2', '10.80.0.1')
    check(out.count('bytes from') == 3, 'akctl ping -c 3 to the DHCP server')
    check(linux_ping(linux_ns, m.group(1)), 'Linux pings the leased address (3 of 3)')


def scenario_dhcp(build):
    if not shutil.which('dnsmasq'):
        skip('dnsmasq is not installed (scripts/install-deps.sh installs dnsmasq-base)')
    # AF_PACKET on a veth pair.
    with tempfile.TemporaryDirectory() as tmp, VethPair('10.80.0.1') as v:
        d = dnsmasq(v.linux, 'akv0', tmp)
        try:
            time.sleep(0.3)
            check(d.poll() is None, 'dnsmasq runs')
            srv = AkServer(build, v.ak, 'packet:akv1,dhcp', tmp)
            try:
                dhcp_checks(srv, v.linux)
            finally:
                srv.stop()
        finally:
            stop(d)
    # A tap device.
    with tempfile.TemporaryDirectory() as tmp, Netns(addr='10.80.0.1') as ns:
        d = dnsmasq(ns, 'ak0', tmp)
        try:
            time.sleep(0.3)
            srv = AkServer(build, ns, 'tap:ak0,dhcp', tmp)
            try:
                dhcp_checks(srv, ns)
            finally:
                srv.stop()
        finally:
            stop(d)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == 'sniff':
        return sniff_main(sys.argv[2], sys.argv[3])
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
        'keepalive': scenario_keepalive,
        'zero-window': scenario_zero_window,
        'linger': scenario_linger,
        'tun': scenario_tun,
        'packet': scenario_packet,
        'dhcp': scenario_dhcp,
    }
    if name in ('http-server', 'http-server-faults', 'http-client', 'http-client-faults', 'tun',
                'packet'):
        if not shutil.which('curl') and ('server' in name or name in ('tun', 'packet')):
            skip('curl is not installed')
    table[name](build)


if __name__ == '__main__':
    main()
