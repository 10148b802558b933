// Threads, the scheduler, locks and condition variables.
//
// One CPU, preemptive round robin.  Interrupts off is the big lock (see
// IrqGuard).  A thread switch always happens inside schedule() with
// interrupts off; each side restores its own flags when it continues.
// Preemption: the LAPIC timer fires at the end of the running thread's
// 10 ms slice when another thread is ready, and ak_irq_dispatch calls
// sched_preempt_point() on the interrupted thread's own stack (entry.S).
// Waiting is by direct handoff: an unlocking thread grants the lock to the
// first waiter, so a woken waiter never has to compete again.
// FPU/SSE state is saved with fxsave on every switch, since application
// code (not kernel code) may have live XMM state when it is preempted:
// a ring-0 application, or a thread in user mode, whose state stays live
// through its system calls (docs/kvm.md, "User mode").  The FS base is
// per thread too (the user's TLS pointer).
#include "platform.h"

extern "C" void ak_switch_stack(uint64_t* save_sp, uint64_t new_sp);
extern "C" char ak_thread_trampoline[];
extern "C" char ak_boot_stack_bottom[];

namespace akkvm {
namespace {

constexpr int64_t k_never = INT64_MAX;
constexpr int64_t k_slice_ns = 10000000;
constexpr size_t k_default_stack = 256 * 1024;
constexpr size_t k_min_stack = 16 * 1024;
constexpr uint64_t k_stack_canary = 0xdeadc0de5afe57acull;

enum class State : uint8_t { Running, Ready, Blocked, Dead };

struct Thread;
struct WaitQueue {
    Thread* head;
    Thread* tail;
};

struct Thread {
    uint64_t sp;
    Thread* next;       // run queue or a wait queue
    Thread* sleep_next; // sleep list, sorted by deadline
    WaitQueue* waiting_on;
    int64_t deadline; // k_never when not on the sleep list
    State state;
    bool timed_out, granted, joinable, has_joiner;
    bool user;              // has entered user mode (akhyp_user_enter)
    bool interrupt_pending; // akhyp_user_interrupt: trap before user mode resumes
    Thread* all_next;       // every live thread but idle (akhyp_user_interrupt finds them)
    uint64_t locks_held;    // mutexes and rwlocks the thread holds (akhyp_user_guard)
    uint64_t guard_sp;      // innermost akhyp_user_guard's stack pointer, 0: none
    uint64_t guard_locks;   // locks_held when that guard began
    Thread* joiner;
    void* curlwp;
    uint64_t fs_base;
    void (*fn)(void*);
    void* arg;
    uint8_t* stack;
    size_t stack_pages;
    char name[32];
    alignas(16) uint8_t fpu[512];
};

Thread g_idle_thread;
Thread* g_current = &g_idle_thread;
WaitQueue g_run_queue;
Thread* g_sleepers;
Thread* g_zombies; // dead detached threads, freed by the next thread to run
Thread* g_all_threads;
int64_t g_slice_end;
int64_t g_timer_deadline = k_never;
bool g_need_resched;
alignas(16) uint8_t g_fpu_template[512];
const akhyp_upcalls* g_upcalls;

void enqueue(WaitQueue* q, Thread* t) {
    t->next = nullptr;
    if (q->tail)
        q->tail->next = t;
    else
        q->head = t;
    q->tail = t;
}

Thread* dequeue(WaitQueue* q) {
    Thread* t = q->head;
    if (t) {
        q->head = t->next;
        if (!q->head)
            q->tail = nullptr;
        t->next = nullptr;
    }
    return t;
}

void remove_from(WaitQueue* q, Thread* t) {
    Thread* prev = nullptr;
    for (Thread* p = q->head; p; prev = p, p = p->next) {
        if (p != t)
            continue;
        (prev ? prev->next : q->head) = p->next;
        if (q->tail == p)
            q->tail = prev;
        p->next = nullptr;
        return;
    }
}

void sleep_insert(Thread* t, int64_t deadline) {
    t->deadline = deadline;
    Thread** pp = &g_sleepers;
    while (*pp && (*pp)->deadline <= deadline)
        pp = &(*pp)->sleep_next;
    t->sleep_next = *pp;
    *pp = t;
}

void sleep_remove(Thread* t) {
    if (t->deadline == k_never)
        return;
    for (Thread** pp = &g_sleepers; *pp; pp = &(*pp)->sleep_next)
        if (*pp == t) {
            *pp = t->sleep_next;
            break;
        }
    t->deadline = k_never;
    t->sleep_next = nullptr;
}

// The timer is needed for the earliest sleeper and, when another thread
// is ready, for the end of the running thread's slice.
void rearm() {
    int64_t next = g_sleepers ? g_sleepers->deadline : k_never;
    if (g_run_queue.head && g_current != &g_idle_thread && g_slice_end < next)
        next = g_slice_end;
    if (next != g_timer_deadline) {
        g_timer_deadline = next;
        timer_arm(next);
    }
}

void make_ready(Thread* t) {
    sleep_remove(t);
    t->waiting_on = nullptr;
    t->state = State::Ready;
    enqueue(&g_run_queue, t);
    if (g_current == &g_idle_thread)
        g_need_resched = true;
    rearm();
}

void reap_zombies() {
    while (Thread* z = g_zombies) {
        g_zombies = z->next;
        page_free(z->stack, z->stack_pages);
        akhyp_free(z, sizeof(Thread));
    }
}

uint64_t stack_top(const Thread* t) {
    return reinterpret_cast<uint64_t>(t->stack) + t->stack_pages * k_page_size;
}

// Interrupts are off.  The caller has set g_current's state and, if it is
// Ready, queued it.
void schedule() {
    Thread* prev = g_current;
    Thread* next = dequeue(&g_run_queue);
    if (!next)
        next = prev->state == State::Ready || prev->state == State::Running ? prev : &g_idle_thread;
    if (next == prev) {
        prev->state = State::Running;
        return;
    }
    if (prev != &g_idle_thread && *reinterpret_cast<uint64_t*>(prev->stack) != k_stack_canary)
        panic("stack overflow in thread '%s'", prev->name);
    next->state = State::Running;
    g_current = next;
    g_slice_end = monotonic_ns() + k_slice_ns;
    rearm();
    asm volatile("fxsave64 %0" : "=m"(prev->fpu));
    user_switch_in(next->user ? stack_top(next) : 0, next->fs_base);
    ak_switch_stack(&prev->sp, next->sp);
    // prev runs again here
    asm volatile("fxrstor64 %0" ::"m"(prev->fpu));
    if (g_zombies)
        reap_zombies();
}

// Interrupts off.  Sleeps on q (may be null) until woken or deadline.
// Returns true when the deadline ended the wait.
bool block(WaitQueue* q, int64_t deadline) {
    Thread* self = g_current;
    if (self == &g_idle_thread)
        panic("the idle thread may not block");
    self->state = State::Blocked;
    self->timed_out = false;
    self->waiting_on = q;
    if (q)
        enqueue(q, self);
    if (deadline != k_never)
        sleep_insert(self, deadline);
    schedule();
    return self->timed_out;
}

void wake_one(WaitQueue* q) {
    if (Thread* t = dequeue(q))
        make_ready(t);
}

// --- mutex -----------------------------------------------------------------
struct Mutex {
    Thread* owner;
    WaitQueue waiters;
};
static_assert(sizeof(Mutex) <= sizeof(akhyp_mutex));

Mutex* as_mutex(akhyp_mutex* m) {
    return reinterpret_cast<Mutex*>(m);
}

void mutex_enter_locked(Mutex* m) {
    Thread* self = g_current;
    self->locks_held++;
    if (!m->owner) {
        m->owner = self;
        return;
    }
    if (m->owner == self)
        panic("thread '%s' enters a mutex it holds", self->name);
    self->granted = false;
    while (!self->granted)
        block(&m->waiters, k_never);
}

void mutex_exit_locked(Mutex* m) {
    if (m->owner != g_current)
        panic("thread '%s' exits a mutex it does not hold", g_current->name);
    g_current->locks_held--;
    Thread* t = dequeue(&m->waiters);
    m->owner = t;
    if (t) {
        t->granted = true;
        make_ready(t);
    }
}

// --- rwlock ----------------------------------------------------------------
// Writers are preferred at entry (a reader waits while a writer waits);
// a departing writer admits all waiting readers first, so neither side
// starves.
struct RwLock {
    Thread* writer;
    int64_t readers;
    WaitQueue waiting_readers, waiting_writers;
};
static_assert(sizeof(RwLock) <= sizeof(akhyp_rwlock));

RwLock* as_rw(akhyp_rwlock* rw) {
    return reinterpret_cast<RwLock*>(rw);
}

void grant_rw(RwLock* rw, bool prefer_readers) {
    if (rw->writer || rw->readers)
        return;
    if (rw->waiting_writers.head && !(prefer_readers && rw->waiting_readers.head)) {
        Thread* t = dequeue(&rw->waiting_writers);
        rw->writer = t;
        t->granted = true;
        make_ready(t);
        return;
    }
    while (Thread* t = dequeue(&rw->waiting_readers)) {
        rw->readers++;
        t->granted = true;
        make_ready(t);
    }
}

} // namespace

// Interrupt threads wait on an Event; the hard interrupt handler signals it
// with interrupts off and the thread runs next (front of the run queue,
// switched to at the end of the interrupt), so device handlers get
// interrupt-like latency while running in thread context.
void event_wait(Event* e) {
    IrqGuard guard;
    while (!e->pending) {
        e->waiter = g_current;
        block(nullptr, k_never);
    }
    e->pending = false;
}

void event_signal(Event* e) {
    e->pending = true;
    auto t = static_cast<Thread*>(e->waiter);
    if (!t)
        return;
    e->waiter = nullptr;
    sleep_remove(t);
    t->waiting_on = nullptr;
    t->state = State::Ready;
    t->next = g_run_queue.head;
    g_run_queue.head = t;
    if (!g_run_queue.tail)
        g_run_queue.tail = t;
    g_need_resched = true;
    rearm();
}

void sched_init() {
    asm volatile("fninit; fxsave64 %0" : "=m"(g_fpu_template));
    __builtin_memcpy(g_idle_thread.name, "idle", 5);
    g_idle_thread.state = State::Running;
    g_idle_thread.deadline = k_never;
    g_idle_thread.stack = reinterpret_cast<uint8_t*>(ak_boot_stack_bottom);
}

void sched_timer_interrupt() {
    g_timer_deadline = k_never; // one-shot: it has fired
    int64_t now = monotonic_ns();
    while (g_sleepers && g_sleepers->deadline <= now) {
        Thread* t = g_sleepers;
        if (t->waiting_on)
            remove_from(t->waiting_on, t);
        t->timed_out = true;
        make_ready(t);
    }
    if (g_run_queue.head && (now >= g_slice_end || g_current == &g_idle_thread))
        g_need_resched = true;
    rearm();
}

void sched_preempt_point() {
    if (!g_need_resched)
        return;
    g_need_resched = false;
    if (g_current != &g_idle_thread) {
        g_current->state = State::Ready;
        enqueue(&g_run_queue, g_current);
    }
    schedule();
}

const char* current_thread_name() {
    return g_current->name;
}

// The boot context becomes the idle thread: it halts until an interrupt
// makes a thread ready.
[[noreturn]] void sched_idle_loop() {
    for (;;) {
        asm volatile("cli");
        if (g_zombies)
            reap_zombies();
        if (g_run_queue.head) {
            g_need_resched = false;
            schedule();
        } else {
            asm volatile("sti; hlt" ::: "memory");
        }
    }
}

void sched_set_upcalls(const akhyp_upcalls* upcalls) {
    g_upcalls = upcalls;
}

uint64_t sched_enter_user(uint64_t fs_base) {
    IrqGuard guard;
    Thread* self = g_current;
    if (self == &g_idle_thread)
        panic("akhyp_user_enter from the boot thread");
    self->user = true;
    self->fs_base = fs_base;
    return stack_top(self);
}

void sched_set_fs_base(uint64_t fs_base) {
    g_current->fs_base = fs_base;
}

uint64_t sched_fs_base() {
    return g_current->fs_base;
}

bool sched_request_interrupt(void* lwp) {
    IrqGuard guard;
    for (Thread* t = g_all_threads; t; t = t->all_next)
        if (t->curlwp == lwp && t->user) {
            t->interrupt_pending = true;
            return true;
        }
    return false;
}

bool sched_take_interrupt() {
    bool pending = g_current->interrupt_pending;
    g_current->interrupt_pending = false;
    return pending;
}

const uint8_t* sched_fpu_template() {
    return g_fpu_template;
}

void sched_guard_enter(uint64_t* save, uint64_t sp) {
    IrqGuard guard;
    save[0] = g_current->guard_locks;
    save[1] = g_current->guard_sp;
    g_current->guard_locks = g_current->locks_held;
    g_current->guard_sp = sp;
}

void sched_guard_leave(const uint64_t* save) {
    IrqGuard guard;
    g_current->guard_locks = save[0];
    g_current->guard_sp = save[1];
}

uint64_t sched_guard_sp(bool* more_locks) {
    *more_locks = g_current->locks_held > g_current->guard_locks;
    return g_current == &g_idle_thread ? 0 : g_current->guard_sp;
}

} // namespace akkvm

