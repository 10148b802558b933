// Clocks and sleeps through the local client: clock_gettime/getres,
// nanosleep, clock_nanosleep (relative, TIMER_ABSTIME, EINTR),
// gettimeofday, time.
#include "helpers.h"

#include <anykern/kern.h>

#include <atomic>
#include <chrono>
#include <doctest/doctest.h>
#include <signal.h>
#include <sys/time.h>
#include <thread>
#include <time.h>

namespace {

int64_t ns_of(const timespec& t) {
    return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
}

int64_t kernel_now(clockid_t id) {
    timespec t{};
    REQUIRE(ak_sys_clock_gettime(id, &t) == 0);
    CHECK(t.tv_nsec >= 0);
    CHECK(t.tv_nsec < 1000000000);
    return ns_of(t);
}

int64_t host_mono() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return ns_of(t);
}

// Wait until a thread published its lwp, then a little longer so that it is
// asleep in the kernel (an early interruption would also be seen, just
// sooner: the tests only need it to be before the sleep ends).
void settle(std::atomic<void*>& lwp) {
    while (!lwp.load())
        std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

} // namespace

TEST_CASE("every Linux clock id reads; unknown ids are EINVAL") {
    kernel_up();
    for (clockid_t id : {CLOCK_REALTIME, CLOCK_MONOTONIC, CLOCK_PROCESS_CPUTIME_ID,
                         CLOCK_THREAD_CPUTIME_ID, CLOCK_MONOTONIC_RAW, CLOCK_REALTIME_COARSE,
                         CLOCK_MONOTONIC_COARSE, CLOCK_BOOTTIME, CLOCK_TAI}) {
        INFO("clock ", id);
        timespec a{}, b{};
        REQUIRE(ak_sys_clock_gettime(id, &a) == 0);
        REQUIRE(ak_sys_clock_gettime(id, &b) == 0);
        CHECK(ns_of(b) >= ns_of(a));
    }
    timespec t;
    CHECK(err(ak_sys_clock_gettime(12345, &t)) == EINVAL);
    CHECK(err(ak_sys_clock_gettime(-1, &t)) == EINVAL);
    CHECK(err(ak_sys_clock_gettime(CLOCK_MONOTONIC, nullptr)) == EFAULT);
    // The realtime clock is the host's; the monotonic clock too (posix).
    int64_t host_real = int64_t(::time(nullptr)) * 1000000000;
    CHECK(std::llabs(kernel_now(CLOCK_REALTIME) - host_real) < 5000000000LL);
    int64_t m = kernel_now(CLOCK_MONOTONIC);
    CHECK(std::llabs(m - host_mono()) < 1000000000LL);
    // The CPU clocks are approximated by the time since the process/thread
    // started: small for a new thread, and never negative.
    int64_t thread_cpu = -1;
    std::thread([&] { thread_cpu = kernel_now(CLOCK_THREAD_CPUTIME_ID); }).join();
    CHECK(thread_cpu >= 0);
    CHECK(thread_cpu < 1000000000LL);
    CHECK(kernel_now(CLOCK_PROCESS_CPUTIME_ID) >= 0);
}

TEST_CASE("clock_getres: 1 ns for high-resolution clocks, the tick for the coarse ones") {
    kernel_up();
    timespec r{};
    REQUIRE(ak_sys_clock_getres(CLOCK_MONOTONIC, &r) == 0);
    CHECK(r.tv_sec == 0);
    CHECK(r.tv_nsec == 1);
    REQUIRE(ak_sys_clock_getres(CLOCK_REALTIME_COARSE, &r) == 0);
    CHECK(r.tv_nsec == 4000000);
    CHECK(ak_sys_clock_getres(CLOCK_REALTIME, nullptr) == 0);
    CHECK(err(ak_sys_clock_getres(99, &r)) == EINVAL);
}

TEST_CASE("nanosleep sleeps at least the requested time") {
    kernel_up();
    timespec req{0, 30000000}, rem{7, 7};
    int64_t t0 = host_mono();
    REQUIRE(ak_sys_nanosleep(&req, &rem) == 0);
    int64_t took = host_mono() - t0;
    CHECK(took >= 30000000);
    CHECK(took < 2000000000);
    CHECK(rem.tv_sec == 7); // untouched on success
    timespec bad{0, 1000000000};
    CHECK(err(ak_sys_nanosleep(&bad, nullptr)) == EINVAL);
    timespec neg{-1, 0};
    CHECK(err(ak_sys_nanosleep(&neg, nullptr)) == EINVAL);
    timespec zero{0, 0};
    CHECK(ak_sys_nanosleep(&zero, nullptr) == 0);
}

