#!/usr/bin/env python3
"""Every entry of the syscall table must carry the Linux x86-64 number of its
name, as the host's <asm/unistd_64.h> says."""
import re
import sys

HEADERS = ['/usr/include/x86_64-linux-gnu/asm/unistd_64.h', '/usr/include/asm/unistd_64.h']


def main():
    host = {}
    for h in HEADERS:
        try:
            for m in re.finditer(r'#define __NR_(\w+)\s+(\d+)', open(h).read()):
                host[m.group(1)] = int(m.group(2))
            break
        except FileNotFoundError:
            continue
    if not host:
        print('SKIP: no asm/unistd_64.h on this host')
        return 77
    bad = 0
    count = 0
    for line in open(sys.argv[1]):
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        nr, name = line.split()[:2]
        count += 1
        if host.get(name) != int(nr):
            print(f'{name}: table says {nr}, Linux says {host.get(name)}')
            bad += 1
    print(f'{count} syscalls checked, {bad} wrong')
    return 1 if bad else 0


if __name__ == '__main__':
    sys.exit(main())
