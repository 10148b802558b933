#!/usr/bin/env python3
"""ext2 correctness against e2fsprogs (docs/ext2.md, "Tests").

  oracle.py TOOL workloads   images from mke2fs with several option sets,
                             random workloads through anykern compared with
                             a host tmpfs directory, then e2fsck -fn and
                             debugfs rdump must agree
  oracle.py TOOL populate    trees put in by mke2fs -d read back the same
  oracle.py TOOL badimages   corrupted and truncated images: mount refuses
                             or operations fail, never a crash or a hang

Skips (exit 77) when mke2fs/e2fsck/debugfs are missing.
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile

SKIP = 77
MKE2FS = shutil.which('mke2fs') or shutil.which('mkfs.ext2')
E2FSCK = shutil.which('e2fsck')
DEBUGFS = shutil.which('debugfs')

OPTION_SETS = [
    ('b1024', ['-b', '1024']),
    ('b2048', ['-b', '2048']),
    ('b4096', ['-b', '4096']),
    ('rev0', ['-r', '0', '-b', '1024']),
    ('no-sparse-super', ['-O', '^sparse_super,^resize_inode']),
    ('no-dir-index', ['-O', '^dir_index']),
    ('no-resize-inode', ['-O', '^resize_inode']),
    ('inode128', ['-I', '128']),
    ('few-inodes', ['-N', '512', '-b', '4096']),
]


def host_tmp():
    # A tmpfs when there is one, so the oracle is Linux's own tmpfs.
    return '/dev/shm' if os.path.isdir('/dev/shm') and os.access('/dev/shm', os.W_OK) else None


def run(cmd, timeout=300, **kw):
    return subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                          timeout=timeout, **kw)


def mkfs(img, opts, size='32M', root=None):
    if os.path.exists(img):
        os.unlink(img)
    cmd = [MKE2FS, '-q', '-F', '-t', 'ext2'] + opts
    if root:
        cmd += ['-d', root]
    cmd += [img, size]
    r = run(cmd)
    if r.returncode != 0:
        raise SystemExit(f'mke2fs {opts} failed: {r.stdout}')


def fsck(img, label):
    r = run([E2FSCK, '-fn', img])
    if r.returncode != 0:
        print(f'FAIL {label}: e2fsck -fn exit {r.returncode}\n{r.stdout}')
        return False
    return True


def tree(root):
    """{relative path: (type, data)} for files (contents) and symlinks."""
    out = {}
    for d, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(d, name)
            rel = os.path.relpath(p, root)
            if rel == 'lost+found':
                continue
            if os.path.islink(p):
                out[rel] = ('l', os.readlink(p))
            elif os.path.isdir(p):
                out[rel] = ('d', None)
            else:
                with open(p, 'rb') as f:
                    out[rel] = ('f', f.read())
    return out


def rdump_matches(img, host_dir, tmp, label):
    out = os.path.join(tmp, 'rdump')
    shutil.rmtree(out, ignore_errors=True)
    os.mkdir(out)
    r = run([DEBUGFS, '-R', f'rdump / {out}', img])
    if r.returncode != 0:
        print(f'FAIL {label}: debugfs rdump: {r.stdout}')
        return False
    got = tree(out)
    want = tree(host_dir)
    if got != want:
        missing = sorted(set(want) - set(got))[:5]
        extra = sorted(set(got) - set(want))[:5]
        differ = sorted(k for k in set(got) & set(want) if got[k] != want[k])[:5]
        print(f'FAIL {label}: debugfs rdump differs: missing {missing} extra {extra} differ {differ}')
        return False
    return True


def workloads(tool):
    ok = True
    base = host_tmp()
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(dir=base) as htmp:
        img = os.path.join(tmp, 'disk.img')
        for i, (label, opts) in enumerate(OPTION_SETS):
            for seed in (1000 + i, 2000 + i):
                host = os.path.join(htmp, f'{label}-{seed}')
                os.mkdir(host)
                mkfs(img, opts)
                r = run([tool, 'workload', img, host, str(seed), '1500'])
                tag = f'{label} seed {seed}'
                if r.returncode != 0:
                    print(f'FAIL {tag}: workload exit {r.returncode}\n{r.stdout[-3000:]}')
                    ok = False
                    continue
                good = fsck(img, tag) and rdump_matches(img, host, tmp, tag)
                # And once more through a fresh mount, read-only.
                r = run([tool, 'compare', img, host])
                if r.returncode != 0:
                    print(f'FAIL {tag}: re-mounted compare exit {r.returncode}\n{r.stdout[-2000:]}')
                    good = False
                print(f'{"ok  " if good else "FAIL"} {tag}')
                ok = ok and good
                shutil.rmtree(host)
    return ok


def make_tree(root, rng):
    """A tree exercising what ext2 stores: nesting, big and sparse files
    (indirect and double indirect blocks), hard links, both symlink kinds."""
    os.makedirs(root)
    dirs = [root]
    for i in range(12):
        d = os.path.join(rng.choice(dirs), f'dir{i}')
        os.mkdir(d)
        dirs.append(d)
    files = []
    for i in range(60):
        p = os.path.join(rng.choice(dirs), f'file{i}')
        size = rng.choice([0, 1, 100, 1023, 1024, 4097, 20000, 300000, 1500000])
        with open(p, 'wb') as f:
            f.write(rng.randbytes(size))
        os.chmod(p, rng.choice([0o644, 0o600, 0o755, 0o444]))
        files.append(p)
    with open(os.path.join(root, 'sparse'), 'wb') as f:
        f.seek(5 << 20)
        f.write(b'end')
    for i in range(6):
        src = rng.choice(files)
        os.link(src, os.path.join(rng.choice(dirs), f'hard{i}'))
    for i in range(8):
        target = 'x' * rng.choice([1, 30, 59, 60, 61, 200, 900]) + f'/{i}'
        os.symlink(target, os.path.join(rng.choice(dirs), f'sym{i}'))
    big = os.path.join(root, 'bigdir')
    os.mkdir(big)
    for i in range(400):
        open(os.path.join(big, f'entry-with-a-longer-name-{i:05d}'), 'w').close()


def populate(tool):
    ok = True
    rng = random.Random(42)
    with tempfile.TemporaryDirectory() as tmp, tempfile.TemporaryDirectory(dir=host_tmp()) as htmp:
        src = os.path.join(htmp, 'src')
        make_tree(src, rng)
        img = os.path.join(tmp, 'disk.img')
        for label, opts in [('b1024', ['-b', '1024']), ('b4096', ['-b', '4096']),
                            ('no-dir-index', ['-O', '^dir_index', '-b', '2048'])]:
            mkfs(img, opts, size='64M', root=src)
            if 'no-dir-index' not in label:
                # Index every directory (htree), which our writes must keep valid.
                run([E2FSCK, '-fyD', img])
            r = run([tool, 'compare', img, src])
            good = r.returncode == 0
            if not good:
                print(f'FAIL populate {label}: exit {r.returncode}\n{r.stdout[-3000:]}')
            # Then change it (htree directories included) and check again.
            host = os.path.join(htmp, 'after')
            shutil.rmtree(host, ignore_errors=True)
            run(['cp', '-a', src, host])  # keeps hard links
            r = run([tool, 'workload', img, host, '7', '800'])
            if r.returncode != 0:
                print(f'FAIL populate {label} workload: exit {r.returncode}\n{r.stdout[-3000:]}')
                good = False
            good = fsck(img, f'populate {label}') and good
            print(f'{"ok  " if good else "FAIL"} populate {label}')
            ok = ok and good
    return ok


def badimages(tool):
    ok = True
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        src = os.path.join(tmp, 'src')
        make_tree(src, random.Random(3))
        clean = os.path.join(tmp, 'clean.img')
        mkfs(clean, ['-b', '1024'], size='24M', root=src)
        data = open(clean, 'rb').read()
        img = os.path.join(tmp, 'bad.img')
        cases = refused = 0
        for i in range(60):
            buf = bytearray(data)
            kind = i % 4
            if kind == 3:
                buf = buf[:rng.randrange(0, len(buf))]
                what = f'truncated to {len(buf)}'
            else:
                # Metadata lives early in a 1 KiB-block image: superblock,
                # descriptors, bitmaps, the inode table, directories.
                span = [4096, 300 * 1024, len(buf)][kind]
                n = rng.randrange(1, 40)
                for _ in range(n):
                    buf[rng.randrange(0, span)] = rng.randrange(256)
                what = f'{n} bytes in the first {span}'
            with open(img, 'wb') as f:
                f.write(buf)
            for mode in (['walk', img], ['walk', img, 'write']):
                cases += 1
                try:
                    r = run([tool] + mode, timeout=60)
                except subprocess.TimeoutExpired:
                    print(f'FAIL bad image {i} ({what}) {mode[-1]}: hang')
                    ok = False
                    continue
                refused += 'mount refused' in r.stdout
                if r.returncode != 0:
                    print(f'FAIL bad image {i} ({what}) {mode[-1]}: exit {r.returncode}\n'
                          f'{r.stdout[-2000:]}')
                    ok = False
        print(f'{"ok  " if ok else "FAIL"} {cases} corrupted-image runs, {refused} refused to mount')
    return ok


def main():
    if len(sys.argv) != 3:
        print(__doc__)
        return 2
    if not (MKE2FS and E2FSCK and DEBUGFS):
        print('skip: e2fsprogs (mke2fs, e2fsck, debugfs) not installed')
        return SKIP
    tool, what = sys.argv[1], sys.argv[2]
    fn = {'workloads': workloads, 'populate': populate, 'badimages': badimages}[what]
    return 0 if fn(tool) else 1


if __name__ == '__main__':
    sys.exit(main())
