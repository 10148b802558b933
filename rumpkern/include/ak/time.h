#pragma once

#include <ak/abi/linux.h>
#include <ak/result.h>
#include <anykern/hypercall.h>

namespace ak {

constexpr int64_t k_ns_per_sec = 1000000000;

inline int64_t monotonic_ns() { return akhyp_clock_now(AKHYP_CLOCK_MONOTONIC); }
inline int64_t realtime_ns() { return akhyp_clock_now(AKHYP_CLOCK_REALTIME); }
inline abi::Timespec ns_to_timespec(int64_t ns) {
    return {ns / k_ns_per_sec, ns % k_ns_per_sec};
}
inline abi::Timespec realtime_now() { return ns_to_timespec(realtime_ns()); }

// A relative timeout (already checked: tv_sec >= 0, 0 <= tv_nsec < 1 s) as
// a monotonic deadline.  Seconds are capped at 2^32 (136 years), as poll
// does, so the sum cannot overflow.
inline int64_t timespec_deadline(const abi::Timespec& t) {
    int64_t sec = t.tv_sec < (int64_t(1) << 32) ? t.tv_sec : (int64_t(1) << 32);
    return monotonic_ns() + sec * k_ns_per_sec + t.tv_nsec;
}
inline bool timespec_valid(const abi::Timespec& t) {
    return t.tv_sec >= 0 && t.tv_nsec >= 0 && t.tv_nsec < k_ns_per_sec;
}

} // namespace ak

namespace ak {

// The monotonic time the kernel started at (sysinfo's uptime).
int64_t kernel_boot_ns();

// The current time of a Linux clock id in ns, for the calling lwp
// (docs/syscalls.md, "Clocks"): the realtime clocks read the platform's
// realtime clock, the monotonic and boot clocks its monotonic clock, and the
// CPU-time clocks the time since the process or thread started.  EINVAL for
// an unknown id.
Result<int64_t> clock_now_ns(int clockid);

} // namespace ak
