#!/usr/bin/env python3
"""Integration tests of ak-server, libakclient, akctl and libak-hijack.so.

Usage: test_remote.py --build BUILD_DIR CASE

Each case starts its own server on a temporary unix socket (or TCP port),
runs real programs against it and checks the outcomes; the server is
stopped with SIGTERM (and must exit 0 and remove its socket).
"""
import argparse
import os
import shutil
import signal
import socket
import struct
import subprocess
import sys
import tempfile
import time

SKIP = 77


class Fail(Exception):
    pass


def check(cond, what):
    if not cond:
        raise Fail(what)


class Server:
    def __init__(self, build, tmp, url=None, args=(), env=None):
        self.build = build
        self.sock = os.path.join(tmp, 'ak.sock')
        self.url = url or 'unix://' + self.sock
        cmd = [os.path.join(build, 'clients/server/ak-server'), '-f', '--log-level', 'info']
        cmd += list(args) + [self.url]
        self.log = open(os.path.join(tmp, 'server.log'), 'w+')
        self.proc = subprocess.Popen(cmd, stderr=self.log, env=env or os.environ.copy())
        deadline = time.time() + 10
        while time.time() < deadline:
            if self.url.startswith('unix://') and os.path.exists(self.sock):
                return
            if self.url.startswith('tcp://'):
                host, port = self.url[6:].rsplit(':', 1)
                try:
                    socket.create_connection((host, int(port)), timeout=0.2).close()
                    return
                except OSError:
                    pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.02)
        self.stop(check_exit=False)
        raise Fail('server did not start: ' + self.log_text())

    def log_text(self):
        self.log.flush()
        self.log.seek(0)
        return self.log.read()

    def stop(self, check_exit=True):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                if check_exit:
                    raise Fail('server ignored SIGTERM')
        if check_exit:
            check(self.proc.returncode == 0, 'server exit status %s' % self.proc.returncode)
            check(not os.path.exists(self.sock), 'server left its socket behind')


def run(cmd, env=None, input=None, check_rc=True, cwd=None):
    p = subprocess.run(cmd, env=env, input=input, stdout=subprocess.PIPE,
                       stderr=subprocess.PIPE, cwd=cwd, timeout=120)
    if check_rc and p.returncode != 0:
        raise Fail('%s failed (%d): %s' % (' '.join(cmd), p.returncode,
                                           p.stderr.decode(errors='replace')))
    return p


class Ctx:
    def __init__(self, build, tmp, server):
        self.build, self.tmp, self.server = build, tmp, server
        self.akctl = os.path.join(build, 'clients/akctl/akctl')
        self.tool = os.path.join(build, 'tests/remote/remote_tool')
        self.hijack = os.path.join(build, 'clients/hijack/libak-hijack.so')
        check(os.path.exists(self.hijack), 'hijack library not built')

    def ak(self, *args, check_rc=True, input=None):
        return run([self.akctl, '-u', self.server.url] + list(args), check_rc=check_rc,
                   input=input)

    def henv(self):
        env = os.environ.copy()
        env['AK_SERVER'] = self.server.url
        # Sanitizer builds: the runtime must be loaded before the hijack library.
        first = os.environ.get('AK_TEST_PRELOAD')
        env['LD_PRELOAD'] = f'{first}:{self.hijack}' if first else self.hijack
        return env

    def h(self, *args, check_rc=True, input=None, cwd=None):
        return run(list(args), env=self.henv(), check_rc=check_rc, input=input, cwd=cwd)

    def stats(self):
        out = run([self.tool, 'stats', self.server.url]).stdout.decode()
        return dict((k, int(v)) for k, v in (l.split('=') for l in out.split()))


