// Kernel log and formatting (printf subset: %d %i %u %x %X %o %s %c %p %%,
// with l/ll/z length modifiers, width, '-' and '0' flags, and %.*s).
#pragma once

#include <ak/base.h>
#include <stdarg.h>

namespace ak {

enum class LogLevel : int { Error = 0, Warn = 1, Info = 2, Debug = 3 };

// Formats into buf (always NUL-terminated when size > 0); returns the length
// the full output would have had.
size_t format(char* buf, size_t size, const char* fmt, ...) __attribute__((format(printf, 3, 4)));
size_t vformat(char* buf, size_t size, const char* fmt, va_list ap);

void klog(LogLevel level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void set_log_level(LogLevel level);
LogLevel log_level();

} // namespace ak

#define AK_LOG_ERROR(...) ::ak::klog(::ak::LogLevel::Error, __VA_ARGS__)
#define AK_LOG_WARN(...) ::ak::klog(::ak::LogLevel::Warn, __VA_ARGS__)
#define AK_LOG_INFO(...) ::ak::klog(::ak::LogLevel::Info, __VA_ARGS__)
#define AK_LOG_DEBUG(...)                                                                \
    do {                                                                                 \
        if (::ak::log_level() >= ::ak::LogLevel::Debug)                                  \
            ::ak::klog(::ak::LogLevel::Debug, __VA_ARGS__);                              \
    } while (0)
