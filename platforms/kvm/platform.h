// Internal interfaces of the kvm platform.  Nothing here is visible to the
// kernel, which only sees anykern/hypercall.h.
#pragma once

#include <stddef.h>
#include <stdint.h>

#include <anykern/hypercall.h>

namespace akkvm {

constexpr uint64_t k_page_size = 4096;

// --- cpu.h -----------------------------------------------------------------
inline void outb(uint16_t port, uint8_t v) {
    asm volatile("outb %0, %1" ::"a"(v), "Nd"(port));
}
inline void outw(uint16_t port, uint16_t v) {
    asm volatile("outw %0, %1" ::"a"(v), "Nd"(port));
}
inline void outl(uint16_t port, uint32_t v) {
    asm volatile("outl %0, %1" ::"a"(v), "Nd"(port));
}
inline uint16_t inw(uint16_t port) {
    uint16_t v;
    asm volatile("inw %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline uint32_t inl(uint16_t port) {
    uint32_t v;
    asm volatile("inl %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline uint8_t inb(uint16_t port) {
    uint8_t v;
    asm volatile("inb %1, %0" : "=a"(v) : "Nd"(port));
    return v;
}
inline uint64_t rdtsc() {
    uint32_t lo, hi;
    asm volatile("rdtsc" : "=a"(lo), "=d"(hi));
    return (uint64_t(hi) << 32) | lo;
}
inline uint64_t rdmsr(uint32_t msr) {
    uint32_t lo, hi;
    asm volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return (uint64_t(hi) << 32) | lo;
}
inline void wrmsr(uint32_t msr, uint64_t v) {
    asm volatile("wrmsr" ::"c"(msr), "a"(uint32_t(v)), "d"(uint32_t(v >> 32)));
}
inline void cpuid(uint32_t leaf, uint32_t sub, uint32_t r[4]) {
    asm volatile("cpuid" : "=a"(r[0]), "=b"(r[1]), "=c"(r[2]), "=d"(r[3]) : "a"(leaf), "c"(sub));
}
inline void pause() {
    asm volatile("pause");
}

// Interrupts off is the lock of this single-CPU platform: every scheduler,
// allocator and console critical section runs under an IrqGuard.  (SMP will
// add a spinlock beside the flag save; see docs/kvm.md.)
inline uint64_t irq_save() {
    uint64_t flags;
    asm volatile("pushfq; popq %0; cli" : "=r"(flags)::"memory");
    return flags;
}
inline void irq_restore(uint64_t flags) {
    if (flags & 0x200)
        asm volatile("sti" ::: "memory");
}
class IrqGuard {
public:
    IrqGuard() : m_flags(irq_save()) {}
    ~IrqGuard() { irq_restore(m_flags); }
    IrqGuard(const IrqGuard&) = delete;
    IrqGuard& operator=(const IrqGuard&) = delete;

private:
    uint64_t m_flags;
};

// --- console.cpp -----------------------------------------------------------
void console_init();
void console_write(const char* s, size_t len);
void kprintf(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void panic(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
[[noreturn]] void machine_exit(int status);
void acpi_init(uint64_t rsdp_paddr);
const uint8_t* acpi_find_table(const char* sig); // nullptr when absent

void report_uptime(); // start.cpp: with verbose=1, time since entry

// --- cmdline.cpp -----------------------------------------------------------
void cmdline_init(const char* cmdline);
// The value of key=value on the command line (before any "--"), or nullptr.
const char* cmdline_get(const char* key, size_t* len);
// Application arguments: the words after "--" (argv[0] is "app").
int cmdline_args(char*** argv);
// The index'th occurrence of key=value (before "--"), or nullptr.
const char* cmdline_get_nth(const char* key, unsigned index, size_t* len);

// --- traps.cpp -------------------------------------------------------------
struct TrapFrame {
    uint64_t r15, r14, r13, r12, r11, r10, r9, r8;
    uint64_t rdi, rsi, rbp, rdx, rcx, rbx, rax;
    uint64_t vector, error;
    uint64_t rip, cs, rflags, rsp, ss;
};
void traps_init();
using IrqHandler = void (*)(TrapFrame*);
void irq_set_handler(unsigned vector, IrqHandler handler);
void print_backtrace(uint64_t rbp);
const char* exception_name(uint64_t vector);
void tss_set_rsp0(uint64_t rsp0);

// --- memory.cpp ------------------------------------------------------------
struct MemoryRange {
    uint64_t base, size;
};
void memory_init(const MemoryRange* ram, size_t n);
void* page_alloc(size_t npages); // page-aligned, or nullptr
void page_free(void* p, size_t npages);
uint64_t memory_total(); // bytes of usable RAM
uint64_t memory_top();   // end of the highest RAM range

// --- clock.cpp -------------------------------------------------------------
void clock_init();
int64_t monotonic_ns();
void timer_arm(
    int64_t deadline_ns); // one-shot LAPIC interrupt at deadline (<= 0 or INT64_MAX: off)
uint64_t tsc_hz();
constexpr unsigned k_timer_vector = 0x20;
constexpr unsigned k_spurious_vector = 0xff;
void lapic_eoi();
uint32_t lapic_id();

// --- sched.cpp -------------------------------------------------------------
void sched_init();
void sched_timer_interrupt(); // from the timer vector, interrupts off
void sched_preempt_point();   // end of an interrupt: switch if a slice ran out
const char* current_thread_name();
[[noreturn]] void sched_idle_loop();
void sched_set_upcalls(const akhyp_upcalls* upcalls);
// User mode (user.cpp): the calling thread enters user mode for the
// first time (returns its kernel stack top; panics on the idle thread),
// and its FS base.
uint64_t sched_enter_user(uint64_t fs_base);
void sched_set_fs_base(uint64_t fs_base);
uint64_t sched_fs_base();
const uint8_t* sched_fpu_template(); // fninit + default MXCSR, fxsave format
// akhyp_user_interrupt: flag the user-mode thread whose curlwp is lwp
// (false: none); the current thread takes (tests and clears) its flag.
bool sched_request_interrupt(void* lwp);
bool sched_take_interrupt(); // interrupts off
// akhyp_user_guard (uentry.S): the current thread's innermost guard.
// enter saves the enclosing guard in save[0..1] and arms one whose landing
// runs on stack pointer sp; leave puts the saved one back.  sched_guard_sp:
// the innermost guard's sp (0: none) and whether the thread holds more
// mutexes/rwlocks than when it began.
void sched_guard_enter(uint64_t* save, uint64_t sp);
void sched_guard_leave(const uint64_t* save);
uint64_t sched_guard_sp(bool* more_locks);
// One waiting thread, signalled from interrupt handlers.
struct Event {
    void* waiter;
    bool pending;
};
void event_wait(Event* e);   // thread context: blocks until signalled, then clears
void event_signal(Event* e); // interrupts off (an interrupt handler)

// --- bus.cpp ---------------------------------------------------------------
void bus_init();                                // after sched_init: I/O APICs, the interrupt thread
bool range_is_ram(uint64_t base, uint64_t len); // memory.cpp
void map_device(uint64_t base, uint64_t end);   // memory.cpp: uncached, above 4 GiB too

// --- vm.cpp ----------------------------------------------------------------
// The user address space (hypercall user group): page tables of the general
// area, the executable window.
constexpr uint64_t k_pte_present = 0x1, k_pte_write = 0x2, k_pte_user = 0x4, k_pte_large = 0x80;
constexpr uint64_t k_pte_nx = uint64_t(1) << 63;
constexpr uint64_t k_pte_addr = 0x000ffffffffff000ull;
constexpr uint64_t k_pf_present = 0x1, k_pf_write = 0x2, k_pf_user = 0x4, k_pf_fetch = 0x10;
// The executable window [lo, hi) from the image's __ak_exec_window_lo/_hi
// symbols; false when the image defines none.
bool exec_window(uint64_t* lo, uint64_t* hi);
void vm_init(bool nx); // after memory_init: user bits of the identity map's upper levels
enum class FaultResult { NotMapped, Denied, NoMemory, Resolved };
// A page fault at addr with the CPU's error code; interrupts off.  Resolves
// first touches of demand-zero pages (any CPL) and stale TLB entries.
FaultResult vm_resolve_fault(uint64_t addr, uint64_t error);
// addr is in the general area or the executable window.
bool vm_user_address(uint64_t addr);

// --- user.cpp --------------------------------------------------------------
void user_init(); // after memory_init and sched_init: syscall MSRs, NX
void user_set_upcalls(uint32_t version, const akhyp_upcalls* upcalls);
// On every thread switch, for the incoming thread: the top of its kernel
// stack when it has entered user mode (0 otherwise) and its FS base.
void user_switch_in(uint64_t kstack_top, uint64_t fs_base);
// An exception taken in user mode (on the thread's kernel stack); returns
// false for the fatal ones (NMI, double fault, machine check).
bool user_exception(TrapFrame* f, uint64_t cr2);
// End of an interrupt taken in user mode (interrupts off): deliver a
// pending akhyp_user_interrupt before user mode resumes.
void user_interrupt_return(TrapFrame* f);
// A kernel-mode page fault at a user address that vm_resolve_fault did not
// resolve: resume at the innermost akhyp_user_guard's landing (true), or
// false when no guard is armed (or interrupts were off: fatal).
bool user_guard_recover(TrapFrame* f, uint64_t addr);

// --- random.cpp ------------------------------------------------------------
void random_init();

} // namespace akkvm

// The image's entry point, provided by the application side (ak-bake's
// glue, or a test program).  Its return value is the exit status.
extern "C" int ak_kvm_main(int argc, char** argv);
