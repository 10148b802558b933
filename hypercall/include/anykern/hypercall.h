/*
 * anykern hypercall interface: everything a platform provides to the kernel.
 *
 * The kernel (rumpkern/ and components/) calls nothing outside this header
 * except the compiler's memcpy/memmove/memset/memcmp.  A platform (posix,
 * kvm, ...) implements every call of each group it supports.
 *
 * Conventions
 *  - All calls are C ABI, prefixed akhyp_.
 *  - Errors are Linux errno values returned as positive ints (0 = success).
 *  - "May block" means the call may put the calling thread to sleep; such
 *    calls must not be made from an interrupt upcall (kvm/baremetal).
 *  - Every call may be made from any thread the platform created or that
 *    entered the kernel through a client, unless its comment says otherwise.
 *
 * Versioning
 *  AK_HYPERCALL_VERSION = (MAJOR << 16) | MINOR.  The kernel passes the
 *  version it was built against to akhyp_init().  A platform accepts a
 *  kernel whose MAJOR equals its own and whose MINOR is not greater than its
 *  own.  Adding a call or a group bumps MINOR; changing or removing one
 *  bumps MAJOR.  Groups are listed in AKHYP_GROUP_* bits; a kernel asks
 *  akhyp_groups() before using a non-core group.
 *
 *  1.0  core group
 *  1.1  network group (akhyp_net_*)
 *  1.2  block group (akhyp_blk_*)
 *  1.3  bus group (akhyp_pci_*, akhyp_port_*, akhyp_mmio_*, akhyp_dma_*,
 *       akhyp_intr_*, akhyp_bus_mmio_device); numbered after the block and
 *       network groups, which reached main first
 *  1.4  user group (akhyp_user_*, akhyp_vm_*): running unmodified Linux
 *       x86-64 executables in user mode; the upcalls struct gains
 *       user_syscall and user_trap (read only from kernels >= 1.4)
 *  1.5  user group: akhyp_user_guard (recovery from a kernel fault on user
 *       memory, so a bad pointer becomes EFAULT instead of a crash)
 */
#ifndef ANYKERN_HYPERCALL_H
#define ANYKERN_HYPERCALL_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AK_HYPERCALL_VERSION_MAJOR 1
#define AK_HYPERCALL_VERSION_MINOR 5
#define AK_HYPERCALL_VERSION \
    ((AK_HYPERCALL_VERSION_MAJOR << 16) | AK_HYPERCALL_VERSION_MINOR)

#if defined(__GNUC__)
#define AKHYP_NORETURN __attribute__((noreturn))
#else
#define AKHYP_NORETURN
#endif

/* Groups a platform may provide (bit mask returned by akhyp_groups()). */
#define AKHYP_GROUP_CORE 0x1u  /* always present */
#define AKHYP_GROUP_BLOCK 0x2u /* block I/O: akhyp_blk_* (since 1.2) */
#define AKHYP_GROUP_NET 0x4u   /* network interfaces (akhyp_net_*, since 1.1) */
#define AKHYP_GROUP_BUS 0x8u   /* PCI/MMIO/DMA/interrupts: akhyp_pci_* ... (since 1.3) */
#define AKHYP_GROUP_USER 0x10u /* user mode + address space: akhyp_user_*, akhyp_vm_* (1.4) */

/*
 * The register state of a thread in user mode (Linux x86-64).  orig_rax is
 * the system-call number at entry (rax receives the result); fs_base is the
 * thread's FS base (TLS pointer).
 */
struct akhyp_uregs {
    uint64_t r15, r14, r13, r12, rbp, rbx, r11, r10, r9, r8;
    uint64_t rax, rcx, rdx, rsi, rdi, orig_rax;
    uint64_t rip, rflags, rsp, fs_base;
};

/* ------------------------------------------------------------------------
 * Core group: init and parameters
 * ---------------------------------------------------------------------- */

/*
 * Upcalls: functions the kernel gives the platform at init.  The platform
 * calls them; they never block for long and never fail.
 */
