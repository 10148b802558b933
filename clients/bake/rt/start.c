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
 * The start-up itself (kernel, console, command line, disks), errno and
 * exit are in boot.c, shared with the executable runtime (exec.c).
 */
#include <anykern/kern.h>
#include <stdarg.h>
#include <stddef.h>

#include "rt.h"

#define AK_PROC_COPYFD 1
#define AK_SYS_getpid 39
#define AK_EPERM 1

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

extern int main(int argc, char** argv, char** envp);

extern int main(int argc, char** argv, char** envp);

int ak_kvm_main(int argc, char** argv) {
    if (akrt_boot(&argc, &argv) < 0)
        return 1;
    static char* default_argv[] = {"app", NULL};
    if (argc == 0) {
        argc = 1;
        argv = default_argv;
    }
    exit(main(argc, argv, environ));
    return 0;
}
