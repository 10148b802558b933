// futex(2): decode the operation and its timeout, then the wait queues of
// kern/futex.cpp act.  PI futexes and FUTEX_FD are not provided (ENOSYS).
#include <ak/futex.h>
#include <ak/syscall.h>
#include <ak/time.h>

namespace ak::sys {

using namespace abi;

namespace {

bool aligned_word(const uint32_t* p) {
    return (reinterpret_cast<uintptr_t>(p) & 3) == 0;
}

// The monotonic deadline of a futex timeout: relative for FUTEX_WAIT,
// absolute on CLOCK_MONOTONIC (or CLOCK_REALTIME with the flag) for
// FUTEX_WAIT_BITSET.  0: none.
Result<int64_t> wait_deadline(const Timespec* utimeout, bool absolute, bool realtime) {
    if (!utimeout)
        return int64_t(0);
    Timespec t;
    TRY(copy_in(t, utimeout));
    if (!timespec_valid(t))
        return EINVAL;
    if (!absolute)
        return timespec_deadline(t);
    int64_t sec = min<int64_t>(t.tv_sec, int64_t(1) << 33);
    int64_t target = sec * k_ns_per_sec + t.tv_nsec;
    int64_t now = monotonic_ns();
    if (realtime) // converted once: a later jump of the realtime clock is not followed
        target = now + (target - realtime_ns());
    // A deadline in the past still waits (and times out at once) after the
    // value check, which Linux does first.
    return target > now ? target : now;
}

// WAIT/WAKE and their _BITSET forms (which take the bitset in val3): the
// bitset, after the checks of it and of the futex word's address.
Result<uint32_t> word_and_bitset(uint32_t* uaddr, bool bitset_form, uint32_t val3) {
    uint32_t bitset = bitset_form ? val3 : k_futex_bitset_match_any;
    if (!bitset)
        return EINVAL;
    if (!uaddr)
        return EFAULT;
    if (!aligned_word(uaddr))
        return EINVAL;
    return bitset;
}

} // namespace

Result<long> sys_futex(uint32_t* uaddr, int futex_op, uint32_t val, const Timespec* timeout,
                       uint32_t* uaddr2, uint32_t val3) {
    int cmd = futex_op & k_futex_cmd_mask;
    bool realtime = futex_op & k_futex_clock_realtime;
    if (realtime && cmd != k_futex_wait && cmd != k_futex_wait_bitset &&
        cmd != k_futex_wait_requeue_pi && cmd != k_futex_lock_pi2)
        return ENOSYS;
    // For the requeue and wake-op commands the timeout argument is val2.
    int val2 = static_cast<int>(reinterpret_cast<uintptr_t>(timeout));
    switch (cmd) {
    case k_futex_wait:
    case k_futex_wait_bitset: {
        uint32_t bitset = TRY(word_and_bitset(uaddr, cmd == k_futex_wait_bitset, val3));
        int64_t deadline = TRY(wait_deadline(timeout, cmd == k_futex_wait_bitset, realtime));
        TRY(futex_wait(uaddr, val, deadline, bitset));
        return 0L;
    }
    case k_futex_wake:
    case k_futex_wake_bitset: {
        uint32_t bitset = TRY(word_and_bitset(uaddr, cmd == k_futex_wake_bitset, val3));
        return futex_wake(uaddr, static_cast<int>(val), bitset);
    }
    case k_futex_requeue:
    case k_futex_cmp_requeue: {
        if (!uaddr || !uaddr2)
            return EFAULT;
        if (!aligned_word(uaddr) || !aligned_word(uaddr2))
            return EINVAL;
        int n = TRY(futex_requeue(uaddr, uaddr2, static_cast<int>(val), val2,
                                  cmd == k_futex_cmp_requeue ? &val3 : nullptr));
        return n;
    }
    case k_futex_wake_op: {
        if (!uaddr || !uaddr2)
            return EFAULT;
        if (!aligned_word(uaddr) || !aligned_word(uaddr2))
            return EINVAL;
        int n = TRY(futex_wake_op(uaddr, uaddr2, static_cast<int>(val), val2, val3));
        return n;
    }
    default:
        // FUTEX_FD (removed from Linux), the PI family and anything unknown.
        return ENOSYS;
    }
}

} // namespace ak::sys
