// A deliberately wrong "kernel" object: it calls the host's malloc and
// operator new.  tests/meson.build expects check_freestanding.py to reject it,
// which shows the check can fail.
#include <stddef.h>

extern "C" void* malloc(size_t);
void* operator new(size_t);

void* bad_kernel_alloc(size_t n) {
    return n > 64 ? malloc(n) : operator new(n);
}
