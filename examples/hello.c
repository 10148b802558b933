/* hello: the local client in one page.  Starts a kernel inside this
 * process, makes a tree in its tmpfs, writes and reads files, lists them. */
#include <anykern/anykern.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

struct dirent64_hdr {
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

static void die(const char *what)
{
    perror(what);
    exit(1);
}

static void list(const char *path, int depth)
{
    int fd = ak_sys_open(path, O_RDONLY | O_DIRECTORY, 0);
    if (fd < 0)
        die(path);
    char buf[4096];
    long n;
    while ((n = ak_sys_getdents64(fd, buf, sizeof buf)) > 0) {
        for (long off = 0; off < n;) {
            struct dirent64_hdr *d = (struct dirent64_hdr *)(buf + off);
            off += d->d_reclen;
            if (!strcmp(d->d_name, ".") || !strcmp(d->d_name, ".."))
                continue;
            char child[1024];
            snprintf(child, sizeof child, "%s/%s", strcmp(path, "/") ? path : "", d->d_name);
            struct stat st;
            if (ak_sys_lstat(child, &st) < 0)
                die(child);
            printf("%*s%-12s %6o %8lld bytes\n", depth * 2, "", d->d_name,
                   (unsigned)st.st_mode, (long long)st.st_size);
            if (S_ISDIR(st.st_mode))
                list(child, depth + 1);
        }
    }
    if (n < 0)
        die("getdents64");
    ak_sys_close(fd);
}

int main(void)
{
    if (ak_init() < 0)
        die("ak_init");
    if (ak_sys_mkdir("/etc", 0755) < 0 || ak_sys_mkdir("/home", 0755) < 0 ||
        ak_sys_mkdir("/home/user", 0700) < 0)
        die("mkdir");
    const char *msg = "hello from the anykern kernel\n";
    int fd = ak_sys_open("/home/user/greeting.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0)
        die("open");
    if (ak_sys_write(fd, msg, strlen(msg)) != (long)strlen(msg))
        die("write");
    ak_sys_close(fd);
    if (ak_sys_symlink("/home/user/greeting.txt", "/etc/motd") < 0)
        die("symlink");

    char buf[128] = {0};
    fd = ak_sys_open("/etc/motd", O_RDONLY, 0);
    if (fd < 0)
        die("open motd");
    long n = ak_sys_read(fd, buf, sizeof buf - 1);
    if (n < 0)
        die("read");
    ak_sys_close(fd);
    printf("read back through a symlink: %s", buf);

    printf("tree of the kernel's root file system:\n");
    list("/", 1);
    printf("kernel pid %d, parent %d\n", ak_sys_getpid(), ak_sys_getppid());
    return ak_fini() < 0 ? 1 : 0;
}
