// ELF64 parsing for the loader (elf_image.h says what is checked).
#include "elf_image.h"

namespace ak::exec {

namespace {

// ELF-64 Object File Format 1.5: field offsets of Elf64_Ehdr and Elf64_Phdr.
constexpr size_t k_ehdr_size = 64;
constexpr size_t k_phdr_size = 56;
constexpr uint16_t k_et_exec = 2;
constexpr uint16_t k_et_dyn = 3;
constexpr uint16_t k_em_x86_64 = 62;
constexpr uint32_t k_pt_load = 1;
constexpr uint32_t k_pt_dynamic = 2;
constexpr uint32_t k_pt_interp = 3;
constexpr uint32_t k_pt_phdr = 6;
constexpr uint32_t k_pt_tls = 7;
constexpr uint32_t k_pt_gnu_stack = 0x6474e551;
constexpr int64_t k_dt_null = 0;
constexpr int64_t k_dt_needed = 1;

// A view whose reads are bounds-checked against the file; a read past the
// end yields 0 and sets m_overrun, which callers check before trusting
// what they read.
class Reader {
public:
    explicit Reader(ReadonlyBytes b) : m_bytes(b) {}
    template <typename T> T get(uint64_t off) {
        T v = 0;
        if (off > m_bytes.size() || sizeof(T) > m_bytes.size() - off) {
            m_overrun = true;
            return 0;
        }
        __builtin_memcpy(&v, m_bytes.data() + off, sizeof(T));
        return v; // x86-64 hosts and targets are little endian, as the file
    }
    bool overrun() const { return m_overrun; }

private:
    ReadonlyBytes m_bytes;
    bool m_overrun = false;
};

bool add_overflows(uint64_t a, uint64_t b, uint64_t* sum) {
    return __builtin_add_overflow(a, b, sum);
}

bool within(uint64_t off, uint64_t len, uint64_t size) {
    return off <= size && len <= size - off;
}

bool is_pow2_or_zero(uint64_t v) {
    return (v & (v - 1)) == 0;
}

struct Phdr {
    uint32_t type, flags;
    uint64_t offset, vaddr, filesz, memsz, align;
};

Phdr read_phdr(Reader& r, uint64_t at) {
    Phdr p;
    p.type = r.get<uint32_t>(at + 0);
    p.flags = r.get<uint32_t>(at + 4);
    p.offset = r.get<uint64_t>(at + 8);
    p.vaddr = r.get<uint64_t>(at + 16);
    p.filesz = r.get<uint64_t>(at + 32);
    p.memsz = r.get<uint64_t>(at + 40);
    p.align = r.get<uint64_t>(at + 48);
    return p;
}

// A PT_DYNAMIC that lists DT_NEEDED makes the program dynamically linked
// even without PT_INTERP (it could not run without its libraries).
ElfProblem check_dynamic(Reader& r, const Phdr& d, uint64_t size) {
    if (!within(d.offset, d.filesz, size) || d.filesz % 16)
        return ElfProblem::BadSegment;
    for (uint64_t at = d.offset; at < d.offset + d.filesz; at += 16) {
        int64_t tag = r.get<int64_t>(at);
        if (tag == k_dt_null)
            break;
        if (tag == k_dt_needed)
            return ElfProblem::Dynamic;
    }
    return ElfProblem::None;
}

ElfProblem parse_into(ReadonlyBytes file, ElfInfo& info) {
    Reader r(file);
    uint64_t size = file.size();
    if (size < k_ehdr_size)
        return size >= 4 && file[0] == 0x7f && file[1] == 'E' && file[2] == 'L' && file[3] == 'F'
                   ? ElfProblem::Truncated
                   : ElfProblem::NotElf;
    if (file[0] != 0x7f || file[1] != 'E' || file[2] != 'L' || file[3] != 'F')
        return ElfProblem::NotElf;
    // e_ident: EI_CLASS = ELFCLASS64, EI_DATA = ELFDATA2LSB, EI_VERSION = 1.
    if (file[4] != 2 || file[5] != 1 || file[6] != 1)
        return ElfProblem::NotElf;
    uint16_t type = r.get<uint16_t>(16);
    uint16_t machine = r.get<uint16_t>(18);
    uint32_t version = r.get<uint32_t>(20);
    info.entry = r.get<uint64_t>(24);
    info.phoff = r.get<uint64_t>(32);
    uint16_t ehsize = r.get<uint16_t>(52);
    uint16_t phentsize = r.get<uint16_t>(54);
    uint16_t phnum = r.get<uint16_t>(56);
    if (version != 1)
        return ElfProblem::NotElf;
    if (machine != k_em_x86_64)
        return ElfProblem::NotX86_64;
    if (type != k_et_exec && type != k_et_dyn)
        return ElfProblem::NotExecutable;
    info.pie = type == k_et_dyn;
    if (ehsize < k_ehdr_size || phentsize != k_phdr_size || phnum == 0 || phnum > k_elf_max_phnum ||
        info.phoff % 8)
        return ElfProblem::BadHeaders;
    if (!within(info.phoff, uint64_t(phnum) * k_phdr_size, size))
        return ElfProblem::Truncated;
    info.phnum = phnum;

    bool saw_stack = false;
    uint64_t prev_end = 0;
    for (uint16_t i = 0; i < phnum; i++) {
        Phdr p = read_phdr(r, info.phoff + uint64_t(i) * k_phdr_size);
        uint64_t end;
        switch (p.type) {
        case k_pt_interp:
            return ElfProblem::Dynamic;
        case k_pt_dynamic: {
            ElfProblem d = check_dynamic(r, p, size);
            if (d != ElfProblem::None)
                return d;
            break;
        }
        case k_pt_phdr:
            info.phdr_vaddr = p.vaddr;
            info.has_phdr_vaddr = true;
            break;
        case k_pt_gnu_stack:
            saw_stack = true;
            info.exec_stack = p.flags & k_pf_x;
            break;
        case k_pt_tls:
            if (info.has_tls || p.filesz > p.memsz || !within(p.offset, p.filesz, size) ||
                !is_pow2_or_zero(p.align) || add_overflows(p.vaddr, p.memsz, &end))
                return ElfProblem::BadSegment;
            info.has_tls = true;
            info.tls_vaddr = p.vaddr;
            info.tls_memsz = p.memsz;
            info.tls_filesz = p.filesz;
            info.tls_align = p.align;
            break;
        case k_pt_load: {
            if (p.memsz == 0)
                break; // maps nothing
            if (info.nloads == k_elf_max_loads)
                return ElfProblem::BadHeaders;
            // Linux maps file pages at page granularity, so the offset and
            // the address must agree within the page (p_align is a hint
            // beyond that).
            if (p.filesz > p.memsz || !within(p.offset, p.filesz, size) ||
                !is_pow2_or_zero(p.align) || p.vaddr % k_page_size != p.offset % k_page_size ||
                add_overflows(p.vaddr, p.memsz, &end) || end > UINT64_MAX - k_page_size)
                return ElfProblem::BadSegment;
            if (info.nloads && p.vaddr < prev_end)
                return ElfProblem::BadSegment; // unsorted or overlapping
            prev_end = end;
            info.loads[info.nloads++] = {p.vaddr, p.memsz, p.offset, p.filesz, p.flags};
            break;
        }
        default:
            break;
        }
    }
    if (r.overrun())
        return ElfProblem::Truncated;
    if (info.nloads == 0)
        return ElfProblem::BadHeaders;
    // The System V ABI: without PT_GNU_STACK the stack is executable.
    if (!saw_stack)
        info.exec_stack = true;
    info.lo = info.loads[0].vaddr & ~(k_page_size - 1);
    const ElfLoad& last = info.loads[info.nloads - 1];
    info.hi = align_up(last.vaddr + last.memsz, k_page_size);

    // An ET_DYN without an entry point is a shared object, not a program.
    if (info.entry == 0 && info.pie)
        return ElfProblem::NotExecutable;
    bool entry_ok = false;
    for (int i = 0; i < info.nloads; i++) {
        const ElfLoad& l = info.loads[i];
        if ((l.flags & k_pf_x) && info.entry >= l.vaddr && info.entry - l.vaddr < l.memsz)
            entry_ok = true;
    }
    if (!entry_ok)
        return ElfProblem::BadEntry;
    if (info.has_tls) {
        // The initialised image (.tdata) must be loaded: libc copies it for
        // every thread.  The .tbss tail occupies no address space.
        bool inside = false;
        for (int i = 0; i < info.nloads; i++) {
            const ElfLoad& l = info.loads[i];
            if (info.tls_vaddr >= l.vaddr && info.tls_filesz <= l.filesz &&
                info.tls_vaddr - l.vaddr <= l.filesz - info.tls_filesz)
                inside = true;
        }
        if (!inside)
            return ElfProblem::BadSegment;
    }
    // Where the program headers are in memory (AT_PHDR): PT_PHDR, else the
    // PT_LOAD whose file bytes contain the table.  If neither, the loader
    // copies the table onto the initial stack.
    uint64_t ph_bytes = uint64_t(phnum) * k_phdr_size;
    if (info.has_phdr_vaddr) {
        bool loaded = false;
        for (int i = 0; i < info.nloads; i++) {
            const ElfLoad& l = info.loads[i];
            if (info.phdr_vaddr >= l.vaddr && ph_bytes <= l.filesz &&
                info.phdr_vaddr - l.vaddr <= l.filesz - ph_bytes)
                loaded = true;
        }
        if (!loaded)
            return ElfProblem::BadHeaders;
    } else {
        for (int i = 0; i < info.nloads; i++) {
            const ElfLoad& l = info.loads[i];
            if (info.phoff >= l.offset && ph_bytes <= l.filesz &&
                info.phoff - l.offset <= l.filesz - ph_bytes) {
                info.phdr_vaddr = l.vaddr + (info.phoff - l.offset);
                info.has_phdr_vaddr = true;
                break;
            }
        }
    }
    return ElfProblem::None;
}

} // namespace

ElfParse elf_parse(ReadonlyBytes file) {
    ElfParse out;
    out.problem = parse_into(file, out.info);
    return out;
}

int elf_problem_errno(ElfProblem p) {
    switch (p) {
    case ElfProblem::None:
        return 0;
    case ElfProblem::Dynamic:
        return ELIBBAD;
    default:
        return ENOEXEC;
    }
}

const char* elf_problem_text(ElfProblem p) {
    switch (p) {
    case ElfProblem::None:
        return "valid";
    case ElfProblem::Truncated:
        return "truncated ELF file";
    case ElfProblem::NotElf:
        return "not an ELF64 little-endian file";
    case ElfProblem::NotX86_64:
        return "not an x86-64 program";
    case ElfProblem::NotExecutable:
        return "not an executable (object file or shared library)";
    case ElfProblem::Dynamic:
        return "dynamically linked (needs an interpreter or libraries)";
    case ElfProblem::BadHeaders:
        return "malformed program headers";
    case ElfProblem::BadSegment:
        return "malformed segment";
    case ElfProblem::BadEntry:
        return "entry point outside the executable segments";
    }
    return "invalid";
}

Result<void> elf_check_placement(const ElfInfo& info, uint64_t bias, uint64_t lo, uint64_t hi) {
    for (int i = 0; i < info.nloads; i++) {
        const ElfLoad& l = info.loads[i];
        uint64_t start, end;
        if (add_overflows(l.vaddr & ~(k_page_size - 1), bias, &start) ||
            add_overflows(align_up(l.vaddr + l.memsz, k_page_size), bias, &end))
            return ERANGE;
        if (start < lo || end > hi)
            return ERANGE;
    }
    return {};
}

} // namespace ak::exec
