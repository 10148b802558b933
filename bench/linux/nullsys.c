/*
 * nullsys: the cost of the cheapest system call, getppid, as seen by an
 * ordinary static Linux program.  bench/linux_bench.py builds it with
 * musl-gcc -static, runs it natively and baked into a unikernel image.
 *
 *   nullsys [ITERATIONS]    prints "getppid: N calls, X ns/call"
 */
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

int main(int argc, char **argv)
{
    long n = argc > 1 ? atol(argv[1]) : 1000000;
    double best = 0;
    for (int round = 0; round < 5; round++) {
        double t0 = now_ns();
        for (long i = 0; i < n; i++)
            syscall(SYS_getppid); /* not cached by the C library */
        double per = (now_ns() - t0) / (double)n;
        if (round == 0 || per < best)
            best = per;
    }
    printf("getppid: %ld calls, %.1f ns/call\n", n, best);
    return 0;
}
