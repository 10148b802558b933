// The user address space (hypercall user group): akhyp_vm_*.
//
// User memory lives in the one page-table tree the kernel runs on (no
// address-space switch, no SMEP/SMAP: the kernel touches user memory
// directly).  The identity map of RAM stays supervisor-only; two areas are
// user memory:
//
//  - General area [512 GiB, 128 TiB - 4 GiB): PML4 entries 1..255, 4 KiB
//    pages.  Upper levels are P|W|U (the leaves decide).  A leaf is 0
//    (nothing mapped) or carries k_sw_mapped and the protection in bits
//    52-54 (ignored by the CPU).  A mapped page gets its physical page on
//    first touch (k_sw_frame, address in the usual place), and is present
//    unless its protection is PROT_NONE, in which case the page is kept
//    but not present.
//  - Executable window (__ak_exec_window_lo/_hi, 2 MiB aligned, below
//    4 GiB): identity-mapped RAM kept from the page allocator at boot.
//    Its 2 MiB pages are split into 4 KiB pages the first time the window
//    is mapped, so protection works per page as in the general area; a
//    page stays present for the kernel (supervisor) and gets U when
//    mapped with a protection other than PROT_NONE.
//
// Interrupts off is the lock (one CPU): every page-table change and its
// TLB invalidation happen under an IrqGuard, a page table's worth at a
// time, and freed pages are unreachable through the TLB before the guard
// ends.  The page-fault handler runs with interrupts off too.
#include "platform.h"

extern "C" uint64_t ak_boot_pml4[], ak_boot_pdpt[];
extern "C" char __image_end[];
// Absolute symbols ak-bake gives the linker (-Wl,--defsym); weak, so
// images without a window link (their address is then 0).
extern "C" [[gnu::weak]] char __ak_exec_window_lo[];
extern "C" [[gnu::weak]] char __ak_exec_window_hi[];

