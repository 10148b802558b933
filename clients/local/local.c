/* The local client: the kernel runs in this process. */
#include <anykern/anykern.h>
#include <anykern/kern.h>

#include <errno.h>
#include <stdarg.h>

#define AK_API __attribute__((visibility("default")))

int akposix_setparam(const char *name, const char *value);
int akposix_net_callback_register(const char *name, void (*output)(void *, const void *, size_t),
                                  void *ctx);
int akposix_net_callback_input(const char *name, const void *frame, size_t len);

/* From the block layer component; weak so the library still links
 * without it (then disks are ENODEV). */
int ak_kern_disk_attach(const char *path, const char *name, int flags, char *name_out,
                        size_t name_out_len) __attribute__((weak));
int ak_kern_disk_detach(const char *name) __attribute__((weak));

static int set_errno(int r)
{
    if (r < 0) {
        errno = -r;
        return -1;
    }
    return r;
}

long akclient_syscall6(long nr, long a0, long a1, long a2, long a3, long a4, long a5)
{
    long args[6] = {a0, a1, a2, a3, a4, a5};
    return ak_kern_syscall(nr, args);
}

AK_API long ak_syscall(long number, ...)
{
    long args[6];
    va_list ap;
    va_start(ap, number);
    for (int i = 0; i < 6; i++)
        args[i] = va_arg(ap, long);
    va_end(ap);
    return ak_kern_syscall(number, args);
}

AK_API int ak_init(void) { return set_errno(ak_kern_init()); }

AK_API int ak_fini(void) { return set_errno(ak_kern_shutdown()); }

AK_API int ak_setparam(const char *name, const char *value)
{
    return set_errno(-akposix_setparam(name, value)); /* 0 or an errno */
}

AK_API int ak_proc_create(int flags)
{
    int pid = ak_kern_proc_create(0, (flags & AK_PROC_COPYFD) ? AK_KERN_PROC_COPYFD : 0);
    if (pid < 0)
        return set_errno(pid);
    return set_errno(ak_kern_proc_switch(pid)) < 0 ? -1 : pid;
}

AK_API int ak_proc_switch(int pid) { return set_errno(ak_kern_proc_switch(pid)); }

AK_API int ak_proc_release(void)
{
    long none[6] = {0};
    long pid = ak_kern_syscall(AK_SYS_getpid, none);
    if (pid <= 1) {
        errno = EPERM;
        return -1;
    }
    int r = ak_kern_proc_switch(1);
    if (r < 0)
        return set_errno(r);
    return set_errno(ak_kern_proc_exit((int)pid));
}

AK_API int ak_if_attach(const char *spec) { return set_errno(ak_kern_if_attach(spec, NULL, 0)); }

AK_API int ak_if_callback_register(const char *name, ak_if_output_fn output, void *ctx)
{
    return set_errno(-akposix_net_callback_register(name, output, ctx)); /* 0 or an errno */
}

AK_API int ak_if_callback_input(const char *name, const void *frame, size_t len)
{
    return set_errno(-akposix_net_callback_input(name, frame, len)); /* 0 or an errno */
}

AK_API int ak_disk_attach(const char *path, const char *name, int flags)
{
    if (!ak_kern_disk_attach) {
        errno = ENODEV;
        return -1;
    }
    if (flags & ~AK_DISK_RDONLY) {
        errno = EINVAL;
        return -1;
    }
    return set_errno(ak_kern_disk_attach(path, name, flags & AK_DISK_RDONLY, NULL, 0));
}

AK_API int ak_disk_detach(const char *name)
{
    if (!ak_kern_disk_detach) {
        errno = ENODEV;
        return -1;
    }
    return set_errno(ak_kern_disk_detach(name));
}
