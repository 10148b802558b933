// Futexes: wait queues keyed by the address of a 32-bit word in the
// caller's memory.  There is one address space per kernel (a local client's
// host process, the unikernel's one user address space), so private and
// shared futexes are the same thing: the key is the address.
//
// The kernel reads and modifies futex words in place with atomic
// instructions; a caller passing an unmapped address gets whatever the
// platform does for a bad kernel access (docs/syscalls.md, "futex"), which
// is why the exec component checks a Linux executable's words first.
#pragma once

#include <ak/result.h>

namespace ak {

// Wake up to nr_wake waiters blocked on uaddr whose bitset intersects bitset
// (nr_wake <= 0 wakes one, as Linux does).  Returns how many were woken.
// The exec component calls it with nr_wake 1 when a thread created with
// CLONE_CHILD_CLEARTID exits (after storing 0 at the address).
int futex_wake(uint32_t* uaddr, int nr_wake, uint32_t bitset = 0xffffffffu);

// Block while *uaddr == val: returns 0 when woken, EAGAIN when the word
// differs on entry, ETIMEDOUT once the monotonic clock passes deadline_ns
// (0: no deadline), EINTR when a signal or the client's disconnection
// interrupts the sleep.  uaddr must be 4-byte aligned; bitset not 0.
Result<void> futex_wait(uint32_t* uaddr, uint32_t val, int64_t deadline_ns, uint32_t bitset);

// FUTEX_REQUEUE / FUTEX_CMP_REQUEUE: wake up to nr_wake waiters of uaddr
// and move up to nr_requeue of the rest to uaddr2.  With cmpval, EAGAIN
// unless *uaddr == *cmpval.  Returns woken + requeued (Linux's count).
Result<int> futex_requeue(uint32_t* uaddr, uint32_t* uaddr2, int nr_wake, int nr_requeue,
                          const uint32_t* cmpval);

// FUTEX_WAKE_OP: apply the encoded operation to *uaddr2 atomically, wake up
// to nr_wake waiters of uaddr and, if the comparison of the old value of
// *uaddr2 holds, up to nr_wake2 waiters of uaddr2.  ENOSYS for an unknown
// operation or comparison.  Returns the number woken.
Result<int> futex_wake_op(uint32_t* uaddr, uint32_t* uaddr2, int nr_wake, int nr_wake2,
                          uint32_t encoded_op);

} // namespace ak
