// akctl: file utilities for a kernel served by ak-server (docs/akctl.md).
// Uses only the public ak_sys_* API, so it links against libakclient (or,
// for tests, the local library).
#include <anykern/akclient.h>
#include <anykern/anykern.h>

#include "netcmds.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

int g_status = 0;

void warn(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void warn(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    g_status = akctl::vfail(fmt, ap);
    va_end(ap);
}

// "ak:" marks a kernel path where host and kernel paths mix (cp); other
// commands take kernel paths with or without it.
bool is_kernel(const std::string& p) {
    return p.compare(0, 3, "ak:") == 0;
}
std::string strip(const std::string& p) {
    std::string s = is_kernel(p) ? p.substr(3) : p;
    return s.empty() ? "/" : s;
}

std::string join(const std::string& dir, const std::string& name) {
    if (dir.empty() || dir.back() == '/')
        return dir + name;
    return dir + "/" + name;
}

std::string base_name(std::string p) {
    while (p.size() > 1 && p.back() == '/')
        p.pop_back();
    size_t s = p.rfind('/');
    return s == std::string::npos ? p : p.substr(s + 1);
}

struct Entry {
    std::string name;
    unsigned char type;
};

struct Dirent64 {
    uint64_t d_ino;
    int64_t d_off;
    uint16_t d_reclen;
    uint8_t d_type;
    char d_name[];
};

// One side of a copy: the kernel (through ak_sys_*) or the host.
struct Side {
    bool kernel;
    int open(const std::string& p, int flags, mode_t mode) const {
        return kernel ? ak_sys_open(p.c_str(), flags, mode) : ::open(p.c_str(), flags, mode);
    }
    ssize_t read(int fd, void* b, size_t n) const {
        return kernel ? ak_sys_read(fd, b, n) : ::read(fd, b, n);
    }
    ssize_t write(int fd, const void* b, size_t n) const {
        return kernel ? ak_sys_write(fd, b, n) : ::write(fd, b, n);
    }
    int close(int fd) const { return kernel ? ak_sys_close(fd) : ::close(fd); }
    int lstat(const std::string& p, struct stat* st) const {
        return kernel ? ak_sys_lstat(p.c_str(), st) : ::lstat(p.c_str(), st);
    }
    int stat(const std::string& p, struct stat* st) const {
        return kernel ? ak_sys_stat(p.c_str(), st) : ::stat(p.c_str(), st);
    }
    int mkdir(const std::string& p, mode_t m) const {
        return kernel ? ak_sys_mkdir(p.c_str(), m) : ::mkdir(p.c_str(), m);
    }
    int symlink(const std::string& t, const std::string& l) const {
        return kernel ? ak_sys_symlink(t.c_str(), l.c_str()) : ::symlink(t.c_str(), l.c_str());
    }
    ssize_t readlink(const std::string& p, char* b, size_t n) const {
        return kernel ? ak_sys_readlink(p.c_str(), b, n) : ::readlink(p.c_str(), b, n);
    }
    int list(const std::string& p, std::vector<Entry>& out) const {
        out.clear();
        if (!kernel) {
            DIR* d = opendir(p.c_str());
            if (!d)
                return -1;
            while (dirent* e = readdir(d))
                out.push_back({e->d_name, e->d_type});
            closedir(d);
            return 0;
        }
        int fd = ak_sys_open(p.c_str(), O_RDONLY | O_DIRECTORY, 0);
        if (fd < 0)
            return -1;
        alignas(8) char buf[16384];
        ssize_t n;
        while ((n = ak_sys_getdents64(fd, buf, sizeof buf)) > 0) {
            for (ssize_t off = 0; off < n;) {
                auto* d = reinterpret_cast<Dirent64*>(buf + off);
                if (d->d_reclen == 0)
                    break;
                out.push_back({d->d_name, d->d_type});
                off += d->d_reclen;
            }
        }
        int e = errno;
        ak_sys_close(fd);
        errno = e;
        return n < 0 ? -1 : 0;
    }
};

const Side k_kernel{true};
const Side k_host{false};

std::vector<Entry> sorted_children(const Side& s, const std::string& p, bool all, int* err) {
    std::vector<Entry> v;
    *err = s.list(p, v) < 0 ? errno : 0;
    std::vector<Entry> out;
    for (auto& e : v) {
        if (e.name == "." || e.name == "..") {
            if (all)
                out.push_back(e);
            continue;
        }
        if (!all && e.name[0] == '.')
            continue;
        out.push_back(e);
    }
    std::sort(out.begin(), out.end(),
              [](const Entry& a, const Entry& b) { return a.name < b.name; });
    return out;
}

// Option parsing with --help for every command.
struct Cmd {
    const char* name;
    int (*fn)(int, char**);
    const char* usage;
};

bool want_help(int argc, char** argv, const char* usage) {
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--"))
            break;
        if (!strcmp(argv[i], "--help") || !strcmp(argv[i], "-h")) {
            printf("%s", usage);
            return true;
        }
    }
    return false;
}

