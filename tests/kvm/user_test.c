/*
 * User mode on the kvm platform (hypercall user group, 1.4-1.5), without the
 * kernel: this image plays the kernel.  It calls akhyp_init with its own
 * user_syscall/user_trap upcalls, maps user memory, copies the ring-3
 * routines of user_code.S into it and runs them on threads that entered
 * user mode, checking through the upcalls what arrives:
 *
 *  - system-call numbers and arguments in regs; rcx/r11 as the CPU left
 *    them; every other GPR and all XMM registers preserved (checked by the
 *    user code itself); the result in rax; rflags sanitized;
 *  - a changed rip/rcx/r11/rflags taking effect (the iretq path), a
 *    non-canonical rip coming back as #GP;
 *  - demand-zero memory (first touch by the user or by the kernel), maps
 *    replacing maps, unmap, protect; page faults with the right vector,
 *    error code and address for PROT_NONE, unmapped, NULL, kernel memory,
 *    read-only and non-executable pages; int3, ud2, cli; out of memory on a
 *    user fault (AKHYP_USER_TRAP_NOMEM); no page leaked;
 *  - the executable window (the image defines one with --defsym);
 *  - the FS base (akhyp_user_set_tls, %fs reads, kept across switches),
 *    akhyp_user_fpu_save/restore;
 *  - two user threads spinning in ring 3 are both preempted and make
 *    progress, without seeing each other's XMM state, while the kernel's
 *    own thread sleeps and wakes; a system call blocked in its upcall lets
 *    another user thread run;
 *  - akhyp_user_guard: kernel faults on bad user memory come back as EFAULT
 *    (ENOTRECOVERABLE with a lock taken inside), nested guards.
 *
 * It compiles like kernel code (-mgeneral-regs-only), so nothing here
 * touches the user's FPU state behind the platform's back.  Prints
 * "user-test: PASS ..." per check and "user-test: all tests passed", exit
 * status 42; a failure exits with 1.
 */
#include <anykern/hypercall.h>

#include "user_abi.h"

extern char user_blob_start[], user_blob_end[], u_loop[], u_after_int3[], u_flags_probe[], u_regs[],
    u_regs_after_syscall[], u_spin[], u_sleeper[], u_nullsys[];

#define EXIT_PASS 42
#define PAGE 4096ull
#define MS 1000000LL
#define EINVAL_ 22
#define ENOENT_ 2
#define ENOMEM_ 12
#define ESRCH_ 3
#define PF_P 0x1ull
#define PF_W 0x2ull
#define PF_U 0x4ull
#define PF_I 0x10ull
#define RFLAGS_IF 0x200ull
#define RFLAGS_IOPL 0x3000ull
#define RFLAGS_NT 0x4000ull

/* --- output and checks -------------------------------------------------- */
static void out(const char* s) {
    akhyp_console_write(s, __builtin_strlen(s));
}

static void out_u64(unsigned long long v) {
    char b[24];
    int i = sizeof b;
    b[--i] = 0;
    do
        b[--i] = (char)('0' + v % 10);
    while (v /= 10);
    out(b + i);
}

static void out_hex(unsigned long long v) {
    char b[19];
    b[0] = '0', b[1] = 'x';
    for (int i = 0; i < 16; i++)
        b[2 + i] = "0123456789abcdef"[(v >> (60 - 4 * i)) & 15];
    b[18] = 0;
    out(b);
}

static void fail(const char* what, unsigned long long v) {
    out("user-test: FAIL ");
    out(what);
    out(" value=");
    out_hex(v);
    out("\n");
    akhyp_exit(1);
}

#define CHECK(cond, v)                                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(#cond, (unsigned long long)(v));                                                  \
    } while (0)

static int64_t now(void) {
    return akhyp_clock_now(AKHYP_CLOCK_MONOTONIC);
}

static void pass(const char* name) {
    out("user-test: PASS ");
    out(name);
    out("\n");
}

static uint64_t rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((uint64_t)hi << 32) | lo;
}
#define MSR_FS_BASE 0xc0000100u

static int cpu_has_nx(void) {
    uint32_t a, b, c, d;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000000u), "c"(0));
    if (a < 0x80000001u)
        return 0;
    __asm__ volatile("cpuid" : "=a"(a), "=b"(b), "=c"(c), "=d"(d) : "a"(0x80000001u), "c"(0));
    return (d >> 20) & 1;
}

/* --- the user address space used here ------------------------------------ */
static uint64_t g_lo, g_hi; /* general area */
static uint64_t g_win_lo, g_win_hi;
static int g_nx;

#define CODE (g_lo + 0x100000)
#define STACK_TOP(i) (g_lo + 0x200000 + (uint64_t)(i)*0x10000 + 0x8000) /* 32 KiB each */
#define DATA (g_lo + 0x400000)                                          /* 2 pages, RW */
#define DATA2 (g_lo + 0x402000)     /* first touched by the kernel */
#define NONE_PAGE (g_lo + 0x403000) /* PROT_NONE */
#define RO_PAGE (g_lo + 0x404000)
#define EXEC_PAGE (g_lo + 0x405000)
#define TLS_PAGE (g_lo + 0x406000)
#define OOM_PAGE (g_lo + 0x407000)
#define SHARED (g_lo + 0x408000)     /* spin counters, stop flag */
#define HOLE (g_lo + 0x500000)       /* never mapped, page table exists */
#define FAR_HOLE (g_lo + 0x40000000) /* never mapped, no page tables */
#define LEAK (g_lo + 0x600000)       /* own page table */
#define NO_TABLE (g_lo + 0x800000)   /* needs a new page table */
#define TOP_PAGE (g_hi - PAGE)

