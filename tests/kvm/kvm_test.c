/*
 * End-to-end test of the kvm platform: a freestanding program linked with
 * libak-platform-kvm that calls hypercalls directly.  It plays the part of
 * an application too: it is compiled WITH the red zone and SSE (unlike
 * kernel code), so the red-zone and XMM checks below exercise the IST
 * entry path and the per-thread fxsave.
 *
 * Prints "kvm-test: PASS <name>" per check, "kvm-test: all tests passed"
 * and exits with status 42; any failure exits with status 1.  Built with
 * -DKVM_TEST_CRASH it instead takes a page fault three calls deep, to
 * check the register dump and backtrace, and with -DKVM_TEST_BOOT_ONLY it
 * exits as soon as it runs (the boot benchmark's image).
 */
#include <anykern/hypercall.h>
#include <stdarg.h>

#if defined(KVM_TEST_CRASH) || defined(KVM_TEST_BOOT_ONLY)
#pragma GCC diagnostic ignored "-Wunused-function"
#endif

#define EXIT_PASS 42
#define ETIMEDOUT_ 110

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

static void fail(const char* what, long long v) {
    out("kvm-test: FAIL ");
    out(what);
    out(" value=");
    if (v < 0) {
        out("-");
        v = -v;
    }
    out_u64((unsigned long long)v);
    out("\n");
    akhyp_exit(1);
}

