// Start-up calls of static Linux programs through the local client: thread
// ids, process groups, resource limits, sysinfo, getrusage, getrandom,
// affinity, priorities, prctl, robust lists and the small ones (rseq,
// membarrier, getcpu, personality, mlock, wait4).
#include "helpers.h"

#include <doctest/doctest.h>
#include <linux/prctl.h>
#include <sched.h>
#include <set>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/wait.h>
#include <thread>

namespace {

// Run fn in a new process of pid 1 (its limits and groups are its own).
template <typename F> void in_child(F&& fn) {
    kernel_up();
    int pid = ak_proc_create(0);
    REQUIRE(pid > 1);
    struct Release {
        ~Release() { ak_proc_release(); }
    } release;
    fn(pid);
}

} // namespace

TEST_CASE("gettid: one id per thread, distinct from other threads'") {
    kernel_up();
    long main_tid = ak_sys_gettid();
    CHECK(main_tid > 0);
    CHECK(ak_sys_gettid() == main_tid);
    std::set<long> tids{main_tid};
    for (int i = 0; i < 3; i++) {
        long t = 0;
        std::thread([&] { t = ak_sys_gettid(); }).join();
        CHECK(t > 0);
        tids.insert(t);
    }
    CHECK(tids.size() == 4);
}

TEST_CASE("process groups and sessions: getpgid, setpgid, setsid") {
    in_child([](int pid) {
        CHECK(ak_sys_getpgrp() == 1); // inherited from pid 1
        CHECK(ak_sys_getpgid(0) == 1);
        CHECK(ak_sys_getsid(0) == 1);
        CHECK(ak_sys_getpgid(pid) == 1);
        CHECK(err(ak_sys_getpgid(4000000)) == ESRCH);
        REQUIRE(ak_sys_setsid() == pid);
        CHECK(ak_sys_getsid(0) == pid);
        CHECK(ak_sys_getpgrp() == pid);
        CHECK(err(ak_sys_setsid()) == EPERM);      // already a group leader
        CHECK(err(ak_sys_setpgid(0, 0)) == EPERM); // a session leader
        CHECK(err(ak_sys_setpgid(4000000, 0)) == ESRCH);
        CHECK(err(ak_sys_setpgid(0, -1)) == EINVAL);
        // A child joins and leaves groups of its session.
        int child = ak_proc_create(0);
        REQUIRE(child > pid);
        CHECK(ak_sys_getsid(0) == pid);
        REQUIRE(ak_sys_setpgid(0, 0) == 0);
        CHECK(ak_sys_getpgrp() == child);
        REQUIRE(ak_sys_setpgid(0, pid) == 0);
        CHECK(ak_sys_getpgrp() == pid);
        CHECK(err(ak_sys_setpgid(0, 1)) == EPERM); // group 1 is in another session
        REQUIRE(ak_proc_release() == 0);
        REQUIRE(ak_proc_switch(pid) == 0);
    });
}

