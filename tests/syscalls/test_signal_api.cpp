// The signal API the exec component delivers frames with (ak/signal.h):
// dequeue order and default actions, forced faults, SA_RESETHAND and
// SA_NODEFER, the masks around a handler and rt_sigsuspend, the alternate
// stack, inheritance.  Kernel functions called from a client thread.
#include <ak/proc.h>
#include <ak/signal.h>
#include <ak/thread.h>
#include <anykern/anykern.h>

#include <doctest/doctest.h>
#include <thread>

using namespace ak;

namespace {

uint64_t bit(int sig) {
    return abi::sig_bit(sig);
}

void set_action(int sig, uint64_t handler, uint64_t flags = 0, uint64_t mask = 0) {
    SigAction a{handler, flags, 0, mask};
    signal_set_action(sig, &a, nullptr);
}

SigAction get_action(int sig) {
    SigAction a{};
    signal_set_action(sig, nullptr, &a);
    return a;
}

// A fresh host thread (its own lwp) in a fresh process.
template <typename F> void with_lwp(F&& fn) {
    REQUIRE(ak_init() == 0);
    std::thread t([&] {
        int pid = ak_proc_create(0);
        REQUIRE(pid > 1);
        fn(curlwp(), pid);
        REQUIRE(ak_proc_release() == 0);
    });
    t.join();
}

} // namespace

TEST_CASE("default actions follow signal(7); no job control") {
    CHECK(signal_default_action(abi::k_sigterm) == SigDefault::Terminate);
    CHECK(signal_default_action(abi::k_sigkill) == SigDefault::Terminate);
    CHECK(signal_default_action(40) == SigDefault::Terminate); // real-time
    CHECK(signal_default_action(abi::k_sigsegv) == SigDefault::Core);
    CHECK(signal_default_action(abi::k_sigquit) == SigDefault::Core);
    CHECK(signal_default_action(abi::k_sigchld) == SigDefault::Ignore);
    CHECK(signal_default_action(abi::k_sigwinch) == SigDefault::Ignore);
    CHECK(signal_default_action(abi::k_sigtstp) == SigDefault::Ignore);
}

TEST_CASE("dequeue: a handler's signal, SA_RESETHAND, then the frame's masks") {
    with_lwp([](Lwp& l, int) {
        SigInfo info;
        SigAction act;
        CHECK_FALSE(signal_pending(l));
        CHECK_FALSE(signal_dequeue(l, &info, &act));
        set_action(abi::k_sigusr1, 0x401000, abi::k_sa_siginfo | abi::k_sa_resethand,
                   bit(abi::k_sigusr2));
        SigInfo sent;
        sent.code = abi::k_si_tkill;
        sent.pid = 77;
        signal_send_lwp(l, abi::k_sigusr1, sent);
        CHECK(signal_pending(l));
        REQUIRE(signal_dequeue(l, &info, &act));
        CHECK(info.signo == abi::k_sigusr1);
        CHECK(info.pid == 77);
        CHECK(act.handler == 0x401000);
        CHECK(get_action(abi::k_sigusr1).handler == abi::k_sig_dfl); // reset for next time
        // The frame saves the mask before the handler's is applied.
        uint64_t saved = signal_frame_mask(l);
        CHECK(saved == 0);
        signal_handler_entered(l, info.signo, act);
        CHECK(signal_mask(l) == (bit(abi::k_sigusr1) | bit(abi::k_sigusr2)));
        signal_set_mask(l, saved); // rt_sigreturn
        CHECK(signal_mask(l) == 0);
        // SA_NODEFER leaves the signal itself unblocked.
        SigAction nodefer{0x401000, abi::k_sa_nodefer, 0, 0};
        signal_handler_entered(l, abi::k_sigusr1, nodefer);
        CHECK(signal_mask(l) == 0);
        CHECK_FALSE(signal_pending(l));
    });
}

