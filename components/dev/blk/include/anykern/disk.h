/*
 * Disks for code that hosts a kernel (the local library, ak-server, the
 * unikernel start-up).  Provided by the block layer component
 * (components/dev/blk); see docs/block.md.
 *
 * A disk attached as NAME is the mount source "/dev/NAME" (or "NAME"):
 *   ak_kern_disk_attach("disk.img", NULL, 0, name, sizeof name);  // akblk0
 *   mount("/dev/akblk0", "/mnt", "ext2", 0, NULL);
 */
#ifndef ANYKERN_DISK_H
#define ANYKERN_DISK_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define AK_KERN_DISK_RDONLY 0x1

/* Open the platform disk path (a host file or block device on posix) and
 * register it as name, or as the next free "akblkN" when name is NULL or
 * "".  Names are 1..32 characters of [A-Za-z0-9_.-].  The chosen name is
 * copied to name_out (NUL-terminated, truncated to name_out_len) when
 * name_out is not NULL.  Returns 0 or -errno: -EEXIST (name taken),
 * -ENOENT/-EACCES/-EROFS (cannot open), -ENODEV (no block layer or the
 * platform has no block group), -EINVAL.  Call after ak_kern_init(). */
int ak_kern_disk_attach(const char *path, const char *name, int flags,
                        char *name_out, size_t name_out_len);

/* Write back and forget a disk that no file system uses.  Returns 0 or
 * -errno (-ENXIO unknown, -EBUSY mounted, -EIO write-back failed). */
int ak_kern_disk_detach(const char *name);

#ifdef __cplusplus
}
#endif

#endif
