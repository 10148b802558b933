// The callout thread.  Pending callouts sit on one unsorted list with the
// earliest deadline cached: arming is O(1), and the thread wakes only at the
// earliest deadline, then scans once.  Enough for the timers a network stack
// keeps (retransmit, delayed ACK, keepalive: rearmed far more often than
// they fire).
#include <ak/callout.h>
#include <ak/component.h>
#include <ak/log.h>
#include <ak/sync.h>
#include <ak/thread.h>
#include <ak/time.h>

namespace ak {

namespace {

NoDestroy<Mutex> g_lock_storage;
Mutex& g_lock = g_lock_storage;
NoDestroy<CondVar> g_cv_storage;
CondVar& g_cv = g_cv_storage;
List<Callout, &Callout::node> g_pending AK_GUARDED_BY(g_lock);
int64_t g_earliest AK_GUARDED_BY(g_lock) = 0; // 0: nothing pending

void callout_thread(void*) {
    MutexGuard g(g_lock);
    for (;;) {
        int64_t now = monotonic_ns();
        if (g_pending.empty()) {
            g_earliest = 0;
            g_cv.wait(g_lock);
            continue;
        }
        if (g_earliest > now) {
            int64_t want = g_earliest;
            g_cv.wait_until(g_lock, want);
            int64_t late = monotonic_ns() - want;
            if (late > 50000000)
                AK_LOG_WARN("callout: woke %lld ms late (earliest now %lld, want %lld)", (long long)(late / 1000000), (long long)g_earliest, (long long)want);
            continue;
        }
        // Run everything that is due; recompute the earliest deadline.
        Callout* due = nullptr;
        int64_t earliest = 0;
        for (Callout* c = g_pending.first(); c;) {
            Callout* next = g_pending.next(*c);
            if (c->when <= now) {
                due = c;
                break;
            }
            if (!earliest || c->when < earliest)
                earliest = c->when;
            c = next;
        }
        if (!due) {
            g_earliest = earliest;
            continue;
        }
        g_pending.remove(*due);
        due->pending = false;
        void (*fn)(void*) = due->fn;
        void* arg = due->arg;
        g_lock.unlock();
        fn(arg);
        g_lock.lock();
    }
}

Result<void> callout_start() {
    TRY(kthread_create(callout_thread, nullptr, "callout", false));
    return {};
}

} // namespace

void callout_init(Callout& c, void (*fn)(void*), void* arg) {
    c.fn = fn;
    c.arg = arg;
    c.pending = false;
    c.when = 0;
}

bool callout_schedule(Callout& c, int64_t deadline_ns) {
    MutexGuard g(g_lock);
    bool was = c.pending;
    c.when = deadline_ns;
    if (!was) {
        c.pending = true;
        g_pending.push_back(c);
    }
    if (!g_earliest || deadline_ns < g_earliest) {
        g_earliest = deadline_ns;
        g_cv.signal();
    }
    return was;
}

bool callout_stop(Callout& c) {
    MutexGuard g(g_lock);
    if (!c.pending)
        return false;
    g_pending.remove(c);
    c.pending = false;
    return true;
}

bool callout_pending(const Callout& c) {
    return c.pending;
}

} // namespace ak

AK_COMPONENT(callout, ak::InitLevel::Base, ak::callout_start);