#define UADDR(sym) (CODE + (uint64_t)((sym)-user_blob_start))

static volatile uint64_t* uptr(uint64_t va) {
    return (volatile uint64_t*)va;
}

/* --- user threads --------------------------------------------------------- */
struct uthread {
    struct akhyp_uregs regs; /* initial registers */
    uint64_t fs;             /* FS base the upcalls expect */
    uint64_t syscall_rsp;
    uint64_t report_code, report_detail;
    int reported, exited;
    int interrupts; /* AKHYP_USER_TRAP_INTERRUPT upcalls */
    void* cookie;
};

static void enter_user(void* arg) {
    struct uthread* t = arg;
    akhyp_curlwp_set(t);
    akhyp_user_enter(&t->regs);
}

static void start_user(struct uthread* t, const char* name, const char* entry, int stack,
                       uint64_t a0, uint64_t a1, uint64_t a2, uint64_t rflags) {
    __builtin_memset(t, 0, sizeof *t);
    t->regs.rip = UADDR(entry);
    t->regs.rsp = STACK_TOP(stack);
    t->regs.rdi = a0;
    t->regs.rsi = a1;
    t->regs.rdx = a2;
    t->regs.rflags = rflags;
    /* The kernel's size for user threads: their kernel stack. */
    CHECK(akhyp_thread_create(enter_user, t, name, 1, 65536, &t->cookie) == 0, 0);
}

static void join_user(struct uthread* t) {
    CHECK(akhyp_thread_join(t->cookie) == 0, 0);
    CHECK(t->exited, 0);
}

/* --- the command loop ------------------------------------------------------ */
#define K_REDIRECT 100 /* the upcall changes rip, rcx, r11 and rflags */
#define K_BADRIP 101   /* the upcall sets a non-canonical rip */
#define NO_TRAP (-1)

struct step {
    const char* name;
    void (*before)(void); /* kernel work in the SYS_NEXT upcall first */
    int op;
    uint64_t addr, value;
    int vector;     /* expected trap, or NO_TRAP */
    uint64_t error; /* for a page fault: the CPU bits (P W U I) and AKHYP_USER_TRAP_NOMEM */
    int check;      /* no trap: compare the result */
    uint64_t expect;
};

#define MAX_STEPS 96
static struct step g_steps[MAX_STEPS];
static int g_nsteps, g_step = -1;
static struct uthread g_loop;
static struct {
    int hit, vector;
    uint64_t error, addr, rip, orig_rax;
} g_trap;

static void step(const char* name, void (*before)(void), int op, uint64_t addr, uint64_t value) {
    CHECK(g_nsteps < MAX_STEPS, g_nsteps);
    struct step* s = &g_steps[g_nsteps++];
    s->name = name, s->before = before, s->op = op, s->addr = addr, s->value = value;
    s->vector = NO_TRAP;
}
static void expect_value(uint64_t v) {
    g_steps[g_nsteps - 1].check = 1;
    g_steps[g_nsteps - 1].expect = v;
}
static void expect_trap(int vector, uint64_t error) {
    g_steps[g_nsteps - 1].vector = vector;
    g_steps[g_nsteps - 1].error = error;
}

static void finish_step(const struct step* s, const struct akhyp_uregs* r) {
    out("user-test:   ");
    out(s->name);
    out("\n");
    if (s->vector != NO_TRAP) {
        CHECK(g_trap.hit, s->vector);
        CHECK(g_trap.vector == s->vector, g_trap.vector);
        CHECK(g_trap.orig_rax == ~0ull, g_trap.orig_rax);
        if (s->vector == 14) {
            CHECK((g_trap.error & (0x1f | AKHYP_USER_TRAP_NOMEM)) == s->error, g_trap.error);
            CHECK(g_trap.addr == s->addr, g_trap.addr);
        }
        if (s->op == K_BADRIP)
            CHECK(g_trap.rip == 0x8000000000000000ull, g_trap.rip);
        if (s->op == OP_INT3)
            CHECK(g_trap.rip == UADDR(u_after_int3), g_trap.rip); /* a trap: after int3 */
        return;
    }
    CHECK(!g_trap.hit, g_trap.vector);
    if (s->check)
        CHECK(r->rsi == s->expect, r->rsi);
    if (s->op == K_REDIRECT) {
        /* u_flags_probe: rsi = rflags, rdi = rcx, rdx = r11 as user mode saw them */
        CHECK(r->rdi == 0x1111 && r->rdx == 0x2222, r->rdi);
        CHECK((r->rsi & (RFLAGS_IOPL | RFLAGS_NT)) == 0, r->rsi);
        CHECK((r->rsi & (RFLAGS_IF | 0x1 | 0x40000)) == (RFLAGS_IF | 0x1 | 0x40000), r->rsi);
    }
}

static void loop_next(struct akhyp_uregs* r) {
    if (g_step >= 0)
        finish_step(&g_steps[g_step], r);
    g_step++;
    if (g_step == g_nsteps) {
        r->rax = OP_EXIT;
        return;
    }
    const struct step* s = &g_steps[g_step];
    if (s->before)
        s->before();
    g_trap.hit = 0;
    switch (s->op) {
    case K_REDIRECT:
        r->rip = UADDR(u_flags_probe);
        r->rcx = 0x1111;
        r->r11 = 0x2222;
        /* IOPL 3 and NT must not reach user mode; CF and AC may. */
        r->rflags = RFLAGS_IOPL | RFLAGS_NT | RFLAGS_IF | 0x1 | 0x40000;
        break;
    case K_BADRIP:
        r->rip = 0x8000000000000000ull;
        break;
    default:
        r->rax = (uint64_t)s->op;
        r->rdi = s->addr;
        r->rsi = s->value;
    }
}

