// Memory system calls of Linux executables: mmap, munmap, mprotect, brk,
// mremap, madvise, msync, mincore (mm/mmap.c, mm/mremap.c, mm/madvise.c
// semantics as documented in their man pages).  Each call decodes and checks
// its arguments first, then updates the platform's page tables
// (akhyp_vm_*) and the process's VmMap together, under the process lock.
#include <ak/abi/linux.h>
#include <ak/log.h>
#include <ak/uio.h>

#include "process.h"

namespace ak::exec {

namespace {

constexpr uint64_t k_page = 4096;

// mmap flags (Linux x86-64 values).
constexpr int k_map_shared = 0x01;
constexpr int k_map_private = 0x02;
constexpr int k_map_shared_validate = 0x03;
constexpr int k_map_type = 0x0f;
constexpr int k_map_fixed = 0x10;
constexpr int k_map_anonymous = 0x20;
constexpr int k_map_32bit = 0x40;
constexpr int k_map_growsdown = 0x100;
constexpr int k_map_denywrite = 0x800;
constexpr int k_map_executable = 0x1000;
constexpr int k_map_locked = 0x2000;
constexpr int k_map_noreserve = 0x4000;
constexpr int k_map_populate = 0x8000;
constexpr int k_map_nonblock = 0x10000;
constexpr int k_map_stack = 0x20000;
constexpr int k_map_hugetlb = 0x40000;
constexpr int k_map_sync = 0x80000;
constexpr int k_map_fixed_noreplace = 0x100000;
constexpr int k_map_known = k_map_type | k_map_fixed | k_map_anonymous | k_map_32bit |
                            k_map_growsdown | k_map_denywrite | k_map_executable | k_map_locked |
                            k_map_noreserve | k_map_populate | k_map_nonblock | k_map_stack |
                            k_map_hugetlb | k_map_sync | k_map_fixed_noreplace;
constexpr int k_prot_growsdown = 0x01000000;
constexpr int k_prot_growsup = 0x02000000;
constexpr int k_prot_all = k_prot_read | k_prot_write | k_prot_exec;

constexpr int k_mremap_maymove = 1;
constexpr int k_mremap_fixed = 2;
constexpr int k_mremap_dontunmap = 4;

constexpr int k_ms_async = 1;
constexpr int k_ms_invalidate = 2;
constexpr int k_ms_sync = 4;

constexpr int k_madv_dontneed = 4;
constexpr int k_madv_free = 8;
constexpr int k_madv_remove = 9;

bool page_aligned(uint64_t v) {
    return (v & (k_page - 1)) == 0;
}

// Round len up to pages; false on overflow or 0.
bool page_len(uint64_t len, uint64_t* out) {
    if (len == 0 || len > UINT64_MAX - (k_page - 1))
        return false;
    *out = (len + k_page - 1) & ~(k_page - 1);
    return true;
}

long err(int e) {
    return -static_cast<long>(e);
}

// Lowest address mmap may use: above the heap's current end (brk grows
// into the space between).
uint64_t mmap_floor_locked(ExecProc& p) AK_REQUIRES(p.lock) {
    return align_up(p.brk_cur, k_page) + 64 * k_page;
}

// Fill [start, start+len) (mapped writable, fresh) with the file's bytes
// from offset; past the end of the file stays zero.
Result<void> read_file_into(File& f, uint64_t start, uint64_t len, uint64_t offset) {
    uint64_t done = 0;
    while (done < len) {
        Uio uio(reinterpret_cast<void*>(start + done), len - done);
        int64_t pos = static_cast<int64_t>(offset + done);
        size_t n = TRY(f.read(uio, pos));
        if (n == 0)
            break;
        done += n;
    }
    return {};
}

// Replace [start, end) of region r's pages by fresh ones with r's contents
// as they were at mmap time (MADV_DONTNEED on private mappings).
Result<void> refresh_locked(ExecProc& p, const VmRegion& r, uint64_t start, uint64_t end)
    AK_REQUIRES(p.lock) {
    (void)p;
    TRY(Result<void>(akhyp_vm_unmap(start, end - start)));
    bool fill = r.kind == RegionKind::File && r.file;
    TRY(Result<void>(akhyp_vm_map(start, end - start, fill ? k_prot_all : r.prot)));
    if (fill) {
        TRY(read_file_into(*r.file, start, end - start, r.file_offset + (start - r.start)));
        TRY(Result<void>(akhyp_vm_protect(start, end - start, r.prot)));
    }
    return {};
}

} // namespace

bool user_access_ok(ExecProc& p, uint64_t addr, uint64_t len, int prot) {
    if (len == 0)
        return true;
    uint64_t end;
    if (__builtin_add_overflow(addr, len, &end))
        return false;
    uint64_t lo = addr & ~(k_page - 1);
    uint64_t hi = align_up(end, k_page);
    if (hi < end)
        return false;
    MutexGuard g(p.lock);
    return p.map.allows(lo, hi, prot);
}

long sys_mmap(ExecProc& p, uint64_t addr, uint64_t len_in, int prot, int flags, int fd,
              uint64_t off) {
    // Decode: everything is checked before anything changes.
    uint64_t len;
    if (!page_len(len_in, &len))
        return len_in == 0 ? err(EINVAL) : err(ENOMEM);
    if (!page_aligned(off) || off > UINT64_MAX - len)
        return err(EINVAL);
    int type = flags & k_map_type;
    if (type != k_map_shared && type != k_map_private && type != k_map_shared_validate)
        return err(EINVAL);
    if (type == k_map_shared_validate && (flags & ~k_map_known))
        return err(EOPNOTSUPP);
    if (prot & ~k_prot_all)
        return err(EINVAL);
    if (flags & k_map_hugetlb)
        return err(EINVAL); // no huge pages
    bool shared = type != k_map_private;
    bool fixed = flags & (k_map_fixed | k_map_fixed_noreplace);
    if (fixed && !page_aligned(addr))
        return err(EINVAL);
    if (fixed && !p.in_user_ranges(addr, addr + len))
        return err(addr + len < addr ? EINVAL : ENOMEM);

    RefPtr<File> file;
    RegionKind kind = shared ? RegionKind::Shared : RegionKind::Anon;
    if (!(flags & k_map_anonymous)) {
        auto f = curproc().fds().get(fd);
        if (f.is_error())
            return err(EBADF);
        file = f.release_value();
        abi::Stat st{};
        if (file->stat(st).is_error() || !S_ISREG(st.st_mode))
            return err(ENODEV);
        if (!file->readable())
            return err(EACCES);
        if (shared && (prot & k_prot_write)) {
            // Written shared file mappings would need write-back; only
            // private copies are made.
            return err(file->writable() ? ENODEV : EACCES);
        }
        kind = RegionKind::File;
    } else {
        off = 0;
    }

    MutexGuard g(p.lock);
    uint64_t start;
    if (fixed) {
        start = addr;
        if ((flags & k_map_fixed_noreplace) && !p.map.is_free(start, start + len))
            return err(EEXIST);
    } else if (flags & k_map_32bit) {
        return err(ENOMEM); // no user memory below 2 GiB
    } else {
        uint64_t hint = addr & ~(k_page - 1);
        uint64_t floor = mmap_floor_locked(p);
        if (hint && hint + len > hint && hint >= floor && hint + len <= p.mmap_hi &&
            p.map.is_free(hint, hint + len)) {
            start = hint;
        } else {
            auto r = p.map.find_free_top_down(len, floor, p.mmap_hi);
            if (r.is_error())
                return err(ENOMEM);
            start = r.value();
        }
    }

    // Act.  MAP_FIXED replaces what was there.
    if (fixed && !p.map.is_free(start, start + len)) {
        if (p.map.remove(start, start + len).is_error())
            return err(ENOMEM);
        akhyp_vm_unmap(start, len);
    }
    if (int e = akhyp_vm_map(start, len, file ? k_prot_all : prot))
        return err(e == EEXIST ? ENOMEM : e);
    if (file) {
        auto r = read_file_into(*file, start, len, off);
        if (r.is_error() || akhyp_vm_protect(start, len, prot) != 0) {
            akhyp_vm_unmap(start, len);
            return err(r.is_error() ? r.error() : ENOMEM);
        }
    }
    VmRegion region;
    region.start = start;
    region.end = start + len;
    region.prot = prot;
    region.kind = kind;
    region.file = move(file);
    region.file_offset = off;
    if (p.map.insert(move(region)).is_error()) {
        akhyp_vm_unmap(start, len);
        return err(ENOMEM);
    }
    return static_cast<long>(start);
}

long sys_munmap(ExecProc& p, uint64_t addr, uint64_t len_in) {
    uint64_t len;
    if (!page_aligned(addr) || !page_len(len_in, &len) || addr + len < addr)
        return err(EINVAL);
    if (!p.in_user_ranges(addr, addr + len))
        return err(EINVAL);
    MutexGuard g(p.lock);
    if (p.map.is_free(addr, addr + len))
        return 0;
    if (auto r = p.map.remove(addr, addr + len); r.is_error())
        return err(r.error());
    akhyp_vm_unmap(addr, len);
    return 0;
}

long sys_mprotect(ExecProc& p, uint64_t addr, uint64_t len_in, int prot) {
    if (!page_aligned(addr))
        return err(EINVAL);
    // PROT_GROWSDOWN extends the change to the start of a grows-down
    // mapping; main stacks here are fixed-size, so it changes nothing more.
    prot &= ~k_prot_growsdown;
    if (prot & ~k_prot_all || (prot & k_prot_growsup))
        return err(EINVAL);
    if (len_in == 0)
        return 0;
    uint64_t len;
    if (!page_len(len_in, &len) || addr + len < addr)
        return err(ENOMEM);
    MutexGuard g(p.lock);
    if (!p.map.is_covered(addr, addr + len))
        return err(ENOMEM);
    if (int e = akhyp_vm_protect(addr, len, prot))
        return err(e);
    if (auto r = p.map.protect(addr, addr + len, prot); r.is_error())
        return err(r.error());
    return 0;
}

long sys_brk(ExecProc& p, uint64_t addr) {
    MutexGuard g(p.lock);
    // brk(0) and anything below the start ask for the current break.
    if (addr < p.brk_start || addr > p.mmap_hi)
        return static_cast<long>(p.brk_cur);
    uint64_t old_top = align_up(p.brk_cur, k_page);
    uint64_t new_top = align_up(addr, k_page);
    if (new_top > old_top) {
        if (!p.map.is_free(old_top, new_top))
            return static_cast<long>(p.brk_cur);
        if (akhyp_vm_map(old_top, new_top - old_top, k_prot_read | k_prot_write) != 0)
            return static_cast<long>(p.brk_cur);
        VmRegion r;
        r.start = old_top;
        r.end = new_top;
        r.prot = k_prot_read | k_prot_write;
        r.kind = RegionKind::Brk;
        if (p.map.insert(move(r)).is_error()) {
            akhyp_vm_unmap(old_top, new_top - old_top);
            return static_cast<long>(p.brk_cur);
        }
    } else if (new_top < old_top) {
        if (p.map.remove(new_top, old_top).is_error())
            return static_cast<long>(p.brk_cur);
        akhyp_vm_unmap(new_top, old_top - new_top);
    }
    p.brk_cur = addr;
    return static_cast<long>(addr);
}

namespace {

// Copy len bytes between user mappings, skipping source pages that are all
// zero (the destination is fresh and reads as zero), so that moving a
// sparse mapping does not populate it.
void copy_pages(uint64_t dst, uint64_t src, uint64_t len) {
    for (uint64_t off = 0; off < len; off += k_page) {
        const uint64_t* s = reinterpret_cast<const uint64_t*>(src + off);
        bool zero = true;
        for (size_t i = 0; i < k_page / 8 && zero; i++)
            zero = s[i] == 0;
        if (!zero)
            __builtin_memcpy(reinterpret_cast<void*>(dst + off), s, k_page);
    }
}

// Move the pages of [old, old+len) (all inside region r) to new_addr.
long move_locked(ExecProc& p, const VmRegion& r, uint64_t old_addr, uint64_t old_len,
                 uint64_t new_addr, uint64_t new_len) AK_REQUIRES(p.lock) {
    VmRegion moved;
    moved.start = new_addr;
    moved.end = new_addr + new_len;
    moved.prot = r.prot;
    moved.kind = r.kind;
    moved.file = r.file;
    moved.file_offset = r.file_offset + (old_addr - r.start);
    if (akhyp_vm_map(new_addr, new_len, k_prot_all) != 0)
        return err(ENOMEM);
    if (p.map.insert(move(moved)).is_error()) {
        akhyp_vm_unmap(new_addr, new_len);
        return err(ENOMEM);
    }
    // The kernel may only read user memory that is readable.
    if (!(r.prot & k_prot_read))
        akhyp_vm_protect(old_addr, old_len, k_prot_read);
    copy_pages(new_addr, old_addr, min(old_len, new_len));
    const VmRegion* placed = p.map.find(new_addr);
    akhyp_vm_protect(new_addr, new_len, placed ? placed->prot : 0);
    if (p.map.remove(old_addr, old_addr + old_len).ok())
        akhyp_vm_unmap(old_addr, old_len);
    return static_cast<long>(new_addr);
}

} // namespace

long sys_mremap(ExecProc& p, uint64_t old_addr, uint64_t old_len_in, uint64_t new_len_in, int flags,
                uint64_t new_addr) {
    if (flags & ~(k_mremap_maymove | k_mremap_fixed | k_mremap_dontunmap))
        return err(EINVAL);
    if ((flags & k_mremap_fixed) && !(flags & k_mremap_maymove))
        return err(EINVAL);
    if (flags & k_mremap_dontunmap)
        return err(EINVAL); // not supported (documented)
    if (!page_aligned(old_addr))
        return err(EINVAL);
    uint64_t old_len, new_len;
    // old_len 0 duplicates a shared mapping in Linux; not supported.
    if (!page_len(old_len_in, &old_len) || old_addr + old_len < old_addr)
        return err(EINVAL);
    if (!page_len(new_len_in, &new_len))
        return err(new_len_in == 0 ? EINVAL : ENOMEM);
    if (flags & k_mremap_fixed) {
        if (!page_aligned(new_addr) || new_addr + new_len < new_addr)
            return err(EINVAL);
        if (new_addr < old_addr + old_len && old_addr < new_addr + new_len)
            return err(EINVAL);
        if (!p.in_user_ranges(new_addr, new_addr + new_len))
            return err(ENOMEM);
    }

    MutexGuard g(p.lock);
    const VmRegion* found = p.map.find(old_addr);
    // The old range must be one mapping (Linux: one vma).
    if (!found || found->end - old_addr < old_len)
        return err(EFAULT);
    VmRegion r;
    r.start = found->start;
    r.end = found->end;
    r.prot = found->prot;
    r.kind = found->kind;
    r.file = found->file;
    r.file_offset = found->file_offset;

    if (flags & k_mremap_fixed) {
        if (!p.map.is_free(new_addr, new_addr + new_len)) {
            if (p.map.remove(new_addr, new_addr + new_len).is_error())
                return err(ENOMEM);
            akhyp_vm_unmap(new_addr, new_len);
        }
        return move_locked(p, r, old_addr, old_len, new_addr, new_len);
    }
    if (new_len <= old_len) {
        if (new_len < old_len) {
            if (p.map.remove(old_addr + new_len, old_addr + old_len).is_error())
                return err(ENOMEM);
            akhyp_vm_unmap(old_addr + new_len, old_len - new_len);
        }
        return static_cast<long>(old_addr);
    }
    // Grow in place when the pages above are free and the range ends the
    // region (otherwise the region continues there and it is not free).
    uint64_t grow_end = old_addr + new_len;
    if (grow_end > old_addr && r.end == old_addr + old_len &&
        p.in_user_ranges(old_addr, grow_end) && p.map.is_free(old_addr + old_len, grow_end) &&
        (r.kind != RegionKind::Brk)) {
        uint64_t extra = new_len - old_len;
        if (akhyp_vm_map(old_addr + old_len, extra, r.prot) == 0) {
            if (p.map.grow(old_addr + old_len, grow_end).ok())
                return static_cast<long>(old_addr);
            akhyp_vm_unmap(old_addr + old_len, extra);
        }
    }
    if (!(flags & k_mremap_maymove))
        return err(ENOMEM);
    auto dest = p.map.find_free_top_down(new_len, mmap_floor_locked(p), p.mmap_hi);
    if (dest.is_error())
        return err(ENOMEM);
    return move_locked(p, r, old_addr, old_len, dest.value(), new_len);
}

long sys_madvise(ExecProc& p, uint64_t addr, uint64_t len_in, int advice) {
    if (!page_aligned(addr))
        return err(EINVAL);
    // Linux's advice values 0..23 (MADV_NORMAL .. MADV_POPULATE_WRITE)
    // except the unassigned 5-7; 100/101 are MADV_HWPOISON/SOFT_OFFLINE.
    if (advice < 0 || advice > 25 || (advice >= 5 && advice <= 7))
        return err(EINVAL);
    if (len_in == 0)
        return 0;
    uint64_t len;
    if (!page_len(len_in, &len) || addr + len < addr)
        return err(EINVAL);
    MutexGuard g(p.lock);
    if (!p.map.is_covered(addr, addr + len))
        return err(ENOMEM);
    if (advice == k_madv_remove)
        return err(EINVAL); // only for shared file mappings
    if (advice != k_madv_dontneed)
        return 0; // MADV_FREE may keep the data; the rest is advice
    (void)k_madv_free;
    // MADV_DONTNEED: private anonymous pages read as zero afterwards,
    // private file pages as the file; shared anonymous memory keeps its
    // contents; the executable's own segments are left as they are.
    for (size_t i = 0; i < p.map.count(); i++) {
        const VmRegion& r = p.map.at(i);
        if (r.end <= addr || r.start >= addr + len)
            continue;
        if (r.kind == RegionKind::Shared || r.kind == RegionKind::Image)
            continue;
        uint64_t s = max(r.start, addr), e = min(r.end, addr + len);
        if (auto res = refresh_locked(p, r, s, e); res.is_error())
            return err(res.error());
    }
    return 0;
}

long sys_msync(ExecProc& p, uint64_t addr, uint64_t len_in, int flags) {
    if (!page_aligned(addr) || (flags & ~(k_ms_async | k_ms_invalidate | k_ms_sync)) ||
        ((flags & k_ms_async) && (flags & k_ms_sync)))
        return err(EINVAL);
    if (len_in == 0)
        return 0;
    uint64_t len;
    if (!page_len(len_in, &len) || addr + len < addr)
        return err(ENOMEM);
    MutexGuard g(p.lock);
    // No mapping writes back to a file, so there is nothing to do.
    return p.map.is_covered(addr, addr + len) ? 0 : err(ENOMEM);
}

long sys_mincore(ExecProc& p, uint64_t addr, uint64_t len_in, uint64_t vec) {
    if (!page_aligned(addr))
        return err(EINVAL);
    uint64_t len;
    if (!page_len(len_in, &len) || addr + len < addr)
        return len_in == 0 ? err(EINVAL) : err(ENOMEM);
    uint64_t pages = len / k_page;
    if (!user_access_ok(p, vec, pages, k_prot_write))
        return err(EFAULT);
    MutexGuard g(p.lock);
    if (!p.map.is_covered(addr, addr + len))
        return err(ENOMEM);
    // Residency is the platform's business (demand-zero); report every
    // mapped page as resident, which is what callers probing for a
    // mapping want to know.
    __builtin_memset(reinterpret_cast<void*>(vec), 1, pages);
    return 0;
}

void unmap_all(ExecProc& p) {
    MutexGuard g(p.lock);
    for (size_t i = 0; i < p.map.count(); i++) {
        const VmRegion& r = p.map.at(i);
        akhyp_vm_unmap(r.start, r.end - r.start);
    }
    p.map.clear();
}

} // namespace ak::exec
