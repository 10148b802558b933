// ak-fuse: mount an anykern file system on a host directory with libfuse3.
//
//   ak-fuse [-o ro] [-t ext2|tmpfs] [-f] [IMAGE] MOUNTPOINT
//
// The kernel runs in this process (the local client).  With ext2 the image
// is attached as a disk and mounted in the kernel at /mnt; FUSE requests
// become ak_sys_* calls on paths below it.  Unmounting (fusermount3 -u) or
// SIGTERM/SIGINT unmounts inside the kernel and shuts it down, which writes
// everything back (docs/ext2.md, "ak-fuse").
#define FUSE_USE_VERSION 31
#include <anykern/anykern.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <fuse.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

constexpr const char* k_kmnt = "/mnt";

struct Options {
    const char* image = nullptr;
    const char* mountpoint = nullptr;
    const char* fstype = "ext2";
    bool read_only = false;
    bool foreground = false;
    std::string fuse_opts;
} g_opt;

bool g_up;
bool g_clean_exit; // destroy unmounted and shut the kernel down

// The kernel path of a FUSE path, or ENAMETOOLONG: FUSE itself allows
// components up to 1024 bytes; POSIX file systems stop at NAME_MAX.
int kpath(const char* path, std::string& out) {
    size_t comp = 0;
    for (const char* p = path; *p; p++) {
        comp = *p == '/' ? 0 : comp + 1;
        if (comp > NAME_MAX)
            return -ENAMETOOLONG;
    }
    out = k_kmnt;
    if (strcmp(path, "/") != 0)
        out += path;
    if (out.size() >= PATH_MAX)
        return -ENAMETOOLONG;
    return 0;
}

#define KPATH(var, path)                                                                           \
    std::string var;                                                                               \
    if (int e_ = kpath(path, var))                                                                 \
        return e_;

int ret(long r) {
    return r < 0 ? -errno : 0;
}

// New nodes belong to the caller, as on a kernel file system.
void give_to_caller(const std::string& p) {
    fuse_context* c = fuse_get_context();
    if (c)
        ak_sys_lchown(p.c_str(), c->uid, c->gid);
}

void* op_init(fuse_conn_info*, fuse_config* cfg) {
    cfg->use_ino = 1;
    cfg->kernel_cache = 0;
    // Our own attributes are authoritative; let the host cache them briefly.
    cfg->attr_timeout = 1.0;
    cfg->entry_timeout = 1.0;
    cfg->negative_timeout = 0;
    // The kernel starts here, after fuse_main may have daemonised (fork).
    if (ak_init() != 0) {
        fprintf(stderr, "ak-fuse: ak_init: %s\n", strerror(errno));
        exit(1);
    }
    if (ak_sys_mkdir(k_kmnt, 0755) != 0 && errno != EEXIST) {
        fprintf(stderr, "ak-fuse: mkdir %s: %s\n", k_kmnt, strerror(errno));
        exit(1);
    }
    unsigned long flags = g_opt.read_only ? MS_RDONLY : 0;
    int r;
    if (strcmp(g_opt.fstype, "tmpfs") == 0) {
        r = ak_sys_mount("tmpfs", k_kmnt, "tmpfs", flags, nullptr);
    } else {
        r = ak_disk_attach(g_opt.image, "akblk0", g_opt.read_only ? AK_DISK_RDONLY : 0);
        if (r == 0)
            r = ak_sys_mount("/dev/akblk0", k_kmnt, g_opt.fstype, flags, nullptr);
    }
    if (r != 0) {
        fprintf(stderr, "ak-fuse: mounting %s: %s\n", g_opt.image ? g_opt.image : g_opt.fstype,
                strerror(errno));
        ak_fini();
        exit(1);
    }
    g_up = true;
    return nullptr;
}