/* --- memory exhaustion ------------------------------------------------------ */
static void* g_hoard; /* pages linked through their first word */
static long g_hoard_pages;

static long hoard_all(void) {
    long n = 0;
    void* p;
    while (akhyp_malloc(PAGE, PAGE, &p) == 0) {
        uint64_t a = (uint64_t)p;
        CHECK(!(a < g_win_hi && a + PAGE > g_win_lo), a); /* the window is never handed out */
        *(void**)p = g_hoard;
        g_hoard = p;
        n++;
    }
    g_hoard_pages = n;
    return n;
}

static void release_hoard(void) {
    while (g_hoard) {
        void* next = *(void**)g_hoard;
        akhyp_free(g_hoard, PAGE);
        g_hoard = next;
    }
}

static long free_pages(void) {
    long n = hoard_all();
    release_hoard();
    return n;
}

/* --- kernel work before the steps -------------------------------------------- */
static void k_check_written(void) {
    CHECK(*uptr(DATA + 8) == 0xfeedface, *uptr(DATA + 8)); /* the kernel reads user memory */
}
static void k_touch_data2(void) {
    *uptr(DATA2) = 0x77; /* first touch of a demand-zero page in ring 0 */
    CHECK(*uptr(DATA2 + 8) == 0, *uptr(DATA2 + 8));
}
static void k_map_none(void) {
    CHECK(akhyp_vm_map(NONE_PAGE, PAGE, AKHYP_PROT_NONE) == 0, 0);
}
static void k_map_ro(void) {
    CHECK(akhyp_vm_map(RO_PAGE, PAGE, AKHYP_PROT_READ) == 0, 0);
}
static void k_map_exec_rw(void) {
    CHECK(akhyp_vm_map(EXEC_PAGE, PAGE, AKHYP_PROT_READ | AKHYP_PROT_WRITE) == 0, 0);
    *(volatile uint8_t*)EXEC_PAGE = 0xc3; /* ret */
}
static void k_protect_exec_rx(void) {
    CHECK(akhyp_vm_protect(EXEC_PAGE, PAGE, AKHYP_PROT_READ | AKHYP_PROT_EXEC) == 0, 0);
}
static void k_protect_data_none(void) {
    CHECK(akhyp_vm_protect(DATA, 2 * PAGE, AKHYP_PROT_NONE) == 0, 0);
}
static void k_protect_data_rw(void) {
    CHECK(akhyp_vm_protect(DATA, 2 * PAGE, AKHYP_PROT_READ | AKHYP_PROT_WRITE) == 0, 0);
}
static void k_unmap_data(void) {
    CHECK(akhyp_vm_unmap(DATA, 2 * PAGE) == 0, 0);
    CHECK(akhyp_vm_protect(DATA, PAGE, AKHYP_PROT_READ) == ENOMEM_, 0);
}
static void k_map_data(void) {
    CHECK(akhyp_vm_map(DATA, 2 * PAGE, AKHYP_PROT_READ | AKHYP_PROT_WRITE) == 0, 0);
}
static void k_set_tls(void) {
    *uptr(TLS_PAGE) = 0x7150;
    *uptr(TLS_PAGE + 8) = 0xabc;
    akhyp_user_set_tls(TLS_PAGE);
    g_loop.fs = TLS_PAGE;
    CHECK(rdmsr(MSR_FS_BASE) == TLS_PAGE, rdmsr(MSR_FS_BASE));
}
static void k_top_page(void) {
    CHECK(*uptr(TOP_PAGE) == 0x70b, *uptr(TOP_PAGE)); /* written by main before */
}
static void k_hoard(void) {
    CHECK(akhyp_vm_map(OOM_PAGE, PAGE, AKHYP_PROT_READ | AKHYP_PROT_WRITE) == 0, 0);
    long n = hoard_all();
    CHECK(n > 1000, n);
    /* A map that needs a new page table fails cleanly. */
    CHECK(akhyp_vm_map(NO_TABLE, PAGE, AKHYP_PROT_READ) == ENOMEM_, 0);
}
static void k_release(void) {
    release_hoard();
}
static void k_leak_check(void) {
    long before = free_pages();
    for (int round = 0; round < 3; round++) {
        CHECK(akhyp_vm_map(LEAK, 64 * PAGE, AKHYP_PROT_READ | AKHYP_PROT_WRITE) == 0, round);
        for (int i = 0; i < 64; i++)
            *uptr(LEAK + (uint64_t)i * PAGE) = (uint64_t)i + 1;
        /* Replacing the mapping frees its pages and reads as zeros again. */
        CHECK(akhyp_vm_map(LEAK, 64 * PAGE, AKHYP_PROT_READ | AKHYP_PROT_WRITE) == 0, round);
        for (int i = 0; i < 64; i++)
            CHECK(*uptr(LEAK + (uint64_t)i * PAGE) == 0, i);
        for (int i = 0; i < 64; i += 2)
            *uptr(LEAK + (uint64_t)i * PAGE) = 1;
        CHECK(akhyp_vm_unmap(LEAK, 64 * PAGE) == 0, round);
    }
    long after = free_pages();
    CHECK(after == before, before - after);
}

