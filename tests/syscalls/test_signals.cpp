// Signal bookkeeping through the local client: rt_sigaction,
// rt_sigprocmask, rt_sigpending, rt_sigtimedwait, rt_sigsuspend,
// sigaltstack, kill/tkill/tgkill and the EINTR they cause.  No handler ever
// runs for a local client (docs/signals.md): signals are pending state.
#include "helpers.h"

#include <anykern/kern.h>

#include <atomic>
#include <chrono>
#include <doctest/doctest.h>
#include <poll.h>
#include <signal.h>
#include <sys/epoll.h>
#include <thread>

// The kernel's struct sigaction (rt_sigaction), not libc's.
struct kernel_sigaction {
    uint64_t handler;
    uint64_t flags;
    uint64_t restorer;
    uint64_t mask;
};

namespace {

constexpr uint64_t bit(int sig) {
    return uint64_t(1) << (sig - 1);
}

long sigaction_raw(int sig, const kernel_sigaction* act, kernel_sigaction* old, size_t size = 8) {
    return ak_syscall(AK_SYS_rt_sigaction, sig, act, old, size);
}

long procmask(int how, const uint64_t* set, uint64_t* old) {
    return ak_syscall(AK_SYS_rt_sigprocmask, how, set, old, 8);
}

uint64_t mask_now() {
    uint64_t m = 0;
    REQUIRE(procmask(SIG_BLOCK, nullptr, &m) == 0);
    return m;
}

uint64_t pending_now() {
    uint64_t p = ~uint64_t(0);
    REQUIRE(ak_syscall(AK_SYS_rt_sigpending, &p, 8) == 0);
    return p;
}

// Take sig if pending (without waiting).
long take(uint64_t set, siginfo_t* info = nullptr) {
    timespec zero{0, 0};
    return ak_syscall(AK_SYS_rt_sigtimedwait, &set, info, &zero, 8);
}

// Run fn on a fresh host thread (its own lwp: a clean mask) in a fresh
// process (clean dispositions and pending set).
template <typename F> void in_fresh_thread_and_process(F&& fn) {
    kernel_up();
    std::thread t([&] {
        int pid = ak_proc_create(0);
        REQUIRE(pid > 1);
        fn(pid);
        REQUIRE(ak_proc_release() == 0);
    });
    t.join();
}

void settle(std::atomic<int>& ready) {
    while (!ready.load())
        std::this_thread::yield();
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
}

} // namespace

TEST_CASE("rt_sigaction: round trip, SIGKILL and SIGSTOP refused, sigsetsize 8") {
    in_fresh_thread_and_process([](int) {
        kernel_sigaction act{0x401000, SA_SIGINFO | SA_RESTART | 0x04000000 /* SA_RESTORER */,
                             0x402000, bit(SIGUSR2) | bit(SIGKILL) | bit(SIGSTOP)};
        kernel_sigaction old{1, 1, 1, 1};
        REQUIRE(sigaction_raw(SIGUSR1, &act, &old) == 0);
        CHECK(old.handler == 0); // SIG_DFL at first
        CHECK(old.flags == 0);
        CHECK(old.mask == 0);
        kernel_sigaction got{};
        REQUIRE(sigaction_raw(SIGUSR1, nullptr, &got) == 0);
        CHECK(got.handler == 0x401000);
        CHECK(got.flags == act.flags);
        CHECK(got.restorer == 0x402000);
        CHECK(got.mask == bit(SIGUSR2)); // SIGKILL/SIGSTOP cannot be blocked
        CHECK(sigaction_raw(SIGKILL, &act, nullptr) == -EINVAL);
        CHECK(sigaction_raw(SIGSTOP, &act, nullptr) == -EINVAL);
        CHECK(sigaction_raw(SIGKILL, nullptr, &got) == 0);
        CHECK(sigaction_raw(0, nullptr, &got) == -EINVAL);
        CHECK(sigaction_raw(65, nullptr, &got) == -EINVAL);
        CHECK(sigaction_raw(SIGUSR1, nullptr, &got, 4) == -EINVAL);
        CHECK(sigaction_raw(SIGUSR1, nullptr, &got, 128) == -EINVAL);
        // Real-time signals too (64 is the last).
        kernel_sigaction ign{reinterpret_cast<uint64_t>(SIG_IGN), 0, 0, 0};
        CHECK(sigaction_raw(64, &ign, nullptr) == 0);
        CHECK(sigaction_raw(64, nullptr, &got) == 0);
        CHECK(got.handler == 1);
    });
}

