// libFuzzer target: the input is a disk image.  Attach it (an in-memory
// file), mount it as ext2 (read-write, else read-only), walk and read
// everything, make a few changes, unmount.  Any crash, sanitizer report,
// assertion or hang is a bug: bad images must only produce errors.
#include <anykern/anykern.h>

#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <unistd.h>

namespace {

int g_memfd = -1;
unsigned g_count;
int g_entries;

void walk(const char* dir, int depth) {
    if (depth > 12 || g_entries > 2000)
        return;
    int fd = ak_sys_open(dir, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        return;
    alignas(8) char buf[2048];
    for (int rounds = 0; rounds < 64; rounds++) {
        ssize_t n = ak_sys_getdents64(fd, buf, sizeof buf);
        if (n <= 0)
            break;
        for (ssize_t off = 0; off < n;) {
            auto* d = reinterpret_cast<struct dirent64*>(buf + off);
            off += d->d_reclen;
            if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, "..") || ++g_entries > 2000)
                continue;
            char path[1024];
            snprintf(path, sizeof path, "%s/%s", dir, d->d_name);
            struct stat st;
            if (ak_sys_lstat(path, &st) != 0)
                continue;
            if (S_ISDIR(st.st_mode)) {
                walk(path, depth + 1);
            } else if (S_ISLNK(st.st_mode)) {
                char t[4096];
                ak_sys_readlink(path, t, sizeof t);
            } else if (S_ISREG(st.st_mode)) {
                int f = ak_sys_open(path, O_RDONLY, 0);
                if (f >= 0) {
                    char data[16384];
                    for (int i = 0; i < 8 && ak_sys_read(f, data, sizeof data) > 0; i++) {}
                    ak_sys_pread64(f, data, sizeof data, st.st_size > 4096 ? st.st_size - 4096 : 0);
                    ak_sys_close(f);
                }
            }
        }
    }
    ak_sys_close(fd);
}

bool setup() {
    ak_setparam("verbose", "0");
    ak_setparam("memlimit", "256m");
    if (ak_init() != 0)
        return false;
    ak_sys_mkdir("/mnt", 0755);
    g_memfd = memfd_create("ak-fuzz-image", 0);
    return g_memfd >= 0;
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    static bool ready = setup();
    if (!ready || size < 2048 || size > (8u << 20))
        return 0;
    if (ftruncate(g_memfd, 0) != 0 || pwrite(g_memfd, data, size, 0) != (ssize_t)size)
        return 0;
    char path[64], name[32], dev[48];
    snprintf(path, sizeof path, "/proc/self/fd/%d", g_memfd);
    snprintf(name, sizeof name, "fz%u", g_count++);
    snprintf(dev, sizeof dev, "/dev/%s", name);
    if (ak_disk_attach(path, name, 0) != 0)
        return 0;
    bool rw = ak_sys_mount(dev, "/mnt", "ext2", 0, nullptr) == 0;
    if (rw || ak_sys_mount(dev, "/mnt", "ext2", MS_RDONLY, nullptr) == 0) {
        g_entries = 0;
        walk("/mnt", 0);
        if (rw) {
            int fd = ak_sys_open("/mnt/fuzz-new", O_CREAT | O_WRONLY | O_TRUNC, 0644);
            if (fd >= 0) {
                static char zeros[20000];
                ak_sys_write(fd, zeros, sizeof zeros);
                ak_sys_close(fd);
            }
            ak_sys_mkdir("/mnt/fuzz-dir", 0755);
            ak_sys_rename("/mnt/fuzz-new", "/mnt/fuzz-dir/moved");
            ak_sys_symlink("a-target-longer-than-sixty-characters-so-it-needs-a-block-xxxxxxx",
                           "/mnt/fuzz-dir/link");
            ak_sys_unlink("/mnt/fuzz-dir/moved");
            ak_sys_unlink("/mnt/fuzz-dir/link");
            ak_sys_rmdir("/mnt/fuzz-dir");
        }
        if (ak_sys_umount2("/mnt", 0) != 0)
            ak_sys_umount2("/mnt", MNT_DETACH);
    }
    ak_disk_detach(name);
    return 0;
}