using namespace akkvm;

extern "C" [[noreturn]] void ak_thread_start(void* arg) {
    auto self = static_cast<Thread*>(arg);
    asm volatile("fxrstor64 %0" ::"m"(self->fpu));
    asm volatile("sti");
    self->fn(self->arg);
    akhyp_thread_exit();
}

extern "C" int akhyp_thread_create(void (*fn)(void*), void* arg, const char* name, int joinable,
                                   size_t stacksize, void** cookie) {
    if (stacksize == 0)
        stacksize = k_default_stack;
    if (stacksize < k_min_stack)
        stacksize = k_min_stack;
    size_t pages = (stacksize + k_page_size - 1) / k_page_size;
    void* mem;
    if (akhyp_malloc(sizeof(Thread), 64, &mem))
        return 12; // ENOMEM
    auto stack = static_cast<uint8_t*>(page_alloc(pages));
    if (!stack) {
        akhyp_free(mem, sizeof(Thread));
        return 12;
    }
    auto t = static_cast<Thread*>(mem);
    __builtin_memset(t, 0, sizeof *t);
    t->fn = fn;
    t->arg = arg;
    t->joinable = joinable != 0;
    t->deadline = k_never;
    t->stack = stack;
    t->stack_pages = pages;
    for (size_t i = 0; name && name[i] && i < sizeof t->name - 1; i++)
        t->name[i] = name[i];
    __builtin_memcpy(t->fpu, g_fpu_template, sizeof t->fpu);
    *reinterpret_cast<uint64_t*>(stack) = k_stack_canary;

    // Initial frame for ak_switch_stack: r15 r14 r13 r12 rbx rbp, then the
    // return address; the trampoline then runs with %rsp = 0 mod 16 so
    // its call leaves the ABI's alignment.
    auto top = reinterpret_cast<uint64_t*>(stack + pages * k_page_size);
    uint64_t* sp = top - 3;
    *sp = reinterpret_cast<uint64_t>(ak_thread_trampoline);
    const uint64_t regs[6] = {0, 0, 0, reinterpret_cast<uint64_t>(t), 0, 0};
    for (int i = 5; i >= 0; i--)
        *--sp = regs[i];
    t->sp = reinterpret_cast<uint64_t>(sp);
    if (cookie)
        *cookie = joinable ? t : nullptr;

    IrqGuard guard;
    t->all_next = g_all_threads;
    g_all_threads = t;
    make_ready(t);
    return 0;
}

