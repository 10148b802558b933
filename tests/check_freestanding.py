#!/usr/bin/env python3
"""Fail if kernel-side archives need any symbol from outside the kernel other
than the hypercall interface, memcpy/memmove/memset/memcmp and compiler
runtime helpers (docs/architecture.md: the dependency rule)."""
import argparse
import re
import subprocess
import sys

ALLOWED = [
    r'akhyp_\w+',
    r'mem(cpy|move|set|cmp)',
    r'_GLOBAL_OFFSET_TABLE_',
    r'__(start|stop)_ak_\w+',          # linker sets
    r'__(u?(div|mod|mul)|neg|ashl|ashr|lshr|popcount|clz|ctz|ffs|parity|bswap|cmp|ucmp)[a-z]*[sdt]i[0-9]?',  # libgcc
]
SANITIZER = [r'__(asan|ubsan|sanitizer|sancov|lsan|msan|tsan)_\w+', r'__sancov\w*',
             r'__start___sancov\w+', r'__stop___sancov\w+',
             # clang's -fsanitize=function compares function type_info
             r'_ZTVN10__cxxabiv1\d+__function_type_infoE', r'_ZTIF\w+']


def symbols(nm, archive):
    out = subprocess.run([nm, '--format=posix', archive], capture_output=True, text=True,
                         check=True).stdout
    defined, undefined = set(), set()
    for line in out.splitlines():
        parts = line.split()
        if len(parts) < 2 or line.endswith(':'):
            continue
        name, kind = parts[0], parts[1]
        if kind in ('U', 'w', 'v'):
            undefined.add(name)
        else:
            defined.add(name)
    return defined, undefined


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--nm', default='nm')
    ap.add_argument('--sanitized', action='store_true')
    ap.add_argument('archives', nargs='+')
    args = ap.parse_args()
    defined, undefined = set(), set()
    for a in args.archives:
        d, u = symbols(args.nm, a)
        defined |= d
        undefined |= u
    allowed = ALLOWED + (SANITIZER if args.sanitized else [])
    pattern = re.compile('^(' + '|'.join(allowed) + ')$')
    bad = sorted(s for s in undefined - defined if not pattern.match(s))
    if bad:
        print('kernel archives need symbols from outside the kernel:')
        for s in bad:
            print('  ' + s)
        return 1
    print(f'ok: {len(args.archives)} archives, {len(undefined - defined)} external symbols, all allowed')
    return 0


if __name__ == '__main__':
    sys.exit(main())
