/*
 * The minimal C library of unikernel images (docs/unikernel.md lists the
 * subset).  Output goes through the kernel: stdout and stderr are
 * descriptors 1 and 2, which the runtime makes the console.  Symbols are
 * ABI compatible with what glibc's headers expect of the functions here
 * (the application is compiled against the host's headers), including the
 * _FORTIFY_SOURCE *_chk variants of the printf family.
 *
 * memcpy, memmove, memset, memcmp, strlen and strcmp come from the
 * platform.  No locale, no wide characters, no FILE input (stdin reads
 * end of file), no floating-point formatting beyond %f/%e/%g as %f.
 */
#include <anykern/kern.h>

#include "rt.h"

extern int errno;
long ak_kern_syscall(long nr, const long* args);

#define SYS_write 1
#define AK_EOF (-1)

static void abort_with(const char* msg) {
    akhyp_console_write(msg, strlen(msg));
    akhyp_exit(AKHYP_EXIT_PANIC);
}

/* ---- memory -------------------------------------------------------------- */

/* A 16-byte header keeps the size, which akhyp_free needs. */
#define HDR 16

void* malloc(size_t n) {
    void* p;
    if (n > ((size_t)1 << 46) || akhyp_malloc(n + HDR, 16, &p)) {
        errno = 12; /* ENOMEM */
        return NULL;
    }
    *(size_t*)p = n;
    return (char*)p + HDR;
}

void free(void* p) {
    if (!p)
        return;
    char* base = (char*)p - HDR;
    akhyp_free(base, *(size_t*)base + HDR);
}

void* calloc(size_t n, size_t size) {
    if (size && n > (size_t)-1 / size) {
        errno = 12;
        return NULL;
    }
    void* p = malloc(n * size);
    if (p)
        memset(p, 0, n * size);
    return p;
}

void* realloc(void* old, size_t n) {
    if (!old)
        return malloc(n);
    if (n == 0) {
        free(old);
        return NULL;
    }
    size_t have = *(size_t*)((char*)old - HDR);
    if (n <= have)
        return old;
    void* p = malloc(n);
    if (p) {
        memcpy(p, old, have);
        free(old);
    }
    return p;
}

/* ---- strings ---------------------------------------------------------------- */

size_t strnlen(const char* s, size_t max) {
    size_t n = 0;
    while (n < max && s[n])
        n++;
    return n;
}

int strncmp(const char* a, const char* b, size_t n) {
    for (; n; n--, a++, b++) {
        if (*a != *b)
            return (unsigned char)*a - (unsigned char)*b;
        if (!*a)
            break;
    }
    return 0;
}

