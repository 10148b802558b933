/*
 * Interrupt/exception entry stubs and the thread switch.
 *
 * Every vector runs on an IST stack so that an interrupt taken while a
 * ring-0 application runs never writes below the application's %rsp (its
 * 128-byte red zone).  Exceptions taken in ring 0 stay on their IST stack
 * (they are fatal, except page faults on demand-zero user memory, which
 * are resolved there without blocking).
 * Device/timer interrupts (vectors 32-255) copy their hardware frame from
 * IST1 to the interrupted stack, 128 bytes below the interrupted %rsp and
 * 16-byte aligned, and continue there: the handler may then switch threads
 * (preemption) without the IST stack being reused under it.
 *
 * Anything taken in user mode (ring 3: the saved CS has RPL 3) moves its
 * frame to the top of the thread's kernel stack instead (ak_kstack_top,
 * kept by the scheduler): the user stack is never written, and a user
 * exception may block in its upcall without holding the IST stack.
 */

#define PUSH_GPRS \
    push %rax; push %rbx; push %rcx; push %rdx; push %rbp; push %rsi; push %rdi; \
    push %r8; push %r9; push %r10; push %r11; push %r12; push %r13; push %r14; push %r15
#define POP_GPRS \
    pop %r15; pop %r14; pop %r13; pop %r12; pop %r11; pop %r10; pop %r9; pop %r8; \
    pop %rdi; pop %rsi; pop %rbp; pop %rdx; pop %rcx; pop %rbx; pop %rax

/* Copy the 9 words at %rsp (saved %rbx, %rax, then vector, error code
 * and the hardware frame) to just below %rax (16-byte aligned) and go on
 * there with %rax and %rbx restored: the stack then holds vector, error,
 * rip, cs, rflags, rsp, ss, as on the IST stack. */
.macro move_frame_to_rax
    .irp off, 64, 56, 48, 40, 32, 24, 16, 8, 0
    mov \off(%rsp), %rbx
    mov %rbx, (\off - 72)(%rax)
    .endr
    lea -72(%rax), %rsp
    pop %rbx
    pop %rax
.endm

    .text

/* 32 exception stubs, 16 bytes apart; the CPU pushes an error code for
 * vectors 8, 10-14, 17, 21, 29 and 30, the others push a 0. */
    .p2align 4
    .globl ak_exception_stubs
ak_exception_stubs:
    .set vec, 0
    .rept 32
    .p2align 4
    .if (vec == 8) || (vec >= 10 && vec <= 14) || (vec == 17) || (vec == 21) || (vec == 29) || (vec == 30)
    .else
    pushq $0
    .endif
    pushq $vec
    jmp exception_common
    .set vec, vec + 1
    .endr

/* Vectors 32-255, 16 bytes apart. */
    .p2align 4
    .globl ak_irq_stubs
ak_irq_stubs:
    .set vec, 32
    .rept 224
    .p2align 4
    pushq $0
    pushq $vec
    jmp irq_common
    .set vec, vec + 1
    .endr

exception_common:
    /* IST2 (IST3 for NMI, #DF, #MC): 0 vector, 8 error, 16 rip, 24 cs */
    testb $3, 24(%rsp)
    jz 1f
    cmpq $8, (%rsp) /* NMI, #DF and #MC are fatal: they stay on IST3 */
    je 1f
    cmpq $2, (%rsp)
    je 1f
    cmpq $18, (%rsp)
    je 1f
    push %rax
    push %rbx
    mov ak_kstack_top(%rip), %rax
    move_frame_to_rax
1:  cld
    PUSH_GPRS
    mov %rsp, %rdi
    call ak_exception
    POP_GPRS
    add $16, %rsp
    iretq

irq_common:
    /* IST1: 0 vector, 8 error, 16 rip, 24 cs, 32 rflags, 40 rsp, 48 ss */
    push %rax
    push %rbx
    testb $3, 40(%rsp)
    jnz 1f
    mov 56(%rsp), %rax
    sub $128, %rax
    and $~15, %rax
    jmp 2f
1:  mov ak_kstack_top(%rip), %rax /* from user mode: the kernel stack */
2:  move_frame_to_rax
    /* Now on the interrupted (or kernel) stack, same layout as on IST1. */
    cld
    PUSH_GPRS
    mov %rsp, %rdi
    call ak_irq_dispatch
    POP_GPRS
    add $16, %rsp
    iretq

/* void ak_switch_stack(uint64_t *save_sp, uint64_t new_sp)
 * Saves the callee-saved registers on the current stack, stores %rsp in
 * *save_sp and resumes the thread whose stack is new_sp. */
    .globl ak_switch_stack
ak_switch_stack:
    push %rbp
    push %rbx
    push %r12
    push %r13
    push %r14
    push %r15
    mov %rsp, (%rdi)
    mov %rsi, %rsp
    pop %r15
    pop %r14
    pop %r13
    pop %r12
    pop %rbx
    pop %rbp
    ret

/* First code of a new thread: %r12 = its Thread. */
    .globl ak_thread_trampoline
ak_thread_trampoline:
    mov %r12, %rdi
    call ak_thread_start
    ud2

    .section .note.GNU-stack, "", @progbits