#define CHECK(cond, v)                                                                             \
    do {                                                                                           \
        if (!(cond))                                                                               \
            fail(#cond, (long long)(v));                                                           \
    } while (0)

static int64_t g_last_pass;

static void pass(const char* name) {
    int64_t t = akhyp_clock_now(AKHYP_CLOCK_MONOTONIC);
    out("kvm-test: PASS ");
    out(name);
    out(" (");
    out_u64((unsigned long long)((t - g_last_pass) / 1000000));
    out(" ms)\n");
    g_last_pass = t;
}

static int64_t now(void) {
    return akhyp_clock_now(AKHYP_CLOCK_MONOTONIC);
}
#define MS 1000000LL

/* --- threads, mutex and condvar ping-pong ------------------------------ */
static struct akhyp_mutex g_mtx;
static struct akhyp_cond g_cv;
static int g_turn, g_rounds_done;
#define ROUNDS 1000

static void pinger(void* arg) {
    int me = (int)(long)arg;
    for (int i = 0; i < ROUNDS; i++) {
        akhyp_mutex_enter(&g_mtx);
        while (g_turn != me)
            akhyp_cond_wait(&g_cv, &g_mtx);
        g_turn = !me;
        g_rounds_done++;
        akhyp_cond_broadcast(&g_cv);
        akhyp_mutex_exit(&g_mtx);
    }
}

static void test_ping_pong(void) {
    void *a, *b;
    akhyp_mutex_init(&g_mtx);
    akhyp_cond_init(&g_cv);
    CHECK(akhyp_thread_create(pinger, (void*)0L, "ping", 1, 0, &a) == 0, 0);
    CHECK(akhyp_thread_create(pinger, (void*)1L, "pong", 1, 0, &b) == 0, 0);
    CHECK(akhyp_thread_join(a) == 0, 0);
    CHECK(akhyp_thread_join(b) == 0, 0);
    CHECK(g_rounds_done == 2 * ROUNDS, g_rounds_done);
    akhyp_cond_destroy(&g_cv);
    akhyp_mutex_destroy(&g_mtx);
    pass("ping-pong");
}

/* --- detached threads, exit upcall, join after exit --------------------- */
static struct akhyp_mutex g_det_mtx;
static struct akhyp_cond g_det_cv;
static int g_det_done, g_exit_upcalls;
static int g_lwp_token;

static void on_thread_exit(void* lwp) {
    if (lwp == &g_lwp_token)
        __atomic_fetch_add(&g_exit_upcalls, 1, __ATOMIC_RELAXED);
}

static void detached(void* arg) {
    akhyp_curlwp_set(&g_lwp_token); /* left set: the upcall must see it */
    if (arg)
        akhyp_thread_yield();
    akhyp_mutex_enter(&g_det_mtx);
    g_det_done++;
    akhyp_cond_signal(&g_det_cv);
    akhyp_mutex_exit(&g_det_mtx);
    if ((long)arg % 3 == 0)
        akhyp_thread_exit(); /* explicit exit and return are equivalent */
}

static void quick(void* arg) {
    (void)arg;
}

static void test_threads(void) {
    static const struct akhyp_upcalls upcalls = {on_thread_exit, 0, 0};
    CHECK(akhyp_init(AK_HYPERCALL_VERSION, &upcalls) == 0, 0);
    akhyp_mutex_init(&g_det_mtx);
    akhyp_cond_init(&g_det_cv);
    for (long round = 0; round < 4; round++) {
        for (long i = 0; i < 100; i++)
            CHECK(akhyp_thread_create(detached, (void*)i, "det", 0, i % 2 ? 16384 : 0, 0) == 0, i);
        akhyp_mutex_enter(&g_det_mtx);
        while (g_det_done < (round + 1) * 100)
            akhyp_cond_wait(&g_det_cv, &g_det_mtx);
        akhyp_mutex_exit(&g_det_mtx);
    }
    /* Joining a thread that has already exited, and one still running. */
    void *a, *b;
    CHECK(akhyp_thread_create(quick, 0, "quick", 1, 0, &a) == 0, 0);
    akhyp_clock_sleep(now() + 5 * MS);
    CHECK(akhyp_thread_join(a) == 0, 0);
    CHECK(akhyp_thread_create(quick, 0, "quick", 1, 0, &b) == 0, 0);
    CHECK(akhyp_thread_join(b) == 0, 0);
    akhyp_clock_sleep(now() + 5 * MS); /* let the last detached threads die */
    CHECK(g_exit_upcalls == 400, g_exit_upcalls);
    CHECK(akhyp_init(AK_HYPERCALL_VERSION, 0) == 0, 0);
    pass("threads");
}

/* --- mutual exclusion under preemption --------------------------------- */
static struct akhyp_mutex g_count_mtx;
static volatile long g_counter;

static void incrementer(void* arg) {
    (void)arg;
    for (int i = 0; i < 20000; i++) {
        akhyp_mutex_enter(&g_count_mtx);
        long v = g_counter;
        for (volatile int k = 0; k < 20; k = k + 1) {}
        g_counter = v + 1;
        akhyp_mutex_exit(&g_count_mtx);
    }
}

static void test_mutex(void) {
    void* t[4];
    akhyp_mutex_init(&g_count_mtx);
    for (int i = 0; i < 4; i++)
        CHECK(akhyp_thread_create(incrementer, 0, "inc", 1, 0, &t[i]) == 0, i);
    for (int i = 0; i < 4; i++)
        CHECK(akhyp_thread_join(t[i]) == 0, i);
    CHECK(g_counter == 80000, g_counter);
    CHECK(akhyp_mutex_tryenter(&g_count_mtx) == 0, 0);
    akhyp_mutex_exit(&g_count_mtx);
    pass("mutex");
}

/* --- rwlock ------------------------------------------------------------ */
static struct akhyp_rwlock g_rw;
static volatile int g_readers_in, g_max_readers, g_writer_in, g_rw_bad;

static void rw_worker(void* arg) {
    int writer = (int)(long)arg;
    for (int i = 0; i < 200; i++) {
        akhyp_rw_enter(&g_rw, writer ? AKHYP_RW_WRITER : AKHYP_RW_READER);
        if (writer) {
            if (g_readers_in || g_writer_in)
                g_rw_bad = 1;
            g_writer_in = 1;
            akhyp_thread_yield();
            g_writer_in = 0;
        } else {
            if (g_writer_in)
                g_rw_bad = 1;
            g_readers_in++;
            if (g_readers_in > g_max_readers)
                g_max_readers = g_readers_in;
            akhyp_thread_yield();
            g_readers_in--;
        }
        akhyp_rw_exit(&g_rw);
        akhyp_thread_yield();
    }
}

static void test_rwlock(void) {
    void* t[5];
    akhyp_rw_init(&g_rw);
    for (int i = 0; i < 5; i++)
        CHECK(akhyp_thread_create(rw_worker, (void*)(long)(i == 2), "rw", 1, 0, &t[i]) == 0, i);
    for (int i = 0; i < 5; i++)
        akhyp_thread_join(t[i]);
    CHECK(!g_rw_bad, 0);
    CHECK(g_max_readers >= 2, g_max_readers);
    CHECK(akhyp_rw_tryenter(&g_rw, AKHYP_RW_WRITER) == 0, 0);
    CHECK(akhyp_rw_tryenter(&g_rw, AKHYP_RW_READER) != 0, 0);
    akhyp_rw_exit(&g_rw);
    akhyp_rw_destroy(&g_rw);
    pass("rwlock");
}

/* --- sleep and timed wait ---------------------------------------------- */
static void test_timing(void) {
    int64_t t0 = now();
    akhyp_clock_sleep(t0 + 50 * MS);
    int64_t slept = now() - t0;
    CHECK(slept >= 50 * MS && slept < 2000 * MS, slept); /* generous: TCG on a busy host */

    struct akhyp_mutex m;
    struct akhyp_cond cv;
    akhyp_mutex_init(&m);
    akhyp_cond_init(&cv);
    akhyp_mutex_enter(&m);
    t0 = now();
    int r = akhyp_cond_timedwait(&cv, &m, t0 + 30 * MS);
    int64_t waited = now() - t0;
    akhyp_mutex_exit(&m);
    CHECK(r == ETIMEDOUT_, r);
    CHECK(waited >= 30 * MS && waited < 2000 * MS, waited);
    CHECK(akhyp_cond_timedwait(&cv, &m, 0) == ETIMEDOUT_, 0); /* deadline passed */

    int64_t wall = akhyp_clock_now(AKHYP_CLOCK_REALTIME);
    CHECK(wall > 1577836800LL * 1000000000LL, wall / 1000000000LL); /* after 2020 */
    pass("timing");
}

/* --- preemption: threads that never block still share the CPU ---------- */
static volatile int g_spin_stop;
static volatile long g_spins[2];

static void spinner(void* arg) {
    int i = (int)(long)arg;
    while (!g_spin_stop)
        g_spins[i]++;
}

/* A leaf that keeps data in its red zone while interrupts arrive: an
 * interrupt pushed onto this stack would overwrite it. */
static int red_zone_survives(long iterations) {
    int bad = 0;
    __asm__ volatile("mov $0x5a5a5a5a5a5a5a5a, %%rax\n"
                     ".irp off, 8, 16, 32, 64, 96, 120, 128\n"
                     "mov %%rax, -\\off(%%rsp)\n"
                     ".endr\n"
                     "1:\n"
                     ".irp off, 8, 16, 32, 64, 96, 120, 128\n"
                     "cmp %%rax, -\\off(%%rsp)\n"
                     "jne 2f\n"
                     ".endr\n"
                     "dec %1\n"
                     "jnz 1b\n"
                     "jmp 3f\n"
                     "2: movl $1, %0\n"
                     "3:\n"
                     : "+r"(bad), "+r"(iterations)
                     :
                     : "rax", "memory", "cc");
    return !bad;
}

static void test_preemption(void) {
    void *a, *b;
    CHECK(akhyp_thread_create(spinner, (void*)0L, "spin0", 1, 0, &a) == 0, 0);
    CHECK(akhyp_thread_create(spinner, (void*)1L, "spin1", 1, 0, &b) == 0, 0);
    /* main also spins (red zone check) while the spinners compete. */
    CHECK(red_zone_survives(20000000), 0);
    akhyp_clock_sleep(now() + 50 * MS);
    g_spin_stop = 1;
    akhyp_thread_join(a);
    akhyp_thread_join(b);
    CHECK(g_spins[0] > 0 && g_spins[1] > 0, g_spins[0]);
    pass("preemption+redzone");
}

/* --- XMM state survives preemption -------------------------------------- */
static volatile int g_xmm_bad;

static void xmm_worker(void* arg) {
    long seed = (long)arg;
    for (int round = 0; round < 40; round++) {
        long v = seed * 1000 + round, got0, got1;
        __asm__ volatile("movq %2, %%xmm0\n"
                         "movq %2, %%xmm7\n"
                         "mov $3000000, %%ecx\n"
                         "1: dec %%ecx\n"
                         "jnz 1b\n"
                         "movq %%xmm0, %0\n"
                         "movq %%xmm7, %1\n"
                         : "=r"(got0), "=r"(got1)
                         : "r"(v)
                         : "xmm0", "xmm7", "rcx", "cc");
        if (got0 != v || got1 != v)
            g_xmm_bad = 1;
    }
}

static void test_xmm(void) {
    void* t[3];
    for (int i = 0; i < 3; i++)
        CHECK(akhyp_thread_create(xmm_worker, (void*)(long)(i + 1), "xmm", 1, 0, &t[i]) == 0, i);
    for (int i = 0; i < 3; i++)
        akhyp_thread_join(t[i]);
    CHECK(!g_xmm_bad, 0);
    pass("xmm");
}

/* --- malloc/free stress ------------------------------------------------ */
static uint64_t g_rng = 88172645463325252ull;
static uint64_t rnd(void) {
    g_rng ^= g_rng << 13;
    g_rng ^= g_rng >> 7;
    g_rng ^= g_rng << 17;
    return g_rng;
}

#define SLOTS 512
static struct {
    unsigned char* p;
    size_t size;
} g_slots[SLOTS];

static void test_malloc(void) {
    for (int iter = 0; iter < 20000; iter++) {
        int i = (int)(rnd() % SLOTS);
        if (g_slots[i].p) {
            for (size_t k = 0; k < g_slots[i].size; k += 61)
                CHECK(g_slots[i].p[k] == (unsigned char)(i + k), k);
            akhyp_free(g_slots[i].p, g_slots[i].size);
            g_slots[i].p = 0;
            continue;
        }
        size_t size = (rnd() % 8 == 0) ? rnd() % 40000 + 1 : rnd() % 600 + 1;
        size_t align = (size_t)1 << (rnd() % 13); /* 1 .. 4096 */
        void* p;
        CHECK(akhyp_malloc(size, align, &p) == 0, size);
        CHECK(((uintptr_t)p & (align - 1)) == 0, align);
        g_slots[i].p = p;
        g_slots[i].size = size;
        for (size_t k = 0; k < size; k++)
            g_slots[i].p[k] = (unsigned char)(i + k);
    }
    for (int i = 0; i < SLOTS; i++)
        akhyp_free(g_slots[i].p, g_slots[i].size);
    akhyp_free(0, 0);
    void* big;
    CHECK(akhyp_malloc((size_t)1 << 50, 0, &big) != 0, 0);
    pass("malloc");
}

/* --- parameters, random, curlwp ---------------------------------------- */
static void test_misc(void) {
    char buf[64];
    CHECK(akhyp_getparam(AKHYP_PARAM_HOSTNAME, buf, sizeof buf) == 0, 0);
    CHECK(__builtin_strcmp(buf, "kvmtest") == 0, 0);
    CHECK(akhyp_getparam("greeting", buf, sizeof buf) == 0, 0);
    CHECK(__builtin_strcmp(buf, "hello world") == 0, 0);
    CHECK(akhyp_getparam("nosuch", buf, sizeof buf) == 2, 0);
    CHECK(akhyp_getparam("greeting", buf, 4) == 36, 0);
    CHECK(akhyp_getparam(AKHYP_PARAM_NCPU, buf, sizeof buf) == 0 && buf[0] == '1', 0);
    CHECK(akhyp_getparam(AKHYP_PARAM_MEMLIMIT, buf, sizeof buf) == 0, 0);

    unsigned char r1[64], r2[64];
    CHECK(akhyp_getrandom(r1, sizeof r1) == 0, 0);
    CHECK(akhyp_getrandom(r2, sizeof r2) == 0, 0);
    CHECK(__builtin_memcmp(r1, r2, sizeof r1) != 0, 0);

    int lwp;
    CHECK(akhyp_curlwp_get() == 0, 0);
    akhyp_curlwp_set(&lwp);
    CHECK(akhyp_curlwp_get() == &lwp, 0);
    akhyp_curlwp_set(0);
    CHECK(akhyp_init(AK_HYPERCALL_VERSION, 0) == 0, 0);
    CHECK(akhyp_init(AK_HYPERCALL_VERSION + (1 << 16), 0) != 0, 0);
    CHECK(akhyp_groups() & AKHYP_GROUP_CORE, 0);
    /* The user group is there (tests/kvm/user_test.c); this image defines
     * no executable window. */
    uintptr_t lo, hi;
    CHECK(akhyp_groups() & AKHYP_GROUP_USER, 0);
    CHECK(akhyp_vm_range(AKHYP_VM_EXEC_WINDOW, &lo, &hi) == 2, 0); /* ENOENT */
    CHECK(akhyp_vm_range(AKHYP_VM_GENERAL, &lo, &hi) == 0 && lo < hi, lo);
    pass("misc");
}

#ifdef KVM_TEST_CRASH
__attribute__((noinline)) static void crash3(volatile long* p) {
    *p = 1;
}
/* The empty asm after each call keeps the frames (no tail calls). */
__attribute__((noinline)) static void crash2(volatile long* p) {
    crash3(p + 1);
    __asm__ volatile("");
}
__attribute__((noinline)) static void crash1(volatile long* p) {
    crash2(p + 1);
    __asm__ volatile("");
}
#endif

int ak_kvm_main(int argc, char** argv) {
#if defined(KVM_TEST_BOOT_ONLY)
    /* The boot benchmark's image: platform initialisation, then exit. */
    (void)argc, (void)argv;
    out("kvm-test: booted\n");
    return 0;
#else
    out("kvm-test: start\n");
    g_last_pass = akhyp_clock_now(AKHYP_CLOCK_MONOTONIC);
    CHECK(argc == 2, argc);
    CHECK(__builtin_strcmp(argv[0], "app") == 0 && __builtin_strcmp(argv[1], "two words") == 0, 0);
#endif
#if defined(KVM_TEST_BOOT_ONLY)
#elif defined(KVM_TEST_CRASH)
    out("kvm-test: crashing\n");
    crash1((volatile long*)0x10000000000ull); /* 1 TiB: unmapped, #PF */
    __asm__ volatile("");
    return 0;
#else
    test_misc();
    test_malloc();
    test_threads();
    test_ping_pong();
    test_mutex();
    test_rwlock();
    test_timing();
    test_preemption();
    test_xmm();
    out("kvm-test: all tests passed\n");
    return EXIT_PASS;
#endif
}
