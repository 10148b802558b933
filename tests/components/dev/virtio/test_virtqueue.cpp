// The split virtqueue against a software device played by the test: what
// the driver puts in the rings, and that completions naming descriptors
// not in flight, or lengths beyond what a chain lets the device write,
// break the queue instead of being trusted (docs/kvm.md, virtio).
#include <ak/virtio.h>

#include <anykern/anykern.h>
#include <doctest/doctest.h>

#include <string.h>

using namespace ak;
using namespace ak::virtio;

namespace {

// Ring layout of virtio 1.x §2.7: descriptors, then the driver area
// (flags, idx, ring[size]), then the device area (flags, idx, {id,len}[size]).
struct FakeDevice final : Transport {
    uint16_t max = 8;
    uint64_t desc = 0, avail = 0, used = 0;
    uint16_t size = 0;
    unsigned notifications = 0;

    const char* kind() const override { return "test"; }
    uint32_t device_id() override { return 4; }
    uint64_t device_features() override { return k_feature_version_1; }
    void set_driver_features(uint64_t) override {}
    uint8_t status() override { return 0; }
    void set_status(uint8_t) override {}
    uint16_t queue_max(unsigned index) override { return index == 0 ? max : 0; }
    Result<void> queue_enable(unsigned, uint16_t s, uint64_t d, uint64_t a, uint64_t u) override {
        size = s;
        desc = d;
        avail = a;
        used = u;
        return {};
    }
    void notify(unsigned) override { notifications++; }
    uint32_t config_read(uint32_t, int) override { return 0; }
    Result<void> setup_interrupt(void (*)(void*), void*) override { return {}; }

    uint16_t* avail_ring() { return reinterpret_cast<uint16_t*>(avail); }
    // The device side: the next request the driver made available.
    uint16_t avail_idx() { return avail_ring()[1]; }
    uint16_t avail_entry(uint16_t i) { return avail_ring()[2 + i % size]; }
    struct Desc {
        uint64_t addr;
        uint32_t len;
        uint16_t flags, next;
    };
    Desc descriptor(uint16_t i) {
        Desc d;
        memcpy(&d, reinterpret_cast<uint8_t*>(desc) + 16 * i, sizeof d);
        return d;
    }
    // Post a completion {id, len} to the used ring.
    void complete(uint32_t id, uint32_t len) {
        auto u = reinterpret_cast<uint8_t*>(used);
        uint16_t idx;
        memcpy(&idx, u + 2, 2);
        uint32_t e[2] = {id, len};
        memcpy(u + 4 + 8 * (idx % size), e, sizeof e);
        idx++;
        memcpy(u + 2, &idx, 2);
    }
};

struct Fixture {
    Fixture() { REQUIRE(ak_init() == 0); }
};

} // namespace

TEST_CASE_FIXTURE(Fixture, "requests go out as descriptor chains and come back through the used ring") {
    FakeDevice dev;
    auto q = Virtqueue::create(dev, 0);
    REQUIRE(!q.is_error());
    Virtqueue* vq = q.value();
    CHECK(vq->size() == 8);
    CHECK(dev.size == 8);
    CHECK(Virtqueue::create(dev, 1).error() == ENOENT); // no such queue

    Virtqueue::Buffer chain[] = {{0x1000, 16, false}, {0x2000, 512, true}, {0x3000, 1, true}};
    auto head = vq->submit(Span<const Virtqueue::Buffer>(chain, 3));
    REQUIRE(!head.is_error());
    CHECK(dev.notifications == 1);
    CHECK(vq->free_descriptors() == 5);
    REQUIRE(dev.avail_idx() == 1);
    uint16_t d = dev.avail_entry(0);
    CHECK(d == head.value());
    auto d0 = dev.descriptor(d);
    CHECK(d0.addr == 0x1000);
    CHECK(d0.len == 16);
    CHECK(d0.flags == 1); // NEXT, device reads
    auto d1 = dev.descriptor(d0.next);
    CHECK(d1.addr == 0x2000);
    CHECK(d1.flags == 3); // NEXT | WRITE
    auto d2 = dev.descriptor(d1.next);
    CHECK(d2.len == 1);
    CHECK(d2.flags == 2); // WRITE, last

    uint16_t got;
    uint32_t written;
    auto none = vq->reclaim(&got, &written);
    REQUIRE(!none.is_error());
    CHECK(none.value() == false);
    dev.complete(d, 513); // everything the chain lets the device write
    auto r = vq->reclaim(&got, &written);
    REQUIRE(!r.is_error());
    CHECK(r.value() == true);
    CHECK(got == d);
    CHECK(written == 513);
    CHECK(vq->free_descriptors() == 8);

    // The queue wraps: more requests than its size over time.
    for (int i = 0; i < 20; i++) {
        Virtqueue::Buffer one{0x4000, 64, true};
        auto h = vq->submit(Span<const Virtqueue::Buffer>(&one, 1));
        REQUIRE(!h.is_error());
        dev.complete(h.value(), 10);
        REQUIRE(vq->reclaim(&got, &written).value());
        CHECK(got == h.value());
    }
    CHECK(!vq->broken());
    destroy(vq);
}