namespace akkvm {
namespace {

constexpr uint64_t k_general_lo = uint64_t(1) << 39;                         // 512 GiB
constexpr uint64_t k_general_hi = (uint64_t(1) << 47) - (uint64_t(4) << 30); // 128 TiB - 4 GiB
constexpr uint64_t k_2m = uint64_t(1) << 21;
constexpr uint64_t k_sw_mapped = uint64_t(1) << 9;
constexpr uint64_t k_sw_frame = uint64_t(1) << 10;
constexpr int k_prot_shift = 52;
constexpr int k_prot_all = AKHYP_PROT_READ | AKHYP_PROT_WRITE | AKHYP_PROT_EXEC;
// Above this many invalidations in one page table, reload CR3 instead.
constexpr unsigned k_invlpg_max = 32;

// Taken by value at build time: a weak undefined symbol reads as 0.
char* const g_window_lo_sym = __ak_exec_window_lo;
char* const g_window_hi_sym = __ak_exec_window_hi;
bool g_nx;

int prot_of(uint64_t pte) {
    return int(pte >> k_prot_shift) & k_prot_all;
}

uint64_t* table_at(uint64_t entry) {
    return reinterpret_cast<uint64_t*>(entry & k_pte_addr);
}

void invlpg(uint64_t va) {
    asm volatile("invlpg (%0)" ::"r"(va) : "memory");
}

void reload_cr3() {
    asm volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: "rax", "memory");
}

// Invalidations for one IrqGuard section: invlpg for the first few, then
// a CR3 reload at the end.
class TlbBatch {
public:
    void add(uint64_t va) {
        if (++m_count <= k_invlpg_max)
            invlpg(va);
    }
    void tables_changed() { m_count = k_invlpg_max + 1; }
    ~TlbBatch() {
        if (m_count > k_invlpg_max)
            reload_cr3();
    }

private:
    unsigned m_count = 0;
};

// The hardware bits of a user page with prot (present, U, W, NX).
uint64_t user_bits(int prot) {
    uint64_t bits = k_pte_present | k_pte_user;
    if (prot & AKHYP_PROT_WRITE)
        bits |= k_pte_write;
    if (g_nx && !(prot & AKHYP_PROT_EXEC))
        bits |= k_pte_nx;
    return bits;
}

// A general-area leaf: mapped with prot, with or without its page yet.
uint64_t general_entry(uint64_t frame, int prot) {
    uint64_t e = k_sw_mapped | uint64_t(prot) << k_prot_shift;
    if (!frame)
        return e;
    e |= frame | k_sw_frame;
    return prot ? e | user_bits(prot) : e;
}

// A window leaf for the identity page at pa: supervisor read/write when
// not user memory (or PROT_NONE), else a user page with prot.
uint64_t window_entry(uint64_t pa, bool mapped, int prot) {
    if (!mapped)
        return pa | k_pte_present | k_pte_write;
    uint64_t e = pa | k_sw_mapped | uint64_t(prot) << k_prot_shift;
    return prot ? e | user_bits(prot) : e | k_pte_present | k_pte_write;
}

// The page-directory entry above a general-area address (its page
// table's slot), or nullptr when a directory on the way is missing and
// create is false (or no page is left for one).
uint64_t* general_pde(uint64_t va, bool create) {
    uint64_t* table = ak_boot_pml4;
    for (int shift = 39; shift > 21; shift -= 9) {
        uint64_t& e = table[(va >> shift) & 511];
        if (!(e & k_pte_present)) {
            if (!create)
                return nullptr;
            void* page = page_alloc(1);
            if (!page)
                return nullptr;
            __builtin_memset(page, 0, k_page_size);
            e = reinterpret_cast<uint64_t>(page) | k_pte_present | k_pte_write | k_pte_user;
        }
        table = table_at(e);
    }
    return &table[(va >> 21) & 511];
}

// The leaf for a general-area address (see general_pde).
uint64_t* general_pte(uint64_t va, bool create) {
    uint64_t* pde = general_pde(va, create);
    if (!pde)
        return nullptr;
    if (!(*pde & k_pte_present)) {
        if (!create)
            return nullptr;
        void* page = page_alloc(1);
        if (!page)
            return nullptr;
        __builtin_memset(page, 0, k_page_size);
        *pde = reinterpret_cast<uint64_t>(page) | k_pte_present | k_pte_write | k_pte_user;
    }
    return table_at(*pde) + ((va >> 12) & 511);
}

// The page directory entry mapping the 2 MiB page at va (below 4 GiB).
uint64_t& identity_pde(uint64_t va) {
    return table_at(ak_boot_pdpt[va >> 30])[(va >> 21) & 511];
}

// Splits the window's 2 MiB page at va into a table of 4 KiB supervisor
// pages (same memory, same cacheability); U on the directory entry lets
// the leaves decide.  Interrupts off.  False when out of memory.
bool window_split(uint64_t va, TlbBatch& tlb) {
    uint64_t& pde = identity_pde(va);
    if (!(pde & k_pte_large))
        return true;
    auto pt = static_cast<uint64_t*>(page_alloc(1));
    if (!pt)
        return false;
    uint64_t base = va & ~(k_2m - 1);
    for (unsigned i = 0; i < 512; i++)
        pt[i] = window_entry(base + i * k_page_size, false, 0);
    pde = reinterpret_cast<uint64_t>(pt) | k_pte_present | k_pte_write | k_pte_user;
    tlb.tables_changed();
    return true;
}

uint64_t* window_pte(uint64_t va) {
    return table_at(identity_pde(va)) + ((va >> 12) & 511);
}

enum class Area { None, General, Window };

// Decode a range: va page-aligned, len > 0 (rounded up to pages), inside
// one area, prot known.  *end receives the rounded end.
Area decode(uintptr_t va, size_t len, int prot, uint64_t* end) {
    if ((va & (k_page_size - 1)) || len == 0 || (prot & ~k_prot_all))
        return Area::None;
    uint64_t e = va + ((uint64_t(len) + k_page_size - 1) & ~(k_page_size - 1));
    if (e < va || len > e - va) // wrapped, or len rounded past 2^64
        return Area::None;
    *end = e;
    if (va >= k_general_lo && e <= k_general_hi)
        return Area::General;
    uint64_t lo, hi;
    if (exec_window(&lo, &hi) && va >= lo && e <= hi)
        return Area::Window;
    return Area::None;
}

// The next page-table boundary after va, capped at end.
uint64_t chunk_end(uint64_t va, uint64_t end) {
    uint64_t next = (va | (k_2m - 1)) + 1;
    return next < end ? next : end;
}

bool table_empty(const uint64_t* pt) {
    for (unsigned i = 0; i < 512; i++)
        if (pt[i])
            return false;
    return true;
}

int general_map(uint64_t va, uint64_t end, int prot) {
    // Tables first, so that running out of memory changes nothing.
    for (uint64_t a = va; a < end; a = chunk_end(a, end)) {
        IrqGuard guard;
        if (!general_pte(a, true))
            return 12; // ENOMEM
    }
    for (uint64_t a = va; a < end;) {
        uint64_t stop = chunk_end(a, end);
        IrqGuard guard;
        TlbBatch tlb;
        for (uint64_t* pte = general_pte(a, false); a < stop; a += k_page_size, pte++) {
            uint64_t old = *pte;
            *pte = general_entry(0, prot);
            if (old & k_pte_present)
                tlb.add(a);
            if (old & k_sw_frame)
                page_free(reinterpret_cast<void*>(old & k_pte_addr), 1);
        }
    }
    return 0;
}

void general_unmap(uint64_t va, uint64_t end) {
    for (uint64_t a = va; a < end;) {
        uint64_t stop = chunk_end(a, end);
        IrqGuard guard;
        uint64_t* pde = general_pde(a, false);
        if (!pde || !(*pde & k_pte_present)) {
            a = stop;
            continue;
        }
        TlbBatch tlb;
        uint64_t* table = table_at(*pde);
        for (uint64_t* pte = table + ((a >> 12) & 511); a < stop; a += k_page_size, pte++) {
            uint64_t old = *pte;
            *pte = 0;
            if (old & k_pte_present)
                tlb.add(a);
            if (old & k_sw_frame)
                page_free(reinterpret_cast<void*>(old & k_pte_addr), 1);
        }
        // An empty page table goes back to the allocator (directories
        // above stay: one page per GiB of address space used).
        if (table_empty(table)) {
            *pde = 0;
            page_free(table, 1);
            tlb.tables_changed();
        }
    }
}

int general_protect(uint64_t va, uint64_t end, int prot) {
    for (uint64_t a = va; a < end;) {
        uint64_t stop = chunk_end(a, end);
        IrqGuard guard;
        uint64_t* pte = general_pte(a, false);
        for (; a < stop; a += k_page_size, pte++)
            if (!pte || !(*pte & k_sw_mapped))
                return 12; // ENOMEM, as mprotect of unmapped memory
    }
    for (uint64_t a = va; a < end;) {
        uint64_t stop = chunk_end(a, end);
        IrqGuard guard;
        TlbBatch tlb;
        for (uint64_t* pte = general_pte(a, false); a < stop; a += k_page_size, pte++) {
            uint64_t old = *pte;
            *pte = general_entry(old & k_sw_frame ? old & k_pte_addr : 0, prot);
            if (old & k_pte_present)
                tlb.add(a);
        }
    }
    return 0;
}

int window_map(uint64_t va, uint64_t end, int prot) {
    for (uint64_t a = va & ~(k_2m - 1); a < end; a += k_2m) {
        IrqGuard guard;
        TlbBatch tlb;
        if (!window_split(a, tlb))
            return 12; // ENOMEM
    }
    for (uint64_t a = va; a < end; a += k_page_size) {
        IrqGuard guard;
        uint64_t* pte = window_pte(a);
        *pte = window_entry(a, false, 0); // writable for the kernel
        invlpg(a);
        __builtin_memset(reinterpret_cast<void*>(a), 0, k_page_size);
        *pte = window_entry(a, true, prot);
        invlpg(a);
    }
    return 0;
}

void window_unmap(uint64_t va, uint64_t end) {
    for (uint64_t a = va; a < end;) {
        uint64_t stop = chunk_end(a, end);
        IrqGuard guard;
        if (identity_pde(a) & k_pte_large) { // never split: never mapped
            a = stop;
            continue;
        }
        TlbBatch tlb;
        for (uint64_t* pte = window_pte(a); a < stop; a += k_page_size, pte++)
            if (*pte & k_sw_mapped) {
                *pte = window_entry(a, false, 0);
                tlb.add(a);
            }
    }
}

int window_protect(uint64_t va, uint64_t end, int prot) {
    for (uint64_t a = va; a < end;) {
        uint64_t stop = chunk_end(a, end);
        IrqGuard guard;
        if (identity_pde(a) & k_pte_large)
            return 12; // ENOMEM: never mapped
        for (uint64_t* pte = window_pte(a); a < stop; a += k_page_size, pte++)
            if (!(*pte & k_sw_mapped))
                return 12;
    }
    for (uint64_t a = va; a < end;) {
        uint64_t stop = chunk_end(a, end);
        IrqGuard guard;
        TlbBatch tlb;
        for (uint64_t* pte = window_pte(a); a < stop; a += k_page_size, pte++) {
            *pte = window_entry(a, true, prot);
            tlb.add(a);
        }
    }
    return 0;
}

} // namespace

