// futex(2) through the local client: waits and wakes between host threads
// bound to the kernel, bitsets, requeue, wake-op, timeouts, interruption,
// and the kernel's futex_wake() that thread exit (CLONE_CHILD_CLEARTID)
// uses.
#include "helpers.h"

#include <ak/futex.h> // the kernel function the exec component calls
#include <anykern/kern.h>

#include <atomic>
#include <chrono>
#include <climits>
#include <doctest/doctest.h>
#include <linux/futex.h>
#include <thread>
#include <time.h>
#include <vector>

namespace {

long futex(uint32_t* uaddr, int op, uint32_t val, const timespec* timeout = nullptr,
           uint32_t* uaddr2 = nullptr, uint32_t val3 = 0) {
    return ak_syscall(AK_SYS_futex, uaddr, op, val, timeout, uaddr2, val3);
}

// val2 travels in the timeout argument for the requeue and wake-op commands.
const timespec* val2(long n) {
    return reinterpret_cast<const timespec*>(n);
}

int64_t host_mono() {
    timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return int64_t(t.tv_sec) * 1000000000 + t.tv_nsec;
}

// How many threads are queued on uaddr: a compare-requeue of the word onto
// itself that wakes nobody moves (and counts) every waiter.
long queued(uint32_t* uaddr) {
    return futex(uaddr, FUTEX_CMP_REQUEUE, 0, val2(INT_MAX), uaddr,
                 __atomic_load_n(uaddr, __ATOMIC_SEQ_CST));
}

void wait_queued(uint32_t* uaddr, long n) {
    for (int tries = 0; queued(uaddr) != n && tries < 5000; tries++)
        std::this_thread::sleep_for(std::chrono::milliseconds(1));
    REQUIRE(queued(uaddr) == n);
}

// Start n threads waiting on *word == 0 with op/bitset; each stores its
// futex result.
struct Waiters {
    std::vector<std::thread> threads;
    std::vector<long> results;
    std::atomic<int> started{0};

    Waiters(int n, uint32_t* word, int op = FUTEX_WAIT, uint32_t bitset = 0) : results(n, 1) {
        for (int i = 0; i < n; i++) {
            threads.emplace_back([this, i, word, op, bitset] {
                ak_sys_getpid(); // bind to the kernel before announcing
                started++;
                results[i] = futex(word, op, 0, nullptr, nullptr, bitset);
            });
        }
        while (started.load() < n)
            std::this_thread::yield();
    }
    void join() {
        for (auto& t : threads)
            t.join();
    }
};

} // namespace

TEST_CASE("futex argument checks: EAGAIN, EINVAL, ENOSYS, nothing to wake") {
    kernel_up();
    alignas(8) uint32_t words[2] = {5, 0};
    CHECK(futex(&words[0], FUTEX_WAIT, 4) == -EAGAIN);
    CHECK(futex(&words[0], FUTEX_WAIT_PRIVATE, 4) == -EAGAIN);
    CHECK(futex(&words[0], FUTEX_WAKE, 1) == 0);
    auto* misaligned = reinterpret_cast<uint32_t*>(reinterpret_cast<char*>(&words[0]) + 1);
    CHECK(futex(misaligned, FUTEX_WAIT, 0) == -EINVAL);
    CHECK(futex(nullptr, FUTEX_WAKE, 1) == -EFAULT);
    CHECK(futex(&words[0], FUTEX_WAIT_BITSET, 5, nullptr, nullptr, 0) == -EINVAL);
    CHECK(futex(&words[0], FUTEX_WAKE_BITSET, 1, nullptr, nullptr, 0) == -EINVAL);
    CHECK(futex(&words[0], FUTEX_WAKE | FUTEX_CLOCK_REALTIME, 1) == -ENOSYS);
    CHECK(futex(&words[0], FUTEX_LOCK_PI, 0) == -ENOSYS);
    CHECK(futex(&words[0], 99, 0) == -ENOSYS);
    timespec bad{0, 1000000000};
    CHECK(futex(&words[0], FUTEX_WAIT, 5, &bad) == -EINVAL);
    CHECK(futex(&words[0], FUTEX_CMP_REQUEUE, 1, val2(-1), &words[1], 5) == -EINVAL);
    CHECK(futex(&words[0], FUTEX_CMP_REQUEUE, 1, val2(1), &words[1], 4) == -EAGAIN);
}

