#pragma once

#include <ak/file.h>

namespace ak {

// Create a pipe; flags may hold O_NONBLOCK.
Result<void> pipe_create(int flags, RefPtr<File>& read_end, RefPtr<File>& write_end);

} // namespace ak
