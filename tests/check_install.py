#!/usr/bin/env python3
"""`meson install` into a scratch DESTDIR, then build a C program against the
installed library exactly as a user would: cc prog.c $(pkg-config --cflags
--libs anykern), and run it."""
import os
import subprocess
import sys
import tempfile


def main():
    meson, builddir, source = sys.argv[1], sys.argv[2], sys.argv[3]
    with tempfile.TemporaryDirectory() as dest:
        subprocess.run([meson, 'install', '-C', builddir, '--destdir', dest, '--quiet',
                        '--no-rebuild'], check=True)
        pcs = [os.path.join(r, f) for r, _, fs in os.walk(dest) for f in fs if f == 'anykern.pc']
        if not pcs:
            print('anykern.pc was not installed')
            return 1
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(pcs[0]),
                   PKG_CONFIG_SYSROOT_DIR=dest)
        flags = subprocess.run(['pkg-config', '--cflags', '--libs', 'anykern'], env=env,
                               check=True, capture_output=True, text=True).stdout.split()
        exe = os.path.join(dest, 'prog')
        subprocess.run(['cc', source, '-o', exe] + flags, check=True)
        libdirs = [f[2:] for f in flags if f.startswith('-L')]
        out = subprocess.run([exe], env=dict(os.environ, LD_LIBRARY_PATH=':'.join(libdirs)),
                             check=True, capture_output=True, text=True).stdout
        if 'hello from the anykern kernel' not in out:
            print('unexpected output:\n' + out)
            return 1
        # The static library, linked whole with the C compiler alone: the
        # kernel and the POSIX platform must not need libstdc++.
        static_exe = os.path.join(dest, 'prog-static')
        cflags = [f for f in flags if not f.startswith('-l')]
        subprocess.run(['cc', source, '-o', static_exe] + cflags +
                       ['-Wl,-Bstatic', '-Wl,--whole-archive', '-lanykern', '-Wl,--no-whole-archive',
                        '-Wl,-Bdynamic', '-lpthread'], check=True)
        out = subprocess.run([static_exe], check=True, capture_output=True, text=True).stdout
        if 'hello from the anykern kernel' not in out:
            print('unexpected output from the static program:\n' + out)
            return 1
        print('installed library, headers and anykern.pc build and run a program (shared and static)')
    return 0


if __name__ == '__main__':
    sys.exit(main())
