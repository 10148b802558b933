// ak_kern_exec: load a static Linux x86-64 executable into the current
// process and run it to its end (docs/linux-exec.md).
#include <ak/component.h>
#include <ak/kmem.h>
#include <ak/log.h>
#include <ak/random.h>
#include <ak/string.h>
#include <ak/time.h>
#include <anykern/kern.h>
#include <stdarg.h>

#include "elf_image.h"
#include "process.h"
#include "stack.h"

namespace ak::exec {

namespace {

constexpr uint64_t k_page = 4096;
constexpr uint64_t k_main_stack_size = 8ull << 20;    // Linux's default RLIMIT_STACK
constexpr uint64_t k_stack_gap = 1ull << 20;          // between mmap and the stack
constexpr size_t k_arg_block = 128 * 1024;            // argv + envp + auxv, at most
constexpr size_t k_user_thread_stack = 64 * 1024;     // kernel stack of a user thread
constexpr int64_t k_thread_exit_wait_ns = 2000000000; // for the others after exit_group

Mutex& running_lock() {
    static NoDestroy<Mutex> lock; // first used by the component's init
    return lock.get();
}
// The program this instance runs (one at a time: docs/linux-exec.md).
ExecProc* g_running;

uint64_t hwcap() {
#if defined(__x86_64__)
    uint32_t a = 1, b, c = 0, d;
    __asm__ volatile("cpuid" : "+a"(a), "=b"(b), "+c"(c), "=d"(d));
    return d; // Linux: AT_HWCAP is CPUID.1:EDX on x86
#else
    return 0;
#endif
}

// Load the PT_LOAD segments at bias: map their pages writable, copy the
// file bytes (the rest reads as zero: .bss), then apply the final
// protections.  Pages that two segments share get both protections.
Result<void> load_segments(ExecProc& p, ReadonlyBytes file, const ElfInfo& info, uint64_t bias)
    AK_REQUIRES(p.lock) {
    struct Range {
        uint64_t start, end;
        int prot;
    } ranges[k_elf_max_loads];
    int n = 0;
    for (int i = 0; i < info.nloads; i++) {
        const ElfLoad& l = info.loads[i];
        uint64_t s = (l.vaddr + bias) & ~(k_page - 1);
        uint64_t e = align_up(l.vaddr + bias + l.memsz, k_page);
        int prot = ((l.flags & k_pf_r) ? k_prot_read : 0) |
                   ((l.flags & k_pf_w) ? k_prot_write : 0) | ((l.flags & k_pf_x) ? k_prot_exec : 0);
        if (n > 0 && s < ranges[n - 1].end) {
            // Shares its first page with the previous segment (sorted and
            // disjoint in bytes, so only that page).
            ranges[n - 1].end = max(ranges[n - 1].end, e);
            ranges[n - 1].prot |= prot;
            continue;
        }
        ranges[n++] = {s, e, prot};
    }
    for (int i = 0; i < n; i++)
        TRY(Result<void>(akhyp_vm_map(ranges[i].start, ranges[i].end - ranges[i].start,
                                      k_prot_read | k_prot_write)));
    for (int i = 0; i < info.nloads; i++) {
        const ElfLoad& l = info.loads[i];
        __builtin_memcpy(reinterpret_cast<void*>(l.vaddr + bias), file.data() + l.offset, l.filesz);
    }
    for (int i = 0; i < n; i++) {
        TRY(Result<void>(
            akhyp_vm_protect(ranges[i].start, ranges[i].end - ranges[i].start, ranges[i].prot)));
        VmRegion r;
        r.start = ranges[i].start;
        r.end = ranges[i].end;
        r.prot = ranges[i].prot;
        r.kind = RegionKind::Image;
        TRY(p.map.insert(move(r)));
    }
    return {};
}

struct Loaded {
    uint64_t entry, sp;
};

Result<Loaded> load(ExecProc& p, ReadonlyBytes file, const ElfInfo& info, const char* path,
                    char* const argv[], char* const envp[]) {
    uint64_t bias = 0;
    if (info.pie)
        bias = p.win_lo - info.lo; // static-pie: at the window's base
    if (p.win_lo >= p.win_hi || elf_check_placement(info, bias, p.win_lo, p.win_hi).is_error()) {
        console_line("%s: its segments [0x%lx, 0x%lx) are outside the executable window "
                     "[0x%lx, 0x%lx) of this image (bake the image with this executable)",
                     p.name, static_cast<unsigned long>(info.lo + bias),
                     static_cast<unsigned long>(info.hi + bias),
                     static_cast<unsigned long>(p.win_lo), static_cast<unsigned long>(p.win_hi));
        return ENOEXEC;
    }

    MutexGuard g(p.lock);
    TRY(load_segments(p, file, info, bias));

    // The heap starts at the bottom of the general area, the stack is at
    // its top and mmap places mappings downwards below the stack.
    p.brk_start = p.brk_cur = p.gen_lo;
    uint64_t stack_hi = p.gen_hi;
    p.stack_lo = stack_hi - k_main_stack_size;
    p.mmap_hi = p.stack_lo - k_stack_gap;
    int stack_prot = k_prot_read | k_prot_write | (info.exec_stack ? k_prot_exec : 0);
    TRY(Result<void>(akhyp_vm_map(p.stack_lo, k_main_stack_size, stack_prot)));
    VmRegion sr;
    sr.start = p.stack_lo;
    sr.end = stack_hi;
    sr.prot = stack_prot;
    sr.kind = RegionKind::Stack;
    TRY(p.map.insert(move(sr)));

    StackArgs sa;
    sa.argv = argv;
    sa.envp = envp;
    sa.execfn = path;
    TRY(random_bytes(Bytes(sa.random, sizeof sa.random)));
    Cred cred = p.proc->cred();
    auto aux = [&](uint64_t type, uint64_t value) { sa.aux[sa.naux++] = {type, value}; };
    if (info.has_phdr_vaddr)
        aux(k_at_phdr, info.phdr_vaddr + bias);
    else
        sa.phdr_copy = file.slice(info.phoff, uint64_t(info.phnum) * 56);
    aux(k_at_phent, 56);
    aux(k_at_phnum, info.phnum);
    aux(k_at_pagesz, k_page);
    aux(k_at_base, 0);
    aux(k_at_flags, 0);
    aux(k_at_entry, info.entry + bias);
    aux(k_at_uid, cred.uid);
    aux(k_at_euid, cred.euid);
    aux(k_at_gid, cred.gid);
    aux(k_at_egid, cred.egid);
    aux(k_at_secure, 0);
    aux(k_at_hwcap, hwcap());
    aux(k_at_hwcap2, 0);
    aux(k_at_clktck, 100);
    aux(k_at_minsigstksz, 2048);

    auto* block = static_cast<uint8_t*>(kmem_alloc(k_arg_block));
    if (!block)
        return ENOMEM;
    auto layout = build_initial_stack(Span<uint8_t>(block, k_arg_block), stack_hi, sa);
    if (layout.ok()) {
        uint64_t bytes = layout.value().bytes;
        __builtin_memcpy(reinterpret_cast<void*>(stack_hi - bytes), block + (k_arg_block - bytes),
                         bytes);
    }
    kmem_free(block);
    if (layout.is_error())
        return Error{layout.error()};
    return Loaded{info.entry + bias, layout.value().sp};
}

void user_thread_main(void* arg) {
    auto* t = static_cast<UserThread*>(arg);
    akhyp_curlwp_set(t->lwp);
    akhyp_user_enter(&t->start);
}

// The last component of path ("/bin/hello" -> "hello").
void base_name(char* out, size_t size, const char* path) {
    const char* b = path;
    for (const char* c = path; *c; c++)
        if (*c == '/' && c[1] && c[1] != '/')
            b = c + 1;
    size_t n = 0;
    while (b[n] && b[n] != '/' && n + 1 < size) {
        out[n] = b[n];
        n++;
    }
    out[n] = 0;
}

} // namespace

void console_line(const char* fmt, ...) {
    char buf[256];
    size_t n = format(buf, sizeof buf, "anykern: ");
    va_list ap;
    va_start(ap, fmt);
    n += vformat(buf + n, sizeof buf - n, fmt, ap);
    va_end(ap);
    if (n > sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    akhyp_console_write(buf, n);
}

// Start a user thread; the caller has counted it in p.nthreads.
Result<void> start_user_thread(UserThread* t, const char* name) {
    int e = akhyp_thread_create(user_thread_main, t, name, 0, k_user_thread_stack, nullptr);
    return Result<void>(e);
}

} // namespace ak::exec

using namespace ak;
using namespace ak::exec;

extern "C" AK_EXPORT int ak_kern_exec(const void* elf, size_t len, const char* path,
                                      char* const argv[], char* const envp[]) {
    if (!(akhyp_groups() & AKHYP_GROUP_USER) || !akhyp_vm_map || !akhyp_user_enter) {
        console_line("%s: this platform cannot run executables (no hypercall user group)",
                     path ? path : "?");
        return -ENOSYS;
    }
    if (!elf || !path)
        return -EINVAL;
    ReadonlyBytes file(static_cast<const uint8_t*>(elf), len);
    ElfParse parsed = elf_parse(file);
    if (parsed.problem != ElfProblem::None) {
        console_line("%s: %s", path, elf_problem_text(parsed.problem));
        return -elf_problem_errno(parsed.problem);
    }
    Lwp* caller = curlwp_or_null();
    if (!caller)
        return -EINVAL;

    auto* p = make<ExecProc>();
    if (!p)
        return -ENOMEM;
    p->proc = caller->proc_ref();
    base_name(p->name, sizeof p->name, path);
    // readlink("/proc/self/exe"); a relative path is not recorded (EINVAL).
    (void)proc_set_exe_path(*p->proc, StringView(path));
    {
        MutexGuard g(running_lock());
        if (g_running) {
            destroy(p);
            return -EBUSY; // one program per instance (docs/linux-exec.md)
        }
        g_running = p;
    }
    auto fail = [&](int e) {
        unmap_all(*p);
        MutexGuard g(running_lock());
        g_running = nullptr;
        destroy(p);
        return -e;
    };
    if (akhyp_vm_range(AKHYP_VM_GENERAL, &p->gen_lo, &p->gen_hi) != 0 ||
        p->gen_hi - p->gen_lo < (1ull << 30)) {
        console_line("%s: the platform has no general user area", path);
        return fail(ENOMEM);
    }
    if (akhyp_vm_range(AKHYP_VM_EXEC_WINDOW, &p->win_lo, &p->win_hi) != 0)
        p->win_lo = p->win_hi = 0;
    // ak-bake puts the file's bytes in the window above the segments: keep
    // them out of user mappings.
    uintptr_t file_at = reinterpret_cast<uintptr_t>(elf);
    if (file_at >= p->win_lo && file_at < p->win_hi)
        p->win_hi = file_at & ~(k_page - 1);

    auto loaded = load(*p, file, parsed.info, path, argv, envp);
    if (loaded.is_error()) {
        console_line("%s: cannot load: errno %d", path, loaded.error());
        return fail(loaded.error());
    }

    // The main thread: tid = pid, as in Linux.
    auto* t = make<UserThread>();
    Lwp* lwp = t ? make<Lwp>(p->proc, p->proc->pid()) : nullptr;
    if (!lwp) {
        destroy(t);
        return fail(ENOMEM);
    }
    t->proc = p;
    t->lwp = lwp;
    t->tid = lwp->tid();
    lwp->m_user = t;
    t->start.rip = loaded.value().entry;
    t->start.rsp = loaded.value().sp;
    t->start.rflags = 0x202; // IF
    t->start.rdx = 0;        // no function for atexit (psABI §3.4.1)
    {
        MutexGuard g(p->lock);
        p->nthreads = 1;
    }
    if (auto r = start_user_thread(t, p->name); r.is_error()) {
        destroy(lwp);
        destroy(t);
        return fail(r.error());
    }

    int status, left;
    {
        MutexGuard g(p->lock);
        // Over at exit_group, a fatal signal or the last thread's exit.
        // The other threads are on their way out (end_process interrupts
        // them); wait for them, but not forever: one stuck in a sleep that
        // is not interruptible ends with the instance.  The state stays
        // allocated for such a thread.
        while (!p->exiting)
            p->done.wait(p->lock);
        status = p->status;
        int64_t deadline = monotonic_ns() + k_thread_exit_wait_ns;
        while (p->nthreads > 0 && p->done.wait_until(p->lock, deadline))
            ;
        left = p->nthreads;
    }
    if (left)
        console_line("%s: %d thread%s still running at exit", p->name, left, left > 1 ? "s" : "");
    return status;
}

namespace ak::exec {
namespace {
Result<void> exec_init() {
    running_lock();
    return {};
}
} // namespace
} // namespace ak::exec

AK_COMPONENT(exec, ak::InitLevel::Base, ak::exec::exec_init);