// --- ls ------------------------------------------------------------------------

std::string mode_string(mode_t m) {
    char s[11];
    s[0] = S_ISDIR(m)    ? 'd'
           : S_ISLNK(m)  ? 'l'
           : S_ISCHR(m)  ? 'c'
           : S_ISBLK(m)  ? 'b'
           : S_ISFIFO(m) ? 'p'
           : S_ISSOCK(m) ? 's'
                         : '-';
    const char* rwx = "rwxrwxrwx";
    for (int i = 0; i < 9; i++)
        s[1 + i] = (m & (0400 >> i)) ? rwx[i] : '-';
    if (m & S_ISUID)
        s[3] = (m & S_IXUSR) ? 's' : 'S';
    if (m & S_ISGID)
        s[6] = (m & S_IXGRP) ? 's' : 'S';
    if (m & S_ISVTX)
        s[9] = (m & S_IXOTH) ? 't' : 'T';
    s[10] = 0;
    return s;
}

std::string user_name(uid_t u) {
    if (passwd* pw = getpwuid(u))
        return pw->pw_name;
    return std::to_string(u);
}

std::string group_name(gid_t g) {
    if (group* gr = getgrgid(g))
        return gr->gr_name;
    return std::to_string(g);
}

void print_long(const std::string& path, const std::string& shown, const struct stat& st) {
    char when[32];
    time_t t = st.st_mtim.tv_sec;
    struct tm tm;
    localtime_r(&t, &tm);
    strftime(when, sizeof when, "%Y-%m-%d %H:%M", &tm);
    printf("%s %3lu %-8s %-8s %8lld %s %s", mode_string(st.st_mode).c_str(),
           (unsigned long)st.st_nlink, user_name(st.st_uid).c_str(), group_name(st.st_gid).c_str(),
           (long long)st.st_size, when, shown.c_str());
    if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = ak_sys_readlink(path.c_str(), target, sizeof target - 1);
        if (n >= 0) {
            target[n] = 0;
            printf(" -> %s", target);
        }
    }
    putchar('\n');
}

int cmd_ls(int argc, char** argv) {
    bool lng = false, all = false;
    int c;
    while ((c = getopt(argc, argv, "la")) != -1) {
        if (c == 'l')
            lng = true;
        else if (c == 'a')
            all = true;
        else
            return 2;
    }
    std::vector<std::string> paths(argv + optind, argv + argc);
    if (paths.empty())
        paths.push_back("/");
    bool many = paths.size() > 1;
    for (size_t i = 0; i < paths.size(); i++) {
        std::string p = strip(paths[i]);
        struct stat st;
        if (ak_sys_lstat(p.c_str(), &st) < 0) {
            warn("cannot access '%s': %s", paths[i].c_str(), strerror(errno));
            continue;
        }
        if (!S_ISDIR(st.st_mode)) {
            if (lng)
                print_long(p, paths[i], st);
            else
                printf("%s\n", paths[i].c_str());
            continue;
        }
        if (many)
            printf("%s%s:\n", i ? "\n" : "", paths[i].c_str());
        int err;
        auto kids = sorted_children(k_kernel, p, all, &err);
        if (err) {
            warn("cannot open directory '%s': %s", paths[i].c_str(), strerror(err));
            continue;
        }
        for (auto& e : kids) {
            if (!lng) {
                printf("%s\n", e.name.c_str());
                continue;
            }
            std::string child = join(p, e.name);
            struct stat cst;
            if (ak_sys_lstat(child.c_str(), &cst) < 0) {
                warn("cannot access '%s': %s", child.c_str(), strerror(errno));
                continue;
            }
            print_long(child, e.name, cst);
        }
    }
    return g_status;
}

// --- cat -----------------------------------------------------------------------