TEST_CASE("resource limits: defaults, round trip, RLIMIT_NOFILE is the descriptor limit") {
    in_child([](int pid) {
        rlimit r{};
        REQUIRE(ak_sys_getrlimit(RLIMIT_NOFILE, &r) == 0);
        CHECK(r.rlim_cur == 1024);
        CHECK(r.rlim_max == 4096);
        REQUIRE(ak_sys_getrlimit(RLIMIT_STACK, &r) == 0);
        CHECK(r.rlim_cur == 8u << 20);
        CHECK(r.rlim_max == RLIM_INFINITY);
        REQUIRE(ak_sys_getrlimit(RLIMIT_AS, &r) == 0);
        CHECK(r.rlim_cur == RLIM_INFINITY);
        REQUIRE(ak_sys_getrlimit(RLIMIT_CORE, &r) == 0);
        CHECK(r.rlim_cur == 0);
        CHECK(err(ak_sys_getrlimit(16, &r)) == EINVAL);
        // prlimit64: new and old in one call.
        rlimit small{8, 4096}, old{};
        REQUIRE(ak_sys_prlimit64(0, RLIMIT_NOFILE, &small, &old) == 0);
        CHECK(old.rlim_cur == 1024);
        REQUIRE(ak_sys_prlimit64(pid, RLIMIT_NOFILE, nullptr, &old) == 0);
        CHECK(old.rlim_cur == 8);
        // The descriptor table follows: fds 0..7 and then EMFILE.
        int fds[2];
        for (int i = 0; i < 4; i++)
            REQUIRE(ak_sys_pipe(fds) == 0);
        CHECK(err(ak_sys_pipe(fds)) == EMFILE);
        CHECK(err(ak_sys_dup(0)) == EMFILE);
        rlimit big{4096, 4096};
        REQUIRE(ak_sys_setrlimit(RLIMIT_NOFILE, &big) == 0);
        CHECK(ak_sys_dup(0) == 8);
        // Errors: cur above max, past nr_open, raising the hard limit
        // unprivileged.
        rlimit inverted{10, 5};
        CHECK(err(ak_sys_setrlimit(RLIMIT_NOFILE, &inverted)) == EINVAL);
        rlimit huge{1024, (1u << 20) + 1};
        CHECK(err(ak_sys_setrlimit(RLIMIT_NOFILE, &huge)) == EPERM);
        CHECK(err(ak_sys_prlimit64(4000000, RLIMIT_NOFILE, nullptr, &old)) == ESRCH);
        // Children inherit limits.
        rlimit cpu{60, 120};
        REQUIRE(ak_sys_setrlimit(RLIMIT_CPU, &cpu) == 0);
        int child = ak_proc_create(0);
        REQUIRE(child > pid);
        REQUIRE(ak_sys_getrlimit(RLIMIT_CPU, &r) == 0);
        CHECK(r.rlim_cur == 60);
        CHECK(r.rlim_max == 120);
        REQUIRE(ak_sys_setuid(1000) == 0);
        rlimit raise{60, 240};
        CHECK(err(ak_sys_setrlimit(RLIMIT_CPU, &raise)) == EPERM);
        rlimit lower{30, 100};
        CHECK(ak_sys_setrlimit(RLIMIT_CPU, &lower) == 0);
        CHECK(err(ak_sys_prlimit64(pid, RLIMIT_CPU, nullptr, &old)) == EPERM); // root's
        REQUIRE(ak_proc_release() == 0);
        REQUIRE(ak_proc_switch(pid) == 0);
    });
}

TEST_CASE("sysinfo and getrusage report sane values") {
    kernel_up();
    struct sysinfo si;
    memset(&si, 0xff, sizeof si);
    REQUIRE(ak_sys_sysinfo(&si) == 0);
    CHECK(si.mem_unit == 1u);
    CHECK(si.totalram > 0u);
    CHECK(si.freeram <= si.totalram);
    CHECK(si.procs >= 1);
    CHECK(si.uptime >= 0);
    CHECK(si.uptime < 3600);
    CHECK(si.totalswap == 0u);
    CHECK(si.loads[0] == 0u);
    CHECK(err(ak_sys_sysinfo(nullptr)) == EFAULT);
    struct rusage ru;
    memset(&ru, 0xff, sizeof ru);
    REQUIRE(ak_sys_getrusage(RUSAGE_SELF, &ru) == 0);
    CHECK(ru.ru_maxrss == 0);
    CHECK(ru.ru_utime.tv_sec == 0);
    CHECK(ak_sys_getrusage(RUSAGE_THREAD, &ru) == 0);
    CHECK(ak_sys_getrusage(RUSAGE_CHILDREN, &ru) == 0);
    CHECK(err(ak_sys_getrusage(5, &ru)) == EINVAL);
}

TEST_CASE("getrandom: fresh bytes every call, Linux's flag rules") {
    kernel_up();
    unsigned char a[32] = {}, b[32] = {};
    REQUIRE(ak_sys_getrandom(a, sizeof a, 0) == 32);
    REQUIRE(ak_sys_getrandom(b, sizeof b, GRND_NONBLOCK) == 32);
    CHECK(memcmp(a, b, sizeof a) != 0);
    unsigned char zero[32] = {};
    CHECK(memcmp(a, zero, sizeof a) != 0);
    std::vector<unsigned char> big(1 << 20);
    CHECK(ak_sys_getrandom(big.data(), big.size(), GRND_RANDOM) == 1 << 20);
    CHECK(ak_sys_getrandom(a, sizeof a, 0x4 /* GRND_INSECURE */) == 32);
    CHECK(err(ak_sys_getrandom(a, sizeof a, 0x4 | GRND_RANDOM)) == EINVAL);
    CHECK(err(ak_sys_getrandom(a, sizeof a, 0x80)) == EINVAL);
    CHECK(ak_sys_getrandom(a, 0, 0) == 0);
}