/* Executable window (the image is linked with one). */
#define WIN g_win_lo
static void k_win_map(void) {
    /* Before the map the pages belong to nobody; the map zeroes them. */
    __builtin_memset((void*)WIN, 0xaa, 2 * PAGE);
    CHECK(akhyp_vm_map(WIN, 2 * PAGE, AKHYP_PROT_READ | AKHYP_PROT_WRITE) == 0, 0);
    CHECK(*uptr(WIN) == 0 && *uptr(WIN + PAGE + 8) == 0, *uptr(WIN));
    CHECK(akhyp_vm_protect(WIN + 16 * PAGE, PAGE, AKHYP_PROT_READ) == ENOMEM_, 0);
    CHECK(akhyp_vm_protect(WIN + 0x200000, PAGE, AKHYP_PROT_READ) == ENOMEM_, 0);
    CHECK(akhyp_vm_map(WIN - PAGE, 2 * PAGE, AKHYP_PROT_READ) == EINVAL_, 0);
    CHECK(akhyp_vm_map(g_win_hi - PAGE, 2 * PAGE, AKHYP_PROT_READ) == EINVAL_, 0);
}
static void k_win_check(void) {
    CHECK(*uptr(WIN + 8) == 99, *uptr(WIN + 8));
}
static void k_win_ro(void) {
    CHECK(akhyp_vm_protect(WIN, PAGE, AKHYP_PROT_READ) == 0, 0);
}
static void k_win_code(void) {
    *(volatile uint8_t*)(WIN + PAGE) = 0xc3; /* writable (RW) for the kernel too */
}
static void k_win_rx(void) {
    CHECK(akhyp_vm_protect(WIN + PAGE, PAGE, AKHYP_PROT_READ | AKHYP_PROT_EXEC) == 0, 0);
}
static void k_win_unmap(void) {
    CHECK(akhyp_vm_unmap(WIN, 2 * PAGE) == 0, 0);
    CHECK(*uptr(WIN + 8) == 99, 0); /* a supervisor page again: the kernel may read it */
}

static void build_steps(void) {
    uint64_t rw = PF_U, rp = PF_U | PF_P;
    step("demand-zero read by the user", 0, OP_READ, DATA, 0);
    expect_value(0);
    step("user write", 0, OP_WRITE, DATA + 8, 0xfeedface);
    step("second page reads as zeros", k_check_written, OP_ZERO_CHECK, DATA + PAGE, PAGE);
    expect_value(0);
    step("page first touched by the kernel", k_touch_data2, OP_READ, DATA2, 0);
    expect_value(0x77);
    step("PROT_NONE page faults", k_map_none, OP_READ, NONE_PAGE, 0);
    expect_trap(14, rw);
    step("unmapped page faults", 0, OP_READ, HOLE, 0);
    expect_trap(14, rw);
    step("unmapped page without tables faults", 0, OP_READ, FAR_HOLE + 0x123, 0);
    expect_trap(14, rw);
    step("NULL read faults", 0, OP_READ, 0, 0);
    expect_trap(14, rp);
    step("kernel memory faults", 0, OP_READ, (uint64_t)&g_lo, 0);
    expect_trap(14, rp);
    step("write to a read-only demand-zero page faults", k_map_ro, OP_WRITE, RO_PAGE, 1);
    expect_trap(14, rw | PF_W);
    step("read-only page reads", 0, OP_READ, RO_PAGE, 0);
    expect_value(0);
    step("write to a read-only present page faults", 0, OP_WRITE, RO_PAGE + 16, 1);
    expect_trap(14, rp | PF_W);
    if (g_nx) {
        step("fetch from a non-executable page faults", k_map_exec_rw, OP_EXEC, EXEC_PAGE, 0);
        expect_trap(14, rp | PF_I);
    } else {
        out("user-test: (no NX on this CPU: fetch checks skipped)\n");
        step("map the code page", k_map_exec_rw, OP_READ, EXEC_PAGE, 0);
    }
    step("executable page runs", k_protect_exec_rx, OP_EXEC, EXEC_PAGE, 0);
    step("write to an R+X page faults", 0, OP_WRITE, EXEC_PAGE, 1);
    expect_trap(14, rp | PF_W);
    step("protect PROT_NONE faults", k_protect_data_none, OP_READ, DATA + 8, 0);
    expect_trap(14, rw);
    step("protect back keeps contents", k_protect_data_rw, OP_READ, DATA + 8, 0);
    expect_value(0xfeedface);
    step("unmapped data faults", k_unmap_data, OP_READ, DATA + 8, 0);
    expect_trap(14, rw);
    step("mapped again reads zeros", k_map_data, OP_READ, DATA + 8, 0);
    expect_value(0);
    step("user write before a remap", 0, OP_WRITE, DATA + 16, 5);
    step("remap replaces the page", k_map_data, OP_READ, DATA + 16, 0);
    expect_value(0);
    step("FS base: %fs:0", k_set_tls, OP_READ_FS, 0, 0);
    expect_value(0x7150);
    step("FS base: %fs:8", 0, OP_READ_FS, 8, 0);
    expect_value(0xabc);
    step("top page of the general area", k_top_page, OP_READ, TOP_PAGE, 0);
    expect_value(0x70b);
    step("int3 traps and resumes after it", 0, OP_INT3, 0, 0);
    expect_trap(3, 0);
    step("ud2 is #UD", 0, OP_UD2, 0, 0);
    expect_trap(6, 0);
    step("cli is #GP", 0, OP_CLI, 0, 0);
    expect_trap(13, 0);
    step("changed rip, rcx, r11, rflags (iretq, sanitized)", 0, K_REDIRECT, 0, 0);
    step("non-canonical rip comes back as #GP", 0, K_BADRIP, 0, 0);
    expect_trap(13, 0);
    step("out of memory on a user fault", k_hoard, OP_READ, OOM_PAGE, 0);
    expect_trap(14, rw | AKHYP_USER_TRAP_NOMEM);
    step("memory back: the same page resolves", k_release, OP_READ, OOM_PAGE, 0);
    expect_value(0);
    step("no page leaked by map/remap/unmap", k_leak_check, OP_READ, OOM_PAGE, 0);
    expect_value(0);
    if (g_win_hi) {
        step("window: mapped pages read zeros", k_win_map, OP_ZERO_CHECK, WIN, 2 * PAGE);
        expect_value(0);
        step("window: user write", 0, OP_WRITE, WIN + 8, 99);
        step("window: unmapped page in a mapped 2 MiB faults", k_win_check, OP_READ, WIN + 0x100000,
             0);
        expect_trap(14, rp);
        step("window: unmapped 2 MiB faults", 0, OP_READ, WIN + 0x200000, 0);
        expect_trap(14, rp);
        step("window: read-only page", k_win_ro, OP_WRITE, WIN, 1);
        expect_trap(14, rp | PF_W);
        if (g_nx) {
            step("window: fetch from RW faults", k_win_code, OP_EXEC, WIN + PAGE, 0);
            expect_trap(14, rp | PF_I);
        } else {
            step("window: code", k_win_code, OP_READ, WIN + PAGE, 0);
        }
        step("window: R+X page runs", k_win_rx, OP_EXEC, WIN + PAGE, 0);
        step("window: unmapped again faults", k_win_unmap, OP_READ, WIN + 8, 0);
        expect_trap(14, rp);
    }
}

