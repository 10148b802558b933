/*
 * The kernel's entry points for clients (the local library, the remote
 * server, the unikernel start-up code).  Host programs use the friendlier
 * <anykern/anykern.h>; this header is for code that hosts a kernel.
 * All functions return 0 (or a value) on success and a negative errno on
 * failure unless noted.
 */
#ifndef ANYKERN_KERN_H
#define ANYKERN_KERN_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Bring the kernel up: hypercall init, parameters, components, root file
 * system, process 1.  The calling thread becomes part of process 1.
 * Idempotent.  Returns 0 or -errno. */
int ak_kern_init(void);

/* Sync and unmount every file system (the kernel stays usable for
 * processes that do not touch the VFS).  Returns 0 or -errno. */
int ak_kern_shutdown(void);

/* System call on behalf of the calling thread's current process.  args
 * holds six values (unused ones are ignored).  Returns the result or
 * -errno; -ENOSYS for unknown numbers. */
long ak_kern_syscall(long nr, const long *args);

/* The name of syscall nr, or NULL. */
const char *ak_kern_syscall_name(long nr);

/* Processes.  AK_PROC_COPYFD copies the parent's descriptors (fork). */
#define AK_KERN_PROC_COPYFD 1
/* New process, child of parent_pid (0: of the caller's current process).
 * Does not switch to it.  Returns the pid or -errno. */
int ak_kern_proc_create(int parent_pid, int flags);
/* Make the calling thread act in process pid. */
int ak_kern_proc_switch(int pid);
/* Set real, effective and saved ids and the groups of process pid. */
int ak_kern_proc_setcred(int pid, uint32_t uid, uint32_t gid, int ngroups,
                         const uint32_t *groups);
/* exec: close the process's close-on-exec descriptors. */
int ak_kern_proc_exec(int pid);
/* Process exit: close its descriptors and remove it. */
int ak_kern_proc_exit(int pid);
/* Set the path readlink("/proc/<pid>/exe") reports (absolute, shorter than
 * PATH_MAX).  The exec component calls proc_set_exe_path() directly; this
 * is for hosts and tests. */
int ak_kern_proc_set_exe(int pid, const char *path);
/* Number of open descriptors of pid. */
int ak_kern_proc_nfds(int pid);
int ak_kern_proc_count(void);

/* The calling thread's lwp (opaque); interrupting it makes its current or
 * next interruptible sleep return EINTR, until the next system call. */
void *ak_kern_curlwp(void);
void ak_kern_lwp_interrupt(void *lwp);
/* Forget the calling thread's lwp (a server thread that is done). */
void ak_kern_thread_release(void);

/* Attach a network interface (needs the net component and a platform with
 * the network group):
 *   "TYPE:TARGET[,name=IF][,addr=A/PLEN][,gw=G][,dhcp][,mtu=N][,mac=M]
 *    [,loss=PCT][,reorder=PCT][,dup=PCT][,seed=N]"
 * TYPE is tap, tun, packet, shm or cb on posix (docs/net.md).  With dhcp
 * the call returns once a lease was configured.  name (may be NULL)
 * receives the interface name.  Returns the interface index or -errno. */
int ak_kern_if_attach(const char *spec, char *name, size_t namelen);

/* Make descriptors 0-2 of the calling thread's process the console (those
 * not already open): stdin reads end of file, stdout and stderr write to
 * akhyp_console_write.  Provided by components/dev/console (the unikernel
 * runtime calls it).  Returns 0 or -errno. */
int ak_kern_console_stdio(void);

/* Run a static Linux x86-64 executable (the ELF file's bytes, len bytes,
 * kept valid while it runs) in the calling thread's process: load it, start
 * its first thread in user mode with argv and envp (NULL-terminated) and
 * wait until the process ends.  path is what the program sees as its name
 * (AT_EXECFN, /proc/self/exe).  Returns the exit status (exit_group(n): n &
 * 0xff; killed by signal s: 128 + s), or -errno: ENOSYS (the platform has no
 * hypercall user group), ENOEXEC (not a valid executable for this machine),
 * ELIBBAD (dynamically linked), E2BIG, ENOMEM, EBUSY (a program is already
 * running).  Provided by components/exec. */
int ak_kern_exec(const void *elf, size_t len, const char *path, char *const argv[],
                 char *const envp[]);

struct ak_kern_memstats {
    size_t in_use, limit, peak, allocations, failures;
};
void ak_kern_memstats(struct ak_kern_memstats *out);

#ifdef __cplusplus
}
#endif

#endif
