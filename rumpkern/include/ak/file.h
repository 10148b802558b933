// Open files.  A File is what a descriptor refers to: a vnode, a pipe end, a
// socket, ...  Subclasses override what they support; the defaults return
// the errno Linux returns for a file that does not support the operation.
#pragma once

#include <ak/abi/linux.h>
#include <ak/list.h>
#include <ak/refptr.h>
#include <ak/sync.h>
#include <ak/uio.h>

namespace ak {

class Vnode;
class PollTable;
class Mount;
class Socket;

// An epoll registration watching a file (see sys_epoll.cpp): the file
// keeps the list so that closing its last descriptor can drop them, as
// Linux does.
struct FileWatch {
    ListNode file_node;
};

class File : public RefCounted<File>, public KObject {
public:
    explicit File(int flags) : m_flags(flags) {}
    ~File() override = default;

    // Data.  pos is the file position (seekable files) or ignored.
    virtual Result<size_t> read(Uio& uio, int64_t& pos);
    virtual Result<size_t> write(Uio& uio, int64_t& pos);
    virtual bool seekable() const { return false; }
    virtual Result<int64_t> seek(int64_t offset, int whence, int64_t pos);
    virtual Result<void> stat(abi::Stat& st);
    virtual Result<long> ioctl(unsigned long cmd, void* arg);
    // Current readiness for events (POLLIN...); when pt is non-null also
    // registers on the wait queues that will announce a change.
    virtual uint32_t poll(uint32_t events, PollTable* pt);
    virtual Result<void> truncate(int64_t length);
    virtual Result<void> fsync(bool datasync);
    // Fill buf with linux_dirent64 records starting at cookie pos.
    virtual Result<size_t> getdents(Span<uint8_t> buf, int64_t& pos);
    virtual Result<void> set_status_flags(int flags);

    // The vnode behind this file, if any (fchdir, fstatfs, *at lookups).
    virtual Vnode* vnode() { return nullptr; }
    // The socket this file is, if it is one (no RTTI in the kernel).
    virtual Socket* socket() { return nullptr; }
    virtual bool is_epoll() const { return false; }

    int flags() const { return m_flags.load(MemoryOrder::Relaxed); }
    int access_mode() const { return flags() & O_ACCMODE; }
    bool readable() const { return access_mode() != O_WRONLY && !(flags() & O_PATH); }
    bool writable() const {
        int a = access_mode();
        return (a == O_WRONLY || a == O_RDWR) && !(flags() & O_PATH);
    }
    bool nonblocking() const { return flags() & O_NONBLOCK; }

    // File position, serialised for seekable files (read/write/lseek).
    Mutex m_pos_lock;
    int64_t m_pos AK_GUARDED_BY(m_pos_lock) = 0;

    // epoll registrations holding a reference to this file.
    Mutex m_watch_lock;
    List<FileWatch, &FileWatch::file_node> m_watches AK_GUARDED_BY(m_watch_lock);

protected:
    Atomic<int> m_flags;
};

// A descriptor referring to f was closed (f is still referenced by the
// caller): drops epoll registrations when no descriptor is left.
void file_descriptor_closed(RefPtr<File>& f);

} // namespace ak