TEST_CASE("clock_nanosleep: relative, TIMER_ABSTIME, and the clocks it refuses") {
    kernel_up();
    // Absolute on the monotonic clock: returns once the clock passed it.
    int64_t target = kernel_now(CLOCK_MONOTONIC) + 40000000;
    timespec abs{static_cast<time_t>(target / 1000000000), static_cast<long>(target % 1000000000)};
    REQUIRE(ak_sys_clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, nullptr) == 0);
    CHECK(kernel_now(CLOCK_MONOTONIC) >= target);
    // In the past: at once.
    int64_t t0 = host_mono();
    REQUIRE(ak_sys_clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &abs, nullptr) == 0);
    CHECK(host_mono() - t0 < 20000000);
    // Absolute on the realtime clock.
    int64_t rt = kernel_now(CLOCK_REALTIME) + 30000000;
    timespec rabs{static_cast<time_t>(rt / 1000000000), static_cast<long>(rt % 1000000000)};
    REQUIRE(ak_sys_clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &rabs, nullptr) == 0);
    CHECK(kernel_now(CLOCK_REALTIME) >= rt);
    // Relative on the boot clock.
    timespec rel{0, 20000000};
    t0 = host_mono();
    REQUIRE(ak_sys_clock_nanosleep(CLOCK_BOOTTIME, 0, &rel, nullptr) == 0);
    CHECK(host_mono() - t0 >= 20000000);
    // Linux: EINVAL for the thread CPU clock, EOPNOTSUPP for clocks without
    // timers (raw, coarse), EINVAL for unknown ids and bad times.
    CHECK(err(ak_sys_clock_nanosleep(CLOCK_THREAD_CPUTIME_ID, 0, &rel, nullptr)) == EINVAL);
    CHECK(err(ak_sys_clock_nanosleep(CLOCK_MONOTONIC_RAW, 0, &rel, nullptr)) == EOPNOTSUPP);
    CHECK(err(ak_sys_clock_nanosleep(CLOCK_MONOTONIC_COARSE, 0, &rel, nullptr)) == EOPNOTSUPP);
    CHECK(err(ak_sys_clock_nanosleep(77, 0, &rel, nullptr)) == EINVAL);
    timespec bad{0, -1};
    CHECK(err(ak_sys_clock_nanosleep(CLOCK_MONOTONIC, 0, &bad, nullptr)) == EINVAL);
}

TEST_CASE("an interrupted relative sleep returns EINTR and the time left") {
    kernel_up();
    std::atomic<void*> lwp{nullptr};
    long result = 0;
    timespec rem{};
    int64_t took = 0;
    std::thread sleeper([&] {
        lwp = ak_kern_curlwp();
        timespec req{5, 0};
        int64_t t0 = host_mono();
        result = ak_syscall(AK_SYS_clock_nanosleep, CLOCK_MONOTONIC, 0, &req, &rem);
        took = host_mono() - t0;
    });
    settle(lwp);
    ak_kern_lwp_interrupt(lwp.load());
    sleeper.join();
    CHECK(result == -EINTR);
    CHECK(took < 4000000000LL);
    CHECK(rem.tv_sec >= 3);
    CHECK(ns_of(rem) <= 5000000000LL);
}

TEST_CASE("a signal sent to a sleeping thread interrupts its sleep") {
    kernel_up();
    std::atomic<void*> lwp{nullptr};
    std::atomic<int> tid{0};
    long result = 0;
    long fetched = 0;
    std::thread sleeper([&] {
        tid = static_cast<int>(ak_sys_gettid());
        lwp = ak_kern_curlwp();
        timespec req{5, 0};
        result = ak_syscall(AK_SYS_nanosleep, &req, nullptr);
        // No handler runs for a local client: the signal stays pending
        // until taken.
        uint64_t set = uint64_t(1) << (SIGUSR1 - 1);
        timespec zero{0, 0};
        fetched = ak_syscall(AK_SYS_rt_sigtimedwait, &set, nullptr, &zero, 8);
    });
    settle(lwp);
    REQUIRE(ak_sys_tgkill(ak_sys_getpid(), tid.load(), SIGUSR1) == 0);
    sleeper.join();
    CHECK(result == -EINTR);
    CHECK(fetched == SIGUSR1);
}

TEST_CASE("gettimeofday and time agree with CLOCK_REALTIME") {
    kernel_up();
    timeval tv{};
    struct timezone tz {
        1, 1
    };
    REQUIRE(ak_sys_gettimeofday(&tv, &tz) == 0);
    CHECK(tz.tz_minuteswest == 0);
    CHECK(tz.tz_dsttime == 0);
    CHECK(tv.tv_usec >= 0);
    CHECK(tv.tv_usec < 1000000);
    int64_t rt = kernel_now(CLOCK_REALTIME);
    CHECK(std::llabs(rt / 1000000000 - tv.tv_sec) <= 1);
    CHECK(ak_sys_gettimeofday(nullptr, nullptr) == 0);
    time_t t = 0;
    time_t r = ak_sys_time(&t);
    CHECK(r == t);
    CHECK(std::llabs(r - rt / 1000000000) <= 1);
    CHECK(ak_sys_time(nullptr) > 1600000000);
}