struct akhyp_upcalls {
    /* A thread that had a current-lwp pointer set (akhyp_curlwp_set) is
     * exiting without having cleared it.  Called on that thread, before it
     * is gone; the kernel releases its per-thread state.  May be NULL. */
    void (*thread_exit)(void *lwp);
    /* --- 1.4, user group; a platform reads these only when the kernel's
     * version is >= 1.4 --- */
    /* A thread in user mode executed `syscall`.  Called on that thread (its
     * kernel stack), interrupts enabled: may block.  regs holds the user
     * registers (orig_rax = rax = the number); the kernel stores the result
     * in regs->rax and may change any register (signal delivery,
     * rt_sigreturn).  When it returns, the platform resumes user mode with
     * exactly regs.  To end the thread instead, the kernel calls
     * akhyp_thread_exit() from inside the upcall. */
    void (*user_syscall)(struct akhyp_uregs *regs);
    /* A CPU exception in user mode that the platform did not resolve (a page
     * fault outside mapped memory or against its protection, #GP, #UD, #DE,
     * int3, ...).  vector is the x86 exception number, error its error code,
     * addr the faulting address for page faults (CR2); regs->orig_rax is -1.
     * Also the pseudo trap AKHYP_USER_TRAP_INTERRUPT (akhyp_user_interrupt),
     * and AKHYP_USER_TRAP_NOMEM in error (below).  Same rules as
     * user_syscall: the kernel changes regs to run a signal handler, or ends
     * the thread or the whole instance. */
    void (*user_trap)(struct akhyp_uregs *regs, int vector, uint64_t error, uint64_t addr);
};

/*
 * akhyp_init: first call the kernel makes, once.  Checks the version (see
 * above) and records the upcalls (the pointer stays valid for the life of
 * the kernel).  Returns 0, or EINVAL for an incompatible version.
 * Does not block.
 */
int akhyp_init(uint32_t version, const struct akhyp_upcalls *upcalls);

/* akhyp_groups: bit mask of AKHYP_GROUP_* this platform implements. */
uint32_t akhyp_groups(void);

/*
 * akhyp_getparam: the value of a configuration parameter as a NUL-terminated
 * string in buf (at most buflen bytes including the NUL).
 * Returns 0, ENOENT when the parameter is not set (the kernel uses its
 * default), or ENAMETOOLONG when buflen is too small.  Does not block.
 */
int akhyp_getparam(const char *name, char *buf, size_t buflen);

/* Parameter names the kernel asks for. */
#define AKHYP_PARAM_NCPU "ncpu"         /* decimal number of virtual CPUs */
#define AKHYP_PARAM_MEMLIMIT "memlimit" /* bytes, with optional k/m/g suffix */
#define AKHYP_PARAM_HOSTNAME "hostname" /* uname nodename */
#define AKHYP_PARAM_VERBOSE "verbose"   /* kernel log level 0..3 */

/* ------------------------------------------------------------------------
 * Core group: memory
 * ---------------------------------------------------------------------- */

/*
 * akhyp_malloc: allocate size bytes aligned to alignment (a power of two,
 * at most the page size; 0 means 16).  Stores the address in *ret.
 * Returns 0 or ENOMEM.  Never returns memory that is not writable.  The
 * memory is not zeroed.  May block (briefly).
 */
int akhyp_malloc(size_t size, size_t alignment, void **ret);

/* akhyp_free: release memory from akhyp_malloc; size is the size that was
 * asked for.  ptr may be NULL.  Does not block. */
void akhyp_free(void *ptr, size_t size);

/* ------------------------------------------------------------------------
 * Core group: threads
 * ---------------------------------------------------------------------- */

/*
 * akhyp_thread_create: start a thread running fn(arg).  name is for
 * debugging (copied).  stacksize 0 selects the platform default.  If
 * joinable, *cookie receives a handle for akhyp_thread_join(); otherwise
 * cookie may be NULL.  Returns 0, EAGAIN or ENOMEM.  May block.
 */
int akhyp_thread_create(void (*fn)(void *), void *arg, const char *name,
                        int joinable, size_t stacksize, void **cookie);

/* akhyp_thread_exit: end the calling thread (one made by
 * akhyp_thread_create).  Returning from fn is equivalent. */
