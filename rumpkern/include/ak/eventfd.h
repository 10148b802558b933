#pragma once

#include <ak/file.h>

namespace ak {

// An eventfd (eventfd2(2)): a 64-bit counter that write adds to and read
// takes (all of it, or 1 with EFD_SEMAPHORE).  flags may hold
// EFD_SEMAPHORE and EFD_NONBLOCK (EFD_CLOEXEC is the descriptor's).
Result<RefPtr<File>> eventfd_create(uint64_t initval, int flags);

} // namespace ak