def make_host_tree(root):
    os.makedirs(os.path.join(root, 'sub/deeper'))
    sizes = {'empty': 0, 'one': 1, 'small.txt': 5000, 'big.bin': 3 * 1024 * 1024 + 17,
             'sub/mid': 70000, 'sub/deeper/leaf': 123}
    for name, size in sizes.items():
        with open(os.path.join(root, name), 'wb') as f:
            f.write(bytes((i * 7 + len(name)) % 251 for i in range(size)))
    os.chmod(os.path.join(root, 'one'), 0o600)
    os.symlink('small.txt', os.path.join(root, 'link'))
    ts = 1700000000
    for dirpath, dirs, files in os.walk(root):
        for n in files + dirs:
            os.utime(os.path.join(dirpath, n), (ts, ts), follow_symlinks=False)


def ls_files(text, root):
    """ls -l lines of non-directories: mode, size, mtime, name (+ link)."""
    out = []
    for line in text.splitlines():
        parts = line.split()
        if len(parts) < 7 or parts[0].startswith('d') or parts[0] == 'total':
            continue
        out.append(' '.join([parts[0], parts[4], parts[5]] + parts[6:]))
    return out


# --- Cases -------------------------------------------------------------------------------

def case_akctl(ctx):
    host = os.path.join(ctx.tmp, 'host')
    make_host_tree(host)
    ctx.ak('mkdir', '-p', '/a/b/c')
    check(ctx.ak('ls', '/a').stdout == b'b\n', 'ls after mkdir -p')
    ctx.ak('cp', '-r', host, 'ak:/a/tree')
    out = ctx.ak('cat', '/a/tree/sub/mid').stdout
    check(out == open(os.path.join(host, 'sub/mid'), 'rb').read(), 'cat after cp -r')
    back = os.path.join(ctx.tmp, 'back')
    ctx.ak('cp', '-r', 'ak:/a/tree', back)
    run(['diff', '-r', '--no-dereference', host, back])
    ls = ctx.ak('ls', '-l', '/a/tree').stdout.decode()
    check('small.txt' in ls and 'link -> small.txt' in ls and '-rw-------' in ls, 'ls -l: ' + ls)
    ctx.ak('ln', '-s', '/a/tree/one', '/a/sym')
    ctx.ak('mv', '/a/sym', '/a/sym2')
    check(b'sym2' in ctx.ak('ls', '/a').stdout, 'mv')
    ctx.ak('touch', '/a/t')
    ctx.ak('chmod', '640', '/a/t')
    ctx.ak('chown', '12:34', '/a/t')
    st = ctx.ak('stat', '/a/t').stdout.decode()
    check('(0640/-rw-r-----)' in st and '12/' in st and '34/' in st, 'stat: ' + st)
    df = ctx.ak('df', '/').stdout.decode()
    check('1K-blocks' in df, 'df')
    tree = ctx.ak('tree', '/a').stdout.decode()
    check('deeper' in tree and 'director' in tree, 'tree')
    ctx.ak('mkdir', '/m')
    ctx.ak('mount', '-t', 'tmpfs', 'tmpfs', '/m')
    ctx.ak('touch', '/m/inside')
    ctx.ak('umount', '/m', check_rc=False)  # busy or not: must not crash
    p = ctx.ak('cat', '/nonexistent', check_rc=False)
    check(p.returncode == 1 and
          p.stderr == b"akctl: cannot open '/nonexistent': No such file or directory\n",
          'error message: %r' % p.stderr)
    p = ctx.ak('stat', '/nonexistent', check_rc=False)
    check(p.returncode == 1 and b"cannot stat '/nonexistent'" in p.stderr, 'stat error')
    ctx.ak('rm', '-r', '/a')
    check(b'a\n' not in ctx.ak('ls', '/').stdout, 'rm -r')
    for cmd in ['ls', 'cat', 'cp', 'mkdir', 'rm', 'mv', 'ln', 'stat', 'df', 'mount', 'umount',
                'touch', 'chmod', 'chown', 'tree', 'status']:
        check(ctx.ak(cmd, '--help').stdout.startswith(b'Usage: akctl ' + cmd.encode()),
              cmd + ' --help')
    # Absent server: a clear error.
    p = run([ctx.akctl, '-u', 'unix://' + os.path.join(ctx.tmp, 'nope.sock'), 'ls'],
            check_rc=False)
    check(p.returncode == 1 and b'cannot connect' in p.stderr and b'nope.sock' in p.stderr,
          'absent server message: %r' % p.stderr)


