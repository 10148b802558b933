// Descriptor tables: dup family, fcntl, close-on-exec, limits, pipes.
#include "helpers.h"

#include <atomic>
#include <doctest/doctest.h>
#include <string.h>
#include <thread>

TEST_CASE("dup, dup2, dup3 share the file offset") {
    std::string f = scratch("dup") + "/f";
    REQUIRE(put_file(f, "abcdef"));
    int fd = ak_sys_open(f.c_str(), O_RDONLY, 0);
    REQUIRE(fd >= 0);
    int d1 = ak_sys_dup(fd);
    REQUIRE(d1 > fd);
    char c;
    REQUIRE(ak_sys_read(fd, &c, 1) == 1);
    REQUIRE(ak_sys_read(d1, &c, 1) == 1);
    CHECK(c == 'b');
    CHECK(ak_sys_dup2(fd, 100) == 100);
    CHECK(ak_sys_read(100, &c, 1) == 1);
    CHECK(c == 'c');
    CHECK(ak_sys_dup2(fd, fd) == fd);
    CHECK(err(ak_sys_dup3(fd, fd, 0)) == EINVAL);
    CHECK(err(ak_sys_dup3(fd, 101, O_NONBLOCK)) == EINVAL);
    CHECK(ak_sys_dup3(fd, 101, O_CLOEXEC) == 101);
    CHECK(ak_sys_fcntl(101, F_GETFD, 0) == FD_CLOEXEC);
    CHECK(ak_sys_fcntl(100, F_GETFD, 0) == 0);
    CHECK(err(ak_sys_dup2(999, 5)) == EBADF);
    CHECK(err(ak_sys_dup2(fd, -1)) == EBADF);
    CHECK(err(ak_sys_dup2(fd, 1 << 20)) == EBADF);
    for (int x : {fd, d1, 100, 101})
        CHECK(ak_sys_close(x) == 0);
    CHECK(err(ak_sys_close(fd)) == EBADF);
    CHECK(err(ak_sys_close(-1)) == EBADF);
}

TEST_CASE("fcntl") {
    std::string f = scratch("fcntl") + "/f";
    REQUIRE(put_file(f, "x"));
    int fd = ak_sys_open(f.c_str(), O_RDWR, 0);
    REQUIRE(fd >= 0);
    int g = ak_sys_fcntl(fd, F_DUPFD, 50);
    CHECK(g == 50);
    int h = ak_sys_fcntl(fd, F_DUPFD_CLOEXEC, 50);
    CHECK(h == 51);
    CHECK(ak_sys_fcntl(h, F_GETFD, 0) == FD_CLOEXEC);
    CHECK(ak_sys_fcntl(h, F_SETFD, 0) == 0);
    CHECK(ak_sys_fcntl(h, F_GETFD, 0) == 0);
    int fl = ak_sys_fcntl(fd, F_GETFL, 0);
    CHECK((fl & O_ACCMODE) == O_RDWR);
    CHECK(ak_sys_fcntl(fd, F_SETFL, O_APPEND | O_NONBLOCK | O_RDONLY) == 0);
    fl = ak_sys_fcntl(fd, F_GETFL, 0);
    CHECK((fl & O_ACCMODE) == O_RDWR); // access mode cannot change
    CHECK((fl & O_APPEND) != 0);
    CHECK((fl & O_NONBLOCK) != 0);
    CHECK(err(ak_sys_fcntl(fd, 12345, 0)) == EINVAL);
    CHECK(err(ak_sys_fcntl(fd, F_DUPFD, -1)) == EINVAL);
    CHECK(err(ak_sys_fcntl(777, F_GETFD, 0)) == EBADF);
    for (int x : {fd, g, h})
        ak_sys_close(x);
}

TEST_CASE("EMFILE at the descriptor limit, and recovery") {
    std::string f = scratch("emfile") + "/f";
    REQUIRE(put_file(f, ""));
    std::vector<int> fds;
    int fd;
    while ((fd = ak_sys_open(f.c_str(), O_RDONLY, 0)) >= 0)
        fds.push_back(fd);
    CHECK(errno == EMFILE);
    CHECK(fds.size() >= 1000);
    CHECK(fds.size() <= 1024);
    CHECK(err(ak_sys_dup(fds[0])) == EMFILE);
    for (int x : fds)
        ak_sys_close(x);
    fd = ak_sys_open(f.c_str(), O_RDONLY, 0);
    CHECK(fd >= 0);
    ak_sys_close(fd);
}

TEST_CASE("pipes: data, EOF, EPIPE, nonblocking, blocking across threads") {
    kernel_up();
    int p[2];
    REQUIRE(ak_sys_pipe2(p, O_CLOEXEC) == 0);
    CHECK(ak_sys_fcntl(p[0], F_GETFD, 0) == FD_CLOEXEC);
    CHECK(ak_sys_write(p[1], "ping", 4) == 4);
    char buf[16];
    CHECK(ak_sys_read(p[0], buf, sizeof buf) == 4);
    CHECK(memcmp(buf, "ping", 4) == 0);
    struct stat st;
    REQUIRE(ak_sys_fstat(p[0], &st) == 0);
    CHECK(S_ISFIFO(st.st_mode));
    CHECK(err(ak_sys_lseek(p[0], 0, SEEK_SET)) == ESPIPE);
    CHECK(err(ak_sys_pread64(p[0], buf, 1, 0)) == ESPIPE);
    CHECK(err(ak_sys_write(p[0], "x", 1)) == EBADF);
    // A reader blocks until a writer in another thread writes.
    std::thread writer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ak_sys_write(p[1], "late", 4);
    });
    CHECK(ak_sys_read(p[0], buf, sizeof buf) == 4);
    writer.join();
    // Nonblocking read of an empty pipe.
    REQUIRE(ak_sys_fcntl(p[0], F_SETFL, O_NONBLOCK) == 0);
    CHECK(err(ak_sys_read(p[0], buf, sizeof buf)) == EAGAIN);
    // Fill to capacity with a nonblocking writer.
    REQUIRE(ak_sys_fcntl(p[1], F_SETFL, O_NONBLOCK) == 0);
    std::vector<char> big(100000, 'z');
    long n = ak_sys_write(p[1], big.data(), big.size());
    CHECK(n == 65536);
    CHECK(err(ak_sys_write(p[1], "y", 1)) == EAGAIN);
    ak_sys_close(p[0]);
    CHECK(err(ak_sys_write(p[1], "y", 1)) == EPIPE);
    ak_sys_close(p[1]);
    int q[2];
    REQUIRE(ak_sys_pipe(q) == 0);
    ak_sys_close(q[1]);
    CHECK(ak_sys_read(q[0], buf, sizeof buf) == 0); // EOF
    ak_sys_close(q[0]);
    CHECK(err(ak_sys_pipe2(q, 0x12345)) == EINVAL);
}

TEST_CASE("many threads in the kernel at once") {
    std::string d = scratch("threads");
    std::vector<std::thread> ts;
    std::atomic<int> failures{0};
    for (int t = 0; t < 8; t++) {
        ts.emplace_back([&, t] {
            for (int i = 0; i < 200; i++) {
                std::string f = d + "/t" + std::to_string(t) + "-" + std::to_string(i % 10);
                if (!put_file(f, std::to_string(i)))
                    failures++;
                if (get_file(f) != std::to_string(i))
                    failures++;
                if (i % 3 == 0 && ak_sys_unlink(f.c_str()) < 0)
                    failures++;
            }
        });
    }
    for (auto& t : ts)
        t.join();
    CHECK(failures == 0);
}
