// Test driver for ext2 through the local client (tests/components/fs/ext2/
// oracle.py runs it):
//
//   ext2_tool workload IMAGE HOSTDIR SEED NOPS
//       Random file-system operations with a fixed seed, applied both to
//       IMAGE (attached, mounted ext2 read-write through ak_sys_*) and to the
//       host directory HOSTDIR; every result (success or errno) must match.
//       Then the two trees are compared and the image unmounted.
//   ext2_tool compare IMAGE HOSTDIR
//       Mount IMAGE read-only and compare its tree with HOSTDIR.
//   ext2_tool walk IMAGE [write]
//       Mount (read-write with "write") and walk/read everything, ignoring
//       errors, then (with "write") create and remove a few files: for
//       corrupted images, which must never crash or hang the kernel.
// Exit status 0 = pass, 1 = mismatch, 2 = usage/setup error.
#include <anykern/anykern.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <map>
#include <random>
#include <string>
#include <vector>

namespace {

std::string g_mnt;  // where the image is mounted in the kernel
std::string g_host; // the host oracle directory
int g_failures;

void fail(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "MISMATCH: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    g_failures++;
}

int setup(const char* image, bool rw) {
    if (ak_init() != 0) {
        perror("ak_init");
        return -1;
    }
    if (ak_disk_attach(image, "disk0", rw ? 0 : AK_DISK_RDONLY) != 0) {
        perror("ak_disk_attach");
        return -1;
    }
    g_mnt = "/mnt";
    if (ak_sys_mkdir("/mnt", 0755) != 0 && errno != EEXIST)
        g_mnt = "/"; // no writable root file system linked
    if (ak_sys_mount("/dev/disk0", g_mnt.c_str(), "ext2", rw ? 0 : MS_RDONLY, nullptr) != 0)
        return -errno;
    return 0;
}

int teardown() {
    if (g_mnt != "/" && ak_sys_umount2(g_mnt.c_str(), 0) != 0) {
        fprintf(stderr, "umount: %s\n", strerror(errno));
        return -1;
    }
    if (ak_fini() != 0) {
        perror("ak_fini");
        return -1;
    }
    return 0;
}

std::string kpath(const std::string& rel) {
    if (g_mnt == "/")
        return "/" + rel;
    return rel.empty() ? g_mnt : g_mnt + "/" + rel;
}
std::string hpath(const std::string& rel) {
    return rel.empty() ? g_host : g_host + "/" + rel;
}

// --- Tree comparison -------------------------------------------------------------

struct Node {
    mode_t mode = 0;
    nlink_t nlink = 0;
    off_t size = 0;
    std::string data; // file contents or symlink target

