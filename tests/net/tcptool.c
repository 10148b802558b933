/*
 * tcptool: one TCP behaviour of the anykern stack at a time, driven by
 * tests/net/interop.py against a Linux peer.  Every mode prints one line
 * per step on stdout (the driver reads them) and exits 0 only when the
 * behaviour it checks held.
 *
 *   tcptool [--if SPEC]... keepalive ADDR PORT IDLE INTVL CNT QUIET
 *       Connect with SO_KEEPALIVE and TCP_KEEPIDLE/KEEPINTVL/KEEPCNT, echo
 *       one message, stay idle QUIET seconds, echo again ("survived"), then
 *       print "idle" and block in recv until the connection fails; prints
 *       "error E after S s" and exits 0 if E is ETIMEDOUT.
 *   tcptool [--if SPEC]... send ADDR PORT FILE
 *       Connect, write FILE, shut down the sending side, print what the
 *       peer answers (until EOF) as "reply TEXT".
 *   tcptool [--if SPEC]... recv PORT FILE DELAY RCVBUF
 *       Listen (SO_RCVBUF RCVBUF, 0 = default), print "ready", accept, sleep
 *       DELAY seconds without reading, then read to EOF into FILE and
 *       answer "done N" (N bytes).
 *   tcptool [--if SPEC]... linger ADDR PORT FILE SECONDS
 *       Connect, set SO_LINGER {1, SECONDS} (none if SECONDS is -1), write
 *       FILE, close; prints "close took S s (CLOSE'S RESULT)".  Then stays
 *       60 s so that an orphaned connection can finish.
 */
#define _GNU_SOURCE
#include <anykern/anykern.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
static void say(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    putchar('\n');
    fflush(stdout);
}

static int fail(const char* what) {
    say("fail %s: %s", what, strerror(errno));
    return 1;
}

static int connect_to(const char* ip, int port) {
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
        errno = EINVAL;
        return -1;
    }
    /* The first attempts may race ARP or the peer starting up. */
    for (int tries = 0; tries < 10; tries++) {
        int s = ak_sys_socket(AF_INET, SOCK_STREAM, 0);
        if (s < 0)
            return -1;
        if (ak_sys_connect(s, (struct sockaddr*)&a, sizeof a) == 0)
            return s;
        ak_sys_close(s);
        usleep(300000);
    }
    return -1;
}

/* The whole of a host file, malloc'ed. */
static char* slurp(const char* path, size_t* len) {
    int fd = open(path, O_RDONLY);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0)
        return NULL;
    char* buf = malloc((size_t)st.st_size + 1);
    size_t have = 0;
    while (buf && have < (size_t)st.st_size) {
        ssize_t n = read(fd, buf + have, (size_t)st.st_size - have);
        if (n <= 0)
            break;
        have += (size_t)n;
    }
    close(fd);
    *len = have;
    return buf;
}