bool exec_window(uint64_t* lo, uint64_t* hi) {
    *lo = reinterpret_cast<uint64_t>(g_window_lo_sym);
    *hi = reinterpret_cast<uint64_t>(g_window_hi_sym);
    return *lo || *hi;
}

void vm_init(bool nx) {
    g_nx = nx;
    // The identity map's upper levels (PML4[0], its PDPT entries below
    // 4 GiB) get U so the leaves decide: 2 MiB leaves stay supervisor,
    // including the first (page 0: a user NULL dereference faults), and
    // window pages become user pages one by one.
    ak_boot_pml4[0] |= k_pte_user;
    for (unsigned i = 0; i < 4; i++)
        ak_boot_pdpt[i] |= k_pte_user;
    reload_cr3();
}

bool vm_user_address(uint64_t addr) {
    uint64_t lo, hi;
    if (addr >= k_general_lo && addr < k_general_hi)
        return true;
    return exec_window(&lo, &hi) && addr >= lo && addr < hi;
}

FaultResult vm_resolve_fault(uint64_t addr, uint64_t error) {
    if (addr < k_general_lo || addr >= k_general_hi)
        return FaultResult::NotMapped;
    uint64_t va = addr & ~(k_page_size - 1);
    uint64_t* pte = general_pte(va, false);
    if (!pte || !(*pte & k_sw_mapped))
        return FaultResult::NotMapped;
    int prot = prot_of(*pte);
    if (prot == AKHYP_PROT_NONE || ((error & k_pf_write) && !(prot & AKHYP_PROT_WRITE)) ||
        (g_nx && (error & k_pf_fetch) && !(prot & AKHYP_PROT_EXEC)))
        return FaultResult::Denied;
    if (*pte & k_pte_present) {
        invlpg(va); // a stale TLB entry: the access is allowed now
        return FaultResult::Resolved;
    }
    uint64_t frame = *pte & k_sw_frame ? *pte & k_pte_addr : 0;
    if (!frame) {
        void* page = page_alloc(1);
        if (!page)
            return FaultResult::NoMemory;
        __builtin_memset(page, 0, k_page_size);
        frame = reinterpret_cast<uint64_t>(page);
    }
    *pte = general_entry(frame, prot);
    return FaultResult::Resolved;
}

} // namespace akkvm