TEST_CASE("rt_sigprocmask: block, unblock, setmask; SIGKILL cannot be blocked") {
    in_fresh_thread_and_process([](int) {
        CHECK(mask_now() == 0);
        uint64_t s = bit(SIGUSR1) | bit(SIGKILL) | bit(SIGSTOP);
        uint64_t old = 7;
        REQUIRE(procmask(SIG_BLOCK, &s, &old) == 0);
        CHECK(old == 0);
        CHECK(mask_now() == bit(SIGUSR1));
        uint64_t t = bit(SIGTERM);
        REQUIRE(procmask(SIG_BLOCK, &t, nullptr) == 0);
        CHECK(mask_now() == (bit(SIGUSR1) | bit(SIGTERM)));
        REQUIRE(procmask(SIG_UNBLOCK, &s, &old) == 0);
        CHECK(old == (bit(SIGUSR1) | bit(SIGTERM)));
        CHECK(mask_now() == bit(SIGTERM));
        uint64_t all = ~uint64_t(0);
        REQUIRE(procmask(SIG_SETMASK, &all, nullptr) == 0);
        CHECK(mask_now() == ~(bit(SIGKILL) | bit(SIGSTOP)));
        CHECK(procmask(42, &all, nullptr) == -EINVAL);
        CHECK(procmask(42, nullptr, &old) == 0); // how is only read with a set
        CHECK(ak_syscall(AK_SYS_rt_sigprocmask, SIG_BLOCK, &all, nullptr, 16) == -EINVAL);
        uint64_t none = 0;
        REQUIRE(procmask(SIG_SETMASK, &none, nullptr) == 0);
    });
}

TEST_CASE("tgkill to self with the signal blocked: pending, then taken by sigtimedwait") {
    in_fresh_thread_and_process([](int pid) {
        uint64_t s = bit(SIGUSR2);
        REQUIRE(procmask(SIG_BLOCK, &s, nullptr) == 0);
        CHECK(pending_now() == 0);
        REQUIRE(ak_sys_tgkill(pid, static_cast<pid_t>(ak_sys_gettid()), SIGUSR2) == 0);
        CHECK(pending_now() == bit(SIGUSR2));
        // A second instance does not queue.
        REQUIRE(ak_sys_tkill(static_cast<pid_t>(ak_sys_gettid()), SIGUSR2) == 0);
        siginfo_t info{};
        CHECK(take(bit(SIGUSR2), &info) == SIGUSR2);
        CHECK(info.si_signo == SIGUSR2);
        CHECK(info.si_code == SI_TKILL);
        CHECK(info.si_pid == pid);
        CHECK(info.si_uid == 0u);
        CHECK(pending_now() == 0);
        CHECK(take(bit(SIGUSR2)) == -EAGAIN);
        // Errors: a tid of another process, bad ids, bad signals.
        CHECK(err(ak_sys_tgkill(pid + 1000, static_cast<pid_t>(ak_sys_gettid()), SIGUSR2)) ==
              ESRCH);
        CHECK(err(ak_sys_tgkill(pid, 0, SIGUSR2)) == EINVAL);
        CHECK(err(ak_sys_tkill(-5, SIGUSR2)) == EINVAL);
        CHECK(err(ak_sys_tkill(static_cast<pid_t>(ak_sys_gettid()), 65)) == EINVAL);
        CHECK(err(ak_sys_tkill(999999, 0)) == ESRCH);
        CHECK(ak_sys_tkill(static_cast<pid_t>(ak_sys_gettid()), 0) == 0);
    });
}

