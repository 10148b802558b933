// The kernel's printf subset.
#include <ak/log.h>

#include <doctest/doctest.h>
#include <string.h>

using namespace ak;

TEST_CASE("format") {
    char b[64];
    format(b, sizeof b, "%d %u %x %X %o", -42, 42u, 255u, 255u, 8u);
    CHECK(strcmp(b, "-42 42 ff FF 10") == 0);
    format(b, sizeof b, "[%5d|%-5d|%05d]", 42, 42, 42);
    CHECK(strcmp(b, "[   42|42   |00042]") == 0);
    format(b, sizeof b, "%ld %lld %zu", -1L, 1LL << 40, size_t(7));
    CHECK(strcmp(b, "-1 1099511627776 7") == 0);
    format(b, sizeof b, "%s|%.3s|%-4s|%c", "abc", "abcdef", "x", 'z');
    CHECK(strcmp(b, "abc|abc|x   |z") == 0);
    const char* volatile null_string = nullptr;
    format(b, sizeof b, "%s", null_string);
    CHECK(strcmp(b, "(null)") == 0);
    format(b, sizeof b, "%p", reinterpret_cast<void*>(0x1234));
    CHECK(strcmp(b, "0x1234") == 0);
    format(b, sizeof b, "100%%");
    CHECK(strcmp(b, "100%") == 0);
    format(b, sizeof b, "%ld", static_cast<long>(-9223372036854775807L - 1));
    CHECK(strcmp(b, "-9223372036854775808") == 0);
}

TEST_CASE("format truncates and reports the full length") {
    char b[8];
    size_t n = format(b, sizeof b, "%s", "0123456789");
    CHECK(n == 10);
    CHECK(strcmp(b, "0123456") == 0);
}
