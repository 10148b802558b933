// The virtual file system: vnodes, mounts, file system types, path lookup.
//
// Locking (documented per operation below):
//  - Every vnode has an RwLock (lock()).  The VFS takes it; file systems
//    never take the VFS lock of a vnode they were called on.
//  - Directory operations: lookup and readdir run with the directory locked
//    shared; create/mkdir/symlink/mknod/link/unlink/rmdir with it locked
//    exclusive (and, for unlink/rmdir, the victim exclusive too).
//  - rename: the mount's rename lock, then both directories exclusive (in
//    address order), then source and target exclusive.
//  - read/getattr/readlink: shared.  write/setattr/fsync: exclusive.
//  - Permission checks are done by the VFS before calling a file system.
#pragma once

#include <ak/abi/linux.h>
#include <ak/file.h>
#include <ak/list.h>
#include <ak/proc.h>
#include <ak/refptr.h>
#include <ak/string.h>
#include <ak/sync.h>
#include <ak/uio.h>

namespace ak {

class Mount;

enum class VType : uint8_t { None, Reg, Dir, Lnk, Chr, Blk, Fifo, Sock };

VType vtype_from_mode(uint32_t mode);
uint8_t dtype_from_vtype(VType t);

struct VAttr {
    uint32_t mode = 0; // includes the S_IFMT type bits
    uint32_t uid = 0;
    uint32_t gid = 0;
    uint64_t nlink = 0;
    uint64_t ino = 0;
    int64_t size = 0;
    uint64_t blocks = 0; // 512-byte units
    uint32_t blksize = 4096;
    uint64_t rdev = 0;
    abi::Timespec atime{}, mtime{}, ctime{}, btime{};
};

struct SetAttr {
    enum : uint32_t {
        Mode = 1,
        Uid = 2,
        Gid = 4,
        Size = 8,
        Atime = 16,
        Mtime = 32,
        Ctime = 64,
    };
    uint32_t mask = 0;
    uint32_t mode = 0; // permission bits only (07777)
    uint32_t uid = 0;
    uint32_t gid = 0;
    int64_t size = 0;
    abi::Timespec atime{}, mtime{}, ctime{};
};

// Receives directory entries from Vnode::readdir.  emit() returns false when
// the caller's buffer is full; the entry was then not consumed.
class DirentSink {
public:
    virtual bool emit(StringView name, uint64_t ino, VType type, int64_t next_cookie) = 0;

protected:
    ~DirentSink() = default;
};

class Vnode : public RefCounted<Vnode>, public KObject {
public:
    Vnode(Mount& mount, VType type, uint64_t ino);
    ~Vnode() override;

    Mount& mount() const { return *m_mount; }
    VType type() const { return m_type; }
    uint64_t ino() const { return m_ino; }
    bool is_dir() const { return m_type == VType::Dir; }
    RwLock& lock() { return m_lock; }

    // A file system mounted on this directory (nullptr if none); guarded by
    // the mount table lock.
    Mount* m_mounted_here = nullptr;

    // --- Directory operations (this is the directory) -------------------
    // Returns the vnode for name (never "." or ".."), ENOENT if absent.
    virtual Result<RefPtr<Vnode>> lookup(StringView name);
    // The parent directory (for ".." and getcwd).  Called on directories.
    virtual Result<RefPtr<Vnode>> parent();
    // Create a non-directory node: mode carries the type (S_IFREG, S_IFIFO,
    // S_IFSOCK, S_IFCHR, S_IFBLK) and permission bits after umask.
    virtual Result<RefPtr<Vnode>> create(StringView name, uint32_t mode, const Cred& cred,
                                         uint64_t rdev);
    virtual Result<RefPtr<Vnode>> mkdir(StringView name, uint32_t mode, const Cred& cred);
    virtual Result<RefPtr<Vnode>> symlink(StringView name, StringView target, const Cred& cred);
    virtual Result<void> link(StringView name, Vnode& target);
    // victim is the non-directory vnode lookup(name) returned.
    virtual Result<void> unlink(StringView name, Vnode& victim);
    // victim is the directory lookup(name) returned; the fs checks it is
    // empty (ENOTEMPTY).
    virtual Result<void> rmdir(StringView name, Vnode& victim);
    // Move src (named oldname in this directory) to newname in newdir,
    // replacing target when non-null (the VFS checked type compatibility;
    // the fs checks a replaced directory is empty).  flags: RENAME_EXCHANGE
    // swaps src and target; RENAME_NOREPLACE is handled by the VFS.
    virtual Result<void> rename(StringView oldname, Vnode& src, Vnode& newdir, StringView newname,
                                Vnode* target, unsigned flags);
    // Emit entries starting at cookie (0 = start; "." and ".." included).
    virtual Result<void> readdir(int64_t cookie, DirentSink& sink);

