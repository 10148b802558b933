// libFuzzer target: the exec component's ELF parser on arbitrary bytes
// (components/exec/elf_image.h).  Whatever it accepts must be consistent:
// segments inside the file, sorted, filesz <= memsz, the entry inside an
// executable segment.
#include "elf_image.h"

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

using namespace ak::exec;

// The parser is linked alone: a kernel assertion (never expected on any
// input) aborts, which libFuzzer reports.
[[noreturn]] void ak::panic(const char*, ...) {
    abort();
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    // A copy of exactly size bytes, so reads past the end are caught.
    uint8_t* copy = static_cast<uint8_t*>(malloc(size ? size : 1));
    memcpy(copy, data, size);
    ElfParse r = elf_parse(ak::ReadonlyBytes(copy, size));
    if (r.problem == ElfProblem::None) {
        const ElfInfo& info = r.info;
        if (info.nloads < 1 || info.nloads > k_elf_max_loads)
            abort();
        bool entry_ok = false;
        for (int i = 0; i < info.nloads; i++) {
            const ElfLoad& l = info.loads[i];
            if (l.filesz > l.memsz || l.offset > size || l.filesz > size - l.offset)
                abort();
            if (i && l.vaddr < info.loads[i - 1].vaddr + info.loads[i - 1].memsz)
                abort();
            if ((l.flags & k_pf_x) && info.entry >= l.vaddr && info.entry - l.vaddr < l.memsz)
                entry_ok = true;
        }
        if (!entry_ok || info.lo > info.hi)
            abort();
        (void)elf_check_placement(info, 0x400000, 0x400000, 0x800000);
    }
    free(copy);
    return 0;
}
