/*
 * User-mode routines for user_test.c.  The test copies the bytes between
 * user_blob_start and user_blob_end into a user page and runs them in ring
 * 3, so everything here is position independent and talks to the "kernel"
 * (the test's upcalls) only through `syscall`.
 */
#include "user_abi.h"

/* Sixteen XMM patterns: low and high halves differ per register. */
#define XMM_LO(seed, i) ((seed) + (i) * 0x0101)
#define XMM_HI(seed, i) ((seed) + (i) * 0x0101 + 0x10000)

/* Assembler names for the patterns, so .irp can build them. */
    .set pat_rbx, PAT_RBX
    .set pat_rbp, PAT_RBP
    .set pat_rdi, PAT_RDI
    .set pat_rsi, PAT_RSI
    .set pat_rdx, PAT_RDX
    .set pat_r10, PAT_R10
    .set pat_r8, PAT_R8
    .set pat_r9, PAT_R9
    .set pat_r12, PAT_R12
    .set pat_r13, PAT_R13
    .set pat_r14, PAT_R14
    .set pat_r15, PAT_R15

    .text
    .globl user_blob_start
user_blob_start:

/* The command loop: SYS_NEXT returns an operation in %rax, an address in
 * %rdi and a value in %rsi; the result goes back in %rsi with the next
 * SYS_NEXT.  A fault during an operation reaches the test's user_trap,
 * which resumes here (a signal handler that jumps back). */
    .globl u_loop
u_loop:
    mov $SYS_NEXT, %eax
    syscall
    cmp $OP_READ, %rax
    je 1f
    cmp $OP_WRITE, %rax
    je 2f
    cmp $OP_EXEC, %rax
    je 3f
    cmp $OP_READ_FS, %rax
    je 4f
    cmp $OP_ZERO_CHECK, %rax
    je 5f
    cmp $OP_INT3, %rax
    je u_op_int3
    cmp $OP_UD2, %rax
    je 7f
    cmp $OP_CLI, %rax
    je 8f
    mov $SYS_EXIT, %eax
    syscall
    ud2
1:  mov (%rdi), %rsi
    jmp u_loop
2:  mov %rsi, (%rdi)
    jmp u_loop
3:  call *%rdi
    jmp u_loop
4:  mov %fs:(%rdi), %rsi
    jmp u_loop
5:  /* count the nonzero words of [%rdi, %rdi + %rsi) */
    lea (%rdi, %rsi), %rdx
    xor %esi, %esi
6:  cmpq $0, (%rdi)
    je 9f
    inc %rsi
9:  add $8, %rdi
    cmp %rdx, %rdi
    jb 6b
    jmp u_loop
    .globl u_op_int3
u_op_int3:
    int3
    .globl u_after_int3
u_after_int3:
    jmp u_loop
7:  ud2
8:  cli /* privileged: #GP in ring 3 */
    jmp u_loop

/* The kernel redirected a SYS_NEXT here with chosen rcx, r11 and rflags
 * (so the return was an iretq): report them with the next SYS_NEXT. */
    .globl u_flags_probe
u_flags_probe:
    pushfq
    pop %rsi
    mov %rcx, %rdi
    mov %r11, %rdx
    jmp u_loop

/* Register preservation across syscall: every GPR but rax/rcx/r11 and
 * all XMM registers hold patterns; SYS_REGS (the upcall checks what
 * arrived) returns REGS_RESULT in rax.  Then SYS_REPORT with rdi = 0 or
 * the number of the first register found changed, rsi = rsp. */
    .globl u_regs
u_regs:
    sub $16, %rsp
    .irp i, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    movabs $XMM_LO(0x5100000000000000, \i), %rax
    mov %rax, (%rsp)
    movabs $XMM_HI(0x5100000000000000, \i), %rax
    mov %rax, 8(%rsp)
    movdqu (%rsp), %xmm\i
    .endr
    add $16, %rsp
    movabs $PAT_RBX, %rbx
    movabs $PAT_RBP, %rbp
    movabs $PAT_RDI, %rdi
    movabs $PAT_RSI, %rsi
    movabs $PAT_RDX, %rdx
    movabs $PAT_R10, %r10
    movabs $PAT_R8, %r8
    movabs $PAT_R9, %r9
    movabs $PAT_R12, %r12
    movabs $PAT_R13, %r13
    movabs $PAT_R14, %r14
    movabs $PAT_R15, %r15
    mov $SYS_REGS, %eax
    syscall
    .globl u_regs_after_syscall
