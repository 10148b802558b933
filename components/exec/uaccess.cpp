// User memory for the exec component: copies that cannot crash the kernel,
// and the check of a table system call's pointer arguments before the call
// (docs/linux-exec.md, "Bad pointers").
//
// Two layers.  First the map: every buffer a table call will touch, as the
// syscall table's annotations describe it (sysmarshal.h, the descriptors
// the remote protocol marshals with), must lie in mappings that allow the
// access, or the call fails with EFAULT before it starts.  That is what
// keeps the kernel from reading or writing its own memory on a user's
// behalf (kernel pages do not fault in kernel mode).  Second the platform's
// akhyp_user_guard around the call, for what the map cannot promise: a
// buffer another thread unmaps while the call uses it, an argument whose
// shape the table does not describe (an unknown ioctl).
#include <ak/abi/net.h>
#include <ak/abi/process.h>
#include <ak/log.h>
#include <ak/syscall.h>
#include <anykern/kern.h>

#include "process.h"
#include "sysmarshal.h"

extern "C" {
#pragma weak akhyp_user_guard
}

namespace ak::exec {

namespace {

constexpr uint64_t k_page = 4096;
constexpr size_t k_path_max = 4096;   // PATH_MAX: longer strings are the kernel's ENAMETOOLONG
constexpr size_t k_iov_max = 1024;    // UIO_MAXIOV: longer vectors are the kernel's EINVAL
constexpr size_t k_task_comm = 16;    // prctl(PR_SET_NAME/PR_GET_NAME)
constexpr int k_pr_get_pdeathsig = 2; // prctl options whose arg2 is a pointer
constexpr int k_pr_set_name = 15;
constexpr int k_pr_get_name = 16;

// System calls whose [local] arguments are checked here.
constexpr long k_sys_prctl = 157;
constexpr long k_sys_futex = 202;
constexpr long k_sys_get_robust_list = 274;

bool readable(ExecProc& p, uint64_t addr, uint64_t len) {
    return user_access_ok(p, addr, len, k_prot_read);
}
bool writable(ExecProc& p, uint64_t addr, uint64_t len) {
    return user_access_ok(p, addr, len, k_prot_write);
}

// --- Guarded copies ----------------------------------------------------------

struct CopyArgs {
    void* dst;
    const void* src;
    size_t len;
};

long copy_body(void* arg) {
    auto* c = static_cast<CopyArgs*>(arg);
    __builtin_memcpy(c->dst, c->src, c->len);
    return 0;
}

// Run fn(arg) under akhyp_user_guard when the platform has it (1.5); false
// when it was abandoned on a fault.  Nothing here holds a lock inside.
bool guarded(long (*fn)(void*), void* arg) {
    if (!akhyp_user_guard) {
        (void)fn(arg);
        return true;
    }
    long result = 0;
    return akhyp_user_guard(fn, arg, &result, nullptr) == 0;
}

// A NUL within [addr, addr + max), the pages checked one by one as the scan
// reaches them (a string may end just before an unmapped page).
struct ScanArgs {
    const char* at;
    size_t len;
    bool found;
};

long scan_body(void* arg) {
    auto* s = static_cast<ScanArgs*>(arg);
    // The platform's libc has no memchr (the kernel uses only the mem*
    // calls hypercall.h lists).
    for (size_t i = 0; i < s->len; i++)
        if (s->at[i] == 0) {
            s->found = true;
            break;
        }
    return 0;
}

bool string_ok(ExecProc& p, uint64_t addr, size_t max) {
    uint64_t at = addr;
    uint64_t limit;
    if (__builtin_add_overflow(addr, max, &limit))
        limit = ~uint64_t(0);
    while (at < limit) {
        uint64_t page_end = (at | (k_page - 1)) + 1;
        uint64_t end = page_end < limit && page_end != 0 ? page_end : limit;
        if (!readable(p, at, end - at))
            return false;
        ScanArgs s{reinterpret_cast<const char*>(at), end - at, false};
        if (!guarded(scan_body, &s))
            return false;
        if (s.found)
            return true;
        at = end;
    }
    return true; // no NUL within max bytes: the kernel answers ENAMETOOLONG
}

// --- Table arguments ---------------------------------------------------------

uint64_t count_value(const ak_sysarg_desc& d, uint64_t raw, bool* negative) {
    *negative = false;
    if (d.flags & AK_ARGF_COUNT32) {
        if ((d.flags & AK_ARGF_COUNT_SIGNED) && static_cast<int32_t>(raw) < 0)
            *negative = true;
        return static_cast<uint32_t>(raw);
    }
    return raw;
}

// Bytes of count elements of elem bytes, or false when that cannot be a
// user buffer (past the top of the user address space).
bool byte_count(uint64_t count, uint32_t elem, uint64_t* bytes) {
    constexpr uint64_t k_user_top = uint64_t(1) << 47;
    if (elem == 0)
        elem = 1;
    if (count > k_user_top / elem)
        return false;
    *bytes = count * elem;
    return true;
}

bool buffer_ok(ExecProc& p, uint8_t kind, uint64_t addr, uint64_t bytes) {
    switch (kind) {
    case AK_ARG_IN:
        return readable(p, addr, bytes);
    case AK_ARG_OUT:
        return writable(p, addr, bytes);
    default: // AK_ARG_INOUT
        return readable(p, addr, bytes) && writable(p, addr, bytes);
    }
}

bool read_user(ExecProc& p, void* dst, uint64_t src, size_t len) {
    return copy_from_user(p, dst, src, len);
}

// An iovec array and the buffers it points to.
bool iovecs_ok(ExecProc& p, uint64_t iov, uint64_t count, bool output) {
    if (count > k_iov_max)
        return true; // EINVAL from the kernel, which then touches nothing
    for (uint64_t i = 0; i < count; i++) {
        abi::Iovec v;
        if (!read_user(p, &v, iov + i * sizeof v, sizeof v))
            return false;
        uint64_t base = reinterpret_cast<uint64_t>(v.iov_base);
        if (v.iov_len && !(output ? writable(p, base, v.iov_len) : readable(p, base, v.iov_len)))
            return false;
    }
    return true;
}

// struct msghdr: the header itself (recvmsg writes msg_namelen,
// msg_controllen and msg_flags back), the name, the iovecs, the control
// buffer.
bool msghdr_ok(ExecProc& p, uint64_t addr, bool output) {
    abi::Msghdr m;
    if (!read_user(p, &m, addr, sizeof m) || (output && !writable(p, addr, sizeof m)))
        return false;
    auto ok = [&](const void* ptr, uint64_t len) {
        uint64_t a = reinterpret_cast<uint64_t>(ptr);
        return !a || !len || (output ? writable(p, a, len) : readable(p, a, len));
    };
    return ok(m.msg_name, m.msg_namelen) && ok(m.msg_control, m.msg_controllen) &&
           iovecs_ok(p, reinterpret_cast<uint64_t>(m.msg_iov), m.msg_iovlen, output);
}

// ioctl: the argument's shape for the requests the kernel implements (the
// remote protocol's table); others are left to akhyp_user_guard.
bool ioctl_ok(ExecProc& p, unsigned long request, uint64_t arg) {
    switch (request) {
    case abi::k_fionbio:
    case abi::k_tiocspgrp:
        return readable(p, arg, sizeof(int));
    case abi::k_fionread:
    case abi::k_siocoutq:
    case abi::k_tiocgpgrp:
        return writable(p, arg, sizeof(int));
    case abi::k_tcgets:
        return writable(p, arg, sizeof(abi::Termios));
    case abi::k_tcsets:
    case abi::k_tcsetsw:
    case abi::k_tcsetsf:
        return readable(p, arg, sizeof(abi::Termios));
    case abi::k_tiocgwinsz:
        return writable(p, arg, sizeof(abi::Winsize));
    case abi::k_tiocswinsz:
        return readable(p, arg, sizeof(abi::Winsize));
    case abi::k_siocgifconf: {
        abi::Ifconf c;
        if (!read_user(p, &c, arg, sizeof c) || !writable(p, arg, sizeof c))
            return false;
        uint64_t buf = reinterpret_cast<uint64_t>(c.ifc_buf);
        return !buf || c.ifc_len <= 0 || writable(p, buf, static_cast<uint64_t>(c.ifc_len));
    }
    default:
        break;
    }
    // struct ifreq (40 bytes): SIOCGIF* read the name and write the answer,
    // SIOCSIF* only read.
    if (request >= 0x8910 && request <= 0x8933) {
        constexpr uint64_t k_ifreq = 40;
        bool set = request == abi::k_siocsifflags || request == abi::k_siocsifaddr ||
                   request == abi::k_siocsifnetmask || request == abi::k_siocsifmtu ||
                   request == 0x8918 || request == 0x891a || request == 0x891e ||
                   request == 0x8923 || request == 0x8924;
        return readable(p, arg, k_ifreq) && (set || writable(p, arg, k_ifreq));
    }
    return true;
}

// futex(2): the words and the timeout each operation reads or writes.
// Misaligned words are the kernel's EINVAL (checked before any access).
bool futex_ok(ExecProc& p, const uint64_t* a) {
    int cmd = static_cast<int>(a[1]) & abi::k_futex_cmd_mask;
    uint64_t uaddr = a[0], timeout = a[3], uaddr2 = a[4];
    auto word = [&](uint64_t w, bool write) {
        return (w & 3) || (write ? writable(p, w, 4) && readable(p, w, 4) : readable(p, w, 4));
    };
    switch (cmd) {
    case abi::k_futex_wait:
    case abi::k_futex_wait_bitset:
        return word(uaddr, false) && (!timeout || readable(p, timeout, sizeof(abi::Timespec)));
    case abi::k_futex_cmp_requeue:
        return word(uaddr, false);
    case abi::k_futex_wake_op:
        return word(uaddr2, true);
    default:
        return true; // wake, requeue: the words are only keys
    }
}

bool local_ok(ExecProc& p, long nr, const uint64_t* a) {
    switch (nr) {
    case k_sys_futex:
        return futex_ok(p, a);
    case k_sys_get_robust_list:
        return writable(p, a[1], 8) && writable(p, a[2], 8);
    case k_sys_prctl:
        switch (static_cast<int>(a[0])) {
        case k_pr_set_name:
            return string_ok(p, a[1], k_task_comm);
        case k_pr_get_name:
            return writable(p, a[1], k_task_comm);
        case k_pr_get_pdeathsig:
            return writable(p, a[1], sizeof(int));
        default:
            return true;
        }
    default:
        return true; // set_robust_list, rseq: the address is only stored
    }
}

} // namespace

bool copy_from_user(ExecProc& p, void* dst, uint64_t src, size_t len) {
    if (!readable(p, src, len))
        return false;
    CopyArgs c{dst, reinterpret_cast<const void*>(src), len};
    return guarded(copy_body, &c);
}

bool copy_to_user(ExecProc& p, uint64_t dst, const void* src, size_t len) {
    if (!writable(p, dst, len))
        return false;
    CopyArgs c{reinterpret_cast<void*>(dst), src, len};
    return guarded(copy_body, &c);
}

bool syscall_args_ok(ExecProc& p, long nr, const uint64_t* a) {
    if (nr < 0 || nr >= AK_SYSMARSHAL_COUNT)
        return true;
    const ak_sysmarshal& m = ak_sysmarshal_table[nr];
    if (!m.name)
        return true;
    for (int i = 0; i < m.nargs && i < 6; i++) {
        const ak_sysarg_desc& d = m.args[i];
        uint64_t v = a[i];
        if (d.kind == AK_ARG_VAL || d.kind == AK_ARG_FCNTL)
            continue;
        if (d.kind == AK_ARG_LOCAL) {
            if (!local_ok(p, nr, a))
                return false;
            continue;
        }
        if (d.kind == AK_ARG_IOCTL) {
            if (v && !ioctl_ok(p, static_cast<unsigned long>(a[1]), v))
                return false;
            continue;
        }
        if (!v && (d.flags & AK_ARGF_NULLABLE))
            continue;
        switch (d.kind) {
        case AK_ARG_STR:
            if (!string_ok(p, v, k_path_max))
                return false;
            break;
        case AK_ARG_IN:
        case AK_ARG_OUT:
        case AK_ARG_INOUT:
        case AK_ARG_IOV_IN:
        case AK_ARG_IOV_OUT: {
            uint64_t count = d.count;
            if (d.count_arg >= 0 && d.count_arg < 6) {
                uint64_t raw = a[d.count_arg];
                if (d.flags & AK_ARGF_DEREF) {
                    // The count is the socklen_t the other argument points
                    // to; without that pointer there is no buffer to fill.
                    uint32_t len;
                    if (!raw)
                        continue;
                    if (!read_user(p, &len, raw, sizeof len))
                        return false;
                    raw = len;
                }
                bool negative;
                count = count_value(d, raw, &negative);
                if (negative)
                    continue;
            }
            if (d.kind == AK_ARG_IOV_IN || d.kind == AK_ARG_IOV_OUT) {
                uint64_t bytes;
                if (count > k_iov_max)
                    continue;
                if (!byte_count(count, d.elem_size, &bytes) || !readable(p, v, bytes) ||
                    !iovecs_ok(p, v, count, d.kind == AK_ARG_IOV_OUT))
                    return false;
                break;
            }
            uint64_t bytes;
            if (!byte_count(count, d.elem_size, &bytes) || !buffer_ok(p, d.kind, v, bytes))
                return false;
            break;
        }
        case AK_ARG_MSG_IN:
        case AK_ARG_MSG_OUT:
            if (!msghdr_ok(p, v, d.kind == AK_ARG_MSG_OUT))
                return false;
            break;
        default:
            break;
        }
    }
    return true;
}

namespace {
struct TableCall {
    long nr;
    const long* args;
};
long table_body(void* arg) {
    auto* c = static_cast<TableCall*>(arg);
    return syscall_dispatch(c->nr, c->args);
}
} // namespace

long table_syscall(UserThread* t, long nr, const long* args, bool* unrecoverable) {
    *unrecoverable = false;
    if (!akhyp_user_guard)
        return syscall_dispatch(nr, args);
    TableCall c{nr, args};
    long result = 0;
    uint64_t addr = 0;
    int e = akhyp_user_guard(table_body, &c, &result, &addr);
    if (e == 0)
        return result;
    const char* name = ak_kern_syscall_name(nr);
    console_line("%s: system call %s touched bad user memory at 0x%lx%s", t->proc->name,
                 name ? name : "?", static_cast<unsigned long>(addr),
                 e == EFAULT ? ": EFAULT" : " holding a kernel lock");
    *unrecoverable = e != EFAULT;
    return -EFAULT;
}

} // namespace ak::exec
