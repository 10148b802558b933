// The kernel's random source: the platform's generator (akhyp_getrandom),
// mixed with entropy that device drivers contribute (virtio-rng).
#pragma once

#include <ak/result.h>
#include <ak/span.h>

namespace ak {

// Fill buf.  The platform's output is XORed with contributed entropy,
// each contributed byte used once, so the result is at least as
// unpredictable as the better of the two (they are independent).
Result<void> random_bytes(Bytes buf);

// A driver's entropy (copied; at most the pool's size is kept).
void random_add_entropy(ReadonlyBytes data);

// A source the kernel asks for more entropy when its pool runs low.  The
// callback must not block (it typically queues a device request whose
// completion calls random_add_entropy).  One source; a later call replaces
// it, nullptr removes it.
void random_set_source(void (*refill)(void* arg), void* arg);

// Bytes of contributed entropy not used yet (for tests and logs).
size_t random_pool_bytes();

} // namespace ak