static int write_all(int s, const char* p, size_t n) {
    while (n) {
        ssize_t w = ak_sys_write(s, p, n);
        if (w < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int echo_once(int s, const char* msg) {
    char buf[64];
    size_t len = strlen(msg);
    if (write_all(s, msg, len) != 0)
        return -1;
    size_t got = 0;
    while (got < len) {
        ssize_t n = ak_sys_read(s, buf + got, len - got);
        if (n <= 0)
            return -1;
        got += (size_t)n;
    }
    return memcmp(buf, msg, len) == 0 ? 0 : -1;
}

static int mode_keepalive(char** a) {
    int idle = atoi(a[2]), intvl = atoi(a[3]), cnt = atoi(a[4]), quiet = atoi(a[5]);
    int s = connect_to(a[0], atoi(a[1]));
    if (s < 0)
        return fail("connect");
    /* The options go on an established, idle connection: the timer must
     * follow TCP_KEEPIDLE without waiting for the next segment. */
    if (echo_once(s, "hello") != 0)
        return fail("first echo");
    int one = 1;
    if (ak_sys_setsockopt(s, SOL_SOCKET, SO_KEEPALIVE, &one, sizeof one) ||
        ak_sys_setsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &idle, sizeof idle) ||
        ak_sys_setsockopt(s, IPPROTO_TCP, TCP_KEEPINTVL, &intvl, sizeof intvl) ||
        ak_sys_setsockopt(s, IPPROTO_TCP, TCP_KEEPCNT, &cnt, sizeof cnt))
        return fail("setsockopt");
    int v = 0;
    socklen_t vl = sizeof v;
    if (ak_sys_getsockopt(s, IPPROTO_TCP, TCP_KEEPIDLE, &v, &vl) || v != idle) {
        say("fail TCP_KEEPIDLE reads back %d", v);
        return 1;
    }
    say("connected");
    sleep((unsigned)quiet);
    if (echo_once(s, "again") != 0)
        return fail("echo after idling");
    say("survived");
    say("idle");
    double t0 = now_s();
    char c;
    ssize_t n = ak_sys_read(s, &c, 1);
    double dt = now_s() - t0;
    int e = n < 0 ? errno : 0;
    say("error %s after %.1f s", n < 0 ? strerrorname_np(e) : "none", dt);
    return e == ETIMEDOUT ? 0 : 1;
}

static int mode_send(char** a) {
    size_t len;
    char* data = slurp(a[2], &len);
    if (!data)
        return fail(a[2]);
    int s = connect_to(a[0], atoi(a[1]));
    if (s < 0)
        return fail("connect");
    say("connected");
    double t0 = now_s();
    if (write_all(s, data, len) != 0)
        return fail("write");
    if (ak_sys_shutdown(s, SHUT_WR) != 0)
        return fail("shutdown");
    say("sent %zu in %.1f s", len, now_s() - t0);
    char reply[256];
    size_t got = 0;
    for (;;) {
        ssize_t n = ak_sys_read(s, reply + got, sizeof reply - 1 - got);
        if (n < 0)
            return fail("read reply");
        if (n == 0)
            break;
        got += (size_t)n;
    }
    reply[got] = 0;
    say("reply %s", reply);
    ak_sys_close(s);
    return 0;
}

static int mode_recv(char** a) {
    int delay = atoi(a[2]), rcvbuf = atoi(a[3]);
    int l = ak_sys_socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ak_sys_setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (rcvbuf > 0 && ak_sys_setsockopt(l, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf))
        return fail("SO_RCVBUF");
    struct sockaddr_in sa = {0};
    sa.sin_family = AF_INET;
    sa.sin_port = htons((uint16_t)atoi(a[0]));
    if (ak_sys_bind(l, (struct sockaddr*)&sa, sizeof sa) || ak_sys_listen(l, 4))
        return fail("listen");
    say("ready");
    int s = ak_sys_accept(l, NULL, NULL);
    if (s < 0)
        return fail("accept");
    say("accepted");
    sleep((unsigned)delay);
    say("reading");
    int fd = open(a[1], O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return fail(a[1]);
    static char buf[1 << 16];
    size_t total = 0;
    for (;;) {
        ssize_t n = ak_sys_read(s, buf, sizeof buf);
        if (n < 0)
            return fail("read");
        if (n == 0)
            break;
        if (write(fd, buf, (size_t)n) != n)
            return fail("write file");
        total += (size_t)n;
    }
    close(fd);
    char done[64];
    int dl = snprintf(done, sizeof done, "done %zu", total);
    if (write_all(s, done, (size_t)dl) != 0)
        return fail("write reply");
    ak_sys_close(s);
    say("%s", done);
    return 0;
}

static int mode_linger(char** a) {
    size_t len;
    char* data = slurp(a[2], &len);
    if (!data)
        return fail(a[2]);
    int s = connect_to(a[0], atoi(a[1]));
    if (s < 0)
        return fail("connect");
    struct linger lg = {1, atoi(a[3])};
    if (lg.l_linger >= 0 && ak_sys_setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg))
        return fail("SO_LINGER");
    say("connected");
    if (write_all(s, data, len) != 0)
        return fail("write");
    double t0 = now_s();
    int r = ak_sys_close(s);
    say("close took %.1f s (%d)", now_s() - t0, r);
    /* The kernel lives in this process: stay while an orphaned connection
     * finishes (the driver kills us). */
    sleep(60);
    return r == 0 ? 0 : 1;
}

int main(int argc, char** argv) {
    const char* ifs[8];
    int nifs = 0, i = 1;
    while (i + 1 < argc && !strcmp(argv[i], "--if") && nifs < 8) {
        ifs[nifs++] = argv[i + 1];
        i += 2;
    }
    struct {
        const char* name;
        int nargs;
        int (*fn)(char**);
    } modes[] = {{"keepalive", 6, mode_keepalive},
                 {"send", 3, mode_send},
                 {"recv", 4, mode_recv},
                 {"linger", 4, mode_linger}};
    for (size_t m = 0; m < sizeof modes / sizeof modes[0]; m++) {
        if (i >= argc || strcmp(argv[i], modes[m].name) != 0)
            continue;
        if (argc - i - 1 != modes[m].nargs)
            break;
        if (ak_init() != 0) {
            perror("ak_init");
            return 1;
        }
        for (int k = 0; k < nifs; k++)
            if (ak_if_attach(ifs[k]) < 0) {
                fprintf(stderr, "tcptool: %s: %s\n", ifs[k], strerror(errno));
                return 1;
            }
        return modes[m].fn(argv + i + 1);
    }
    fprintf(stderr, "usage: tcptool [--if SPEC]... keepalive|send|recv|linger ARGS "
                    "(see the source)\n");
    return 2;
}
