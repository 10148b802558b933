/* Internal declarations of the unikernel application runtime.  The runtime
 * deliberately includes no libc header: it is the libc. */
#ifndef AKRT_RT_H
#define AKRT_RT_H

#include <anykern/hypercall.h>
#include <stdarg.h>
#include <stddef.h>

typedef struct akrt_file FILE;

void akrt_stdio_flush(void);
int snprintf(char* buf, size_t size, const char* fmt, ...);
size_t strlen(const char* s);
int strcmp(const char* a, const char* b);
void* memcpy(void* d, const void* s, size_t n);
void* memset(void* d, int c, size_t n);
void* memchr(const void* s, int c, size_t n);
char* strerror(int e);
int fflush(FILE* f);
size_t fwrite(const void* p, size_t size, size_t n, FILE* f);
int fprintf(FILE* f, const char* fmt, ...);
int vsnprintf(char* buf, size_t size, const char* fmt, va_list ap);
size_t strnlen(const char* s, size_t max);
char* strchr(const char* s, int c);
void exit(int status) __attribute__((noreturn));

#endif
