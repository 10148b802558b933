// Helpers shared by system-call implementations.  Every handler validates
// its arguments first (decode) and only then acts.
#pragma once

#include <ak/proc.h>
#include <ak/sysproto.h>
#include <ak/thread.h>
#include <ak/vfs.h>

namespace ak {

// Run system call nr for the calling thread's lwp (which must exist) and
// return the result or -errno; -ENOSYS for unknown numbers.  The exec
// component's syscall upcall calls it, then does its signal delivery and
// signal_syscall_exit(); ak_kern_syscall() is this plus the client-side
// exit work.
long syscall_dispatch(long nr, const long* args);

} // namespace ak

namespace ak::sys {

// Linux caps one read/write at this many bytes (MAX_RW_COUNT).
constexpr size_t k_max_rw = 0x7ffff000;

inline Result<RefPtr<File>> fd_get(int fd) { return curproc().fds().get(fd); }

template <typename T> Result<void> copy_out(T* user, const T& value) {
    if (!user)
        return EFAULT;
    __builtin_memcpy(static_cast<void*>(user), &value, sizeof(T));
    return {};
}

template <typename T> Result<void> copy_in(T& value, const T* user) {
    if (!user)
        return EFAULT;
    __builtin_memcpy(&value, static_cast<const void*>(user), sizeof(T));
    return {};
}

// A path copied in from the caller.
struct PathBuf {
    char buf[PATH_MAX];
    Result<void> copy(const char* user) { return copyin_path(user, buf); }
};

} // namespace ak::sys
