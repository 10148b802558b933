// User mode (hypercall user group): ring 3 in the kernel's address space.
//
// Entries from user mode: `syscall` (uentry.S, IA32_LSTAR), and interrupts
// and exceptions, whose stubs (entry.S) move the frame from the IST stack
// to the top of the thread's kernel stack (ak_kstack_top, set on every
// thread switch).  Interrupts from user mode are handled like any other
// (the timer preempts a thread spinning in ring 3); exceptions go to the
// kernel's user_trap upcall, except page faults the platform resolves
// (first touches of demand-zero pages, vm.cpp).  Both upcalls run with
// interrupts on and may block.
//
// The way back: a thread's user registers live in a struct akhyp_uregs on
// its kernel stack; before returning, prepare_return reduces rflags to the
// bits user mode may set and picks sysretq (the registers are what
// `syscall` left: rcx == rip, r11 == rflags) or iretq.
//
// FPU/SSE: the kernel and the platform never touch these registers
// (-mgeneral-regs-only), so the live FPU state is always the user's; the
// scheduler's per-thread fxsave on every switch keeps it per thread, for a
// thread preempted in ring 3 and for one blocked in an upcall alike.
#include "platform.h"

extern "C" void ak_syscall_entry();
extern "C" [[noreturn]] void ak_user_resume(akhyp_uregs* regs);
extern "C" char ak_user_guard_landing[];

// Used by the entry stubs.  Single CPU: one of each.
extern "C" {
uint64_t ak_kstack_top;       // current thread's kernel stack top; 0: never entered user mode
uint64_t ak_user_rsp_scratch; // the user %rsp during the first instructions of a syscall
}

