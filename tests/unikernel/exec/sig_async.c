/* Asynchronous signals and handler state (docs/linux-exec.md, "Signals"):
 * the same output natively and in an image.
 *
 *  - raise, kill(getpid()), a handler counting deliveries; siginfo's
 *    si_code and si_pid for kill and tgkill;
 *  - pthread_kill to a thread spinning in user mode without system calls
 *    (the kernel must interrupt it: akhyp_user_interrupt);
 *  - a blocked signal is pending (sigpending) and delivered as soon as
 *    sigprocmask unblocks it, before sigprocmask returns;
 *  - sa_mask and the signal itself are blocked while the handler runs, the
 *    old mask comes back after it; SA_RESETHAND;
 *  - sigaltstack: a SA_ONSTACK handler runs on the alternate stack, sees
 *    SS_ONSTACK, and SS_AUTODISARM disarms it during the handler only;
 *  - FPU/SSE state (XMM registers, MXCSR, the x87 control word) survives a
 *    handler that clobbers it, for a signal delivered at a system call's
 *    return and for one that interrupts user code.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef SS_AUTODISARM
#define SS_AUTODISARM (1U << 31)
#endif

static volatile int g_usr1, g_usr2, g_code, g_pid_ok, g_seen_blocked;
static volatile int g_spin_stop;

static void install(int sig, void (*fn)(int, siginfo_t*, void*), int flags, int also_block) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    if (also_block)
        sigaddset(&sa.sa_mask, also_block);
    sigaction(sig, &sa, NULL);
}

static void on_usr1(int sig, siginfo_t* si, void* ctx) {
    (void)sig, (void)ctx;
    g_usr1++;
    g_code = si->si_code;
    g_pid_ok = si->si_pid == getpid();
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    /* the signal itself and sa_mask (SIGUSR2) are blocked in here */
    g_seen_blocked = sigismember(&now, SIGUSR1) && sigismember(&now, SIGUSR2);
}

static void on_usr2(int sig, siginfo_t* si, void* ctx) {
    (void)sig, (void)si, (void)ctx;
    g_usr2++;
}

static void* spinner(void* arg) {
    (void)arg;
    /* No system calls: only an interrupt brings this thread to the kernel. */
    while (!g_spin_stop)
        __asm__ volatile("pause");
    return NULL;
}

static void on_stop(int sig, siginfo_t* si, void* ctx) {
    (void)sig, (void)si, (void)ctx;
    g_spin_stop = 1;
}

/* --- alternate stack ------------------------------------------------------ */
static char* g_alt;
static size_t g_alt_size = 64 * 1024;
static volatile int g_on_alt, g_ss_onstack, g_alt_disabled_inside;

static void on_alt(int sig, siginfo_t* si, void* ctx) {
    (void)sig, (void)si, (void)ctx;
    char local;
    g_on_alt = &local >= g_alt && &local < g_alt + g_alt_size;
    stack_t ss;
    sigaltstack(NULL, &ss);
    g_ss_onstack = (ss.ss_flags & SS_ONSTACK) != 0;
    g_alt_disabled_inside = (ss.ss_flags & SS_DISABLE) != 0;
}

/* --- FPU ---------------------------------------------------------------------- */
static void on_clobber(int sig, siginfo_t* si, void* ctx) {
    (void)sig, (void)si, (void)ctx;
    /* Every XMM register, MXCSR (round up, all exceptions unmasked but
     * none pending) and the x87 control word (single precision). */
    uint32_t mxcsr = 0x4000;
    uint16_t cw = 0x007f;
    __asm__ volatile("pcmpeqd %%xmm0, %%xmm0\n"
                     "movdqa %%xmm0, %%xmm1\n movdqa %%xmm0, %%xmm2\n movdqa %%xmm0, %%xmm3\n"
                     "movdqa %%xmm0, %%xmm4\n movdqa %%xmm0, %%xmm5\n movdqa %%xmm0, %%xmm6\n"
                     "movdqa %%xmm0, %%xmm7\n movdqa %%xmm0, %%xmm8\n movdqa %%xmm0, %%xmm9\n"
                     "movdqa %%xmm0, %%xmm10\n movdqa %%xmm0, %%xmm11\n movdqa %%xmm0, %%xmm12\n"
                     "movdqa %%xmm0, %%xmm13\n movdqa %%xmm0, %%xmm14\n movdqa %%xmm0, %%xmm15\n"
                     "ldmxcsr %0\n fldcw %1\n" ::"m"(mxcsr),
                     "m"(cw)
                     : "xmm0", "xmm1", "xmm2", "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8",
                       "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15");
    g_usr2++;
}