AKHYP_NORETURN void akhyp_thread_exit(void);

/* akhyp_thread_join: wait for a joinable thread to end and release it.
 * Returns 0 or EINVAL.  Blocks. */
int akhyp_thread_join(void *cookie);

/* akhyp_thread_yield: give up the CPU to other runnable threads. */
void akhyp_thread_yield(void);

/*
 * Current-lwp pointer: one opaque pointer per thread, owned by the kernel,
 * NULL for a thread that never set it.  Must be fast: the kernel reads it on
 * every system call.  Does not block.
 */
void akhyp_curlwp_set(void *lwp);
void *akhyp_curlwp_get(void);

/* ------------------------------------------------------------------------
 * Core group: locks and condition variables
 *
 * The kernel provides the storage (these structs, 8-byte aligned, never
 * copied or moved after init); the platform keeps its own lock in it, so
 * init cannot fail.  Enter/exit pairs happen on the same thread.  A mutex is
 * not recursive.  Destroying an object that is held or waited on is a bug.
 * ---------------------------------------------------------------------- */
#define AKHYP_LOCK_STORAGE 64
struct akhyp_mutex {
    uint64_t opaque[AKHYP_LOCK_STORAGE / 8];
};
struct akhyp_rwlock {
    uint64_t opaque[AKHYP_LOCK_STORAGE / 8];
};
struct akhyp_cond {
    uint64_t opaque[AKHYP_LOCK_STORAGE / 8];
};

void akhyp_mutex_init(struct akhyp_mutex *mtx);
void akhyp_mutex_destroy(struct akhyp_mutex *mtx);
void akhyp_mutex_enter(struct akhyp_mutex *mtx);   /* may block */
int akhyp_mutex_tryenter(struct akhyp_mutex *mtx); /* 0 or EBUSY */
void akhyp_mutex_exit(struct akhyp_mutex *mtx);

#define AKHYP_RW_READER 0
#define AKHYP_RW_WRITER 1
void akhyp_rw_init(struct akhyp_rwlock *rw);
void akhyp_rw_destroy(struct akhyp_rwlock *rw);
void akhyp_rw_enter(struct akhyp_rwlock *rw, int mode);   /* may block */
int akhyp_rw_tryenter(struct akhyp_rwlock *rw, int mode); /* 0 or EBUSY */
void akhyp_rw_exit(struct akhyp_rwlock *rw);

void akhyp_cond_init(struct akhyp_cond *cv);
void akhyp_cond_destroy(struct akhyp_cond *cv);
/* Atomically release mtx and sleep; mtx is held again on return.  Spurious
 * wakeups are allowed.  Blocks. */
void akhyp_cond_wait(struct akhyp_cond *cv, struct akhyp_mutex *mtx);
/* As above, until the monotonic clock reaches deadline_ns.  Returns 0 when
 * woken (or spuriously) and ETIMEDOUT after the deadline.  Blocks. */
int akhyp_cond_timedwait(struct akhyp_cond *cv, struct akhyp_mutex *mtx,
                         int64_t deadline_ns);
void akhyp_cond_signal(struct akhyp_cond *cv);
void akhyp_cond_broadcast(struct akhyp_cond *cv);

/* ------------------------------------------------------------------------
 * Core group: clocks
 * ---------------------------------------------------------------------- */
#define AKHYP_CLOCK_MONOTONIC 0 /* ns since an arbitrary start, never jumps */
#define AKHYP_CLOCK_REALTIME 1  /* ns since 1970-01-01 UTC */

/* akhyp_clock_now: current time of the clock in nanoseconds.  Does not
 * block.  Unknown clocks return the monotonic clock. */
int64_t akhyp_clock_now(int clock);

/* akhyp_clock_sleep: sleep until the monotonic clock reaches deadline_ns
 * (returns at once if it has passed).  Blocks. */
void akhyp_clock_sleep(int64_t deadline_ns);

/* ------------------------------------------------------------------------
 * Core group: console, randomness, exit
 * ---------------------------------------------------------------------- */