static int lower(int c) {
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int strcasecmp(const char* a, const char* b) {
    for (;; a++, b++) {
        int x = lower((unsigned char)*a), y = lower((unsigned char)*b);
        if (x != y || !x)
            return x - y;
    }
}

int strncasecmp(const char* a, const char* b, size_t n) {
    for (; n; n--, a++, b++) {
        int x = lower((unsigned char)*a), y = lower((unsigned char)*b);
        if (x != y || !x)
            return x - y;
    }
    return 0;
}

char* strchr(const char* s, int c) {
    for (;; s++) {
        if (*s == (char)c)
            return (char*)s;
        if (!*s)
            return NULL;
    }
}

char* strrchr(const char* s, int c) {
    const char* found = NULL;
    for (;; s++) {
        if (*s == (char)c)
            found = s;
        if (!*s)
            return (char*)found;
    }
}

void* memchr(const void* s, int c, size_t n) {
    const unsigned char* p = s;
    for (; n; n--, p++)
        if (*p == (unsigned char)c)
            return (void*)p;
    return NULL;
}

char* strstr(const char* hay, const char* needle) {
    size_t n = strlen(needle);
    for (; *hay; hay++)
        if (!strncmp(hay, needle, n))
            return (char*)hay;
    return n ? NULL : (char*)hay;
}

char* strcpy(char* d, const char* s) {
    char* r = d;
    while ((*d++ = *s++))
        ;
    return r;
}

char* strncpy(char* d, const char* s, size_t n) {
    size_t i = 0;
    for (; i < n && s[i]; i++)
        d[i] = s[i];
    for (; i < n; i++)
        d[i] = 0;
    return d;
}

char* strcat(char* d, const char* s) {
    strcpy(d + strlen(d), s);
    return d;
}

char* strncat(char* d, const char* s, size_t n) {
    char* e = d + strlen(d);
    size_t i = 0;
    for (; i < n && s[i]; i++)
        e[i] = s[i];
    e[i] = 0;
    return d;
}

char* strdup(const char* s) {
    size_t n = strlen(s) + 1;
    char* p = malloc(n);
    if (p)
        memcpy(p, s, n);
    return p;
}

char* strndup(const char* s, size_t max) {
    size_t n = strnlen(s, max);
    char* p = malloc(n + 1);
    if (p) {
        memcpy(p, s, n);
        p[n] = 0;
    }
    return p;
}

size_t strspn(const char* s, const char* accept) {
    size_t n = 0;
    while (s[n] && strchr(accept, s[n]))
        n++;
    return n;
}

size_t strcspn(const char* s, const char* reject) {
    size_t n = 0;
    while (s[n] && !strchr(reject, s[n]))
        n++;
    return n;
}

static const char* const k_errors[] = {
    [0] = "Success",
    [1] = "Operation not permitted",
    [2] = "No such file or directory",
    [3] = "No such process",
    [4] = "Interrupted system call",
    [5] = "Input/output error",
    [6] = "No such device or address",
    [7] = "Argument list too long",
    [8] = "Exec format error",
    [9] = "Bad file descriptor",
    [10] = "No child processes",
    [11] = "Resource temporarily unavailable",
    [12] = "Cannot allocate memory",
    [13] = "Permission denied",
    [14] = "Bad address",
    [16] = "Device or resource busy",
    [17] = "File exists",
    [18] = "Invalid cross-device link",
    [19] = "No such device",
    [20] = "Not a directory",
    [21] = "Is a directory",
    [22] = "Invalid argument",
    [23] = "Too many open files in system",
    [24] = "Too many open files",
    [25] = "Inappropriate ioctl for device",
    [26] = "Text file busy",
    [27] = "File too large",
    [28] = "No space left on device",
    [29] = "Illegal seek",
    [30] = "Read-only file system",
    [31] = "Too many links",
    [32] = "Broken pipe",
    [34] = "Numerical result out of range",
    [36] = "File name too long",
    [38] = "Function not implemented",
    [39] = "Directory not empty",
    [40] = "Too many levels of symbolic links",
    [88] = "Socket operation on non-socket",
    [95] = "Operation not supported",
    [97] = "Address family not supported by protocol",
    [98] = "Address already in use",
    [99] = "Cannot assign requested address",
    [100] = "Network is down",
    [101] = "Network is unreachable",
    [104] = "Connection reset by peer",
    [105] = "No buffer space available",
    [106] = "Transport endpoint is already connected",
    [107] = "Transport endpoint is not connected",
    [110] = "Connection timed out",
    [111] = "Connection refused",
    [113] = "No route to host",
};

char* strerror(int e) {
    static char unknown[32];
    if (e >= 0 && e < (int)(sizeof k_errors / sizeof k_errors[0]) && k_errors[e])
        return (char*)k_errors[e];
    snprintf(unknown, sizeof unknown, "Unknown error %d", e);
    return unknown;
}

/* ---- numbers and the environment --------------------------------------------- */

static int is_space(int c) {
    return c == ' ' || (c >= '\t' && c <= '\r');
}

unsigned long long strtoull(const char* s, char** end, int base) {
    const char* p = s;
    while (is_space((unsigned char)*p))
        p++;
    int neg = 0;
    if (*p == '+' || *p == '-')
        neg = *p++ == '-';
    if ((base == 0 || base == 16) && p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        p += 2;
        base = 16;
    } else if (base == 0) {
        base = p[0] == '0' ? 8 : 10;
    }
    unsigned long long v = 0;
    int overflow = 0;
    const char* digits = p;
    for (;; p++) {
        int c = lower((unsigned char)*p), d;
        if (c >= '0' && c <= '9')
            d = c - '0';
        else if (c >= 'a' && c <= 'z')
            d = c - 'a' + 10;
        else
            break;
        if (d >= base)
            break;
        if (overflow || v > (~0ull - (unsigned)d) / (unsigned)base) {
            overflow = 1; /* keep consuming digits, saturate */
            continue;
        }
        v = v * (unsigned)base + (unsigned)d;
    }
    if (end)
        *end = (char*)(p == digits ? s : p);
    if (overflow) {
        errno = 34; /* ERANGE */
        return ~0ull;
    }
    return neg ? -v : v;
}

long long strtoll(const char* s, char** end, int base) {
    return (long long)strtoull(s, end, base);
}
unsigned long strtoul(const char* s, char** end, int base) {
    return strtoull(s, end, base);
}
long strtol(const char* s, char** end, int base) {
    return (long)strtoull(s, end, base);
}
int atoi(const char* s) {
    return (int)strtol(s, NULL, 10);
}
long atol(const char* s) {
    return strtol(s, NULL, 10);
}
int abs(int v) {
    return v < 0 ? -v : v;
}
long labs(long v) {
    return v < 0 ? -v : v;
}

extern char** environ;

char* getenv(const char* name) {
    size_t n = strlen(name);
    for (char** e = environ; e && *e; e++)
        if (!strncmp(*e, name, n) && (*e)[n] == '=')
            return *e + n + 1;
    return NULL;
}

/* ---- formatting --------------------------------------------------------------- */

struct out {
    char* buf;
    size_t cap, len;
    FILE* file;   /* when set, flushed to it as the buffer fills */
    size_t count; /* characters produced */
};

static void flush_out(struct out* o);

static void put(struct out* o, char c) {
    o->count++;
    if (o->len < o->cap)
        o->buf[o->len] = c;
    o->len++;
    if (o->file && o->len == o->cap)
        flush_out(o);
}

static void pad(struct out* o, char c, int n) {
    while (n-- > 0)
        put(o, c);
}

enum { F_LEFT = 1, F_PLUS = 2, F_SPACE = 4, F_ALT = 8, F_ZERO = 16 };

static void emit_number(struct out* o, unsigned long long v, int neg, unsigned base, int upper,
                        int flags, int width, int prec) {
    char tmp[32];
    int n = 0;
    const char* digits = upper ? "0123456789ABCDEF" : "0123456789abcdef";
    while (v) {
        tmp[n++] = digits[v % base];
        v /= base;
    }
    if (prec < 0)
        prec = 1;
    int zeros = prec > n ? prec - n : 0;
    const char* prefix = "";
    if (neg)
        prefix = "-";
    else if (flags & F_PLUS)
        prefix = "+";
    else if (flags & F_SPACE)
        prefix = " ";
    if ((flags & F_ALT) && base == 16 && n)
        prefix = upper ? "0X" : "0x";
    if ((flags & F_ALT) && base == 8 && zeros == 0 && (n == 0 || tmp[n - 1] != '0'))
        zeros = 1;
    int len = (int)strlen(prefix) + zeros + n;
    if ((flags & F_ZERO) && !(flags & F_LEFT) && prec == 1 && width > len) {
        zeros += width - len;
        len = width;
    }
    if (!(flags & F_LEFT))
        pad(o, ' ', width - len);
    for (const char* p = prefix; *p; p++)
        put(o, *p);
    pad(o, '0', zeros);
    while (n)
        put(o, tmp[--n]);
    if (flags & F_LEFT)
        pad(o, ' ', width - len);
}

static void emit_double(struct out* o, double v, int flags, int width, int prec) {
    if (prec < 0)
        prec = 6;
    if (prec > 17)
        prec = 17;
    char tmp[64];
    int n = 0, neg = v < 0;
    if (neg)
        v = -v;
    if (v != v) {
        memcpy(tmp, "nan", 3), n = 3;
    } else if (v > 1.8e19) {
        memcpy(tmp, "inf", 3), n = 3; /* and anything too large for this subset */
    } else {
        double scale = 1;
        for (int i = 0; i < prec; i++)
            scale *= 10;
        double r = v + 0.5 / scale;
        unsigned long long ip = (unsigned long long)r;
        double frac = r - (double)ip;
        char digits[24];
        int d = 0;
        do {
            digits[d++] = (char)('0' + ip % 10);
            ip /= 10;
        } while (ip);
        while (d)
            tmp[n++] = digits[--d];
        if (prec || (flags & F_ALT))
            tmp[n++] = '.';
        for (int i = 0; i < prec; i++) {
            frac *= 10;
            int digit = (int)frac;
            tmp[n++] = (char)('0' + digit);
            frac -= digit;
        }
    }
    int len = n + (neg || (flags & (F_PLUS | F_SPACE)));
    if (!(flags & F_LEFT) && !(flags & F_ZERO))
        pad(o, ' ', width - len);
    if (neg)
        put(o, '-');
    else if (flags & F_PLUS)
        put(o, '+');
    else if (flags & F_SPACE)
        put(o, ' ');
    if (!(flags & F_LEFT) && (flags & F_ZERO))
        pad(o, '0', width - len);
    for (int i = 0; i < n; i++)
        put(o, tmp[i]);
    if (flags & F_LEFT)
        pad(o, ' ', width - len);
}

static void format(struct out* o, const char* fmt, va_list ap) {
    for (; *fmt; fmt++) {
        if (*fmt != '%') {
            put(o, *fmt);
            continue;
        }
        const char* start = fmt++;
        int flags = 0, width = 0, prec = -1, size = 0;
        for (;; fmt++) {
            if (*fmt == '-')
                flags |= F_LEFT;
            else if (*fmt == '+')
                flags |= F_PLUS;
            else if (*fmt == ' ')
                flags |= F_SPACE;
            else if (*fmt == '#')
                flags |= F_ALT;
            else if (*fmt == '0')
                flags |= F_ZERO;
            else
                break;
        }
        if (*fmt == '*') {
            width = va_arg(ap, int);
            if (width < 0) {
                flags |= F_LEFT;
                width = -width;
            }
            fmt++;
        } else {
            while (*fmt >= '0' && *fmt <= '9')
                width = width * 10 + (*fmt++ - '0');
        }
        if (*fmt == '.') {
            fmt++;
            prec = 0;
            if (*fmt == '*') {
                prec = va_arg(ap, int);
                fmt++;
            } else {
                while (*fmt >= '0' && *fmt <= '9')
                    prec = prec * 10 + (*fmt++ - '0');
            }
        }
        /* size: -2 hh, -1 h, 0 int, 1 long, 2 long long (z, j, t are long) */
        for (;; fmt++) {
            if (*fmt == 'h')
                size--;
            else if (*fmt == 'l' || *fmt == 'q')
                size++;
            else if (*fmt == 'z' || *fmt == 'j' || *fmt == 't')
                size = 1;
            else if (*fmt == 'L')
                ;
            else
                break;
        }
        switch (*fmt) {
        case 'd':
        case 'i': {
            long long v = size >= 1 ? (size == 1 ? va_arg(ap, long) : va_arg(ap, long long))
                                    : va_arg(ap, int);
            if (size == -1)
                v = (short)v;
            else if (size <= -2)
                v = (signed char)v;
            emit_number(o, v < 0 ? -(unsigned long long)v : (unsigned long long)v, v < 0, 10, 0,
                        flags, width, prec);
            break;
        }
        case 'u':
        case 'x':
        case 'X':
        case 'o': {
            unsigned long long v =
                size >= 1 ? (size == 1 ? va_arg(ap, unsigned long) : va_arg(ap, unsigned long long))
                          : va_arg(ap, unsigned);
            if (size == -1)
                v = (unsigned short)v;
            else if (size <= -2)
                v = (unsigned char)v;
            unsigned base = *fmt == 'o' ? 8 : *fmt == 'u' ? 10 : 16;
            emit_number(o, v, 0, base, *fmt == 'X', flags, width, prec);
            break;
        }
        case 'p':
            emit_number(o, (unsigned long)va_arg(ap, void*), 0, 16, 0, flags | F_ALT, width, prec);
            break;
        case 'c': {
            if (!(flags & F_LEFT))
                pad(o, ' ', width - 1);
            put(o, (char)va_arg(ap, int));
            if (flags & F_LEFT)
                pad(o, ' ', width - 1);
            break;
        }
        case 's': {
            const char* s = va_arg(ap, const char*);
            if (!s)
                s = "(null)";
            int n = (int)(prec >= 0 ? strnlen(s, (size_t)prec) : strlen(s));
            if (!(flags & F_LEFT))
                pad(o, ' ', width - n);
            for (int i = 0; i < n; i++)
                put(o, s[i]);
            if (flags & F_LEFT)
                pad(o, ' ', width - n);
            break;
        }
        case 'f':
        case 'F':
        case 'e':
        case 'E':
        case 'g':
        case 'G':
            emit_double(o, va_arg(ap, double), flags, width, prec);
            break;
        case 'm':
            for (const char* s = strerror(errno); *s; s++)
                put(o, *s);
            break;
        case '%':
            put(o, '%');
            break;
        default: /* unknown conversion: print it as written */
            for (const char* p = start; p <= fmt && *p; p++)
                put(o, *p);
            if (!*fmt)
                return;
        }
    }
}

int vsnprintf(char* buf, size_t size, const char* fmt, va_list ap) {
    struct out o = {buf, size ? size - 1 : 0, 0, NULL, 0};
    format(&o, fmt, ap);
    if (size)
        buf[o.len < o.cap ? o.len : o.cap] = 0;
    return (int)o.count;
}

int snprintf(char* buf, size_t size, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, size, fmt, ap);
    va_end(ap);
    return n;
}

