// The initial stack builder: the psABI layout read back the way a libc's
// start-up code reads it.
#include "stack.h"

#include <doctest/doctest.h>

#include <string.h>

#include <map>
#include <string>
#include <vector>

using namespace ak::exec;

namespace {

constexpr uint64_t k_top = 0x7ffffff000;

struct Read {
    std::vector<uint8_t> buf;
    uint64_t top;
    uint64_t word(uint64_t addr) const {
        REQUIRE(addr >= top - buf.size());
        REQUIRE(addr + 8 <= top);
        uint64_t v;
        memcpy(&v, buf.data() + (addr - (top - buf.size())), 8);
        return v;
    }
    std::string str(uint64_t addr) const {
        REQUIRE(addr >= top - buf.size());
        REQUIRE(addr < top);
        const char* p = reinterpret_cast<const char*>(buf.data() + (addr - (top - buf.size())));
        size_t max = top - addr;
        size_t n = strnlen(p, max);
        REQUIRE(n < max);
        return std::string(p, n);
    }
};

struct Parsed {
    std::vector<std::string> argv, envp;
    std::map<uint64_t, uint64_t> aux;
    std::vector<uint64_t> aux_order;
};

Parsed walk(const Read& r, uint64_t sp) {
    Parsed p;
    uint64_t argc = r.word(sp);
    uint64_t at = sp + 8;
    for (uint64_t i = 0; i < argc; i++, at += 8)
        p.argv.push_back(r.str(r.word(at)));
    CHECK(r.word(at) == 0);
    at += 8;
    while (uint64_t e = r.word(at)) {
        p.envp.push_back(r.str(e));
        at += 8;
    }
    at += 8;
    for (;;) {
        uint64_t type = r.word(at), value = r.word(at + 8);
        at += 16;
        p.aux_order.push_back(type);
        if (type == k_at_null)
            break;
        CHECK_MESSAGE(p.aux.count(type) == 0, "duplicate aux type " << type);
        p.aux[type] = value;
    }
    return p;
}

} // namespace

TEST_CASE("argc, argv, envp and auxv as a libc reads them; sp 16-byte aligned") {
    for (int argc = 0; argc < 6; argc++) {
        for (int envc = 0; envc < 3; envc++) {
            std::vector<std::string> args_s, env_s;
            std::vector<const char*> argv, envp;
            for (int i = 0; i < argc; i++)
                args_s.push_back("arg" + std::string(i, 'x'));
            for (int i = 0; i < envc; i++)
                env_s.push_back("V" + std::to_string(i) + "=value " + std::to_string(i));
            for (auto& s : args_s)
                argv.push_back(s.c_str());
            argv.push_back(nullptr);
            for (auto& s : env_s)
                envp.push_back(s.c_str());
            envp.push_back(nullptr);

            StackArgs a;
            a.argv = argv.data();
            a.envp = envp.data();
            a.execfn = "/bin/prog";
            for (int i = 0; i < 16; i++)
                a.random[i] = static_cast<uint8_t>(0xa0 + i);
            a.aux[a.naux++] = {k_at_pagesz, 4096};
            a.aux[a.naux++] = {k_at_entry, 0x401000};
            a.aux[a.naux++] = {k_at_phdr, 0x400040};

            Read r{std::vector<uint8_t>(16384), k_top};
            auto res = build_initial_stack(ak::Span<uint8_t>(r.buf.data(), r.buf.size()), k_top, a);
            REQUIRE(res.ok());
            StackLayout l = res.value();
            CHECK(l.sp % 16 == 0);
            CHECK(l.sp == k_top - l.bytes);
            Parsed p = walk(r, l.sp);
            CHECK(p.argv == args_s);
            CHECK(p.envp == env_s);
            CHECK(p.aux.at(k_at_pagesz) == 4096);
            CHECK(p.aux.at(k_at_entry) == 0x401000);
            CHECK(p.aux.at(k_at_phdr) == 0x400040);
            CHECK(r.str(p.aux.at(k_at_platform)) == "x86_64");
            CHECK(r.str(p.aux.at(k_at_execfn)) == "/bin/prog");
            uint64_t rnd = p.aux.at(k_at_random);
            CHECK(rnd == l.random);
            CHECK(r.word(rnd) == 0xa7a6a5a4a3a2a1a0ull);
            CHECK(r.word(rnd + 8) == 0xafaeadacabaaa9a8ull);
            CHECK(p.aux_order.back() == k_at_null);
            // argv strings are in order and contiguous, as Linux lays them out.
            if (argc > 1)
                CHECK(r.word(l.sp + 16) == r.word(l.sp + 8) + args_s[0].size() + 1);
        }
    }
}

TEST_CASE("program headers not in a segment are copied and AT_PHDR points at them") {
    uint8_t ph[56 * 2];
    for (size_t i = 0; i < sizeof ph; i++)
        ph[i] = static_cast<uint8_t>(i);
    StackArgs a;
    const char* argv[] = {"p", nullptr};
    a.argv = argv;
    a.phdr_copy = ak::ReadonlyBytes(ph, sizeof ph);
    Read r{std::vector<uint8_t>(4096), k_top};
    auto res = build_initial_stack(ak::Span<uint8_t>(r.buf.data(), r.buf.size()), k_top, a);
    REQUIRE(res.ok());
    Parsed p = walk(r, res.value().sp);
    uint64_t at = p.aux.at(k_at_phdr);
    CHECK(at % 8 == 0);
    CHECK(memcmp(r.buf.data() + (at - (k_top - r.buf.size())), ph, sizeof ph) == 0);
    CHECK(p.envp.empty());
}

TEST_CASE("too little room is E2BIG, a bad top is EINVAL") {
    std::string big(3000, 'a');
    const char* argv[] = {big.c_str(), big.c_str(), nullptr};
    StackArgs a;
    a.argv = argv;
    std::vector<uint8_t> buf(4096);
    CHECK(build_initial_stack(ak::Span<uint8_t>(buf.data(), buf.size()), k_top, a).error() ==
          E2BIG);
    // Every size from nothing up to enough either fits or says E2BIG.
    const char* small[] = {"prog", "x", nullptr};
    a.argv = small;
    bool fitted = false;
    for (size_t n = 0; n <= 512; n += 8) {
        std::vector<uint8_t> b(n);
        auto r = build_initial_stack(ak::Span<uint8_t>(b.data(), b.size()), k_top, a);
        if (r.ok()) {
            fitted = true;
            CHECK(r.value().bytes <= n);
        } else {
            CHECK(r.error() == E2BIG);
            CHECK(!fitted); // once it fits, larger buffers fit too
        }
    }
    CHECK(fitted);
    CHECK(build_initial_stack(ak::Span<uint8_t>(buf.data(), buf.size()), k_top + 8, a).error() ==
          EINVAL);
    a.naux = k_stack_max_aux + 1;
    CHECK(build_initial_stack(ak::Span<uint8_t>(buf.data(), buf.size()), k_top, a).error() ==
          EINVAL);
}
