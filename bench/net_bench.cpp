// TCP benchmark: one-stream throughput and 1-byte request/response
// transactions per second, over (a) one anykern kernel's loopback, (b) two
// anykern processes on the shared-memory bus, and (c) Linux loopback
// between two host processes, all measured in the same run by the same
// code (only the socket calls differ).
//
//   net_bench [--seconds S] [--only loop|shm|host]
#include <anykern/anykern.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <thread>

namespace {

struct Api {
    int (*socket)(int, int, int);
    int (*bind)(int, const sockaddr*, socklen_t);
    int (*listen)(int, int);
    int (*accept)(int, sockaddr*, socklen_t*);
    int (*connect)(int, const sockaddr*, socklen_t);
    ssize_t (*read)(int, void*, size_t);
    ssize_t (*write)(int, const void*, size_t);
    int (*setsockopt)(int, int, int, const void*, socklen_t);
    int (*close)(int);
};

const Api k_host = {::socket, ::bind,  ::listen,     ::accept, ::connect,
                    ::read,   ::write, ::setsockopt, ::close};
const Api k_ak = {ak_sys_socket, ak_sys_bind,  ak_sys_listen,     ak_sys_accept, ak_sys_connect,
                  ak_sys_read,   ak_sys_write, ak_sys_setsockopt, ak_sys_close};

// CPU time of this process (all its threads), seconds.
double cpu_s() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

// Where a server process in another process reports the CPU time of its
// two phases (-1: the server is a thread of the measuring process).
int g_report_fd = -1;

double now_s() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

sockaddr_in addr(const char* ip, uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    inet_pton(AF_INET, ip, &a.sin_addr);
    return a;
}

int listen_on(const Api& api, const char* ip, uint16_t port) {
    int l = api.socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    api.setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = addr(ip, port);
    if (api.bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) || api.listen(l, 16)) {
        perror("bind/listen");
        exit(1);
    }
    return l;
}

int connect_to(const Api& api, const char* ip, uint16_t port) {
    for (int i = 0; i < 100; i++) {
        int c = api.socket(AF_INET, SOCK_STREAM, 0);
        sockaddr_in a = addr(ip, port);
        if (api.connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0) {
            int one = 1;
            api.setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            return c;
        }
        api.close(c);
        usleep(50000);
    }
    perror("connect");
    exit(1);
}

// Server side of both tests on an accepted connection: sink bytes until
// the first byte 'R', then echo single bytes.
void serve(const Api& api, int l) {
    int s = api.accept(l, nullptr, nullptr);
    double c0 = cpu_s();
    int one = 1;
    api.setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    static char buf[1 << 20];
    for (;;) {
        ssize_t n = api.read(s, buf, sizeof buf);
        if (n <= 0)
            break;
        if (buf[n - 1] == 'R') // end of the stream phase
            break;
    }
    double c1 = cpu_s();
    api.write(s, "A", 1);
    char b;
    while (api.read(s, &b, 1) == 1)
        api.write(s, &b, 1);
    api.close(s);
    double cpu[2] = {c1 - c0, cpu_s() - c1};
    if (g_report_fd >= 0 && write(g_report_fd, cpu, sizeof cpu) != sizeof cpu)
        perror("report");
}

struct Figures {
    double gbit, tps;
    // CPU seconds per phase over every process and thread involved.
    double cpu_stream, cpu_rr;
    double bytes, transactions;
};

Figures client(const Api& api, int c, double seconds) {
    static char buf[1 << 18];
    memset(buf, 'x', sizeof buf);
    double t0 = now_s(), t, c0 = cpu_s();
    uint64_t bytes = 0;
    while ((t = now_s()) - t0 < seconds) {
        ssize_t n = api.write(c, buf, sizeof buf);
        if (n <= 0)
            exit(1);
        bytes += static_cast<uint64_t>(n);
    }
    api.write(c, "R", 1);
    char b;
    api.read(c, &b, 1); // the receiver drained everything
    double stream = now_s() - t0;
    double t1 = now_s(), c1 = cpu_s();
    uint64_t tx = 0;
    while (now_s() - t1 < seconds) {
        for (int i = 0; i < 100; i++) {
            api.write(c, "q", 1);
            if (api.read(c, &b, 1) != 1)
                exit(1);
        }
        tx += 100;
    }
    double rr = now_s() - t1;
    api.close(c);
    double c2 = cpu_s();
    return {bytes * 8 / stream / 1e9, tx / rr, c1 - c0, c2 - c1, double(bytes), double(tx)};
}

Figures run_loop(double seconds) {
    if (ak_init() != 0) {
        perror("ak_init");
        exit(1);
    }
    int l = listen_on(k_ak, "127.0.0.1", 7001);
    std::thread srv([&] { serve(k_ak, l); });
    int c = connect_to(k_ak, "127.0.0.1", 7001);
    Figures f = client(k_ak, c, seconds);
    srv.join();
    return f;
}

