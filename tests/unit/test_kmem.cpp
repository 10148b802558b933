// The kernel allocator: accounting and the memory limit.
#include <ak/kmem.h>

#include <doctest/doctest.h>

using namespace ak;

TEST_CASE("allocations are accounted and freed") {
    KmemStats before = kmem_stats();
    void* p = kmem_alloc(1000);
    REQUIRE(p);
    CHECK(kmem_stats().in_use == before.in_use + 1000);
    CHECK(kmem_stats().allocations == before.allocations + 1);
    void* q = kmem_realloc(p, 5000);
    REQUIRE(q);
    CHECK(kmem_stats().in_use == before.in_use + 5000);
    kmem_free(q);
    CHECK(kmem_stats().in_use == before.in_use);
    kmem_free(nullptr);
}

TEST_CASE("the memory limit makes allocations fail cleanly") {
    KmemStats before = kmem_stats();
    kmem_set_limit(before.in_use + 64 * 1024);
    void* a = kmem_alloc(32 * 1024);
    CHECK(a != nullptr);
    void* b = kmem_alloc(64 * 1024);
    CHECK(b == nullptr);
    CHECK(kmem_stats().failures == before.failures + 1);
    struct Big {
        char data[1 << 17];
    };
    auto r = try_make_unique<Big>();
    CHECK(r.is_error());
    CHECK(r.error() == ENOMEM);
    kmem_free(a);
    void* c = kmem_alloc(60 * 1024);
    CHECK(c != nullptr);
    kmem_free(c);
    kmem_set_limit(0);
    void* d = kmem_alloc(1 << 20);
    CHECK(d != nullptr);
    kmem_free(d);
    CHECK(kmem_stats().in_use == before.in_use);
}

TEST_CASE("zalloc zeroes") {
    auto* p = static_cast<unsigned char*>(kmem_zalloc(256));
    REQUIRE(p);
    int nonzero = 0;
    for (int i = 0; i < 256; i++)
        nonzero += p[i] != 0;
    CHECK(nonzero == 0);
    kmem_free(p);
}