/* Load xmm0..15 with i + 1 in each dword, then either make a tgkill to
 * ourselves (delivery at the system call's return) or spin until flag is
 * set (delivery interrupts user code), then store the registers back. */
static void xmm_round(int use_syscall, volatile int* flag, uint32_t out[16][4], uint32_t* mxcsr,
                      uint16_t* cw) {
    uint32_t in[16][4];
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 4; j++)
            in[i][j] = (uint32_t)(i * 4 + j + 1);
    long pid = getpid(), tid = syscall(SYS_gettid);
    __asm__ volatile("movdqu 0(%[in]), %%xmm0\n movdqu 16(%[in]), %%xmm1\n"
                     "movdqu 32(%[in]), %%xmm2\n movdqu 48(%[in]), %%xmm3\n"
                     "movdqu 64(%[in]), %%xmm4\n movdqu 80(%[in]), %%xmm5\n"
                     "movdqu 96(%[in]), %%xmm6\n movdqu 112(%[in]), %%xmm7\n"
                     "movdqu 128(%[in]), %%xmm8\n movdqu 144(%[in]), %%xmm9\n"
                     "movdqu 160(%[in]), %%xmm10\n movdqu 176(%[in]), %%xmm11\n"
                     "movdqu 192(%[in]), %%xmm12\n movdqu 208(%[in]), %%xmm13\n"
                     "movdqu 224(%[in]), %%xmm14\n movdqu 240(%[in]), %%xmm15\n"
                     "test %[sys], %[sys]\n jz 2f\n"
                     "mov $234, %%eax\n mov %[pid], %%rdi\n mov %[tid], %%rsi\n mov $12, %%edx\n"
                     "syscall\n jmp 3f\n"
                     "2: pause\n cmpl $0, (%[flag])\n je 2b\n"
                     "3: movdqu %%xmm0, 0(%[out])\n movdqu %%xmm1, 16(%[out])\n"
                     "movdqu %%xmm2, 32(%[out])\n movdqu %%xmm3, 48(%[out])\n"
                     "movdqu %%xmm4, 64(%[out])\n movdqu %%xmm5, 80(%[out])\n"
                     "movdqu %%xmm6, 96(%[out])\n movdqu %%xmm7, 112(%[out])\n"
                     "movdqu %%xmm8, 128(%[out])\n movdqu %%xmm9, 144(%[out])\n"
                     "movdqu %%xmm10, 160(%[out])\n movdqu %%xmm11, 176(%[out])\n"
                     "movdqu %%xmm12, 192(%[out])\n movdqu %%xmm13, 208(%[out])\n"
                     "movdqu %%xmm14, 224(%[out])\n movdqu %%xmm15, 240(%[out])\n"
                     "stmxcsr (%[mx])\n fnstcw (%[cw])\n"
                     :
                     : [in] "r"(in), [out] "r"(out), [sys] "r"((long)use_syscall), [pid] "r"(pid),
                       [tid] "r"(tid), [flag] "r"(flag), [mx] "r"(mxcsr), [cw] "r"(cw)
                     : "rax", "rdi", "rsi", "rdx", "rcx", "r11", "memory", "xmm0", "xmm1", "xmm2",
                       "xmm3", "xmm4", "xmm5", "xmm6", "xmm7", "xmm8", "xmm9", "xmm10", "xmm11",
                       "xmm12", "xmm13", "xmm14", "xmm15");
}

static int xmm_intact(uint32_t out[16][4]) {
    for (int i = 0; i < 16; i++)
        for (int j = 0; j < 4; j++)
            if (out[i][j] != (uint32_t)(i * 4 + j + 1))
                return 0;
    return 1;
}

static volatile int g_fpu_flag;
static pthread_t g_main_thread;

