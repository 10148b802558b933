/*
 * Start-up shared by the two runtimes of unikernel images (rt.h): the
 * image note, errno and the environment, exit, the kernel's start with the
 * console on descriptors 0-2, the command line and the disks.
 *
 *  - start.c: images made from object files (the application's main()).
 *  - exec.c: images made from a static Linux executable (ak_kern_exec).
 *
 * Command line (after the platform's "--"): "[VAR=VALUE...] -- ARGV...".
 * ak-run always writes both parts; without a second "--" every word is an
 * argument.
 */
#include <anykern/kern.h>
#include <stddef.h>

#include "rt.h"

/* ELF note that marks an anykern image: ak-run refuses images without it
 * (beside the PVH entry note).  Name "anykern", type 0x414b0001, descriptor:
 * image format 1, then the hypercall version the image was built with. */
#define AKRT_STR2(x) #x
#define AKRT_STR(x) AKRT_STR2(x)
__asm__(".pushsection .note.anykern, \"a\", @note\n"
        ".balign 4\n"
        ".long 8, 8, 0x414b0001\n"
        ".asciz \"anykern\"\n"
        ".balign 4\n"
        ".long 1, " AKRT_STR(AK_HYPERCALL_VERSION_MAJOR) " << 16 | " AKRT_STR(
            AK_HYPERCALL_VERSION_MINOR) "\n"
                                        ".popsection");

int errno;

int* __errno_location(void) {
    return &errno;
}

static char* g_environ[AKRT_MAX_ENV + 1];
char** environ = g_environ;

void exit(int status) {
    akrt_stdio_flush();
    ak_kern_shutdown(); /* sync file systems: the guest is about to stop */
    akhyp_exit(status & 0xff);
}

void _exit(int status) {
    akhyp_exit(status & 0xff);
}

void abort(void) {
    akrt_stdio_flush();
    akhyp_console_write("ak-rt: abort\n", 13);
    akhyp_exit(AKHYP_EXIT_PANIC);
}

/* Stack protector support, for applications built with it (glibc's canary
 * lives at %fs:0x28, which is 0x28 in the identity map while %fs is 0; the
 * comparison still works). */
unsigned long __stack_chk_guard = 0x2f8a1c7e5b3d9064ul;
void __stack_chk_fail(void) {
    akhyp_console_write("ak-rt: stack smashing detected\n", 31);
    akhyp_exit(AKHYP_EXIT_PANIC);
}

/* ak-run -b DISK,mount=/path: the disk is virtio-blk with serial akdiskN
 * (the driver names it so) and parameter diskN.mount=/path; mount it as
 * ext2 on /path (made first) before main().  Failures are reported and the
 * application still runs (it may not need the disk). */
#define AK_SYS_mkdir 83
#define AK_SYS_mount 165
#define MAX_DISKS 8

static void mkdir_p(const char* path) {
    char buf[256];
    size_t n = strlen(path);
    if (n >= sizeof buf)
        return;
    memcpy(buf, path, n + 1);
    for (size_t i = 1; i <= n; i++) {
        if (buf[i] != '/' && buf[i] != 0)
            continue;
        char c = buf[i];
        buf[i] = 0;
        long args[6] = {(long)buf, 0755, 0, 0, 0, 0};
        ak_kern_syscall(AK_SYS_mkdir, args);
        buf[i] = c;
    }
}

static void mount_disks(void) {
    for (int i = 0; i < MAX_DISKS; i++) {
        char key[32], path[256], source[32];
        snprintf(key, sizeof key, "disk%d.mount", i);
        if (akhyp_getparam(key, path, sizeof path) != 0)
            continue;
        snprintf(source, sizeof source, "/dev/akdisk%d", i);
        mkdir_p(path);
        long args[6] = {(long)source, (long)path, (long)"ext2", 0, 0, 0};
        long r = ak_kern_syscall(AK_SYS_mount, args);
        if (r < 0) {
            char msg[384];
            snprintf(msg, sizeof msg, "ak-rt: cannot mount %s on %s: %s\n", source, path,
                     strerror((int)-r));
            akhyp_console_write(msg, strlen(msg));
        }
    }
}

int akrt_boot(int* argc, char*** argv) {
    int r = ak_kern_init();
    if (r >= 0)
        r = ak_kern_console_stdio();
    if (r < 0) {
        char msg[64];
        snprintf(msg, sizeof msg, "ak-rt: kernel start failed: errno %d\n", -r);
        akhyp_console_write(msg, strlen(msg));
        return -1;
    }
    /* Split "[VAR=VALUE...] -- ARGV..." */
    int split = -1;
    for (int i = 0; i < *argc; i++)
        if ((*argv)[i][0] == '-' && (*argv)[i][1] == '-' && (*argv)[i][2] == 0) {
            split = i;
            break;
        }
    int nenv = 0;
    if (split >= 0) {
        for (int i = 0; i < split && nenv < AKRT_MAX_ENV; i++)
            if (strchr((*argv)[i], '='))
                g_environ[nenv++] = (*argv)[i];
        *argv += split + 1;
        *argc -= split + 1;
    }
    g_environ[nenv] = NULL;
    mount_disks();
    return 0;
}