void op_destroy(void*) {
    if (!g_up)
        return;
    bool ok = true;
    if (ak_sys_umount2(k_kmnt, 0) != 0) {
        fprintf(stderr, "ak-fuse: unmount: %s; detaching\n", strerror(errno));
        ok = ak_sys_umount2(k_kmnt, MNT_DETACH) == 0;
    }
    if (ak_fini() != 0) {
        fprintf(stderr, "ak-fuse: shutdown: %s\n", strerror(errno));
        ok = false;
    }
    g_up = false;
    g_clean_exit = ok;
}

int op_getattr(const char* path, struct stat* st, fuse_file_info* fi) {
    if (fi)
        return ret(ak_sys_fstat(static_cast<int>(fi->fh), st));
    KPATH(p, path);
    return ret(ak_sys_lstat(p.c_str(), st));
}

int op_readlink(const char* path, char* buf, size_t size) {
    KPATH(p, path);
    if (size == 0)
        return -EINVAL;
    ssize_t n = ak_sys_readlink(p.c_str(), buf, size - 1);
    if (n < 0)
        return -errno;
    buf[n] = 0;
    return 0;
}

int op_mknod(const char* path, mode_t mode, dev_t) {
    KPATH(p, path);
    if (!S_ISREG(mode))
        return -EPERM; // device nodes, fifos and sockets: not through FUSE
    int fd = ak_sys_open(p.c_str(), O_CREAT | O_EXCL | O_WRONLY, mode & 07777);
    if (fd < 0)
        return -errno;
    ak_sys_close(fd);
    give_to_caller(p);
    return 0;
}

int op_mkdir(const char* path, mode_t mode) {
    KPATH(p, path);
    if (ak_sys_mkdir(p.c_str(), mode) != 0)
        return -errno;
    give_to_caller(p);
    return 0;
}

int op_unlink(const char* path) {
    KPATH(p, path);
    return ret(ak_sys_unlink(p.c_str()));
}

int op_rmdir(const char* path) {
    KPATH(p, path);
    return ret(ak_sys_rmdir(p.c_str()));
}

int op_symlink(const char* target, const char* path) {
    KPATH(p, path);
    if (ak_sys_symlink(target, p.c_str()) != 0)
        return -errno;
    give_to_caller(p);
    return 0;
}

int op_rename(const char* from, const char* to, unsigned int flags) {
    KPATH(a, from);
    KPATH(b, to);
    return ret(ak_sys_renameat2(AT_FDCWD, a.c_str(), AT_FDCWD, b.c_str(), flags));
}

int op_link(const char* from, const char* to) {
    KPATH(a, from);
    KPATH(b, to);
    return ret(ak_sys_link(a.c_str(), b.c_str()));
}

int op_chmod(const char* path, mode_t mode, fuse_file_info* fi) {
    if (fi)
        return ret(ak_sys_fchmod(static_cast<int>(fi->fh), mode));
    KPATH(p, path);
    return ret(ak_sys_chmod(p.c_str(), mode));
}

int op_chown(const char* path, uid_t uid, gid_t gid, fuse_file_info*) {
    KPATH(p, path);
    return ret(ak_sys_lchown(p.c_str(), uid, gid));
}

int op_truncate(const char* path, off_t size, fuse_file_info* fi) {
    if (fi)
        return ret(ak_sys_ftruncate(static_cast<int>(fi->fh), size));
    KPATH(p, path);
    return ret(ak_sys_truncate(p.c_str(), size));
}

int op_open(const char* path, fuse_file_info* fi) {
    KPATH(p, path);
    int fd = ak_sys_open(p.c_str(), fi->flags & ~(O_NOFOLLOW), 0);
    if (fd < 0)
        return -errno;
    fi->fh = static_cast<uint64_t>(fd);
    return 0;
}

int op_create(const char* path, mode_t mode, fuse_file_info* fi) {
    KPATH(p, path);
    int fd = ak_sys_open(p.c_str(), fi->flags | O_CREAT, mode);
    if (fd < 0)
        return -errno;
    fi->fh = static_cast<uint64_t>(fd);
    give_to_caller(p);
    return 0;
}

