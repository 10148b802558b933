// eventfd: a counter file for wake-ups between threads (and epoll).  The
// semantics are Linux's eventfd(2): reads and writes move exactly 8 bytes,
// the counter never exceeds 2^64 - 2, and a read of a zero counter (or a
// write that would overflow it) blocks or fails with EAGAIN.
#include <ak/abi/process.h>
#include <ak/eventfd.h>
#include <ak/proc.h>
#include <ak/thread.h>
#include <ak/time.h>
#include <ak/wait.h>

namespace ak {

namespace {

constexpr uint64_t k_counter_max = 0xfffffffffffffffeull;
Atomic<uint64_t> g_eventfd_ino{1};

class EventFd final : public File {
public:
    EventFd(uint64_t initval, int flags)
        : File(O_RDWR | (flags & O_NONBLOCK)), m_semaphore(flags & abi::k_efd_semaphore),
          m_count(initval) {}

    Result<size_t> read(Uio& uio, int64_t&) override {
        if (uio.resid() < sizeof(uint64_t))
            return EINVAL;
        uint64_t value;
        {
            MutexGuard g(m_lock);
            while (m_count == 0) {
                if (nonblocking())
                    return EAGAIN;
                TRY(m_cv.wait_interruptible(m_lock));
            }
            value = m_semaphore ? 1 : m_count;
            m_count -= value;
            m_cv.broadcast();
        }
        m_waitq.wake(POLLOUT);
        uio.copy_out(&value, sizeof value);
        return sizeof value;
    }

    Result<size_t> write(Uio& uio, int64_t&) override {
        if (uio.resid() < sizeof(uint64_t))
            return EINVAL;
        uint64_t value;
        uio.copy_in(&value, sizeof value);
        if (value == ~uint64_t(0))
            return EINVAL;
        {
            MutexGuard g(m_lock);
            while (k_counter_max - m_count < value) {
                if (nonblocking())
                    return EAGAIN;
                TRY(m_cv.wait_interruptible(m_lock));
            }
            m_count += value;
            m_cv.broadcast();
        }
        if (value)
            m_waitq.wake(POLLIN);
        return sizeof value;
    }

    uint32_t poll(uint32_t events, PollTable* pt) override {
        if (pt)
            pt->add(m_waitq);
        MutexGuard g(m_lock);
        uint32_t r = 0;
        if (m_count > 0)
            r |= POLLIN | POLLRDNORM;
        if (m_count < k_counter_max)
            r |= POLLOUT | POLLWRNORM;
        return r & (events | POLLERR | POLLHUP);
    }

    // An anonymous inode, as on Linux: no file type bits, mode 0600.
    Result<void> stat(abi::Stat& st) override {
        __builtin_memset(&st, 0, sizeof st);
        st.st_mode = 0600;
        st.st_nlink = 1;
        st.st_ino = m_ino;
        st.st_blksize = 4096;
        st.st_atim = st.st_mtim = st.st_ctim = m_time;
        Cred c = curproc().cred();
        st.st_uid = c.euid;
        st.st_gid = c.egid;
        return {};
    }

private:
    const bool m_semaphore;
    const uint64_t m_ino = g_eventfd_ino.fetch_add(1);
    const abi::Timespec m_time = realtime_now();
    Mutex m_lock;
    CondVar m_cv;
    uint64_t m_count AK_GUARDED_BY(m_lock);
    WaitQueue m_waitq;
};

} // namespace

Result<RefPtr<File>> eventfd_create(uint64_t initval, int flags) {
    auto f = TRY(try_make_ref<EventFd>(initval, flags));
    return RefPtr<File>(move(f));
}

} // namespace ak