int vsprintf(char* buf, const char* fmt, va_list ap) {
    return vsnprintf(buf, (size_t)1 << 30, fmt, ap);
}

int sprintf(char* buf, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsprintf(buf, fmt, ap);
    va_end(ap);
    return n;
}

/* ---- POSIX I/O: the kernel's system calls ------------------------------------ */

static long sys6(long nr, long a0, long a1, long a2, long a3, long a4, long a5) {
    long args[6] = {a0, a1, a2, a3, a4, a5};
    long r = ak_kern_syscall(nr, args);
    if (r < 0 && r > -4096) {
        errno = (int)-r;
        return -1;
    }
    return r;
}
static long sys(long nr, long a0, long a1, long a2) {
    return sys6(nr, a0, a1, a2, 0, 0, 0);
}

int open(const char* path, int flags, ...) {
    va_list ap;
    va_start(ap, flags);
    int mode = (flags & 0100 /* O_CREAT */) || (flags & 020200000) == 020200000 /* O_TMPFILE */
                   ? va_arg(ap, int)
                   : 0;
    va_end(ap);
    return (int)sys(2, (long)path, flags, mode);
}
int __open_2(const char* path, int flags) {
    return open(path, flags);
}
int close(int fd) {
    return (int)sys(3, fd, 0, 0);
}
long read(int fd, void* buf, size_t n) {
    return sys(0, fd, (long)buf, (long)n);
}
long __read_chk(int fd, void* buf, size_t n, size_t buflen) {
    if (n > buflen)
        abort_with("ak-rt: buffer overflow in read\n");
    return read(fd, buf, n);
}
long write(int fd, const void* buf, size_t n) {
    return sys(1, fd, (long)buf, (long)n);
}
long lseek(int fd, long off, int whence) {
    return sys(8, fd, off, whence);
}
int fstat(int fd, void* st) {
    return (int)sys(5, fd, (long)st, 0);
}
int stat(const char* path, void* st) {
    return (int)sys(4, (long)path, (long)st, 0);
}
/* _FILE_OFFSET_BITS=64 names (meson's default for C): the same calls. */
int open64(const char* path, int flags, ...) __attribute__((alias("open")));
int __open64_2(const char* path, int flags) __attribute__((alias("__open_2")));
long lseek64(int fd, long off, int whence) __attribute__((alias("lseek")));
int fstat64(int fd, void* st) __attribute__((alias("fstat")));
int stat64(const char* path, void* st) __attribute__((alias("stat")));

