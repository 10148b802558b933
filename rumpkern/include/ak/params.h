#pragma once

#include <ak/result.h>

namespace ak {

// "64m", "512k", "1g", "4096": bytes.
Result<uint64_t> parse_size(const char* s);
const char* param_hostname();
void set_param_hostname(const char* h);
int param_ncpu();

} // namespace ak
