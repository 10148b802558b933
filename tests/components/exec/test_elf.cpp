// The exec component's ELF parser on real binaries built by meson with the
// host's compilers, and on corrupt variants of them.  The host's <elf.h> is
// the independent reading of the same files.
#include "elf_image.h"

#include <doctest/doctest.h>

#include <elf.h>
#include <stdlib.h>
#include <string.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <random>
#include <string>
#include <vector>

using namespace ak::exec;

namespace {

std::vector<uint8_t> read_sample(const char* var) {
    const char* path = getenv(var);
    REQUIRE_MESSAGE(path, var << " is not set (run through meson test)");
    std::ifstream f(path, std::ios::binary);
    REQUIRE_MESSAGE(f, "cannot open " << path);
    return std::vector<uint8_t>(std::istreambuf_iterator<char>(f), {});
}

bool have_sample(const char* var) {
    return getenv(var) != nullptr;
}

ElfParse parse(const std::vector<uint8_t>& b) {
    return elf_parse(ak::ReadonlyBytes(b.data(), b.size()));
}

Elf64_Ehdr& ehdr(std::vector<uint8_t>& b) {
    return *reinterpret_cast<Elf64_Ehdr*>(b.data());
}

Elf64_Phdr& phdr(std::vector<uint8_t>& b, int i) {
    return *reinterpret_cast<Elf64_Phdr*>(b.data() + ehdr(b).e_phoff + i * sizeof(Elf64_Phdr));
}

int first_phdr(std::vector<uint8_t>& b, uint32_t type) {
    for (int i = 0; i < ehdr(b).e_phnum; i++)
        if (phdr(b, i).p_type == type)
            return i;
    return -1;
}

// What the parser must have found, read with the host's definitions.
void check_against_host(std::vector<uint8_t>& b, const ElfInfo& info) {
    const Elf64_Ehdr& e = ehdr(b);
    CHECK(info.entry == e.e_entry);
    CHECK(info.phnum == e.e_phnum);
    CHECK(info.pie == (e.e_type == ET_DYN));
    int loads = 0;
    bool tls = false;
    for (int i = 0; i < e.e_phnum; i++) {
        const Elf64_Phdr& p = phdr(b, i);
        if (p.p_type == PT_LOAD && p.p_memsz) {
            REQUIRE(loads < info.nloads);
            CHECK(info.loads[loads].vaddr == p.p_vaddr);
            CHECK(info.loads[loads].memsz == p.p_memsz);
            CHECK(info.loads[loads].offset == p.p_offset);
            CHECK(info.loads[loads].filesz == p.p_filesz);
            CHECK(info.loads[loads].flags == p.p_flags);
            loads++;
        }
        if (p.p_type == PT_TLS) {
            tls = true;
            CHECK(info.tls_vaddr == p.p_vaddr);
            CHECK(info.tls_memsz == p.p_memsz);
        }
    }
    CHECK(info.nloads == loads);
    CHECK(info.has_tls == tls);
    // The program headers are in the first segment of these binaries.
    CHECK(info.has_phdr_vaddr);
    CHECK(info.phdr_vaddr == info.loads[0].vaddr + e.e_phoff - info.loads[0].offset);
}

} // namespace

TEST_CASE("gcc -static: a valid ET_EXEC at its link addresses") {
    auto b = read_sample("EXEC_SAMPLE_STATIC");
    ElfParse r = parse(b);
    REQUIRE(r.problem == ElfProblem::None);
    check_against_host(b, r.info);
    CHECK(!r.info.pie);
    CHECK(r.info.lo % 4096 == 0);
    CHECK(r.info.hi % 4096 == 0);
    CHECK(!r.info.exec_stack);
    // Placement: inside a window around it, not inside one that misses it.
    CHECK(elf_check_placement(r.info, 0, r.info.lo, r.info.hi).ok());
    CHECK(elf_check_placement(r.info, 0, r.info.lo + 4096, r.info.hi).error() == ERANGE);
    CHECK(elf_check_placement(r.info, 0, r.info.lo, r.info.hi - 4096).error() == ERANGE);
    CHECK(elf_check_placement(r.info, ~uint64_t(0) - 4096, 0, ~uint64_t(0)).error() == ERANGE);
}

