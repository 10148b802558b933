/* Bad pointers passed to system calls are EFAULT, as on Linux, and never
 * take the kernel down (docs/linux-exec.md, "Bad pointers"): the same
 * output natively and in an image.  Each call is made where Linux really
 * touches the buffer (a pipe with data in it, a path to look up), so
 * Linux's answer is EFAULT too.  Kernel-side addresses of the image
 * (0x100000, where the kvm kernel is loaded) must not be read or written
 * for the caller either.  Last, a buffer another thread unmaps while a
 * call sleeps: the kernel's own check passed, its copy faults (recovered by
 * the platform's akhyp_user_guard).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

/* The bad arguments are the point. */
#pragma GCC diagnostic ignored "-Wpragmas"
#pragma GCC diagnostic ignored "-Wnonnull"
#pragma GCC diagnostic ignored "-Wstringop-overread"

#define FUTEX_WAIT 0 /* linux/futex.h, which musl's headers lack */

static pthread_t g_main;
static struct timespec* g_rem;

static void on_usr1(int sig) {
    (void)sig;
}

static void* unmap_then_signal(void* arg) {
    (void)arg;
    usleep(100000);
    munmap(g_rem, 4096);
    pthread_kill(g_main, SIGUSR1);
    return NULL;
}

static void show(const char* what, long r) {
    printf("%-40s %ld %s\n", what, r, r < 0 ? strerror(errno) : "");
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    int p[2];
    pipe(p);
    char* wild = (char*)0x10;
    char* kernel = (char*)0x100000;

    (void)!write(p[1], "0123456789", 10);
    show("read into NULL", read(p[0], NULL, 10));
    show("read into the kernel image", read(p[0], kernel, 10));
    show("read into read-only text", read(p[0], (char*)(uintptr_t)&main, 4));
    char buf[16];
    show("read into a good buffer", read(p[0], buf, 10));

    show("write from (void*)1", write(p[1], (void*)1, 5));
    show("write from the kernel image", write(p[1], kernel, 5));

    struct stat st;
    show("stat of a wild path pointer", stat(wild, &st));
    show("stat into a wild buffer", syscall(SYS_stat, "/", wild)); /* musl converts in user space */
    show("open of a NULL path", open(NULL, O_RDONLY));

    /* A path that runs into an unmapped page without a NUL. */
    char* two = mmap(NULL, 8192, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    memset(two, 'a', 8192);
    munmap(two + 4096, 4096);
    show("open of a path running off its page", open(two + 4090, O_RDONLY));
    /* The same path ends in time: ENOENT, not EFAULT. */
    two[4095] = 0;
    show("open of a path ending at its page", open(two + 4090, O_RDONLY));
    show("read into a PROT_NONE page",
         (mprotect(two, 4096, PROT_NONE), write(p[1], "x", 1), read(p[0], two, 1)));

    struct iovec iov[2] = {{buf, 2}, {wild, 4}};
    (void)!write(p[1], "abcdef", 6);
    show("readv with a bad second iovec", readv(p[0], iov, 2));
    show("writev from a bad iovec array", writev(p[1], (struct iovec*)wild, 1));
    show("clock_gettime into (void*)1", syscall(SYS_clock_gettime, CLOCK_MONOTONIC, (void*)1));
    show("uname into the kernel image", syscall(SYS_uname, kernel));
    show("nanosleep from a wild pointer", syscall(SYS_nanosleep, wild, NULL));
    show("futex wait on an unmapped word", syscall(SYS_futex, (void*)0x1000, FUTEX_WAIT, 0, NULL));
    show("pipe2 into read-only text", syscall(SYS_pipe2, (void*)(uintptr_t)&main, 0));
    int sv[2];
    show("socketpair", socketpair(AF_UNIX, SOCK_STREAM, 0, sv));
    show("send from a wild buffer", send(sv[0], wild, 8, 0));
    show("getsockname with a wild length",
         getsockname(sv[0], (struct sockaddr*)buf, (socklen_t*)wild));

    /* nanosleep's remaining time goes to a page unmapped meanwhile. */
    signal(SIGUSR1, on_usr1);
    g_main = pthread_self();
    g_rem = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    pthread_t t;
    pthread_create(&t, NULL, unmap_then_signal, NULL);
    struct timespec ts = {5, 0};
    show("nanosleep, rem unmapped while asleep", nanosleep(&ts, g_rem));
    pthread_join(t, NULL);

    /* Still working afterwards. */
    (void)!write(p[1], "ok", 2);
    ssize_t n = read(p[0], buf, sizeof buf);
    printf("the kernel is fine: %.*s\n", (int)n, buf);
    return 0;
}