/* Sockets: the kernel's stack (AF_INET, AF_UNIX).  Address and option
 * structures are the Linux ABI, passed through untouched. */
int socket(int domain, int type, int protocol) {
    return (int)sys(41, domain, type, protocol);
}
int connect(int fd, const void* addr, unsigned len) {
    return (int)sys(42, fd, (long)addr, len);
}
int accept(int fd, void* addr, unsigned* len) {
    return (int)sys(43, fd, (long)addr, (long)len);
}
int accept4(int fd, void* addr, unsigned* len, int flags) {
    return (int)sys6(288, fd, (long)addr, (long)len, flags, 0, 0);
}
int bind(int fd, const void* addr, unsigned len) {
    return (int)sys(49, fd, (long)addr, len);
}
int listen(int fd, int backlog) {
    return (int)sys(50, fd, backlog, 0);
}
int shutdown(int fd, int how) {
    return (int)sys(48, fd, how, 0);
}
int getsockname(int fd, void* addr, unsigned* len) {
    return (int)sys(51, fd, (long)addr, (long)len);
}
int getpeername(int fd, void* addr, unsigned* len) {
    return (int)sys(52, fd, (long)addr, (long)len);
}
int setsockopt(int fd, int level, int name, const void* val, unsigned len) {
    return (int)sys6(54, fd, level, name, (long)val, len, 0);
}
int getsockopt(int fd, int level, int name, void* val, unsigned* len) {
    return (int)sys6(55, fd, level, name, (long)val, (long)len, 0);
}
long sendto(int fd, const void* buf, size_t n, int flags, const void* addr, unsigned len) {
    return sys6(44, fd, (long)buf, (long)n, flags, (long)addr, len);
}
long recvfrom(int fd, void* buf, size_t n, int flags, void* addr, unsigned* len) {
    return sys6(45, fd, (long)buf, (long)n, flags, (long)addr, (long)len);
}
long send(int fd, const void* buf, size_t n, int flags) {
    return sendto(fd, buf, n, flags, 0, 0);
}
long recv(int fd, void* buf, size_t n, int flags) {
    return recvfrom(fd, buf, n, flags, 0, 0);
}

