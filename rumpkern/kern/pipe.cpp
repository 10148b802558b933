// Pipes: a bounded ring buffer shared by a read end and a write end.
#include <ak/pipe.h>
#include <ak/proc.h>
#include <ak/thread.h>
#include <ak/time.h>
#include <ak/wait.h>

namespace ak {

namespace {

constexpr size_t k_pipe_capacity = 65536; // Linux's default (16 pages)
Atomic<uint64_t> g_pipe_ino{1};

class Pipe : public RefCounted<Pipe> {
public:
    Mutex m_lock;
    CondVar m_readable;
    CondVar m_writable;
    WaitQueue m_waitq;
    uint8_t* m_buf AK_GUARDED_BY(m_lock) = nullptr;
    size_t m_head AK_GUARDED_BY(m_lock) = 0; // read position
    size_t m_len AK_GUARDED_BY(m_lock) = 0;
    int m_readers AK_GUARDED_BY(m_lock) = 0;
    int m_writers AK_GUARDED_BY(m_lock) = 0;
    uint64_t m_ino = g_pipe_ino.fetch_add(1);
    abi::Timespec m_time = realtime_now();

    ~Pipe() { kmem_free(m_buf); }
};

class PipeEnd final : public File {
public:
    PipeEnd(RefPtr<Pipe> pipe, int flags, bool reader)
        : File(flags), m_pipe(move(pipe)), m_reader(reader) {
        MutexGuard g(m_pipe->m_lock);
        (reader ? m_pipe->m_readers : m_pipe->m_writers)++;
    }
    ~PipeEnd() override {
        {
            MutexGuard g(m_pipe->m_lock);
            (m_reader ? m_pipe->m_readers : m_pipe->m_writers)--;
            m_pipe->m_readable.broadcast();
            m_pipe->m_writable.broadcast();
        }
        m_pipe->m_waitq.wake(POLLIN | POLLOUT | POLLHUP | POLLERR);
    }

    Result<size_t> read(Uio& uio, int64_t&) override {
        if (!m_reader)
            return EBADF;
        Pipe& p = *m_pipe;
        size_t got = 0;
        {
            MutexGuard g(p.m_lock);
            while (p.m_len == 0) {
                if (p.m_writers == 0 || uio.resid() == 0)
                    return size_t(0);
                if (nonblocking())
                    return EAGAIN;
                TRY(p.m_readable.wait_interruptible(p.m_lock));
            }
            while (p.m_len > 0 && uio.resid() > 0) {
                size_t chunk = min(p.m_len, k_pipe_capacity - p.m_head);
                size_t n = uio.copy_out(p.m_buf + p.m_head, chunk);
                if (n == 0)
                    break;
                p.m_head = (p.m_head + n) % k_pipe_capacity;
                p.m_len -= n;
                got += n;
            }
            if (p.m_len == 0)
                p.m_head = 0;
            p.m_writable.broadcast();
        }
        p.m_waitq.wake(POLLOUT);
        return got;
    }

    Result<size_t> write(Uio& uio, int64_t&) override {
        if (m_reader)
            return EBADF;
        Pipe& p = *m_pipe;
        size_t total = uio.resid();
        size_t put = 0;
        MutexGuard g(p.m_lock);
        if (!p.m_buf) {
            p.m_buf = static_cast<uint8_t*>(kmem_alloc(k_pipe_capacity));
            if (!p.m_buf)
                return ENOMEM;
        }
        while (uio.resid() > 0) {
            if (p.m_readers == 0)
                return put ? Result<size_t>(put) : Result<size_t>(EPIPE);
            size_t space = k_pipe_capacity - p.m_len;
            // Writes of at most PIPE_BUF bytes are atomic (POSIX).
            bool need_whole = total <= PIPE_BUF && put == 0;
            if (space == 0 || (need_whole && space < total)) {
                if (nonblocking())
                    return put ? Result<size_t>(put) : Result<size_t>(EAGAIN);
                Result<void> r = p.m_writable.wait_interruptible(p.m_lock);
                if (r.is_error())
                    return put ? Result<size_t>(put) : Result<size_t>(Error{r.error()});
                continue;
            }
            while (space > 0 && uio.resid() > 0) {
                size_t tail = (p.m_head + p.m_len) % k_pipe_capacity;
                size_t chunk = min(space, k_pipe_capacity - tail);
                size_t n = uio.copy_in(p.m_buf + tail, chunk);
                p.m_len += n;
                space -= n;
                put += n;
            }
            p.m_readable.broadcast();
            p.m_lock.unlock();
            p.m_waitq.wake(POLLIN);
            p.m_lock.lock();
        }
        return put;
    }

    uint32_t poll(uint32_t events, PollTable* pt) override {
        Pipe& p = *m_pipe;
        if (pt)
            pt->add(p.m_waitq);
        MutexGuard g(p.m_lock);
        uint32_t r = 0;
        if (m_reader) {
            if (p.m_len > 0)
                r |= POLLIN | POLLRDNORM;
            if (p.m_writers == 0)
                r |= POLLHUP;
        } else {
            if (p.m_len < k_pipe_capacity)
                r |= POLLOUT | POLLWRNORM;
            if (p.m_readers == 0)
                r |= POLLERR;
        }
        return r & (events | POLLHUP | POLLERR);
    }

    Result<void> stat(abi::Stat& st) override {
        __builtin_memset(&st, 0, sizeof st);
        st.st_mode = S_IFIFO | 0600;
        st.st_nlink = 1;
        st.st_ino = m_pipe->m_ino;
        st.st_blksize = 4096;
        st.st_atim = st.st_mtim = st.st_ctim = m_pipe->m_time;
        Cred c = curproc().cred();
        st.st_uid = c.euid;
        st.st_gid = c.egid;
        return {};
    }

    Result<long> ioctl(unsigned long cmd, void* arg) override {
        constexpr unsigned long k_fionread = 0x541B;
        if (cmd == k_fionread) {
            if (!arg)
                return EFAULT;
            MutexGuard g(m_pipe->m_lock);
            int n = static_cast<int>(m_pipe->m_len);
            __builtin_memcpy(arg, &n, sizeof n);
            return 0L;
        }
        return ENOTTY;
    }

private:
    RefPtr<Pipe> m_pipe;
    bool m_reader;
};

} // namespace

Result<void> pipe_create(int flags, RefPtr<File>& read_end, RefPtr<File>& write_end) {
    auto pipe = TRY(try_make_ref<Pipe>());
    int fl = flags & O_NONBLOCK;
    auto* r = make<PipeEnd>(pipe, O_RDONLY | fl, true);
    if (!r)
        return ENOMEM;
    read_end = adopt_ref<File>(r);
    auto* w = make<PipeEnd>(pipe, O_WRONLY | fl, false);
    if (!w) {
        read_end.clear();
        return ENOMEM;
    }
    write_end = adopt_ref<File>(w);
    return {};
}

} // namespace ak
