/* Writes into the ext2 file system ak-run mounted on /mnt (-b DISK,mount=/mnt):
 * a directory, a small file and a 200 KiB file with a known pattern, then
 * reads them back.  The host checks the disk with e2fsck and debugfs. */
#include <anykern/anykern.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void die(const char *what)
{
    perror(what);
    exit(1);
}

int main(void)
{
    if (ak_init() < 0)
        die("ak_init");
    if (ak_sys_mkdir("/mnt/unikernel", 0755) < 0)
        die("mkdir /mnt/unikernel");
    const char *msg = "written by an anykern unikernel\n";
    int fd = ak_sys_open("/mnt/unikernel/hello.txt", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0 || ak_sys_write(fd, msg, strlen(msg)) != (long)strlen(msg))
        die("hello.txt");
    ak_sys_close(fd);
    static char block[4096];
    fd = ak_sys_open("/mnt/unikernel/big.bin", O_CREAT | O_WRONLY | O_TRUNC, 0644);
    if (fd < 0)
        die("big.bin");
    for (int i = 0; i < 50; i++) {
        memset(block, 'a' + i % 26, sizeof block);
        if (ak_sys_write(fd, block, sizeof block) != (long)sizeof block)
            die("write big.bin");
    }
    ak_sys_close(fd);
    fd = ak_sys_open("/mnt/unikernel/big.bin", O_RDONLY, 0);
    if (fd < 0 || ak_sys_lseek(fd, 49 * 4096, 0) < 0 || ak_sys_read(fd, block, 4096) != 4096 ||
        block[0] != 'a' + 49 % 26)
        die("read back big.bin");
    ak_sys_close(fd);
    printf("ext2-app: wrote /mnt/unikernel/hello.txt and big.bin\n");
    return ak_fini() < 0 ? 1 : 0;
}