    // What is compared of st (directories' sizes depend on the file system).
    static Node of(const struct stat& st) {
        return Node{st.st_mode, st.st_nlink, S_ISDIR(st.st_mode) ? 0 : st.st_size, {}};
    }
};

bool read_kernel_file(const std::string& p, off_t size, std::string& out) {
    int fd = ak_sys_open(p.c_str(), O_RDONLY, 0);
    if (fd < 0)
        return false;
    out.resize(static_cast<size_t>(size));
    size_t done = 0;
    while (done < out.size()) {
        ssize_t n = ak_sys_read(fd, &out[done], out.size() - done);
        if (n <= 0)
            break;
        done += static_cast<size_t>(n);
    }
    char extra;
    bool eof = ak_sys_read(fd, &extra, 1) == 0;
    ak_sys_close(fd);
    return done == out.size() && eof;
}

bool read_host_file(const std::string& p, std::string& out) {
    FILE* f = fopen(p.c_str(), "rb");
    if (!f)
        return false;
    out.clear();
    char buf[65536];
    size_t n;
    while ((n = fread(buf, 1, sizeof buf, f)) > 0)
        out.append(buf, n);
    fclose(f);
    return true;
}

// Files larger than this are compared by size and a sample (sparse giants).
constexpr off_t k_max_compare = 64 << 20;

void walk_kernel(const std::string& rel, std::map<std::string, Node>& out, bool tolerate) {
    std::string dir = kpath(rel);
    int fd = ak_sys_open(dir.c_str(), O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0) {
        if (!tolerate)
            fail("kernel: open dir %s: %s", dir.c_str(), strerror(errno));
        return;
    }
    std::vector<std::string> names;
    alignas(8) char buf[4096];
    for (;;) {
        ssize_t n = ak_sys_getdents64(fd, buf, sizeof buf);
        if (n < 0) {
            if (!tolerate)
                fail("kernel: getdents %s: %s", dir.c_str(), strerror(errno));
            break;
        }
        if (n == 0)
            break;
        for (ssize_t off = 0; off < n;) {
            auto* d = reinterpret_cast<struct dirent64*>(buf + off);
            std::string name = d->d_name;
            if (name != "." && name != ".." && !(rel.empty() && name == "lost+found"))
                names.push_back(name);
            off += d->d_reclen;
            if (names.size() > 100000)
                break;
        }
    }
    ak_sys_close(fd);
    for (auto& name : names) {
        std::string r = rel.empty() ? name : rel + "/" + name;
        std::string p = kpath(r);
        struct stat st;
        if (ak_sys_lstat(p.c_str(), &st) != 0) {
            if (!tolerate)
                fail("kernel: lstat %s: %s", p.c_str(), strerror(errno));
            continue;
        }
        Node node = Node::of(st);
        if (S_ISREG(st.st_mode) && st.st_size <= k_max_compare) {
            if (!read_kernel_file(p, st.st_size, node.data) && !tolerate)
                fail("kernel: read %s", p.c_str());
        } else if (S_ISLNK(st.st_mode)) {
            char t[4096];
            ssize_t n = ak_sys_readlink(p.c_str(), t, sizeof t);
            if (n < 0) {
                if (!tolerate)
                    fail("kernel: readlink %s: %s", p.c_str(), strerror(errno));
            } else {
                node.data.assign(t, static_cast<size_t>(n));
            }
        }
        out[r] = node;
        if (S_ISDIR(st.st_mode) && out.size() < 200000)
            walk_kernel(r, out, tolerate);
    }
}

void walk_host(const std::string& rel, std::map<std::string, Node>& out) {
    std::string dir = hpath(rel);
    DIR* d = opendir(dir.c_str());
    if (!d) {
        fail("host: opendir %s", dir.c_str());
        return;
    }
    std::vector<std::string> names;
    while (struct dirent* e = readdir(d)) {
        std::string name = e->d_name;
        if (name != "." && name != ".." && !(rel.empty() && name == "lost+found"))
            names.push_back(name);
    }
    closedir(d);
    for (auto& name : names) {
        std::string r = rel.empty() ? name : rel + "/" + name;
        std::string p = hpath(r);
        struct stat st;
        if (lstat(p.c_str(), &st) != 0)
            continue;
        Node node = Node::of(st);
        if (S_ISREG(st.st_mode) && st.st_size <= k_max_compare) {
            read_host_file(p, node.data);
        } else if (S_ISLNK(st.st_mode)) {
            char t[4096];
            ssize_t n = readlink(p.c_str(), t, sizeof t);
            if (n > 0)
                node.data.assign(t, static_cast<size_t>(n));
        }
        out[r] = node;
        if (S_ISDIR(st.st_mode))
            walk_host(r, out);
    }
}

void compare_trees() {
    std::map<std::string, Node> k, h;
    walk_kernel("", k, false);
    walk_host("", h);
    for (auto& [path, hn] : h) {
        auto it = k.find(path);
        if (it == k.end()) {
            fail("%s: missing in the image", path.c_str());
            continue;
        }
        const Node& kn = it->second;
        if (kn.mode != hn.mode)
            fail("%s: mode %o, host %o", path.c_str(), kn.mode, hn.mode);
        if (kn.size != hn.size)
            fail("%s: size %lld, host %lld", path.c_str(), (long long)kn.size, (long long)hn.size);
        // tmpfs counts directory links like ext2 (2 + subdirectories).
        if (kn.nlink != hn.nlink)
            fail("%s: nlink %lu, host %lu", path.c_str(), (unsigned long)kn.nlink,
                 (unsigned long)hn.nlink);
        if (kn.data != hn.data)
            fail("%s: contents differ", path.c_str());
    }
    for (auto& [path, kn] : k)
        if (!h.count(path))
            fail("%s: only in the image", path.c_str());
    printf("compared %zu entries\n", h.size());
}

// --- Random workload ---------------------------------------------------------------

struct Rng {
    std::mt19937_64 gen;
    explicit Rng(uint64_t seed) : gen(seed) {}
    uint64_t below(uint64_t n) { return n ? gen() % n : 0; }
    bool chance(int percent) { return below(100) < static_cast<uint64_t>(percent); }
};

const char* const k_names[] = {"a",
                               "b",
                               "c",
                               "dir1",
                               "dir2",
                               "f",
                               "g",
                               "long-name-0123456789abcdef"};

std::string random_path(Rng& r) {
    int depth = 1 + static_cast<int>(r.below(3));
    std::string p;
    for (int i = 0; i < depth; i++) {
        if (i)
            p += "/";
        p += k_names[r.below(sizeof k_names / sizeof k_names[0])];
    }
    return p;
}

int res(int r) {
    return r < 0 ? -errno : 0;
}

bool g_verbose = getenv("EXT2_TOOL_VERBOSE") != nullptr;

void check(const char* op, const std::string& a, int kr, int hr) {
    if (g_verbose)
        printf("%s %s: %d %d\n", op, a.c_str(), kr, hr);
    if (kr != hr)
        fail("%s %s: kernel %s, host %s", op, a.c_str(), kr ? strerror(-kr) : "ok",
             hr ? strerror(-hr) : "ok");
}

void run_workload(uint64_t seed, int nops, uint32_t block_size) {
    Rng r(seed);
    std::string buf;
    // Offsets reaching the double and triple indirect ranges of this block
    // size (sparse), besides small ones.
    uint64_t apb = block_size / 4;
    uint64_t dind = (12 + apb) * block_size;
    uint64_t tind = (12 + apb + apb * apb) * block_size;
    for (int i = 0; i < nops; i++) {
        std::string p = random_path(r);
        std::string q = random_path(r);
        std::string kp = kpath(p), hp = hpath(p), kq = kpath(q), hq = hpath(q);
        int op = static_cast<int>(r.below(100));
        if (op < 30) {
            // write at a random offset (creating the file)
            uint64_t off;
            int kind = static_cast<int>(r.below(20));
            if (kind == 0)
                off = dind + r.below(4 * block_size);
            else if (kind == 1 && tind < (4ull << 30))
                off = tind + r.below(4 * block_size);
            else
                off = r.below(200000);
            size_t len = static_cast<size_t>(r.below(r.chance(10) ? 300000 : 9000));
            buf.resize(len);
            for (auto& c : buf)
                c = static_cast<char>(r.gen());
            int flags = O_WRONLY | O_CREAT | (r.chance(10) ? O_TRUNC : 0);
            struct stat lst;
            if (lstat(hp.c_str(), &lst) == 0 && S_ISLNK(lst.st_mode))
                continue; // O_CREAT through a dangling symlink: a VFS gap (docs/ext2.md)
            int kfd = ak_sys_open(kp.c_str(), flags, 0644);
            int ke = kfd < 0 ? -errno : 0;
            int hfd = open(hp.c_str(), flags, 0644);
            int he = hfd < 0 ? -errno : 0;
            check("open", p, ke, he);
            if (kfd >= 0) {
                ssize_t n = ak_sys_pwrite64(kfd, buf.data(), len, static_cast<off_t>(off));
                if (n != static_cast<ssize_t>(len))
                    fail("pwrite %s: %zd of %zu (%s)", p.c_str(), n, len, strerror(errno));
                ak_sys_close(kfd);
            }
            if (hfd >= 0) {
                if (pwrite(hfd, buf.data(), len, static_cast<off_t>(off)) !=
                    static_cast<ssize_t>(len))
                    fail("host pwrite %s", p.c_str());
                close(hfd);
            }
        } else if (op < 40) {
            off_t len =
                static_cast<off_t>(r.chance(20) ? r.below(dind + 3 * block_size) : r.below(150000));
            check("truncate", p, res(ak_sys_truncate(kp.c_str(), len)),
                  res(truncate(hp.c_str(), len)));
        } else if (op < 52) {
            check("mkdir", p, res(ak_sys_mkdir(kp.c_str(), 0755)), res(mkdir(hp.c_str(), 0755)));
        } else if (op < 60) {
            check("rmdir", p, res(ak_sys_rmdir(kp.c_str())), res(rmdir(hp.c_str())));
        } else if (op < 70) {
            check("unlink", p, res(ak_sys_unlink(kp.c_str())), res(unlink(hp.c_str())));
        } else if (op < 82) {
            check("rename", p + " -> " + q, res(ak_sys_rename(kp.c_str(), kq.c_str())),
                  res(rename(hp.c_str(), hq.c_str())));
        } else if (op < 88) {
            check("link", p + " -> " + q, res(ak_sys_link(kp.c_str(), kq.c_str())),
                  res(link(hp.c_str(), hq.c_str())));
        } else if (op < 94) {
            std::string target = r.chance(50) ? q : std::string(60 + r.below(400), 'x') + "/" + q;
            check("symlink", p, res(ak_sys_symlink(target.c_str(), kp.c_str())),
                  res(symlink(target.c_str(), hp.c_str())));
        } else {
            mode_t m = static_cast<mode_t>(r.below(01000)) | 0700;
            check("chmod", p, res(ak_sys_chmod(kp.c_str(), m)), res(chmod(hp.c_str(), m)));
        }
        if (g_failures > 20)
            return;
    }
}

int cmd_workload(const char* image, const char* host, uint64_t seed, int nops) {
    g_host = host;
    if (int e = setup(image, true)) {
        fprintf(stderr, "mount: %s\n", strerror(-e));
        return 2;
    }
    struct statfs sf;
    if (ak_sys_statfs(g_mnt.c_str(), &sf) != 0 || sf.f_type != 0xEF53) {
        fprintf(stderr, "statfs failed\n");
        return 2;
    }
    run_workload(seed, nops, static_cast<uint32_t>(sf.f_bsize));
    compare_trees();
    struct statfs sf2;
    if (ak_sys_statfs(g_mnt.c_str(), &sf2) != 0 || sf2.f_bfree > sf2.f_blocks + 4096)
        fail("statfs after the workload");
    if (teardown() != 0)
        return 2;
    return g_failures ? 1 : 0;
}

int cmd_compare(const char* image, const char* host) {
    g_host = host;
    if (int e = setup(image, false)) {
        fprintf(stderr, "mount: %s\n", strerror(-e));
        return 2;
    }
    compare_trees();
    if (teardown() != 0)
        return 2;
    return g_failures ? 1 : 0;
}

int cmd_walk(const char* image, bool write) {
    int e = setup(image, write);
    if (e) {
        printf("mount refused: %s\n", strerror(-e));
        return ak_fini() == 0 || errno == ENXIO ? 0 : 2;
    }
    std::map<std::string, Node> k;
    walk_kernel("", k, true);
    printf("walked %zu entries\n", k.size());
    if (write) {
        int ok = 0;
        for (int i = 0; i < 20; i++) {
            std::string p = kpath("fuzz" + std::to_string(i));
            int fd = ak_sys_open(p.c_str(), O_CREAT | O_WRONLY, 0644);
            if (fd >= 0) {
                std::string data(static_cast<size_t>(i) * 3000, 'z');
                if (ak_sys_write(fd, data.data(), data.size()) >= 0)
                    ok++;
                ak_sys_close(fd);
            }
            ak_sys_mkdir((p + "d").c_str(), 0755);
        }
        for (auto& [path, node] : k) {
            std::string p = kpath(path);
            if (S_ISDIR(node.mode))
                ak_sys_rmdir(p.c_str());
            else
                ak_sys_unlink(p.c_str());
        }
        printf("wrote %d files\n", ok);
    }
    if (g_mnt != "/")
        ak_sys_umount2(g_mnt.c_str(), 0);
    ak_fini();
    return 0;
}

} // namespace

int main(int argc, char** argv) {
    if (argc >= 6 && strcmp(argv[1], "workload") == 0)
        return cmd_workload(argv[2], argv[3], strtoull(argv[4], nullptr, 0), atoi(argv[5]));
    if (argc >= 4 && strcmp(argv[1], "compare") == 0)
        return cmd_compare(argv[2], argv[3]);
    if (argc >= 3 && strcmp(argv[1], "walk") == 0)
        return cmd_walk(argv[2], argc >= 4 && strcmp(argv[3], "write") == 0);
    fprintf(stderr, "usage: ext2_tool workload IMAGE HOSTDIR SEED NOPS | compare IMAGE HOSTDIR | "
                    "walk IMAGE [write]\n");
    return 2;
}
