// The address-space map of a process running a Linux executable: which
// page ranges are mapped, with what protection and what they are.  Pure
// bookkeeping (no hypercalls), so it is unit-tested on the host; the
// loader and the memory system calls keep it in step with the platform's
// page tables (akhyp_vm_*).
#pragma once

#include <ak/file.h>
#include <ak/refptr.h>
#include <ak/result.h>
#include <ak/vector.h>

namespace ak::exec {

// Linux PROT_* bits (mm/mman ABI).
constexpr int k_prot_read = 1;
constexpr int k_prot_write = 2;
constexpr int k_prot_exec = 4;

enum class RegionKind : uint8_t {
    Image,  // a PT_LOAD segment of the executable
    Brk,    // the heap (brk)
    Stack,  // the main thread's stack
    Anon,   // anonymous mmap (private)
    Shared, // anonymous MAP_SHARED (one process: same as private)
    File,   // private copy of a file's bytes (mmap of a descriptor)
};

struct VmRegion {
    uint64_t start = 0, end = 0; // page aligned, start < end
    int prot = 0;                // k_prot_*
    RegionKind kind = RegionKind::Anon;
    RefPtr<File> file;        // File regions: where the bytes came from
    uint64_t file_offset = 0; // file offset of start
};

class VmMap : NonCopyable {
public:
    // Linux's default vm.max_map_count.
    static constexpr size_t k_max_regions = 65530;

    size_t count() const { return m_regions.size(); }
    const VmRegion& at(size_t i) const { return m_regions[i]; }

    // The region containing addr, or nullptr.
    const VmRegion* find(uint64_t addr) const;
    // No region intersects [start, end).
    bool is_free(uint64_t start, uint64_t end) const;
    // Every page of [start, end) is in some region.
    bool is_covered(uint64_t start, uint64_t end) const;
    // Every page of [start, end) is mapped with all of prot.
    bool allows(uint64_t start, uint64_t end, int prot) const;
    // The highest len-byte hole inside [lo, hi) (page aligned); ENOMEM if none.
    Result<uint64_t> find_free_top_down(uint64_t len, uint64_t lo, uint64_t hi) const;

    // Add r; [r.start, r.end) must be free (EEXIST otherwise), page aligned
    // (EINVAL).  ENOMEM at k_max_regions or when allocation fails.
    Result<void> insert(VmRegion r);
    // Forget every mapping in [start, end), splitting regions that straddle
    // its ends.  Unmapped parts are fine (munmap semantics).
    Result<void> remove(uint64_t start, uint64_t end);
    // Set the protection of [start, end), splitting as needed; ENOMEM when a
    // page of the range is not mapped (mprotect semantics; nothing changed).
    Result<void> protect(uint64_t start, uint64_t end, int prot);
    // Extend the region ending at old_end to new_end (mremap in place); the
    // range [old_end, new_end) must be free.
    Result<void> grow(uint64_t old_end, uint64_t new_end);

    void clear() { m_regions.clear(); }

private:
    // Index of the first region whose end is above addr.
    size_t lower_bound(uint64_t addr) const;
    Result<void> insert_at(size_t i, VmRegion r);
    // Split so that a region boundary falls at addr (no-op if addr is
    // unmapped or already a boundary).
    Result<void> split_at(uint64_t addr);
    void merge_around(size_t i);

    Vector<VmRegion> m_regions; // sorted by start, disjoint
};

} // namespace ak::exec