TEST_CASE("futex timeouts: relative for FUTEX_WAIT, absolute for FUTEX_WAIT_BITSET") {
    kernel_up();
    uint32_t word = 0;
    timespec rel{0, 30000000};
    int64_t t0 = host_mono();
    CHECK(futex(&word, FUTEX_WAIT_PRIVATE, 0, &rel) == -ETIMEDOUT);
    int64_t took = host_mono() - t0;
    CHECK(took >= 30000000);
    CHECK(took < 2000000000);
    // Absolute on CLOCK_MONOTONIC.
    timespec now;
    REQUIRE(ak_sys_clock_gettime(CLOCK_MONOTONIC, &now) == 0);
    int64_t target = int64_t(now.tv_sec) * 1000000000 + now.tv_nsec + 30000000;
    timespec abs{static_cast<time_t>(target / 1000000000), static_cast<long>(target % 1000000000)};
    CHECK(futex(&word, FUTEX_WAIT_BITSET, 0, &abs, nullptr, FUTEX_BITSET_MATCH_ANY) == -ETIMEDOUT);
    REQUIRE(ak_sys_clock_gettime(CLOCK_MONOTONIC, &now) == 0);
    CHECK(int64_t(now.tv_sec) * 1000000000 + now.tv_nsec >= target);
    // Absolute on CLOCK_REALTIME, and one in the past (after the value
    // check, which comes first).
    REQUIRE(ak_sys_clock_gettime(CLOCK_REALTIME, &now) == 0);
    timespec rabs{now.tv_sec, now.tv_nsec};
    rabs.tv_nsec += 20000000;
    if (rabs.tv_nsec >= 1000000000) {
        rabs.tv_sec++;
        rabs.tv_nsec -= 1000000000;
    }
    CHECK(futex(&word, FUTEX_WAIT_BITSET | FUTEX_CLOCK_REALTIME, 0, &rabs, nullptr, 1) ==
          -ETIMEDOUT);
    timespec past{1, 0};
    CHECK(futex(&word, FUTEX_WAIT_BITSET, 0, &past, nullptr, 1) == -ETIMEDOUT);
    CHECK(futex(&word, FUTEX_WAIT_BITSET, 1, &past, nullptr, 1) == -EAGAIN);
}

TEST_CASE("FUTEX_WAIT and FUTEX_WAKE between two threads") {
    kernel_up();
    uint32_t word = 0;
    Waiters w(1, &word, FUTEX_WAIT_PRIVATE);
    wait_queued(&word, 1);
    __atomic_store_n(&word, 1, __ATOMIC_SEQ_CST);
    CHECK(futex(&word, FUTEX_WAKE_PRIVATE, 1) == 1);
    w.join();
    CHECK(w.results[0] == 0);
    // Several waiters: a wake of 2 leaves the third asleep.
    word = 0;
    Waiters three(3, &word);
    wait_queued(&word, 3);
    CHECK(futex(&word, FUTEX_WAKE, 2) == 2);
    CHECK(queued(&word) == 1);
    CHECK(futex(&word, FUTEX_WAKE, INT_MAX) == 1);
    three.join();
    for (long r : three.results)
        CHECK(r == 0);
}

TEST_CASE("bitsets select which waiters a wake reaches") {
    kernel_up();
    uint32_t word = 0;
    Waiters w(1, &word, FUTEX_WAIT_BITSET, 0x1);
    wait_queued(&word, 1);
    CHECK(futex(&word, FUTEX_WAKE_BITSET, 1, nullptr, nullptr, 0x2) == 0);
    CHECK(futex(&word, FUTEX_WAKE_BITSET, 1, nullptr, nullptr, 0x3) == 1);
    w.join();
    CHECK(w.results[0] == 0);
}

TEST_CASE("FUTEX_CMP_REQUEUE and FUTEX_REQUEUE wake some and move the rest") {
    kernel_up();
    uint32_t a = 0, b = 0;
    Waiters w(3, &a);
    wait_queued(&a, 3);
    // Wake one, move the other two: Linux returns woken + requeued.
    CHECK(futex(&a, FUTEX_CMP_REQUEUE, 1, val2(INT_MAX), &b, 0) == 3);
    CHECK(queued(&a) == 0);
    CHECK(queued(&b) == 2);
    // FUTEX_REQUEUE with limits: wake none, move one back.
    CHECK(futex(&b, FUTEX_REQUEUE, 0, val2(1), &a) == 1);
    CHECK(queued(&a) == 1);
    CHECK(queued(&b) == 1);
    CHECK(futex(&a, FUTEX_WAKE, INT_MAX) == 1);
    CHECK(futex(&b, FUTEX_WAKE, INT_MAX) == 1);
    w.join();
    for (long x : w.results)
        CHECK(x == 0);
}

