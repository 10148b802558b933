// Helper for the remote integration tests (tests/remote/test_remote.py):
// scenarios that need the client API directly.
//
//   remote_tool stats URL                 print server statistics (key=value)
//   remote_tool block-read URL            make a kernel pipe, say "blocking", read it
//   remote_tool uid-refused URL UID       as root: connect as UID, expect refusal
//   remote_tool connect URL               connect, getpid, exit 0 (or 1 + errno)
//   remote_tool concurrent URL N          N clients (threads, own sessions) doing mixed calls
//   remote_tool fork-check URL            fork: child sees a copy of the descriptors
#include <anykern/akclient.h>
#include <anykern/anykern.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <string>
#include <vector>

namespace {

int fail(const char* what) {
    fprintf(stderr, "remote_tool: %s: %s\n", what, strerror(errno));
    return 1;
}

int cmd_stats(const char* url) {
    if (akc_connect(url) < 0)
        return fail("connect");
    struct akc_stats s;
    if (akc_stats(&s) < 0)
        return fail("stats");
    // The query's own session is one process and one connection.
    printf("procs=%u\nsessions=%u\nconnections=%u\ntokens=%u\nmem=%llu\n", s.procs, s.sessions,
           s.connections, s.pending_tokens, (unsigned long long)s.mem_in_use);
    return 0;
}

int cmd_block_read(const char* url) {
    if (akc_connect(url) < 0)
        return fail("connect");
    int p[2];
    if (ak_sys_pipe(p) < 0)
        return fail("pipe");
    printf("blocking\n");
    fflush(stdout);
    char c;
    ak_sys_read(p[0], &c, 1); // never returns: killed by the test
    return 2;
}

int cmd_uid_refused(const char* url, const char* uid) {
    pid_t pid = fork();
    if (pid == 0) {
        if (setgid(static_cast<gid_t>(atoi(uid))) < 0 || setuid(static_cast<uid_t>(atoi(uid))) < 0)
            _exit(3);
        int r = akc_connect(url);
        _exit(r == 0 ? 0 : (errno == EACCES ? 10 : 11));
    }
    int st;
    waitpid(pid, &st, 0);
    int code = WIFEXITED(st) ? WEXITSTATUS(st) : 99;
    printf("child exit %d\n", code);
    return code == 10 ? 0 : 1;
}

int cmd_connect(const char* url) {
    if (akc_connect(url) < 0) {
        printf("errno=%d\n", errno);
        return 1;
    }
    printf("kpid=%d\n", ak_sys_getpid());
    return 0;
}

std::atomic<int> g_failures{0};
const char* g_url;

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            fprintf(stderr, "client %d: check failed: %s (line %d, r=%ld)\n", id, #cond, __LINE__, \
                    r);                                                                            \
            g_failures++;                                                                          \
            akc_close(s);                                                                          \
            return nullptr;                                                                        \
        }                                                                                          \
    } while (0)

long call(akc_session* s, long nr, long a0 = 0, long a1 = 0, long a2 = 0, long a3 = 0) {
    long args[6] = {a0, a1, a2, a3, 0, 0};
    return akc_syscall(s, nr, args);
}