int cmd_cat(int argc, char** argv) {
    static char buf[1 << 16];
    for (int i = 1; i < argc; i++) {
        std::string p = strip(argv[i]);
        int fd = ak_sys_open(p.c_str(), O_RDONLY, 0);
        if (fd < 0) {
            warn("cannot open '%s': %s", argv[i], strerror(errno));
            continue;
        }
        ssize_t n;
        while ((n = ak_sys_read(fd, buf, sizeof buf)) > 0) {
            if (fwrite(buf, 1, static_cast<size_t>(n), stdout) != static_cast<size_t>(n)) {
                warn("write error: %s", strerror(errno));
                break;
            }
        }
        if (n < 0)
            warn("cannot read '%s': %s", argv[i], strerror(errno));
        ak_sys_close(fd);
    }
    return g_status;
}

// --- cp ------------------------------------------------------------------------

bool copy_file(const Side& ss, const std::string& src, const Side& ds, const std::string& dst,
               mode_t mode, const std::string& shown_src) {
    int in = ss.open(src, O_RDONLY, 0);
    if (in < 0) {
        warn("cannot open '%s' for reading: %s", shown_src.c_str(), strerror(errno));
        return false;
    }
    int out = ds.open(dst, O_WRONLY | O_CREAT | O_TRUNC, mode & 07777);
    if (out < 0) {
        warn("cannot create regular file '%s': %s", dst.c_str(), strerror(errno));
        ss.close(in);
        return false;
    }
    static char buf[1 << 20];
    bool ok = true;
    ssize_t n;
    while ((n = ss.read(in, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            ssize_t w = ds.write(out, buf + off, static_cast<size_t>(n - off));
            if (w <= 0) {
                warn("error writing '%s': %s", dst.c_str(), strerror(w < 0 ? errno : EIO));
                ok = false;
                break;
            }
            off += w;
        }
        if (!ok)
            break;
    }
    if (n < 0) {
        warn("error reading '%s': %s", shown_src.c_str(), strerror(errno));
        ok = false;
    }
    ss.close(in);
    if (ds.close(out) < 0 && ok) {
        warn("error closing '%s': %s", dst.c_str(), strerror(errno));
        ok = false;
    }
    return ok;
}

bool copy_tree(const Side& ss, const std::string& src, const Side& ds, const std::string& dst,
               bool recursive, const std::string& shown) {
    struct stat st;
    if (ss.lstat(src, &st) < 0) {
        warn("cannot stat '%s': %s", shown.c_str(), strerror(errno));
        return false;
    }
    if (S_ISDIR(st.st_mode)) {
        if (!recursive) {
            warn("-r not specified; omitting directory '%s'", shown.c_str());
            return false;
        }
        if (ds.mkdir(dst, st.st_mode & 07777) < 0 && errno != EEXIST) {
            warn("cannot create directory '%s': %s", dst.c_str(), strerror(errno));
            return false;
        }
        int err;
        auto kids = sorted_children(ss, src, true, &err);
        if (err) {
            warn("cannot open directory '%s': %s", shown.c_str(), strerror(err));
            return false;
        }
        bool ok = true;
        for (auto& e : kids) {
            if (e.name == "." || e.name == "..")
                continue;
            ok &=
                copy_tree(ss, join(src, e.name), ds, join(dst, e.name), true, join(shown, e.name));
        }
        return ok;
    }
    if (S_ISLNK(st.st_mode)) {
        char target[4096];
        ssize_t n = ss.readlink(src, target, sizeof target - 1);
        if (n < 0) {
            warn("cannot read symbolic link '%s': %s", shown.c_str(), strerror(errno));
            return false;
        }
        target[n] = 0;
        if (ds.symlink(target, dst) < 0) {
            warn("cannot create symbolic link '%s': %s", dst.c_str(), strerror(errno));
            return false;
        }
        return true;
    }
    if (!S_ISREG(st.st_mode)) {
        warn("cannot copy special file '%s'", shown.c_str());
        return false;
    }
    return copy_file(ss, src, ds, dst, st.st_mode, shown);
}

int cmd_cp(int argc, char** argv) {
    bool recursive = false;
    int c;
    while ((c = getopt(argc, argv, "rR")) != -1) {
        if (c == 'r' || c == 'R')
            recursive = true;
        else
            return 2;
    }
    int n = argc - optind;
    if (n < 2) {
        warn("cp: missing destination (see akctl cp --help)");
        return 1;
    }
    std::string dst_arg = argv[argc - 1];
    const Side& ds = is_kernel(dst_arg) ? k_kernel : k_host;
    std::string dst = is_kernel(dst_arg) ? strip(dst_arg) : dst_arg;
    struct stat dst_st;
    bool dst_dir = ds.stat(dst, &dst_st) == 0 && S_ISDIR(dst_st.st_mode);
    if (n > 2 && !dst_dir) {
        warn("target '%s' is not a directory", dst_arg.c_str());
        return 1;
    }
    for (int i = optind; i < argc - 1; i++) {
        std::string src_arg = argv[i];
        const Side& ss = is_kernel(src_arg) ? k_kernel : k_host;
        std::string src = is_kernel(src_arg) ? strip(src_arg) : src_arg;
        std::string target = dst_dir ? join(dst, base_name(src)) : dst;
        copy_tree(ss, src, ds, target, recursive, src_arg);
    }
    return g_status;
}

// --- mkdir, rm, mv, ln, touch, chmod, chown -------------------------------------

int mkdir_parents(const std::string& p, mode_t mode) {
    for (size_t i = 1; i <= p.size(); i++) {
        if (i == p.size() || p[i] == '/') {
            std::string prefix = p.substr(0, i);
            if (ak_sys_mkdir(prefix.c_str(), mode) < 0 && errno != EEXIST)
                return -1;
        }
    }
    struct stat st;
    if (ak_sys_stat(p.c_str(), &st) < 0)
        return -1;
    if (!S_ISDIR(st.st_mode)) {
        errno = ENOTDIR;
        return -1;
    }
    return 0;
}

int cmd_mkdir(int argc, char** argv) {
    bool parents = false;
    mode_t mode = 0777;
    int c;
    while ((c = getopt(argc, argv, "pm:")) != -1) {
        if (c == 'p') {
            parents = true;
        } else if (c == 'm') {
            char* end;
            mode = static_cast<mode_t>(strtoul(optarg, &end, 8));
            if (*end || end == optarg) {
                warn("invalid mode '%s'", optarg);
                return 1;
            }
        } else {
            return 2;
        }
    }
    if (optind == argc) {
        warn("mkdir: missing operand");
        return 1;
    }
    for (int i = optind; i < argc; i++) {
        std::string p = strip(argv[i]);
        int r = parents ? mkdir_parents(p, mode) : ak_sys_mkdir(p.c_str(), mode);
        if (r < 0)
            warn("cannot create directory '%s': %s", argv[i], strerror(errno));
    }
    return g_status;
}

bool remove_tree(const std::string& p, bool recursive, bool force) {
    struct stat st;
    if (ak_sys_lstat(p.c_str(), &st) < 0) {
        if (force && errno == ENOENT)
            return true;
        warn("cannot remove '%s': %s", p.c_str(), strerror(errno));
        return false;
    }
    if (S_ISDIR(st.st_mode)) {
        if (!recursive) {
            warn("cannot remove '%s': Is a directory", p.c_str());
            return false;
        }
        int err;
        auto kids = sorted_children(k_kernel, p, true, &err);
        if (err) {
            warn("cannot open directory '%s': %s", p.c_str(), strerror(err));
            return false;
        }
        bool ok = true;
        for (auto& e : kids)
            if (e.name != "." && e.name != "..")
                ok &= remove_tree(join(p, e.name), true, force);
        if (ak_sys_rmdir(p.c_str()) < 0) {
            warn("cannot remove '%s': %s", p.c_str(), strerror(errno));
            return false;
        }
        return ok;
    }
    if (ak_sys_unlink(p.c_str()) < 0) {
        warn("cannot remove '%s': %s", p.c_str(), strerror(errno));
        return false;
    }
    return true;
}

int cmd_rm(int argc, char** argv) {
    bool recursive = false, force = false;
    int c;
    while ((c = getopt(argc, argv, "rRf")) != -1) {
        if (c == 'r' || c == 'R')
            recursive = true;
        else if (c == 'f')
            force = true;
        else
            return 2;
    }
    if (optind == argc && !force) {
        warn("rm: missing operand");
        return 1;
    }
    for (int i = optind; i < argc; i++)
        remove_tree(strip(argv[i]), recursive, force);
    return g_status;
}

int cmd_mv(int argc, char** argv) {
    if (argc != 3) {
        warn("mv: need SOURCE and DEST (see akctl mv --help)");
        return 1;
    }
    std::string src = strip(argv[1]), dst = strip(argv[2]);
    struct stat st;
    if (ak_sys_stat(dst.c_str(), &st) == 0 && S_ISDIR(st.st_mode))
        dst = join(dst, base_name(src));
    if (ak_sys_rename(src.c_str(), dst.c_str()) < 0)
        warn("cannot move '%s' to '%s': %s", argv[1], argv[2], strerror(errno));
    return g_status;
}

int cmd_ln(int argc, char** argv) {
    bool sym = false;
    int c;
    while ((c = getopt(argc, argv, "s")) != -1) {
        if (c == 's')
            sym = true;
        else
            return 2;
    }
    if (argc - optind != 2) {
        warn("ln: need TARGET and LINK_NAME (see akctl ln --help)");
        return 1;
    }
    std::string target = sym ? std::string(argv[optind]) : strip(argv[optind]);
    if (sym && is_kernel(target))
        target = strip(target);
    std::string link = strip(argv[optind + 1]);
    int r = sym ? ak_sys_symlink(target.c_str(), link.c_str())
                : ak_sys_link(target.c_str(), link.c_str());
    if (r < 0)
        warn("failed to create %slink '%s': %s", sym ? "symbolic " : "hard ", argv[optind + 1],
             strerror(errno));
    return g_status;
}

int cmd_touch(int argc, char** argv) {
    if (argc < 2) {
        warn("touch: missing file operand");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        std::string p = strip(argv[i]);
        int fd = ak_sys_open(p.c_str(), O_WRONLY | O_CREAT | O_NONBLOCK, 0666);
        if (fd >= 0) {
            if (ak_sys_utimensat(fd, nullptr, nullptr, 0) < 0)
                warn("setting times of '%s': %s", argv[i], strerror(errno));
            ak_sys_close(fd);
        } else if (errno == EISDIR) {
            if (ak_sys_utimensat(AT_FDCWD, p.c_str(), nullptr, 0) < 0)
                warn("setting times of '%s': %s", argv[i], strerror(errno));
        } else {
            warn("cannot touch '%s': %s", argv[i], strerror(errno));
        }
    }
    return g_status;
}

int cmd_chmod(int argc, char** argv) {
    if (argc < 3) {
        warn("chmod: need MODE and FILE (see akctl chmod --help)");
        return 1;
    }
    char* end;
    unsigned long mode = strtoul(argv[1], &end, 8);
    if (*end || end == argv[1] || mode > 07777) {
        warn("invalid mode: '%s' (octal modes only)", argv[1]);
        return 1;
    }
    for (int i = 2; i < argc; i++)
        if (ak_sys_chmod(strip(argv[i]).c_str(), static_cast<mode_t>(mode)) < 0)
            warn("changing permissions of '%s': %s", argv[i], strerror(errno));
    return g_status;
}

bool parse_id(const char* s, bool user, unsigned* out) {
    if (!*s)
        return false;
    char* end;
    unsigned long v = strtoul(s, &end, 10);
    if (!*end) {
        *out = static_cast<unsigned>(v);
        return true;
    }
    if (user) {
        if (passwd* pw = getpwnam(s)) {
            *out = pw->pw_uid;
            return true;
        }
    } else if (group* gr = getgrnam(s)) {
        *out = gr->gr_gid;
        return true;
    }
    return false;
}

int cmd_chown(int argc, char** argv) {
    if (argc < 3) {
        warn("chown: need OWNER[:GROUP] and FILE (see akctl chown --help)");
        return 1;
    }
    std::string spec = argv[1];
    size_t colon = spec.find(':');
    std::string u = spec.substr(0, colon);
    std::string g = colon == std::string::npos ? "" : spec.substr(colon + 1);
    unsigned uid = ~0u, gid = ~0u;
    if (!u.empty() && !parse_id(u.c_str(), true, &uid)) {
        warn("invalid user: '%s'", u.c_str());
        return 1;
    }
    if (!g.empty() && !parse_id(g.c_str(), false, &gid)) {
        warn("invalid group: '%s'", g.c_str());
        return 1;
    }
    for (int i = 2; i < argc; i++)
        if (ak_sys_lchown(strip(argv[i]).c_str(), uid, gid) < 0)
            warn("changing ownership of '%s': %s", argv[i], strerror(errno));
    return g_status;
}

// --- stat, df, mount, umount, tree, status ---------------------------------------

const char* type_name(mode_t m) {
    if (S_ISREG(m))
        return "regular file";
    if (S_ISDIR(m))
        return "directory";
    if (S_ISLNK(m))
        return "symbolic link";
    if (S_ISFIFO(m))
        return "fifo";
    if (S_ISCHR(m))
        return "character special file";
    if (S_ISBLK(m))
        return "block special file";
    if (S_ISSOCK(m))
        return "socket";
    return "unknown";
}

int cmd_stat(int argc, char** argv) {
    if (argc < 2) {
        warn("stat: missing operand");
        return 1;
    }
    for (int i = 1; i < argc; i++) {
        std::string p = strip(argv[i]);
        struct stat st;
        if (ak_sys_lstat(p.c_str(), &st) < 0) {
            warn("cannot stat '%s': %s", argv[i], strerror(errno));
            continue;
        }
        printf("  File: %s\n", argv[i]);
        printf("  Size: %-12lld Blocks: %-10lld IO Block: %-6ld %s\n", (long long)st.st_size,
               (long long)st.st_blocks, (long)st.st_blksize, type_name(st.st_mode));
        printf("Device: %llxh  Inode: %-11llu Links: %lu\n", (unsigned long long)st.st_dev,
               (unsigned long long)st.st_ino, (unsigned long)st.st_nlink);
        printf("Access: (%04o/%s)  Uid: (%5u/%8s)   Gid: (%5u/%8s)\n", st.st_mode & 07777,
               mode_string(st.st_mode).c_str(), st.st_uid, user_name(st.st_uid).c_str(), st.st_gid,
               group_name(st.st_gid).c_str());
        const struct timespec* ts[3] = {&st.st_atim, &st.st_mtim, &st.st_ctim};
        const char* names[3] = {"Access", "Modify", "Change"};
        for (int k = 0; k < 3; k++) {
            char when[64];
            struct tm tm;
            time_t t = ts[k]->tv_sec;
            localtime_r(&t, &tm);
            strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
            printf("%s: %s.%09ld\n", names[k], when, ts[k]->tv_nsec);
        }
    }
    return g_status;
}

int cmd_df(int argc, char** argv) {
    std::vector<std::string> paths(argv + 1, argv + argc);
    if (paths.empty())
        paths.push_back("/");
    printf("%-20s %12s %12s %12s %5s %10s\n", "Path", "1K-blocks", "Used", "Available", "Use%",
           "Inodes");
    for (auto& a : paths) {
        struct statfs sf;
        if (ak_sys_statfs(strip(a).c_str(), &sf) < 0) {
            warn("cannot read file system information for '%s': %s", a.c_str(), strerror(errno));
            continue;
        }
        unsigned long long k = sf.f_bsize / 1024 ? sf.f_bsize / 1024 : 1;
        unsigned long long total = sf.f_blocks * k, avail = sf.f_bavail * k,
                           used = (sf.f_blocks - sf.f_bfree) * k;
        unsigned pct = total ? static_cast<unsigned>((used * 100 + total - 1) / total) : 0;
        printf("%-20s %12llu %12llu %12llu %4u%% %10llu\n", a.c_str(), total, used, avail, pct,
               (unsigned long long)sf.f_files);
    }
    return g_status;
}

int cmd_mount(int argc, char** argv) {
    std::string type, opts;
    int c;
    while ((c = getopt(argc, argv, "t:o:")) != -1) {
        if (c == 't')
            type = optarg;
        else if (c == 'o')
            opts = optarg;
        else
            return 2;
    }
    if (argc - optind == 0) {
        warn("listing mounts is not supported yet: the kernel has no mount-table interface "
             "(use 'akctl df PATH' to check a mount point)");
        return 1;
    }
    if (argc - optind != 2) {
        warn("mount: need SOURCE and TARGET (see akctl mount --help)");
        return 1;
    }
    unsigned long flags = 0;
    std::string data;
    size_t start = 0;
    while (start <= opts.size() && !opts.empty()) {
        size_t comma = opts.find(',', start);
        std::string o = opts.substr(start, comma - start);
        if (o == "ro")
            flags |= 1; // MS_RDONLY
        else if (o == "rw")
            ;
        else if (o == "remount")
            flags |= 32; // MS_REMOUNT
        else if (!o.empty())
            data += (data.empty() ? "" : ",") + o;
        if (comma == std::string::npos)
            break;
        start = comma + 1;
    }
    if (type.empty())
        type = "tmpfs";
    std::string target = strip(argv[optind + 1]);
    if (ak_sys_mount(argv[optind], target.c_str(), type.c_str(), flags,
                     data.empty() ? nullptr : data.c_str()) < 0)
        warn("cannot mount %s on '%s': %s", argv[optind], argv[optind + 1], strerror(errno));
    return g_status;
}

int cmd_umount(int argc, char** argv) {
    if (argc < 2) {
        warn("umount: missing target");
        return 1;
    }
    for (int i = 1; i < argc; i++)
        if (ak_sys_umount2(strip(argv[i]).c_str(), 0) < 0)
            warn("cannot unmount '%s': %s", argv[i], strerror(errno));
    return g_status;
}

void tree_walk(const std::string& p, const std::string& prefix, int& ndirs, int& nfiles) {
    int err;
    auto kids = sorted_children(k_kernel, p, false, &err);
    if (err) {
        warn("cannot open directory '%s': %s", p.c_str(), strerror(err));
        return;
    }
    for (size_t i = 0; i < kids.size(); i++) {
        bool last = i + 1 == kids.size();
        std::string child = join(p, kids[i].name);
        struct stat st;
        bool dir = ak_sys_lstat(child.c_str(), &st) == 0 && S_ISDIR(st.st_mode);
        printf("%s%s %s", prefix.c_str(), last ? "`--" : "|--", kids[i].name.c_str());
        if (!dir && S_ISLNK(st.st_mode)) {
            char target[4096];
            ssize_t n = ak_sys_readlink(child.c_str(), target, sizeof target - 1);
            if (n >= 0) {
                target[n] = 0;
                printf(" -> %s", target);
            }
        }
        putchar('\n');
        if (dir) {
            ndirs++;
            tree_walk(child, prefix + (last ? "    " : "|   "), ndirs, nfiles);
        } else {
            nfiles++;
        }
    }
}

int cmd_tree(int argc, char** argv) {
    std::string p = argc > 1 ? strip(argv[1]) : "/";
    struct stat st;
    if (ak_sys_stat(p.c_str(), &st) < 0) {
        warn("cannot access '%s': %s", argc > 1 ? argv[1] : "/", strerror(errno));
        return 1;
    }
    printf("%s\n", argc > 1 ? argv[1] : "/");
    int ndirs = 0, nfiles = 0;
    tree_walk(p, "", ndirs, nfiles);
    printf("\n%d director%s, %d file%s\n", ndirs, ndirs == 1 ? "y" : "ies", nfiles,
           nfiles == 1 ? "" : "s");
    return g_status;
}

int cmd_status(int, char**) {
    struct akc_stats s;
    if (akc_stats(&s) < 0) {
        warn("cannot get server status: %s", strerror(errno));
        return 1;
    }
    printf("processes: %u\nsessions: %u\nconnections: %u\npending_tokens: %u\n"
           "mem_in_use: %llu\nmem_peak: %llu\nmem_limit: %llu\n",
           s.procs, s.sessions, s.connections, s.pending_tokens, (unsigned long long)s.mem_in_use,
           (unsigned long long)s.mem_peak, (unsigned long long)s.mem_limit);
    return 0;
}

const Cmd k_cmds[] = {
    {"ls", cmd_ls,
     "Usage: akctl ls [-l] [-a] [PATH...]\nList directory contents (default /).\n"
     "  -l  long listing   -a  include entries starting with .\n"},
    {"cat", cmd_cat, "Usage: akctl cat PATH...\nWrite kernel files to standard output.\n"},
    {"cp", cmd_cp,
     "Usage: akctl cp [-r] SOURCE... DEST\nCopy files between the host and the kernel.\n"
     "Kernel paths carry the prefix ak: (e.g. ak:/etc/motd); others are host paths.\n"
     "  -r  copy directories recursively (symbolic links are copied as links)\n"},
    {"mkdir", cmd_mkdir,
     "Usage: akctl mkdir [-p] [-m MODE] DIR...\nCreate directories.\n"
     "  -p  make parents as needed, no error if existing   -m  octal mode\n"},
    {"rm", cmd_rm,
     "Usage: akctl rm [-r] [-f] PATH...\nRemove files or directories.\n"
     "  -r  recursive   -f  ignore missing files\n"},
    {"mv", cmd_mv,
     "Usage: akctl mv SOURCE DEST\nRename SOURCE to DEST (or into directory DEST).\n"},
    {"ln", cmd_ln,
     "Usage: akctl ln [-s] TARGET LINK_NAME\nMake a hard link (or with -s a symbolic link).\n"},
    {"stat", cmd_stat, "Usage: akctl stat PATH...\nShow file status (not following symlinks).\n"},
    {"df", cmd_df, "Usage: akctl df [PATH...]\nShow file system usage (default /).\n"},
    {"mount", cmd_mount,
     "Usage: akctl mount [-t TYPE] [-o OPTIONS] SOURCE TARGET\nMount a file system in the "
     "kernel (TYPE defaults to tmpfs; OPTIONS: ro, rw, remount, others passed as data).\n"
     "Without arguments: listing is not supported yet (no mount-table interface).\n"},
    {"umount", cmd_umount, "Usage: akctl umount TARGET...\nUnmount file systems.\n"},
    {"touch", cmd_touch,
     "Usage: akctl touch PATH...\nCreate empty files or set their times to now.\n"},
    {"chmod", cmd_chmod, "Usage: akctl chmod OCTAL-MODE PATH...\nChange file mode bits.\n"},
    {"chown", cmd_chown,
     "Usage: akctl chown OWNER[:GROUP] PATH...\nChange owner and group (names are looked "
     "up on the host; numbers are taken as they are). Does not follow symlinks.\n"},
    {"tree", cmd_tree, "Usage: akctl tree [PATH]\nShow a directory tree (default /).\n"},
    {"status", cmd_status,
     "Usage: akctl status\nShow server statistics: kernel processes, connections, memory.\n"},
    {"ifconfig", akctl::cmd_ifconfig,
     "Usage: akctl ifconfig [IF [ADDR/PLEN] [up|down] [mtu N]]\n"
     "Without arguments list every interface (index, name, flags, MTU, link address,\n"
     "IPv4 address/prefix, packet counters); with IF only that one; with settings,\n"
     "apply them in order, e.g. 'akctl ifconfig eth0 10.0.0.2/24 up'.\n"},
    {"route", akctl::cmd_route,
     "Usage: akctl route\n"
     "       akctl route add|del DEST/PLEN|default [gw GW] [dev IF]\n"
     "List the IPv4 routing table, or add or delete a route, e.g.\n"
     "'akctl route add default gw 10.0.0.1'.\n"},
    {"ping", akctl::cmd_ping,
     "Usage: akctl ping [-c COUNT] [-i SECONDS] [-W TIMEOUT] ADDR\n"
     "Send ICMP echo requests from the kernel's stack (a ping socket) to the numeric\n"
     "IPv4 ADDR (default 4, one a second, 2 s timeout each); exit 1 if none answered.\n"},
    {"arp", akctl::cmd_arp, "Usage: akctl arp\nList the kernel's ARP cache.\n"},
    {"netstat", akctl::cmd_netstat,
     "Usage: akctl netstat\nList the kernel's TCP sockets with their states and queues\n"
     "(UDP and AF_UNIX sockets are not listed yet).\n"},
};

void usage(FILE* f) {
    fprintf(f, "Usage: akctl [-u URL] COMMAND [ARGS...]\n"
               "File and network utilities for an anykern kernel served by ak-server.\n"
               "The server is URL (unix:///path.sock or tcp://host:port) or $AK_SERVER.\n"
               "Commands:");
    for (const Cmd& c : k_cmds)
        fprintf(f, " %s", c.name);
    fprintf(f, "\n'akctl COMMAND --help' describes each command.\n");
}

} // namespace

