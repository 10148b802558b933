// Remote system-call latency and throughput against the floor: a raw
// 64-byte ping-pong over a unix socket between two processes, measured in
// the same run.  Starts its own ak-server (path in argv[1]).
//
//   remote_bench PATH/TO/ak-server [ITERATIONS]
//
// Targets (issue 3): getppid <= 1.2x floor, 4 KiB pwrite <= 1.3x floor,
// 8 concurrent clients >= 1.6x the throughput of one.
#include <anykern/akclient.h>
#include <anykern/anykern.h>

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <string>
#include <vector>

namespace {

double now() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

[[noreturn]] void die(const char* what) {
    fprintf(stderr, "remote_bench: %s: %s\n", what, strerror(errno));
    exit(1);
}

// Raw floor: 64 bytes each way between two processes.
double floor_us(int iters) {
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
        die("socketpair");
    pid_t pid = fork();
    if (pid == 0) {
        close(sv[0]);
        char buf[64];
        for (;;) {
            ssize_t n = recv(sv[1], buf, sizeof buf, MSG_WAITALL);
            if (n <= 0)
                _exit(0);
            if (send(sv[1], buf, sizeof buf, 0) != static_cast<ssize_t>(sizeof buf))
                _exit(1);
        }
    }
    close(sv[1]);
    setvbuf(stdout, nullptr, _IOLBF, 0);
    char buf[64] = {1};
    double t0 = now();
    for (int i = 0; i < iters; i++) {
        if (send(sv[0], buf, sizeof buf, 0) != static_cast<ssize_t>(sizeof buf) ||
            recv(sv[0], buf, sizeof buf, MSG_WAITALL) != static_cast<ssize_t>(sizeof buf))
            die("ping-pong");
    }
    double t = now() - t0;
    close(sv[0]);
    waitpid(pid, nullptr, 0);
    return t / iters * 1e6;
}

double getppid_us(int iters) {
    double t0 = now();
    for (int i = 0; i < iters; i++)
        if (ak_sys_getppid() < 0)
            die("getppid");
    return (now() - t0) / iters * 1e6;
}

double pwrite_us(int fd, int iters) {
    static char block[4096];
    memset(block, 'w', sizeof block);
    double t0 = now();
    for (int i = 0; i < iters; i++)
        if (ak_sys_pwrite64(fd, block, sizeof block, 0) != static_cast<ssize_t>(sizeof block))
            die("pwrite");
    return (now() - t0) / iters * 1e6;
}

// Calls per second summed over n client processes running for secs.
double throughput(const char* url, int n, double secs) {
    auto* counts = static_cast<long*>(mmap(nullptr, sizeof(long) * 64, PROT_READ | PROT_WRITE,
                                           MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    int go[2];
    if (pipe(go) < 0)
        die("pipe");
    std::vector<pid_t> kids;
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            close(go[1]);
            akc_session* s = akc_open(url);
            if (!s)
                _exit(1);
            char c;
            if (read(go[0], &c, 1) < 0)
                _exit(1);
            long args[6] = {};
            long ops = 0;
            double end = now() + secs;
            while (now() < end) {
                for (int k = 0; k < 64; k++)
                    akc_syscall(s, AK_SYS_getppid, args);
                ops += 64;
            }
            counts[i] = ops;
            akc_close(s);
            _exit(0);
        }
        kids.push_back(pid);
    }
    usleep(200000); // let every client connect
    close(go[0]);
    close(go[1]); // go
    long total = 0;
    for (int i = 0; i < n; i++) {
        int st;
        waitpid(kids[static_cast<size_t>(i)], &st, 0);
        total += counts[i];
    }
    munmap(counts, sizeof(long) * 64);
    return static_cast<double>(total) / secs;
}

// The same scaling for raw ping-pong pairs (the floor of throughput).
double raw_throughput(int n, double secs) {
    auto* counts = static_cast<long*>(mmap(nullptr, sizeof(long) * 64, PROT_READ | PROT_WRITE,
                                           MAP_SHARED | MAP_ANONYMOUS, -1, 0));
    std::vector<pid_t> kids;
    for (int i = 0; i < n; i++) {
        pid_t pid = fork();
        if (pid == 0) {
            int sv[2];
            if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
                _exit(1);
            pid_t echo = fork();
            if (echo == 0) {
                close(sv[0]);
                char b[64];
                while (recv(sv[1], b, sizeof b, MSG_WAITALL) == static_cast<ssize_t>(sizeof b))
                    if (send(sv[1], b, sizeof b, 0) != static_cast<ssize_t>(sizeof b))
                        break;
                _exit(0);
            }
            close(sv[1]);
            char b[64] = {};
            long ops = 0;
            double end = now() + secs;
            while (now() < end) {
                for (int k = 0; k < 64; k++) {
                    if (send(sv[0], b, sizeof b, 0) != static_cast<ssize_t>(sizeof b) ||
                        recv(sv[0], b, sizeof b, MSG_WAITALL) != static_cast<ssize_t>(sizeof b))
                        _exit(1);
                }
                ops += 64;
            }
            counts[i] = ops;
            close(sv[0]);
            waitpid(echo, nullptr, 0);
            _exit(0);
        }
        kids.push_back(pid);
    }
    long total = 0;
    for (int i = 0; i < n; i++) {
        waitpid(kids[static_cast<size_t>(i)], nullptr, 0);
        total += counts[i];
    }
    munmap(counts, sizeof(long) * 64);
    return static_cast<double>(total) / secs;
}

double median(std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: remote_bench PATH/TO/ak-server [ITERATIONS]\n");
        return 2;
    }
    int iters = argc > 2 ? atoi(argv[2]) : 20000;
    char dir[] = "/tmp/ak-bench-XXXXXX";
    if (!mkdtemp(dir))
        die("mkdtemp");
    std::string sock = std::string(dir) + "/s.sock";
    std::string url = "unix://" + sock;
    pid_t server = fork();
    if (server == 0) {
        execl(argv[1], argv[1], "-f", "--log-level", "error", url.c_str(),
              static_cast<char*>(nullptr));
        die("exec ak-server");
    }
    struct stat st;
    for (int i = 0; i < 500 && stat(sock.c_str(), &st) < 0; i++)
        usleep(10000);
    if (akc_connect(url.c_str()) < 0)
        die("connect");
    int fd = ak_sys_open("/bench", O_CREAT | O_RDWR, 0644);
    if (fd < 0)
        die("open /bench");

