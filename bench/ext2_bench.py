#!/usr/bin/env python3
"""ext2 benchmark: anykern (local client, bench/ext2_bench) beside fuse2fs
(host FUSE ext2) doing the same work in the same run.

  ext2_bench.py EXT2_BENCH [SRC_TREE]

Tree copy: SRC_TREE (default /usr/include) into a fresh 1 GiB ext2 image,
then read back.  Sequential: a 64 MiB file written with 1 MiB writes
(fsync'd), then read back.  Each figure is the best of 3 runs
(AK_BENCH_REPEAT) and includes starting the file
system, mounting and unmounting (everything written back).  fuse2fs copies
with `cp -a` and reads with `tar` through the FUSE mount.  Ratios are
fuse2fs time / anykern time (above 1: anykern is faster).  Images are
checked with e2fsck -fn afterwards.  fuse2fs figures are skipped (with the
reason) when it or /dev/fuse is missing.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import time

SEQ_MB = 64


def sh(cmd, **kw):
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if r.returncode != 0:
        raise SystemExit(f'{" ".join(cmd)}: exit {r.returncode}\n{r.stdout[-2000:]}')
    return r.stdout


REPEAT = int(os.environ.get('AK_BENCH_REPEAT', '3'))


def timed(fn, setup=None):
    """Best of REPEAT runs (the machine may be shared); setup runs untimed
    before each."""
    best = None
    for _ in range(REPEAT):
        if setup:
            setup()
        t = time.perf_counter()
        fn()
        t = time.perf_counter() - t
        best = t if best is None else min(best, t)
    return best


def mkfs(img):
    if os.path.exists(img):
        os.unlink(img)
    sh(['mke2fs', '-q', '-F', '-t', 'ext2', img, '1G'])


def fsck(img, label):
    r = subprocess.run(['e2fsck', '-fn', img], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                       text=True)
    status = 'clean' if r.returncode == 0 else f'NOT CLEAN (exit {r.returncode})'
    print(f'  e2fsck -fn after {label}: {status}')
    return r.returncode == 0


def mounted(mnt):
    with open('/proc/mounts') as f:
        return any(line.split()[1] == mnt for line in f)


class Fuse2fs:
    def __init__(self, img, mnt, ro=False):
        self.mnt = mnt
        opts = 'ro' if ro else 'rw'
        self.p = subprocess.Popen(['fuse2fs', '-f', '-o', opts, img, mnt],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        while not mounted(mnt):
            if self.p.poll() is not None:
                raise SystemExit('fuse2fs failed to mount')
            time.sleep(0.005)

    def close(self):
        sh(['fusermount3', '-u', self.mnt])
        self.p.wait()


def fuse2fs_usable():
    if not shutil.which('fuse2fs') or not shutil.which('fusermount3'):
        return 'fuse2fs/fusermount3 not installed'
    if not os.access('/dev/fuse', os.R_OK | os.W_OK):
        return '/dev/fuse not available'
    return None


def main():
    tool = os.path.abspath(sys.argv[1])
    src = sys.argv[2] if len(sys.argv) > 2 else '/usr/include'
    nfiles = sum(len(f) + len(d) for _, d, f in os.walk(src))
    size = int(sh(['du', '-sb', src]).split()[0])
    skip = fuse2fs_usable()
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        img_a = os.path.join(tmp, 'anykern.img')
        img_f = os.path.join(tmp, 'fuse2fs.img')
        mnt = os.path.join(tmp, 'mnt')
        os.mkdir(mnt)
        results = []

        # Tree copy and read-back.
        t_copy_a = timed(lambda: sh([tool, 'copy', src, img_a]), setup=lambda: mkfs(img_a))
        t_read_a = timed(lambda: sh([tool, 'read', img_a]))
        ok &= fsck(img_a, 'anykern tree copy')
        t_copy_f = t_read_f = None
        if not skip:
            def fcopy():
                m = Fuse2fs(img_f, mnt)
                sh(['cp', '-a', src, os.path.join(mnt, 'tree')])
                m.close()

            def fread():
                m = Fuse2fs(img_f, mnt, ro=True)
                sh(['tar', '-C', mnt, '-cf', '/dev/null', 'tree'])
                m.close()
            t_copy_f = timed(fcopy, setup=lambda: mkfs(img_f))
            t_read_f = timed(fread)
            ok &= fsck(img_f, 'fuse2fs tree copy')
        results.append((f'tree copy ({nfiles} entries, {size >> 20} MiB)', t_copy_a, t_copy_f, 3.0))
        results.append(('tree read-back', t_read_a, t_read_f, None))

        # Sequential write and read.
        t_w_a = timed(lambda: sh([tool, 'seqwrite', img_a, str(SEQ_MB)]),
                      setup=lambda: mkfs(img_a))
        t_r_a = timed(lambda: sh([tool, 'seqread', img_a]))
        ok &= fsck(img_a, 'anykern sequential')
        t_w_f = t_r_f = None
        if not skip:
            def fwrite():
                m = Fuse2fs(img_f, mnt)
                sh(['dd', 'if=/dev/zero', f'of={mnt}/big', 'bs=1M', f'count={SEQ_MB}',
                    'conv=fsync', 'status=none'])
                m.close()

            def fread2():
                m = Fuse2fs(img_f, mnt, ro=True)
                sh(['dd', f'if={mnt}/big', 'of=/dev/null', 'bs=1M', 'status=none'])
                m.close()
            t_w_f = timed(fwrite, setup=lambda: mkfs(img_f))
            t_r_f = timed(fread2)
            ok &= fsck(img_f, 'fuse2fs sequential')
        results.append((f'sequential write {SEQ_MB} MiB', t_w_a, t_w_f, 1.5))
        results.append((f'sequential read {SEQ_MB} MiB', t_r_a, t_r_f, 1.5))

    print(f'\n{"":40} {"anykern":>10} {"fuse2fs":>10} {"ratio":>8}  target')
    for name, a, f, target in results:
        if f is None:
            print(f'{name:40} {a:9.3f}s {"-":>10} {"-":>8}  ({skip})')
            continue
        ratio = f / a
        mark = '' if target is None else (f'>= {target}x ' + ('met' if ratio >= target else 'MISSED'))
        print(f'{name:40} {a:9.3f}s {f:9.3f}s {ratio:7.2f}x  {mark}')
    return 0 if ok else 1


if __name__ == '__main__':
    sys.exit(main())
