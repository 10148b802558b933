// IDT, TSS with IST stacks, exception reports and interrupt dispatch.
#include "platform.h"

extern "C" uint64_t ak_gdt[];
extern "C" char ak_exception_stubs[], ak_irq_stubs[];
extern "C" char __image_start[], __image_end[];

namespace akkvm {
namespace {

struct [[gnu::packed]] Tss {
    uint32_t reserved0;
    uint64_t rsp[3];
    uint64_t reserved1;
    uint64_t ist[7];
    uint64_t reserved2;
    uint16_t reserved3;
    uint16_t iomap_base;
};
static_assert(sizeof(Tss) == 104);

struct IdtEntry {
    uint16_t offset_low, selector;
    uint8_t ist, type;
    uint16_t offset_mid;
    uint32_t offset_high, reserved;
};
static_assert(sizeof(IdtEntry) == 16);

// IST1: interrupt entry (only the frame copy runs here).  IST2: exceptions.
// IST3: NMI, double fault, machine check (may arrive during an exception).
constexpr size_t k_ist_size = 16384;
alignas(16) uint8_t g_ist_stacks[3][k_ist_size];
Tss g_tss;
IdtEntry g_idt[256];
IrqHandler g_handlers[256];
int g_exception_depth;

const char* const k_exception_names[32] = {"divide error",
                                           "debug",
                                           "NMI",
                                           "breakpoint",
                                           "overflow",
                                           "bound range",
                                           "invalid opcode",
                                           "device not available",
                                           "double fault",
                                           "coprocessor overrun",
                                           "invalid TSS",
                                           "segment not present",
                                           "stack fault",
                                           "general protection",
                                           "page fault",
                                           "reserved",
                                           "x87 FPU error",
                                           "alignment check",
                                           "machine check",
                                           "SIMD FP",
                                           "virtualization",
                                           "control protection",
                                           "reserved",
                                           "reserved",
                                           "reserved",
                                           "reserved",
                                           "reserved",
                                           "reserved",
                                           "hypervisor injection",
                                           "VMM communication",
                                           "security",
                                           "reserved"};

// type 0x8e: present interrupt gate, DPL 0; 0xee: DPL 3, which user mode
// may reach with an int instruction (int3).
void set_gate(unsigned vector, const void* stub, uint8_t ist, uint8_t type = 0x8e) {
    auto a = reinterpret_cast<uint64_t>(stub);
    g_idt[vector] = IdtEntry{uint16_t(a), 0x08, ist, type, uint16_t(a >> 16), uint32_t(a >> 32), 0};
}

// The 8259 PICs exist on pc/q35 (and microvm by default): move them off the
// exception vectors and mask them; all timing uses the LAPIC.
void pic_disable() {
    const uint8_t init[2][4] = {{0x11, 0x30, 0x04, 0x01}, {0x11, 0x38, 0x02, 0x01}};
    for (int i = 0; i < 4; i++) {
        outb(0x20 + (i ? 1 : 0), init[0][i]);
        outb(0xa0 + (i ? 1 : 0), init[1][i]);
    }
    outb(0x21, 0xff);
    outb(0xa1, 0xff);
}

bool frame_pointer_ok(uint64_t rbp) {
    // Kernel and thread stacks are in identity-mapped RAM; refuse anything
    // else so a corrupt chain cannot fault inside the fault handler.
    return rbp >= 0x1000 && (rbp & 7) == 0 && rbp < memory_top() - 16;
}

} // namespace

void print_backtrace(uint64_t rbp) {
    for (int depth = 0; depth < 32 && frame_pointer_ok(rbp); depth++) {
        auto frame = reinterpret_cast<const uint64_t*>(rbp);
        uint64_t ret = frame[1];
        if (ret < uint64_t(__image_start) || ret >= uint64_t(__image_end))
            break;
        kprintf("ak-kvm: bt #%d %p\n", depth + 1, reinterpret_cast<void*>(ret));
        if (frame[0] <= rbp)
            break;
        rbp = frame[0];
    }
}

void traps_init() {
    pic_disable();
    for (int i = 0; i < 3; i++)
        g_tss.ist[i] = reinterpret_cast<uint64_t>(g_ist_stacks[i] + k_ist_size);
    g_tss.iomap_base = sizeof(Tss);
    auto base = reinterpret_cast<uint64_t>(&g_tss);
    uint64_t limit = sizeof(Tss) - 1;
    ak_gdt[5] = (limit & 0xffff) | (base & 0xffffff) << 16 | uint64_t(0x89) << 40 |
                ((limit >> 16) & 0xf) << 48 | ((base >> 24) & 0xff) << 56;
    ak_gdt[6] = base >> 32;
    asm volatile("ltr %w0" ::"r"(0x28));

    // Every vector has an IST stack (docs/kvm.md), so the CPU never uses
    // TSS.RSP0; entries from user mode move to the kernel stack themselves.
    for (unsigned v = 0; v < 32; v++)
        set_gate(v, ak_exception_stubs + 16 * v, v == 2 || v == 8 || v == 18 ? 3 : 2,
                 v == 3 ? 0xee : 0x8e);
    for (unsigned v = 32; v < 256; v++)
        set_gate(v, ak_irq_stubs + 16 * (v - 32), 1);
    struct [[gnu::packed]] {
        uint16_t limit;
        uint64_t base;
    } idtr{sizeof g_idt - 1, reinterpret_cast<uint64_t>(g_idt)};
    asm volatile("lidt %0" ::"m"(idtr));
}

const char* exception_name(uint64_t vector) {
    return k_exception_names[vector & 31];
}

void tss_set_rsp0(uint64_t rsp0) {
    g_tss.rsp[0] = rsp0;
}

void irq_set_handler(unsigned vector, IrqHandler handler) {
    if (vector >= 32 && vector < 256)
        g_handlers[vector] = handler;
}

} // namespace akkvm