/* --- other system calls ------------------------------------------------------- */
static struct uthread g_spin[2], g_sleeper, g_regs_thread, g_nullsys;
static int64_t g_marks[3];
static int g_nmarks;
static uint64_t g_sleep_progress;

static void check_regs(struct akhyp_uregs* r, struct uthread* t) {
    CHECK(r->rdi == PAT_RDI && r->rsi == PAT_RSI && r->rdx == PAT_RDX, r->rdi);
    CHECK(r->r10 == PAT_R10 && r->r8 == PAT_R8 && r->r9 == PAT_R9, r->r10);
    CHECK(r->rbx == PAT_RBX && r->rbp == PAT_RBP, r->rbx);
    CHECK(r->r12 == PAT_R12 && r->r13 == PAT_R13 && r->r14 == PAT_R14 && r->r15 == PAT_R15, r->r12);
    CHECK(r->rip == UADDR(u_regs_after_syscall), r->rip);
    CHECK(r->rcx == r->rip, r->rcx); /* what syscall left */
    CHECK(r->r11 == r->rflags, r->r11);
    CHECK(r->rflags & RFLAGS_IF, r->rflags);
    /* user_enter was given IOPL 3 and NT: both were dropped. */
    CHECK(!(r->rflags & (RFLAGS_IOPL | RFLAGS_NT)), r->rflags);
    CHECK(r->rsp == STACK_TOP(1), r->rsp);
    t->syscall_rsp = r->rsp;
    r->rax = REGS_RESULT;
}

/* SYS_SLEEP: block for 30 ms while the spinners run; the FS base and the
 * FPU state are the thread's own when it comes back. */
static void sleep_call(struct akhyp_uregs* r, struct uthread* t) {
    uint8_t fpu[AKHYP_USER_FPU_SIZE], fpu2[AKHYP_USER_FPU_SIZE];
    akhyp_user_fpu_save(fpu);
    uint64_t xmm0_lo, xmm15_hi;
    __builtin_memcpy(&xmm0_lo, fpu + 160, 8);
    __builtin_memcpy(&xmm15_hi, fpu + 160 + 15 * 16 + 8, 8);
    CHECK(xmm0_lo == t->regs.rdi, xmm0_lo);
    CHECK(xmm15_hi == t->regs.rdi + 15 * 0x0101 + 0x10000, xmm15_hi);
    /* restore(NULL) = the initial state */
    akhyp_user_fpu_restore(0);
    akhyp_user_fpu_save(fpu2);
    uint16_t fcw;
    uint32_t mxcsr;
    uint64_t x;
    __builtin_memcpy(&fcw, fpu2, 2);
    __builtin_memcpy(&mxcsr, fpu2 + 24, 4);
    __builtin_memcpy(&x, fpu2 + 160, 8);
    CHECK(fcw == 0x37f && mxcsr == 0x1f80 && x == 0, x);
    /* reserved MXCSR bits from a corrupted signal frame do not fault */
    __builtin_memcpy(fpu2, fpu, sizeof fpu);
    mxcsr = 0xffff1f80u;
    __builtin_memcpy(fpu2 + 24, &mxcsr, 4);
    akhyp_user_fpu_restore(fpu2);
    akhyp_user_fpu_restore(fpu);

    akhyp_user_set_tls(SHARED + 512);
    t->fs = SHARED + 512;
    uint64_t before = *uptr(SHARED);
    akhyp_clock_sleep(now() + 30 * MS);
    g_sleep_progress = *uptr(SHARED) - before;
    CHECK(rdmsr(MSR_FS_BASE) == SHARED + 512, rdmsr(MSR_FS_BASE));
    r->rax = 0;
}

