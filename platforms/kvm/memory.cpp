// Physical pages and akhyp_malloc.
//
// Pages: one bit per 4 KiB page from 0 to the top of RAM (1 = in use or not
// RAM), next-fit search.  Memory below 1 MiB (firmware, PVH start_info),
// the image itself and the executable window (vm.cpp: the identity pages
// a fixed-address executable is loaded into) are never handed out.
//
// malloc: power-of-two size classes 16..2048 bytes carved from pages, one
// free list per class; larger requests take whole pages.  An object of
// class C is C-aligned, which gives any alignment up to the page size.  A
// byte per page records the class its objects belong to, so akhyp_free
// finds the class even when the alignment, not the size, chose it.
// Pages of small classes are not returned to the page pool (a kernel's
// allocation pattern is dominated by its own kmem caches above this).
#include "platform.h"

extern "C" char __image_start[], __image_end[];
extern "C" uint64_t ak_boot_pdpt[];

namespace akkvm {
namespace {

uint64_t* g_bitmap;
uint8_t* g_page_class; // per page: size-class shift, or k_class_pages
constexpr uint8_t k_class_pages = 0xff;
size_t g_npages, g_hint, g_free_pages, g_total_pages;
uint64_t g_top;

constexpr int k_min_shift = 4, k_max_shift = 11; // 16 .. 2048 bytes
void* g_free_lists[k_max_shift + 1];

bool page_used(size_t i) {
    return g_bitmap[i >> 6] >> (i & 63) & 1;
}
void mark(size_t first, size_t n, bool used) {
    for (size_t i = first; i < first + n; i++) {
        if (used)
            g_bitmap[i >> 6] |= uint64_t(1) << (i & 63);
        else
            g_bitmap[i >> 6] &= ~(uint64_t(1) << (i & 63));
    }
}

size_t find_run(size_t from, size_t to, size_t n) {
    size_t run = 0, start = 0;
    for (size_t i = from; i < to;) {
        if ((i & 63) == 0 && g_bitmap[i >> 6] == ~uint64_t(0)) {
            run = 0;
            i += 64;
            continue;
        }
        if (page_used(i)) {
            run = 0;
            i++;
            continue;
        }
        if (run++ == 0)
            start = i;
        if (run == n)
            return start;
        i++;
    }
    return ~size_t(0);
}

constexpr size_t k_max_ram_ranges = 64;
MemoryRange g_ram_ranges[k_max_ram_ranges];
size_t g_nram_ranges;

// The boot page tables map [0, 4 GiB); map RAM above that with 2 MiB pages
// (flags 0x83: present, writable, large; devices add PCD | PWT).
void map_high(uint64_t base, uint64_t end, uint64_t flags = 0x83) {
    for (uint64_t a = base & ~((uint64_t(1) << 21) - 1); a < end; a += uint64_t(1) << 21) {
        size_t pdpt_index = a >> 30;
        if (pdpt_index >= 512)
            panic("RAM above 512 GiB is not supported");
        if (!(ak_boot_pdpt[pdpt_index] & 1)) {
            auto pd = static_cast<uint64_t*>(page_alloc(1));
            if (!pd)
                panic("no memory for page tables");
            __builtin_memset(pd, 0, k_page_size);
            ak_boot_pdpt[pdpt_index] = reinterpret_cast<uint64_t>(pd) | 3;
        }
        auto pd = reinterpret_cast<uint64_t*>(ak_boot_pdpt[pdpt_index] & ~uint64_t(0xfff));
        if (!(pd[(a >> 21) & 511] & 1))
            pd[(a >> 21) & 511] = a | flags;
    }
}

// The boot map made all of [0, 4 GiB) write-back.  2 MiB pages holding no
// RAM are device windows (LAPIC, IOAPIC, HPET, PCI BARs): make them
// uncached, which VMMs without firmware MTRRs (no SeaBIOS/qboot) rely on.
void uncache_holes(const MemoryRange* ram, size_t n) {
    constexpr uint64_t k_2m = uint64_t(1) << 21;
    for (uint64_t a = 0; a < (uint64_t(4) << 30); a += k_2m) {
        bool has_ram = a == 0; // the first 2 MiB always holds firmware RAM
        for (size_t i = 0; i < n && !has_ram; i++)
            has_ram = ram[i].base < a + k_2m && ram[i].base + ram[i].size > a;
        if (has_ram)
            continue;
        auto pd = reinterpret_cast<uint64_t*>(ak_boot_pdpt[a >> 30] & ~uint64_t(0xfff));
        pd[(a >> 21) & 511] |= 0x18; // PCD | PWT
    }
}

int size_shift(size_t size) {
    int s = k_min_shift;
    while ((size_t(1) << s) < size)
        s++;
    return s;
}

// The executable window must be 2 MiB aligned RAM above the image and
// below 4 GiB (the boot map's reach): ak-bake's contract (docs/kvm.md).
void check_window(const MemoryRange* ram, size_t n, uint64_t lo, uint64_t hi) {
    constexpr uint64_t k_2m = uint64_t(1) << 21;
    if (lo >= hi || (lo & (k_2m - 1)) || (hi & (k_2m - 1)) || hi > (uint64_t(4) << 30))
        panic("executable window [%p, %p) is not 2 MiB aligned below 4 GiB",
              reinterpret_cast<void*>(lo), reinterpret_cast<void*>(hi));
    if (uint64_t(__image_end) > lo)
        panic("the image (ends at %p) overlaps the executable window [%p, %p): it must lie "
              "below it",
              __image_end, reinterpret_cast<void*>(lo), reinterpret_cast<void*>(hi));
    for (size_t i = 0; i < n; i++)
        if (ram[i].base <= lo && hi <= ram[i].base + ram[i].size)
            return;
    panic("executable window [%p, %p) is not RAM (give the guest more memory)",
          reinterpret_cast<void*>(lo), reinterpret_cast<void*>(hi));
}

} // namespace

void memory_init(const MemoryRange* ram, size_t n) {
    for (size_t i = 0; i < n && i < k_max_ram_ranges; i++)
        g_ram_ranges[g_nram_ranges++] = ram[i];
    const uint64_t low = 0x100000;
    const uint64_t img_lo = uint64_t(__image_start), img_hi = uint64_t(__image_end);
    for (size_t i = 0; i < n; i++)
        if (ram[i].base + ram[i].size > g_top)
            g_top = ram[i].base + ram[i].size;
    g_npages = g_top / k_page_size;
    size_t bitmap_bytes = ((g_npages + 63) / 64) * 8 + g_npages;
    uint64_t win_lo = 0, win_hi = 0;
    if (exec_window(&win_lo, &win_hi))
        check_window(ram, n, win_lo, win_hi);

    // The bitmap goes at the start of the first range (above the image and
    // the executable window) big enough for it.
    for (size_t i = 0; i < n && !g_bitmap; i++) {
        uint64_t b = ram[i].base < low ? low : ram[i].base;
        if (b < img_hi && ram[i].base + ram[i].size > img_lo)
            b = img_hi;
        b = (b + k_page_size - 1) & ~(k_page_size - 1);
        if (b < win_hi && b + bitmap_bytes > win_lo)
            b = win_hi;
        if (b + bitmap_bytes <= ram[i].base + ram[i].size &&
            b + bitmap_bytes <= (uint64_t(4) << 30))
            g_bitmap = reinterpret_cast<uint64_t*>(b);
    }
    if (!g_bitmap)
        panic("no room for the page bitmap (%lu pages)", g_npages);
    __builtin_memset(g_bitmap, 0xff, bitmap_bytes);
    g_page_class = reinterpret_cast<uint8_t*>(g_bitmap + (g_npages + 63) / 64);

    for (size_t i = 0; i < n; i++) {
        uint64_t b = (ram[i].base + k_page_size - 1) / k_page_size;
        uint64_t e = (ram[i].base + ram[i].size) / k_page_size;
        if (b < low / k_page_size)
            b = low / k_page_size;
        if (e > b)
            mark(b, e - b, false);
    }
    auto reserve = [](uint64_t lo, uint64_t hi) {
        mark(lo / k_page_size, (hi + k_page_size - 1) / k_page_size - lo / k_page_size, true);
    };
    reserve(img_lo, img_hi);
    if (win_hi)
        reserve(win_lo, win_hi);
    reserve(uint64_t(g_bitmap), uint64_t(g_bitmap) + bitmap_bytes);
    for (size_t i = 0; i < g_npages; i++)
        g_free_pages += !page_used(i);
    g_total_pages = g_free_pages;
    g_hint = low / k_page_size;

    uncache_holes(ram, n);
    for (size_t i = 0; i < n; i++)
        if (ram[i].base + ram[i].size > (uint64_t(4) << 30))
            map_high(ram[i].base < (uint64_t(4) << 30) ? uint64_t(4) << 30 : ram[i].base,
                     ram[i].base + ram[i].size);
    asm volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: "rax", "memory");
}