TEST_CASE("sched_getaffinity/sched_setaffinity: the platform's CPUs, bytes written") {
    kernel_up();
    cpu_set_t set;
    CPU_ZERO(&set);
    long n = ak_sys_sched_getaffinity(0, sizeof set, &set);
    CHECK(n == 8); // one long: up to 64 CPUs
    CHECK(CPU_ISSET(0, &set));
    CHECK(CPU_COUNT(&set) >= 1);
    CHECK(ak_sys_sched_getaffinity(static_cast<pid_t>(ak_sys_gettid()), 8, &set) == 8);
    CHECK(ak_sys_sched_getaffinity(1, 8, &set) == 8);
    CHECK(err(ak_sys_sched_getaffinity(0, 0, &set)) == EINVAL);
    CHECK(err(ak_sys_sched_getaffinity(0, 7, &set)) == EINVAL);
    CHECK(err(ak_sys_sched_getaffinity(4000000, 8, &set)) == ESRCH);
    cpu_set_t none;
    CPU_ZERO(&none);
    CHECK(err(ak_sys_sched_setaffinity(0, sizeof none, &none)) == EINVAL);
    CHECK(ak_sys_sched_setaffinity(0, sizeof set, &set) == 0);
    CHECK(ak_sys_sched_yield() == 0);
}

TEST_CASE("getpriority/setpriority: nice values, 20 - nice on the wire") {
    in_child([](int pid) {
        CHECK(ak_sys_getpriority(PRIO_PROCESS, 0) == 20);
        REQUIRE(ak_sys_setpriority(PRIO_PROCESS, 0, 5) == 0);
        CHECK(ak_sys_getpriority(PRIO_PROCESS, pid) == 15);
        REQUIRE(ak_sys_setpriority(PRIO_PROCESS, 0, 100) == 0); // clamped to 19
        CHECK(ak_sys_getpriority(PRIO_PROCESS, 0) == 1);
        CHECK(err(ak_sys_getpriority(7, 0)) == EINVAL);
        CHECK(err(ak_sys_getpriority(PRIO_PROCESS, 4000000)) == ESRCH);
        int child = ak_proc_create(0);
        REQUIRE(child > pid);
        CHECK(ak_sys_getpriority(PRIO_PROCESS, 0) == 1); // inherited
        REQUIRE(ak_sys_setuid(1000) == 0);
        CHECK(err(ak_sys_setpriority(PRIO_PROCESS, 0, 0)) == EACCES);   // raising needs root
        CHECK(err(ak_sys_setpriority(PRIO_PROCESS, pid, 19)) == EPERM); // root's process
        REQUIRE(ak_proc_release() == 0);
        REQUIRE(ak_proc_switch(pid) == 0);
        CHECK(ak_sys_setpriority(PRIO_PROCESS, 0, -5) == 0); // root may
        CHECK(ak_sys_getpriority(PRIO_PROCESS, 0) == 25);
    });
}