static void on_syscall(struct akhyp_uregs* r) {
    struct uthread* t = akhyp_curlwp_get();
    CHECK(t != 0, r->orig_rax);
    CHECK(r->orig_rax == r->rax, r->rax);
    CHECK(r->fs_base == t->fs, r->fs_base);
    switch (r->orig_rax) {
    case SYS_NEXT:
        loop_next(r);
        break;
    case SYS_EXIT:
        akhyp_thread_exit();
    case SYS_REGS:
        check_regs(r, t);
        break;
    case SYS_REPORT:
        t->report_code = r->rdi;
        t->report_detail = r->rsi;
        t->reported = 1;
        CHECK(rdmsr(MSR_FS_BASE) == t->fs, rdmsr(MSR_FS_BASE));
        r->rax = 0;
        break;
    case SYS_SLEEP:
        sleep_call(r, t);
        break;
    case SYS_NULL:
        r->rax = 0;
        break;
    case SYS_NULL_IRET:
        r->rax = 0;
        r->rcx = 0; /* rcx != rip: the platform must use iretq */
        break;
    case SYS_MARK:
        CHECK(g_nmarks < 3, g_nmarks);
        g_marks[g_nmarks++] = now();
        break;
    default:
        fail("unknown system call", r->orig_rax);
    }
}

static void on_trap(struct akhyp_uregs* r, int vector, uint64_t error, uint64_t addr) {
    struct uthread* t = akhyp_curlwp_get();
    CHECK(t != 0, vector);
    if (vector == AKHYP_USER_TRAP_INTERRUPT) {
        /* akhyp_user_interrupt: resume where the thread was */
        CHECK(error == 0 && addr == 0 && r->orig_rax == ~0ull, error);
        CHECK(r->rip >= CODE && r->rip < UADDR(user_blob_end), r->rip);
        CHECK(r->fs_base == t->fs, r->fs_base);
        t->interrupts++;
        return;
    }
    if (t != &g_loop) {
        out("user-test: unexpected trap at ");
        out_hex(r->rip);
        out(" addr ");
        out_hex(addr);
        out(" error ");
        out_hex(error);
        out("\n");
        fail("trap outside the command loop", (unsigned long long)vector);
    }
    CHECK(!g_trap.hit, g_trap.vector);
    CHECK(r->fs_base == t->fs, r->fs_base);
    g_trap.hit = 1;
    g_trap.vector = vector;
    g_trap.error = error;
    g_trap.addr = addr;
    g_trap.rip = r->rip;
    g_trap.orig_rax = r->orig_rax;
    if (vector != 3)
        r->rip = UADDR(u_loop); /* like a signal handler that jumps back */
}

static int g_thread_exits;
static void on_thread_exit(void* lwp) {
    ((struct uthread*)lwp)->exited = 1;
    g_thread_exits++;
}

/* --- the tests ------------------------------------------------------------------ */
static void test_ranges(void) {
    CHECK(akhyp_groups() & AKHYP_GROUP_USER, akhyp_groups());
    uintptr_t lo, hi;
    CHECK(akhyp_vm_range(AKHYP_VM_GENERAL, &lo, &hi) == 0, 0);
    CHECK(lo == (1ull << 39) && hi == (1ull << 47) - (4ull << 30), hi);
    g_lo = lo, g_hi = hi;
    CHECK(akhyp_vm_range(7, &lo, &hi) == EINVAL_, 0);
    CHECK(akhyp_vm_range(AKHYP_VM_EXEC_WINDOW, &lo, &hi) == 0, 0);
    CHECK(lo == USER_TEST_WINDOW_LO && hi == USER_TEST_WINDOW_HI, lo);
    g_win_lo = lo, g_win_hi = hi;
    /* argument checks: nothing is mapped by a refused call */
    CHECK(akhyp_vm_map(g_lo + 1, PAGE, AKHYP_PROT_READ) == EINVAL_, 0);
    CHECK(akhyp_vm_map(g_lo, 0, AKHYP_PROT_READ) == EINVAL_, 0);
    CHECK(akhyp_vm_map(g_lo - PAGE, 2 * PAGE, AKHYP_PROT_READ) == EINVAL_, 0);
    CHECK(akhyp_vm_map(g_hi - PAGE, 2 * PAGE, AKHYP_PROT_READ) == EINVAL_, 0);
    CHECK(akhyp_vm_map(g_lo, PAGE, 8) == EINVAL_, 0);
    CHECK(akhyp_vm_map(g_lo, ~(size_t)0, AKHYP_PROT_READ) == EINVAL_, 0);
    CHECK(akhyp_vm_map(0x100000, PAGE, AKHYP_PROT_READ) == EINVAL_, 0); /* the image */
    CHECK(akhyp_vm_unmap(0, PAGE) == EINVAL_, 0);
    CHECK(akhyp_vm_unmap(HOLE, PAGE) == 0, 0); /* nothing there: fine */
    CHECK(akhyp_vm_protect(HOLE, PAGE, AKHYP_PROT_READ) == ENOMEM_, 0);
    CHECK(akhyp_vm_protect(FAR_HOLE, PAGE, AKHYP_PROT_READ) == ENOMEM_, 0);
    /* The last page of the area, written by the kernel (demand-zero). */
    CHECK(akhyp_vm_map(TOP_PAGE, PAGE, AKHYP_PROT_READ | AKHYP_PROT_WRITE) == 0, 0);
    CHECK(*uptr(TOP_PAGE + 8) == 0, 0);
    *uptr(TOP_PAGE) = 0x70b;
    pass("ranges and argument checks");
}