// Two processes: each its own kernel (shm) or the host stack.
Figures run_two(bool shm, double seconds) {
    char bus[64];
    snprintf(bus, sizeof bus, "/tmp/ak-bench-bus-%d", getpid());
    unlink(bus);
    int pipefd[2], report[2];
    if (pipe(pipefd) || pipe(report))
        exit(1);
    pid_t pid = fork();
    if (pid == 0) {
        close(pipefd[0]);
        close(report[0]);
        g_report_fd = report[1];
        const Api& api = shm ? k_ak : k_host;
        if (shm) {
            if (ak_init() != 0)
                _exit(1);
            char spec[128];
            snprintf(spec, sizeof spec, "shm:%s,addr=10.99.0.1/24,mtu=65000", bus);
            if (ak_if_attach(spec) < 0) {
                perror("attach");
                _exit(1);
            }
        }
        int l = listen_on(api, shm ? "10.99.0.1" : "127.0.0.1", 7002);
        if (write(pipefd[1], "r", 1) != 1)
            _exit(1);
        serve(api, l);
        _exit(0);
    }
    close(pipefd[1]);
    char r;
    if (read(pipefd[0], &r, 1) != 1)
        exit(1);
    const Api& api = shm ? k_ak : k_host;
    if (shm) {
        if (ak_init() != 0)
            exit(1);
        char spec[128];
        snprintf(spec, sizeof spec, "shm:%s,addr=10.99.0.2/24,mtu=65000", bus);
        if (ak_if_attach(spec) < 0) {
            perror("attach");
            exit(1);
        }
    }
    int c = connect_to(api, shm ? "10.99.0.1" : "127.0.0.1", 7002);
    close(report[1]);
    Figures f = client(api, c, seconds);
    double cpu[2];
    if (read(report[0], cpu, sizeof cpu) == sizeof cpu) {
        f.cpu_stream += cpu[0];
        f.cpu_rr += cpu[1];
    }
    waitpid(pid, nullptr, 0);
    unlink(bus);
    return f;
}

} // namespace

int main(int argc, char** argv) {
    double seconds = 2;
    const char* only = nullptr;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds = atof(argv[++i]);
        else if (!strcmp(argv[i], "--only") && i + 1 < argc)
            only = argv[++i];
    }
    signal(SIGPIPE, SIG_IGN);
    // Each measurement in its own process: one kernel per process.
    auto measure = [&](const char* what) -> Figures {
        int p[2];
        if (pipe(p))
            exit(1);
        pid_t pid = fork();
        if (pid == 0) {
            Figures f = !strcmp(what, "loop")  ? run_loop(seconds)
                        : !strcmp(what, "shm") ? run_two(true, seconds)
                                               : run_two(false, seconds);
            if (write(p[1], &f, sizeof f) != sizeof f)
                _exit(1);
            _exit(0);
        }
        close(p[1]);
        Figures f{};
        if (read(p[0], &f, sizeof f) != sizeof f)
            fprintf(stderr, "%s: measurement failed\n", what);
        close(p[0]);
        waitpid(pid, nullptr, 0);
        return f;
    };
    Figures host{}, loop{}, shm{};
    if (!only || !strcmp(only, "host"))
        host = measure("host");
    if (!only || !strcmp(only, "loop"))
        loop = measure("loop");
    if (!only || !strcmp(only, "shm"))
        shm = measure("shm");
    printf("%-44s %10s %14s\n", "TCP, one stream", "Gbit/s", "1-byte RR/s");
    printf("%-44s %10.2f %14.0f\n", "Linux loopback, two host processes", host.gbit, host.tps);
    printf("%-44s %10.2f %14.0f\n", "(a) anykern loopback, one kernel", loop.gbit, loop.tps);
    printf("%-44s %10.2f %14.0f\n", "(b) anykern shm bus, two processes", shm.gbit, shm.tps);
    if (host.gbit > 0) {
        printf("ratios vs Linux: (a) %.2fx throughput, %.2fx RR;  (b) %.2fx throughput, %.2fx RR\n",
               loop.gbit / host.gbit, loop.tps / host.tps, shm.gbit / host.gbit,
               shm.tps / host.tps);
        printf("targets: (a) >= 1.0x, (b) >= 0.5x, RR >= 2x\n");
    }
    // The same work per CPU second, over every thread of both ends: on a
    // shared, loaded machine this varies much less than the rates above.
    auto per_cpu = [](const Figures& f, double& gbit, double& tps) {
        gbit = f.cpu_stream > 0 ? f.bytes * 8 / f.cpu_stream / 1e9 : 0;
        tps = f.cpu_rr > 0 ? f.transactions / f.cpu_rr : 0;
    };
    double hg, ht, lg, lt, sg, st;
    per_cpu(host, hg, ht);
    per_cpu(loop, lg, lt);
    per_cpu(shm, sg, st);
    printf("%-44s %10s %14s\n", "per CPU second (all threads)", "Gbit", "transactions");
    printf("%-44s %10.2f %14.0f\n", "Linux loopback", hg, ht);
    printf("%-44s %10.2f %14.0f\n", "(a) anykern loopback", lg, lt);
    printf("%-44s %10.2f %14.0f\n", "(b) anykern shm bus", sg, st);
    return 0;
}
