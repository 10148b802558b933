#!/usr/bin/env python3
"""ak-fuse end to end: host tools on an anykern ext2 (and tmpfs) mount.

  test_fuse.py AK_FUSE

cp -a of a real tree and diff -r; NAME_MAX enforced; stress-ng file-system
stressors with --verify for a few seconds; unmount with fusermount3 -u must
write everything back (e2fsck -fn clean, contents re-read through a second
mount); SIGTERM unmounts too; a read-only mount refuses writes.
Skips (77) without /dev/fuse, fusermount3 or e2fsprogs."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

SKIP = 77


def need(cond, why):
    if not cond:
        print(f'skip: {why}')
        sys.exit(SKIP)


def run(cmd, timeout=300, check=False):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    if check and r.returncode != 0:
        raise SystemExit(f'FAIL: {" ".join(cmd)}: exit {r.returncode}\n{r.stdout[-3000:]}')
    return r


def is_mounted(mnt):
    with open('/proc/mounts') as f:
        return any(line.split()[1] == mnt for line in f)


class Mount:
    def __init__(self, ak_fuse, mnt, args):
        self.mnt = mnt
        self.proc = subprocess.Popen([ak_fuse, '-f'] + args + [mnt], stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, text=True)
        for _ in range(200):
            if is_mounted(mnt):
                return
            if self.proc.poll() is not None:
                raise SystemExit(f'FAIL: ak-fuse exited: {self.proc.stdout.read()}')
            time.sleep(0.05)
        raise SystemExit('FAIL: ak-fuse did not mount')

    def unmount(self, how='fusermount'):
        if how == 'fusermount':
            run(['fusermount3', '-u', self.mnt], check=True)
        else:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(timeout=120)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            raise SystemExit('FAIL: ak-fuse did not exit after unmount')
        if self.proc.returncode != 0:
            raise SystemExit(f'FAIL: ak-fuse exit {self.proc.returncode}: {self.proc.stdout.read()}')
        if is_mounted(self.mnt):
            run(['fusermount3', '-u', '-z', self.mnt])
            raise SystemExit('FAIL: still mounted after ak-fuse exited')


def fsck(img):
    r = run(['e2fsck', '-fn', img])
    if r.returncode != 0:
        raise SystemExit(f'FAIL: e2fsck -fn exit {r.returncode}\n{r.stdout}')


def main():
    ak_fuse = os.path.abspath(sys.argv[1])
    need(os.path.exists('/dev/fuse') and os.access('/dev/fuse', os.R_OK | os.W_OK),
         '/dev/fuse is missing or not accessible')
    need(shutil.which('fusermount3'), 'fusermount3 not installed')
    need(shutil.which('mke2fs') and shutil.which('e2fsck'), 'e2fsprogs not installed')
    src = '/usr/include/linux' if os.path.isdir('/usr/include/linux') else '/usr/include'
    with tempfile.TemporaryDirectory() as tmp:
        img = os.path.join(tmp, 'disk.img')
        mnt = os.path.join(tmp, 'mnt')
        os.mkdir(mnt)
        run(['mke2fs', '-q', '-F', '-t', 'ext2', img, '512M'], check=True)

        # 1. coreutils: copy a real tree, compare, unmount, check, re-read.
        m = Mount(ak_fuse, mnt, [img])
        run(['cp', '-a', src, os.path.join(mnt, 'tree')], check=True)
        run(['diff', '-r', src, os.path.join(mnt, 'tree')], check=True)
        long_name = os.path.join(mnt, 'n' * 256)
        try:
            open(long_name, 'w').close()
            raise SystemExit('FAIL: a 256-byte name was accepted')
        except OSError as e:
            if e.errno != 36:  # ENAMETOOLONG
                raise SystemExit(f'FAIL: 256-byte name: {e}')
        open(os.path.join(mnt, 'n' * 255), 'w').close()
        m.unmount()
        fsck(img)
        m = Mount(ak_fuse, mnt, ['-o', 'ro', img])
        run(['diff', '-r', src, os.path.join(mnt, 'tree')], check=True)
        try:
            open(os.path.join(mnt, 'new'), 'w').close()
            raise SystemExit('FAIL: write on a read-only mount')
        except OSError as e:
            if e.errno != 30:  # EROFS
                raise SystemExit(f'FAIL: read-only write: {e}')
        m.unmount()
        print('ok   cp -a / diff -r / NAME_MAX / read-only')

        # 2. stress-ng file-system stressors with verification.
        if shutil.which('stress-ng'):
            m = Mount(ak_fuse, mnt, [img])
            work = os.path.join(mnt, 'stress')
            os.mkdir(work)
            r = run(['stress-ng', '--temp-path', work, '--verify', '--timeout', '8s',
                     '--hdd', '2', '--hdd-bytes', '8M', '--dir', '1', '--dir-dirs', '512',
                     '--link', '1', '--symlink', '1', '--rename', '1', '--fstat', '1',
                     '--metrics-brief'], timeout=240)
            print(r.stdout[-2500:])
            if r.returncode != 0:
                raise SystemExit(f'FAIL: stress-ng exit {r.returncode}')
            m.unmount(how='sigterm')
            fsck(img)
            print('ok   stress-ng --verify, SIGTERM unmount, e2fsck')
        else:
            print('skip stress-ng: not installed')

        # 3. tmpfs through FUSE.
        m = Mount(ak_fuse, mnt, ['-t', 'tmpfs'])
        run(['cp', '-a', src, os.path.join(mnt, 'tree')], check=True)
        run(['diff', '-r', src, os.path.join(mnt, 'tree')], check=True)
        m.unmount()
        print('ok   tmpfs')
    return 0


if __name__ == '__main__':
    sys.exit(main())