int op_read(const char*, char* buf, size_t size, off_t off, fuse_file_info* fi) {
    ssize_t n = ak_sys_pread64(static_cast<int>(fi->fh), buf, size, off);
    return n < 0 ? -errno : static_cast<int>(n);
}

int op_write(const char*, const char* buf, size_t size, off_t off, fuse_file_info* fi) {
    int fd = static_cast<int>(fi->fh);
    ssize_t n =
        (fi->flags & O_APPEND) ? ak_sys_write(fd, buf, size) : ak_sys_pwrite64(fd, buf, size, off);
    return n < 0 ? -errno : static_cast<int>(n);
}

int op_statfs(const char*, struct statvfs* sv) {
    struct statfs sf;
    if (ak_sys_statfs(k_kmnt, &sf) != 0)
        return -errno;
    memset(sv, 0, sizeof *sv);
    sv->f_bsize = static_cast<unsigned long>(sf.f_bsize);
    sv->f_frsize = static_cast<unsigned long>(sf.f_frsize ? sf.f_frsize : sf.f_bsize);
    sv->f_blocks = sf.f_blocks;
    sv->f_bfree = sf.f_bfree;
    sv->f_bavail = sf.f_bavail;
    sv->f_files = sf.f_files;
    sv->f_ffree = sf.f_ffree;
    sv->f_favail = sf.f_ffree;
    sv->f_namemax = static_cast<unsigned long>(sf.f_namelen);
    return 0;
}

int op_release(const char*, fuse_file_info* fi) {
    return ret(ak_sys_close(static_cast<int>(fi->fh)));
}

int op_fsync(const char*, int datasync, fuse_file_info* fi) {
    int fd = static_cast<int>(fi->fh);
    return ret(datasync ? ak_sys_fdatasync(fd) : ak_sys_fsync(fd));
}

int op_opendir(const char* path, fuse_file_info* fi) {
    KPATH(p, path);
    int fd = ak_sys_open(p.c_str(), O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return -errno;
    fi->fh = static_cast<uint64_t>(fd);
    return 0;
}

int op_readdir(const char*, void* buf, fuse_fill_dir_t fill, off_t off, fuse_file_info* fi,
               fuse_readdir_flags) {
    int fd = static_cast<int>(fi->fh);
    if (ak_sys_lseek(fd, off, SEEK_SET) < 0)
        return -errno;
    alignas(8) char dents[32768];
    for (;;) {
        ssize_t n = ak_sys_getdents64(fd, dents, sizeof dents);
        if (n < 0)
            return -errno;
        if (n == 0)
            return 0;
        for (ssize_t pos = 0; pos < n;) {
            auto* d = reinterpret_cast<struct dirent64*>(dents + pos);
            pos += d->d_reclen;
            struct stat st;
            memset(&st, 0, sizeof st);
            st.st_ino = d->d_ino;
            st.st_mode = static_cast<mode_t>(d->d_type) << 12;
            if (fill(buf, d->d_name, &st, d->d_off, static_cast<fuse_fill_dir_flags>(0)))
                return 0;
        }
    }
}

int op_releasedir(const char*, fuse_file_info* fi) {
    return ret(ak_sys_close(static_cast<int>(fi->fh)));
}

int op_utimens(const char* path, const struct timespec tv[2], fuse_file_info* fi) {
    if (fi)
        return ret(ak_sys_utimensat(static_cast<int>(fi->fh), nullptr, tv, 0));
    KPATH(p, path);
    return ret(ak_sys_utimensat(AT_FDCWD, p.c_str(), tv, AT_SYMLINK_NOFOLLOW));
}

int op_access(const char* path, int mask) {
    KPATH(p, path);
    return ret(ak_sys_faccessat(AT_FDCWD, p.c_str(), mask));
}

fuse_operations make_ops() {
    fuse_operations o;
    memset(&o, 0, sizeof o);
    o.init = op_init;
    o.destroy = op_destroy;
    o.getattr = op_getattr;
    o.readlink = op_readlink;
    o.mknod = op_mknod;
    o.mkdir = op_mkdir;
    o.unlink = op_unlink;
    o.rmdir = op_rmdir;
    o.symlink = op_symlink;
    o.rename = op_rename;
    o.link = op_link;
    o.chmod = op_chmod;
    o.chown = op_chown;
    o.truncate = op_truncate;
    o.open = op_open;
    o.create = op_create;
    o.read = op_read;
    o.write = op_write;
    o.statfs = op_statfs;
    o.release = op_release;
    o.fsync = op_fsync;
    o.opendir = op_opendir;
    o.readdir = op_readdir;
    o.releasedir = op_releasedir;
    o.utimens = op_utimens;
    o.access = op_access;
    return o;
}

[[noreturn]] void usage() {
    fprintf(stderr, "usage: ak-fuse [-o ro[,FUSEOPTS]] [-t ext2|tmpfs] [-f] [IMAGE] MOUNTPOINT\n");
    exit(2);
}

} // namespace