extern "C" void akhyp_thread_exit(void) {
    Thread* self = g_current;
    if (self->curlwp && g_upcalls && g_upcalls->thread_exit)
        g_upcalls->thread_exit(self->curlwp);
    asm volatile("cli");
    if (self == &g_idle_thread)
        panic("akhyp_thread_exit from the boot thread");
    self->state = State::Dead;
    for (Thread** pp = &g_all_threads; *pp; pp = &(*pp)->all_next)
        if (*pp == self) {
            *pp = self->all_next;
            break;
        }
    if (self->joinable) {
        if (self->joiner)
            make_ready(self->joiner);
    } else {
        self->next = g_zombies;
        g_zombies = self;
    }
    schedule();
    __builtin_unreachable();
}

extern "C" int akhyp_thread_join(void* cookie) {
    auto t = static_cast<Thread*>(cookie);
    if (!t || !t->joinable || t == g_current)
        return 22; // EINVAL
    {
        IrqGuard guard;
        if (t->has_joiner)
            return 22;
        t->has_joiner = true;
        t->joiner = g_current;
        while (t->state != State::Dead)
            block(nullptr, k_never);
    }
    page_free(t->stack, t->stack_pages);
    akhyp_free(t, sizeof(Thread));
    return 0;
}

extern "C" void akhyp_thread_yield(void) {
    IrqGuard guard;
    if (!g_run_queue.head)
        return;
    g_current->state = State::Ready;
    enqueue(&g_run_queue, g_current);
    schedule();
}