def case_hijack(ctx):
    check(not os.path.exists('/ak'), 'a host /ak exists; the hijack test would be ambiguous')
    host = os.path.join(ctx.tmp, 'host')
    make_host_tree(host)
    # tar: host -> kernel
    ctx.h('mkdir', '-p', '/ak/t/x/y')
    tarball = run(['tar', 'cf', '-', '-C', host, '.']).stdout
    ctx.h('tar', 'xf', '-', '-C', '/ak/t', input=tarball)
    # ls -l of the same tree, kernel vs host
    for sub in ['', 'sub', 'sub/deeper']:
        k = ctx.h('ls', '-l', '--time-style=+%s', '/ak/t/' + sub).stdout.decode()
        hh = run(['ls', '-l', '--time-style=+%s', os.path.join(host, sub)]).stdout.decode()
        check(ls_files(k, '/ak/t') == ls_files(hh, host), 'ls -l differs:\n%s\n%s' % (k, hh))
    # find
    k = ctx.h('find', '/ak/t').stdout.decode().replace('/ak/t', 'R').split()
    hh = run(['find', host]).stdout.decode().replace(host, 'R').split()
    check(sorted(k) == sorted(hh + ['R/x', 'R/x/y']), 'find differs')
    # cat
    for name in ['small.txt', 'big.bin', 'sub/deeper/leaf', 'empty', 'link']:
        data = ctx.h('cat', '/ak/t/' + name).stdout
        check(data == open(os.path.join(host, name), 'rb').read(), 'cat ' + name)
    # cp kernel -> host and host -> kernel
    out = os.path.join(ctx.tmp, 'big.copy')
    ctx.h('cp', '/ak/t/big.bin', out)
    run(['cmp', out, os.path.join(host, 'big.bin')])
    ctx.h('cp', '-r', host, '/ak/t2')
    back = os.path.join(ctx.tmp, 'back')
    ctx.h('cp', '-r', '/ak/t2', back)
    run(['diff', '-r', '--no-dereference', host, back])
    # mkdir -p, shell pipelines, redirections, cd
    ctx.h('mkdir', '-p', '/ak/m/a/b/c')
    check(ctx.h('ls', '/ak/m/a/b').stdout == b'c\n', 'mkdir -p')
    n = ctx.h('sh', '-c', 'cat /ak/t/big.bin | wc -c').stdout.strip()
    check(int(n) == os.path.getsize(os.path.join(host, 'big.bin')), 'pipeline wc -c')
    ctx.h('sh', '-c', 'echo redirected > /ak/m/r && cat /ak/m/r >> /ak/m/r2 && cat < /ak/m/r2 > /ak/m/r3')
    check(ctx.h('cat', '/ak/m/r3').stdout == b'redirected\n', 'shell redirections')
    out = ctx.h('sh', '-c', 'cd /ak/t/sub && pwd && ls && cat deeper/leaf | wc -c').stdout
    check(out == b'/ak/t/sub\ndeeper\nmid\n123\n', 'cd in the kernel: %r' % out)
    # tar: kernel -> host, same member list and contents
    k = ctx.h('tar', 'cf', '-', '-C', '/ak/t', '.').stdout
    ex = os.path.join(ctx.tmp, 'extract')
    os.mkdir(ex)
    run(['tar', 'xf', '-', '-C', ex], input=k)
    shutil.rmtree(os.path.join(ex, 'x'))
    run(['diff', '-r', '--no-dereference', host, ex])
    # host paths still work beside kernel ones
    check(ctx.h('cat', os.path.join(host, 'one')).stdout ==
          open(os.path.join(host, 'one'), 'rb').read(), 'host path under the hijack')
    p = ctx.h('cat', '/ak/missing', check_rc=False)
    check(p.returncode == 1 and b'No such file or directory' in p.stderr, 'missing kernel file')
    check(not os.path.exists('/ak'), 'the hijack leaked to the host /ak')