u_regs_after_syscall:
    mov $1, %ecx
    movabs $REGS_RESULT, %r11
    cmp %r11, %rax
    jne u_regs_bad
    .irp reg, rbx, rbp, rdi, rsi, rdx, r10, r8, r9, r12, r13, r14, r15
    inc %ecx
    movabs $pat_\reg, %r11
    cmp %r11, %\reg
    jne u_regs_bad
    .endr
    mov $100, %ecx
    sub $16, %rsp
    .irp i, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    movdqu %xmm\i, (%rsp)
    movabs $XMM_LO(0x5100000000000000, \i), %r11
    cmp %r11, (%rsp)
    jne u_regs_bad16
    movabs $XMM_HI(0x5100000000000000, \i), %r11
    cmp %r11, 8(%rsp)
    jne u_regs_bad16
    inc %ecx
    .endr
    add $16, %rsp
    xor %ecx, %ecx
    jmp u_regs_bad
u_regs_bad16:
    add $16, %rsp
u_regs_bad:
    mov %ecx, %edi
    mov %rsp, %rsi
    mov $SYS_REPORT, %eax
    syscall
    mov $SYS_EXIT, %eax
    syscall
    ud2

/* Spin in ring 3 without system calls, counting in (%rdi), until (%rdx)
 * is nonzero, with the pattern %rsi in xmm3 and rbx; SYS_REPORT 1 if the
 * XMM pattern changed (another thread's FPU state leaked in). */
    .globl u_spin
u_spin:
    movq %rsi, %xmm3
    punpcklqdq %xmm3, %xmm3
    mov %rsi, %rbx
1:  incq (%rdi)
    movq %xmm3, %rax
    cmp %rbx, %rax
    jne 2f
    pshufd $0x4e, %xmm3, %xmm4
    movq %xmm4, %rax
    cmp %rbx, %rax
    jne 2f
    cmpq $0, (%rdx)
    je 1b
    mov $SYS_REPORT, %eax
    xor %edi, %edi
    syscall
    mov $SYS_EXIT, %eax
    syscall
    ud2
2:  mov $SYS_REPORT, %eax
    mov $1, %edi
    syscall
    mov $SYS_EXIT, %eax
    syscall
    ud2

/* Fill all XMM registers from the seed %rdi, block in SYS_SLEEP, then
 * check them and SYS_REPORT 0 or 100 + the first changed register. */
    .globl u_sleeper
u_sleeper:
    mov %rdi, %rbx
    sub $16, %rsp
    .irp i, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    lea (\i * 0x0101)(%rbx), %rax
    mov %rax, (%rsp)
    lea (\i * 0x0101 + 0x10000)(%rbx), %rax
    mov %rax, 8(%rsp)
    movdqu (%rsp), %xmm\i
    .endr
    mov $SYS_SLEEP, %eax
    syscall
    mov $100, %ecx
    .irp i, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15
    movdqu %xmm\i, (%rsp)
    lea (\i * 0x0101)(%rbx), %rax
    cmp %rax, (%rsp)
    jne 1f
    lea (\i * 0x0101 + 0x10000)(%rbx), %rax
    cmp %rax, 8(%rsp)
    jne 1f
    inc %ecx
    .endr
    xor %ecx, %ecx
1:  add $16, %rsp
    mov %ecx, %edi
    mov $SYS_REPORT, %eax
    syscall
    mov $SYS_EXIT, %eax
    syscall
    ud2

/* %rdi null system calls through sysretq, then %rdi through iretq
 * (SYS_NULL_IRET: the kernel changes rcx), marking the time around each
 * run (SYS_MARK). */
    .globl u_nullsys
u_nullsys:
    mov %rdi, %rbx
    mov $SYS_MARK, %eax
    syscall
    mov %rbx, %r12
1:  mov $SYS_NULL, %eax
    syscall
    dec %r12
    jnz 1b
    mov $SYS_MARK, %eax
    syscall
    mov %rbx, %r12
2:  mov $SYS_NULL_IRET, %eax
    syscall
    dec %r12
    jnz 2b
    mov $SYS_MARK, %eax
    syscall
    mov $SYS_EXIT, %eax
    syscall
    ud2

    .globl user_blob_end
user_blob_end:

    .section .note.GNU-stack, "", @progbits