    // Warm up, then alternate the measurements so drift hits all alike.
    floor_us(iters / 10);
    getppid_us(iters / 10);
    pwrite_us(fd, iters / 10);
    std::vector<double> f, g, p;
    for (int round = 0; round < 5; round++) {
        f.push_back(floor_us(iters));
        g.push_back(getppid_us(iters));
        p.push_back(pwrite_us(fd, iters));
    }
    double fl = median(f), gp = median(g), pw = median(p);
    printf("raw unix-socket 64-byte ping-pong (floor): %8.2f us\n", fl);
    printf("remote getppid round trip:                 %8.2f us  = %.2fx floor (target <= 1.2x)\n",
           gp, gp / fl);
    printf("remote 4 KiB pwrite round trip:            %8.2f us  = %.2fx floor (target <= 1.3x)\n",
           pw, pw / fl);
    double one = throughput(url.c_str(), 1, 1.0);
    double eight = throughput(url.c_str(), 8, 1.0);
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    double raw1 = raw_throughput(1, 1.0), raw8 = raw_throughput(8, 1.0);
    printf("throughput, 1 client:   %10.0f getppid/s\n", one);
    printf("throughput, 8 clients:  %10.0f getppid/s = %.2fx one client (target >= 1.6x; %ld "
           "host CPUs)\n",
           eight, eight / one, ncpu);
    printf("raw ping-pong pairs for comparison: 1 pair %.0f/s, 8 pairs %.0f/s = %.2fx\n", raw1,
           raw8, raw8 / raw1);
    ak_sys_close(fd);
    ak_fini();
    kill(server, SIGTERM);
    waitpid(server, nullptr, 0);
    rmdir(dir);
    return 0;
}