int main(int argc, char** argv) {
    const char* url = nullptr;
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if ((!strcmp(argv[i], "-u") || !strcmp(argv[i], "--url")) && i + 1 < argc) {
            url = argv[++i];
        } else if (!strncmp(argv[i], "--url=", 6)) {
            url = argv[i] + 6;
        } else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
            usage(stdout);
            return 0;
        } else {
            fprintf(stderr, "akctl: unknown option '%s'\n", argv[i]);
            usage(stderr);
            return 2;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return 2;
    }
    const Cmd* cmd = nullptr;
    for (const Cmd& c : k_cmds)
        if (!strcmp(c.name, argv[i]))
            cmd = &c;
    if (!cmd) {
        fprintf(stderr, "akctl: unknown command '%s'\n", argv[i]);
        usage(stderr);
        return 2;
    }
    int cargc = argc - i;
    char** cargv = argv + i;
    if (want_help(cargc, cargv, cmd->usage))
        return 0;
    if ((url ? akc_connect(url) : ak_init()) < 0)
        return 1; // libakclient said why on stderr
    optind = 1;
    int r = cmd->fn(cargc, cargv);
    if (r == 2)
        fprintf(stderr, "%s", cmd->usage);
    fflush(stdout);
    ak_fini();
    return r;
}
