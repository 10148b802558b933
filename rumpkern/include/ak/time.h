#pragma once

#include <ak/abi/linux.h>
#include <anykern/hypercall.h>

namespace ak {

constexpr int64_t k_ns_per_sec = 1000000000;

inline int64_t monotonic_ns() { return akhyp_clock_now(AKHYP_CLOCK_MONOTONIC); }
inline int64_t realtime_ns() { return akhyp_clock_now(AKHYP_CLOCK_REALTIME); }
inline abi::Timespec ns_to_timespec(int64_t ns) {
    return {ns / k_ns_per_sec, ns % k_ns_per_sec};
}
inline abi::Timespec realtime_now() { return ns_to_timespec(realtime_ns()); }

} // namespace ak
