/*
 * Foundation benchmark: each anykern figure beside the same operation on the
 * host kernel, measured in the same run, with the ratio (anykern / host:
 * below 1 means anykern is faster).
 *
 *   null syscall (getppid), 1-byte pread from a tmpfs file,
 *   create+close+unlink, 4 KiB sequential write and read of a 64 MiB file,
 *   ak_init() time and resident memory of a kernel with tmpfs.
 *
 * Host files live in a host tmpfs (/dev/shm, else $TMPDIR) so both sides
 * measure a RAM file system.  Usage: foundation_bench [--quick]
 */
#define _GNU_SOURCE
#include <anykern/anykern.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int quick;

static double now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e9 + ts.tv_nsec;
}

static void die(const char* what) {
    perror(what);
    exit(1);
}

static void report(const char* name, double ak, double host, const char* unit, const char* target) {
    printf("%-28s anykern %10.1f %-6s host %10.1f %-6s ratio %6.3fx  %s\n", name, ak, unit, host,
           unit, ak / host, target);
}

/* Best of several rounds of n iterations, in ns per iteration. */
#define MEASURE(result, n, body)                                                                   \
    do {                                                                                           \
        double best_ = 1e30;                                                                       \
        for (int round_ = 0; round_ < 5; round_++) {                                               \
            double t0_ = now_ns();                                                                 \
            for (long i_ = 0; i_ < (n); i_++) {                                                    \
                body;                                                                              \
            }                                                                                      \
            double per_ = (now_ns() - t0_) / (n);                                                  \
            if (per_ < best_)                                                                      \
                best_ = per_;                                                                      \
        }                                                                                          \
        (result) = best_;                                                                          \
    } while (0)