TEST_CASE("gcc -static-pie: ET_DYN without an interpreter is an executable") {
    auto b = read_sample("EXEC_SAMPLE_STATIC_PIE");
    ElfParse r = parse(b);
    REQUIRE(r.problem == ElfProblem::None);
    check_against_host(b, r.info);
    CHECK(r.info.pie);
    CHECK(r.info.lo == 0);
    uint64_t bias = 0x400000;
    CHECK(elf_check_placement(r.info, bias, 0x400000, 0x400000 + r.info.hi).ok());
}

TEST_CASE("musl-gcc -static: valid, with TLS") {
    if (!have_sample("EXEC_SAMPLE_MUSL")) {
        MESSAGE("musl-gcc not installed: sample not built");
        return;
    }
    auto b = read_sample("EXEC_SAMPLE_MUSL");
    ElfParse r = parse(b);
    REQUIRE(r.problem == ElfProblem::None);
    check_against_host(b, r.info);
    CHECK(r.info.has_tls);
}

TEST_CASE("a dynamically linked program and an object file are refused") {
    auto d = read_sample("EXEC_SAMPLE_DYNAMIC");
    ElfParse r = parse(d);
    CHECK(r.problem == ElfProblem::Dynamic);
    CHECK(elf_problem_errno(r.problem) == ELIBBAD);
    auto o = read_sample("EXEC_SAMPLE_OBJECT");
    r = parse(o);
    CHECK(r.problem == ElfProblem::NotExecutable);
    CHECK(elf_problem_errno(r.problem) == ENOEXEC);
}

TEST_CASE("a static-pie whose dynamic section needs a library is dynamic") {
    auto b = read_sample("EXEC_SAMPLE_STATIC_PIE");
    int d = first_phdr(b, PT_DYNAMIC);
    REQUIRE(d >= 0);
    auto* dyn = reinterpret_cast<Elf64_Dyn*>(b.data() + phdr(b, d).p_offset);
    dyn[0].d_tag = DT_NEEDED;
    CHECK(parse(b).problem == ElfProblem::Dynamic);
}

TEST_CASE("every truncation of a valid file is refused without reading past it") {
    auto full = read_sample("EXEC_SAMPLE_STATIC");
    size_t headers = ehdr(full).e_phoff + ehdr(full).e_phnum * sizeof(Elf64_Phdr);
    // Cut inside the headers, and at the end of the file (segments' file
    // bytes then lie beyond it).
    for (size_t len = 0; len <= headers + 8; len++) {
        // A copy of exactly len bytes, so ASan catches any read past it.
        std::vector<uint8_t> cut(full.begin(), full.begin() + len);
        CHECK_MESSAGE(parse(cut).problem != ElfProblem::None, "length " << len);
    }
    // Up to one byte short of the furthest segment's file bytes.
    size_t need = 0;
    for (int i = 0; i < ehdr(full).e_phnum; i++)
        if (phdr(full, i).p_type == PT_LOAD)
            need = std::max<size_t>(need, phdr(full, i).p_offset + phdr(full, i).p_filesz);
    std::vector<uint8_t> cut(full.begin(), full.begin() + need - 1);
    CHECK(parse(cut).problem == ElfProblem::BadSegment);
    std::vector<uint8_t> exact(full.begin(), full.begin() + need);
    CHECK(parse(exact).problem == ElfProblem::None);
}

