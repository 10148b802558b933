/*
 * The application runtime of a unikernel image: what ak-bake links beside
 * the application so that the same source as a local-client program runs
 * in the image.
 *
 *  - ak_kvm_main (called by the kvm platform on its main thread): starts
 *    the kernel, makes descriptors 0-2 of process 1 the console, sets up
 *    argv and the environment, calls main() and exits with its status.
 *  - The client API of <anykern/anykern.h>: ak_init/ak_fini/ak_syscall/
 *    ak_proc_* over ak_kern_*, and akclient_syscall6 for the generated
 *    ak_sys_* wrappers.
 *  - errno: one global (the runtime has one application thread); glibc's
 *    headers reach it through __errno_location().
 *
 * Command line (after the platform's "--"): "[VAR=VALUE...] -- ARGV...".
 * ak-run always writes both parts; without a second "--" every word is an
 * argument.
 */
#include <anykern/kern.h>
#include <stdarg.h>
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

#define AK_PROC_COPYFD 1
#define AK_SYS_getpid 39
#define AK_EPERM 1

int errno;

int* __errno_location(void) {
    return &errno;
}

#define MAX_ENV 64
static char* g_environ[MAX_ENV + 1];
char** environ = g_environ;

static int set_errno(int r) {
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return r;
}

long akclient_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    long args[6] = {a0, a1, a2, a3, a4, a5};
    return ak_kern_syscall(nr, args);
}

long ak_syscall(long number, ...) {
    long args[6];
    va_list ap;
    va_start(ap, number);
    for (int i = 0; i < 6; i++)
        args[i] = va_arg(ap, long);
    va_end(ap);
    return ak_kern_syscall(number, args);
}

int ak_init(void) {
    int r = ak_kern_init();
    if (r < 0)
        return set_errno(r);
    return set_errno(ak_kern_console_stdio());
}

int ak_fini(void) {
    return set_errno(ak_kern_shutdown());
}

/* Kernel parameters come from the kernel command line in an image; they
 * cannot change after boot. */
int ak_setparam(const char* name, const char* value) {
    (void)name, (void)value;
    errno = AK_EPERM;
    return -1;
}

int ak_proc_create(int flags) {
    int pid = ak_kern_proc_create(0, (flags & AK_PROC_COPYFD) ? AK_KERN_PROC_COPYFD : 0);
    if (pid < 0)
        return set_errno(pid);
    return set_errno(ak_kern_proc_switch(pid)) < 0 ? -1 : pid;
}

int ak_proc_switch(int pid) {
    return set_errno(ak_kern_proc_switch(pid));
}

int ak_proc_release(void) {
    long none[6] = {0};
    long pid = ak_kern_syscall(AK_SYS_getpid, none);
    if (pid <= 1) {
        errno = AK_EPERM;
        return -1;
    }
    int r = ak_kern_proc_switch(1);
    if (r < 0)
        return set_errno(r);
    return set_errno(ak_kern_proc_exit((int)pid));
}

/* Network interfaces of the local-client API: in an image they come from
 * virtio-net (configured with ip=/gw=), so attaching host backends is not
 * supported. */
int ak_if_attach(const char* spec) {
    (void)spec;
    errno = 95; /* EOPNOTSUPP */
    return -1;
}
int ak_if_callback_register(const char* name, void* output, void* ctx) {
    (void)name, (void)output, (void)ctx;
    errno = 95;
    return -1;
}
int ak_if_callback_input(const char* name, const void* frame, size_t len) {
    (void)name, (void)frame, (void)len;
    errno = 95;
    return -1;
}

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

extern int main(int argc, char** argv, char** envp);

int ak_kvm_main(int argc, char** argv) {
    int r = ak_init();
    if (r < 0) {
        char msg[64];
        snprintf(msg, sizeof msg, "ak-rt: kernel start failed: errno %d\n", errno);
        akhyp_console_write(msg, strlen(msg));
        return 1;
    }
    /* Split "[VAR=VALUE...] -- ARGV..." */
    int split = -1;
    for (int i = 0; i < argc; i++)
        if (argv[i][0] == '-' && argv[i][1] == '-' && argv[i][2] == 0) {
            split = i;
            break;
        }
    int nenv = 0;
    if (split >= 0) {
        for (int i = 0; i < split && nenv < MAX_ENV; i++)
            if (strchr(argv[i], '='))
                g_environ[nenv++] = argv[i];
        argv += split + 1;
        argc -= split + 1;
    }
    g_environ[nenv] = NULL;
    mount_disks();
    static char* default_argv[] = {"app", NULL};
    if (argc == 0) {
        argc = 1;
        argv = default_argv;
    }
    exit(main(argc, argv, environ));
    return 0;
}