/* akhyp_console_write: write len bytes to the platform console (stderr on
 * posix, the serial port on kvm).  Never fails; may block briefly. */
void akhyp_console_write(const char *buf, size_t len);

/* akhyp_getrandom: fill buf with len bytes from a cryptographically secure
 * source.  Returns 0 or EIO.  May block until the source is seeded. */
int akhyp_getrandom(void *buf, size_t len);

/* akhyp_exit: end the whole kernel instance (the process on posix, the
 * guest on kvm) with status; AKHYP_EXIT_PANIC asks for a core dump or a
 * debugger stop where the platform can.  Never returns. */
#define AKHYP_EXIT_PANIC (-1)
AKHYP_NORETURN void akhyp_exit(int status);

/* ------------------------------------------------------------------------
 * Network group (AKHYP_GROUP_NET): link-layer frames to and from the
 * platform's interfaces.  The kernel's interface layer does everything
 * else (addresses, ARP, fault injection).
 * ---------------------------------------------------------------------- */

#define AKHYP_NET_LINK_ETHER 1 /* frames carry a 14-byte Ethernet header */
#define AKHYP_NET_LINK_RAWIP 2 /* frames are bare IPv4 packets (tun) */

/* Frames never leave host memory and arrive intact or not at all (the
 * shared-memory bus): TCP checksums are neither computed nor checked on
 * the interface, as on a loopback.  Every participant must agree. */
#define AKHYP_NET_F_NO_CSUM 1

struct akhyp_net_info {
    uint32_t link;     /* AKHYP_NET_LINK_* */
    uint32_t mtu;      /* largest IP packet the backend carries */
    uint8_t hwaddr[6]; /* Ethernet address to use (ETHER links) */
    uint8_t flags;     /* AKHYP_NET_F_*; 0 from platforms before it existed */
    uint8_t pad;
};

/*
 * Receive upcall: the platform calls rx(ctx, frame, len) for every frame
 * that arrives, from a thread of its own (never from an interrupt
 * context), one frame at a time per interface.  The frame is valid only
 * during the call (the kernel copies it).  The upcall may take kernel
 * locks and may block briefly.
 */
typedef void (*akhyp_net_rx_fn)(void *ctx, const void *frame, size_t len);

/*
 * akhyp_net_open: open the backend named by spec, a string
 * "TYPE:TARGET[,key=value...]".  Types on posix: "tap:IFNAME",
 * "tun:IFNAME", "packet:IFNAME" (AF_PACKET on an existing host
 * interface), "shm:PATH" (a shared-memory bus file, created if absent),
 * "cb:NAME" (frames go to/come from the hosting program, see the local
 * client API).  The platform ignores keys it does not know (the kernel
 * reads addr=, gw=, loss= ...); it understands "mac=xx:xx:xx:xx:xx:xx" and
 * "mtu=N".  Fills *info and *handle, then starts delivering frames to rx.
 * Returns 0, EINVAL (malformed spec), ENOENT/ENODEV (no such target),
 * EPERM/EACCES, EPROTONOSUPPORT (unknown type) or another errno.
 * May block.
 */
int akhyp_net_open(const char *spec, akhyp_net_rx_fn rx, void *ctx,
                   struct akhyp_net_info *info, void **handle);

/*
 * akhyp_net_send: transmit one frame (len <= mtu + link header).  Must not
 * block for long: a backend that cannot queue the frame drops it and
 * returns EAGAIN (the protocols above retransmit).  Returns 0 or errno.
 */
int akhyp_net_send(void *handle, const void *frame, size_t len);

/*
 * akhyp_net_close: stop delivering frames (no rx upcall runs after this
 * returns) and release the backend.  May block.
 */
void akhyp_net_close(void *handle);

