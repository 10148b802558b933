// Linux x86-64 ABI of the process-level calls: clocks, futexes, signals,
// resource limits, sysinfo/rusage, terminal ioctls, eventfd, getrandom and
// prctl.  Constants are constexpr in namespace ak::abi (like abi/net.h), so
// hosted tests may include the host's <signal.h> and <sys/resource.h>
// alongside; tests/unit/abi_process.def checks every value against them.
#pragma once

#include <ak/abi/linux.h>

namespace ak::abi {

// --- Clocks (<linux/time.h>) ------------------------------------------------
constexpr int k_clock_realtime = 0;
constexpr int k_clock_monotonic = 1;
constexpr int k_clock_process_cputime_id = 2;
constexpr int k_clock_thread_cputime_id = 3;
constexpr int k_clock_monotonic_raw = 4;
constexpr int k_clock_realtime_coarse = 5;
constexpr int k_clock_monotonic_coarse = 6;
constexpr int k_clock_boottime = 7;
constexpr int k_clock_realtime_alarm = 8;
constexpr int k_clock_boottime_alarm = 9;
constexpr int k_clock_tai = 11;
constexpr int k_timer_abstime = 1;

struct Timezone {
    int32_t tz_minuteswest;
    int32_t tz_dsttime;
};
static_assert(sizeof(Timezone) == 8);

// --- Futexes (<linux/futex.h>) ----------------------------------------------
constexpr int k_futex_wait = 0;
constexpr int k_futex_wake = 1;
constexpr int k_futex_fd = 2;
constexpr int k_futex_requeue = 3;
constexpr int k_futex_cmp_requeue = 4;
constexpr int k_futex_wake_op = 5;
constexpr int k_futex_lock_pi = 6;
constexpr int k_futex_unlock_pi = 7;
constexpr int k_futex_trylock_pi = 8;
constexpr int k_futex_wait_bitset = 9;
constexpr int k_futex_wake_bitset = 10;
constexpr int k_futex_wait_requeue_pi = 11;
constexpr int k_futex_cmp_requeue_pi = 12;
constexpr int k_futex_lock_pi2 = 13;
constexpr int k_futex_private_flag = 128;
constexpr int k_futex_clock_realtime = 256;
constexpr int k_futex_cmd_mask = ~(k_futex_private_flag | k_futex_clock_realtime);
constexpr uint32_t k_futex_bitset_match_any = 0xffffffffu;
// FUTEX_WAKE_OP's encoded operation (val3).
constexpr int k_futex_op_set = 0;
constexpr int k_futex_op_add = 1;
constexpr int k_futex_op_or = 2;
constexpr int k_futex_op_andn = 3;
constexpr int k_futex_op_xor = 4;
constexpr int k_futex_op_oparg_shift = 8;
constexpr int k_futex_op_cmp_eq = 0;
constexpr int k_futex_op_cmp_ne = 1;
constexpr int k_futex_op_cmp_lt = 2;
constexpr int k_futex_op_cmp_le = 3;
constexpr int k_futex_op_cmp_gt = 4;
constexpr int k_futex_op_cmp_ge = 5;

// struct robust_list_head: the size set_robust_list insists on.
constexpr size_t k_robust_list_head_size = 24;

// --- Signals (<asm/signal.h>, <asm-generic/siginfo.h>) ------------------------
constexpr int k_sighup = 1;
constexpr int k_sigint = 2;
constexpr int k_sigquit = 3;
constexpr int k_sigill = 4;
constexpr int k_sigtrap = 5;
constexpr int k_sigabrt = 6;
constexpr int k_sigbus = 7;
constexpr int k_sigfpe = 8;
constexpr int k_sigkill = 9;
constexpr int k_sigusr1 = 10;
constexpr int k_sigsegv = 11;
constexpr int k_sigusr2 = 12;
constexpr int k_sigpipe = 13;
constexpr int k_sigalrm = 14;
constexpr int k_sigterm = 15;
constexpr int k_sigstkflt = 16;
constexpr int k_sigchld = 17;
constexpr int k_sigcont = 18;
constexpr int k_sigstop = 19;
constexpr int k_sigtstp = 20;
constexpr int k_sigttin = 21;
constexpr int k_sigttou = 22;
constexpr int k_sigurg = 23;
constexpr int k_sigxcpu = 24;
constexpr int k_sigxfsz = 25;
constexpr int k_sigvtalrm = 26;
constexpr int k_sigprof = 27;
constexpr int k_sigwinch = 28;
constexpr int k_sigio = 29;
constexpr int k_sigpwr = 30;
constexpr int k_sigsys = 31;
constexpr int k_sigrtmin = 32;
constexpr int k_nsig = 64; // signals are 1..64; the kernel's sigset_t is 8 bytes

constexpr uint64_t k_sig_dfl = 0;
constexpr uint64_t k_sig_ign = 1;

constexpr uint64_t k_sa_nocldstop = 0x00000001;
constexpr uint64_t k_sa_nocldwait = 0x00000002;
constexpr uint64_t k_sa_siginfo = 0x00000004;
constexpr uint64_t k_sa_restorer = 0x04000000;
constexpr uint64_t k_sa_onstack = 0x08000000;
constexpr uint64_t k_sa_restart = 0x10000000;
constexpr uint64_t k_sa_nodefer = 0x40000000;
constexpr uint64_t k_sa_resethand = 0x80000000;

constexpr int k_sig_block = 0;
constexpr int k_sig_unblock = 1;
constexpr int k_sig_setmask = 2;

constexpr int k_ss_onstack = 1;
constexpr int k_ss_disable = 2;
constexpr uint32_t k_ss_autodisarm = 1u << 31;
constexpr size_t k_minsigstksz = 2048;

// si_code values.
constexpr int k_si_user = 0;      // kill
constexpr int k_si_kernel = 0x80; // sent by the kernel
constexpr int k_si_queue = -1;    // sigqueue
constexpr int k_si_tkill = -6;    // tkill/tgkill
constexpr int k_segv_maperr = 1;  // SIGSEGV: address not mapped
constexpr int k_segv_accerr = 2;  // SIGSEGV: invalid permissions
constexpr int k_bus_adrerr = 2;   // SIGBUS: non-existent physical address
constexpr int k_ill_illopn = 2;   // SIGILL: illegal operand
constexpr int k_fpe_intdiv = 1;   // SIGFPE: integer divide by zero
constexpr int k_trap_brkpt = 1;   // SIGTRAP: breakpoint

constexpr uint64_t sig_bit(int sig) {
    return uint64_t(1) << (sig - 1);
}

// struct sigaction as the kernel sees it (rt_sigaction): not glibc's.
struct KernelSigaction {
    uint64_t handler; // SIG_DFL, SIG_IGN or the handler's address
    uint64_t flags;   // SA_*
    uint64_t restorer;
    uint64_t mask; // blocked while the handler runs
};
static_assert(sizeof(KernelSigaction) == 32);

// stack_t (sigaltstack).
struct StackT {
    uint64_t ss_sp;
    int32_t ss_flags;
    int32_t pad;
    uint64_t ss_size;
};
static_assert(sizeof(StackT) == 24);

// siginfo_t: 128 bytes, the union starts at offset 16.  The fields are
// those of the kill/tkill (pid, uid), sigqueue (pid, uid, value) and fault
// (addr) members.
struct Siginfo {
    int32_t si_signo;
    int32_t si_errno;
    int32_t si_code;
    int32_t pad0;
    union {
        struct {
            int32_t pid;
            uint32_t uid;
            uint64_t value; // sigval (sigqueue, timers)
        } kill;
        struct {
            uint64_t addr;
        } fault;
        uint8_t bytes[112];
    } u;
};
static_assert(sizeof(Siginfo) == 128);
static_assert(__builtin_offsetof(Siginfo, u) == 16);

// --- Resources (<asm-generic/resource.h>) -------------------------------------
constexpr int k_rlimit_cpu = 0;
constexpr int k_rlimit_fsize = 1;
constexpr int k_rlimit_data = 2;
constexpr int k_rlimit_stack = 3;
constexpr int k_rlimit_core = 4;
constexpr int k_rlimit_rss = 5;
constexpr int k_rlimit_nproc = 6;
constexpr int k_rlimit_nofile = 7;
constexpr int k_rlimit_memlock = 8;
constexpr int k_rlimit_as = 9;
constexpr int k_rlimit_locks = 10;
constexpr int k_rlimit_sigpending = 11;
constexpr int k_rlimit_msgqueue = 12;
constexpr int k_rlimit_nice = 13;
constexpr int k_rlimit_rtprio = 14;
constexpr int k_rlimit_rttime = 15;
constexpr int k_rlim_nlimits = 16;
constexpr uint64_t k_rlim_infinity = ~uint64_t(0);

struct Rlimit {
    uint64_t rlim_cur;
    uint64_t rlim_max;
};
static_assert(sizeof(Rlimit) == 16);

constexpr int k_rusage_self = 0;
constexpr int k_rusage_children = -1;
constexpr int k_rusage_thread = 1;

struct Rusage {
    Timeval ru_utime;
    Timeval ru_stime;
    int64_t ru_maxrss, ru_ixrss, ru_idrss, ru_isrss, ru_minflt, ru_majflt, ru_nswap, ru_inblock,
        ru_oublock, ru_msgsnd, ru_msgrcv, ru_nsignals, ru_nvcsw, ru_nivcsw;
};
static_assert(sizeof(Rusage) == 144);

struct Sysinfo {
    int64_t uptime;
    uint64_t loads[3];
    uint64_t totalram, freeram, sharedram, bufferram, totalswap, freeswap;
    uint16_t procs;
    uint16_t pad;
    uint64_t totalhigh, freehigh;
    uint32_t mem_unit;
    char reserved[4];
};
static_assert(sizeof(Sysinfo) == 112);
static_assert(__builtin_offsetof(Sysinfo, totalhigh) == 88);

constexpr int k_prio_process = 0;
constexpr int k_prio_pgrp = 1;
constexpr int k_prio_user = 2;

// wait4 options.
constexpr int k_wnohang = 1;
constexpr int k_wuntraced = 2;
constexpr int k_wcontinued = 8;
constexpr int k_wall = 0x40000000;
constexpr int k_wclone = static_cast<int>(0x80000000u);
constexpr int k_wnothread = 0x20000000;

// --- getrandom, eventfd, prctl, membarrier, personality -----------------------
constexpr unsigned k_grnd_nonblock = 1;
constexpr unsigned k_grnd_random = 2;
constexpr unsigned k_grnd_insecure = 4;

constexpr int k_efd_semaphore = 1;
constexpr int k_efd_nonblock = O_NONBLOCK;
constexpr int k_efd_cloexec = O_CLOEXEC;

constexpr int k_pr_set_pdeathsig = 1;
constexpr int k_pr_get_pdeathsig = 2;
constexpr int k_pr_get_dumpable = 3;
constexpr int k_pr_set_dumpable = 4;
constexpr int k_pr_set_name = 15;
constexpr int k_pr_get_name = 16;
constexpr int k_pr_get_timerslack = 30;
constexpr int k_pr_set_no_new_privs = 38;
constexpr int k_pr_get_no_new_privs = 39;
constexpr size_t k_task_comm_len = 16;

constexpr int k_membarrier_cmd_query = 0;

constexpr uint32_t k_personality_query = 0xffffffffu;

constexpr int k_mcl_current = 1;
constexpr int k_mcl_future = 2;
constexpr int k_mcl_onfault = 4;

// --- Terminal ioctls (<asm-generic/ioctls.h>, <asm-generic/termbits.h>) -----
constexpr unsigned long k_tcgets = 0x5401;
constexpr unsigned long k_tcsets = 0x5402;
constexpr unsigned long k_tcsetsw = 0x5403;
constexpr unsigned long k_tcsetsf = 0x5404;
constexpr unsigned long k_tcsbrk = 0x5409;
constexpr unsigned long k_tcxonc = 0x540a;
constexpr unsigned long k_tcflsh = 0x540b;
constexpr unsigned long k_tiocgpgrp = 0x540f;
constexpr unsigned long k_tiocspgrp = 0x5410;
constexpr unsigned long k_tiocgwinsz = 0x5413;
constexpr unsigned long k_tiocswinsz = 0x5414;

// struct termios of the TCGETS family (the kernel's: 19 control chars, no
// speed fields; glibc's struct termios is larger and converted by libc).
constexpr size_t k_nccs = 19;
struct Termios {
    uint32_t c_iflag;
    uint32_t c_oflag;
    uint32_t c_cflag;
    uint32_t c_lflag;
    uint8_t c_line;
    uint8_t c_cc[k_nccs];
};
static_assert(sizeof(Termios) == 36);

struct Winsize {
    uint16_t ws_row;
    uint16_t ws_col;
    uint16_t ws_xpixel;
    uint16_t ws_ypixel;
};
static_assert(sizeof(Winsize) == 8);

} // namespace ak::abi
