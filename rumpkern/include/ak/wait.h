// Wait queues for poll/select/epoll and anything else that must learn when a
// file becomes readable or writable.  A PollEntry is a callback registered on
// a WaitQueue; wake() calls every entry with the events that happened.
#pragma once

#include <ak/list.h>
#include <ak/sync.h>

namespace ak {

class WaitQueue;

struct PollEntry {
    ListNode node;
    WaitQueue* queue = nullptr;
    void (*callback)(PollEntry*, uint32_t events) = nullptr;
    void* context = nullptr;
};

class WaitQueue : NonCopyable {
public:
    ~WaitQueue();
    void add(PollEntry& e);
    void remove(PollEntry& e);
    void wake(uint32_t events);

private:
    Mutex m_lock;
    List<PollEntry, &PollEntry::node> m_entries AK_GUARDED_BY(m_lock);
};

// Collects the registrations of one poll()/select() call and sleeps until one
// fires.
class PollTable : NonCopyable {
public:
    PollTable() = default;
    // A table whose registrations are made by add_fn instead (epoll: one
    // persistent entry per watched file).
    using AddFn = void (*)(void* context, WaitQueue& q);
    PollTable(AddFn add_fn, void* context) : m_add_fn(add_fn), m_add_context(context) {}
    ~PollTable();
    // Register on q (called by File::poll implementations).  Allocation
    // failure makes the table "degraded": waits then time-slice instead.
    void add(WaitQueue& q);
    // Sleep until woken, interrupted (EINTR) or deadline (monotonic ns, 0 =
    // none; returns ETIMEDOUT).
    Result<void> wait(int64_t deadline_ns);
    bool fired() const { return m_fired; }

private:
    static void on_wake(PollEntry* e, uint32_t events);
    AddFn m_add_fn = nullptr;
    void* m_add_context = nullptr;
    static constexpr size_t k_inline = 8;
    PollEntry m_inline[k_inline];
    PollEntry** m_extra = nullptr;
    size_t m_count = 0;
    size_t m_extra_cap = 0;
    bool m_degraded = false;
    Mutex m_lock;
    CondVar m_cv;
    bool m_fired AK_GUARDED_BY(m_lock) = false;
};

} // namespace ak
