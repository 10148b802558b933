// Descriptor system calls: read/write family, lseek, dup, fcntl, ioctl,
// close, pipes, eventfd.
#include <ak/abi/process.h>
#include <ak/eventfd.h>
#include <ak/pipe.h>
#include <ak/syscall.h>

namespace ak::sys {

namespace {

Result<long> rw(int fd, Uio& uio, bool write, bool positional, int64_t offset) {
    RefPtr<File> f = TRY(fd_get(fd));
    if (write ? !f->writable() : !f->readable())
        return EBADF;
    if (positional) {
        if (!f->seekable())
            return ESPIPE;
        if (offset < 0)
            return EINVAL;
        int64_t pos = offset;
        size_t n = write ? TRY(f->write(uio, pos)) : TRY(f->read(uio, pos));
        return static_cast<long>(n);
    }
    if (f->seekable()) {
        MutexGuard g(f->m_pos_lock);
        size_t n = write ? TRY(f->write(uio, f->m_pos)) : TRY(f->read(uio, f->m_pos));
        return static_cast<long>(n);
    }
    int64_t dummy = 0;
    size_t n = write ? TRY(f->write(uio, dummy)) : TRY(f->read(uio, dummy));
    return static_cast<long>(n);
}

Result<long> rw_single(int fd, void* buf, size_t count, bool write, bool positional,
                       int64_t offset) {
    if (!buf && count)
        return EFAULT;
    Uio uio(buf, min(count, k_max_rw));
    return rw(fd, uio, write, positional, offset);
}

Result<long> rw_vector(int fd, const abi::Iovec* iov, int iovcnt, bool write) {
    if (iovcnt < 0 || iovcnt > IOV_MAX)
        return EINVAL;
    if (iovcnt && !iov)
        return EFAULT;
    size_t total = 0;
    for (int i = 0; i < iovcnt; i++) {
        if (static_cast<long>(iov[i].iov_len) < 0)
            return EINVAL;
        if (iov[i].iov_len && !iov[i].iov_base)
            return EFAULT;
        total += iov[i].iov_len;
        if (total > 0x7fffffffffffffffull)
            return EINVAL;
    }
    Uio uio(iov, static_cast<size_t>(iovcnt), min(total, k_max_rw));
    return rw(fd, uio, write, false, 0);
}

Result<long> do_dup3(int oldfd, int newfd, int flags) {
    RefPtr<File> f = TRY(fd_get(oldfd));
    if (oldfd == newfd)
        return EINVAL;
    Proc& p = curproc();
    if (newfd < 0 || static_cast<uint32_t>(newfd) >= p.fds().limit())
        return EBADF;
    int fd = TRY(p.fds().install_at(newfd, move(f), flags & O_CLOEXEC));
    return fd;
}

} // namespace

Result<long> sys_read(int fd, void* buf, size_t count) {
    return rw_single(fd, buf, count, false, false, 0);
}
Result<long> sys_write(int fd, const void* buf, size_t count) {
    return rw_single(fd, const_cast<void*>(buf), count, true, false, 0);
}
Result<long> sys_pread64(int fd, void* buf, size_t count, int64_t offset) {
    return rw_single(fd, buf, count, false, true, offset);
}
Result<long> sys_pwrite64(int fd, const void* buf, size_t count, int64_t offset) {
    return rw_single(fd, const_cast<void*>(buf), count, true, true, offset);
}
Result<long> sys_readv(int fd, const abi::Iovec* iov, int iovcnt) {
    return rw_vector(fd, iov, iovcnt, false);
}
Result<long> sys_writev(int fd, const abi::Iovec* iov, int iovcnt) {
    return rw_vector(fd, iov, iovcnt, true);
}

Result<long> sys_lseek(int fd, int64_t offset, int whence) {
    RefPtr<File> f = TRY(fd_get(fd));
    if (f->flags() & O_PATH)
        return EBADF;
    if (!f->seekable())
        return ESPIPE;
    MutexGuard g(f->m_pos_lock);
    int64_t pos = TRY(f->seek(offset, whence, f->m_pos));
    f->m_pos = pos;
    return pos;
}

Result<long> sys_close(int fd) {
    TRY(curproc().fds().close(fd));
    return 0L;
}

Result<long> sys_dup(int oldfd) {
    RefPtr<File> f = TRY(fd_get(oldfd));
    int fd = TRY(curproc().fds().install(move(f), false));
    return fd;
}

Result<long> sys_dup2(int oldfd, int newfd) {
    if (oldfd == newfd) {
        TRY(fd_get(oldfd));
        return newfd;
    }
    return do_dup3(oldfd, newfd, 0);
}

Result<long> sys_dup3(int oldfd, int newfd, int flags) {
    if (flags & ~O_CLOEXEC)
        return EINVAL;
    return do_dup3(oldfd, newfd, flags);
}

Result<long> sys_fcntl(int fd, int cmd, unsigned long arg) {
    Proc& p = curproc();
    RefPtr<File> f = TRY(fd_get(fd));
    switch (cmd) {
    case F_DUPFD:
    case F_DUPFD_CLOEXEC: {
        if (static_cast<long>(arg) < 0 || arg >= p.fds().limit())
            return EINVAL;
        int nfd = TRY(p.fds().install(move(f), cmd == F_DUPFD_CLOEXEC, static_cast<int>(arg)));
        return nfd;
    }
    case F_GETFD: {
        bool c = TRY(p.fds().get_cloexec(fd));
        return c ? FD_CLOEXEC : 0;
    }
    case F_SETFD:
        TRY(p.fds().set_cloexec(fd, arg & FD_CLOEXEC));
        return 0L;
    case F_GETFL:
        return f->flags();
    case F_SETFL:
        if (f->flags() & O_PATH)
            return EBADF;
        TRY(f->set_status_flags(static_cast<int>(arg)));
        return 0L;
    default:
        return EINVAL;
    }
}

Result<long> sys_ioctl(int fd, unsigned long request, void* arg) {
    constexpr unsigned long k_fionbio = 0x5421;
    constexpr unsigned long k_fioclex = 0x5451;
    constexpr unsigned long k_fionclex = 0x5450;
    Proc& p = curproc();
    RefPtr<File> f = TRY(fd_get(fd));
    if (f->flags() & O_PATH)
        return EBADF;
    switch (request) {
    case k_fioclex:
        TRY(p.fds().set_cloexec(fd, true));
        return 0L;
    case k_fionclex:
        TRY(p.fds().set_cloexec(fd, false));
        return 0L;
    case k_fionbio: {
        int on;
        TRY(copy_in(on, static_cast<const int*>(arg)));
        int fl = f->flags();
        TRY(f->set_status_flags(on ? (fl | O_NONBLOCK) : (fl & ~O_NONBLOCK)));
        return 0L;
    }
    default:
        return f->ioctl(request, arg);
    }
}

Result<long> sys_pipe2(int* fds, int flags) {
    if (flags & ~(O_CLOEXEC | O_NONBLOCK | O_DIRECT))
        return EINVAL;
    if (!fds)
        return EFAULT;
    RefPtr<File> r, w;
    TRY(pipe_create(flags, r, w));
    Proc& p = curproc();
    int rfd = TRY(p.fds().install(move(r), flags & O_CLOEXEC));
    Result<int> wfd = p.fds().install(move(w), flags & O_CLOEXEC);
    if (wfd.is_error()) {
        (void)p.fds().close(rfd);
        return Error{wfd.error()};
    }
    int out[2] = {rfd, wfd.value()};
    __builtin_memcpy(fds, out, sizeof out);
    return 0L;
}

Result<long> sys_pipe(int* fds) { return sys_pipe2(fds, 0); }

Result<long> sys_eventfd2(unsigned int initval, int flags) {
    using namespace abi;
    if (flags & ~(k_efd_semaphore | k_efd_nonblock | k_efd_cloexec))
        return EINVAL;
    RefPtr<File> f = TRY(eventfd_create(initval, flags));
    int fd = TRY(curproc().fds().install(move(f), flags & k_efd_cloexec));
    return fd;
}

Result<long> sys_eventfd(unsigned int initval) { return sys_eventfd2(initval, 0); }

} // namespace ak::sys
