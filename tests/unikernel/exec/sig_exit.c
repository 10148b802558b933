/* How a process ends (docs/linux-exec.md, "Signals"): the same output and
 * exit status natively and in an image.  argv[1] picks the ending:
 *
 *   abort      abort(): SIGABRT, status 134
 *   term       kill(getpid(), SIGTERM) with the default action: 143
 *   exit       exit(3) while other threads spin in user mode and block in
 *              read and futex: status 3, every thread ends
 *   thread-segv  a NULL dereference in a second thread while the main
 *              thread blocks: the whole process dies, 139
 *   cleartid   a thread created with CLONE_CHILD_CLEARTID (pthread) ends;
 *              pthread_join sees it (the futex wake), then exit 0
 *   badframe   rt_sigreturn with the stack pointer on an unmapped page: the
 *              frame cannot be read, SIGSEGV, 139
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int g_pipe[2];
static pthread_mutex_t g_mutex = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t g_cond = PTHREAD_COND_INITIALIZER;

static void* spin(void* arg) {
    (void)arg;
    for (volatile unsigned long i = 0;; i++)
        ;
    return NULL;
}

static void* block_read(void* arg) {
    (void)arg;
    char c;
    (void)!read(g_pipe[0], &c, 1);
    printf("read returned\n");
    return NULL;
}

static void* block_cond(void* arg) {
    (void)arg;
    pthread_mutex_lock(&g_mutex);
    pthread_cond_wait(&g_cond, &g_mutex);
    printf("cond returned\n");
    return NULL;
}

static void* segv(void* arg) {
    (void)arg;
    usleep(50000);
    *(volatile int*)0 = 1;
    return NULL;
}

static void* quick(void* arg) {
    return (char*)arg + 1;
}

int main(int argc, char** argv) {
    setvbuf(stdout, NULL, _IONBF, 0);
    const char* mode = argc > 1 ? argv[1] : "";
    printf("mode %s\n", mode);
    pthread_t t;
    if (!strcmp(mode, "abort")) {
        abort();
    } else if (!strcmp(mode, "term")) {
        kill(getpid(), SIGTERM);
        pause();
    } else if (!strcmp(mode, "exit")) {
        pipe(g_pipe);
        pthread_create(&t, NULL, spin, NULL);
        pthread_create(&t, NULL, spin, NULL);
        pthread_create(&t, NULL, block_read, NULL);
        pthread_create(&t, NULL, block_cond, NULL);
        usleep(100000);
        printf("exiting with threads running\n");
        exit(3);
    } else if (!strcmp(mode, "thread-segv")) {
        pipe(g_pipe);
        pthread_create(&t, NULL, segv, NULL);
        char c;
        (void)!read(g_pipe[0], &c, 1);
        printf("main read returned\n");
    } else if (!strcmp(mode, "cleartid")) {
        for (int i = 0; i < 20; i++) {
            void* r;
            pthread_create(&t, NULL, quick, (char*)0 + i);
            pthread_join(t, &r);
            if (r != (char*)0 + i + 1)
                printf("join %d: wrong result\n", i);
        }
        printf("20 threads joined\n");
        return 0;
    } else if (!strcmp(mode, "badframe")) {
        __asm__ volatile("mov $16, %%rsp\n"
                         "mov $15, %%eax\n"
                         "syscall\n"
                         "ud2\n" ::
                             : "memory");
    }
    printf("not reached\n");
    return 1;
}
