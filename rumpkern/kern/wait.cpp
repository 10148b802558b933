#include <ak/thread.h>
#include <ak/time.h>
#include <ak/wait.h>

namespace ak {

WaitQueue::~WaitQueue() {
    // Pollers hold entries only while they hold a reference to the file that
    // owns this queue, so the queue must be empty by now.
    AK_ASSERT(m_entries.empty());
}

void WaitQueue::add(PollEntry& e) {
    MutexGuard g(m_lock);
    e.queue = this;
    m_entries.push_back(e);
}

void WaitQueue::remove(PollEntry& e) {
    MutexGuard g(m_lock);
    if (e.node.linked())
        m_entries.remove(e);
    e.queue = nullptr;
}

void WaitQueue::wake(uint32_t events) {
    MutexGuard g(m_lock);
    for (auto& e : m_entries)
        e.callback(&e, events);
}

PollTable::~PollTable() {
    for (size_t i = 0; i < m_count; i++) {
        PollEntry* e = i < k_inline ? &m_inline[i] : m_extra[i - k_inline];
        if (e->queue)
            e->queue->remove(*e);
        if (i >= k_inline)
            destroy(e);
    }
    kmem_free(m_extra);
}

void PollTable::on_wake(PollEntry* e, uint32_t) {
    auto* pt = static_cast<PollTable*>(e->context);
    MutexGuard g(pt->m_lock);
    pt->m_fired = true;
    pt->m_cv.broadcast();
}

void PollTable::add(WaitQueue& q) {
    if (m_add_fn) {
        m_add_fn(m_add_context, q);
        return;
    }
    PollEntry* e;
    if (m_count < k_inline) {
        e = &m_inline[m_count];
    } else {
        size_t idx = m_count - k_inline;
        if (idx >= m_extra_cap) {
            size_t ncap = m_extra_cap ? m_extra_cap * 2 : 16;
            auto** n = static_cast<PollEntry**>(kmem_realloc(m_extra, ncap * sizeof(PollEntry*)));
            if (!n) {
                m_degraded = true;
                return;
            }
            m_extra = n;
            m_extra_cap = ncap;
        }
        e = make<PollEntry>();
        if (!e) {
            m_degraded = true;
            return;
        }
        m_extra[idx] = e;
    }
    e->callback = on_wake;
    e->context = this;
    m_count++;
    q.add(*e);
}

Result<void> PollTable::wait(int64_t deadline_ns) {
    MutexGuard g(m_lock);
    if (m_degraded) {
        // Could not register everywhere: re-check at least every 10 ms.
        int64_t slice = monotonic_ns() + 10000000;
        if (deadline_ns <= 0 || deadline_ns > slice)
            deadline_ns = slice;
    }
    while (!m_fired) {
        Result<void> r = m_cv.wait_interruptible(m_lock, deadline_ns);
        if (r.is_error()) {
            if (r.error() == ETIMEDOUT && m_degraded)
                return {};
            return r;
        }
    }
    m_fired = false;
    return {};
}

} // namespace ak
