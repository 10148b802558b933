// Clocks and sleeps: clock_gettime, clock_getres, clock_nanosleep,
// nanosleep, gettimeofday, time.  Sleeps are interruptible condvar waits on
// the platform's monotonic clock (docs/syscalls.md, "Clocks").
#include <ak/syscall.h>
#include <ak/time.h>

namespace ak {

using namespace abi;

namespace {

enum class ClockBase { Realtime, Monotonic, ProcessCpu, ThreadCpu };

struct ClockInfo {
    ClockBase base;
    bool coarse;
    bool can_sleep; // clock_nanosleep accepts it (Linux: EOPNOTSUPP otherwise)
};

Result<ClockInfo> clock_info(int clockid) {
    switch (clockid) {
    case k_clock_realtime:
    case k_clock_realtime_alarm:
    case k_clock_tai: // TAI = UTC: no leap-second offset is configured, as on a fresh Linux
        return ClockInfo{ClockBase::Realtime, false, true};
    case k_clock_realtime_coarse:
        return ClockInfo{ClockBase::Realtime, true, false};
    case k_clock_monotonic:
    case k_clock_boottime: // nothing suspends the kernel: boot time is monotonic time
    case k_clock_boottime_alarm:
        return ClockInfo{ClockBase::Monotonic, false, true};
    case k_clock_monotonic_raw:
        return ClockInfo{ClockBase::Monotonic, false, false};
    case k_clock_monotonic_coarse:
        return ClockInfo{ClockBase::Monotonic, true, false};
    case k_clock_process_cputime_id:
        return ClockInfo{ClockBase::ProcessCpu, false, true};
    case k_clock_thread_cputime_id:
        return ClockInfo{ClockBase::ThreadCpu, false, false};
    default:
        return EINVAL;
    }
}

int64_t clock_read(ClockBase base) {
    switch (base) {
    case ClockBase::Realtime:
        return realtime_ns();
    case ClockBase::Monotonic:
        return monotonic_ns();
    case ClockBase::ProcessCpu:
        // No CPU accounting: the time since the process started is an upper
        // bound of its CPU time (docs/syscalls.md).
        return monotonic_ns() - curproc().start_ns();
    case ClockBase::ThreadCpu:
        return monotonic_ns() - curlwp().m_start_ns;
    }
    return 0;
}

// Linux reports the tick for the coarse clocks (4 ms at HZ=250) and 1 ns
// for the high-resolution ones.
constexpr int64_t k_coarse_res_ns = 4000000;

// Sleep until the monotonic deadline; EINTR when a signal or the client's
// disconnection interrupts it.
Result<void> sleep_until(int64_t deadline) {
    Mutex m;
    CondVar cv;
    MutexGuard g(m);
    while (monotonic_ns() < deadline) {
        Result<void> r = cv.wait_interruptible(m, deadline);
        if (r.is_error()) {
            if (r.error() == ETIMEDOUT)
                return {};
            return r;
        }
    }
    return {};
}

Result<long> do_nanosleep(int clockid, int flags, const Timespec* ureq, Timespec* urem) {
    ClockInfo ci = TRY(clock_info(clockid));
    if (!ci.can_sleep)
        return clockid == k_clock_thread_cputime_id ? Result<long>(EINVAL)
                                                    : Result<long>(EOPNOTSUPP);
    Timespec req;
    TRY(sys::copy_in(req, ureq));
    if (!timespec_valid(req))
        return EINVAL;
    bool absolute = flags & k_timer_abstime;
    int64_t deadline;
    if (!absolute) {
        deadline = timespec_deadline(req);
    } else {
        // An absolute time on another clock becomes a monotonic deadline
        // now; a later jump of the realtime clock is not followed.
        int64_t sec = min<int64_t>(req.tv_sec, int64_t(1) << 33);
        int64_t target = sec * k_ns_per_sec + req.tv_nsec;
        int64_t now = clock_read(ci.base);
        if (target <= now)
            return 0L;
        deadline = ci.base == ClockBase::Monotonic ? target : monotonic_ns() + (target - now);
    }
    Result<void> r = sleep_until(deadline);
    if (r.is_error()) {
        if (!absolute && urem) {
            int64_t left = deadline - monotonic_ns();
            TRY(sys::copy_out(urem, ns_to_timespec(left > 0 ? left : 0)));
        }
        return Error{r.error()};
    }
    return 0L;
}

} // namespace

Result<int64_t> clock_now_ns(int clockid) {
    ClockInfo ci = TRY(clock_info(clockid));
    return clock_read(ci.base);
}

namespace sys {

Result<long> sys_clock_gettime(int clockid, Timespec* tp) {
    int64_t ns = TRY(clock_now_ns(clockid));
    TRY(copy_out(tp, ns_to_timespec(ns)));
    return 0L;
}

Result<long> sys_clock_getres(int clockid, Timespec* res) {
    ClockInfo ci = TRY(clock_info(clockid));
    if (res)
        TRY(copy_out(res, ns_to_timespec(ci.coarse ? k_coarse_res_ns : 1)));
    return 0L;
}

Result<long> sys_clock_nanosleep(int clockid, int flags, const Timespec* request,
                                 Timespec* remain) {
    return do_nanosleep(clockid, flags, request, remain);
}

Result<long> sys_nanosleep(const Timespec* req, Timespec* rem) {
    return do_nanosleep(k_clock_monotonic, 0, req, rem);
}

Result<long> sys_gettimeofday(Timeval* tv, Timezone* tz) {
    if (tv) {
        int64_t ns = realtime_ns();
        TRY(copy_out(tv, Timeval{ns / k_ns_per_sec, (ns % k_ns_per_sec) / 1000}));
    }
    if (tz)
        TRY(copy_out(tz, Timezone{0, 0})); // UTC, no DST: the kernel keeps no zone
    return 0L;
}

Result<long> sys_time(int64_t* tloc) {
    int64_t sec = realtime_ns() / k_ns_per_sec;
    if (tloc)
        TRY(copy_out(tloc, sec));
    return sec;
}

} // namespace sys
} // namespace ak
