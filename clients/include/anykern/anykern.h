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

/* Raw system call: returns the result or -errno.  Arguments are read as six
 * longs, as syscall(2) does: cast int arguments to long, above all the
 * sixth, which is passed on the stack. */
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

/* Network interfaces.
 *   ak_if_attach(spec): attach an interface to the kernel's TCP/IP stack
 *     and configure it; spec is "TYPE:TARGET[,key=value...]":
 *       tap:IFNAME   a tap device (created if absent; needs CAP_NET_ADMIN)
 *       tun:IFNAME   a tun device (raw IP, no link layer)
 *       packet:IFNAME AF_PACKET on an existing host interface
 *       shm:PATH     a shared-memory bus file shared by several processes
 *       cb:NAME      frames go to/come from this program (see below)
 *     keys: addr=A/PLEN, gw=G, dhcp, name=IF, mtu=N, mac=M, and fault
 *     injection on both directions: loss=PCT, reorder=PCT, dup=PCT,
 *     seed=N.  Returns the interface index or -1 with errno set.
 *   ak_if_callback_register(name, output, ctx): before attaching
 *     "cb:name", say where the kernel's outgoing frames go.
 *   ak_if_callback_input(name, frame, len): hand a received frame to the
 *     kernel (processed before the call returns). */
typedef void (*ak_if_output_fn)(void *ctx, const void *frame, size_t len);
int ak_if_attach(const char *spec);
int ak_if_callback_register(const char *name, ak_if_output_fn output, void *ctx);
int ak_if_callback_input(const char *name, const void *frame, size_t len);

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
