// ak_fini (ak_kern_shutdown) gives TCP connections up to tcp_drain_ms to
// deliver what the application wrote: it returns at once when nothing is
// undelivered and waits (bounded) while a peer's zero window holds data back.
#include <anykern/anykern.h>
#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

namespace {

double now_s() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return double(ts.tv_sec) + double(ts.tv_nsec) / 1e9;
}

// A connected pair over the kernel's loopback; the receiver's buffer is small.
void connected_pair(int& client, int& server) {
    int l = ak_sys_socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(l >= 0);
    struct sockaddr_in a {};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    REQUIRE(ak_sys_bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(ak_sys_listen(l, 1) == 0);
    REQUIRE(ak_sys_getsockname(l, reinterpret_cast<sockaddr*>(&a), &len) == 0);
    client = ak_sys_socket(AF_INET, SOCK_STREAM, 0);
    REQUIRE(ak_sys_connect(client, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    server = ak_sys_accept(l, nullptr, nullptr);
    REQUIRE(server >= 0);
    ak_sys_close(l);
}

} // namespace

TEST_CASE("shutdown waits for undelivered TCP data, within tcp_drain_ms") {
    setenv("AK_TCP_DRAIN_MS", "400", 1);
    REQUIRE(ak_init() == 0);

    int c, s;
    connected_pair(c, s);
    static char buf[1 << 16];
    memset(buf, 'x', sizeof buf);
    REQUIRE(ak_sys_write(c, buf, sizeof buf) == sizeof buf);
    char got[sizeof buf];
    size_t have = 0;
    while (have < sizeof buf) {
        long r = ak_sys_read(s, got + have, sizeof got - have);
        REQUIRE(r > 0);
        have += size_t(r);
    }
    double t0 = now_s();
    CHECK(ak_fini() == 0); // everything was delivered: no waiting
    CHECK(now_s() - t0 < 0.3);

    // The reader stops reading: its window closes and data stays queued on
    // the sending side.
    REQUIRE(ak_sys_fcntl(c, F_SETFL, O_NONBLOCK) == 0);
    long queued = 0;
    for (;;) {
        long w = ak_sys_write(c, buf, sizeof buf);
        if (w < 0) {
            CHECK(errno == EAGAIN);
            break;
        }
        queued += w;
    }
    CHECK(queued > 0);
    t0 = now_s();
    CHECK(ak_fini() == 0);
    double waited = now_s() - t0;
    CHECK(waited >= 0.35); // it waited for the data ...
    CHECK(waited < 5.0);   // ... but not for ever
    ak_sys_close(c);
    ak_sys_close(s);
}