void* page_alloc(size_t npages) {
    IrqGuard guard;
    if (npages == 0 || npages > g_free_pages)
        return nullptr;
    size_t start = find_run(g_hint, g_npages, npages);
    if (start == ~size_t(0))
        start = find_run(0, g_hint + npages < g_npages ? g_hint + npages : g_npages, npages);
    if (start == ~size_t(0))
        return nullptr;
    mark(start, npages, true);
    g_free_pages -= npages;
    g_hint = start + npages;
    return reinterpret_cast<void*>(start * k_page_size);
}

void page_free(void* p, size_t npages) {
    IrqGuard guard;
    size_t first = reinterpret_cast<uint64_t>(p) / k_page_size;
    for (size_t i = first; i < first + npages; i++)
        if (i >= g_npages || !page_used(i))
            panic("page_free of a free page %p", p);
    mark(first, npages, false);
    g_free_pages += npages;
}

// Firmware memory below 1 MiB counts as RAM: no device driver may map it.
bool range_is_ram(uint64_t base, uint64_t len) {
    if (base < 0x100000)
        return true;
    for (size_t i = 0; i < g_nram_ranges; i++)
        if (base < g_ram_ranges[i].base + g_ram_ranges[i].size && g_ram_ranges[i].base < base + len)
            return true;
    return false;
}