using namespace akkvm;

extern "C" void ak_exception(TrapFrame* f) {
    uint64_t cr2 = 0;
    if (f->vector == 14)
        asm volatile("mov %%cr2, %0" : "=r"(cr2));
    if ((f->cs & 3) == 3) {
        if (user_exception(f, cr2))
            return;
    } else if (f->vector == 14) {
        // Kernel code touching demand-zero user memory (read() into a fresh
        // buffer): resolved here, on IST2, without blocking.
        FaultResult r = vm_resolve_fault(cr2, f->error);
        if (r == FaultResult::Resolved)
            return;
        // A bad user pointer inside akhyp_user_guard: back to its caller.
        if (vm_user_address(cr2) && user_guard_recover(f, cr2))
            return;
        if (r == FaultResult::NoMemory)
            kprintf("ak-kvm: out of memory for a demand-zero user page at %p\n",
                    reinterpret_cast<void*>(cr2));
        else if (r == FaultResult::Denied)
            kprintf("ak-kvm: kernel access to user page %p against its protection\n",
                    reinterpret_cast<void*>(cr2));
    }
    if (g_exception_depth++) {
        kprintf("ak-kvm: nested exception %lu at %p\n", f->vector, reinterpret_cast<void*>(f->rip));
        machine_exit(AKHYP_EXIT_PANIC);
    }
    uint64_t cr3;
    asm volatile("mov %%cr2, %0; mov %%cr3, %1" : "=r"(cr2), "=r"(cr3));
    kprintf("ak-kvm: exception %lu (%s) error 0x%lx in thread '%s'\n", f->vector,
            k_exception_names[f->vector & 31], f->error, current_thread_name());
    kprintf("  rip %016lx  cs %04lx  rflags %016lx\n", f->rip, f->cs, f->rflags);
    kprintf("  rsp %016lx  ss %04lx  cr2 %016lx  cr3 %016lx\n", f->rsp, f->ss, cr2, cr3);
    kprintf("  rax %016lx  rbx %016lx  rcx %016lx\n", f->rax, f->rbx, f->rcx);
    kprintf("  rdx %016lx  rsi %016lx  rdi %016lx\n", f->rdx, f->rsi, f->rdi);
    kprintf("  rbp %016lx  r8  %016lx  r9  %016lx\n", f->rbp, f->r8, f->r9);
    kprintf("  r10 %016lx  r11 %016lx  r12 %016lx\n", f->r10, f->r11, f->r12);
    kprintf("  r13 %016lx  r14 %016lx  r15 %016lx\n", f->r13, f->r14, f->r15);
    kprintf("ak-kvm: bt #0 %p\n", reinterpret_cast<void*>(f->rip));
    // GCC gives leaf functions that use no stack no frame even with
    // -fno-omit-frame-pointer; then the caller's return address is the word
    // at %rsp, which the %rbp chain skips.  Print it when it points at code.
    if (frame_pointer_ok(f->rsp)) {
        uint64_t top = *reinterpret_cast<const uint64_t*>(f->rsp);
        if (top >= uint64_t(__image_start) && top < uint64_t(__image_end))
            kprintf("ak-kvm: sp[0] %p\n", reinterpret_cast<void*>(top));
    }
    print_backtrace(f->rbp);
    machine_exit(AKHYP_EXIT_PANIC);
}

extern "C" void ak_irq_dispatch(TrapFrame* f) {
    unsigned v = unsigned(f->vector);
    if (v == k_spurious_vector)
        return; // no EOI for the LAPIC spurious vector
    if (v == k_timer_vector)
        sched_timer_interrupt();
    else if (g_handlers[v])
        g_handlers[v](f);
    if (v < 0x30 || v >= 0x40) // masked 8259 vectors only arrive spuriously
        lapic_eoi();
    sched_preempt_point();
    if ((f->cs & 3) == 3)
        user_interrupt_return(f);
}