TEST_CASE("corrupt headers and segments") {
    const auto good = read_sample("EXEC_SAMPLE_STATIC");
    auto with = [&](auto edit) {
        auto b = good;
        edit(b);
        return parse(b).problem;
    };
    CHECK(with([](auto& b) { b[0] = 0; }) == ElfProblem::NotElf);
    CHECK(with([](auto& b) { b[EI_CLASS] = ELFCLASS32; }) == ElfProblem::NotElf);
    CHECK(with([](auto& b) { b[EI_DATA] = ELFDATA2MSB; }) == ElfProblem::NotElf);
    CHECK(with([](auto& b) { ehdr(b).e_version = 2; }) == ElfProblem::NotElf);
    CHECK(with([](auto& b) { ehdr(b).e_machine = EM_AARCH64; }) == ElfProblem::NotX86_64);
    CHECK(with([](auto& b) { ehdr(b).e_type = ET_REL; }) == ElfProblem::NotExecutable);
    CHECK(with([](auto& b) { ehdr(b).e_type = ET_CORE; }) == ElfProblem::NotExecutable);
    CHECK(with([](auto& b) { ehdr(b).e_phentsize = 32; }) == ElfProblem::BadHeaders);
    CHECK(with([](auto& b) { ehdr(b).e_phnum = 0; }) == ElfProblem::BadHeaders);
    CHECK(with([](auto& b) { ehdr(b).e_phnum = 0xffff; }) == ElfProblem::BadHeaders);
    CHECK(with([](auto& b) { ehdr(b).e_phoff = ~uint64_t(0) - 15; }) == ElfProblem::Truncated);
    CHECK(with([](auto& b) { ehdr(b).e_phoff += 1; }) == ElfProblem::BadHeaders);
    CHECK(with([](auto& b) { ehdr(b).e_entry = 0x10; }) == ElfProblem::BadEntry);
    int load = first_phdr(const_cast<std::vector<uint8_t>&>(good), PT_LOAD);
    REQUIRE(load >= 0);
    CHECK(with([&](auto& b) { phdr(b, load).p_filesz = phdr(b, load).p_memsz + 1; }) ==
          ElfProblem::BadSegment);
    CHECK(with([&](auto& b) { phdr(b, load).p_offset = b.size(); }) == ElfProblem::BadSegment);
    CHECK(with([&](auto& b) { phdr(b, load).p_offset = ~uint64_t(0) - 10; }) ==
          ElfProblem::BadSegment);
    CHECK(with([&](auto& b) { phdr(b, load).p_vaddr = ~uint64_t(0) - 100; }) ==
          ElfProblem::BadSegment);
    CHECK(with([&](auto& b) { phdr(b, load).p_vaddr += 8; }) == ElfProblem::BadSegment);
    CHECK(with([&](auto& b) { phdr(b, load).p_align = 3000; }) == ElfProblem::BadSegment);
    // Segments out of order (the second moved below the first).
    CHECK(with([&](auto& b) { phdr(b, load + 1).p_vaddr = phdr(b, load).p_vaddr; }) ==
          ElfProblem::BadSegment);
    // An interpreter makes it dynamic.
    CHECK(with([&](auto& b) { phdr(b, load).p_type = PT_INTERP; }) == ElfProblem::Dynamic);
    // ET_DYN with no entry point is a shared object.
    CHECK(with([](auto& b) {
              ehdr(b).e_type = ET_DYN;
              ehdr(b).e_entry = 0;
          }) == ElfProblem::NotExecutable);
}

TEST_CASE("random corruption never crashes and accepted files stay consistent") {
    const auto good = read_sample("EXEC_SAMPLE_STATIC");
    std::mt19937 rng(1234);
    size_t headers = 64 + 56 * 16;
    int accepted = 0;
    for (int iter = 0; iter < 3000; iter++) {
        auto b = std::vector<uint8_t>(good.begin(), good.begin() + headers);
        int flips = 1 + rng() % 8;
        for (int i = 0; i < flips; i++)
            b[rng() % b.size()] ^= static_cast<uint8_t>(1u << (rng() % 8));
        b.resize(good.size());
        std::copy(good.begin() + headers, good.end(), b.begin() + headers);
        ElfParse r = parse(b);
        if (r.problem != ElfProblem::None)
            continue;
        accepted++;
        for (int i = 0; i < r.info.nloads; i++) {
            const ElfLoad& l = r.info.loads[i];
            CHECK(l.filesz <= l.memsz);
            CHECK(l.offset + l.filesz <= b.size());
            CHECK(l.vaddr + l.memsz >= l.vaddr);
        }
    }
    MESSAGE(accepted << " of 3000 mutants accepted");
}