static void setup_user_memory(void) {
    size_t len = (size_t)(user_blob_end - user_blob_start);
    uint64_t code_len = (len + PAGE - 1) & ~(PAGE - 1);
    CHECK(akhyp_vm_map(CODE, code_len, AKHYP_PROT_READ | AKHYP_PROT_WRITE) == 0, 0);
    __builtin_memcpy((void*)CODE, user_blob_start, len); /* demand-zero in ring 0 */
    CHECK(akhyp_vm_protect(CODE, code_len, AKHYP_PROT_READ | AKHYP_PROT_EXEC) == 0, 0);
    for (int i = 0; i < 6; i++)
        CHECK(akhyp_vm_map(STACK_TOP(i) - 0x8000, 0x8000, AKHYP_PROT_READ | AKHYP_PROT_WRITE) == 0,
              i);
    CHECK(akhyp_vm_map(DATA, 2 * PAGE, AKHYP_PROT_READ | AKHYP_PROT_WRITE) == 0, 0);
    CHECK(akhyp_vm_map(DATA2, PAGE, AKHYP_PROT_READ | AKHYP_PROT_WRITE) == 0, 0);
    CHECK(akhyp_vm_map(TLS_PAGE, PAGE, AKHYP_PROT_READ | AKHYP_PROT_WRITE) == 0, 0);
    CHECK(akhyp_vm_map(SHARED, PAGE, AKHYP_PROT_READ | AKHYP_PROT_WRITE) == 0, 0);
}

static void test_regs(void) {
    start_user(&g_regs_thread, "uregs", u_regs, 1, 0, 0, 0,
               RFLAGS_IF | RFLAGS_IOPL | RFLAGS_NT | 0x2);
    join_user(&g_regs_thread);
    CHECK(g_regs_thread.reported, 0);
    CHECK(g_regs_thread.report_code == 0, g_regs_thread.report_code); /* register number */
    CHECK(g_regs_thread.report_detail == g_regs_thread.syscall_rsp, g_regs_thread.report_detail);
    pass("syscall: arguments in, result out, GPRs and XMM preserved, rflags sanitized");
}

static void test_loop(void) {
    build_steps();
    start_user(&g_loop, "uloop", u_loop, 0, 0, 0, 0, 0x202);
    join_user(&g_loop);
    CHECK(g_step == g_nsteps, g_step);
    pass("memory, faults, traps, FS base, redirects (command loop)");
}

static void test_preemption(void) {
    volatile uint64_t* counters = uptr(SHARED);
    counters[0] = counters[1] = counters[8] = 0; /* 8: the stop flag */
    start_user(&g_spin[0], "uspin0", u_spin, 2, SHARED, 0x1111222233334444, SHARED + 64, 0x202);
    start_user(&g_spin[1], "uspin1", u_spin, 3, SHARED + 8, 0x5555666677778888, SHARED + 64, 0x202);
    int64_t t0 = now();
    akhyp_clock_sleep(t0 + 100 * MS); /* both spin in ring 3 meanwhile */
    int64_t late = now() - t0 - 100 * MS;
    CHECK(late < 2000 * MS, late);
    uint64_t a0 = counters[0], b0 = counters[1];
    CHECK(a0 > 0 && b0 > 0, a0);
    akhyp_clock_sleep(now() + 50 * MS);
    uint64_t a1 = counters[0], b1 = counters[1];
    CHECK(a1 > a0 && b1 > b0, a1 - a0);
    pass("two user threads spinning are preempted and both progress");

    /* A thread spinning in ring 3 is brought back to the kernel (the way an
     * asynchronous signal reaches it); two requests make one upcall. */
    CHECK(akhyp_user_interrupt(&g_spin[0]) == 0, 0);
    CHECK(akhyp_user_interrupt(&g_spin[0]) == 0, 0);
    CHECK(akhyp_user_interrupt(&g_loop) == ESRCH_, 0); /* exited */
    CHECK(akhyp_user_interrupt(0) == ESRCH_, 0);
    int64_t t1 = now();
    while (!*(volatile int*)&g_spin[0].interrupts && now() - t1 < 2000 * MS)
        akhyp_clock_sleep(now() + 10 * MS);
    uint64_t a2 = counters[0];
    akhyp_clock_sleep(now() + 30 * MS);
    CHECK(g_spin[0].interrupts == 1 && g_spin[1].interrupts == 0, g_spin[0].interrupts);
    CHECK(counters[0] > a2, a2); /* and it spins on */
    pass("akhyp_user_interrupt reaches a thread spinning in user mode");

    /* A system call that blocks lets the spinners run. */
    start_user(&g_sleeper, "usleep", u_sleeper, 4, 0x3100000000000000, 0, 0, 0x202);
    akhyp_clock_sleep(now() + 10 * MS);
    /* It sleeps in its upcall: the interrupt comes before user mode resumes. */
    CHECK(akhyp_user_interrupt(&g_sleeper) == 0, 0);
    join_user(&g_sleeper);
    CHECK(g_sleeper.interrupts == 1, g_sleeper.interrupts);
    CHECK(g_sleeper.reported && g_sleeper.report_code == 0, g_sleeper.report_code);
    CHECK(g_sleep_progress > 0, g_sleep_progress);
    pass("blocked system call: other user threads run; XMM, FS base, fpu_save/restore");

    counters[8] = 1;
    join_user(&g_spin[0]);
    join_user(&g_spin[1]);
    for (int i = 0; i < 2; i++)
        CHECK(g_spin[i].reported && g_spin[i].report_code == 0, i); /* 1: XMM leaked */
    pass("spinners kept their own XMM state");
}