namespace akkvm {
namespace {

constexpr uint32_t k_msr_efer = 0xc0000080, k_msr_star = 0xc0000081, k_msr_lstar = 0xc0000082,
                   k_msr_fmask = 0xc0000084, k_msr_fs_base = 0xc0000100;
constexpr uint64_t k_efer_sce = 0x1, k_efer_nxe = 0x800;
constexpr uint64_t k_cr4_tsd = 0x4, k_cr4_fsgsbase = 0x10000, k_cr4_smep = 0x100000,
                   k_cr4_smap = 0x200000, k_cr4_pke = 0x400000;
constexpr uint64_t k_kernel_cs = 0x08, k_user_cs = 0x23, k_user_ss = 0x1b;

// RFLAGS bits.
constexpr uint64_t k_cf = 0x1, k_fixed1 = 0x2, k_pf = 0x4, k_af = 0x10, k_zf = 0x40, k_sf = 0x80,
                   k_tf = 0x100, k_if = 0x200, k_df = 0x400, k_of = 0x800, k_nt = 0x4000,
                   k_ac = 0x40000, k_id = 0x200000;
// What user mode may set (popf can change exactly these at CPL 3, IOPL 0);
// IOPL, NT, RF, VM, VIF/VIP never reach user mode from the kernel.
constexpr uint64_t k_user_flags =
    k_cf | k_pf | k_af | k_zf | k_sf | k_tf | k_df | k_of | k_ac | k_id;

// sysretq only to addresses below the last user page: this is Linux's
// rule, which also keeps clear of the Intel erratum where a non-canonical
// %rcx makes sysret fault in ring 0.
constexpr uint64_t k_sysret_limit = (uint64_t(1) << 47) - k_page_size;

const akhyp_upcalls* g_user_upcalls;
uint32_t g_mxcsr_mask = 0xffbf;

bool canonical(uint64_t va) {
    return uint64_t(int64_t(va << 16) >> 16) == va;
}

void (*user_syscall_upcall())(akhyp_uregs*) {
    return g_user_upcalls ? g_user_upcalls->user_syscall : nullptr;
}

[[noreturn]] void end_user_thread() {
    asm volatile("sti" ::: "memory");
    akhyp_thread_exit();
}

// An exception for the kernel.  Interrupts off on entry and on return.
void deliver_trap(akhyp_uregs* regs, int vector, uint64_t error, uint64_t addr) {
    auto trap = g_user_upcalls ? g_user_upcalls->user_trap : nullptr;
    if (!trap) {
        kprintf("ak-kvm: thread '%s': exception %d (%s) in user mode, error 0x%lx, addr %p, "
                "rip %p; no user_trap upcall: thread ended\n",
                current_thread_name(), vector,
                vector < 32 ? exception_name(uint64_t(vector)) : "akhyp_user_interrupt", error,
                reinterpret_cast<void*>(addr), reinterpret_cast<void*>(regs->rip));
        end_user_thread();
    }
    regs->fs_base = sched_fs_base(); // may have changed since the entry
    asm volatile("sti" ::: "memory");
    trap(regs, vector, error, addr);
    asm volatile("cli" ::: "memory");
}

// Ready regs for the return to user mode.  Interrupts off on entry and on
// return.  A non-canonical rip would make iretq fault in ring 0: the
// kernel gets it as the #GP the user would have taken.  A pending
// akhyp_user_interrupt is delivered here too, as the pseudo trap
// AKHYP_USER_TRAP_INTERRUPT.  Returns whether sysretq may be used.
bool prepare_return(akhyp_uregs* regs) {
    for (;;) {
        if (!canonical(regs->rip)) {
            regs->orig_rax = ~uint64_t(0); // a fault, not a system call (no restart)
            deliver_trap(regs, 13, 0, 0);
        } else if (sched_take_interrupt()) {
            regs->orig_rax = ~uint64_t(0);
            deliver_trap(regs, AKHYP_USER_TRAP_INTERRUPT, 0, 0);
        } else {
            break;
        }
    }
    uint64_t flags = (regs->rflags & k_user_flags) | k_if | k_fixed1;
    bool sysret = regs->rcx == regs->rip && regs->r11 == regs->rflags && flags == regs->rflags &&
                  !(flags & k_tf) && regs->rip < k_sysret_limit;
    regs->rflags = flags;
    return sysret;
}

void uregs_from_frame(akhyp_uregs* r, const TrapFrame* f) {
    r->r15 = f->r15, r->r14 = f->r14, r->r13 = f->r13, r->r12 = f->r12;
    r->rbp = f->rbp, r->rbx = f->rbx, r->r11 = f->r11, r->r10 = f->r10;
    r->r9 = f->r9, r->r8 = f->r8, r->rax = f->rax, r->rcx = f->rcx;
    r->rdx = f->rdx, r->rsi = f->rsi, r->rdi = f->rdi;
    r->orig_rax = ~uint64_t(0); // not a system call (Linux's -1)
    r->rip = f->rip, r->rflags = f->rflags, r->rsp = f->rsp;
    r->fs_base = sched_fs_base();
}

void frame_from_uregs(TrapFrame* f, const akhyp_uregs* r) {
    f->r15 = r->r15, f->r14 = r->r14, f->r13 = r->r13, f->r12 = r->r12;
    f->rbp = r->rbp, f->rbx = r->rbx, f->r11 = r->r11, f->r10 = r->r10;
    f->r9 = r->r9, f->r8 = r->r8, f->rax = r->rax, f->rcx = r->rcx;
    f->rdx = r->rdx, f->rsi = r->rsi, f->rdi = r->rdi;
    f->rip = r->rip, f->cs = k_user_cs, f->rflags = r->rflags;
    f->rsp = r->rsp, f->ss = k_user_ss;
}

} // namespace

void user_init() {
    uint32_t r[4];
    cpuid(0x80000000, 0, r);
    bool nx = false;
    if (r[0] >= 0x80000001) {
        cpuid(0x80000001, 0, r);
        nx = r[3] & (1u << 20);
    }
    uint64_t efer = rdmsr(k_msr_efer) | k_efer_sce;
    if (nx)
        efer |= k_efer_nxe;
    wrmsr(k_msr_efer, efer);
    // The kernel touches user memory directly: no SMEP/SMAP.  User mode
    // changes its FS base only through the kernel (no FSGSBASE), and may
    // read the TSC.  Whatever the firmware left, these are off.
    uint64_t cr4;
    asm volatile("mov %%cr4, %0" : "=r"(cr4));
    cr4 &= ~(k_cr4_tsd | k_cr4_fsgsbase | k_cr4_smep | k_cr4_smap | k_cr4_pke);
    asm volatile("mov %0, %%cr4" ::"r"(cr4) : "memory");
    // syscall: CS = STAR[47:32] = 0x08, SS = 0x10.  sysretq: CS =
    // STAR[63:48] + 16 = 0x20 | 3, SS = STAR[63:48] + 8 = 0x18 | 3 (boot.S).
    wrmsr(k_msr_star, (uint64_t(0x10) << 48) | (k_kernel_cs << 32));
    wrmsr(k_msr_lstar, reinterpret_cast<uint64_t>(ak_syscall_entry));
    wrmsr(k_msr_fmask, k_if | k_df | k_tf | k_ac | k_nt);
    // MXCSR_MASK (FXSAVE byte 28; 0 means the architectural 0xffbf).
    alignas(16) uint8_t area[512];
    asm volatile("fxsave64 %0" : "=m"(area));
    uint32_t mask;
    __builtin_memcpy(&mask, area + 28, 4);
    if (mask)
        g_mxcsr_mask = mask;
    vm_init(nx);
}

void user_set_upcalls(uint32_t version, const akhyp_upcalls* upcalls) {
    // user_syscall and user_trap exist in the struct of kernels >= 1.4.
    g_user_upcalls = upcalls && (version & 0xffff) >= 4 ? upcalls : nullptr;
}

void user_switch_in(uint64_t kstack_top, uint64_t fs_base) {
    ak_kstack_top = kstack_top;
    tss_set_rsp0(kstack_top);
    wrmsr(k_msr_fs_base, fs_base);
}

bool user_exception(TrapFrame* f, uint64_t cr2) {
    int vector = int(f->vector);
    if (vector == 2 || vector == 8 || vector == 18)
        return false; // NMI, double fault, machine check: the machine's, not the user's
    uint64_t error = f->error, addr = 0;
    if (vector == 14) {
        addr = cr2;
        switch (vm_resolve_fault(cr2, error)) {
        case FaultResult::Resolved:
            return true;
        case FaultResult::NoMemory:
            error |= AKHYP_USER_TRAP_NOMEM;
            break;
        case FaultResult::NotMapped:
        case FaultResult::Denied:
            break;
        }
    }
    akhyp_uregs regs;
    uregs_from_frame(&regs, f);
    deliver_trap(&regs, vector, error, addr);
    prepare_return(&regs);
    frame_from_uregs(f, &regs);
    return true;
}

void user_interrupt_return(TrapFrame* f) {
    if (!sched_take_interrupt())
        return;
    akhyp_uregs regs;
    uregs_from_frame(&regs, f);
    deliver_trap(&regs, AKHYP_USER_TRAP_INTERRUPT, 0, 0);
    prepare_return(&regs);
    frame_from_uregs(f, &regs);
}

bool user_guard_recover(TrapFrame* f, uint64_t addr) {
    bool more_locks;
    uint64_t sp = sched_guard_sp(&more_locks);
    if (!sp || !(f->rflags & k_if))
        return false;
    // uentry.S's landing: %rsp = the guard's, %rax = the result, %rdx =
    // the address; the callee-saved registers come from the guard's frame.
    f->rip = reinterpret_cast<uint64_t>(ak_user_guard_landing);
    f->rsp = sp;
    f->rax = more_locks ? 131 /* ENOTRECOVERABLE */ : 14 /* EFAULT */;
    f->rdx = addr;
    f->rflags &= ~(k_tf | k_df | k_ac);
    return true;
}

} // namespace akkvm

