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

/* boot.c: errno and the environment (at most AKRT_MAX_ENV variables). */
#define AKRT_MAX_ENV 64
extern int errno;
extern char** environ;
/* Start the kernel with the console on descriptors 0-2, split the command
 * line into the environment (environ) and the arguments (argc, argv),
 * mount the disks.
 * Returns 0, or -1 after printing why the kernel did not start. */
int akrt_boot(int* argc, char*** argv);

#endif