    // --- Non-directory operations ----------------------------------------
    virtual Result<size_t> readlink(Span<char> buf);
    virtual Result<size_t> read(Uio& uio, int64_t offset);
    // ioflags: O_APPEND (offset is ignored and the data goes at the end;
    // the file system stores where the data was written, the old end of
    // file, in offset), O_SYNC/O_DSYNC.  Returns the bytes written; the
    // caller's new file position is offset + that count.
    virtual Result<size_t> write(Uio& uio, int64_t& offset, int ioflags);
    virtual Result<void> fsync(bool datasync);

    // --- Attributes -------------------------------------------------------
    virtual Result<void> getattr(VAttr& attr);
    virtual Result<void> setattr(const SetAttr& attr);

    // Open a special file (device, fifo).  Default: a plain vnode file.
    virtual Result<RefPtr<File>> open_special(int flags);

    // RefCounted hook: runs when the last reference goes.  The default
    // destroys the vnode; a file system that caches vnodes (looked up with
    // try_ref) overrides it to take the vnode out of its cache first, and
    // may then free an unlinked inode before destroying it.
    virtual void last_ref_dropped() { destroy(this); }

private:
    RefPtr<Mount> m_mount_ref;
    Mount* m_mount;
    VType m_type;
    uint64_t m_ino;
    RwLock m_lock;
};

class FileSystemType;

class Mount : public RefCounted<Mount>, public KObject {
public:
    Mount(FileSystemType& type, unsigned long flags);
    ~Mount() override;

    FileSystemType& fstype() const { return *m_type; }
    bool read_only() const { return m_flags.load(MemoryOrder::Relaxed) & MS_RDONLY; }
    unsigned long flags() const { return m_flags.load(MemoryOrder::Relaxed); }
    uint64_t dev() const { return m_dev; }
    RefPtr<Vnode> root() const { return m_root; }
    Vnode* covered() const { return m_covered.get(); }
    Mutex& rename_lock() { return m_rename_lock; }

    virtual Result<void> statfs(abi::Statfs& st);
    virtual Result<void> sync();
    // Flush and release everything; called once, after the VFS checked the
    // mount is not busy.  force: MNT_FORCE.
    virtual Result<void> unmount(bool force);
    // Change flags (MS_REMOUNT); default accepts anything.
    virtual Result<void> remount(unsigned long flags);

    // Users that pin the mount against umount: open files, cwd/root.
    void busy_ref() { m_busy.fetch_add(1, MemoryOrder::Relaxed); }
    void busy_unref() { m_busy.fetch_sub(1, MemoryOrder::Relaxed); }
    int busy_count() const { return m_busy.load(MemoryOrder::Relaxed); }