TEST_CASE("dequeue: default actions are resolved, ignored signals dropped") {
    with_lwp([](Lwp& l, int pid) {
        SigInfo info;
        SigAction act;
        // Blocked SIGCHLD stays pending; once unblocked it is dropped (its
        // default is to ignore) and nothing is deliverable.
        signal_set_mask(l, bit(abi::k_sigchld));
        Proc& p = l.proc();
        signal_send_proc(p, abi::k_sigchld, SigInfo{});
        CHECK(signal_pending_blocked(l) == bit(abi::k_sigchld));
        signal_set_mask(l, 0);
        CHECK_FALSE(signal_dequeue(l, &info, &act));
        CHECK(signal_pending_blocked(l) == 0);
        // SIGTERM with SIG_DFL: reported with handler 0, the caller ends the
        // process.
        SigInfo from;
        from.pid = pid;
        signal_send_proc(p, abi::k_sigterm, from);
        REQUIRE(signal_dequeue(l, &info, &act));
        CHECK(info.signo == abi::k_sigterm);
        CHECK(act.handler == abi::k_sig_dfl);
        CHECK(signal_default_action(info.signo) == SigDefault::Terminate);
    });
}

TEST_CASE("dequeue order: faults first, then thread-directed, then lowest number") {
    with_lwp([](Lwp& l, int) {
        set_action(abi::k_sigusr1, 0x1000);
        set_action(abi::k_sighup, 0x1000);
        set_action(abi::k_sigsegv, 0x2000);
        signal_send_proc(l.proc(), abi::k_sighup, SigInfo{});
        signal_send_lwp(l, abi::k_sigusr1, SigInfo{});
        signal_post_fault(l, abi::k_sigsegv, abi::k_segv_maperr, 0xdead0);
        SigInfo info;
        SigAction act;
        REQUIRE(signal_dequeue(l, &info, &act));
        CHECK(info.signo == abi::k_sigsegv);
        CHECK(info.addr == 0xdead0);
        CHECK(info.code == abi::k_segv_maperr);
        REQUIRE(signal_dequeue(l, &info, &act));
        CHECK(info.signo == abi::k_sigusr1); // the lwp's own before the process's
        REQUIRE(signal_dequeue(l, &info, &act));
        CHECK(info.signo == abi::k_sighup);
        CHECK_FALSE(signal_dequeue(l, &info, &act));
    });
}

TEST_CASE("a fault on a blocked or ignored signal is forced to the default action") {
    with_lwp([](Lwp& l, int) {
        set_action(abi::k_sigsegv, 0x3000);
        signal_set_mask(l, bit(abi::k_sigsegv) | bit(abi::k_sigusr2));
        signal_post_fault(l, abi::k_sigsegv, abi::k_segv_accerr, 0x10);
        CHECK(signal_mask(l) == bit(abi::k_sigusr2)); // unblocked
        SigInfo info;
        SigAction act;
        REQUIRE(signal_dequeue(l, &info, &act));
        CHECK(info.signo == abi::k_sigsegv);
        CHECK(act.handler == abi::k_sig_dfl); // the handler was reset: the process dies
        CHECK(signal_default_action(info.signo) == SigDefault::Core);
        abi::Siginfo si;
        signal_siginfo(info, &si);
        CHECK(si.si_signo == abi::k_sigsegv);
        CHECK(si.si_code == abi::k_segv_accerr);
        CHECK(si.u.fault.addr == 0x10);
        // Ignored: also forced.
        set_action(abi::k_sigbus, abi::k_sig_ign);
        signal_post_fault(l, abi::k_sigbus, abi::k_bus_adrerr, 0x20);
        REQUIRE(signal_dequeue(l, &info, &act));
        CHECK(info.signo == abi::k_sigbus);
        CHECK(act.handler == abi::k_sig_dfl);
    });
}

TEST_CASE("a dequeued signal leaves no stray EINTR behind") {
    with_lwp([](Lwp& l, int) {
        set_action(abi::k_sigusr1, 0x1000);
        signal_send_lwp(l, abi::k_sigusr1, SigInfo{}); // posted while not sleeping
        SigInfo info;
        SigAction act;
        REQUIRE(signal_dequeue(l, &info, &act));
        timespec nap{0, 10000000};
        CHECK(ak_sys_nanosleep(&nap, nullptr) == 0);
    });
}