def case_concurrent(ctx):
    base = ctx.stats()
    p = run([ctx.tool, 'concurrent', ctx.server.url, '256'])
    check(b'256 clients, 0 failures' in p.stdout, p.stdout.decode())
    wait_baseline(ctx, base)


def wait_baseline(ctx, base, what='after clients'):
    deadline = time.time() + 10
    while True:
        now = ctx.stats()
        if now['procs'] == base['procs'] and now['mem'] == base['mem'] and \
                now['connections'] == base['connections']:
            return now
        if time.time() > deadline:
            raise Fail('%s: server did not return to baseline: %s vs %s' % (what, now, base))
        time.sleep(0.05)


def server_fds(server):
    return len(os.listdir('/proc/%d/fd' % server.proc.pid))


def case_kill(ctx):
    base = ctx.stats()
    fds = server_fds(ctx.server)
    p = subprocess.Popen([ctx.tool, 'block-read', ctx.server.url], stdout=subprocess.PIPE)
    check(p.stdout.readline() == b'blocking\n', 'blocker did not start')
    time.sleep(0.2)  # it is now blocked in the kernel's pipe read
    mid = ctx.stats()
    check(mid['procs'] == base['procs'] + 1 and mid['mem'] > base['mem'], 'blocker not seen')
    p.send_signal(signal.SIGKILL)
    p.wait()
    wait_baseline(ctx, base, 'after SIGKILL')
    deadline = time.time() + 5
    while server_fds(ctx.server) != fds and time.time() < deadline:
        time.sleep(0.05)
    check(server_fds(ctx.server) == fds, 'server descriptors did not return to baseline')


def case_fork(ctx):
    run([ctx.tool, 'fork-check', ctx.server.url])
    base = ctx.stats()
    wait_baseline(ctx, base)


def case_auth_uid(ctx):
    if os.geteuid() != 0:
        return SKIP
    p = run([ctx.tool, 'uid-refused', ctx.server.url, '65534'], check_rc=False)
    check(p.returncode == 0, 'uid 65534 was not refused: ' + p.stdout.decode())
    check('uid 65534' in ctx.server.log_text(), 'no log line for the refused uid')


def free_port():
    s = socket.socket()
    s.bind(('127.0.0.1', 0))
    port = s.getsockname()[1]
    s.close()
    return port


def case_auth_token(build, tmp):
    port = free_port()
    token = os.path.join(tmp, 'token')
    with open(token, 'w') as f:
        f.write('s3cret-token-for-tests\n')
    os.chmod(token, 0o600)
    url = 'tcp://127.0.0.1:%d' % port
    srv = Server(build, tmp, url=url, args=['--token-file', token])
    tool = os.path.join(build, 'tests/remote/remote_tool')
    try:
        for t, ok in [(None, False), ('wrong', False), ('s3cret-token-for-tests', True),
                      ('s3cret-token-for-test', False)]:
            env = os.environ.copy()
            env.pop('AK_TOKEN', None)
            env.pop('AK_TOKEN_FILE', None)
            if t is not None:
                env['AK_TOKEN'] = t
            p = run([tool, 'connect', url], env=env, check_rc=False)
            if ok:
                check(p.returncode == 0 and b'kpid=' in p.stdout, 'right token refused')
            else:
                check(p.returncode == 1 and b'errno=13' in p.stdout,
                      'token %r not refused: %r' % (t, p.stdout))
        check('wrong or missing token' in srv.log_text(), 'no log line for refused tokens')
        # No token configured: tcp:// does not start.
        env = os.environ.copy()
        env.pop('AK_TOKEN', None)
        p = run([os.path.join(build, 'clients/server/ak-server'), '-f', url], env=env,
                check_rc=False)
        check(p.returncode != 0 and b'shared secret' in p.stderr, 'tcp without token started')
    finally:
        srv.stop()


