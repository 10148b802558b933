#!/usr/bin/env python3
"""Generate everything that derives from rumpkern/syscalls.tbl.

Usage: gensyscalls.py TABLE MODE OUTPUT

MODE is one of:
  public-header   anykern/syscalls.h: AK_SYS_* numbers, ak_sys_* prototypes
  client-wrappers C source of the ak_sys_* wrappers over akclient_syscall6()
  kernel-proto    C++ prototypes of the kernel handlers (namespace ak::sys)
  kernel-table    C++ dispatch table (thunks from six longs to typed calls)
  marshal         C header: per-syscall argument descriptors for remote calls
"""
import re
import sys

# Size of the pointee of each pointer type the table may use (bytes).
POINTEE_SIZE = {
    'void': 1, 'char': 1, 'int': 4, 'unsigned int': 4, 'gid_t': 4, 'uid_t': 4,
    'struct stat': 144, 'struct statfs': 120, 'struct statx': 256,
    'struct utsname': 390, 'struct timespec': 16, 'struct timeval': 16,
    'struct iovec': 16, 'struct pollfd': 8, 'struct sockaddr': 1,
    'socklen_t': 4, 'struct msghdr': 56, 'struct epoll_event': 12,
    'fd_set': 128, 'sigset_t': 8, 'struct rlimit': 16, 'struct sysinfo': 112,
    'struct sigaction': 152, 'struct rusage': 144, 'uint64_t': 8, 'long': 8,
    'unsigned long': 8, 'struct mmsghdr': 64, 'struct tms': 32, 'time_t': 8,
    'struct kernel_sigaction': 32, 'stack_t': 24, 'siginfo_t': 128, 'struct timezone': 8,
}

# Kernel-side spelling of the public C types.
KERNEL_TYPE = {
    'ssize_t': 'long', 'off_t': 'int64_t', 'mode_t': 'uint32_t', 'uid_t': 'uint32_t',
    'gid_t': 'uint32_t', 'pid_t': 'int', 'socklen_t': 'uint32_t', 'time_t': 'int64_t',
    'struct stat': 'abi::Stat', 'struct statfs': 'abi::Statfs', 'struct statx': 'abi::Statx',
    'struct utsname': 'abi::Utsname', 'struct timespec': 'abi::Timespec',
    'struct timeval': 'abi::Timeval', 'struct iovec': 'abi::Iovec',
    'struct sockaddr': 'abi::Sockaddr', 'struct msghdr': 'abi::Msghdr',
    'struct pollfd': 'abi::Pollfd', 'struct epoll_event': 'abi::EpollEvent',
    'fd_set': 'abi::FdSet', 'sigset_t': 'uint64_t', 'clockid_t': 'int',
    'struct kernel_sigaction': 'abi::KernelSigaction', 'stack_t': 'abi::StackT',
    'siginfo_t': 'abi::Siginfo', 'struct timezone': 'abi::Timezone', 'struct rlimit': 'abi::Rlimit',
    'struct rusage': 'abi::Rusage', 'struct sysinfo': 'abi::Sysinfo',
    'struct robust_list_head': 'void',
}

# Count arguments whose type is 32 bits wide (the kernel's thunk truncates
# them), and those of them that are signed.
COUNT32 = {'int', 'unsigned int', 'socklen_t', 'uint32_t', 'unsigned'}
SIGNED_COUNT = {'int'}

KINDS = {'val': 0, 'str': 1, 'in': 2, 'out': 3, 'inout': 4, 'iov_in': 5, 'iov_out': 6,
         'ioctl': 7, 'fcntl': 8, 'msg_in': 9, 'msg_out': 10, 'local': 11}
# Annotations that are spelled differently in the table than in the
# descriptors: an [unused] pointer travels as a plain value.
ALIASES = {'unused': 'val'}


class Arg:
    def __init__(self, text, where):
        m = re.match(r'^(.*?)\s*(\[(.*)\])?$', text.strip())
        decl, ann = m.group(1).strip(), m.group(3)
        m2 = re.match(r'^(.*?[\s\*])(\w+)$', decl)
        if not m2:
            raise SystemExit(f'{where}: cannot parse argument {text!r}')
        self.ctype = m2.group(1).strip()
        self.name = m2.group(2)
        self.is_ptr = '*' in self.ctype
        self.kind = 'val'
        self.nullable = False
        self.count = None
        self.ret_limited = False
        if ann is not None:
            words = ann.split()
            kind = words[0]
            if kind.endswith('?'):
                self.nullable = True
                kind = kind[:-1]
            kind = ALIASES.get(kind, kind)
            if kind not in KINDS:
                raise SystemExit(f'{where}: unknown annotation {ann!r}')
            self.kind = kind
            rest = words[1:]
            if rest and rest[-1] == 'ret':
                self.ret_limited = True
                rest = rest[:-1]
            if kind in ('in', 'out', 'inout', 'iov_in', 'iov_out'):
                if len(rest) != 1:
                    raise SystemExit(f'{where}: {kind} needs a count in {text!r}')
                self.count = rest[0]
        elif self.is_ptr:
            raise SystemExit(f'{where}: pointer argument {self.name} lacks an annotation')

    @property
    def pointee(self):
        t = self.ctype.replace('*', '').replace('const', '').strip()
        return ' '.join(t.split())

    def kernel_type(self):
        if not self.is_ptr:
            return KERNEL_TYPE.get(self.ctype, self.ctype)
        const = 'const ' if self.ctype.startswith('const') else ''
        base = self.pointee
        stars = self.ctype.count('*')
        return f'{const}{KERNEL_TYPE.get(base, base)} ' + '*' * stars


