// The address-space map: munmap splits, mprotect splits and merges,
// top-down placement, growth in place.
#include "vmmap.h"

#include <doctest/doctest.h>

#include <string>

using namespace ak::exec;

namespace {

constexpr uint64_t P = 4096;

VmRegion region(uint64_t start, uint64_t end, int prot, RegionKind kind = RegionKind::Anon) {
    VmRegion r;
    r.start = start;
    r.end = end;
    r.prot = prot;
    r.kind = kind;
    return r;
}

// "[start,end):prot ..." in pages, for compact expectations.
std::string dump(const VmMap& m) {
    std::string s;
    for (size_t i = 0; i < m.count(); i++) {
        const VmRegion& r = m.at(i);
        if (!s.empty())
            s += " ";
        s += "[" + std::to_string(r.start / P) + "," + std::to_string(r.end / P) +
             "):" + std::to_string(r.prot);
    }
    return s;
}

} // namespace

TEST_CASE("insert keeps order, refuses overlap and merges like neighbours") {
    VmMap m;
    CHECK(m.insert(region(10 * P, 20 * P, 3)).ok());
    CHECK(m.insert(region(30 * P, 40 * P, 3)).ok());
    CHECK(m.insert(region(15 * P, 16 * P, 3)).error() == EEXIST);
    CHECK(m.insert(region(5 * P, 11 * P, 3)).error() == EEXIST);
    CHECK(m.insert(region(5 * P + 1, 6 * P, 3)).error() == EINVAL);
    CHECK(m.insert(region(6 * P, 6 * P, 3)).error() == EINVAL);
    CHECK(m.insert(region(20 * P, 30 * P, 3)).ok()); // fills the gap: one region
    CHECK(dump(m) == "[10,40):3");
    CHECK(m.insert(region(40 * P, 41 * P, 1)).ok()); // other prot: separate
    CHECK(dump(m) == "[10,40):3 [40,41):1");
    CHECK(m.find(10 * P)->end == 40 * P);
    CHECK(m.find(41 * P) == nullptr);
    CHECK(m.find(9 * P + 4095) == nullptr);
}

TEST_CASE("remove splits straddling regions and ignores holes") {
    VmMap m;
    REQUIRE(m.insert(region(10 * P, 20 * P, 3)).ok());
    REQUIRE(m.insert(region(30 * P, 40 * P, 1)).ok());
    CHECK(m.remove(12 * P, 14 * P).ok());
    CHECK(dump(m) == "[10,12):3 [14,20):3 [30,40):1");
    CHECK(m.remove(18 * P, 32 * P).ok());
    CHECK(dump(m) == "[10,12):3 [14,18):3 [32,40):1");
    CHECK(m.remove(0, 100 * P).ok());
    CHECK(m.count() == 0);
    CHECK(m.remove(0, 0).error() == EINVAL);
}

TEST_CASE("protect needs the whole range mapped, splits and merges back") {
    VmMap m;
    REQUIRE(m.insert(region(10 * P, 20 * P, 3)).ok());
    CHECK(m.protect(12 * P, 13 * P, 1).ok());
    CHECK(dump(m) == "[10,12):3 [12,13):1 [13,20):3");
    CHECK(m.allows(12 * P, 13 * P, 1));
    CHECK(!m.allows(11 * P, 13 * P, 2));
    CHECK(m.allows(10 * P, 12 * P, 3));
    CHECK(m.protect(12 * P, 13 * P, 3).ok());
    CHECK(dump(m) == "[10,20):3");
    CHECK(m.protect(15 * P, 25 * P, 1).error() == ENOMEM); // hole at 20..25
    CHECK(dump(m) == "[10,20):3");                         // unchanged
    CHECK(m.is_covered(10 * P, 20 * P));
    CHECK(!m.is_covered(9 * P, 20 * P));
}

TEST_CASE("top-down placement finds the highest hole that fits") {
    VmMap m;
    uint64_t lo = 100 * P, hi = 200 * P;
    CHECK(m.find_free_top_down(10 * P, lo, hi).value() == 190 * P);
    REQUIRE(m.insert(region(190 * P, 200 * P, 3)).ok());
    REQUIRE(m.insert(region(150 * P, 185 * P, 3)).ok());
    // 185..190 holds 5 pages, not 10.
    CHECK(m.find_free_top_down(5 * P, lo, hi).value() == 185 * P);
    CHECK(m.find_free_top_down(10 * P, lo, hi).value() == 140 * P);
    CHECK(m.find_free_top_down(50 * P, lo, hi).value() == 100 * P);
    CHECK(m.find_free_top_down(51 * P, lo, hi).error() == ENOMEM);
    // A region above hi does not matter; one straddling lo limits the hole.
    REQUIRE(m.insert(region(90 * P, 110 * P, 3)).ok());
    CHECK(m.find_free_top_down(40 * P, lo, hi).value() == 110 * P);
    CHECK(m.find_free_top_down(41 * P, lo, hi).error() == ENOMEM);
    CHECK(m.find_free_top_down(0, lo, hi).error() == ENOMEM);
}

TEST_CASE("grow extends a region into free space only") {
    VmMap m;
    REQUIRE(m.insert(region(10 * P, 20 * P, 3)).ok());
    REQUIRE(m.insert(region(30 * P, 40 * P, 1)).ok());
    CHECK(m.grow(20 * P, 25 * P).ok());
    CHECK(dump(m) == "[10,25):3 [30,40):1");
    CHECK(m.grow(25 * P, 31 * P).error() == ENOMEM);
    CHECK(m.grow(24 * P, 26 * P).error() == EINVAL); // not a region's end
}

TEST_CASE("file regions keep their offsets through splits") {
    VmMap m;
    VmRegion r = region(10 * P, 20 * P, 1, RegionKind::File);
    r.file_offset = 3 * P;
    REQUIRE(m.insert(ak::move(r)).ok());
    CHECK(m.remove(12 * P, 13 * P).ok());
    REQUIRE(m.count() == 2);
    CHECK(m.at(0).file_offset == 3 * P);
    CHECK(m.at(1).start == 13 * P);
    CHECK(m.at(1).file_offset == 6 * P);
}
