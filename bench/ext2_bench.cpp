// ext2 through the local client, for bench/ext2_bench.py (which runs the
// same work through fuse2fs and prints both with ratios).  Each command is
// one process: start the kernel, attach and mount IMAGE, work, unmount
// (writing everything back), shut down.
//
//   ext2_bench copy SRC IMAGE      copy the host tree SRC into the image
//   ext2_bench read IMAGE          read every file of the image
//   ext2_bench seqwrite IMAGE MB   write an MB MiB file with 1 MiB writes
//   ext2_bench seqread IMAGE       read it back with 1 MiB reads
#include <anykern/anykern.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>
#include <vector>

namespace {

[[noreturn]] void die(const char* what, const std::string& arg = "") {
    fprintf(stderr, "ext2_bench: %s %s: %s\n", what, arg.c_str(), strerror(errno));
    exit(1);
}

void start(const char* image, bool rw) {
    if (ak_init() != 0)
        die("ak_init");
    if (ak_disk_attach(image, "bench", rw ? 0 : AK_DISK_RDONLY) != 0)
        die("attach", image);
    ak_sys_mkdir("/mnt", 0755);
    if (ak_sys_mount("/dev/bench", "/mnt", "ext2", rw ? 0 : MS_RDONLY, nullptr) != 0)
        die("mount", image);
}

void stop() {
    if (ak_sys_umount2("/mnt", 0) != 0)
        die("umount");
    if (ak_fini() != 0)
        die("ak_fini");
}

std::vector<char> g_buf(1 << 20);

void copy_tree(const std::string& src, const std::string& dst) {
    DIR* d = opendir(src.c_str());
    if (!d)
        die("opendir", src);
    while (struct dirent* e = readdir(d)) {
        if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
            continue;
        std::string s = src + "/" + e->d_name, t = dst + "/" + e->d_name;
        struct stat st;
        if (lstat(s.c_str(), &st) != 0)
            die("lstat", s);
        if (S_ISDIR(st.st_mode)) {
            if (ak_sys_mkdir(t.c_str(), st.st_mode & 07777) != 0)
                die("mkdir", t);
            copy_tree(s, t);
        } else if (S_ISLNK(st.st_mode)) {
            char target[4096];
            ssize_t n = readlink(s.c_str(), target, sizeof target - 1);
            if (n < 0)
                die("readlink", s);
            target[n] = 0;
            if (ak_sys_symlink(target, t.c_str()) != 0)
                die("symlink", t);
        } else if (S_ISREG(st.st_mode)) {
            int in = open(s.c_str(), O_RDONLY);
            if (in < 0)
                die("open", s);
            int out = ak_sys_open(t.c_str(), O_CREAT | O_WRONLY | O_TRUNC, st.st_mode & 07777);
            if (out < 0)
                die("create", t);
            ssize_t n;
            while ((n = read(in, g_buf.data(), g_buf.size())) > 0)
                if (ak_sys_write(out, g_buf.data(), static_cast<size_t>(n)) != n)
                    die("write", t);
            close(in);
            ak_sys_close(out);
        }
    }
    closedir(d);
}

size_t read_tree(const std::string& dir) {
    size_t bytes = 0;
    int fd = ak_sys_open(dir.c_str(), O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        die("opendir", dir);
    std::vector<std::string> names;
    alignas(8) char dents[32768];
    ssize_t n;
    while ((n = ak_sys_getdents64(fd, dents, sizeof dents)) > 0) {
        for (ssize_t off = 0; off < n;) {
            auto* e = reinterpret_cast<struct dirent64*>(dents + off);
            off += e->d_reclen;
            if (strcmp(e->d_name, ".") && strcmp(e->d_name, ".."))
                names.push_back(e->d_name);
        }
    }
    ak_sys_close(fd);
    for (auto& name : names) {
        std::string p = dir + "/" + name;
        struct stat st;
        if (ak_sys_lstat(p.c_str(), &st) != 0)
            die("lstat", p);
        if (S_ISDIR(st.st_mode)) {
            bytes += read_tree(p);
        } else if (S_ISREG(st.st_mode)) {
            int f = ak_sys_open(p.c_str(), O_RDONLY, 0);
            if (f < 0)
                die("open", p);
            while ((n = ak_sys_read(f, g_buf.data(), g_buf.size())) > 0)
                bytes += static_cast<size_t>(n);
            ak_sys_close(f);
        }
    }
    return bytes;
}

} // namespace

int main(int argc, char** argv) {
    if (argc == 4 && !strcmp(argv[1], "copy")) {
        start(argv[3], true);
        if (ak_sys_mkdir("/mnt/tree", 0755) != 0)
            die("mkdir");
        copy_tree(argv[2], "/mnt/tree");
        stop();
    } else if (argc == 3 && !strcmp(argv[1], "read")) {
        start(argv[2], false);
        printf("%zu bytes\n", read_tree("/mnt/tree"));
        stop();
    } else if (argc == 4 && !strcmp(argv[1], "seqwrite")) {
        start(argv[2], true);
        int fd = ak_sys_open("/mnt/big", O_CREAT | O_WRONLY | O_TRUNC, 0644);
        if (fd < 0)
            die("create");
        memset(g_buf.data(), 'a', g_buf.size());
        for (int i = 0; i < atoi(argv[3]); i++)
            if (ak_sys_write(fd, g_buf.data(), g_buf.size()) != static_cast<ssize_t>(g_buf.size()))
                die("write");
        if (ak_sys_fsync(fd) != 0)
            die("fsync");
        ak_sys_close(fd);
        stop();
    } else if (argc == 3 && !strcmp(argv[1], "seqread")) {
        start(argv[2], false);
        int fd = ak_sys_open("/mnt/big", O_RDONLY, 0);
        if (fd < 0)
            die("open");
        size_t bytes = 0;
        ssize_t n;
        while ((n = ak_sys_read(fd, g_buf.data(), g_buf.size())) > 0)
            bytes += static_cast<size_t>(n);
        ak_sys_close(fd);
        printf("%zu bytes\n", bytes);
        stop();
    } else {
        fprintf(stderr, "usage: ext2_bench copy SRC IMAGE | read IMAGE | seqwrite IMAGE MB | "
                        "seqread IMAGE\n");
        return 2;
    }
    return 0;
}
