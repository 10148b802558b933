// The initial process stack of a Linux x86-64 program (System V x86-64
// psABI §3.4.1 "Initial Stack and Register State", with Linux's auxiliary
// vector entries).
//
// From the stack pointer upwards: argc, argv[0..argc) and NULL, envp[] and
// NULL, the auxiliary vector (type, value pairs ending with AT_NULL), then
// padding, the AT_RANDOM bytes, the AT_PLATFORM string, the program header
// copy when one is needed, the argument and environment strings and the
// AT_EXECFN string at the top.  The stack pointer is 16-byte aligned.
#pragma once

#include <ak/result.h>
#include <ak/span.h>

namespace ak::exec {

// Auxiliary vector types (Linux include/uapi/linux/auxvec.h values, ABI).
constexpr uint64_t k_at_null = 0;
constexpr uint64_t k_at_phdr = 3;
constexpr uint64_t k_at_phent = 4;
constexpr uint64_t k_at_phnum = 5;
constexpr uint64_t k_at_pagesz = 6;
constexpr uint64_t k_at_base = 7;
constexpr uint64_t k_at_flags = 8;
constexpr uint64_t k_at_entry = 9;
constexpr uint64_t k_at_uid = 11;
constexpr uint64_t k_at_euid = 12;
constexpr uint64_t k_at_gid = 13;
constexpr uint64_t k_at_egid = 14;
constexpr uint64_t k_at_platform = 15;
constexpr uint64_t k_at_hwcap = 16;
constexpr uint64_t k_at_clktck = 17;
constexpr uint64_t k_at_secure = 23;
constexpr uint64_t k_at_random = 25;
constexpr uint64_t k_at_hwcap2 = 26;
constexpr uint64_t k_at_execfn = 31;
constexpr uint64_t k_at_minsigstksz = 51;

struct AuxEntry {
    uint64_t type, value;
};

constexpr int k_stack_max_aux = 24;
// Linux limits one string to 32 pages (MAX_ARG_STRLEN) and the whole
// argument block to a quarter of the stack rlimit; the builder's buffer
// bounds the total.
constexpr size_t k_stack_max_strlen = 32 * 4096;

struct StackArgs {
    const char* const* argv = nullptr; // NULL-terminated (may be NULL: no arguments)
    const char* const* envp = nullptr; // NULL-terminated (may be NULL)
    const char* execfn = "";           // AT_EXECFN
    const char* platform = "x86_64";   // AT_PLATFORM
    uint8_t random[16] = {};           // AT_RANDOM
    // Entries other than AT_RANDOM, AT_PLATFORM, AT_EXECFN and AT_NULL,
    // which the builder adds; AT_PHDR too when phdr_copy is used.
    AuxEntry aux[k_stack_max_aux] = {};
    int naux = 0;
    // Program headers that are not in a loaded segment: copied onto the
    // stack and pointed at by AT_PHDR.
    ReadonlyBytes phdr_copy;
};

struct StackLayout {
    uint64_t sp;     // target address of argc (16-byte aligned)
    uint64_t random; // target address of the AT_RANDOM bytes
    uint64_t bytes;  // bytes used, from sp to the top
};

// Build the stack in buf, which the program will see at the target
// addresses [top - buf.size(), top) (top 16-byte aligned).  Returns E2BIG
// when it does not fit (or a string is longer than k_stack_max_strlen),
// EINVAL for a misaligned top or too many aux entries.
Result<StackLayout> build_initial_stack(Span<uint8_t> buf, uint64_t top, const StackArgs& args);

} // namespace ak::exec