/* ------------------------------------------------------------------------
 * Block group (AKHYP_GROUP_BLOCK, since 1.2): disks the platform provides
 *
 * A disk is an array of bytes addressed in units of AKHYP_BLK_SECTOR.  I/O
 * is asynchronous: akhyp_blk_submit() queues a request and returns; the
 * platform later calls the request's completion function exactly once, on
 * a platform thread (never on the submitting thread from inside
 * akhyp_blk_submit), possibly before akhyp_blk_submit has returned.  The
 * completion function must not block for long and must not submit I/O to
 * a disk that is being closed; it typically wakes a waiting kernel thread.
 * Requests may complete in any order; the platform may run several at
 * once.  A WRITE that completed is visible to later READs; it is durable
 * only after a FLUSH submitted after its completion has completed.
 *
 * A platform without the group does not define these functions; the
 * kernel references them weakly and calls them only when akhyp_groups()
 * has AKHYP_GROUP_BLOCK.
 * ---------------------------------------------------------------------- */
#define AKHYP_BLK_SECTOR 512u

struct akhyp_blk; /* a platform disk handle, opaque to the kernel */

#define AKHYP_BLK_RDONLY 0x1 /* open flag: refuse writes (EROFS) */

/*
 * akhyp_blk_open: open the disk named by path (on posix a host file or
 * block device; on kvm a device name such as "vda").  With AKHYP_BLK_RDONLY
 * the disk is opened for reading only.  Stores the handle in *dev and the
 * size in bytes (a multiple of AKHYP_BLK_SECTOR; a trailing partial sector
 * is not addressable) in *size.  Returns 0, ENOENT, EACCES, EROFS (a
 * read-write open of something only readable), EINVAL (not a file or
 * disk, or flags unknown), ENOMEM.  May block.
 */
int akhyp_blk_open(const char *path, int flags, struct akhyp_blk **dev,
                   uint64_t *size);

#define AKHYP_BLK_READ 0
#define AKHYP_BLK_WRITE 1
#define AKHYP_BLK_FLUSH 2 /* buf, len and offset are ignored (pass 0) */

/* Completion: error is 0 or an errno (EIO for a failed transfer). */
typedef void (*akhyp_blk_done_fn)(void *arg, int error);

/* One piece of a request's memory. */
struct akhyp_blk_seg {
    void *buf;
    size_t len; /* a multiple of AKHYP_BLK_SECTOR, > 0 */
};
#define AKHYP_BLK_MAX_SEGS 64

/*
 * akhyp_blk_submit: start op on dev.  READ and WRITE move the bytes of
 * segs[0..nsegs) (1 <= nsegs <= AKHYP_BLK_MAX_SEGS, scatter/gather) from or
 * to the disk bytes starting at offset (a multiple of AKHYP_BLK_SECTOR); the
 * whole range lies inside the disk.  FLUSH takes nsegs 0 (segs may be NULL)
 * and offset 0.  The segs array and the memory it describes stay valid and
 * (for READ) untouched by the kernel until done runs; the platform may copy
 * the array.  Returns 0 (done will be called once) or, with done never
 * called: EINVAL (bad op, segment count, alignment or range), EROFS (WRITE
 * or FLUSH on a read-only disk), ENOMEM.  Does not block for the I/O itself
 * (may block briefly to queue it).
 */
int akhyp_blk_submit(struct akhyp_blk *dev, int op, const struct akhyp_blk_seg *segs,
                     unsigned nsegs, uint64_t offset, akhyp_blk_done_fn done, void *arg);

/* akhyp_blk_close: wait for dev's outstanding requests to complete (their
 * completion functions have returned), then release dev.  Blocks. */
void akhyp_blk_close(struct akhyp_blk *dev);

/* ------------------------------------------------------------------------
 * Bus group (AKHYP_GROUP_BUS, since 1.3): hardware for device drivers
 *
 * Drivers (components/dev/...) reach hardware only through these calls, so
 * they stay portable components.  Every address and length is checked by
 * the platform: a range that overlaps RAM, the image or a device the
 * platform drives itself (console, timer, interrupt controllers) is refused
 * with EPERM; malformed arguments get EINVAL.
 * ---------------------------------------------------------------------- */

/* PCI configuration space (segment 0).  addr = AKHYP_PCI_ADDR(bus, device,
 * function); offset < 256 and aligned to width (1, 2 or 4 bytes).  A
 * function that is absent reads as all ones.  Return 0 or EINVAL.  Do not
 * block. */