extern "C" void akhyp_curlwp_set(void* lwp) {
    g_current->curlwp = lwp;
}
extern "C" void* akhyp_curlwp_get(void) {
    return g_current->curlwp;
}

extern "C" void akhyp_clock_sleep(int64_t deadline_ns) {
    IrqGuard guard;
    while (monotonic_ns() < deadline_ns)
        block(nullptr, deadline_ns);
}

extern "C" void akhyp_mutex_init(akhyp_mutex* m) {
    __builtin_memset(m, 0, sizeof *m);
}
extern "C" void akhyp_mutex_destroy(akhyp_mutex* m) {
    if (as_mutex(m)->owner || as_mutex(m)->waiters.head)
        panic("destroying a held mutex");
}
extern "C" void akhyp_mutex_enter(akhyp_mutex* m) {
    IrqGuard guard;
    mutex_enter_locked(as_mutex(m));
}
extern "C" int akhyp_mutex_tryenter(akhyp_mutex* m) {
    IrqGuard guard;
    if (as_mutex(m)->owner)
        return 16; // EBUSY
    as_mutex(m)->owner = g_current;
    g_current->locks_held++;
    return 0;
}
extern "C" void akhyp_mutex_exit(akhyp_mutex* m) {
    IrqGuard guard;
    mutex_exit_locked(as_mutex(m));
}

