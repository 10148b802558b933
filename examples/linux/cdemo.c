/*
 * cdemo: a C program exercising files, sockets, pipes, time and pthreads
 * with nothing but the C library.  Its output does not depend on where it
 * runs, so tests/linux compares the unikernel's output (built with
 * `musl-gcc -static`, baked with ak-bake) with a native run's.
 *
 *   cdemo [DIR]      (DIR: where to make a scratch directory; default /tmp)
 *
 * Exit status 0 when every check passed, 1 otherwise (each failure prints
 * a FAIL line).
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>

static int g_failures;

#define CHECK(cond, what)                                                        \
    do {                                                                         \
        if (cond)                                                                \
            printf("ok   %s\n", what);                                           \
        else {                                                                   \
            printf("FAIL %s (%s:%d, errno %d)\n", what, __FILE__, __LINE__, errno); \
            g_failures++;                                                        \
        }                                                                        \
    } while (0)

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void files(const char *base)
{
    char dir[256], path[320], path2[320];
    mkdir(base, 0777);
    snprintf(dir, sizeof dir, "%s/cdemoXXXXXX", base);
    CHECK(mkdtemp(dir) != NULL, "mkdtemp");
    for (int i = 0; i < 5; i++) {
        snprintf(path, sizeof path, "%s/file%d", dir, 4 - i);
        FILE *f = fopen(path, "w");
        CHECK(f != NULL, "fopen for writing");
        if (!f)
            return;
        for (int j = 0; j <= i * 100; j++)
            fprintf(f, "line %d of file %d\n", j, 4 - i);
        CHECK(fclose(f) == 0, "fclose");
    }
    snprintf(path, sizeof path, "%s/file2", dir);
    struct stat st;
    CHECK(stat(path, &st) == 0 && S_ISREG(st.st_mode), "stat regular file");
    printf("file2 has %lld bytes\n", (long long)st.st_size);
    FILE *f = fopen(path, "r");
    char line[128];
    int lines = 0;
    while (f && fgets(line, sizeof line, f))
        lines++;
    if (f)
        fclose(f);
    printf("file2 has %d lines, last: %s", lines, line);
    snprintf(path2, sizeof path2, "%s/renamed", dir);
    CHECK(rename(path, path2) == 0, "rename");
    CHECK(access(path, F_OK) != 0 && errno == ENOENT, "old name is gone");

    int fd = open(path2, O_RDWR);
    CHECK(fd >= 0, "open O_RDWR");
    CHECK(pwrite(fd, "XYZ", 3, 5) == 3, "pwrite");
    char buf[16] = {0};
    CHECK(pread(fd, buf, 10, 0) == 10 && memcmp(buf, "line XYZf ", 10) == 0, "pread sees pwrite");
    void *map = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE, fd, 0);
    CHECK(map != MAP_FAILED && memcmp(map, "line XYZf ", 10) == 0, "mmap of a file");
    if (map != MAP_FAILED)
        munmap(map, 4096);
    close(fd);

    DIR *d = opendir(dir);
    CHECK(d != NULL, "opendir");
    char *names[16];
    int n = 0;
    struct dirent *e;
    while (d && (e = readdir(d)) && n < 16)
        if (e->d_name[0] != '.')
            names[n++] = strdup(e->d_name);
    if (d)
        closedir(d);
    qsort(names, (size_t)n, sizeof names[0], cmp_names);
    printf("directory:");
    for (int i = 0; i < n; i++) {
        printf(" %s", names[i]);
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
        free(names[i]);
    }
    printf("\n");
    CHECK(rmdir(dir) == 0, "rmdir of the emptied directory");
}

/* pthreads: a mutex-protected counter and a condition-variable hand-off. */
enum { NTHREADS = 4, ROUNDS = 20000 };
static pthread_mutex_t g_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cv = PTHREAD_COND_INITIALIZER;
static long g_counter;
static int g_turn;
static long g_order[NTHREADS];

static void *worker(void *arg)
{
    long id = (long)arg;
    for (int i = 0; i < ROUNDS; i++) {
        pthread_mutex_lock(&g_lock);
        g_counter += id + 1;
        pthread_mutex_unlock(&g_lock);
    }
    pthread_mutex_lock(&g_lock);
    while (g_turn != id)
        pthread_cond_wait(&g_cv, &g_lock);
    g_order[g_turn++] = id;
    pthread_cond_broadcast(&g_cv);
    pthread_mutex_unlock(&g_lock);
    return (void *)(id * 10);
}

static void threads(void)
{
    pthread_t t[NTHREADS];
    for (long i = 0; i < NTHREADS; i++)
        CHECK(pthread_create(&t[i], NULL, worker, (void *)i) == 0, "pthread_create");
    long sum = 0;
    for (int i = 0; i < NTHREADS; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (long)r;
    }
    printf("counter %ld, join results %ld, turns taken by threads %ld %ld %ld %ld\n", g_counter,
           sum, g_order[0], g_order[1], g_order[2], g_order[3]);
    CHECK(g_counter == (long)ROUNDS * (1 + 2 + 3 + 4), "counter under the mutex");
}