TEST_CASE("kill: process-directed pending, signal 0, ESRCH, EPERM, groups") {
    in_fresh_thread_and_process([](int pid) {
        // Its own process group, so kill(0) reaches no other test's process.
        REQUIRE(ak_sys_setpgid(0, 0) == 0);
        CHECK(ak_sys_getpgrp() == pid);
        uint64_t s = bit(SIGTERM) | bit(SIGHUP);
        REQUIRE(procmask(SIG_BLOCK, &s, nullptr) == 0);
        REQUIRE(ak_sys_kill(pid, SIGTERM) == 0);
        CHECK(pending_now() == bit(SIGTERM));
        REQUIRE(ak_sys_kill(0, SIGHUP) == 0); // the caller's process group
        CHECK(pending_now() == (bit(SIGTERM) | bit(SIGHUP)));
        siginfo_t info{};
        CHECK(take(s, &info) == SIGHUP); // lowest number first
        CHECK(info.si_code == SI_USER);
        CHECK(info.si_pid == pid);
        CHECK(take(s) == SIGTERM);
        CHECK(ak_sys_kill(pid, 0) == 0);
        CHECK(err(ak_sys_kill(4000000, 0)) == ESRCH);
        CHECK(err(ak_sys_kill(pid, -1)) == EINVAL);
        CHECK(err(ak_sys_kill(pid, 65)) == EINVAL);
        CHECK(err(ak_sys_kill(-4000000, SIGTERM)) == ESRCH);
        // An unprivileged process may not signal root's processes.
        int child = ak_proc_create(0);
        REQUIRE(child > pid);
        REQUIRE(ak_sys_setuid(1000) == 0);
        CHECK(err(ak_sys_kill(pid, SIGTERM)) == EPERM);
        CHECK(ak_sys_kill(child, 0) == 0);
        REQUIRE(ak_proc_release() == 0);
        REQUIRE(ak_proc_switch(pid) == 0);
    });
}

TEST_CASE("ignored signals are discarded; setting SIG_IGN drops a pending one") {
    in_fresh_thread_and_process([](int pid) {
        kernel_sigaction ign{reinterpret_cast<uint64_t>(SIG_IGN), 0, 0, 0};
        kernel_sigaction dfl{0, 0, 0, 0};
        // Unblocked and ignored: thrown away at once.
        REQUIRE(sigaction_raw(SIGUSR1, &ign, nullptr) == 0);
        uint64_t s = bit(SIGUSR1);
        REQUIRE(ak_sys_kill(pid, SIGUSR1) == 0);
        CHECK(take(s) == -EAGAIN);
        // SIGCHLD's default action is to ignore.
        REQUIRE(ak_sys_kill(pid, SIGCHLD) == 0);
        CHECK(take(bit(SIGCHLD)) == -EAGAIN);
        // Blocked, it stays pending (sigwait may want it) until the action
        // becomes "ignore".
        REQUIRE(sigaction_raw(SIGUSR1, &dfl, nullptr) == 0);
        REQUIRE(procmask(SIG_BLOCK, &s, nullptr) == 0);
        REQUIRE(ak_sys_kill(pid, SIGUSR1) == 0);
        REQUIRE(ak_sys_tkill(static_cast<pid_t>(ak_sys_gettid()), SIGUSR1) == 0);
        CHECK(pending_now() == s);
        REQUIRE(sigaction_raw(SIGUSR1, &ign, nullptr) == 0);
        CHECK(pending_now() == 0);
        REQUIRE(procmask(SIG_UNBLOCK, &s, nullptr) == 0);
    });
}

