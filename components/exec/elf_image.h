// ELF64 executables for x86-64 Linux: a checked parser for untrusted files.
//
// elf_parse() validates everything the loader later relies on (ELF
// specification, "ELF-64 Object File Format" 1.5, and the System V x86-64
// psABI §5), so code after it reads only fields it checked:
//  - identification: ELFCLASS64, little endian, version 1, machine x86-64;
//  - type ET_EXEC, or ET_DYN that is an executable (an entry point, no
//    PT_INTERP and no DT_NEEDED: a static-pie); shared objects and
//    dynamically linked programs are refused;
//  - the program header table inside the file, 56-byte entries, at most
//    k_elf_max_phnum of them;
//  - PT_LOAD: filesz <= memsz, file bytes inside the file, no address
//    overflow, offset and address congruent modulo the page size, sorted by
//    address and not overlapping, at most k_elf_max_loads;
//  - the entry point inside an executable PT_LOAD;
//  - PT_TLS inside the file, its initialised part inside a PT_LOAD;
//    PT_GNU_STACK noted.
// Where the segments may go is a separate check (elf_check_placement), as
// the allowed range depends on the machine.
#pragma once

#include <ak/result.h>
#include <ak/span.h>

namespace ak::exec {

constexpr uint64_t k_page_size = 4096;
constexpr int k_elf_max_phnum = 128;
constexpr int k_elf_max_loads = 16;

// Segment permission bits (p_flags).
constexpr uint32_t k_pf_x = 1;
constexpr uint32_t k_pf_w = 2;
constexpr uint32_t k_pf_r = 4;

struct ElfLoad {
    uint64_t vaddr; // unrelocated
    uint64_t memsz;
    uint64_t offset; // in the file
    uint64_t filesz;
    uint32_t flags; // k_pf_*
};

struct ElfInfo {
    bool pie = false;   // ET_DYN: placed at a load bias chosen by the loader
    uint64_t entry = 0; // unrelocated
    uint64_t phoff = 0; // program header table in the file
    uint16_t phnum = 0;
    uint64_t phdr_vaddr = 0; // where the table is in memory, when has_phdr_vaddr
    bool has_phdr_vaddr = false;
    ElfLoad loads[k_elf_max_loads] = {};
    int nloads = 0;
    uint64_t lo = 0, hi = 0; // page-rounded span of all PT_LOADs (unrelocated)
    bool has_tls = false;
    uint64_t tls_vaddr = 0, tls_filesz = 0, tls_memsz = 0, tls_align = 0;
    bool exec_stack = false; // PT_GNU_STACK with PF_X (or no PT_GNU_STACK)
};

// Why a file was refused (for messages and errnos).
enum class ElfProblem {
    None,
    Truncated, // shorter than its headers say
    NotElf,    // bad magic, class, data encoding or version
    NotX86_64,
    NotExecutable, // ET_REL, ET_CORE, a shared object, entry 0
    Dynamic,       // PT_INTERP or DT_NEEDED
    BadHeaders,    // program header table malformed
    BadSegment,    // a PT_LOAD/PT_TLS is malformed
    BadEntry,      // entry point not in an executable segment
};

struct ElfParse {
    ElfInfo info;
    ElfProblem problem = ElfProblem::None;
};

// Parse and validate; on failure problem says why (info is then
// meaningless).  Never reads outside file.  elf_problem_errno: ENOEXEC for
// every problem but Dynamic (ELIBBAD), as execve(2) reports them.
ElfParse elf_parse(ReadonlyBytes file);
int elf_problem_errno(ElfProblem p);
const char* elf_problem_text(ElfProblem p);

// Every PT_LOAD, moved by bias, lies inside [lo, hi) and the entry point
// too.  Returns ERANGE otherwise (and on arithmetic overflow).
Result<void> elf_check_placement(const ElfInfo& info, uint64_t bias, uint64_t lo, uint64_t hi);

} // namespace ak::exec
