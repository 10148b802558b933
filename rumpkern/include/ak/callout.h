// Callouts: functions run once at a monotonic deadline on the kernel's
// callout thread.  Callbacks run with no lock held and may take any lock;
// they must not sleep for long (they delay every other callout).
//
// A Callout is embedded in its owner.  The owner must make sure it is not
// freed while pending or while its callback runs: the usual pattern is to
// hold a reference for as long as callout_schedule() reports a new arming
// and to drop it in the callback or when callout_stop() returns true.
#pragma once

#include <ak/list.h>

namespace ak {

struct Callout {
    ListNode node;
    int64_t when = 0;
    void (*fn)(void*) = nullptr;
    void* arg = nullptr;
    bool pending = false;
};

void callout_init(Callout& c, void (*fn)(void*), void* arg);
// Arm (or move) c to fire at deadline_ns.  Returns true if c was already
// pending (it was moved, not newly armed).
bool callout_schedule(Callout& c, int64_t deadline_ns);
// Disarm c.  Returns true if it was pending (its callback will not run for
// that arming); false if it was not armed or its callback already started.
bool callout_stop(Callout& c);
bool callout_pending(const Callout& c);

} // namespace ak
