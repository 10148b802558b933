// Open files backed by a vnode.
#include <ak/time.h>
#include <ak/vfs.h>
#include <ak/wait.h>

namespace ak {

namespace {

class DirentBuffer final : public DirentSink {
public:
    explicit DirentBuffer(Span<uint8_t> buf) : m_buf(buf) {}
    bool emit(StringView name, uint64_t ino, VType type, int64_t next_cookie) override {
        size_t reclen = align_up(__builtin_offsetof(abi::Dirent64, d_name) + name.length() + 1, 8);
        if (m_used + reclen > m_buf.size()) {
            m_full = true;
            return false;
        }
        uint8_t* p = m_buf.data() + m_used;
        __builtin_memset(p, 0, reclen);
        abi::Dirent64 d{};
        d.d_ino = ino;
        d.d_off = next_cookie;
        d.d_reclen = static_cast<uint16_t>(reclen);
        d.d_type = dtype_from_vtype(type);
        __builtin_memcpy(p, &d, __builtin_offsetof(abi::Dirent64, d_name));
        __builtin_memcpy(p + __builtin_offsetof(abi::Dirent64, d_name), name.data(), name.length());
        m_used += reclen;
        m_next = next_cookie;
        return true;
    }
    size_t used() const { return m_used; }
    int64_t next() const { return m_next; }
    bool full() const { return m_full; }

private:
    Span<uint8_t> m_buf;
    size_t m_used = 0;
    int64_t m_next = -1;
    bool m_full = false;
};

class VnodeFile final : public File {
public:
    VnodeFile(RefPtr<Vnode> v, int flags) : File(flags), m_vnode(move(v)) {
        m_vnode->mount().busy_ref();
    }
    ~VnodeFile() override { m_vnode->mount().busy_unref(); }

    Vnode* vnode() override { return m_vnode.get(); }
    bool seekable() const override { return true; }

    Result<size_t> read(Uio& uio, int64_t& pos) override {
        if (m_vnode->is_dir())
            return EISDIR;
        ReadGuard g(m_vnode->lock());
        size_t n = TRY(m_vnode->read(uio, pos));
        pos += static_cast<int64_t>(n);
        return n;
    }

    Result<size_t> write(Uio& uio, int64_t& pos) override {
        if (m_vnode->is_dir())
            return EISDIR;
        if (m_vnode->mount().read_only())
            return EROFS;
        WriteGuard g(m_vnode->lock());
        int64_t off = pos;
        size_t n = TRY(m_vnode->write(uio, off, flags() & (O_APPEND | O_SYNC | O_DSYNC)));
        pos = off + static_cast<int64_t>(n);
        return n;
    }

    Result<int64_t> seek(int64_t offset, int whence, int64_t pos) override {
        int64_t base;
        switch (whence) {
        case SEEK_SET:
            base = 0;
            break;
        case SEEK_CUR:
            base = pos;
            break;
        case SEEK_END:
        case SEEK_DATA:
        case SEEK_HOLE: {
            if (m_vnode->is_dir() && whence != SEEK_SET)
                return whence == SEEK_END ? Result<int64_t>(EINVAL) : Result<int64_t>(ENXIO);
            VAttr a;
            {
                ReadGuard g(m_vnode->lock());
                TRY(m_vnode->getattr(a));
            }
            if (whence == SEEK_END) {
                base = a.size;
                break;
            }
            // No hole map: the whole file is data, with a hole at the end.
            if (offset < 0 || offset >= a.size)
                return ENXIO;
            return whence == SEEK_DATA ? offset : a.size;
        }
        default:
            return EINVAL;
        }
        int64_t r;
        if (__builtin_add_overflow(base, offset, &r) || r < 0)
            return EINVAL;
        return r;
    }

    Result<void> stat(abi::Stat& st) override {
        VAttr a;
        {
            ReadGuard g(m_vnode->lock());
            TRY(m_vnode->getattr(a));
        }
        vattr_to_stat(a, m_vnode->mount().dev(), st);
        return {};
    }

    Result<void> truncate(int64_t length) override {
        if (m_vnode->type() != VType::Reg)
            return EINVAL;
        if (m_vnode->mount().read_only())
            return EROFS;
        SetAttr sa;
        sa.mask = SetAttr::Size | SetAttr::Mtime | SetAttr::Ctime;
        sa.size = length;
        sa.mtime = sa.ctime = realtime_now();
        WriteGuard g(m_vnode->lock());
        return m_vnode->setattr(sa);
    }

    Result<void> fsync(bool datasync) override {
        WriteGuard g(m_vnode->lock());
        return m_vnode->fsync(datasync);
    }

    Result<size_t> getdents(Span<uint8_t> buf, int64_t& pos) override {
        if (!m_vnode->is_dir())
            return ENOTDIR;
        DirentBuffer sink(buf);
        {
            ReadGuard g(m_vnode->lock());
            TRY(m_vnode->readdir(pos, sink));
        }
        if (sink.used() == 0 && sink.full())
            return EINVAL; // buffer too small for one entry
        if (sink.used())
            pos = sink.next();
        return sink.used();
    }

    Result<long> ioctl(unsigned long cmd, void* arg) override {
        constexpr unsigned long k_fionread = 0x541B;
        if (cmd == k_fionread && m_vnode->type() == VType::Reg) {
            if (!arg)
                return EFAULT;
            VAttr a;
            {
                ReadGuard g(m_vnode->lock());
                TRY(m_vnode->getattr(a));
            }
            int64_t pos;
            {
                MutexGuard g(m_pos_lock);
                pos = m_pos;
            }
            int n = a.size > pos ? static_cast<int>(min<int64_t>(a.size - pos, 0x7fffffff)) : 0;
            __builtin_memcpy(arg, &n, sizeof n);
            return 0L;
        }
        return ENOTTY;
    }

    uint32_t poll(uint32_t events, PollTable*) override {
        return events & (POLLIN | POLLOUT | POLLRDNORM | POLLWRNORM);
    }

private:
    RefPtr<Vnode> m_vnode;
};

} // namespace

Result<RefPtr<File>> vnode_open_file(RefPtr<Vnode> v, int flags) {
    auto* f = make<VnodeFile>(move(v), flags);
    if (!f)
        return ENOMEM;
    return adopt_ref<File>(f);
}

} // namespace ak
