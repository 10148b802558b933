// Kernel printf subset and the console log.
#include <ak/atomic.h>
#include <ak/log.h>
#include <anykern/hypercall.h>

namespace ak {

namespace {

Atomic<int> g_level{static_cast<int>(LogLevel::Warn)};

struct Out {
    char* buf;
    size_t size;
    size_t len = 0;
    void put(char c) {
        if (len + 1 < size)
            buf[len] = c;
        len++;
    }
};

void put_number(Out& o, unsigned long long v, unsigned base, bool upper, bool neg, int width,
                bool zero, bool left) {
    char tmp[24];
    int n = 0;
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    int len = n + (neg ? 1 : 0);
    if (!left && !zero)
        for (int i = len; i < width; i++)
            o.put(' ');
    if (neg)
        o.put('-');
    if (!left && zero)
        for (int i = len; i < width; i++)
            o.put('0');
    while (n)
        o.put(tmp[--n]);
    if (left)
        for (int i = len; i < width; i++)
            o.put(' ');
}

} // namespace

size_t vformat(char* buf, size_t size, const char* fmt, va_list ap) {
    Out o{buf, size};
    for (const char* p = fmt; *p; p++) {
        if (*p != '%') {
            o.put(*p);
            continue;
        }
        p++;
        bool left = false, zero = false;
        for (;; p++) {
            if (*p == '-')
                left = true;
            else if (*p == '0')
                zero = true;
            else
                break;
        }
        int width = 0;
        if (*p == '*') {
            width = va_arg(ap, int);
            p++;
        }
        while (*p >= '0' && *p <= '9')
            width = width * 10 + (*p++ - '0');
        int precision = -1;
        if (*p == '.') {
            p++;
            precision = 0;
            if (*p == '*') {
                precision = va_arg(ap, int);
                p++;
            }
            while (*p >= '0' && *p <= '9')
                precision = precision * 10 + (*p++ - '0');
        }
        int lng = 0;
        while (*p == 'l') {
            lng++;
            p++;
        }
        if (*p == 'z') {
            lng = 1;
            p++;
        }
        switch (*p) {
        case 'd':
        case 'i': {
            long long v = lng ? va_arg(ap, long long) : va_arg(ap, int);
            bool neg = v < 0;
            unsigned long long u = neg ? 0ull - static_cast<unsigned long long>(v) : v;
            put_number(o, u, 10, false, neg, width, zero, left);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            unsigned long long v = lng ? va_arg(ap, unsigned long long) : va_arg(ap, unsigned);
            unsigned base = *p == 'u' ? 10 : *p == 'o' ? 8 : 16;
            put_number(o, v, base, *p == 'X', false, width, zero, left);
            break;
        }
        case 'p': {
            o.put('0');
            o.put('x');
            put_number(o, reinterpret_cast<uintptr_t>(va_arg(ap, void*)), 16, false, false, 0,
                       false, false);
            break;
        }
        case 'c':
            o.put(static_cast<char>(va_arg(ap, int)));
            break;
        case 's': {
            const char* s = va_arg(ap, const char*);
            if (!s)
                s = "(null)";
            int n = 0;
            while (s[n] && (precision < 0 || n < precision))
                n++;
            if (!left)
                for (int i = n; i < width; i++)
                    o.put(' ');
            for (int i = 0; i < n; i++)
                o.put(s[i]);
            if (left)
                for (int i = n; i < width; i++)
                    o.put(' ');
            break;
        }
        case '%':
            o.put('%');
            break;
        case 0:
            p--;
            break;
        default:
            o.put('%');
            o.put(*p);
        }
    }
    if (size)
        buf[o.len < size ? o.len : size - 1] = 0;
    return o.len;
}

size_t format(char* buf, size_t size, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    size_t n = vformat(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

void set_log_level(LogLevel level) {
    g_level.store(static_cast<int>(level));
}
LogLevel log_level() {
    return static_cast<LogLevel>(g_level.load(MemoryOrder::Relaxed));
}

namespace {

// One console line, "anykern <kind>: <message>", the message cut to fit.
void console_line(const char* kind, const char* fmt, va_list ap) {
    char buf[512];
    size_t n = format(buf, sizeof buf, "anykern %s: ", kind);
    if (n < sizeof buf)
        n += vformat(buf + n, sizeof buf - n, fmt, ap);
    if (n > sizeof buf - 2)
        n = sizeof buf - 2;
    buf[n++] = '\n';
    akhyp_console_write(buf, n);
}

} // namespace

void klog(LogLevel level, const char* fmt, ...) {
    if (static_cast<int>(level) > g_level.load(MemoryOrder::Relaxed))
        return;
    static const char* const k_prefix[] = {"error", "warn", "info", "debug"};
    va_list ap;
    va_start(ap, fmt);
    console_line(k_prefix[static_cast<int>(level)], fmt, ap);
    va_end(ap);
}

void panic(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    console_line("panic", fmt, ap);
    va_end(ap);
    akhyp_exit(AKHYP_EXIT_PANIC);
}

} // namespace ak