class Syscall:
    def __init__(self, nr, name, ret, args):
        self.nr, self.name, self.ret, self.args = nr, name, ret, args


def parse(path):
    calls = []
    for lineno, line in enumerate(open(path), 1):
        line = line.split('#', 1)[0].strip()
        if not line:
            continue
        m = re.match(r'^(\d+)\s+(\w+)\s+(.+?)\s*\((.*)\)$', line)
        if not m:
            raise SystemExit(f'{path}:{lineno}: cannot parse {line!r}')
        nr, name, ret, argtext = int(m.group(1)), m.group(2), m.group(3), m.group(4).strip()
        args = [Arg(a, f'{path}:{lineno}') for a in argtext.split(',')] if argtext else []
        if len(args) > 6:
            raise SystemExit(f'{path}:{lineno}: more than six arguments')
        names = {a.name for a in args}
        for a in args:
            if a.count and not a.count.isdigit() and a.count.lstrip('*') not in names:
                raise SystemExit(f'{path}:{lineno}: count {a.count} is not an argument')
        calls.append(Syscall(nr, name, ret, args))
    nrs = [c.nr for c in calls]
    if len(set(nrs)) != len(nrs):
        raise SystemExit(f'{path}: duplicate syscall numbers')
    return sorted(calls, key=lambda c: c.nr)


HEADER = '/* Generated by scripts/gensyscalls.py from rumpkern/syscalls.tbl. Do not edit. */\n'


def proto_args(c):
    return ', '.join(f'{a.ctype}{"" if a.ctype.endswith("*") else " "}{a.name}'
                     for a in c.args) or 'void'


def public_header(calls):
    out = [HEADER, '#ifndef ANYKERN_SYSCALLS_H', '#define ANYKERN_SYSCALLS_H', '',
           '#include <stddef.h>', '#include <stdint.h>', '#include <sys/types.h>',
           '#include <sys/socket.h>',
           '#include <sys/select.h>', '#include <signal.h>', '',
           '#ifdef __cplusplus', 'extern "C" {', '#endif', '']
    structs = sorted({a.pointee for c in calls for a in c.args if a.pointee.startswith('struct ')})
    out += [f'{s};' for s in structs] + ['']
    for c in calls:
        out.append(f'#define AK_SYS_{c.name} {c.nr}')
    out.append(f'#define AK_SYS_MAX {max(c.nr for c in calls)}')
    out.append('')
    for c in calls:
        out.append(f'{c.ret} ak_sys_{c.name}({proto_args(c)});')
    out += ['', '#ifdef __cplusplus', '}', '#endif', '', '#endif', '']
    return '\n'.join(out)


def client_wrappers(calls):
    out = [HEADER, '#include <anykern/syscalls.h>', '#include <errno.h>', '#include <stdint.h>', '',
           'long akclient_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5);',
           '',
           'static inline long ak_ret(long r)', '{',
           '    if (r < 0 && r > -4096) {', '        errno = (int)-r;', '        return -1;',
           '    }', '    return r;', '}', '']
    for c in calls:
        vals = []
        for a in c.args:
            vals.append(f'(long)(uintptr_t){a.name}' if a.is_ptr else f'(long){a.name}')
        vals += ['0'] * (6 - len(vals))
        call = f'akclient_syscall6(AK_SYS_{c.name}, {", ".join(vals)})'
        out.append(f'__attribute__((visibility("default"))) {c.ret} ak_sys_{c.name}({proto_args(c)})')
        out.append('{')
        if c.ret == 'void':
            out.append(f'    (void){call};')
        else:
            out.append(f'    return ({c.ret})ak_ret({call});')
        out.append('}')
        out.append('')
    return '\n'.join(out)


def kernel_proto(calls):
    out = [HEADER, '#pragma once', '', '#include <ak/abi/linux.h>', '#include <ak/abi/net.h>',
           '#include <ak/abi/process.h>', '#include <ak/result.h>', '',
           'namespace ak::sys {', '']
    for c in calls:
        args = ', '.join(f'{a.kernel_type()}{"" if a.kernel_type().endswith("*") else " "}{a.name}'
                         for a in c.args)
        out.append(f'Result<long> sys_{c.name}({args});')
    out += ['', '} // namespace ak::sys', '']
    return '\n'.join(out)


