// Signal delivery for Linux executables: the x86-64 rt_sigframe on the user
// stack, rt_sigreturn, synchronous faults as signals, system-call restart
// (docs/signals.md, "Delivery"; docs/linux-exec.md, "Signals").  The
// bookkeeping (dispositions, masks, pending sets, the alternate stack) is
// rumpkern's (ak/signal.h); this file turns it into frames and registers.
#include <ak/abi/process.h>
#include <ak/signal.h>
#include <ak/thread.h>

#include "process.h"

namespace ak::exec {

using namespace abi;

namespace {

// --- The frame (Linux x86-64 ABI: asm/sigcontext.h, asm/ucontext.h,
// arch/x86/include/asm/sigframe.h) -----------------------------------------

struct SigContext {
    uint64_t r8, r9, r10, r11, r12, r13, r14, r15;
    uint64_t rdi, rsi, rbp, rbx, rdx, rax, rcx, rsp, rip, eflags;
    uint16_t cs, gs, fs, ss;
    uint64_t err, trapno, oldmask, cr2;
    uint64_t fpstate; // struct _fpstate * (the FXSAVE image), or 0
    uint64_t reserved1[8];
};
static_assert(sizeof(SigContext) == 256);

struct UContext {
    uint64_t uc_flags;
    uint64_t uc_link;
    StackT uc_stack;
    SigContext uc_mcontext;
    uint64_t uc_sigmask; // the kernel's sigset_t
};
static_assert(sizeof(UContext) == 304);

struct RtSigframe {
    uint64_t pretcode; // sa_restorer: the handler's return address
    UContext uc;
    Siginfo info;
};
static_assert(sizeof(RtSigframe) == 440);
static_assert(__builtin_offsetof(RtSigframe, uc) == 8);
static_assert(__builtin_offsetof(RtSigframe, info) == 312);

// uc_flags: the frame saved SS and sigreturn restores it strictly (Linux's
// UC_SIGCONTEXT_SS | UC_STRICT_RESTORE_SS).  No UC_FP_XSTATE: the FPU area
// is the plain FXSAVE image (no xsave), so its sw_reserved bytes stay zero.
constexpr uint64_t k_uc_flags = 0x2 | 0x4;
// Linux's user segment selectors, reported in the frame (the platform's
// own values are its business; sigreturn never loads segments).
constexpr uint16_t k_linux_user_cs = 0x33, k_linux_user_ss = 0x2b;
constexpr uint64_t k_red_zone = 128;
constexpr size_t k_fx_size = AKHYP_USER_FPU_SIZE;
constexpr size_t k_fx_sw_reserved = 464; // bytes 464..511: software's (FXSAVE leaves them)

// RFLAGS.
constexpr uint64_t k_cf = 0x1, k_pf = 0x4, k_af = 0x10, k_zf = 0x40, k_sf = 0x80, k_tf = 0x100,
                   k_df = 0x400, k_of = 0x800, k_rf = 0x10000, k_ac = 0x40000;
// What rt_sigreturn takes from the frame (Linux's FIX_EFLAGS); the
// platform reduces rflags to the user-settable bits again on the way out.
constexpr uint64_t k_fix_eflags =
    k_ac | k_of | k_df | k_tf | k_sf | k_zf | k_af | k_pf | k_cf | k_rf;

constexpr long k_sys_rt_sigreturn = 15;

// x86 exception vectors (Intel SDM vol. 3 §6.3.1).
constexpr int k_vec_de = 0, k_vec_db = 1, k_vec_bp = 3, k_vec_ud = 6, k_vec_ss = 12, k_vec_gp = 13,
              k_vec_pf = 14, k_vec_mf = 16, k_vec_ac = 17, k_vec_xm = 19;
constexpr uint64_t k_pf_user = 0x4;

// si_codes the trap handler uses (asm-generic/siginfo.h).
constexpr int k_fpe_fltdiv = 3, k_fpe_fltovf = 4, k_fpe_fltund = 5, k_fpe_fltres = 6,
              k_fpe_fltinv = 7, k_bus_adraln = 1;

constexpr uint64_t align_down(uint64_t v, uint64_t a) {
    return v & ~(a - 1);
}

// The si_code of an x87 (#MF) or SSE (#XM) exception from the unmasked
// exception flags, in Linux's order (fpu__exception_code).
int fpu_code(int vector) {
    alignas(16) uint8_t fx[k_fx_size];
    akhyp_user_fpu_save(fx);
    uint32_t pending;
    if (vector == k_vec_mf) {
        uint16_t cw, sw;
        __builtin_memcpy(&cw, fx, 2);
        __builtin_memcpy(&sw, fx + 2, 2);
        pending = sw & ~cw & 0x3f;
    } else {
        uint32_t mxcsr;
        __builtin_memcpy(&mxcsr, fx + 24, 4);
        pending = mxcsr & ~(mxcsr >> 7) & 0x3f;
    }
    if (pending & 0x01)
        return k_fpe_fltinv;
    if (pending & 0x04)
        return k_fpe_fltdiv;
    if (pending & 0x08)
        return k_fpe_fltovf;
    if (pending & 0x12)
        return k_fpe_fltund;
    if (pending & 0x20)
        return k_fpe_fltres;
    return 0;
}

bool page_mapped(ExecProc& p, uint64_t addr) {
    MutexGuard g(p.lock);
    return p.map.find(addr) != nullptr;
}

// Build the frame for sig on the user stack and point regs at the handler.
// False when the frame cannot be written (Linux then forces SIGSEGV).
bool setup_frame(UserThread* t, akhyp_uregs* regs, const SigInfo& info, const SigAction& act,
                 const FaultInfo* fault) {
    ExecProc& p = *t->proc;
    Lwp& l = *t->lwp;
    if (!(act.flags & k_sa_restorer))
        return false; // x86-64 has no default return path (no vDSO)

    // Linux's get_sigframe: skip the red zone; the alternate stack when
    // SA_ONSTACK asks for it and the thread is not on it already; the FPU
    // image 64-byte aligned below; the frame so that (rsp + 8) is 16-byte
    // aligned at handler entry, as after a call.
    StackT altstack = signal_altstack(l);
    uint64_t sp = regs->rsp - k_red_zone;
    bool onstack = signal_on_altstack(l, regs->rsp); // a nested signal
    if ((act.flags & k_sa_onstack) && !(altstack.ss_flags & k_ss_disable) && altstack.ss_size &&
        !signal_on_altstack(l, sp)) {
        sp = altstack.ss_sp + altstack.ss_size;
        onstack = true;
    }
    uint64_t fx_addr = align_down(sp - k_fx_size, 64);
    uint64_t frame_addr = align_down(fx_addr - sizeof(RtSigframe), 16) - 8;
    if (frame_addr > sp || (onstack && !signal_on_altstack(l, frame_addr)))
        return false; // wrapped, or would overflow the alternate stack

    alignas(16) uint8_t fx[k_fx_size];
    akhyp_user_fpu_save(fx);
    __builtin_memset(fx + k_fx_sw_reserved, 0, k_fx_size - k_fx_sw_reserved);

    RtSigframe f;
    __builtin_memset(&f, 0, sizeof f);
    f.pretcode = act.restorer;
    f.uc.uc_flags = k_uc_flags;
    f.uc.uc_stack = altstack;
    SigContext& sc = f.uc.uc_mcontext;
    sc.r8 = regs->r8, sc.r9 = regs->r9, sc.r10 = regs->r10, sc.r11 = regs->r11;
    sc.r12 = regs->r12, sc.r13 = regs->r13, sc.r14 = regs->r14, sc.r15 = regs->r15;
    sc.rdi = regs->rdi, sc.rsi = regs->rsi, sc.rbp = regs->rbp, sc.rbx = regs->rbx;
    sc.rdx = regs->rdx, sc.rax = regs->rax, sc.rcx = regs->rcx, sc.rsp = regs->rsp;
    sc.rip = regs->rip, sc.eflags = regs->rflags;
    sc.cs = k_linux_user_cs;
    sc.ss = k_linux_user_ss;
    if (fault && fault->signo == info.signo) {
        sc.trapno = static_cast<uint64_t>(fault->trapno);
        sc.err = fault->err;
        sc.cr2 = fault->cr2;
    }
    uint64_t mask = signal_frame_mask(l);
    sc.oldmask = mask;
    sc.fpstate = fx_addr;
    f.uc.uc_sigmask = mask;
    signal_siginfo(info, &f.info);

    if (!copy_to_user(p, fx_addr, fx, sizeof fx) || !copy_to_user(p, frame_addr, &f, sizeof f)) {
        // The mask signal_frame_mask took from an interrupted rt_sigsuspend
        // is not lost: the caller's mask comes back with it.
        signal_set_mask(l, mask);
        return false;
    }

    if (altstack.ss_flags & static_cast<int32_t>(k_ss_autodisarm))
        signal_disarm_altstack(l);
    signal_handler_entered(l, info.signo, act);

    // Linux's handler entry: rdi = signo, rsi = &info, rdx = &uc (for
    // every handler, SA_SIGINFO or not), rax = 0 (no vector registers in
    // use for a variadic call), DF/TF/RF clear, a clean FPU state.
    regs->rdi = static_cast<uint64_t>(info.signo);
    regs->rsi = frame_addr + __builtin_offsetof(RtSigframe, info);
    regs->rdx = frame_addr + __builtin_offsetof(RtSigframe, uc);
    regs->rax = 0;
    regs->rsp = frame_addr;
    regs->rip = act.handler;
    regs->rflags &= ~(k_df | k_tf | k_rf);
    akhyp_user_fpu_restore(nullptr);
    return true;
}

// The frame could not be built: Linux's force_sigsegv.  A SIGSEGV handler
// whose own frame fails is reset first, so the process then dies.
void force_sigsegv(UserThread* t, int sig) {
    if (sig == k_sigsegv) {
        SigAction dfl{};
        signal_set_action(k_sigsegv, &dfl, nullptr);
    }
    signal_post_fault(*t->lwp, k_sigsegv, k_si_kernel, 0);
}

} // namespace

bool post_fault(UserThread* t, const akhyp_uregs& regs, int vector, uint64_t error, uint64_t addr,
                FaultInfo* out) {
    int sig, code = k_si_kernel;
    uint64_t fault_addr = 0;
    switch (vector) {
    case k_vec_pf:
        // Linux decides by the mapping, not the error code: an address in
        // no mapping (NULL, the kernel's) is MAPERR, a mapping that does
        // not allow the access (PROT_NONE, read-only, no exec) ACCERR.
        sig = k_sigsegv;
        code = page_mapped(*t->proc, addr) ? k_segv_accerr : k_segv_maperr;
        fault_addr = addr;
        break;
    case k_vec_ud:
        sig = k_sigill;
        code = k_ill_illopn;
        fault_addr = regs.rip;
        break;
    case k_vec_de:
        sig = k_sigfpe;
        code = k_fpe_intdiv;
        fault_addr = regs.rip;
        break;
    case k_vec_mf:
    case k_vec_xm:
        sig = k_sigfpe;
        code = fpu_code(vector);
        fault_addr = regs.rip;
        break;
    case k_vec_db:
        sig = k_sigtrap;
        code = k_trap_brkpt;
        break;
    case k_vec_bp: // int3: SI_KERNEL, as Linux's do_int3_user sends it
        sig = k_sigtrap;
        break;
    case k_vec_ac:
        sig = k_sigbus;
        code = k_bus_adraln;
        break;
    case k_vec_ss:
        sig = k_sigbus;
        break;
    case k_vec_gp:
    default:
        sig = k_sigsegv; // #GP and anything unexpected: SI_KERNEL
        break;
    }
    out->signo = sig;
    out->trapno = vector;
    out->err = vector == k_vec_pf ? (error & 0xffffffffu) | k_pf_user : error;
    out->cr2 = vector == k_vec_pf ? addr : 0;
    out->addr = fault_addr;
    signal_post_fault(*t->lwp, sig, code, fault_addr);
    return true;
}

void deliver_signals(UserThread* t, akhyp_uregs* regs, const FaultInfo* fault) {
    Lwp& l = *t->lwp;
    // System-call restart applies to the call that just returned, and only
    // once (a second frame stacks on the first's registers).  orig_rax is
    // -1 for traps and after rt_sigreturn.
    long nr = static_cast<long>(regs->orig_rax);
    bool interrupted = nr >= 0 && nr != k_sys_rt_sigreturn &&
                       static_cast<long>(regs->rax) == -static_cast<long>(EINTR);
    if (!interrupted && !signal_maybe_deliverable(l))
        return; // the common case, without a lock
    auto restart = [&] {
        regs->rax = regs->orig_rax;
        regs->rip -= 2; // back onto the `syscall` instruction (0f 05)
    };
    // Each pass either builds a frame or ends the process; the bound only
    // guards against a signal that reappears forever (a frame that keeps
    // failing for SIGSEGV ends in the default action first).
    for (int pass = 0; pass < 2 * k_nsig; pass++) {
        SigInfo info;
        SigAction act;
        if (!signal_dequeue(l, &info, &act)) {
            // Interrupted, but nothing to run: Linux restarts the call
            // (-ERESTARTSYS and friends without a handler), except the
            // sleeps and waits whose timeout would start again.
            if (interrupted && signal_restart_allowed(nr))
                restart();
            return;
        }
        if (act.handler == k_sig_dfl)
            kill_process(t, info.signo, *regs,
                         fault && fault->signo == info.signo ? fault : nullptr);
        if (interrupted) {
            if ((act.flags & k_sa_restart) && signal_restart_allowed(nr))
                restart();
            interrupted = false;
        }
        if (!setup_frame(t, regs, info, act, fault))
            force_sigsegv(t, info.signo);
    }
}

long sys_rt_sigreturn(UserThread* t, akhyp_uregs* regs) {
    ExecProc& p = *t->proc;
    Lwp& l = *t->lwp;
    // The handler's `ret` popped pretcode: the frame is 8 bytes below.
    uint64_t frame_addr = regs->rsp - 8;
    RtSigframe f;
    alignas(16) uint8_t fx[k_fx_size];
    const SigContext& sc = f.uc.uc_mcontext;
    if (!copy_from_user(p, &f, frame_addr, sizeof f) ||
        (sc.fpstate && !copy_from_user(p, fx, sc.fpstate, sizeof fx))) {
        // Linux's badframe: SIGSEGV, registers untouched.
        signal_post_fault(l, k_sigsegv, k_si_kernel, 0);
        regs->orig_rax = ~uint64_t(0);
        return static_cast<long>(regs->rax);
    }
    signal_set_mask(l, f.uc.uc_sigmask);
    regs->r8 = sc.r8, regs->r9 = sc.r9, regs->r10 = sc.r10, regs->r11 = sc.r11;
    regs->r12 = sc.r12, regs->r13 = sc.r13, regs->r14 = sc.r14, regs->r15 = sc.r15;
    regs->rdi = sc.rdi, regs->rsi = sc.rsi, regs->rbp = sc.rbp, regs->rbx = sc.rbx;
    regs->rdx = sc.rdx, regs->rax = sc.rax, regs->rcx = sc.rcx, regs->rsp = sc.rsp;
    regs->rip = sc.rip;
    regs->rflags = (regs->rflags & ~k_fix_eflags) | (sc.eflags & k_fix_eflags);
    // A non-canonical rip comes back as #GP from the platform (SIGSEGV).
    akhyp_user_fpu_restore(sc.fpstate ? fx : nullptr);
    // uc_stack re-arms an SS_AUTODISARM stack; checked against the
    // restored stack pointer, errors ignored (Linux's restore_altstack).
    signal_note_user_sp(l, regs->rsp);
    (void)signal_set_altstack(l, f.uc.uc_stack);
    // No restart processing for the restored registers (Linux sets
    // orig_ax = -1), and the call's result is the restored rax.
    regs->orig_rax = ~uint64_t(0);
    return static_cast<long>(regs->rax);
}

} // namespace ak::exec
