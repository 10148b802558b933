// The block layer and buffer cache, through its kernel API on the POSIX
// platform (host temporary files as disks).
#include <ak/blk.h>

#include <anykern/anykern.h>
#include <anykern/disk.h>
#include <doctest/doctest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <string>
#include <vector>

using namespace ak;

namespace {

struct TempDisk {
    std::string path;
    explicit TempDisk(size_t size) {
        char tmpl[] = "/tmp/ak-blk-test-XXXXXX";
        int fd = mkstemp(tmpl);
        REQUIRE(fd >= 0);
        REQUIRE(ftruncate(fd, static_cast<off_t>(size)) == 0);
        close(fd);
        path = tmpl;
    }
    ~TempDisk() { unlink(path.c_str()); }
    std::vector<uint8_t> contents() const {
        std::vector<uint8_t> v;
        int fd = open(path.c_str(), O_RDONLY);
        uint8_t buf[65536];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0)
            v.insert(v.end(), buf, buf + n);
        close(fd);
        return v;
    }
};

void boot() {
    static bool up = [] {
        ak_setparam("bufcache", "512k"); // small, so eviction happens
        return ak_init() == 0;
    }();
    REQUIRE(up);
}

RefPtr<BlockDevice> attach(const TempDisk& d, const char* name, bool ro = false) {
    Result<RefPtr<BlockDevice>> r =
        BlockDevice::attach(StringView(d.path.c_str()), StringView(name), ro);
    REQUIRE(r.ok());
    return r.release_value();
}

} // namespace

TEST_CASE("blocks written through the cache reach the disk after sync") {
    boot();
    TempDisk disk(4 << 20);
    RefPtr<BlockDevice> dev = attach(disk, "t-sync");
    REQUIRE(dev->set_block_size(4096).ok());
    CHECK(dev->block_count() == 1024);
    for (uint64_t b = 0; b < 1024; b += 3) {
        Result<BufRef> r = dev->bzero(b);
        REQUIRE(r.ok());
        memset(r.value().data(), static_cast<int>(b & 0xff), 4096);
        r.value().mark_dirty();
    }
    REQUIRE(dev->sync().ok());
    std::vector<uint8_t> c = disk.contents();
    for (uint64_t b = 0; b < 1024; b++) {
        uint8_t want = b % 3 == 0 ? static_cast<uint8_t>(b & 0xff) : 0;
        CHECK(c[b * 4096] == want);
        CHECK(c[b * 4096 + 4095] == want);
    }
    // And back through the cache, most of it evicted by now (512 KiB).
    for (uint64_t b = 0; b < 1024; b += 7) {
        Result<BufRef> r = dev->bread(b);
        REQUIRE(r.ok());
        CHECK(r.value().data()[100] == (b % 3 == 0 ? static_cast<uint8_t>(b & 0xff) : 0));
    }
    CHECK(bcache_stats().bytes <= bcache_stats().limit + 64 * 4096);
    REQUIRE(ak_kern_disk_detach("t-sync") == 0);
}

TEST_CASE("readahead brings blocks in; reads past the end are EIO") {
    boot();
    TempDisk disk(1 << 20);
    {
        int fd = open(disk.path.c_str(), O_WRONLY);
        std::vector<uint8_t> pattern(1 << 20);
        for (size_t i = 0; i < pattern.size(); i++)
            pattern[i] = static_cast<uint8_t>(i / 1024);
        REQUIRE(pwrite(fd, pattern.data(), pattern.size(), 0) ==
                static_cast<ssize_t>(pattern.size()));
        close(fd);
    }
    RefPtr<BlockDevice> dev = attach(disk, "t-ra", true);
    REQUIRE(dev->set_block_size(1024).ok());
    dev->readahead(10, 100);
    for (uint64_t b = 10; b < 110; b++) {
        Result<BufRef> r = dev->bread(b);
        REQUIRE(r.ok());
        CHECK(r.value().data()[0] == static_cast<uint8_t>(b));
    }
    CHECK(dev->bread(1024).error() == EIO);
    CHECK(dev->bread(~0ull).error() == EIO);
    uint8_t sb[100];
    CHECK(dev->read_bytes(sb, sizeof sb, 1024 * 5 + 3).ok());
    CHECK(sb[0] == 5);
    CHECK(dev->read_bytes(sb, sizeof sb, (1 << 20) - 50).error() == EIO);
    REQUIRE(ak_kern_disk_detach("t-ra") == 0);
}

TEST_CASE("names, claims and read-only disks") {
    boot();
    TempDisk disk(64 * 1024);
    RefPtr<BlockDevice> dev = attach(disk, "t-names", true);
    CHECK(
        BlockDevice::attach(StringView(disk.path.c_str()), StringView("t-names"), false).error() ==
        EEXIST);
    CHECK(
        BlockDevice::attach(StringView(disk.path.c_str()), StringView("bad/name"), false).error() ==
        EINVAL);
    CHECK(BlockDevice::attach(StringView("/nonexistent/disk"), StringView("t-x"), false).error() ==
          ENOENT);
    CHECK(blk_find("t-names").ok());
    CHECK(blk_find("/dev/t-names").ok());
    CHECK(blk_find("/dev/t-none").error() == ENXIO);
    REQUIRE(dev->claim().ok());
    CHECK(dev->claim().error() == EBUSY);
    CHECK(ak_kern_disk_detach("t-names") == -EBUSY);
    dev->unclaim();
    // Writes to a read-only disk are refused at the platform.
    REQUIRE(dev->set_block_size(1024).ok());
    {
        Result<BufRef> r = dev->bzero(3);
        REQUIRE(r.ok());
        r.value().mark_dirty();
    }
    CHECK(dev->sync().ok()); // a read-only device has nothing to write back
    REQUIRE(ak_kern_disk_detach("t-names") == 0);
    CHECK(blk_find("t-names").error() == ENXIO);
}
