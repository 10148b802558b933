// The address-space map (vmmap.h).
#include "vmmap.h"

namespace ak::exec {

namespace {

constexpr uint64_t k_page = 4096;

bool page_aligned(uint64_t v) {
    return (v & (k_page - 1)) == 0;
}

bool mergeable(const VmRegion& a, const VmRegion& b) {
    if (a.end != b.start || a.prot != b.prot || a.kind != b.kind || a.file.get() != b.file.get())
        return false;
    return a.kind != RegionKind::File || a.file_offset + (a.end - a.start) == b.file_offset;
}

} // namespace

size_t VmMap::lower_bound(uint64_t addr) const {
    size_t lo = 0, hi = m_regions.size();
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (m_regions[mid].end <= addr)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

const VmRegion* VmMap::find(uint64_t addr) const {
    size_t i = lower_bound(addr);
    if (i < m_regions.size() && m_regions[i].start <= addr)
        return &m_regions[i];
    return nullptr;
}

bool VmMap::is_free(uint64_t start, uint64_t end) const {
    size_t i = lower_bound(start);
    return i == m_regions.size() || m_regions[i].start >= end;
}

bool VmMap::is_covered(uint64_t start, uint64_t end) const {
    return allows(start, end, 0);
}

bool VmMap::allows(uint64_t start, uint64_t end, int prot) const {
    uint64_t at = start;
    for (size_t i = lower_bound(start); at < end; i++) {
        if (i == m_regions.size())
            return false;
        const VmRegion& r = m_regions[i];
        if (r.start > at || (r.prot & prot) != prot)
            return false;
        at = r.end;
    }
    return true;
}

Result<uint64_t> VmMap::find_free_top_down(uint64_t len, uint64_t lo, uint64_t hi) const {
    if (len == 0 || !page_aligned(len) || hi < lo || hi - lo < len)
        return ENOMEM;
    // Walk the holes from the top: between region i-1 and region i.
    size_t i = lower_bound(hi);
    uint64_t hole_end = hi;
    if (i < m_regions.size() && m_regions[i].start < hi)
        hole_end = m_regions[i].start;
    for (;;) {
        uint64_t hole_start = i == 0 ? lo : max(lo, m_regions[i - 1].end);
        if (hole_end >= hole_start && hole_end - hole_start >= len)
            return hole_end - len;
        if (i == 0 || m_regions[i - 1].end <= lo)
            return ENOMEM;
        i--;
        hole_end = min(hole_end, m_regions[i].start);
        if (hole_end <= lo)
            return ENOMEM;
    }
}

Result<void> VmMap::insert_at(size_t i, VmRegion r) {
    if (m_regions.size() >= k_max_regions)
        return ENOMEM;
    TRY(m_regions.try_append(VmRegion{}));
    for (size_t j = m_regions.size() - 1; j > i; j--)
        m_regions[j] = move(m_regions[j - 1]);
    m_regions[i] = move(r);
    return {};
}

Result<void> VmMap::insert(VmRegion r) {
    if (!page_aligned(r.start) || !page_aligned(r.end) || r.start >= r.end)
        return EINVAL;
    if (!is_free(r.start, r.end))
        return EEXIST;
    size_t i = lower_bound(r.start);
    TRY(insert_at(i, move(r)));
    merge_around(i);
    return {};
}

Result<void> VmMap::split_at(uint64_t addr) {
    size_t i = lower_bound(addr);
    if (i == m_regions.size() || m_regions[i].start >= addr)
        return {};
    VmRegion upper;
    const VmRegion& r = m_regions[i];
    upper.start = addr;
    upper.end = r.end;
    upper.prot = r.prot;
    upper.kind = r.kind;
    upper.file = r.file;
    upper.file_offset = r.file_offset + (addr - r.start);
    TRY(insert_at(i + 1, move(upper)));
    m_regions[i].end = addr;
    return {};
}

void VmMap::merge_around(size_t i) {
    if (i + 1 < m_regions.size() && mergeable(m_regions[i], m_regions[i + 1])) {
        m_regions[i].end = m_regions[i + 1].end;
        m_regions.remove(i + 1);
    }
    if (i > 0 && i < m_regions.size() && mergeable(m_regions[i - 1], m_regions[i])) {
        m_regions[i - 1].end = m_regions[i].end;
        m_regions.remove(i);
    }
}

Result<void> VmMap::remove(uint64_t start, uint64_t end) {
    if (!page_aligned(start) || !page_aligned(end) || start >= end)
        return EINVAL;
    TRY(split_at(start));
    TRY(split_at(end));
    size_t i = lower_bound(start);
    while (i < m_regions.size() && m_regions[i].start < end)
        m_regions.remove(i);
    return {};
}

Result<void> VmMap::protect(uint64_t start, uint64_t end, int prot) {
    if (!page_aligned(start) || !page_aligned(end) || start >= end)
        return EINVAL;
    if (!is_covered(start, end))
        return ENOMEM;
    TRY(split_at(start));
    TRY(split_at(end));
    size_t first = lower_bound(start);
    size_t i = first;
    for (; i < m_regions.size() && m_regions[i].start < end; i++)
        m_regions[i].prot = prot;
    // Merge from the top so indexes below stay valid.
    for (size_t j = i; j-- > first;)
        merge_around(j);
    return {};
}

Result<void> VmMap::grow(uint64_t old_end, uint64_t new_end) {
    if (!page_aligned(old_end) || !page_aligned(new_end) || new_end <= old_end)
        return EINVAL;
    size_t i = lower_bound(old_end - 1);
    if (i == m_regions.size() || m_regions[i].end != old_end)
        return EINVAL;
    if (!is_free(old_end, new_end))
        return ENOMEM;
    m_regions[i].end = new_end;
    merge_around(i);
    return {};
}

} // namespace ak::exec