TEST_CASE("rt_sigtimedwait waits for a signal of its set, or times out") {
    in_fresh_thread_and_process([](int pid) {
        uint64_t s = bit(SIGUSR1);
        REQUIRE(procmask(SIG_BLOCK, &s, nullptr) == 0);
        timespec tmo{0, 30000000};
        auto t0 = std::chrono::steady_clock::now();
        CHECK(ak_syscall(AK_SYS_rt_sigtimedwait, &s, nullptr, &tmo, 8) == -EAGAIN);
        CHECK(std::chrono::steady_clock::now() - t0 >= std::chrono::milliseconds(30));
        timespec bad{0, -1};
        CHECK(ak_syscall(AK_SYS_rt_sigtimedwait, &s, nullptr, &bad, 8) == -EINVAL);
        CHECK(ak_syscall(AK_SYS_rt_sigtimedwait, &s, nullptr, &tmo, 4) == -EINVAL);
        // Another thread posts while we wait.
        int tid = static_cast<int>(ak_sys_gettid());
        std::thread poster([&] {
            std::this_thread::sleep_for(std::chrono::milliseconds(30));
            REQUIRE(ak_proc_switch(pid) == 0);
            REQUIRE(ak_sys_tgkill(pid, tid, SIGUSR1) == 0);
        });
        timespec long_tmo{10, 0};
        siginfo_t info{};
        CHECK(ak_syscall(AK_SYS_rt_sigtimedwait, &s, &info, &long_tmo, 8) == SIGUSR1);
        CHECK(info.si_code == SI_TKILL);
        poster.join();
        CHECK(mask_now() == s); // the temporary unblocking is undone
    });
}

TEST_CASE("a signal to a process interrupts its thread blocked reading a pipe") {
    in_fresh_thread_and_process([](int pid) {
        int fds[2];
        REQUIRE(ak_sys_pipe(fds) == 0);
        std::atomic<int> ready{0};
        std::thread sender([&] {
            settle(ready);
            REQUIRE(ak_sys_kill(pid, SIGUSR1) == 0); // as pid 1
        });
        ready = 1;
        char c;
        CHECK(err(ak_sys_read(fds[0], &c, 1)) == EINTR);
        sender.join();
        CHECK(take(bit(SIGUSR1)) == SIGUSR1); // still pending: nothing delivers it
        // Once taken, reads block (and complete) normally again.
        REQUIRE(ak_sys_write(fds[1], "x", 1) == 1);
        CHECK(ak_sys_read(fds[0], &c, 1) == 1);
        ak_sys_close(fds[0]);
        ak_sys_close(fds[1]);
    });
}

TEST_CASE("a blocked signal does not interrupt; unblocking it does") {
    in_fresh_thread_and_process([](int pid) {
        uint64_t s = bit(SIGUSR1);
        REQUIRE(procmask(SIG_BLOCK, &s, nullptr) == 0);
        REQUIRE(ak_sys_kill(pid, SIGUSR1) == 0);
        timespec nap{0, 20000000};
        CHECK(ak_sys_nanosleep(&nap, nullptr) == 0); // blocked: no EINTR
        REQUIRE(procmask(SIG_UNBLOCK, &s, nullptr) == 0);
        CHECK(err(ak_sys_nanosleep(&nap, nullptr)) == EINTR); // now deliverable
        CHECK(take(s) == SIGUSR1);
        CHECK(ak_sys_nanosleep(&nap, nullptr) == 0);
    });
}

TEST_CASE("rt_sigsuspend sleeps with a temporary mask and restores the old one") {
    in_fresh_thread_and_process([](int pid) {
        uint64_t s = bit(SIGUSR1);
        REQUIRE(procmask(SIG_BLOCK, &s, nullptr) == 0);
        int tid = static_cast<int>(ak_sys_gettid());
        std::atomic<int> ready{0};
        std::thread poster([&] {
            settle(ready);
            REQUIRE(ak_sys_tgkill(pid, tid, SIGUSR1) == 0);
        });
        ready = 1;
        uint64_t none = 0;
        CHECK(ak_syscall(AK_SYS_rt_sigsuspend, &none, 8) == -EINTR);
        poster.join();
        CHECK(mask_now() == s); // back at the end of the call
        CHECK(pending_now() == s);
        CHECK(take(s) == SIGUSR1);
        CHECK(ak_syscall(AK_SYS_rt_sigsuspend, &none, 4) == -EINVAL);
        // A signal already pending and unblocked by the temporary mask
        // returns at once.
        REQUIRE(ak_sys_kill(pid, SIGUSR1) == 0);
        CHECK(ak_syscall(AK_SYS_rt_sigsuspend, &none, 8) == -EINTR);
        CHECK(take(s) == SIGUSR1);
    });
}