    // The source given to mount (device path or fs name), for /proc/mounts
    // style listings.
    KString m_source;
    ListNode m_list_node;

protected:
    // File systems set the root once in their mount function.
    void set_root(RefPtr<Vnode> root) { m_root = move(root); }

private:
    friend Result<void> vfs_mount(StringView, Vnode&, StringView, unsigned long, const char*);
    friend Result<void> vfs_umount(Vnode&, int);
    friend Result<void> vfs_mount_root(StringView, unsigned long);
    friend void vfs_shutdown();
    friend void discard_mount(Mount&);
    friend Result<void> vfs_remount(Mount&, unsigned long);
    FileSystemType* m_type;
    Atomic<unsigned long> m_flags;
    uint64_t m_dev;
    RefPtr<Vnode> m_root;
    RefPtr<Vnode> m_covered;
    Mount* m_parent = nullptr;
    Atomic<int> m_busy{0};
    Mutex m_rename_lock;
};

class FileSystemType : NonCopyable {
public:
    using MountFn = Result<RefPtr<Mount>> (*)(FileSystemType& type, StringView source,
                                              unsigned long flags, const char* data);
    constexpr FileSystemType(const char* name, MountFn fn, bool needs_device)
        : m_name(name), m_mount(fn), m_needs_device(needs_device) {}
    const char* name() const { return m_name; }
    Result<RefPtr<Mount>> mount(StringView source, unsigned long flags, const char* data) {
        return m_mount(*this, source, flags, data);
    }
    bool needs_device() const { return m_needs_device; }
    ListNode m_list_node;

private:
    const char* m_name;
    MountFn m_mount;
    bool m_needs_device;
};

// Register a file system type (from a component's init).
void vfs_register_fstype(FileSystemType& type);
FileSystemType* vfs_find_fstype(StringView name);

// Mount/unmount.  The caller checked privileges.
Result<void> vfs_mount(StringView fstype, Vnode& where, StringView source, unsigned long flags,
                       const char* data);
Result<void> vfs_umount(Vnode& root_of_mount, int flags);
// MS_REMOUNT: let the file system agree, then change the mount's flags.
Result<void> vfs_remount(Mount& m, unsigned long flags);
Result<void> vfs_mount_root(StringView fstype, unsigned long flags);
RefPtr<Vnode> vfs_root();
// Follow file systems mounted on v.
RefPtr<Vnode> vfs_cross_mounts(RefPtr<Vnode> v);
// If v is the root of a mounted file system, the vnode it covers
// (repeatedly); else v.  Used for "..".
RefPtr<Vnode> vfs_covered_if_root(RefPtr<Vnode> v);
// Visit mounts (for df/mount listings); the callback runs with the mount
// table locked and must not block on the VFS.
void vfs_foreach_mount(void (*fn)(Mount&, void*), void* ctx);
// Unmount everything (kernel shutdown), syncing first.
void vfs_shutdown();
Result<void> vfs_sync_all();
uint64_t vfs_alloc_dev();

// --- Permission checks ---------------------------------------------------
// mask: R_OK|W_OK|X_OK.  Uses the effective ids (or the real ones when
// use_real, for access()).
Result<void> vfs_access(Vnode& v, const Cred& cred, int mask);
Result<void> vfs_access_attr(const VAttr& a, const Cred& cred, int mask);
// May cred delete or rename entry victim in dir (write+search, sticky bit).
// The caller holds dir's lock; victim must not be locked by the caller.
Result<void> vfs_may_delete(Vnode& dir, Vnode& victim, const Cred& cred);

// --- Path lookup ---------------------------------------------------------
constexpr unsigned k_lookup_follow = 1;     // follow a symlink in the last component
constexpr unsigned k_lookup_directory = 2;  // the result must be a directory
constexpr unsigned k_lookup_empty_path = 4; // "" names dirfd itself (AT_EMPTY_PATH)

// Resolve path relative to dirfd (AT_FDCWD or a directory descriptor) in the
// current process.
Result<RefPtr<Vnode>> namei(int dirfd, const char* path, unsigned flags);

// Resolve all but the last component.  name points into path (valid while
// path is); it is "" only for "/" (callers treat that as EEXIST/EBUSY as
// Linux does).  trailing_slash is set for "a/b/".  If the last component is
// "." or "..", dot is set and name is that component.
struct ParentLookup {
    RefPtr<Vnode> dir;
    StringView name;
    bool trailing_slash = false;
    bool dot = false;
};
Result<ParentLookup> namei_parent(int dirfd, const char* path);

// Copy a path from the caller (EFAULT for null, ENAMETOOLONG past PATH_MAX).
Result<void> copyin_path(const char* user, char* buf /* PATH_MAX */);

// Convert attributes to the ABI structs.
void vattr_to_stat(const VAttr& a, uint64_t dev, abi::Stat& st);

// Vnode-backed open file.
Result<RefPtr<File>> vnode_open_file(RefPtr<Vnode> v, int flags);

// The built-in empty read-only root used when no root file system type is
// linked.
Result<RefPtr<Mount>> vfs_empty_root_mount();

} // namespace ak
