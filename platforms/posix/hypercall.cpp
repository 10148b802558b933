// The hypercall interface on Linux userspace: pthreads, clock_gettime,
// getrandom, stderr.  Parameters come from akposix_setparam() overrides and
// then AK_<NAME> environment variables.
#include <anykern/hypercall.h>

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#define AKPOSIX_EXPORT __attribute__((visibility("default")))

static_assert(sizeof(pthread_mutex_t) <= AKHYP_LOCK_STORAGE);
static_assert(sizeof(pthread_rwlock_t) <= AKHYP_LOCK_STORAGE);
static_assert(sizeof(pthread_cond_t) <= AKHYP_LOCK_STORAGE);

namespace {

const akhyp_upcalls* g_upcalls;
pthread_key_t g_lwp_key;
pthread_once_t g_key_once = PTHREAD_ONCE_INIT;
thread_local void* t_curlwp;

struct Param {
    char name[32];
    char value[256];
};
constexpr int k_max_params = 32;
Param g_params[k_max_params];
int g_nparams;
pthread_mutex_t g_param_lock = PTHREAD_MUTEX_INITIALIZER;

void lwp_key_destructor(void*) {
    // Runs at thread exit for threads that set a current lwp.
    void* l = t_curlwp;
    t_curlwp = nullptr;
    if (l && g_upcalls && g_upcalls->thread_exit)
        g_upcalls->thread_exit(l);
}

void make_key() { pthread_key_create(&g_lwp_key, lwp_key_destructor); }

pthread_mutex_t* mtx(akhyp_mutex* m) { return reinterpret_cast<pthread_mutex_t*>(m->opaque); }
pthread_rwlock_t* rwl(akhyp_rwlock* r) { return reinterpret_cast<pthread_rwlock_t*>(r->opaque); }
pthread_cond_t* cnd(akhyp_cond* c) { return reinterpret_cast<pthread_cond_t*>(c->opaque); }

[[noreturn]] void fatal(const char* what, int e) {
    fprintf(stderr, "anykern posix platform: %s: %s\n", what, strerror(e));
    abort();
}

struct ThreadStart {
    void (*fn)(void*);
    void* arg;
};

void* thread_trampoline(void* p) {
    ThreadStart s = *static_cast<ThreadStart*>(p);
    free(p);
    s.fn(s.arg);
    return nullptr;
}

} // namespace