int unlink(const char* path) {
    return (int)sys(87, (long)path, 0, 0);
}
int mkdir(const char* path, unsigned mode) {
    return (int)sys(83, (long)path, mode, 0);
}

/* ---- stdio -------------------------------------------------------------------- */

/* stdout is line buffered, stderr unbuffered, as in glibc on a terminal. */
struct akrt_file {
    int fd;
    int error;
    int line_buffered;
    size_t len;
    char buf[1024];
};

static FILE g_stdin = {0, 0, 0, 0, {0}};
static FILE g_stdout = {1, 0, 1, 0, {0}};
static FILE g_stderr = {2, 0, 0, 0, {0}};
FILE* stdin = &g_stdin;
FILE* stdout = &g_stdout;
FILE* stderr = &g_stderr;

static long write_all(int fd, const char* p, size_t n) {
    size_t done = 0;
    while (done < n) {
        long args[6] = {fd, (long)(p + done), (long)(n - done), 0, 0, 0};
        long r = ak_kern_syscall(SYS_write, args);
        if (r == -4) /* EINTR */
            continue;
        if (r <= 0) {
            errno = r < 0 ? (int)-r : 5;
            return -1;
        }
        done += (size_t)r;
    }
    return (long)done;
}

int fflush(FILE* f) {
    if (!f) {
        fflush(stdout);
        return fflush(stderr);
    }
    if (f->len == 0)
        return 0;
    long r = write_all(f->fd, f->buf, f->len);
    f->len = 0;
    if (r < 0) {
        f->error = 1;
        return AK_EOF;
    }
    return 0;
}

