// Kernel start-up: hypercall init, parameters, components in level order,
// the root file system and process 1.
#include <ak/component.h>
#include <ak/kmem.h>
#include <ak/log.h>
#include <ak/proc.h>
#include <ak/string.h>
#include <ak/thread.h>
#include <ak/time.h>
#include <ak/user.h>
#include <ak/vfs.h>
#include <anykern/kern.h>

extern "C" {
extern const ak::Component* const __start_ak_components[]
    __attribute__((weak, visibility("hidden")));
extern const ak::Component* const __stop_ak_components[]
    __attribute__((weak, visibility("hidden")));
extern const ak::UserUpcalls* const __start_ak_user_upcalls[]
    __attribute__((weak, visibility("hidden")));
extern const ak::UserUpcalls* const __stop_ak_user_upcalls[]
    __attribute__((weak, visibility("hidden")));
}

namespace ak {

Result<void> proc_bootstrap();
Result<void> proc_start_init();
Result<void> vfs_bootstrap();
void lwp_thread_exit_upcall(void* lwp);
void params_load();

namespace {

// Filled before akhyp_init; the platform keeps the pointer.  The user
// upcalls come from the component that runs user code (ak/user.h).
akhyp_upcalls g_upcalls = {lwp_thread_exit_upcall, nullptr, nullptr};
Atomic<int> g_state{0}; // 0 down, 1 starting, 2 up, 3 failed
int g_init_error = 0;
int64_t g_boot_ns = 0;

Result<void> run_components(InitLevel lo, InitLevel hi) {
    const Component* const* begin = __start_ak_components;
    const Component* const* end = __stop_ak_components;
    if (!begin)
        return {};
    for (int level = static_cast<int>(lo); level <= static_cast<int>(hi); level++) {
        for (auto* c = begin; c < end; c++) {
            if (static_cast<int>((*c)->level) != level)
                continue;
            Result<void> r = (*c)->init();
            if (r.is_error()) {
                AK_LOG_ERROR("component %s failed to initialise: errno %d", (*c)->name, r.error());
                return r;
            }
            AK_LOG_DEBUG("component %s initialised", (*c)->name);
        }
    }
    return {};
}

Result<void> kernel_init() {
    const UserUpcalls* const* user_begin = __start_ak_user_upcalls;
    if (user_begin && user_begin != __stop_ak_user_upcalls) {
        g_upcalls.user_syscall = __start_ak_user_upcalls[0]->syscall;
        g_upcalls.user_trap = __start_ak_user_upcalls[0]->trap;
    }
    if (int e = akhyp_init(AK_HYPERCALL_VERSION, &g_upcalls))
        return e;
    g_boot_ns = monotonic_ns();
    params_load();
    uint32_t seed = 0;
    if (akhyp_getrandom(&seed, sizeof seed) == 0)
        set_string_hash_seed(seed);
    TRY(proc_bootstrap());
    TRY(vfs_bootstrap());
    TRY(run_components(InitLevel::Base, InitLevel::Late));
    if (vfs_find_fstype("tmpfs"))
        TRY(vfs_mount_root("tmpfs", 0));
    else
        TRY(vfs_mount_root("", 0));
    TRY(proc_start_init());
    TRY(run_components(InitLevel::Service, InitLevel::Service));
    TRY(bind_current_thread(RefPtr<Proc>(&proc_init())));
    return {};
}

} // namespace

int64_t kernel_boot_ns() {
    return g_boot_ns;
}

bool kernel_is_up() {
    return g_state.load(MemoryOrder::Acquire) == 2;
}

} // namespace ak

using namespace ak;

extern "C" AK_EXPORT int ak_kern_init(void) {
    int expected = 0;
    if (g_state.compare_exchange(expected, 1)) {
        Result<void> r = kernel_init();
        g_init_error = r.error();
        g_state.store(r.is_error() ? 3 : 2, MemoryOrder::Release);
        return -r.error();
    }
    while (g_state.load(MemoryOrder::Acquire) == 1)
        akhyp_thread_yield();
    if (g_state.load() == 3)
        return -g_init_error;
    if (!curlwp_or_null()) {
        Result<void> r = bind_current_thread(RefPtr<Proc>(&proc_init()));
        if (r.is_error())
            return -r.error();
    }
    return 0;
}

namespace {
struct ShutdownHook {
    const char* name;
    void (*fn)();
};
ShutdownHook g_shutdown_hooks[8];
Atomic<unsigned> g_nshutdown_hooks{0};
} // namespace

void ak::register_shutdown_hook(const char* name, void (*fn)()) {
    unsigned i = g_nshutdown_hooks.load(MemoryOrder::Relaxed);
    AK_ASSERT(i < 8);
    g_shutdown_hooks[i] = {name, fn};
    g_nshutdown_hooks.store(i + 1, MemoryOrder::Release);
}

void ak::run_shutdown_hooks() {
    unsigned n = g_nshutdown_hooks.load(MemoryOrder::Acquire);
    for (unsigned i = 0; i < n; i++) {
        AK_LOG_DEBUG("shutdown: %s", g_shutdown_hooks[i].name);
        g_shutdown_hooks[i].fn();
    }
}

extern "C" AK_EXPORT int ak_kern_shutdown(void) {
    if (!kernel_is_up())
        return -ENXIO;
    run_shutdown_hooks();
    vfs_shutdown();
    return 0;
}

extern "C" AK_EXPORT void ak_kern_memstats(struct ak_kern_memstats* out) {
    KmemStats s = kmem_stats();
    out->in_use = s.in_use;
    out->limit = s.limit;
    out->peak = s.peak;
    out->allocations = s.allocations;
    out->failures = s.failures;
}
