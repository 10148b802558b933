#!/usr/bin/env python3
"""`meson install` into a scratch DESTDIR, then make and boot an image the
way docs/unikernel.md says: cc -c $(pkg-config --cflags anykern) hello.c;
ak-bake -c fs -o hello.img hello.o; ak-run hello.img (the installed tools,
archives, linker script and configuration file)."""
import os
import subprocess
import sys
import tempfile


def main():
    meson, builddir, source, qemu = sys.argv[1:5]
    with tempfile.TemporaryDirectory() as dest:
        subprocess.run([meson, 'install', '-C', builddir, '--destdir', dest, '--quiet',
                        '--no-rebuild'], check=True)
        found = {f: os.path.join(r, f) for r, _, fs in os.walk(dest) for f in fs
                 if f in ('anykern.pc', 'ak-bake', 'ak-run', 'ak-bake.conf')}
        for f in ('anykern.pc', 'ak-bake', 'ak-run', 'ak-bake.conf'):
            if f not in found:
                print(f'{f} was not installed')
                return 1
        env = dict(os.environ, PKG_CONFIG_PATH=os.path.dirname(found['anykern.pc']),
                   PKG_CONFIG_SYSROOT_DIR=dest)
        env.pop('AK_BAKE_CONF', None)
        cflags = subprocess.run(['pkg-config', '--cflags', 'anykern'], env=env, check=True,
                                capture_output=True, text=True).stdout.split()
        obj = os.path.join(dest, 'hello.o')
        img = os.path.join(dest, 'hello.img')
        subprocess.run(['cc', '-c', source, '-o', obj] + cflags, check=True)
        subprocess.run([sys.executable, found['ak-bake'], '--list'], env=env, check=True)
        subprocess.run([sys.executable, found['ak-bake'], '-c', 'fs', '-o', img, obj], env=env,
                       check=True)
        p = subprocess.run([sys.executable, found['ak-run'], '--qemu', qemu, '--timeout', '60',
                            img], env=env, capture_output=True, text=True)
        print(p.stdout + p.stderr)
        if p.returncode != 0 or 'hello from the anykern kernel' not in p.stdout:
            print(f'ak-run exited {p.returncode}')
            return 1
        print('installed ak-bake and ak-run build and boot hello.c')
    return 0


if __name__ == '__main__':
    sys.exit(main())