static void test_null_syscall(void) {
    const uint64_t n = 20000;
    start_user(&g_nullsys, "unull", u_nullsys, 5, n, 0, 0, 0x202);
    join_user(&g_nullsys);
    CHECK(g_nmarks == 3, g_nmarks);
    out("user-test: null syscall ");
    out_u64((unsigned long long)((g_marks[1] - g_marks[0]) / (int64_t)n));
    out(" ns (sysretq), ");
    out_u64((unsigned long long)((g_marks[2] - g_marks[1]) / (int64_t)n));
    out(" ns (iretq)\n");
    pass("null syscall timing");
}

/* --- akhyp_user_guard (1.5) ------------------------------------------------- */
#define GUARD_HOLE (g_lo + 0x20000000) /* never mapped */
#define GUARD_RO (g_lo + 0x20100000)
#define GUARD_NONE (g_lo + 0x20101000)
#define EFAULT_ 14
#define ENOTRECOVERABLE_ 131

static struct akhyp_mutex g_guard_mutex;

static long guard_plus_one(void* arg) {
    return (long)arg + 1;
}
static long guard_write(void* arg) {
    *(volatile uint64_t*)arg = 1;
    return 99; /* not reached */
}
static long guard_read(void* arg) {
    return (long)*(volatile uint64_t*)arg;
}
static long guard_sleep_then_write(void* arg) {
    akhyp_clock_sleep(now() + 2 * MS);
    return guard_write(arg);
}
static long guard_write_locked(void* arg) {
    akhyp_mutex_enter(&g_guard_mutex);
    return guard_write(arg);
}
/* An inner guard catches the fault; the outer one then returns normally. */
static long guard_nested(void* arg) {
    long r = 0;
    uint64_t addr = 0;
    int e = akhyp_user_guard(guard_write, arg, &r, &addr);
    return e == EFAULT_ && addr == (uint64_t)arg ? 7 : -1;
}

static void test_guard(void) {
    CHECK(akhyp_vm_map(GUARD_RO, PAGE, AKHYP_PROT_READ) == 0, 0);
    CHECK(akhyp_vm_map(GUARD_NONE, PAGE, AKHYP_PROT_NONE) == 0, 0);
    /* Callee-saved state of this frame must survive an abandoned call. */
    volatile uint64_t canary = 0x5a5a1234abcd9876ull;
    long r = -5;
    uint64_t addr = 0;
    CHECK(akhyp_user_guard(guard_plus_one, (void*)41, &r, &addr) == 0 && r == 42, r);
    CHECK(akhyp_user_guard(guard_read, (void*)GUARD_RO, &r, 0) == 0 && r == 0, r);

    r = -5;
    CHECK(akhyp_user_guard(guard_write, (void*)(GUARD_HOLE + 8), &r, &addr) == EFAULT_, 0);
    CHECK(addr == GUARD_HOLE + 8 && r == -5, addr);
    CHECK(akhyp_user_guard(guard_read, (void*)GUARD_HOLE, &r, &addr) == EFAULT_, 0);
    CHECK(addr == GUARD_HOLE, addr);
    CHECK(akhyp_user_guard(guard_write, (void*)GUARD_RO, &r, &addr) == EFAULT_, 0);
    CHECK(addr == GUARD_RO, addr);
    CHECK(akhyp_user_guard(guard_read, (void*)(GUARD_NONE + 16), &r, &addr) == EFAULT_, 0);
    CHECK(addr == GUARD_NONE + 16, addr);
    CHECK(akhyp_user_guard(guard_sleep_then_write, (void*)GUARD_HOLE, &r, &addr) == EFAULT_, 0);
    pass("akhyp_user_guard: EFAULT for unmapped, PROT_NONE and read-only user memory");

    CHECK(akhyp_user_guard(guard_nested, (void*)GUARD_RO, &r, &addr) == 0 && r == 7, r);
    pass("akhyp_user_guard: guards nest");

    akhyp_mutex_init(&g_guard_mutex);
    CHECK(akhyp_user_guard(guard_write_locked, (void*)GUARD_HOLE, &r, &addr) == ENOTRECOVERABLE_,
          0);
    CHECK(akhyp_mutex_tryenter(&g_guard_mutex) == 16, 0); /* still ours: EBUSY */
    akhyp_mutex_exit(&g_guard_mutex);
    /* Holding a lock from before the guard is not an abandoned one. */
    akhyp_mutex_enter(&g_guard_mutex);
    CHECK(akhyp_user_guard(guard_write, (void*)GUARD_HOLE, &r, &addr) == EFAULT_, 0);
    akhyp_mutex_exit(&g_guard_mutex);
    akhyp_mutex_destroy(&g_guard_mutex);
    CHECK(canary == 0x5a5a1234abcd9876ull, canary);
    pass("akhyp_user_guard: ENOTRECOVERABLE when a lock taken inside stays held");
    CHECK(akhyp_vm_unmap(GUARD_RO, 2 * PAGE) == 0, 0);
}

int ak_kvm_main(int argc, char** argv) {
    (void)argc, (void)argv;
    static const struct akhyp_upcalls upcalls = {on_thread_exit, on_syscall, on_trap};
    out("user-test: start\n");
    CHECK(akhyp_init(AK_HYPERCALL_VERSION, &upcalls) == 0, 0);
    g_nx = cpu_has_nx();
    test_ranges();
    setup_user_memory();
    test_regs();
    test_loop();
    test_preemption();
    test_null_syscall();
    test_guard();
    CHECK(g_thread_exits == 6, g_thread_exits);
    out("user-test: all tests passed\n");
    return EXIT_PASS;
}