TEST_CASE_FIXTURE(Fixture, "the queue refuses what does not fit") {
    FakeDevice dev;
    Virtqueue* vq = Virtqueue::create(dev, 0).value();
    Virtqueue::Buffer many[9] = {};
    CHECK(vq->submit(Span<const Virtqueue::Buffer>(many, 9)).error() == EINVAL);
    CHECK(vq->submit(Span<const Virtqueue::Buffer>(many, 0)).error() == EINVAL);
    CHECK(!vq->submit(Span<const Virtqueue::Buffer>(many, 6)).is_error());
    CHECK(vq->submit(Span<const Virtqueue::Buffer>(many, 3)).error() == ENOSPC);
    destroy(vq);
}

TEST_CASE_FIXTURE(Fixture, "a device's bad completions break the queue") {
    FakeDevice dev;
    uint16_t got;
    uint32_t written;
    Virtqueue::Buffer buf{0x1000, 100, true};
    auto one = Span<const Virtqueue::Buffer>(&buf, 1);

    SUBCASE("a length beyond the writable bytes") {
        Virtqueue* vq = Virtqueue::create(dev, 0).value();
        uint16_t h = vq->submit(one).value();
        dev.complete(h, 101);
        CHECK(vq->reclaim(&got, &written).error() == EIO);
        CHECK(vq->broken());
        CHECK(vq->submit(one).error() == EIO); // stays broken
        destroy(vq);
    }
    SUBCASE("an id outside the table") {
        Virtqueue* vq = Virtqueue::create(dev, 0).value();
        vq->submit(one).value();
        dev.complete(8, 0);
        CHECK(vq->reclaim(&got, &written).error() == EIO);
        destroy(vq);
    }
    SUBCASE("a descriptor that is not in flight") {
        Virtqueue* vq = Virtqueue::create(dev, 0).value();
        uint16_t h = vq->submit(one).value();
        dev.complete(uint16_t((h + 1) % 8), 0);
        CHECK(vq->reclaim(&got, &written).error() == EIO);
        destroy(vq);
    }
    SUBCASE("the same completion twice") {
        Virtqueue* vq = Virtqueue::create(dev, 0).value();
        uint16_t h = vq->submit(one).value();
        dev.complete(h, 4);
        REQUIRE(vq->reclaim(&got, &written).value());
        dev.complete(h, 4);
        CHECK(vq->reclaim(&got, &written).error() == EIO);
        destroy(vq);
    }
    SUBCASE("more completions than requests in flight") {
        Virtqueue* vq = Virtqueue::create(dev, 0).value();
        uint16_t h = vq->submit(one).value();
        dev.complete(h, 4);
        dev.complete(h, 4);
        CHECK(vq->reclaim(&got, &written).error() == EIO);
        destroy(vq);
    }
}