int main(int argc, char** argv) {
    const char* positional[2];
    int npos = 0;
    for (int i = 1; i < argc; i++) {
        const char* a = argv[i];
        if (strcmp(a, "-t") == 0 && i + 1 < argc) {
            g_opt.fstype = argv[++i];
        } else if (strcmp(a, "-o") == 0 && i + 1 < argc) {
            // Our "ro"; everything else goes to FUSE.
            std::string opts = argv[++i];
            size_t start = 0;
            while (start <= opts.size()) {
                size_t end = opts.find(',', start);
                if (end == std::string::npos)
                    end = opts.size();
                std::string o = opts.substr(start, end - start);
                if (o == "ro")
                    g_opt.read_only = true;
                else if (o == "rw")
                    g_opt.read_only = false;
                else if (!o.empty())
                    g_opt.fuse_opts += "," + o;
                start = end + 1;
            }
        } else if (strcmp(a, "-f") == 0) {
            g_opt.foreground = true;
        } else if (a[0] == '-') {
            usage();
        } else if (npos < 2) {
            positional[npos++] = a;
        } else {
            usage();
        }
    }
    bool tmpfs = strcmp(g_opt.fstype, "tmpfs") == 0;
    if (tmpfs ? npos != 1 : npos != 2)
        usage();
    g_opt.mountpoint = positional[npos - 1];
    if (!tmpfs) {
        // The image path must survive a daemonising chdir("/").
        static char image[PATH_MAX];
        if (!realpath(positional[0], image)) {
            fprintf(stderr, "ak-fuse: %s: %s\n", positional[0], strerror(errno));
            return 1;
        }
        g_opt.image = image;
    }
    std::string opts = "fsname=ak-fuse:" + std::string(g_opt.image ? g_opt.image : "tmpfs") +
                       ",subtype=" + g_opt.fstype + ",default_permissions";
    if (getuid() == 0)
        opts += ",allow_other";
    if (g_opt.read_only)
        opts += ",ro";
    opts += g_opt.fuse_opts;
    std::string name = "ak-fuse";
    std::vector<char*> fargs;
    fargs.push_back(name.data());
    if (g_opt.foreground)
        fargs.push_back(const_cast<char*>("-f"));
    fargs.push_back(const_cast<char*>("-o"));
    fargs.push_back(opts.data());
    fargs.push_back(const_cast<char*>(g_opt.mountpoint));
    fargs.push_back(nullptr);
    fuse_operations ops = make_ops();
    int r = fuse_main(static_cast<int>(fargs.size() - 1), fargs.data(), &ops, nullptr);
    // Ended by a signal, libfuse reports an error; what matters is that
    // everything was written back.
    return g_clean_exit ? 0 : (r ? r : 1);
}
