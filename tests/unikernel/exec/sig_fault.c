/* Synchronous faults as signals (docs/linux-exec.md, "Signals"): the same
 * output natively and in an image.
 *
 *  - SIGSEGV from a NULL dereference, left with siglongjmp;
 *  - SA_SIGINFO: si_code and si_addr for NULL (SEGV_MAPERR), PROT_NONE and
 *    read-only pages (SEGV_ACCERR), the frame's trap number;
 *  - a handler that makes the page accessible and returns: the faulting
 *    instruction runs again (Linux behaviour);
 *  - a handler that moves the context's rip past a ud2 (SIGILL,
 *    ILL_ILLOPN, si_addr = the instruction);
 *  - divide by zero: SIGFPE, FPE_INTDIV;
 *  - int3: SIGTRAP (SI_KERNEL, as Linux sends it);
 *  - a fault while its signal is blocked kills the process (force
 *    semantics): checked last, exit status 139.
 *
 * The handler's entry stack pointer is checked too: (rsp + 8) is 16-byte
 * aligned, as after a call.
 */
#define _GNU_SOURCE
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <ucontext.h>
#include <unistd.h>

static sigjmp_buf g_jump;
static volatile int g_sig, g_code, g_trapno;
static volatile uintptr_t g_addr;
static volatile int g_count;
static char* g_fix_page; /* the page the "fix" handler makes writable */

/* The handler's first instruction records %rsp, then jumps to the C
 * handler (same stack). */
uintptr_t g_entry_rsp;
void probe_entry(int, siginfo_t*, void*);
__asm__(".text\n"
        ".globl probe_entry\n"
        "probe_entry:\n"
        "    mov %rsp, g_entry_rsp(%rip)\n"
        "    jmp probe_body\n");

static void record(int sig, siginfo_t* si, void* ctx) {
    ucontext_t* uc = ctx;
    g_sig = sig;
    g_code = si->si_code;
    g_addr = (uintptr_t)si->si_addr;
    g_trapno = (int)uc->uc_mcontext.gregs[REG_TRAPNO];
    g_count++;
}

void probe_body(int sig, siginfo_t* si, void* ctx) {
    record(sig, si, ctx);
    siglongjmp(g_jump, 1);
}

static void fix_handler(int sig, siginfo_t* si, void* ctx) {
    record(sig, si, ctx);
    mprotect(g_fix_page, 4096, PROT_READ | PROT_WRITE);
}

static void skip_ud2(int sig, siginfo_t* si, void* ctx) {
    ucontext_t* uc = ctx;
    record(sig, si, ctx);
    uc->uc_mcontext.gregs[REG_RIP] += 2; /* ud2 is 0f 0b */
}

static void install(int sig, void (*fn)(int, siginfo_t*, void*), int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = fn;
    sa.sa_flags = SA_SIGINFO | flags;
    sigemptyset(&sa.sa_mask);
    sigaction(sig, &sa, NULL);
}

static void report(const char* what) {
    printf("%s: sig %d code %d trapno %d count %d aligned %d\n", what, g_sig, g_code, g_trapno,
           g_count, (int)((g_entry_rsp + 8) % 16 == 0));
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    install(SIGSEGV, probe_entry, 0);
    install(SIGFPE, probe_entry, 0);
    install(SIGTRAP, probe_entry, 0);

    /* NULL: SEGV_MAPERR at 0; siglongjmp restores the mask (savemask 1). */
    if (!sigsetjmp(g_jump, 1)) {
        *(volatile int*)0 = 1;
        printf("NULL store did not fault\n");
    }
    report("null store");
    printf("null store: addr %#lx\n", (unsigned long)g_addr);
    if (!sigsetjmp(g_jump, 1))
        (void)*(volatile int*)16;
    report("null+16 load");
    printf("null+16 load: addr %#lx\n", (unsigned long)g_addr);

    /* PROT_NONE and read-only: SEGV_ACCERR at the page. */
    char* none = mmap(NULL, 4096, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    char* ro = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (!sigsetjmp(g_jump, 1))
        (void)*(volatile char*)(none + 100);
    report("PROT_NONE load");
    printf("PROT_NONE load: addr is the byte %d\n", (int)(g_addr == (uintptr_t)(none + 100)));
    if (!sigsetjmp(g_jump, 1))
        *(volatile char*)(ro + 8) = 1;
    report("read-only store");
    printf("read-only store: addr is the byte %d\n", (int)(g_addr == (uintptr_t)(ro + 8)));

    /* Still blocked after a siglongjmp without savemask? sigsetjmp(.., 1)
     * restored it: SIGSEGV is deliverable again (checked by the next
     * faults working at all). */

    /* Return from the handler: the store runs again and succeeds. */
    g_fix_page = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    install(SIGSEGV, fix_handler, 0);
    g_count = 0;
    *(volatile char*)(g_fix_page + 5) = 42;
    printf("fixed by the handler: count %d code %d value %d\n", g_count, g_code, g_fix_page[5]);

    /* ud2: the handler skips the instruction through uc_mcontext. */
    install(SIGILL, skip_ud2, 0);
    g_count = 0;
    __asm__ volatile("ud2");
    printf("ud2 skipped: sig %d code %d count %d\n", g_sig, g_code, g_count);

    /* Integer division by zero. */
    if (!sigsetjmp(g_jump, 1)) {
        volatile int zero = 0;
        volatile int x = 7 / zero;
        (void)x;
    }
    report("divide by zero");

    /* int3 */
    if (!sigsetjmp(g_jump, 1))
        __asm__ volatile("int3");
    report("int3");

    /* A fault while SIGSEGV is blocked: the process dies (139). */
    install(SIGSEGV, probe_entry, 0);
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGSEGV);
    sigprocmask(SIG_BLOCK, &set, NULL);
    printf("faulting with SIGSEGV blocked\n");
    *(volatile int*)8 = 1;
    printf("still alive\n");
    return 0;
}