void akrt_stdio_flush(void) {
    fflush(NULL);
}

size_t fwrite(const void* p, size_t size, size_t n, FILE* f) {
    if (size == 0 || n == 0)
        return 0;
    size_t total = size * n;
    const char* s = p;
    if (f == stdin) {
        errno = 9; /* EBADF */
        return 0;
    }
    if (total > sizeof f->buf - f->len || !f->line_buffered) {
        if (fflush(f) || write_all(f->fd, s, total) < 0) {
            f->error = 1;
            return 0;
        }
        return n;
    }
    memcpy(f->buf + f->len, s, total);
    f->len += total;
    if (memchr(s, '\n', total) && fflush(f))
        return 0;
    return n;
}

static void flush_out(struct out* o) {
    fwrite(o->buf, 1, o->len, o->file);
    o->len = 0;
}

int vfprintf(FILE* f, const char* fmt, va_list ap) {
    char buf[512];
    struct out o = {buf, sizeof buf, 0, f, 0};
    format(&o, fmt, ap);
    if (o.len)
        fwrite(buf, 1, o.len, f);
    return f->error ? -1 : (int)o.count;
}

int fprintf(FILE* f, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(f, fmt, ap);
    va_end(ap);
    return n;
}

int vprintf(const char* fmt, va_list ap) {
    return vfprintf(stdout, fmt, ap);
}