TEST_CASE("prctl: thread names, dumpable, no_new_privs, unknown options") {
    kernel_up();
    std::thread([] {
        char name[16] = {};
        REQUIRE(ak_sys_prctl(PR_GET_NAME, reinterpret_cast<unsigned long>(name), 0, 0, 0) == 0);
        CHECK(std::string(name) == "anykern");
        const char* longname = "a-very-long-thread-name";
        REQUIRE(ak_sys_prctl(PR_SET_NAME, reinterpret_cast<unsigned long>(longname), 0, 0, 0) == 0);
        memset(name, 'x', sizeof name);
        REQUIRE(ak_sys_prctl(PR_GET_NAME, reinterpret_cast<unsigned long>(name), 0, 0, 0) == 0);
        CHECK(std::string(name) == "a-very-long-thr"); // 15 bytes and a NUL
        CHECK(err(ak_sys_prctl(PR_SET_NAME, 0, 0, 0, 0)) == EFAULT);
    }).join();
    in_child([](int) {
        CHECK(ak_sys_prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 1);
        REQUIRE(ak_sys_prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) == 0);
        CHECK(ak_sys_prctl(PR_GET_DUMPABLE, 0, 0, 0, 0) == 0);
        CHECK(err(ak_sys_prctl(PR_SET_DUMPABLE, 2, 0, 0, 0)) == EINVAL);
        CHECK(ak_sys_prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 0);
        REQUIRE(ak_sys_prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) == 0);
        CHECK(ak_sys_prctl(PR_GET_NO_NEW_PRIVS, 0, 0, 0, 0) == 1);
        int sig = -1;
        REQUIRE(ak_sys_prctl(PR_SET_PDEATHSIG, SIGTERM, 0, 0, 0) == 0);
        REQUIRE(ak_sys_prctl(PR_GET_PDEATHSIG, reinterpret_cast<unsigned long>(&sig), 0, 0, 0) ==
                0);
        CHECK(sig == SIGTERM);
        CHECK(err(ak_sys_prctl(PR_SET_PDEATHSIG, 65, 0, 0, 0)) == EINVAL);
        REQUIRE(ak_sys_prctl(PR_SET_PDEATHSIG, 0, 0, 0, 0) == 0);
        CHECK(ak_sys_prctl(PR_GET_TIMERSLACK, 0, 0, 0, 0) == 50000);
        CHECK(err(ak_sys_prctl(12345, 0, 0, 0, 0)) == EINVAL);
    });
}

TEST_CASE("set_robust_list/get_robust_list: stored per thread, 24-byte heads only") {
    kernel_up();
    std::thread([] {
        alignas(8) static char head[24];
        void* got = reinterpret_cast<void*>(1);
        size_t len = 0;
        REQUIRE(ak_sys_get_robust_list(0, reinterpret_cast<struct robust_list_head**>(&got),
                                       &len) == 0);
        CHECK(got == nullptr);
        CHECK(len == 24);
        CHECK(err(ak_sys_set_robust_list(reinterpret_cast<struct robust_list_head*>(head), 16)) ==
              EINVAL);
        REQUIRE(ak_sys_set_robust_list(reinterpret_cast<struct robust_list_head*>(head), 24) == 0);
        REQUIRE(ak_sys_get_robust_list(static_cast<int>(ak_sys_gettid()),
                                       reinterpret_cast<struct robust_list_head**>(&got),
                                       &len) == 0);
        CHECK(got == head);
        CHECK(err(ak_sys_get_robust_list(4000000, reinterpret_cast<struct robust_list_head**>(&got),
                                         &len)) == ESRCH);
    }).join();
}

TEST_CASE("the small start-up calls: rseq, membarrier, getcpu, personality, mlock, wait4") {
    kernel_up();
    CHECK(ak_syscall(AK_SYS_rseq, nullptr, 32, 0, 0x53053053) == -ENOSYS);
    CHECK(ak_sys_membarrier(0 /* MEMBARRIER_CMD_QUERY */, 0, 0) == 0); // no commands
    CHECK(err(ak_sys_membarrier(1 /* MEMBARRIER_CMD_GLOBAL */, 0, 0)) == EINVAL);
    CHECK(err(ak_sys_membarrier(0, 1, 0)) == EINVAL);
    unsigned cpu = 7, node = 7;
    REQUIRE(ak_sys_getcpu(&cpu, &node, nullptr) == 0);
    CHECK(cpu == 0);
    CHECK(node == 0);
    CHECK(ak_sys_personality(0xffffffff) == 0); // PER_LINUX
    int buf[4];
    CHECK(ak_sys_mlock(buf, sizeof buf) == 0);
    CHECK(ak_sys_munlock(buf, sizeof buf) == 0);
    CHECK(ak_sys_mlockall(MCL_CURRENT | MCL_FUTURE) == 0);
    CHECK(err(ak_sys_mlockall(0)) == EINVAL);
    CHECK(err(ak_sys_mlockall(4 /* MCL_ONFAULT alone */)) == EINVAL);
    CHECK(ak_sys_munlockall() == 0);
    int status;
    CHECK(err(ak_sys_wait4(-1, &status, 0, nullptr)) == ECHILD);
    CHECK(err(ak_sys_wait4(-1, &status, WNOHANG, nullptr)) == ECHILD);
    CHECK(err(ak_sys_wait4(-1, &status, 0x1000, nullptr)) == EINVAL);
}
