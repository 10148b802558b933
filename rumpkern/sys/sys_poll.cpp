// poll, ppoll, select, pselect6: one scan that registers on every file's
// wait queues (File::poll with a PollTable), then sleep until a queue
// fires, then rescan.  Works for every File (pipes, sockets, vnodes).
#include <ak/signal.h>
#include <ak/syscall.h>
#include <ak/time.h>
#include <ak/wait.h>

namespace ak::sys {

using namespace abi;

namespace {

constexpr uint32_t k_always = POLLERR | POLLHUP | POLLNVAL;

// Absolute monotonic deadline from a relative timeout: -1 none (block),
// 0 poll once.
int64_t deadline_from_ms(int timeout_ms) {
    if (timeout_ms < 0)
        return -1;
    if (timeout_ms == 0)
        return 0;
    return monotonic_ns() + int64_t(timeout_ms) * 1000000;
}

Result<int64_t> deadline_from_timespec(const Timespec* ts) {
    if (!ts)
        return int64_t(-1);
    Timespec t;
    TRY(copy_in(t, ts));
    if (t.tv_sec < 0 || t.tv_nsec < 0 || t.tv_nsec >= k_ns_per_sec)
        return EINVAL;
    if (t.tv_sec == 0 && t.tv_nsec == 0)
        return int64_t(0);
    int64_t sec = min<int64_t>(t.tv_sec, int64_t(1) << 32);
    return monotonic_ns() + sec * k_ns_per_sec + t.tv_nsec;
}

// Sleep on pt until something fires or the deadline passes.  Returns false
// on timeout.
Result<bool> sleep_on(PollTable& pt, int64_t deadline) {
    if (deadline == 0)
        return false;
    if (deadline > 0 && monotonic_ns() >= deadline)
        return false;
    Result<void> r = pt.wait(deadline > 0 ? deadline : 0);
    if (r.is_error()) {
        if (r.error() == ETIMEDOUT)
            return false;
        return Error{r.error()};
    }
    return true;
}

Result<long> do_poll(Pollfd* user, unsigned long nfds, int64_t deadline) {
    if (nfds > curproc().fds().limit())
        return EINVAL;
    if (nfds && !user)
        return EFAULT;
    // Work on a kernel copy; the caller's array is written once at the end.
    Vector<Pollfd> fds;
    TRY(fds.try_resize(nfds));
    if (nfds)
        __builtin_memcpy(fds.data(), user, nfds * sizeof(Pollfd));
    Vector<RefPtr<File>> files;
    TRY(files.try_resize(nfds));
    for (size_t i = 0; i < nfds; i++) {
        if (fds[i].fd < 0)
            continue;
        auto f = curproc().fds().get(fds[i].fd);
        if (f.ok())
            files[i] = f.release_value();
    }
    PollTable pt;
    bool first = true;
    long ready;
    for (;;) {
        ready = 0;
        for (size_t i = 0; i < nfds; i++) {
            fds[i].revents = 0;
            if (fds[i].fd < 0)
                continue;
            if (!files[i]) {
                fds[i].revents = POLLNVAL;
                ready++;
                continue;
            }
            uint32_t want = static_cast<uint16_t>(fds[i].events) | k_always;
            uint32_t got = files[i]->poll(want, first ? &pt : nullptr) & want;
            fds[i].revents = static_cast<int16_t>(got);
            if (got)
                ready++;
        }
        first = false;
        if (ready)
            break;
        bool woke = TRY(sleep_on(pt, deadline));
        if (!woke)
            break;
    }
    if (nfds)
        __builtin_memcpy(user, fds.data(), nfds * sizeof(Pollfd));
    return ready;
}

bool fd_isset(const FdSet* s, int fd) {
    return s && (s->bits[fd / 64] >> (fd % 64)) & 1;
}
void fd_set_bit(FdSet& s, int fd) {
    s.bits[fd / 64] |= uint64_t(1) << (fd % 64);
}

constexpr uint32_t k_sel_in = POLLIN | POLLRDNORM | POLLRDBAND | POLLHUP | POLLERR;
constexpr uint32_t k_sel_out = POLLOUT | POLLWRNORM | POLLWRBAND | POLLERR;
constexpr uint32_t k_sel_ex = POLLPRI;

Result<long> do_select(int nfds, FdSet* rd, FdSet* wr, FdSet* ex, int64_t deadline) {
    if (nfds < 0 || nfds > k_fd_setsize)
        return EINVAL;
    FdSet in_r{}, in_w{}, in_x{};
    if (rd)
        __builtin_memcpy(&in_r, rd, sizeof in_r);
    if (wr)
        __builtin_memcpy(&in_w, wr, sizeof in_w);
    if (ex)
        __builtin_memcpy(&in_x, ex, sizeof in_x);
    // Resolve every descriptor first: a bad one is EBADF before anything.
    Vector<RefPtr<File>> files;
    TRY(files.try_resize(static_cast<size_t>(nfds)));
    for (int fd = 0; fd < nfds; fd++) {
        if (!fd_isset(rd ? &in_r : nullptr, fd) && !fd_isset(wr ? &in_w : nullptr, fd) &&
            !fd_isset(ex ? &in_x : nullptr, fd))
            continue;
        files[fd] = TRY(curproc().fds().get(fd));
    }
    PollTable pt;
    bool first = true;
    FdSet out_r{}, out_w{}, out_x{};
    long ready;
    for (;;) {
        ready = 0;
        out_r = out_w = out_x = FdSet{};
        for (int fd = 0; fd < nfds; fd++) {
            if (!files[fd])
                continue;
            uint32_t want = 0;
            bool r = fd_isset(rd ? &in_r : nullptr, fd), w = fd_isset(wr ? &in_w : nullptr, fd),
                 x = fd_isset(ex ? &in_x : nullptr, fd);
            if (r)
                want |= k_sel_in;
            if (w)
                want |= k_sel_out;
            if (x)
                want |= k_sel_ex;
            uint32_t got = files[fd]->poll(want | k_always, first ? &pt : nullptr);
            if (r && (got & k_sel_in)) {
                fd_set_bit(out_r, fd);
                ready++;
            }
            if (w && (got & k_sel_out)) {
                fd_set_bit(out_w, fd);
                ready++;
            }
            if (x && (got & k_sel_ex)) {
                fd_set_bit(out_x, fd);
                ready++;
            }
        }
        first = false;
        if (ready)
            break;
        bool woke = TRY(sleep_on(pt, deadline));
        if (!woke)
            break;
    }
    if (rd)
        __builtin_memcpy(rd, &out_r, sizeof out_r);
    if (wr)
        __builtin_memcpy(wr, &out_w, sizeof out_w);
    if (ex)
        __builtin_memcpy(ex, &out_x, sizeof out_x);
    return ready;
}

} // namespace

Result<long> sys_poll(Pollfd* fds, unsigned long nfds, int timeout) {
    return do_poll(fds, nfds, deadline_from_ms(timeout));
}

Result<long> sys_ppoll(Pollfd* fds, unsigned long nfds, const Timespec* tmo,
                       const uint64_t* sigmask, size_t sigsetsize) {
    int64_t deadline = TRY(deadline_from_timespec(tmo));
    TRY(signal_call_mask_begin(sigmask, sigsetsize));
    Result<long> r = do_poll(fds, nfds, deadline);
    signal_call_mask_end(r.is_error() && r.error() == EINTR);
    return r;
}

Result<long> sys_select(int nfds, FdSet* rd, FdSet* wr, FdSet* ex, Timeval* timeout) {
    int64_t deadline = -1;
    if (timeout) {
        Timeval tv;
        TRY(copy_in(tv, timeout));
        if (tv.tv_sec < 0 || tv.tv_usec < 0 || tv.tv_usec >= 1000000)
            return EINVAL;
        int64_t sec = min<int64_t>(tv.tv_sec, int64_t(1) << 32);
        int64_t rel = sec * k_ns_per_sec + tv.tv_usec * 1000;
        deadline = rel == 0 ? 0 : monotonic_ns() + rel;
    }
    long r = TRY(do_select(nfds, rd, wr, ex, deadline));
    if (timeout && deadline > 0) {
        // Linux writes back the time left.
        int64_t left = max<int64_t>(deadline - monotonic_ns(), 0);
        Timeval tv{left / k_ns_per_sec, (left % k_ns_per_sec) / 1000};
        __builtin_memcpy(timeout, &tv, sizeof tv);
    }
    return r;
}

// The sixth argument points to {const sigset_t *ss; size_t ss_len}: a
// pointer inside a structure, which the remote protocol cannot carry, so
// pselect6's mask is ignored (docs/signals.md).
Result<long> sys_pselect6(int nfds, FdSet* rd, FdSet* wr, FdSet* ex, const Timespec* timeout,
                          const void*) {
    int64_t deadline = TRY(deadline_from_timespec(timeout));
    return do_select(nfds, rd, wr, ex, deadline);
}

} // namespace ak::sys