int printf(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(stdout, fmt, ap);
    va_end(ap);
    return n;
}

int dprintf(int fd, const char* fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    if (n < 0)
        return n;
    return (int)write_all(fd, buf, (size_t)n < sizeof buf ? (size_t)n : sizeof buf - 1);
}

int fputs(const char* s, FILE* f) {
    return fwrite(s, 1, strlen(s), f) ? 0 : (*s ? AK_EOF : 0);
}

int puts(const char* s) {
    if (fputs(s, stdout) == AK_EOF || fwrite("\n", 1, 1, stdout) != 1)
        return AK_EOF;
    return 0;
}

int fputc(int c, FILE* f) {
    char ch = (char)c;
    return fwrite(&ch, 1, 1, f) == 1 ? (unsigned char)c : AK_EOF;
}

int putc(int c, FILE* f) {
    return fputc(c, f);
}

int putchar(int c) {
    return fputc(c, stdout);
}

int ferror(FILE* f) {
    return f->error;
}

int fileno(FILE* f) {
    return f->fd;
}

void perror(const char* s) {
    const char* msg = strerror(errno);
    if (s && *s)
        fprintf(stderr, "%s: %s\n", s, msg);
    else
        fprintf(stderr, "%s\n", msg);
}

/* _FORTIFY_SOURCE entry points (glibc's headers redirect to these). */
int __printf_chk(int flag, const char* fmt, ...) {
    (void)flag;
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(stdout, fmt, ap);
    va_end(ap);
    return n;
}

int __fprintf_chk(FILE* f, int flag, const char* fmt, ...) {
    (void)flag;
    va_list ap;
    va_start(ap, fmt);
    int n = vfprintf(f, fmt, ap);
    va_end(ap);
    return n;
}

int __vfprintf_chk(FILE* f, int flag, const char* fmt, va_list ap) {
    (void)flag;
    return vfprintf(f, fmt, ap);
}

int __vprintf_chk(int flag, const char* fmt, va_list ap) {
    (void)flag;
    return vfprintf(stdout, fmt, ap);
}

int __vsnprintf_chk(char* buf, size_t maxlen, int flag, size_t slen, const char* fmt, va_list ap) {
    (void)flag;
    if (maxlen > slen)
        abort_with("ak-rt: buffer overflow in snprintf\n");
    return vsnprintf(buf, maxlen, fmt, ap);
}

int __snprintf_chk(char* buf, size_t maxlen, int flag, size_t slen, const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = __vsnprintf_chk(buf, maxlen, flag, slen, fmt, ap);
    va_end(ap);
    return n;
}

int __sprintf_chk(char* buf, int flag, size_t slen, const char* fmt, ...) {
    (void)flag;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, slen, fmt, ap);
    va_end(ap);
    if ((size_t)n >= slen)
        abort_with("ak-rt: buffer overflow in sprintf\n");
    return n;
}
