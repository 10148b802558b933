#!/usr/bin/env python3
"""ak-server --disk and akctl mount/df with ext2 (issue 5 interface forms):

  ak-server --disk A.img --disk B.img,name=second,ro --mount ext2:/dev/akblk0:/data URL
  akctl -u URL mount -t ext2 -o ro /dev/second /ro ; akctl -u URL df

then SIGTERM (the server unmounts everything) and e2fsck -fn / debugfs.
Usage: test_server_disk.py AK_SERVER AKCTL.  Skips (77) without e2fsprogs."""
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def main():
    server, akctl = sys.argv[1], sys.argv[2]
    if not (shutil.which('mke2fs') and shutil.which('e2fsck') and shutil.which('debugfs')):
        print('skip: e2fsprogs not installed')
        return 77
    with tempfile.TemporaryDirectory() as tmp:
        a, b = os.path.join(tmp, 'a.img'), os.path.join(tmp, 'b.img')
        for img in (a, b):
            subprocess.run(['mke2fs', '-q', '-F', '-t', 'ext2', img, '32M'], check=True,
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        sock = os.path.join(tmp, 'ak.sock')
        url = 'unix://' + sock
        p = subprocess.Popen([server, '-f', '--disk', a, '--disk', b + ',name=second,ro',
                              '--mount', 'ext2:/dev/akblk0:/data', url],
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        try:
            for _ in range(200):
                if os.path.exists(sock):
                    break
                if p.poll() is not None:
                    print(f'FAIL: ak-server exited: {p.stdout.read()}')
                    return 1
                time.sleep(0.05)

            def ctl(*args, ok=True):
                r = subprocess.run([akctl, '-u', url] + list(args), stdout=subprocess.PIPE,
                                   stderr=subprocess.STDOUT, text=True, timeout=60)
                if ok and r.returncode != 0:
                    raise SystemExit(f'FAIL: akctl {" ".join(args)}: {r.stdout}')
                return r
            ctl('mkdir', '/data/made-by-akctl')
            ctl('mkdir', '/ro')
            ctl('mount', '-t', 'ext2', '-o', 'ro', '/dev/second', '/ro')
            df = ctl('df', '/data', '/ro').stdout
            if '/data' not in df or '/ro' not in df:
                raise SystemExit(f'FAIL: df: {df}')
            r = ctl('mkdir', '/ro/x', ok=False)
            if r.returncode == 0 or 'Read-only' not in r.stdout:
                raise SystemExit(f'FAIL: write to a read-only disk: {r.stdout}')
        finally:
            p.send_signal(signal.SIGTERM)
            p.wait(timeout=60)
        for img in (a, b):
            r = subprocess.run(['e2fsck', '-fn', img], stdout=subprocess.PIPE,
                               stderr=subprocess.STDOUT, text=True)
            if r.returncode != 0:
                raise SystemExit(f'FAIL: e2fsck {img}: {r.stdout}')
        ls = subprocess.run(['debugfs', '-R', 'ls /', a], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True).stdout
        if 'made-by-akctl' not in ls:
            raise SystemExit(f'FAIL: debugfs does not see the directory: {ls}')
        state = subprocess.run(['dumpe2fs', '-h', a], stdout=subprocess.PIPE,
                               stderr=subprocess.DEVNULL, text=True).stdout
        if 'Filesystem state:         clean' not in state:
            raise SystemExit('FAIL: not marked clean after the server stopped')
    print('ok   ak-server --disk, akctl mount/df, clean after SIGTERM')
    return 0


if __name__ == '__main__':
    sys.exit(main())
