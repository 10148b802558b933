// The few C runtime symbols a freestanding kernel needs from its platform.
// No SSE: rep movsb/stosb (fast on CPUs with ERMSB, correct everywhere),
// so XMM state of an application is never touched by kernel code.
#include "platform.h"

extern "C" {

void* memcpy(void* dst, const void* src, size_t n) {
    void* ret = dst;
    asm volatile("rep movsb" : "+D"(dst), "+S"(src), "+c"(n)::"memory");
    return ret;
}

void* memmove(void* dst, const void* src, size_t n) {
    if (dst <= src || static_cast<const char*>(src) + n <= static_cast<char*>(dst))
        return memcpy(dst, src, n);
    void* ret = dst;
    auto d = static_cast<char*>(dst) + n - 1;
    auto s = static_cast<const char*>(src) + n - 1;
    asm volatile("std; rep movsb; cld" : "+D"(d), "+S"(s), "+c"(n)::"memory");
    return ret;
}

void* memset(void* dst, int c, size_t n) {
    void* ret = dst;
    asm volatile("rep stosb" : "+D"(dst), "+c"(n) : "a"(c) : "memory");
    return ret;
}

int memcmp(const void* a, const void* b, size_t n) {
    auto x = static_cast<const unsigned char*>(a), y = static_cast<const unsigned char*>(b);
    for (size_t i = 0; i < n; i++)
        if (x[i] != y[i])
            return x[i] < y[i] ? -1 : 1;
    return 0;
}

size_t strlen(const char* s) {
    size_t n = 0;
    while (s[n])
        n++;
    return n;
}

int strcmp(const char* a, const char* b) {
    while (*a && *a == *b)
        a++, b++;
    return static_cast<unsigned char>(*a) - static_cast<unsigned char>(*b);
}

// C++ runtime: static destructors never run (the image ends by exiting),
// and a pure virtual call is a kernel bug.
void* __dso_handle = &__dso_handle;
int __cxa_atexit(void (*)(void*), void*, void*) {
    return 0;
}
void __cxa_pure_virtual() {
    akkvm::panic("pure virtual function called");
}

} // extern "C"