#define AKHYP_PCI_ADDR(bus, dev, fn) \
    ((uint32_t)(((bus) & 0xff) << 8 | ((dev) & 0x1f) << 3 | ((fn) & 7)))
int akhyp_pci_config_read(uint32_t addr, uint32_t offset, int width,
                          uint32_t *value);
int akhyp_pci_config_write(uint32_t addr, uint32_t offset, int width,
                           uint32_t value);

/* Port I/O (x86); width 1, 2 or 4.  Returns 0, EINVAL, EPERM (a port the
 * platform owns) or ENOTSUP (no port I/O on this machine).  Do not block. */
int akhyp_port_read(uint16_t port, int width, uint32_t *value);
int akhyp_port_write(uint16_t port, int width, uint32_t value);

/*
 * akhyp_mmio_map: make the device registers at physical [paddr, paddr+len)
 * accessible, uncached, and store their address in *vaddr.  Access them
 * with volatile loads and stores of their natural width.  The mapping lasts
 * for the life of the kernel.  Returns 0, EINVAL (len 0 or the range
 * wraps), EPERM (the range overlaps RAM or a platform device) or ENOMEM.
 * May block.
 */
int akhyp_mmio_map(uint64_t paddr, size_t len, volatile void **vaddr);

/*
 * DMA memory: akhyp_dma_alloc returns len bytes (rounded up to pages),
 * zeroed, physically contiguous, page aligned, cache coherent with devices,
 * at *vaddr for the CPU and *paddr for the device.  Returns 0, EINVAL (len
 * 0) or ENOMEM.  May block.  akhyp_dma_free releases it (len as given).
 */
int akhyp_dma_alloc(size_t len, void **vaddr, uint64_t *paddr);
void akhyp_dma_free(void *vaddr, size_t len);

/*
 * Interrupts.  A handler does not run in interrupt context: the platform
 * runs it on an interrupt thread, one handler at a time, so it may take
 * kernel mutexes and signal condition variables, but must not sleep for
 * long (no waiting for I/O).  While a level-triggered line's handler runs
 * the line is masked; the handler must clear the device's interrupt
 * condition before returning.
 *
 * AKHYP_INTR_GSI: source is a global system interrupt number (an I/O APIC
 *   input: virtio-mmio devices, PCI INTx after routing), with
 *   AKHYP_INTR_LEVEL and/or AKHYP_INTR_ACTIVE_LOW in flags.
 * AKHYP_INTR_MSI: source is ignored; the platform picks a vector and stores
 *   in *msi the address and data the driver writes into the device's MSI or
 *   MSI-X table entry.  Edge triggered.
 *
 * akhyp_intr_establish stores a handle in *cookie.  Returns 0, EINVAL
 * (unknown type, flags or GSI), EBUSY (the GSI already has a handler),
 * ENOSPC (no vector left) or ENOMEM.  May block.
 * akhyp_intr_disestablish: the handler is not running and will not run
 * again when it returns.  May block.
 */
#define AKHYP_INTR_GSI 0
#define AKHYP_INTR_MSI 1
#define AKHYP_INTR_LEVEL 0x1
#define AKHYP_INTR_ACTIVE_LOW 0x2
struct akhyp_msi {
    uint64_t address;
    uint32_t data;
};
struct akhyp_intr;
int akhyp_intr_establish(int type, uint32_t source, int flags,
                         void (*handler)(void *arg), void *arg,
                         struct akhyp_msi *msi, struct akhyp_intr **cookie);
void akhyp_intr_disestablish(struct akhyp_intr *cookie);

/*
 * akhyp_bus_mmio_device: the index'th memory-mapped device the machine
 * announces outside PCI (on kvm: the virtio-mmio transports listed on the
 * kernel command line as virtio_mmio.device=SIZE@BASE:GSI).  Stores its
 * register window and GSI.  Returns 0 or ENOENT past the last one.  Does
 * not block.
 */
int akhyp_bus_mmio_device(unsigned index, uint64_t *base, uint64_t *size,
                          uint32_t *gsi);

