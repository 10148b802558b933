/* Blocking calls interrupted by signals (docs/signals.md, "SA_RESTART"):
 * the same output natively and in an image.  A helper thread sends
 * SIGUSR1 to the main thread while it blocks, then (later) unblocks it.
 *
 *  - read of an empty pipe, handler without SA_RESTART: -1 EINTR;
 *  - the same with SA_RESTART: the read goes on and returns the data the
 *    helper writes afterwards;
 *  - nanosleep and poll with SA_RESTART: EINTR all the same (never
 *    restarted);
 *  - sigsuspend: returns -1 EINTR after the handler ran, with the
 *    temporary mask in force inside the handler and the old one after.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static pthread_t g_main;
static int g_pipe[2];
static volatile int g_handled;
static volatile int g_usr2_blocked_inside;

static void on_usr1(int sig) {
    (void)sig;
    g_handled++;
    sigset_t now;
    sigprocmask(SIG_BLOCK, NULL, &now);
    g_usr2_blocked_inside = sigismember(&now, SIGUSR2);
}

static void install(int flags) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_usr1;
    sa.sa_flags = flags;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
}

struct plan {
    int signal_after_ms;
    int write_after_ms; /* 0: never */
};

static void* helper(void* arg) {
    struct plan* p = arg;
    usleep((useconds_t)p->signal_after_ms * 1000);
    pthread_kill(g_main, SIGUSR1);
    if (p->write_after_ms) {
        usleep((useconds_t)p->write_after_ms * 1000);
        (void)!write(g_pipe[1], "data", 4);
    }
    return NULL;
}

static pthread_t start(struct plan* p) {
    pthread_t t;
    pthread_create(&t, NULL, helper, p);
    return t;
}

int main(void) {
    setvbuf(stdout, NULL, _IONBF, 0);
    g_main = pthread_self();
    pipe(g_pipe);
    char buf[16];

    install(0);
    struct plan p1 = {100, 0};
    pthread_t t = start(&p1);
    ssize_t n = read(g_pipe[0], buf, sizeof buf);
    int e = errno;
    pthread_join(t, NULL);
    printf("read without SA_RESTART: %zd %s, handler ran %d\n", n, n < 0 ? strerror(e) : "",
           g_handled);

    install(SA_RESTART);
    struct plan p2 = {100, 200};
    t = start(&p2);
    n = read(g_pipe[0], buf, sizeof buf);
    pthread_join(t, NULL);
    printf("read with SA_RESTART: %zd [%.*s], handler ran %d\n", n, n > 0 ? (int)n : 0, buf,
           g_handled);

    struct plan p3 = {100, 0};
    t = start(&p3);
    struct timespec ts = {5, 0}, rem = {0, 0};
    int r = nanosleep(&ts, &rem);
    e = errno;
    pthread_join(t, NULL);
    printf("nanosleep with SA_RESTART: %d %s, remaining time left %d, handler ran %d\n", r,
           r < 0 ? strerror(e) : "", rem.tv_sec >= 3, g_handled);

    t = start(&p3);
    struct pollfd pfd = {g_pipe[0], POLLIN, 0};
    r = poll(&pfd, 1, 5000);
    e = errno;
    pthread_join(t, NULL);
    printf("poll with SA_RESTART: %d %s, handler ran %d\n", r, r < 0 ? strerror(e) : "", g_handled);

    /* sigsuspend: SIGUSR1 blocked outside, allowed only while suspended;
     * SIGUSR2 blocked by the temporary mask. */
    sigset_t block, wait_mask, now;
    sigemptyset(&block);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, NULL);
    sigemptyset(&wait_mask);
    sigaddset(&wait_mask, SIGUSR2);
    t = start(&p3);
    r = sigsuspend(&wait_mask);
    e = errno;
    pthread_join(t, NULL);
    sigprocmask(SIG_BLOCK, NULL, &now);
    printf("sigsuspend: %d %s, handler ran %d, USR2 blocked inside %d, USR1 blocked after %d, "
           "USR2 blocked after %d\n",
           r, strerror(e), g_handled, g_usr2_blocked_inside, sigismember(&now, SIGUSR1),
           sigismember(&now, SIGUSR2));
    return 0;
}