extern "C" {

// Set a parameter before ak_init() (overrides the environment).
AKPOSIX_EXPORT int akposix_setparam(const char* name, const char* value) {
    if (!name || !value || strlen(name) >= sizeof g_params[0].name ||
        strlen(value) >= sizeof g_params[0].value)
        return EINVAL;
    pthread_mutex_lock(&g_param_lock);
    int i;
    for (i = 0; i < g_nparams; i++)
        if (strcmp(g_params[i].name, name) == 0)
            break;
    if (i == g_nparams) {
        if (g_nparams == k_max_params) {
            pthread_mutex_unlock(&g_param_lock);
            return ENOSPC;
        }
        g_nparams++;
    }
    strcpy(g_params[i].name, name);
    strcpy(g_params[i].value, value);
    pthread_mutex_unlock(&g_param_lock);
    return 0;
}

int akhyp_init(uint32_t version, const akhyp_upcalls* upcalls) {
    if ((version >> 16) != AK_HYPERCALL_VERSION_MAJOR ||
        (version & 0xffff) > AK_HYPERCALL_VERSION_MINOR)
        return EINVAL;
    g_upcalls = upcalls;
    pthread_once(&g_key_once, make_key);
    return 0;
}

uint32_t akhyp_groups(void) { return AKHYP_GROUP_CORE | AKHYP_GROUP_NET | AKHYP_GROUP_BLOCK; }

int akhyp_getparam(const char* name, char* buf, size_t buflen) {
    const char* v = nullptr;
    pthread_mutex_lock(&g_param_lock);
    for (int i = 0; i < g_nparams; i++)
        if (strcmp(g_params[i].name, name) == 0)
            v = g_params[i].value;
    int r = ENOENT;
    if (!v) {
        char env[64] = "AK_";
        size_t n = 3;
        for (const char* p = name; *p && n + 1 < sizeof env; p++)
            env[n++] = (*p >= 'a' && *p <= 'z') ? static_cast<char>(*p - 32) : *p;
        env[n] = 0;
        v = getenv(env);
    }
    if (v) {
        size_t len = strlen(v);
        if (len + 1 > buflen) {
            r = ENAMETOOLONG;
        } else {
            memcpy(buf, v, len + 1);
            r = 0;
        }
    }
    pthread_mutex_unlock(&g_param_lock);
    return r;
}

int akhyp_malloc(size_t size, size_t alignment, void** ret) {
    void* p;
    if (alignment <= 16) {
        p = malloc(size ? size : 1);
    } else if (posix_memalign(&p, alignment, size ? size : 1) != 0) {
        p = nullptr;
    }
    if (!p)
        return ENOMEM;
    *ret = p;
    return 0;
}

void akhyp_free(void* ptr, size_t) { free(ptr); }

int akhyp_thread_create(void (*fn)(void*), void* arg, const char* name, int joinable,
                        size_t stacksize, void** cookie) {
    auto* s = static_cast<ThreadStart*>(malloc(sizeof(ThreadStart)));
    if (!s)
        return ENOMEM;
    s->fn = fn;
    s->arg = arg;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    if (stacksize)
        pthread_attr_setstacksize(&attr, stacksize);
    pthread_attr_setdetachstate(&attr, joinable ? PTHREAD_CREATE_JOINABLE : PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int e = pthread_create(&t, &attr, thread_trampoline, s);
    pthread_attr_destroy(&attr);
    if (e) {
        free(s);
        return e;
    }
    if (name) {
        char n[16];
        snprintf(n, sizeof n, "%s", name);
        pthread_setname_np(t, n);
    }
    if (joinable && cookie)
        *cookie = reinterpret_cast<void*>(t);
    return 0;
}

void akhyp_thread_exit(void) { pthread_exit(nullptr); }

int akhyp_thread_join(void* cookie) {
    int e = pthread_join(reinterpret_cast<pthread_t>(cookie), nullptr);
    return e ? EINVAL : 0;
}

void akhyp_thread_yield(void) { sched_yield(); }

void akhyp_curlwp_set(void* lwp) {
    if (lwp && !t_curlwp)
        pthread_setspecific(g_lwp_key, reinterpret_cast<void*>(1)); // arm the destructor
    t_curlwp = lwp;
}

void* akhyp_curlwp_get(void) { return t_curlwp; }

void akhyp_mutex_init(akhyp_mutex* m) {
    pthread_mutexattr_t a;
    pthread_mutexattr_init(&a);
    pthread_mutexattr_settype(&a, PTHREAD_MUTEX_NORMAL);
    pthread_mutex_init(mtx(m), &a);
    pthread_mutexattr_destroy(&a);
}
void akhyp_mutex_destroy(akhyp_mutex* m) { pthread_mutex_destroy(mtx(m)); }
void akhyp_mutex_enter(akhyp_mutex* m) {
    if (int e = pthread_mutex_lock(mtx(m)))
        fatal("mutex_enter", e);
}
int akhyp_mutex_tryenter(akhyp_mutex* m) { return pthread_mutex_trylock(mtx(m)) == 0 ? 0 : EBUSY; }
void akhyp_mutex_exit(akhyp_mutex* m) { pthread_mutex_unlock(mtx(m)); }

void akhyp_rw_init(akhyp_rwlock* r) {
    pthread_rwlockattr_t a;
    pthread_rwlockattr_init(&a);
    // Writers must not starve behind a stream of readers (directory updates
    // under lookup load).
    pthread_rwlockattr_setkind_np(&a, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
    pthread_rwlock_init(rwl(r), &a);
    pthread_rwlockattr_destroy(&a);
}
void akhyp_rw_destroy(akhyp_rwlock* r) { pthread_rwlock_destroy(rwl(r)); }
void akhyp_rw_enter(akhyp_rwlock* r, int mode) {
    int e = mode == AKHYP_RW_WRITER ? pthread_rwlock_wrlock(rwl(r)) : pthread_rwlock_rdlock(rwl(r));
    if (e)
        fatal("rw_enter", e);
}
int akhyp_rw_tryenter(akhyp_rwlock* r, int mode) {
    int e = mode == AKHYP_RW_WRITER ? pthread_rwlock_trywrlock(rwl(r))
                                    : pthread_rwlock_tryrdlock(rwl(r));
    return e ? EBUSY : 0;
}
void akhyp_rw_exit(akhyp_rwlock* r) { pthread_rwlock_unlock(rwl(r)); }

void akhyp_cond_init(akhyp_cond* c) {
    pthread_condattr_t a;
    pthread_condattr_init(&a);
    pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
    pthread_cond_init(cnd(c), &a);
    pthread_condattr_destroy(&a);
}
void akhyp_cond_destroy(akhyp_cond* c) { pthread_cond_destroy(cnd(c)); }
void akhyp_cond_wait(akhyp_cond* c, akhyp_mutex* m) { pthread_cond_wait(cnd(c), mtx(m)); }
int akhyp_cond_timedwait(akhyp_cond* c, akhyp_mutex* m, int64_t deadline_ns) {
    timespec ts{static_cast<time_t>(deadline_ns / 1000000000), static_cast<long>(deadline_ns % 1000000000)};
    int e = pthread_cond_timedwait(cnd(c), mtx(m), &ts);
    return e == ETIMEDOUT ? ETIMEDOUT : 0;
}
void akhyp_cond_signal(akhyp_cond* c) { pthread_cond_signal(cnd(c)); }
void akhyp_cond_broadcast(akhyp_cond* c) { pthread_cond_broadcast(cnd(c)); }

int64_t akhyp_clock_now(int clock) {
    timespec ts;
    clock_gettime(clock == AKHYP_CLOCK_REALTIME ? CLOCK_REALTIME : CLOCK_MONOTONIC, &ts);
    return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void akhyp_clock_sleep(int64_t deadline_ns) {
    timespec ts{static_cast<time_t>(deadline_ns / 1000000000), static_cast<long>(deadline_ns % 1000000000)};
    while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nullptr) == EINTR) {
    }
}

void akhyp_console_write(const char* buf, size_t len) {
    while (len > 0) {
        ssize_t n = write(2, buf, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        buf += n;
        len -= static_cast<size_t>(n);
    }
}

int akhyp_getrandom(void* buf, size_t len) {
    auto* p = static_cast<unsigned char*>(buf);
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return EIO;
        }
        p += n;
        len -= static_cast<size_t>(n);
    }
    return 0;
}

void akhyp_exit(int status) {
    if (status == AKHYP_EXIT_PANIC)
        abort();
    exit(status);
}

} // extern "C"