/* ------------------------------------------------------------------------
 * User group (AKHYP_GROUP_USER, since 1.4): user mode and a user address
 * space, for unmodified Linux x86-64 executables (docs/linux-exec.md).
 *
 * A thread made by akhyp_thread_create enters user mode with
 * akhyp_user_enter and from then on comes back to the kernel only through
 * the user_syscall and user_trap upcalls, which run on that thread's own
 * stack (its kernel stack: give such threads at least 16 KiB; the kernel
 * uses 64 KiB).  User memory is part of the kernel's address space: the
 * kernel reads and writes it directly at the user's addresses.  It must
 * first check them against its own map of the user's mappings: a kernel
 * access to an unmapped address, to PROT_NONE memory, or a kernel write to
 * a mapping without PROT_WRITE, is a fatal kernel fault unless it happens
 * inside akhyp_user_guard (1.5), which recovers from it.  First touches of
 * demand-zero memory are fine from either side.
 *
 * A platform without the group does not define these functions; the
 * kernel references them weakly and calls them only when akhyp_groups()
 * has AKHYP_GROUP_USER.
 * ---------------------------------------------------------------------- */

/* Protections: the values of Linux's PROT_*.  WRITE implies READ; EXEC
 * implies READ; without EXEC, instruction fetches fault where the CPU can
 * enforce it (x86-64 NX). */
#define AKHYP_PROT_NONE 0x0
#define AKHYP_PROT_READ 0x1
#define AKHYP_PROT_WRITE 0x2
#define AKHYP_PROT_EXEC 0x4

/* Areas of the user address space (akhyp_vm_range). */
#define AKHYP_VM_GENERAL 0     /* demand-zero pages anywhere inside */
#define AKHYP_VM_EXEC_WINDOW 1 /* fixed addresses of a non-PIE executable */

/*
 * akhyp_vm_range: the bounds [*lo, *hi) of a user area: AKHYP_VM_GENERAL,
 * where mmap/brk/stacks go, or AKHYP_VM_EXEC_WINDOW, the range the image
 * reserved at build time for an executable linked at fixed addresses (the
 * linker symbols __ak_exec_window_lo/__ak_exec_window_hi).  Both are
 * page-aligned.  Returns 0, or ENOENT (no such area: the image has no
 * window) or EINVAL (unknown area).  Does not block.
 */
int akhyp_vm_range(int area, uintptr_t *lo, uintptr_t *hi);

/*
 * akhyp_vm_map: make [va, va+len) user memory with prot (AKHYP_PROT_*),
 * reading as zeros.  va is page-aligned, len > 0 is rounded up to pages,
 * and the range lies inside one area.  Whatever was mapped there before is
 * replaced (its pages are freed).  General area: pages are allocated on
 * first touch (by the user or the kernel).  Executable window: the range is
 * zeroed now.  Returns 0, EINVAL (bad prot, alignment or range) or ENOMEM
 * (no memory for page tables; nothing changed).  Does not sleep.
 */
int akhyp_vm_map(uintptr_t va, size_t len, int prot);

/*
 * akhyp_vm_unmap: [va, va+len) is no longer user memory (parts that were
 * not mapped are fine); its pages are freed.  Any access to it faults
 * afterwards.  Same argument rules as akhyp_vm_map.  Returns 0 or EINVAL.
 * Does not sleep.
 */
int akhyp_vm_unmap(uintptr_t va, size_t len);

/*
 * akhyp_vm_protect: change the protection of [va, va+len), all of which
 * must be mapped; contents are kept.  Returns 0, EINVAL (bad prot,
 * alignment or range) or ENOMEM (part of the range is not mapped; nothing
 * changed).  Does not sleep.
 */
int akhyp_vm_protect(uintptr_t va, size_t len, int prot);

/*
 * akhyp_user_enter: switch the calling thread (made by
 * akhyp_thread_create, never the platform's own) to user mode with regs:
 * FS base = regs->fs_base, FPU/SSE state reset to its initial values (x87
 * control word 0x37f, MXCSR 0x1f80), rflags reduced to what user mode may
 * set (IF forced on).  The kernel frames on the thread's stack are
 * discarded; the thread comes back only through the upcalls.  Never
 * returns.  May be called from inside an upcall (execve).
 */