TEST_CASE("sigaltstack: set, query, disable, and its errors") {
    in_fresh_thread_and_process([](int) {
        static char area[65536];
        stack_t old{};
        REQUIRE(ak_sys_sigaltstack(nullptr, &old) == 0);
        CHECK(old.ss_flags == SS_DISABLE);
        stack_t ss{area, 0, sizeof area};
        REQUIRE(ak_sys_sigaltstack(&ss, nullptr) == 0);
        REQUIRE(ak_sys_sigaltstack(nullptr, &old) == 0);
        CHECK(old.ss_sp == area);
        CHECK(old.ss_size == sizeof area);
        CHECK(old.ss_flags == 0);
        stack_t small{area, 0, 1024};
        CHECK(err(ak_sys_sigaltstack(&small, nullptr)) == ENOMEM);
        stack_t badflags{area, 0x40, sizeof area};
        CHECK(err(ak_sys_sigaltstack(&badflags, nullptr)) == EINVAL);
        stack_t off{nullptr, SS_DISABLE, 0};
        REQUIRE(ak_sys_sigaltstack(&off, &old) == 0);
        CHECK(old.ss_sp == area); // the previous one
        REQUIRE(ak_sys_sigaltstack(nullptr, &old) == 0);
        CHECK(old.ss_flags == SS_DISABLE);
    });
}

TEST_CASE("ppoll and epoll_pwait wait with the caller's temporary mask") {
    in_fresh_thread_and_process([](int pid) {
        uint64_t s = bit(SIGUSR1);
        REQUIRE(procmask(SIG_BLOCK, &s, nullptr) == 0);
        int p[2];
        REQUIRE(ak_sys_pipe(p) == 0);
        pollfd pfd{p[0], POLLIN, 0};
        timespec tmo{0, 50000000};
        // Blocked and no temporary mask: the signal does not interrupt.
        REQUIRE(ak_sys_kill(pid, SIGUSR1) == 0);
        CHECK(ak_syscall(AK_SYS_ppoll, &pfd, 1, &tmo, nullptr, 8) == 0);
        // Unblocked for the call: interrupted, and the mask is back after.
        uint64_t none = 0;
        CHECK(ak_syscall(AK_SYS_ppoll, &pfd, 1, &tmo, &none, 8) == -EINTR);
        CHECK(mask_now() == s);
        CHECK(take(s) == SIGUSR1);
        // Not interrupted: the mask is back at once too.
        CHECK(ak_syscall(AK_SYS_ppoll, &pfd, 1, &tmo, &none, 8) == 0);
        CHECK(mask_now() == s);
        CHECK(ak_syscall(AK_SYS_ppoll, &pfd, 1, &tmo, &none, 4) == -EINVAL);
        // epoll_pwait, with the signal posted while it sleeps.
        int ep = ak_sys_epoll_create1(0);
        REQUIRE(ep >= 0);
        epoll_event ev{};
        ev.events = EPOLLIN;
        REQUIRE(ak_sys_epoll_ctl(ep, EPOLL_CTL_ADD, p[0], &ev) == 0);
        int tid = static_cast<int>(ak_sys_gettid());
        std::atomic<int> ready{0};
        std::thread poster([&] {
            settle(ready);
            REQUIRE(ak_sys_tgkill(pid, tid, SIGUSR1) == 0);
        });
        ready = 1;
        epoll_event out;
        CHECK(ak_syscall(AK_SYS_epoll_pwait, ep, &out, 1L, 5000L, &none, 8L) == -EINTR);
        poster.join();
        CHECK(mask_now() == s);
        CHECK(take(s) == SIGUSR1);
        ak_sys_close(ep);
        ak_sys_close(p[0]);
        ak_sys_close(p[1]);
    });
}