// Below 4 GiB devices are already mapped (uncache_holes); above, map their
// 2 MiB pages uncached.
void map_device(uint64_t base, uint64_t end) {
    if (end <= (uint64_t(4) << 30))
        return;
    IrqGuard guard;
    map_high(base < (uint64_t(4) << 30) ? uint64_t(4) << 30 : base, end, 0x83 | 0x18);
    asm volatile("mov %%cr3, %%rax; mov %%rax, %%cr3" ::: "rax", "memory");
}

uint64_t memory_total() {
    return g_total_pages * k_page_size;
}
uint64_t memory_top() {
    return g_top;
}

} // namespace akkvm

using namespace akkvm;

extern "C" int akhyp_malloc(size_t size, size_t alignment, void** ret) {
    if (alignment == 0)
        alignment = 16;
    if ((alignment & (alignment - 1)) || alignment > k_page_size)
        return 22; // EINVAL: outside the contract
    if (size > (uint64_t(1) << 46))
        return 12; // ENOMEM: more than any guest has
    size_t need = size > alignment ? size : alignment;
    if (need > (size_t(1) << k_max_shift)) {
        void* p = page_alloc((size + k_page_size - 1) / k_page_size);
        if (!p)
            return 12; // ENOMEM
        g_page_class[reinterpret_cast<uint64_t>(p) / k_page_size] = k_class_pages;
        *ret = p;
        return 0;
    }
    int s = size_shift(need);
    IrqGuard guard;
    if (!g_free_lists[s]) {
        auto page = static_cast<char*>(page_alloc(1));
        if (!page)
            return 12;
        g_page_class[reinterpret_cast<uint64_t>(page) / k_page_size] = uint8_t(s);
        size_t object = size_t(1) << s;
        for (size_t off = k_page_size; off >= object; off -= object) {
            *reinterpret_cast<void**>(page + off - object) = g_free_lists[s];
            g_free_lists[s] = page + off - object;
        }
    }
    void* p = g_free_lists[s];
    g_free_lists[s] = *static_cast<void**>(p);
    *ret = p;
    return 0;
}

extern "C" void akhyp_free(void* ptr, size_t size) {
    if (!ptr)
        return;
    uint64_t page = reinterpret_cast<uint64_t>(ptr) / k_page_size;
    if (page >= g_npages || !page_used(page))
        panic("akhyp_free(%p, %zu): not allocated memory", ptr, size);
    uint8_t s = g_page_class[page];
    if (s == k_class_pages) {
        page_free(ptr, (size + k_page_size - 1) / k_page_size);
        return;
    }
    if (s < k_min_shift || s > k_max_shift || (size > (size_t(1) << s)))
        panic("akhyp_free(%p, %zu): size does not match the allocation", ptr, size);
    IrqGuard guard;
    *static_cast<void**>(ptr) = g_free_lists[s];
    g_free_lists[s] = ptr;
}
