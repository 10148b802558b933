// Boot: from ak_pvh_entry (boot.S) to ak_kvm_main in a thread.
#include "platform.h"

extern "C" void (*__init_array_start[])(), (*__init_array_end[])();

namespace akkvm {
namespace {

// Xen's hvm_start_info (xen/include/public/arch-x86/hvm/start_info.h).
struct StartInfo {
    uint32_t magic; // 0x336ec578
    uint32_t version;
    uint32_t flags;
    uint32_t nr_modules;
    uint64_t modlist_paddr;
    uint64_t cmdline_paddr;
    uint64_t rsdp_paddr;
    uint64_t memmap_paddr; // version >= 1
    uint32_t memmap_entries;
    uint32_t reserved;
};
static_assert(sizeof(StartInfo) == 56);

struct MemmapEntry {
    uint64_t addr, size;
    uint32_t type, reserved;
};
static_assert(sizeof(MemmapEntry) == 24);

constexpr uint32_t k_start_info_magic = 0x336ec578;
constexpr uint32_t k_memmap_ram = 1;
constexpr size_t k_max_ranges = 64;
MemoryRange g_ram[k_max_ranges];
size_t g_nram;
const akhyp_upcalls* g_kernel_upcalls;
uint64_t g_entry_tsc;
bool g_verbose;

// Boot stage timestamps (TSC), printed with verbose=2 once the TSC rate is
// known: where boot time goes.
struct Stage {
    const char* name;
    uint64_t tsc;
};
Stage g_stages[12];
unsigned g_nstages;
void stage(const char* name) {
    if (g_nstages < sizeof g_stages / sizeof g_stages[0])
        g_stages[g_nstages++] = {name, rdtsc()};
}
void print_stages() {
    uint64_t prev = g_entry_tsc;
    for (unsigned i = 0; i < g_nstages; i++) {
        kprintf("ak-kvm: boot stage %s done at %lu us (+%lu)\n", g_stages[i].name,
                (g_stages[i].tsc - g_entry_tsc) * 1000000 / tsc_hz(),
                (g_stages[i].tsc - prev) * 1000000 / tsc_hz());
        prev = g_stages[i].tsc;
    }
}

void collect_ram(const StartInfo* si) {
    if (si->version >= 1 && si->memmap_paddr) {
        auto map = reinterpret_cast<const MemmapEntry*>(si->memmap_paddr);
        for (uint32_t i = 0; i < si->memmap_entries && g_nram < k_max_ranges; i++)
            if (map[i].type == k_memmap_ram && map[i].size)
                g_ram[g_nram++] = {map[i].addr, map[i].size};
    }
    if (g_nram == 0) {
        // No memory map: the CMOS has the size in 64 KiB units above 16 MiB.
        uint64_t above16;
        outb(0x70, 0x34);
        above16 = inb(0x71);
        outb(0x70, 0x35);
        above16 |= uint64_t(inb(0x71)) << 8;
        g_ram[g_nram++] = {0x100000, (15 << 20) + (above16 << 16)};
        kprintf("ak-kvm: no PVH memory map, using CMOS size\n");
    }
}

void main_thread(void*) {
    for (auto ctor = __init_array_start; ctor != __init_array_end; ctor++)
        (*ctor)();
    stage("ctors");
    size_t len;
    const char* verbose = cmdline_get(AKHYP_PARAM_VERBOSE, &len);
    if (verbose && len && verbose[0] >= '2')
        print_stages();
    if (g_verbose)
        kprintf("ak-kvm: platform ready %lu us after entry\n",
                (rdtsc() - g_entry_tsc) * 1000000 / tsc_hz());
    char** argv;
    int argc = cmdline_args(&argv);
    machine_exit(ak_kvm_main(argc, argv));
}

} // namespace

void report_uptime() {
    if (g_verbose)
        kprintf("ak-kvm: exit %lu us after entry\n", (rdtsc() - g_entry_tsc) * 1000000 / tsc_hz());
}

} // namespace akkvm

using namespace akkvm;

extern "C" [[noreturn]] void ak_kvm_start(uint32_t start_info_paddr) {
    g_entry_tsc = rdtsc();
    console_init();
    auto si = reinterpret_cast<const StartInfo*>(uint64_t(start_info_paddr));
    if (!si || si->magic != k_start_info_magic) {
        kprintf("ak-kvm: not started by a PVH loader (bad start_info)\n");
        machine_exit(AKHYP_EXIT_PANIC);
    }
    cmdline_init(si->cmdline_paddr ? reinterpret_cast<const char*>(si->cmdline_paddr) : "");
    traps_init();
    stage("traps");
    collect_ram(si);
    memory_init(g_ram, g_nram);
    stage("memory");
    acpi_init(si->rsdp_paddr);
    stage("acpi");
    clock_init();
    stage("clock");
    sched_init();
    stage("sched");
    user_init();
    bus_init();
    stage("bus");
    random_init();
    stage("random");
    size_t len;
    const char* verbose = cmdline_get(AKHYP_PARAM_VERBOSE, &len);
    g_verbose = verbose && len && verbose[0] != '0';
    if (g_verbose)
        kprintf("ak-kvm: %lu MiB RAM, TSC %lu kHz, %zu RAM ranges, command line: %s\n",
                memory_total() >> 20, tsc_hz() / 1000, g_nram,
                si->cmdline_paddr ? reinterpret_cast<const char*>(si->cmdline_paddr) : "");
    if (akhyp_thread_create(main_thread, nullptr, "main", 0, 0, nullptr) != 0)
        panic("cannot create the main thread");
    sched_idle_loop();
}

extern "C" int akhyp_init(uint32_t version, const akhyp_upcalls* upcalls) {
    if ((version >> 16) != AK_HYPERCALL_VERSION_MAJOR ||
        (version & 0xffff) > AK_HYPERCALL_VERSION_MINOR)
        return 22; // EINVAL
    g_kernel_upcalls = upcalls;
    sched_set_upcalls(upcalls);
    user_set_upcalls(version, upcalls);
    return 0;
}

extern "C" uint32_t akhyp_groups(void) {
    return AKHYP_GROUP_CORE | AKHYP_GROUP_BUS | AKHYP_GROUP_USER;
}
