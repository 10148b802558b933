// The kernel support library: Result/TRY, containers, strings, refcounts,
// parameters.
#include <ak/list.h>
#include <ak/params.h>
#include <ak/refptr.h>
#include <ak/result.h>
#include <ak/string.h>
#include <ak/vector.h>

#include <doctest/doctest.h>

using namespace ak;

namespace {

Result<long> half(long v) {
    if (v % 2)
        return Errno(EINVAL);
    return v / 2;
}

Result<long> quarter(long v) {
    long h = TRY(half(v));
    return TRY(half(h));
}

int g_destroyed;

struct Counted : RefCounted<Counted> {
    int value;
    explicit Counted(int v) : value(v) {}
    ~Counted() { g_destroyed++; }
};

struct Item {
    int v;
    ListNode node;
};

} // namespace

TEST_CASE("Result carries values and errors; TRY propagates") {
    auto r = quarter(8);
    REQUIRE(r.ok());
    CHECK(r.value() == 2);
    auto e = quarter(6); // 6/2 = 3 is odd
    CHECK(e.is_error());
    CHECK(e.error() == EINVAL);
    // An errno constant is never taken as a value of an integer Result.
    Result<long> z = Errno(ENOENT);
    CHECK(z.is_error());
    Result<long> two = 2L;
    CHECK(two.ok());
    CHECK(two.value() == 2);
}

TEST_CASE("Vector grows and keeps its elements") {
    Vector<int> v;
    for (int i = 0; i < 1000; i++)
        REQUIRE(v.try_append(i).ok());
    CHECK(v.size() == 1000);
    long sum = 0;
    for (int x : v)
        sum += x;
    CHECK(sum == 999 * 1000 / 2);
    v.remove(0);
    CHECK(v[0] == 1);
    CHECK(v.try_resize(10).ok());
    CHECK(v.size() == 10);
}

TEST_CASE("intrusive list keeps order and removes in O(1)") {
    Item a{1, {}}, b{2, {}}, c{3, {}};
    List<Item, &Item::node> l;
    l.push_back(a);
    l.push_back(b);
    l.push_front(c);
    int order[3], n = 0;
    for (auto& i : l)
        order[n++] = i.v;
    CHECK(order[0] == 3);
    CHECK(order[1] == 1);
    CHECK(order[2] == 2);
    l.remove(a);
    CHECK(l.size() == 2);
    CHECK(l.first()->v == 3);
    CHECK(l.next(*l.first())->v == 2);
    l.remove(b);
    l.remove(c);
    CHECK(l.empty());
}

TEST_CASE("RefPtr destroys on the last reference; try_ref fails on dead objects") {
    g_destroyed = 0;
    {
        auto r = try_make_ref<Counted>(7);
        REQUIRE(r.ok());
        RefPtr<Counted> a = r.release_value();
        RefPtr<Counted> b = a;
        CHECK(a->ref_count() == 2);
        CHECK(a->try_ref());
        a->unref();
        b.clear();
        CHECK(g_destroyed == 0);
    }
    CHECK(g_destroyed == 1);
}

TEST_CASE("strings") {
    CHECK(str_len("abc") == 3);
    CHECK(str_nlen("abcdef", 4) == 4);
    CHECK(str_cmp("abc", "abd") < 0);
    char buf[4];
    CHECK(str_copy(buf, "abcdef", sizeof buf) == 6);
    CHECK(StringView(buf) == StringView("abc"));
    auto k = KString::create("hello");
    REQUIRE(k.ok());
    CHECK(k.value().view() == StringView("hello"));
    CHECK(StringView("hello").substr(1, 3) == StringView("ell"));
    CHECK(StringView("a/b").starts_with("a/"));
}

TEST_CASE("parse_size understands suffixes and rejects junk") {
    CHECK(parse_size("4096").value() == 4096);
    CHECK(parse_size("64k").value() == 64 * 1024);
    CHECK(parse_size("2M").value() == 2 * 1024 * 1024);
    CHECK(parse_size("1g").value() == 1ull << 30);
    CHECK(parse_size("1GiB").value() == 1ull << 30);
    CHECK(parse_size("").is_error());
    CHECK(parse_size("12x").is_error());
    CHECK(parse_size("-1").is_error());
    CHECK(parse_size("99999999999999999999").error() == ERANGE);
    CHECK(parse_size("17179869184g").error() == ERANGE);
}