def raw_hello(sock_path):
    s = socket.socket(socket.AF_UNIX)
    s.connect(sock_path)
    hello = struct.pack('<IHHIiiHH32s', 0x50524b41, 1, 0, 0, os.getpid(), 0, 0, 0, b'\0' * 32)
    s.sendall(struct.pack('<IHH', len(hello), 1, 0) + hello)
    hdr = s.recv(8)
    size, typ, _ = struct.unpack('<IHH', hdr)
    body = b''
    while len(body) < size:
        body += s.recv(size - len(body))
    status = struct.unpack('<i', body[8:12])[0]
    check(typ == 2 and status == 0, 'raw hello refused')
    return s


def closed_by_server(s):
    s.settimeout(5)
    try:
        while True:
            d = s.recv(4096)
            if not d:
                return True
    except (ConnectionResetError, BrokenPipeError):
        return True
    except socket.timeout:
        return False


def case_malformed(ctx):
    base = ctx.stats()
    other = raw_hello(ctx.server.sock)  # a bystander that must keep working
    bad_frames = [
        struct.pack('<IHH', 0xffffffff, 3, 0),                      # over the size limit
        struct.pack('<IHH', 4, 3, 0) + b'abcd',                     # short syscall header
        struct.pack('<IHH', 56, 3, 0) + struct.pack('<II6q', 2, 0, 1, 0, 0, 0, 0, 0),  # open: no string
        struct.pack('<IHH', 0, 99, 0),                              # unknown type
        struct.pack('<IHH', 64 + 8, 3, 0) + struct.pack('<II6q', 1, 0, 3, 1, 100, 0, 0, 0)
        + struct.pack('<II', 5, 0) + b'x' * 8,                      # write: length mismatch
    ]
    for frame in bad_frames:
        s = raw_hello(ctx.server.sock)
        s.sendall(frame)
        check(closed_by_server(s), 'malformed frame did not close the connection: %r' % frame[:16])
        s.close()
    # Garbage instead of a hello.
    s = socket.socket(socket.AF_UNIX)
    s.connect(ctx.server.sock)
    s.sendall(b'GET / HTTP/1.0\r\n\r\n' + b'\0' * 64)
    check(closed_by_server(s), 'garbage hello accepted')
    s.close()
    check('malformed' in ctx.server.log_text(), 'no log line for malformed input')
    # The bystander still gets answers: getppid.
    other.sendall(struct.pack('<IHH', 56, 3, 0) + struct.pack('<II6q', 110, 0, 0, 0, 0, 0, 0, 0))
    hdr = other.recv(8 + 8)
    check(struct.unpack('<IHHq', hdr)[3] == 1, 'bystander got no answer')
    other.close()
    run([ctx.tool, 'connect', ctx.server.url])
    wait_baseline(ctx, base)


CASES = {
    'akctl': case_akctl,
    'hijack': case_hijack,
    'concurrent': case_concurrent,
    'kill': case_kill,
    'fork': case_fork,
    'auth-uid': case_auth_uid,
    'malformed': case_malformed,
}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--build', required=True)
    ap.add_argument('case')
    a = ap.parse_args()
    tmp = tempfile.mkdtemp(prefix='ak-remote-')
    os.chmod(tmp, 0o755)
    server = None
    try:
        if a.case == 'auth-token':
            rc = case_auth_token(a.build, tmp)
        else:
            server = Server(a.build, tmp, args=['--mount', 'tmpfs:tmpfs:/mnt'])
            rc = CASES[a.case](Ctx(a.build, tmp, server))
            server.stop()
        if rc == SKIP:
            print('skipped')
            return SKIP
        print('ok')
        return 0
    except Fail as e:
        print('FAIL: %s' % e)
        if server:
            print('--- server log ---\n' + server.log_text())
            server.stop(check_exit=False)
        return 1
    finally:
        if server and server.proc.poll() is None:
            server.proc.kill()
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == '__main__':
    sys.exit(main())