using namespace akkvm;

extern "C" int akhyp_vm_range(int area, uintptr_t* lo, uintptr_t* hi) {
    if (area == AKHYP_VM_GENERAL) {
        *lo = k_general_lo;
        *hi = k_general_hi;
        return 0;
    }
    if (area != AKHYP_VM_EXEC_WINDOW)
        return 22; // EINVAL
    uint64_t l, h;
    if (!exec_window(&l, &h))
        return 2; // ENOENT
    *lo = l;
    *hi = h;
    return 0;
}

namespace {
// Runs the general area's or the window's version of an operation on
// [va, va+len), or answers EINVAL when the range is in neither.
template <class General, class Window>
int by_area(uintptr_t va, size_t len, int prot, General general, Window window) {
    uint64_t end;
    switch (decode(va, len, prot, &end)) {
    case Area::General:
        return general(va, end);
    case Area::Window:
        return window(va, end);
    case Area::None:
        break;
    }
    return 22; // EINVAL
}
} // namespace

extern "C" int akhyp_vm_map(uintptr_t va, size_t len, int prot) {
    return by_area(
        va, len, prot, [prot](uint64_t a, uint64_t e) { return general_map(a, e, prot); },
        [prot](uint64_t a, uint64_t e) { return window_map(a, e, prot); });
}

extern "C" int akhyp_vm_unmap(uintptr_t va, size_t len) {
    return by_area(
        va, len, 0, [](uint64_t a, uint64_t e) { return general_unmap(a, e), 0; },
        [](uint64_t a, uint64_t e) { return window_unmap(a, e), 0; });
}

extern "C" int akhyp_vm_protect(uintptr_t va, size_t len, int prot) {
    return by_area(
        va, len, prot, [prot](uint64_t a, uint64_t e) { return general_protect(a, e, prot); },
        [prot](uint64_t a, uint64_t e) { return window_protect(a, e, prot); });
}