extern "C" void akhyp_rw_init(akhyp_rwlock* rw) {
    __builtin_memset(rw, 0, sizeof *rw);
}
extern "C" void akhyp_rw_destroy(akhyp_rwlock* rw) {
    if (as_rw(rw)->writer || as_rw(rw)->readers)
        panic("destroying a held rwlock");
}
extern "C" int akhyp_rw_tryenter(akhyp_rwlock* rwl, int mode) {
    IrqGuard guard;
    RwLock* rw = as_rw(rwl);
    if (mode == AKHYP_RW_WRITER) {
        if (rw->writer || rw->readers)
            return 16;
        rw->writer = g_current;
    } else {
        if (rw->writer || rw->waiting_writers.head)
            return 16;
        rw->readers++;
    }
    g_current->locks_held++;
    return 0;
}
extern "C" void akhyp_rw_enter(akhyp_rwlock* rwl, int mode) {
    IrqGuard guard;
    if (akhyp_rw_tryenter(rwl, mode) == 0)
        return;
    RwLock* rw = as_rw(rwl);
    if (rw->writer == g_current)
        panic("thread '%s' enters an rwlock it holds as writer", g_current->name);
    Thread* self = g_current;
    self->granted = false;
    while (!self->granted)
        block(mode == AKHYP_RW_WRITER ? &rw->waiting_writers : &rw->waiting_readers, k_never);
    self->locks_held++;
}
extern "C" void akhyp_rw_exit(akhyp_rwlock* rwl) {
    IrqGuard guard;
    RwLock* rw = as_rw(rwl);
    bool was_writer = rw->writer == g_current;
    if (was_writer)
        rw->writer = nullptr;
    else if (rw->readers > 0)
        rw->readers--;
    else
        panic("thread '%s' exits an rwlock it does not hold", g_current->name);
    g_current->locks_held--;
    grant_rw(rw, was_writer);
}

struct Cond {
    WaitQueue waiters;
};
static_assert(sizeof(Cond) <= sizeof(akhyp_cond));

extern "C" void akhyp_cond_init(akhyp_cond* cv) {
    __builtin_memset(cv, 0, sizeof *cv);
}
extern "C" void akhyp_cond_destroy(akhyp_cond* cv) {
    if (reinterpret_cast<Cond*>(cv)->waiters.head)
        panic("destroying a condvar with waiters");
}
extern "C" int akhyp_cond_timedwait(akhyp_cond* cv, akhyp_mutex* m, int64_t deadline_ns) {
    IrqGuard guard;
    if (deadline_ns != k_never && monotonic_ns() >= deadline_ns)
        return 110; // ETIMEDOUT
    mutex_exit_locked(as_mutex(m));
    bool timed_out = block(&reinterpret_cast<Cond*>(cv)->waiters, deadline_ns);
    mutex_enter_locked(as_mutex(m));
    return timed_out ? 110 : 0;
}
extern "C" void akhyp_cond_wait(akhyp_cond* cv, akhyp_mutex* m) {
    akhyp_cond_timedwait(cv, m, k_never);
}
extern "C" void akhyp_cond_signal(akhyp_cond* cv) {
    IrqGuard guard;
    wake_one(&reinterpret_cast<Cond*>(cv)->waiters);
}
extern "C" void akhyp_cond_broadcast(akhyp_cond* cv) {
    IrqGuard guard;
    while (reinterpret_cast<Cond*>(cv)->waiters.head)
        wake_one(&reinterpret_cast<Cond*>(cv)->waiters);
}
