// Socket layer, AF_UNIX and poll/select/epoll through the public ak_sys_*
// API of the local client (one kernel per test process).
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <anykern/anykern.h>

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <thread>

namespace {

sockaddr_un abstract_addr(const char* name, socklen_t& len) {
    sockaddr_un a{};
    a.sun_family = AF_UNIX;
    size_t n = strlen(name);
    memcpy(a.sun_path + 1, name, n);
    len = static_cast<socklen_t>(offsetof(sockaddr_un, sun_path) + 1 + n);
    return a;
}

} // namespace

TEST_CASE("socketpair stream: data both ways, EOF after close") {
    int sv[2];
    REQUIRE(ak_sys_socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK(ak_sys_write(sv[0], "hello", 5) == 5);
    char buf[16] = {};
    CHECK(ak_sys_read(sv[1], buf, sizeof buf) == 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK(ak_sys_sendto(sv[1], "back", 4, 0, nullptr, 0) == 4);
    CHECK(ak_sys_recvfrom(sv[0], buf, sizeof buf, 0, nullptr, nullptr) == 4);
    int n = -1;
    CHECK(ak_sys_write(sv[0], "xyz", 3) == 3);
    CHECK(ak_sys_ioctl(sv[1], FIONREAD, &n) == 0);
    CHECK(n == 3);
    CHECK(ak_sys_close(sv[0]) == 0);
    CHECK(ak_sys_read(sv[1], buf, sizeof buf) == 3);
    CHECK(ak_sys_read(sv[1], buf, sizeof buf) == 0);
    CHECK(ak_sys_write(sv[1], "a", 1) == -1);
    CHECK(errno == EPIPE);
    ak_sys_close(sv[1]);
}

TEST_CASE("socketpair datagram keeps message boundaries") {
    int sv[2];
    REQUIRE(ak_sys_socketpair(AF_UNIX, SOCK_DGRAM, 0, sv) == 0);
    CHECK(ak_sys_write(sv[0], "one", 3) == 3);
    CHECK(ak_sys_write(sv[0], "three", 5) == 5);
    char buf[16];
    CHECK(ak_sys_read(sv[1], buf, sizeof buf) == 3);
    CHECK(ak_sys_read(sv[1], buf, 2) == 2); // truncated
    ak_sys_close(sv[0]);
    ak_sys_close(sv[1]);
}

TEST_CASE("abstract stream listen/connect/accept with a blocking accept in a thread") {
    int l = ak_sys_socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(l >= 0);
    socklen_t len;
    sockaddr_un a = abstract_addr("ak-test-stream", len);
    REQUIRE(ak_sys_bind(l, reinterpret_cast<sockaddr*>(&a), len) == 0);
    CHECK(ak_sys_bind(ak_sys_socket(AF_UNIX, SOCK_STREAM, 0), reinterpret_cast<sockaddr*>(&a),
                      len) == -1);
    CHECK(errno == EADDRINUSE);
    REQUIRE(ak_sys_listen(l, 4) == 0);
    int accepted = -1;
    std::thread t([&] { accepted = ak_sys_accept4(l, nullptr, nullptr, 0); });
    int c = ak_sys_socket(AF_UNIX, SOCK_STREAM, 0);
    REQUIRE(ak_sys_connect(c, reinterpret_cast<sockaddr*>(&a), len) == 0);
    t.join();
    REQUIRE(accepted >= 0);
    CHECK(ak_sys_write(c, "ping", 4) == 4);
    char buf[8];
    CHECK(ak_sys_read(accepted, buf, sizeof buf) == 4);
    sockaddr_un peer{};
    socklen_t plen = sizeof peer;
    CHECK(ak_sys_getpeername(c, reinterpret_cast<sockaddr*>(&peer), &plen) == 0);
    CHECK(plen == len);
    ak_sys_close(c);
    ak_sys_close(accepted);
    ak_sys_close(l);
}

TEST_CASE("connect to an unbound name is refused; nonblocking accept is EAGAIN") {
    int c = ak_sys_socket(AF_UNIX, SOCK_STREAM, 0);
    socklen_t len;
    sockaddr_un a = abstract_addr("nobody-here", len);
    CHECK(ak_sys_connect(c, reinterpret_cast<sockaddr*>(&a), len) == -1);
    CHECK(errno == ECONNREFUSED);
    int l = ak_sys_socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_un b = abstract_addr("nb-listener", len);
    REQUIRE(ak_sys_bind(l, reinterpret_cast<sockaddr*>(&b), len) == 0);
    REQUIRE(ak_sys_listen(l, 1) == 0);
    CHECK(ak_sys_accept(l, nullptr, nullptr) == -1);
    CHECK(errno == EAGAIN);
    ak_sys_close(c);
    ak_sys_close(l);
}

TEST_CASE("SO_RCVTIMEO makes a blocking read return EAGAIN") {
    int sv[2];
    REQUIRE(ak_sys_socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    timeval tv{0, 50000};
    REQUIRE(ak_sys_setsockopt(sv[0], SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0);
    char b;
    CHECK(ak_sys_read(sv[0], &b, 1) == -1);
    CHECK(errno == EAGAIN);
    int type = 0;
    socklen_t l = sizeof type;
    CHECK(ak_sys_getsockopt(sv[0], SOL_SOCKET, SO_TYPE, &type, &l) == 0);
    CHECK(type == SOCK_STREAM);
    ak_sys_close(sv[0]);
    ak_sys_close(sv[1]);
}

TEST_CASE("poll and select on pipes and sockets") {
    int p[2];
    REQUIRE(ak_sys_pipe(p) == 0);
    struct pollfd fds[2] = {{p[0], POLLIN, 0}, {p[1], POLLOUT, 0}};
    CHECK(ak_sys_poll(fds, 2, 0) == 1);
    CHECK(fds[1].revents == POLLOUT);
    std::thread t([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        ak_sys_write(p[1], "x", 1);
    });
    struct pollfd in = {p[0], POLLIN, 0};
    CHECK(ak_sys_poll(&in, 1, 5000) == 1);
    CHECK(in.revents == POLLIN);
    t.join();
    fd_set r;
    FD_ZERO(&r);
    FD_SET(p[0], &r);
    timeval tv{1, 0};
    CHECK(ak_sys_select(p[0] + 1, &r, nullptr, nullptr, &tv) == 1);
    CHECK(FD_ISSET(p[0], &r));
    struct pollfd bad = {999, POLLIN, 0};
    CHECK(ak_sys_poll(&bad, 1, 0) == 1);
    CHECK(bad.revents == POLLNVAL);
    struct pollfd none = {p[0], POLLOUT, 0};
    CHECK(ak_sys_poll(&none, 1, 20) == 0);
    ak_sys_close(p[0]);
    ak_sys_close(p[1]);
}

TEST_CASE("epoll: level and edge triggered, removal on close") {
    int ep = ak_sys_epoll_create1(EPOLL_CLOEXEC);
    REQUIRE(ep >= 0);
    int sv[2];
    REQUIRE(ak_sys_socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = 42;
    REQUIRE(ak_sys_epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev) == 0);
    CHECK(ak_sys_epoll_ctl(ep, EPOLL_CTL_ADD, sv[1], &ev) == -1);
    CHECK(errno == EEXIST);
    epoll_event out[4];
    CHECK(ak_sys_epoll_wait(ep, out, 4, 0) == 0);
    std::thread t([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        ak_sys_write(sv[0], "ab", 2);
    });
    CHECK(ak_sys_epoll_wait(ep, out, 4, 5000) == 1);
    uint64_t d = out[0].data.u64;
    CHECK(d == 42);
    t.join();
    // Level-triggered: still readable.
    CHECK(ak_sys_epoll_wait(ep, out, 4, 0) == 1);
    ev.events = EPOLLIN | EPOLLET;
    REQUIRE(ak_sys_epoll_ctl(ep, EPOLL_CTL_MOD, sv[1], &ev) == 0);
    CHECK(ak_sys_epoll_wait(ep, out, 4, 0) == 1);
    CHECK(ak_sys_epoll_wait(ep, out, 4, 0) == 0); // edge consumed
    ak_sys_write(sv[0], "c", 1);
    CHECK(ak_sys_epoll_wait(ep, out, 4, 0) == 1);
    // Closing the last descriptor removes the registration (Linux).
    ak_sys_close(sv[1]);
    CHECK(ak_sys_epoll_ctl(ep, EPOLL_CTL_DEL, sv[1], &ev) == -1);
    ak_sys_close(sv[0]);
    ak_sys_close(ep);
}

int main(int argc, char** argv) {
    if (ak_init() != 0) {
        perror("ak_init");
        return 1;
    }
    doctest::Context ctx(argc, argv);
    return ctx.run();
}