def kernel_table(calls):
    out = [HEADER, '// Included by rumpkern/sys/syscall.cpp.', '']
    for c in calls:
        conv = []
        for i, a in enumerate(c.args):
            kt = a.kernel_type()
            if a.is_ptr:
                conv.append(f'reinterpret_cast<{kt}>(a[{i}])')
            else:
                conv.append(f'static_cast<{kt}>(a[{i}])')
        out.append(f'static long thunk_{c.name}(const long* a) {{')
        if not c.args:
            out.append('    (void)a;')
        out.append(f'    return to_ret(sys::sys_{c.name}({", ".join(conv)}));')
        out.append('}')
    maxnr = max(c.nr for c in calls)
    out.append('')
    out.append(f'constexpr long k_sysent_count = {maxnr + 1};')
    out.append('static const SysEnt k_sysent[k_sysent_count] = {')
    by_nr = {c.nr: c for c in calls}
    for nr in range(maxnr + 1):
        c = by_nr.get(nr)
        out.append(f'    {{thunk_{c.name}, "{c.name}"}},' if c else '    {nullptr, nullptr},')
    out.append('};')
    out.append('')
    return '\n'.join(out)


def marshal(calls):
    out = [HEADER, '#ifndef ANYKERN_SYSMARSHAL_H', '#define ANYKERN_SYSMARSHAL_H', '',
           '#include <stdint.h>', '',
           '/* How each pointer argument travels in the remote protocol. */']
    for k, v in KINDS.items():
        out.append(f'#define AK_ARG_{k.upper()} {v}')
    out += ['/* AK_ARG_LOCAL: an address the kernel uses in place in the caller\'s memory;',
            '   a remote caller cannot make the call (answered ENOSYS, never sent). */']
    out += ['#define AK_ARGF_NULLABLE 1 /* may be NULL */',
            '#define AK_ARGF_RET 2      /* output: only the returned count is valid */',
            '#define AK_ARGF_DEREF 4    /* count is the socklen_t that argument count_arg points to',
            '                              (its value on entry); the kernel may lower it */',
            '#define AK_ARGF_COUNT32 8  /* the count argument is a 32-bit type (the kernel',
            '                              uses its low 32 bits) */',
            '#define AK_ARGF_COUNT_SIGNED 16 /* ... and signed: negative counts are the',
            '                              kernel\'s to refuse (EINVAL), never a buffer size */', '',
            'struct ak_sysarg_desc {',
            '    uint8_t kind;       /* AK_ARG_* */',
            '    uint8_t flags;      /* AK_ARGF_* */',
            '    int8_t count_arg;   /* index of the argument holding the element count, or -1 */',
            '    uint8_t pad;',
            '    uint32_t count;     /* constant element count when count_arg < 0 */',
            '    uint32_t elem_size; /* bytes per element */',
            '};', '',
            'struct ak_sysmarshal {',
            '    const char *name;   /* NULL: no such syscall */',
            '    uint8_t nargs;',
            '    uint8_t returns_void;',
            '    struct ak_sysarg_desc args[6];',
            '};', '']
    maxnr = max(c.nr for c in calls)
    out.append(f'#define AK_SYSMARSHAL_COUNT {maxnr + 1}')
    out.append('static const struct ak_sysmarshal ak_sysmarshal_table[AK_SYSMARSHAL_COUNT] = {')
    by_nr = {c.nr: c for c in calls}
    for nr in range(maxnr + 1):
        c = by_nr.get(nr)
        if not c:
            out.append('    {0, 0, 0, {{0, 0, 0, 0, 0, 0}}},')
            continue
        descs = []
        for a in c.args:
            flags = (1 if a.nullable else 0) | (2 if a.ret_limited else 0)
            count_arg, count = -1, 1
            if a.count:
                if a.count.isdigit():
                    count = int(a.count)
                else:
                    if a.count.startswith('*'):
                        flags |= 4
                    count_arg = [x.name for x in c.args].index(a.count.lstrip('*'))
                    count = 0
                    ctype = c.args[count_arg].ctype
                    if a.count.startswith('*'):
                        ctype = c.args[count_arg].pointee
                    if ctype in COUNT32:
                        flags |= 8
                        if ctype in SIGNED_COUNT:
                            flags |= 16
            elem = POINTEE_SIZE.get(a.pointee, 0) if a.is_ptr else 0
            if a.is_ptr and a.kind in ('in', 'out', 'inout') and elem == 0:
                raise SystemExit(f'{c.name}: unknown pointee size for {a.pointee}')
            descs.append(f'{{AK_ARG_{a.kind.upper()}, {flags}, {count_arg}, 0, {count}, {elem}}}')
        out.append(f'    /* {c.nr} */ {{"{c.name}", {len(c.args)}, {1 if c.ret == "void" else 0}, '
                   f'{{{", ".join(descs)}}}}},')
    out += ['};', '', '#endif', '']
    return '\n'.join(out)


def main():
    if len(sys.argv) != 4:
        raise SystemExit(__doc__)
    calls = parse(sys.argv[1])
    gen = {'public-header': public_header, 'client-wrappers': client_wrappers,
           'kernel-proto': kernel_proto, 'kernel-table': kernel_table, 'marshal': marshal}
    if sys.argv[2] not in gen:
        raise SystemExit(f'unknown mode {sys.argv[2]}')
    text = gen[sys.argv[2]](calls)
    with open(sys.argv[3], 'w') as f:
        f.write(text)


if __name__ == '__main__':
    main()