static void* poke_main(void* arg) {
    (void)arg;
    usleep(50000);
    pthread_kill(g_main_thread, SIGUSR2);
    while (g_usr2 < 3)
        usleep(1000);
    g_fpu_flag = 1;
    return NULL;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    install(SIGUSR1, on_usr1, 0, SIGUSR2);
    install(SIGUSR2, on_usr2, 0, 0);

    raise(SIGUSR1);
    printf("raise: count %d code %d pid ok %d masked inside %d\n", g_usr1, g_code, g_pid_ok,
           g_seen_blocked);
    kill(getpid(), SIGUSR1);
    printf("kill: count %d code %d pid ok %d\n", g_usr1, g_code, g_pid_ok);
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("mask restored after the handlers: %d\n", !sigismember(&now, SIGUSR1));

    /* Blocked: pending, then delivered by the unblocking sigprocmask. */
    sigset_t set, pending;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    sigprocmask(SIG_BLOCK, &set, NULL);
    raise(SIGUSR2);
    raise(SIGUSR2); /* standard signals do not queue */
    sigpending(&pending);
    printf("blocked: count %d pending %d\n", g_usr2, sigismember(&pending, SIGUSR2));
    sigprocmask(SIG_UNBLOCK, &set, NULL);
    int at_unblock = g_usr2;
    sigpending(&pending);
    printf("unblocked: count %d pending %d\n", at_unblock, sigismember(&pending, SIGUSR2));

    /* A thread spinning in user mode. */
    install(SIGUSR1, on_stop, 0, 0);
    pthread_t th;
    pthread_create(&th, NULL, spinner, NULL);
    usleep(20000);
    pthread_kill(th, SIGUSR1);
    pthread_join(th, NULL);
    printf("spinning thread interrupted: %d\n", g_spin_stop);

    /* SA_RESETHAND: the second SIGUSR2 would kill, so block it and check
     * the disposition instead. */
    install(SIGUSR2, on_usr2, SA_RESETHAND, 0);
    int before = g_usr2;
    raise(SIGUSR2);
    struct sigaction cur;
    sigaction(SIGUSR2, NULL, &cur);
    printf("SA_RESETHAND: ran %d, now SIG_DFL %d\n", g_usr2 - before, cur.sa_handler == SIG_DFL);

    /* Alternate stack with SS_AUTODISARM. */
    g_alt = malloc(g_alt_size);
    stack_t ss = {.ss_sp = g_alt, .ss_size = g_alt_size, .ss_flags = 0};
    int autodisarm =
        sigaltstack(&(stack_t){.ss_sp = g_alt, .ss_size = g_alt_size, .ss_flags = SS_AUTODISARM},
                    NULL) == 0;
    if (!autodisarm)
        sigaltstack(&ss, NULL);
    install(SIGUSR1, on_alt, SA_ONSTACK, 0);
    raise(SIGUSR1);
    stack_t after;
    sigaltstack(NULL, &after);
    printf("altstack: on it %d SS_ONSTACK %d disarmed inside %d armed after %d\n", g_on_alt,
           g_ss_onstack, autodisarm ? g_alt_disabled_inside : 1,
           !(after.ss_flags & SS_DISABLE) && after.ss_sp == g_alt);
    /* Without SS_AUTODISARM the handler sees SS_ONSTACK (sigaltstack
     * knows the thread runs on it). */
    sigaltstack(&ss, NULL);
    raise(SIGUSR1);
    printf("plain altstack: on it %d SS_ONSTACK %d\n", g_on_alt, g_ss_onstack);
    install(SIGUSR1, on_alt, 0, 0);
    raise(SIGUSR1);
    printf("without SA_ONSTACK: on it %d\n", g_on_alt);

    /* FPU state across handlers. */
    install(SIGUSR2, on_clobber, 0, 0);
    g_usr2 = 0;
    uint32_t out[16][4];
    uint32_t mxcsr = 0;
    uint16_t cw = 0;
    xmm_round(1, NULL, out, &mxcsr, &cw);
    printf("FPU after a handler at syscall return: xmm %d mxcsr %#x cw %#x ran %d\n",
           xmm_intact(out), mxcsr & ~0x3fu, cw, g_usr2);
    g_main_thread = pthread_self();
    pthread_t poker;
    g_usr2 = 2;
    pthread_create(&poker, NULL, poke_main, NULL);
    xmm_round(0, &g_fpu_flag, out, &mxcsr, &cw);
    pthread_join(poker, NULL);
    printf("FPU after a handler interrupting user code: xmm %d mxcsr %#x cw %#x ran %d\n",
           xmm_intact(out), mxcsr & ~0x3fu, cw, g_usr2);
    return 0;
}