static const char* host_dir(void) {
    static char dir[256];
    const char* base =
        access("/dev/shm", W_OK) == 0 ? "/dev/shm" : (getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
    snprintf(dir, sizeof dir, "%s/ak-bench-%d", base, getpid());
    if (mkdir(dir, 0700) < 0 && errno != EEXIST)
        die("mkdir host dir");
    return dir;
}

static long read_rss_kib(void) {
    FILE* f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld kB", &kib) == 1)
            break;
    if (f)
        fclose(f);
    return kib;
}

/* In a fresh child: time ak_init() and the resident memory it adds. */
static void bench_init(void) {
    int pipefd[2];
    if (pipe(pipefd) < 0)
        die("pipe");
    pid_t pid = fork();
    if (pid == 0) {
        long before = read_rss_kib();
        double t0 = now_ns();
        if (ak_init() < 0)
            _exit(1);
        double t = now_ns() - t0;
        long after = read_rss_kib();
        double out[2] = {t, (double)(after - before)};
        if (write(pipefd[1], out, sizeof out) != sizeof out)
            _exit(1);
        _exit(0);
    }
    double res[2];
    if (read(pipefd[0], res, sizeof res) != sizeof res)
        die("init child");
    waitpid(pid, NULL, 0);
    /* The host equivalent of starting a kernel is starting a process:
     * fork + exit + wait of a small process. */
    double best = 1e30;
    for (int i = 0; i < 20; i++) {
        double t0 = now_ns();
        pid_t p = fork();
        if (p == 0)
            _exit(0);
        waitpid(p, NULL, 0);
        double t = now_ns() - t0;
        if (t < best)
            best = t;
    }
    printf("%-28s anykern %10.1f us     (fork+exit+wait of a host process: %.1f us)  target <= "
           "1000 us\n",
           "ak_init() time", res[0] / 1000, best / 1000);
    printf("%-28s anykern %10.0f KiB    target <= 512 KiB\n", "ak_init() resident memory", res[1]);
    close(pipefd[0]);
    close(pipefd[1]);
}

int main(int argc, char** argv) {
    quick = argc > 1 && !strcmp(argv[1], "--quick");
    long n_fast = quick ? 200000 : 2000000;
    long n_file = quick ? 5000 : 50000;
    bench_init();
    if (ak_init() < 0)
        die("ak_init");
    const char* hd = host_dir();
    char hpath[512];
    double ak, host;

    MEASURE(ak, n_fast, ak_sys_getppid());
    MEASURE(host, n_fast / 10, syscall(SYS_getppid));
    report("null syscall (getppid)", ak, host, "ns", "target <= 0.05x");

    int afd = ak_sys_open("/pread", O_CREAT | O_RDWR, 0644);
    snprintf(hpath, sizeof hpath, "%s/pread", hd);
    int hfd = open(hpath, O_CREAT | O_RDWR, 0644);
    if (afd < 0 || hfd < 0)
        die("open pread file");
    char buf[4096];
    memset(buf, 'p', sizeof buf);
    if (ak_sys_write(afd, buf, sizeof buf) != sizeof buf ||
        write(hfd, buf, sizeof buf) != sizeof buf)
        die("write");
    MEASURE(ak, n_fast / 2, ak_sys_pread64(afd, buf, 1, i_ % 4096));
    MEASURE(host, n_fast / 10, pread(hfd, buf, 1, i_ % 4096));
    report("1-byte pread (tmpfs)", ak, host, "ns", "");
    ak_sys_close(afd);
    close(hfd);

    MEASURE(ak, n_file, {
        int fd = ak_sys_open("/ccu", O_CREAT | O_WRONLY, 0644);
        ak_sys_close(fd);
        ak_sys_unlink("/ccu");
    });
    snprintf(hpath, sizeof hpath, "%s/ccu", hd);
    MEASURE(host, n_file / 5, {
        int fd = open(hpath, O_CREAT | O_WRONLY, 0644);
        close(fd);
        unlink(hpath);
    });
    report("create+close+unlink", ak, host, "ns", "target <= 0.1x");

    const long total = 64L << 20;
    memset(buf, 's', sizeof buf);
    double ak_w = 1e30, ak_r = 1e30, h_w = 1e30, h_r = 1e30;
    snprintf(hpath, sizeof hpath, "%s/seq", hd);
    for (int round = 0; round < (quick ? 1 : 3); round++) {
        int fd = ak_sys_open("/seq", O_CREAT | O_RDWR | O_TRUNC, 0644);
        double t0 = now_ns();
        for (long off = 0; off < total; off += 4096)
            if (ak_sys_write(fd, buf, 4096) != 4096)
                die("ak write");
        double t1 = now_ns();
        ak_sys_lseek(fd, 0, SEEK_SET);
        for (long off = 0; off < total; off += 4096)
            if (ak_sys_read(fd, buf, 4096) != 4096)
                die("ak read");
        double t2 = now_ns();
        ak_sys_close(fd);
        ak_sys_unlink("/seq");
        if (t1 - t0 < ak_w)
            ak_w = t1 - t0;
        if (t2 - t1 < ak_r)
            ak_r = t2 - t1;

        fd = open(hpath, O_CREAT | O_RDWR | O_TRUNC, 0644);
        t0 = now_ns();
        for (long off = 0; off < total; off += 4096)
            if (write(fd, buf, 4096) != 4096)
                die("host write");
        t1 = now_ns();
        lseek(fd, 0, SEEK_SET);
        for (long off = 0; off < total; off += 4096)
            if (read(fd, buf, 4096) != 4096)
                die("host read");
        t2 = now_ns();
        close(fd);
        unlink(hpath);
        if (t1 - t0 < h_w)
            h_w = t1 - t0;
        if (t2 - t1 < h_r)
            h_r = t2 - t1;
    }
    double mib = total / 1048576.0;
    printf(
        "%-28s anykern %10.1f MiB/s  host %10.1f MiB/s  ratio %6.3fx (throughput, >1 = faster)\n",
        "64 MiB write, 4 KiB blocks", mib / (ak_w / 1e9), mib / (h_w / 1e9), h_w / ak_w);
    printf(
        "%-28s anykern %10.1f MiB/s  host %10.1f MiB/s  ratio %6.3fx (throughput, >1 = faster)\n",
        "64 MiB read, 4 KiB blocks", mib / (ak_r / 1e9), mib / (h_r / 1e9), h_r / ak_r);
    rmdir(hd);
    return 0;
}
