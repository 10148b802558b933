/*
 * anykern: the client API.
 *
 * The same header serves the local library (libanykern: the kernel linked
 * into your program) and the remote client (libakclient: system calls sent
 * to an ak-server).  Link one of them.
 *
 *   #include <anykern/anykern.h>
 *   if (ak_init() != 0) { perror("ak_init"); ... }
 *   int fd = ak_sys_open("/hello", O_CREAT | O_WRONLY, 0644);
 *
 * ak_sys_<name>() takes the arguments of the Linux x86-64 system call of
 * that name with the host's types, returns -1 and sets errno on failure,
 * like libc.  ak_syscall() is the raw form and returns -errno.
 */
#ifndef ANYKERN_ANYKERN_H
#define ANYKERN_ANYKERN_H

#include <anykern/syscalls.h>

#ifdef __cplusplus
extern "C" {
#endif

#define ANYKERN_VERSION_MAJOR 0
#define ANYKERN_VERSION_MINOR 1

/* Start the kernel (local) or connect to the server named by AK_SERVER
 * (remote).  Returns 0, or -1 with errno set.  Idempotent. */
int ak_init(void);

/* Sync and unmount all file systems (local); close the connection
 * (remote).  Returns 0 or -1 with errno set. */
int ak_fini(void);

/* Set a kernel parameter before ak_init(): "memlimit" (bytes, k/m/g
 * suffixes), "ncpu", "hostname", "verbose" (0-3).  Overrides the AK_MEMLIMIT
 * style environment variables.  Returns 0 or -1 with errno set. */
int ak_setparam(const char *name, const char *value);

/* Raw system call: returns the result or -errno. */
long ak_syscall(long number, ...);

/* Process contexts (like rump_lwproc).  The calling thread acts in one
 * process at a time; at start it is pid 1.
 *   ak_proc_create(): a child of the current process (with a copy of its
 *     descriptors if flags has AK_PROC_COPYFD) and switch to it; returns
 *     the new pid or -1.
 *   ak_proc_switch(pid): act in process pid.
 *   ak_proc_release(): end the current process (closing its descriptors)
 *     and switch back to pid 1. */
#define AK_PROC_COPYFD 1
int ak_proc_create(int flags);
int ak_proc_switch(int pid);
int ak_proc_release(void);

/* Disks (local client; docs/block.md).  Attach the host file or block
 * device path as kernel disk name ("akblk0", "akblk1", ... in order when
 * name is NULL); it is then the mount source "/dev/NAME":
 *   ak_disk_attach("disk.img", "disk0", 0);
 *   ak_sys_mount("/dev/disk0", "/mnt", "ext2", 0, NULL);
 * AK_DISK_RDONLY opens the host file read-only.  Call after ak_init().
 * Returns 0 or -1 with errno set (EEXIST, ENOENT, EACCES, ENODEV, EINVAL).
 * ak_disk_detach() forgets an unmounted disk after writing it back. */
#define AK_DISK_RDONLY 0x1
int ak_disk_attach(const char *path, const char *name, int flags);
int ak_disk_detach(const char *name);

#ifdef __cplusplus
}
#endif

#endif
