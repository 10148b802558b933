/* The system calls and operations between user_code.S (ring 3) and
 * user_test.c (its "kernel"): plain numbers, usable from C and assembly. */
#ifndef KVM_TEST_USER_ABI_H
#define KVM_TEST_USER_ABI_H

#define SYS_NEXT 1000      /* command loop: next operation in rax, rdi, rsi */
#define SYS_EXIT 1001      /* end the thread */
#define SYS_REGS 1002      /* register check: every argument register holds a pattern */
#define SYS_REPORT 1003    /* rdi = 0 (ok) or a failure code, rsi = detail */
#define SYS_SLEEP 1004     /* block in the upcall for a while */
#define SYS_NULL 1005      /* return at once (sysretq) */
#define SYS_NULL_IRET 1006 /* return at once through iretq (rcx changed) */
#define SYS_MARK 1007      /* record the time */

#define OP_READ 0       /* rsi = *(uint64_t*)rdi */
#define OP_WRITE 1      /* *(uint64_t*)rdi = rsi */
#define OP_EXEC 2       /* call rdi */
#define OP_READ_FS 3    /* rsi = %fs:(rdi) */
#define OP_ZERO_CHECK 4 /* rsi = number of nonzero words in [rdi, rdi + rsi) */
#define OP_INT3 5
#define OP_UD2 6
#define OP_CLI 7
#define OP_EXIT 8

#define REGS_RESULT 0x1234abcd5678ef01
#define PAT_RBX 0x0b0b0b0b0b0b0b0b
#define PAT_RBP 0x0e0e0e0e0e0e0e0e
#define PAT_RDI 0x1111111111111101
#define PAT_RSI 0x2222222222222202
#define PAT_RDX 0x3333333333333303
#define PAT_R10 0x4444444444444404
#define PAT_R8 0x5555555555555505
#define PAT_R9 0x6666666666666606
#define PAT_R12 0x7777777777777712
#define PAT_R13 0x7777777777777713
#define PAT_R14 0x7777777777777714
#define PAT_R15 0x7777777777777715

#endif