void* client_thread(void* arg) {
    int id = static_cast<int>(reinterpret_cast<intptr_t>(arg));
    long r = 0;
    akc_session* s = akc_open(g_url);
    if (!s) {
        fprintf(stderr, "client %d: open: %s\n", id, strerror(errno));
        g_failures++;
        return nullptr;
    }
    std::string dir = "/conc/c" + std::to_string(id);
    r = call(s, AK_SYS_mkdir, reinterpret_cast<long>(dir.c_str()), 0755);
    CHECK(r == 0);
    for (int round = 0; round < 8; round++) {
        std::string file = dir + "/f" + std::to_string(round);
        char data[5000];
        for (size_t i = 0; i < sizeof data; i++)
            data[i] = static_cast<char>('a' + (id + round + i) % 26);
        r = call(s, AK_SYS_open, reinterpret_cast<long>(file.c_str()), O_CREAT | O_RDWR, 0644);
        CHECK(r >= 0);
        long fd = r;
        r = call(s, AK_SYS_write, fd, reinterpret_cast<long>(data), sizeof data);
        CHECK(r == sizeof data);
        char back[5000];
        r = call(s, AK_SYS_pread64, fd, reinterpret_cast<long>(back), sizeof back, 0);
        CHECK(r == sizeof back && memcmp(back, data, sizeof data) == 0);
        struct stat st;
        r = call(s, AK_SYS_fstat, fd, reinterpret_cast<long>(&st));
        CHECK(r == 0 && st.st_size == static_cast<off_t>(sizeof data));
        r = call(s, AK_SYS_close, fd);
        CHECK(r == 0);
        int p[2];
        r = call(s, AK_SYS_pipe2, reinterpret_cast<long>(p), O_CLOEXEC);
        CHECK(r == 0);
        r = call(s, AK_SYS_write, p[1], reinterpret_cast<long>("ping"), 4);
        CHECK(r == 4);
        char pb[8];
        r = call(s, AK_SYS_read, p[0], reinterpret_cast<long>(pb), sizeof pb);
        CHECK(r == 4 && memcmp(pb, "ping", 4) == 0);
        call(s, AK_SYS_close, p[0]);
        call(s, AK_SYS_close, p[1]);
        r = call(s, AK_SYS_getppid);
        CHECK(r == 1);
    }
    r = call(s, AK_SYS_open, reinterpret_cast<long>(dir.c_str()), O_RDONLY | O_DIRECTORY, 0);
    CHECK(r >= 0);
    long dfd = r;
    alignas(8) char buf[4096];
    r = call(s, AK_SYS_getdents64, dfd, reinterpret_cast<long>(buf), sizeof buf);
    CHECK(r > 0);
    int entries = 0;
    for (long off = 0; off < r;) {
        unsigned short reclen;
        memcpy(&reclen, buf + off + 16, sizeof reclen);
        entries++;
        off += reclen;
    }
    CHECK(entries == 10); // . .. f0..f7
    call(s, AK_SYS_close, dfd);
    for (int round = 0; round < 8; round++) {
        std::string file = dir + "/f" + std::to_string(round);
        r = call(s, AK_SYS_unlink, reinterpret_cast<long>(file.c_str()));
        CHECK(r == 0);
    }
    r = call(s, AK_SYS_rmdir, reinterpret_cast<long>(dir.c_str()));
    CHECK(r == 0);
    akc_close(s);
    return nullptr;
}

int cmd_concurrent(const char* url, int n) {
    g_url = url;
    akc_session* s = akc_open(url);
    if (!s)
        return fail("open");
    long args[6] = {reinterpret_cast<long>("/conc"), 0755, 0, 0, 0, 0};
    long r = akc_syscall(s, AK_SYS_mkdir, args);
    if (r < 0 && r != -EEXIST) {
        errno = static_cast<int>(-r);
        return fail("mkdir /conc");
    }
    std::vector<pthread_t> threads(static_cast<size_t>(n));
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setstacksize(&attr, 256 * 1024);
    for (int i = 0; i < n; i++)
        if (pthread_create(&threads[static_cast<size_t>(i)], &attr, client_thread,
                           reinterpret_cast<void*>(static_cast<intptr_t>(i))) != 0)
            return fail("pthread_create");
    for (auto& t : threads)
        pthread_join(t, nullptr);
    r = akc_syscall(s, AK_SYS_rmdir, args);
    if (r < 0) {
        fprintf(stderr, "remote_tool: rmdir /conc: %s\n", strerror(static_cast<int>(-r)));
        g_failures++;
    }
    akc_close(s);
    printf("%d clients, %d failures\n", n, g_failures.load());
    return g_failures.load() ? 1 : 0;
}

int cmd_fork_check(const char* url) {
    if (akc_connect(url) < 0)
        return fail("connect");
    int p[2];
    if (ak_sys_pipe(p) < 0)
        return fail("pipe");
    int parent_kpid = ak_sys_getpid();
    pid_t pid = fork();
    if (pid == 0) {
        // The child is a child kernel process with a copy of the pipe.
        int ok = ak_sys_getppid() == parent_kpid && ak_sys_getpid() != parent_kpid;
        if (ak_sys_write(p[1], "child", 5) != 5)
            ok = 0;
        _exit(ok ? 0 : 1);
    }
    int st;
    waitpid(pid, &st, 0);
    char buf[8] = {};
    long n = ak_sys_read(p[0], buf, sizeof buf - 1);
    bool ok = WIFEXITED(st) && WEXITSTATUS(st) == 0 && n == 5 && !strcmp(buf, "child");
    printf("fork %s\n", ok ? "ok" : "FAILED");
    return ok ? 0 : 1;
}

} // namespace

int main(int argc, char** argv) {
    if (argc < 3) {
        fprintf(stderr, "usage: remote_tool COMMAND URL [ARGS]\n");
        return 2;
    }
    std::string cmd = argv[1];
    const char* url = argv[2];
    if (cmd == "stats")
        return cmd_stats(url);
    if (cmd == "block-read")
        return cmd_block_read(url);
    if (cmd == "uid-refused" && argc == 4)
        return cmd_uid_refused(url, argv[3]);
    if (cmd == "connect")
        return cmd_connect(url);
    if (cmd == "concurrent" && argc == 4)
        return cmd_concurrent(url, atoi(argv[3]));
    if (cmd == "fork-check")
        return cmd_fork_check(url);
    fprintf(stderr, "remote_tool: bad command\n");
    return 2;
}