TEST_CASE("FUTEX_WAKE_OP changes the second word and wakes by comparison") {
    kernel_up();
    uint32_t a = 0, b = 0;
    Waiters wa(1, &a);
    Waiters wb(1, &b);
    wait_queued(&a, 1);
    wait_queued(&b, 1);
    // *b = 1; wake one on a; if the old *b == 0, wake one on b.
    uint32_t op = FUTEX_OP(FUTEX_OP_SET, 1, FUTEX_OP_CMP_EQ, 0);
    CHECK(futex(&a, FUTEX_WAKE_OP, 1, val2(1), &b, op) == 2);
    CHECK(b == 1);
    wa.join();
    wb.join();
    CHECK(wa.results[0] == 0);
    CHECK(wb.results[0] == 0);
    // The comparison fails: nobody on b wakes.
    b = 0;
    Waiters wb2(1, &b);
    wait_queued(&b, 1);
    uint32_t add = FUTEX_OP(FUTEX_OP_ADD, 5, FUTEX_OP_CMP_GT, 0);
    CHECK(futex(&a, FUTEX_WAKE_OP, 1, val2(1), &b, add) == 0);
    CHECK(b == 5);
    // 1 << 3 ORed in (FUTEX_OP_OPARG_SHIFT); old value 5 > 0: wakes on b.
    uint32_t orshift = FUTEX_OP(FUTEX_OP_OR | FUTEX_OP_OPARG_SHIFT, 3, FUTEX_OP_CMP_GT, 0);
    CHECK(futex(&a, FUTEX_WAKE_OP, 1, val2(1), &b, orshift) == 1);
    CHECK(b == 13);
    wb2.join();
    // ANDN and XOR with a negative (sign-extended) argument.
    uint32_t andn = FUTEX_OP(FUTEX_OP_ANDN, 1, FUTEX_OP_CMP_EQ, 13);
    CHECK(futex(&a, FUTEX_WAKE_OP, 1, val2(1), &b, andn) == 0);
    CHECK(b == 12);
    uint32_t xorm1 = FUTEX_OP(FUTEX_OP_XOR, 0xfff, FUTEX_OP_CMP_LT, 0);
    CHECK(futex(&a, FUTEX_WAKE_OP, 1, val2(1), &b, xorm1) == 0);
    CHECK(b == ~12u);
    CHECK(futex(&a, FUTEX_WAKE_OP, 1, val2(1), &b, 0x50000000u) == -ENOSYS); // op 5
    CHECK(futex(&a, FUTEX_WAKE_OP, 1, val2(1), &b, 0x06000000u) == -ENOSYS); // cmp 6
}

TEST_CASE("an interrupted futex wait returns EINTR") {
    kernel_up();
    uint32_t word = 0;
    std::atomic<void*> lwp{nullptr};
    long r = 1;
    std::thread t([&] {
        lwp = ak_kern_curlwp();
        r = futex(&word, FUTEX_WAIT, 0);
    });
    while (!lwp.load())
        std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    ak_kern_lwp_interrupt(lwp.load());
    t.join();
    CHECK(r == -EINTR);
    CHECK(futex(&word, FUTEX_WAKE, 1) == 0); // it left the queue
}

TEST_CASE("the kernel's futex_wake (thread exit with CLONE_CHILD_CLEARTID)") {
    kernel_up();
    // A joiner sleeps while the thread-id word holds the thread's id.
    uint32_t tid_word = 1234;
    std::atomic<bool> started{false};
    long r = 1;
    std::thread joiner([&] {
        ak_sys_getpid();
        started = true;
        r = futex(&tid_word, FUTEX_WAIT, 1234);
    });
    while (!started.load())
        std::this_thread::yield();
    // The exiting thread's kernel stores 0 and wakes one waiter (here the
    // wake is retried until the joiner has queued; the store comes last so
    // a late joiner cannot miss it by seeing 0 and returning EAGAIN).
    int woken = 0;
    for (int i = 0; i < 5000 && !woken; i++) {
        woken = ak::futex_wake(&tid_word, 1);
        if (!woken)
            std::this_thread::sleep_for(std::chrono::milliseconds(1));
    }
    __atomic_store_n(&tid_word, 0, __ATOMIC_SEQ_CST);
    joiner.join();
    CHECK(woken == 1);
    CHECK(r == 0);
}
