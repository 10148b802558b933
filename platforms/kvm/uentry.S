/*
 * User mode: the `syscall` entry and the two ways back to ring 3.
 *
 * Both work on a struct akhyp_uregs (hypercall.h), 20 words:
 *   0 r15  8 r14  16 r13  24 r12  32 rbp  40 rbx  48 r11  56 r10
 *   64 r9  72 r8  80 rax  88 rcx  96 rdx  104 rsi  112 rdi  120 orig_rax
 *   128 rip  136 rflags  144 rsp  152 fs_base
 * Single CPU: the user %rsp is parked in a global while interrupts are
 * off (IA32_FMASK clears IF); SMP will need a per-CPU slot (%gs).  The
 * kernel does not use %gs, so there is no swapgs.
 */

#define UREGS_RIP 128
#define UREGS_RFLAGS 136
#define UREGS_RSP 144
#define UREGS_FS_BASE 152
#define UREGS_ORIG_RAX 120
#define USER_CS 0x23
#define USER_SS 0x1b

    .text

/* IA32_LSTAR.  CPL 0, CS 0x08, SS 0x10, IF/DF/TF/AC/NT clear, %rcx = user
 * rip, %r11 = user rflags, still on the user stack. */
    .p2align 4
    .globl ak_syscall_entry
ak_syscall_entry:
    mov %rsp, ak_user_rsp_scratch(%rip)
    mov ak_kstack_top(%rip), %rsp
    test %rsp, %rsp
    jz syscall_from_kernel_thread
    pushq $0                        /* fs_base: ak_user_syscall fills it in */
    pushq ak_user_rsp_scratch(%rip) /* rsp */
    push %r11                       /* rflags */
    push %rcx                       /* rip */
    push %rax                       /* orig_rax */
    push %rdi
    push %rsi
    push %rdx
    push %rcx
    push %rax
    push %r8
    push %r9
    push %r10
    push %r11
    push %rbx
    push %rbp
    push %r12
    push %r13
    push %r14
    push %r15
    xor %ebp, %ebp /* ends the kernel's frame-pointer chain */
    mov %rsp, %rdi
    sti
    call ak_user_syscall /* returns with interrupts off; %eax != 0: sysret */
    test %eax, %eax
    jz ak_user_iret_exit
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    pop %r11 /* == rflags, sanitized */
    pop %r10
    pop %r9
    pop %r8
    pop %rax
    pop %rcx /* == rip, canonical and below the user limit */
    pop %rdx
    pop %rsi
    pop %rdi
    mov (UREGS_RSP - UREGS_ORIG_RAX)(%rsp), %rsp
    sysretq

/* A thread that never entered user mode executed `syscall` (ring-0 code:
 * there is no kernel stack to take); report it like a fatal exception. */
syscall_from_kernel_thread:
    mov ak_user_rsp_scratch(%rip), %rsp
    and $~15, %rsp
    mov %rcx, %rdi
    call ak_syscall_from_ring0
    ud2

/* void ak_user_resume(struct akhyp_uregs* regs): interrupts off, regs
 * sanitized (ak_user_prepare_return); never returns. */
    .globl ak_user_resume
ak_user_resume:
    mov %rdi, %rsp
ak_user_iret_exit:
    /* Turn orig_rax..fs_base into the iretq frame rip, cs, rflags, rsp, ss. */
    mov UREGS_RIP(%rsp), %rax
    mov %rax, UREGS_ORIG_RAX(%rsp)
    movq $USER_CS, UREGS_RIP(%rsp)
    movq $USER_SS, UREGS_FS_BASE(%rsp)
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbp
    pop %rbx
    pop %r11
    pop %r10
    pop %r9
    pop %r8
    pop %rax
    pop %rcx
    pop %rdx
    pop %rsi
    pop %rdi
    iretq

/*
 * int akhyp_user_guard(long (*fn)(void *), void *arg, long *result,
 *                      uint64_t *fault_addr)
 * Frame (from %rbp): -8..-40 the callee-saved registers, -48 result,
 * -56 fault_addr, -64/-72 the enclosing guard (ak_user_guard_enter saves
 * it there), -80 the status; %rsp = %rbp - 80 while fn runs, and that is
 * the stack pointer ak_user_guard_landing resumes with.
 */
    .globl akhyp_user_guard
akhyp_user_guard:
    push %rbp
    mov %rsp, %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    push %rdx
    push %rcx
    sub $24, %rsp
    mov %rdi, %r12
    mov %rsi, %r13
    lea -72(%rbp), %rdi
    mov %rsp, %rsi
    call ak_user_guard_enter
    mov %r13, %rdi
    call *%r12
    mov -48(%rbp), %rdx
    mov %rax, (%rdx)
    movl $0, -80(%rbp)
    jmp guard_leave

/* From the page-fault handler (user_guard_recover): %rsp = the guard's
 * %rsp, %eax = EFAULT or ENOTRECOVERABLE, %rdx = the faulting address;
 * the other registers are whatever the abandoned code left. */
    .globl ak_user_guard_landing
ak_user_guard_landing:
    lea 80(%rsp), %rbp
    mov %eax, -80(%rbp)
    mov -56(%rbp), %rcx
    test %rcx, %rcx
    jz guard_leave
    mov %rdx, (%rcx)
guard_leave:
    lea -72(%rbp), %rdi
    call ak_user_guard_leave
    mov -80(%rbp), %eax
    lea -40(%rbp), %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

    .section .note.GNU-stack, "", @progbits