TEST_CASE("rt_sigsuspend's mask: saved by a frame, else restored at the call's end") {
    with_lwp([](Lwp& l, int) {
        signal_set_mask(l, bit(abi::k_sigusr1));
        signal_suspend_mask(l, 0);
        CHECK(signal_mask(l) == 0);
        // A frame takes the old mask (restored by its rt_sigreturn) ...
        CHECK(signal_frame_mask(l) == bit(abi::k_sigusr1));
        signal_syscall_exit(l);
        CHECK(signal_mask(l) == 0);
        // ... and without a frame the end of the call restores it.
        signal_set_mask(l, bit(abi::k_sigusr1));
        signal_suspend_mask(l, 0);
        signal_syscall_exit(l);
        CHECK(signal_mask(l) == bit(abi::k_sigusr1));
        CHECK(signal_frame_mask(l) == bit(abi::k_sigusr1));
        signal_set_mask(l, 0);
    });
}

TEST_CASE("restartable calls follow signal(7)") {
    CHECK(signal_restart_allowed(0));         // read
    CHECK(signal_restart_allowed(202));       // futex
    CHECK_FALSE(signal_restart_allowed(35));  // nanosleep
    CHECK_FALSE(signal_restart_allowed(232)); // epoll_wait
    CHECK_FALSE(signal_restart_allowed(7));   // poll
    CHECK_FALSE(signal_restart_allowed(128)); // rt_sigtimedwait
}

TEST_CASE("the alternate stack: on-stack detection, EPERM while on it, autodisarm") {
    with_lwp([](Lwp& l, int) {
        abi::StackT ss{0x100000, static_cast<int32_t>(abi::k_ss_autodisarm), 0, 0x10000};
        REQUIRE(signal_set_altstack(l, ss).ok());
        CHECK(signal_on_altstack(l, 0x108000));
        CHECK_FALSE(signal_on_altstack(l, 0x100000)); // Linux: (sp, sp + size]
        CHECK(signal_on_altstack(l, 0x110000));
        CHECK(signal_altstack(l).ss_flags == static_cast<int32_t>(abi::k_ss_autodisarm));
        signal_note_user_sp(l, 0x108000);
        stack_t old{};
        REQUIRE(ak_sys_sigaltstack(nullptr, &old) == 0);
        CHECK((old.ss_flags & SS_ONSTACK) != 0);
        stack_t off{nullptr, SS_DISABLE, 0};
        CHECK(ak_sys_sigaltstack(&off, nullptr) == -1);
        CHECK(errno == EPERM);
        signal_note_user_sp(l, 0);
        signal_disarm_altstack(l);
        CHECK(signal_altstack(l).ss_flags == abi::k_ss_disable);
    });
}

TEST_CASE("threads inherit the mask; exec resets handlers; robust list heads") {
    with_lwp([](Lwp& l, int) {
        signal_set_mask(l, bit(abi::k_sigusr2));
        Lwp* child = make<Lwp>(l.proc_ref(), 424242);
        REQUIRE(child);
        signal_lwp_inherit(*child, l);
        CHECK(signal_mask(*child) == bit(abi::k_sigusr2));
        CHECK(signal_altstack(*child).ss_flags == abi::k_ss_disable);
        destroy(child);
        set_action(abi::k_sigusr1, 0x5000, abi::k_sa_siginfo);
        set_action(abi::k_sigusr2, abi::k_sig_ign);
        signal_exec_reset(l.proc(), l);
        CHECK(get_action(abi::k_sigusr1).handler == abi::k_sig_dfl);
        CHECK(get_action(abi::k_sigusr1).flags == 0);
        CHECK(get_action(abi::k_sigusr2).handler == abi::k_sig_ign);
        CHECK(signal_mask(l) == bit(abi::k_sigusr2)); // masks survive exec
        signal_set_mask(l, 0);
        CHECK(ak::robust_list_head(l) == 0);
        alignas(8) static char head[24];
        REQUIRE(ak_syscall(AK_SYS_set_robust_list, head, 24) == 0);
        CHECK(ak::robust_list_head(l) == reinterpret_cast<uint64_t>(head));
    });
}