AKHYP_NORETURN void akhyp_user_enter(const struct akhyp_uregs *regs);

/*
 * akhyp_user_set_tls: set the calling thread's FS base (arch_prctl
 * ARCH_SET_FS); it takes effect at once and follows the thread across
 * switches.  From inside an upcall, the new value is in force when user
 * mode resumes: regs->fs_base is for reading only (the platform fills it
 * in at every entry and ignores it on the way out).  Does not block.
 */
void akhyp_user_set_tls(uint64_t fs_base);

/*
 * akhyp_user_fpu_save / _restore: the calling thread's user FPU/SSE state
 * in the x86-64 FXSAVE format (AKHYP_USER_FPU_SIZE bytes, any alignment;
 * the layout of Linux's struct _fpstate / user_i387_struct), for signal
 * frames.  Valid from inside the upcalls (the kernel itself never touches
 * these registers).  restore takes the state back, with MXCSR bits the CPU
 * does not support cleared (so a corrupted signal frame cannot fault);
 * restore(NULL) resets it to the initial values (a signal handler's
 * start).  Do not block.
 */
#define AKHYP_USER_FPU_SIZE 512
void akhyp_user_fpu_save(void *area);
void akhyp_user_fpu_restore(const void *area);

/*
 * akhyp_user_interrupt: make the thread whose current-lwp pointer
 * (akhyp_curlwp_set) is lwp, a thread that has entered user mode, come back
 * to the kernel before it runs more user code: on that thread, before it
 * next resumes user mode (at once if it is in user mode now: preempted or
 * running), the platform calls user_trap(regs, AKHYP_USER_TRAP_INTERRUPT,
 * 0, 0) with orig_rax = -1.  Several requests before that make one call.
 * This is how asynchronous signals reach a thread that never makes a system
 * call.  Returns 0, or ESRCH (no such thread in user mode).  Any thread may
 * call it; does not block.
 */
#define AKHYP_USER_TRAP_INTERRUPT 256 /* user_trap's vector: not an x86 exception */
int akhyp_user_interrupt(void *lwp);

/*
 * akhyp_user_guard (1.5): call fn(arg) on the calling thread with a
 * recovery point armed.  If code running inside fn, at any depth on this
 * thread and with interrupts enabled, takes a page fault in kernel mode on
 * a user address (the general area or the executable window) that the
 * platform cannot resolve -- memory that is not mapped, PROT_NONE memory, a
 * write to a mapping without PROT_WRITE, or demand-zero memory with no page
 * left -- the platform abandons fn's frames at once and akhyp_user_guard
 * returns: nothing of fn runs any further (whatever it allocated or
 * changed stays as it was at the fault).  The kernel's own checks stay the
 * first line of defence (kernel memory does not fault in kernel mode); this
 * catches what they cannot see, such as another thread unmapping a buffer
 * while a system call uses it.
 *
 * Returns 0 when fn returned (*result = its value); EFAULT when fn was
 * abandoned and the thread held no more mutexes or rwlocks than when the
 * guard began; ENOTRECOVERABLE when it was abandoned holding more: those
 * locks stay held, so the kernel must not touch them again (end the
 * program).  *fault_addr (may be NULL) receives the faulting address on
 * EFAULT and ENOTRECOVERABLE.  Guards nest: the innermost is in force.  A
 * fault outside any guard, on a non-user address or with interrupts off
 * is fatal as before.  Blocks when fn blocks.
 */
int akhyp_user_guard(long (*fn)(void *arg), void *arg, long *result, uint64_t *fault_addr);

/*
 * Added to user_trap's error code for a page fault (vector 14) on valid
 * demand-zero memory that could not be resolved because no physical page
 * was free (the kernel treats it like Linux's VM_FAULT_OOM: kill the
 * process, or SIGBUS).  The low bits are the CPU's page-fault error code.
 */
#define AKHYP_USER_TRAP_NOMEM ((uint64_t)1 << 32)

#ifdef __cplusplus
}
#endif

#endif /* ANYKERN_HYPERCALL_H */