/* TCP over the loopback: a server thread sums what a client sends. */
struct server {
    int listener;
    unsigned long long sum;
};

static void *tcp_server(void *arg)
{
    struct server *s = arg;
    int c = accept(s->listener, NULL, NULL);
    unsigned char buf[4096];
    ssize_t r;
    while (c >= 0 && (r = read(c, buf, sizeof buf)) > 0)
        for (ssize_t i = 0; i < r; i++)
            s->sum += buf[i];
    if (c >= 0) {
        char reply[64];
        int n = snprintf(reply, sizeof reply, "%llu", s->sum);
        write(c, reply, (size_t)n);
        close(c);
    }
    return NULL;
}

static void sockets(void)
{
    struct server s = {socket(AF_INET, SOCK_STREAM, 0), 0};
    struct sockaddr_in sin = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sin;
    CHECK(s.listener >= 0 && bind(s.listener, (struct sockaddr *)&sin, sizeof sin) == 0 &&
              listen(s.listener, 4) == 0 &&
              getsockname(s.listener, (struct sockaddr *)&sin, &len) == 0 && sin.sin_port != 0,
          "TCP listen on an ephemeral loopback port");
    pthread_t t;
    pthread_create(&t, NULL, tcp_server, &s);
    int c = socket(AF_INET, SOCK_STREAM, 0);
    CHECK(connect(c, (struct sockaddr *)&sin, sizeof sin) == 0, "TCP connect");
    static unsigned char data[1 << 20];
    unsigned long long expect = 0;
    for (size_t i = 0; i < sizeof data; i++) {
        data[i] = (unsigned char)(i * 7 + i / 4096);
        expect += data[i];
    }
    size_t off = 0;
    while (off < sizeof data) {
        ssize_t w = write(c, data + off, sizeof data - off);
        if (w <= 0)
            break;
        off += (size_t)w;
    }
    shutdown(c, SHUT_WR);
    char reply[64] = {0};
    ssize_t r = read(c, reply, sizeof reply - 1);
    close(c);
    pthread_join(t, NULL);
    close(s.listener);
    printf("TCP: sent %zu bytes, server summed %s\n", off, r > 0 ? reply : "?");
    CHECK(s.sum == expect, "TCP byte sum matches");

    int u1 = socket(AF_INET, SOCK_DGRAM, 0), u2 = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    len = sizeof a;
    bind(u1, (struct sockaddr *)&a, sizeof a);
    getsockname(u1, (struct sockaddr *)&a, &len);
    CHECK(sendto(u2, "datagram", 8, 0, (struct sockaddr *)&a, sizeof a) == 8, "UDP sendto");
    char dg[16] = {0};
    CHECK(recvfrom(u1, dg, sizeof dg, 0, NULL, NULL) == 8 && strcmp(dg, "datagram") == 0,
          "UDP recvfrom");
    close(u1);
    close(u2);

    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    write(sv[0], "unix", 4);
    char ub[8] = {0};
    CHECK(read(sv[1], ub, sizeof ub) == 4 && strcmp(ub, "unix") == 0, "AF_UNIX stream");
    close(sv[0]);
    close(sv[1]);
}

static void pipes_and_time(void)
{
    int p[2];
    CHECK(pipe(p) == 0, "pipe");
    struct pollfd pfd = {.fd = p[0], .events = POLLIN};
    CHECK(poll(&pfd, 1, 0) == 0, "poll: empty pipe is not readable");
    write(p[1], "x", 1);
    CHECK(poll(&pfd, 1, 1000) == 1 && (pfd.revents & POLLIN), "poll: readable after write");
    close(p[0]);
    close(p[1]);

    struct timespec t0, t1, req = {0, 20 * 1000 * 1000};
    clock_gettime(CLOCK_MONOTONIC, &t0);
    nanosleep(&req, NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    long ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    CHECK(ms >= 20 && ms < 2000, "nanosleep 20 ms");
    struct timeval tv;
    gettimeofday(&tv, NULL);
    CHECK(tv.tv_sec > 1600000000, "gettimeofday is a plausible date");

    char *heap = malloc(8 << 20);
    CHECK(heap != NULL, "malloc 8 MiB");
    if (heap) {
        memset(heap, 0x5a, 8 << 20);
        CHECK(heap[(8 << 20) - 1] == 0x5a, "large allocation is usable");
        free(heap);
    }
}

int main(int argc, char **argv)
{
    const char *base = argc > 1 ? argv[1] : "/tmp";
    setvbuf(stdout, NULL, _IOLBF, 0);
    printf("cdemo: files, threads, sockets, pipes, time\n");
    files(base);
    threads();
    sockets();
    pipes_and_time();
    printf("%s: %d failures\n", g_failures ? "FAILED" : "PASSED", g_failures);
    return g_failures ? 1 : 0;
}