using namespace akkvm;

extern "C" void ak_user_guard_enter(uint64_t* save, uint64_t sp) {
    sched_guard_enter(save, sp);
}

extern "C" void ak_user_guard_leave(const uint64_t* save) {
    sched_guard_leave(save);
}

// From ak_syscall_entry, on the kernel stack, interrupts on.  Returns with
// interrupts off; nonzero when sysretq may return to user mode.
extern "C" int ak_user_syscall(akhyp_uregs* regs) {
    regs->fs_base = sched_fs_base();
    auto syscall = user_syscall_upcall();
    if (!syscall) {
        kprintf("ak-kvm: thread '%s': system call %lu with no user_syscall upcall: thread "
                "ended\n",
                current_thread_name(), regs->orig_rax);
        end_user_thread();
    }
    syscall(regs);
    asm volatile("cli" ::: "memory");
    return prepare_return(regs);
}

extern "C" [[noreturn]] void ak_syscall_from_ring0(uint64_t rip) {
    panic("syscall instruction at %p in thread '%s', which is not in user mode",
          reinterpret_cast<void*>(rip), current_thread_name());
}

extern "C" void akhyp_user_enter(const akhyp_uregs* regs) {
    akhyp_uregs r = *regs;
    asm volatile("cli" ::: "memory");
    user_switch_in(sched_enter_user(r.fs_base), r.fs_base);
    asm volatile(
        "fxrstor64 %0" ::"m"(*reinterpret_cast<const uint8_t(*)[512]>(sched_fpu_template())));
    prepare_return(&r);
    ak_user_resume(&r);
}

extern "C" int akhyp_user_interrupt(void* lwp) {
    return lwp && sched_request_interrupt(lwp) ? 0 : 3; // ESRCH
}

extern "C" void akhyp_user_set_tls(uint64_t fs_base) {
    IrqGuard guard;
    sched_set_fs_base(fs_base);
    wrmsr(k_msr_fs_base, fs_base);
}

extern "C" void akhyp_user_fpu_save(void* area) {
    alignas(16) uint8_t buf[AKHYP_USER_FPU_SIZE];
    asm volatile("fxsave64 %0" : "=m"(buf));
    __builtin_memcpy(area, buf, sizeof buf);
}

extern "C" void akhyp_user_fpu_restore(const void* area) {
    alignas(16) uint8_t buf[AKHYP_USER_FPU_SIZE];
    __builtin_memcpy(buf, area ? area : sched_fpu_template(), sizeof buf);
    // MXCSR (byte 24): a reserved bit set would make fxrstor fault here.
    uint32_t mxcsr;
    __builtin_memcpy(&mxcsr, buf + 24, 4);
    mxcsr &= g_mxcsr_mask;
    __builtin_memcpy(buf + 24, &mxcsr, 4);
    asm volatile("fxrstor64 %0" ::"m"(buf));
}
