#!/usr/bin/env python3
"""Smoke run of a libFuzzer target on seeds made by mke2fs at test time:
a bounded number of runs; any crash fails the test.  Skips (77) without
mke2fs."""
import os
import shutil
import subprocess
import sys
import tempfile

fuzzer = sys.argv[1]
mke2fs = shutil.which('mke2fs')
if not mke2fs:
    print('skip: mke2fs not installed')
    sys.exit(77)
with tempfile.TemporaryDirectory() as tmp:
    corpus = os.path.join(tmp, 'corpus')
    src = os.path.join(tmp, 'src')
    os.makedirs(os.path.join(src, 'dir', 'sub'))
    with open(os.path.join(src, 'dir', 'file'), 'wb') as f:
        f.write(os.urandom(5000))
    with open(os.path.join(src, 'big'), 'wb') as f:
        f.write(b'x' * 40000)
    os.symlink('dir/file', os.path.join(src, 'short'))
    os.symlink('d' * 100, os.path.join(src, 'long'))
    os.mkdir(corpus)
    for i, opts in enumerate([['-b', '1024'], ['-b', '1024', '-r', '0'],
                              ['-b', '2048', '-O', '^dir_index'], ['-b', '1024', '-I', '128']]):
        img = os.path.join(corpus, f'seed{i}.img')
        subprocess.run([mke2fs, '-q', '-F', '-t', 'ext2', '-N', '32'] + opts +
                       ['-d', src, img, '160k'], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    runs = os.environ.get('AK_FUZZ_RUNS', '3000')
    r = subprocess.run([fuzzer, f'-runs={runs}', '-max_total_time=120', '-max_len=163840',
                        '-timeout=20', '-rss_limit_mb=4096', corpus],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines = [l for l in r.stdout.splitlines() if not l.startswith('ak:')]
    print('\n'.join(lines[-40:]))
    sys.exit(r.returncode)
