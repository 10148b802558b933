// TCP/IP over the kernel's loopback through the public ak_sys_* API.
#define DOCTEST_CONFIG_IMPLEMENT
#include <doctest/doctest.h>

#include <anykern/anykern.h>
#include <anykern/kern.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <netinet/ip_icmp.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <thread>
#include <unistd.h>
#include <vector>

namespace {

sockaddr_in loopback(uint16_t port) {
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    return a;
}

int listener(uint16_t port) {
    int l = ak_sys_socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ak_sys_setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    sockaddr_in a = loopback(port);
    if (ak_sys_bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0)
        return -1;
    if (ak_sys_listen(l, 128) != 0)
        return -1;
    return l;
}

int connect_to(uint16_t port) {
    int c = ak_sys_socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = loopback(port);
    if (ak_sys_connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) != 0) {
        ak_sys_close(c);
        return -1;
    }
    return c;
}

bool read_full(int fd, void* buf, size_t n) {
    size_t got = 0;
    while (got < n) {
        long r = ak_sys_read(fd, static_cast<char*>(buf) + got, n - got);
        if (r <= 0)
            return false;
        got += static_cast<size_t>(r);
    }
    return true;
}

} // namespace

TEST_CASE("TCP over loopback: connect, transfer 8 MiB both checked, orderly close") {
    int l = listener(5001);
    REQUIRE(l >= 0);
    const size_t total = 8 << 20;
    std::vector<unsigned char> data(total);
    for (size_t i = 0; i < total; i++)
        data[i] = static_cast<unsigned char>(i * 7 + (i >> 12));
    std::vector<unsigned char> got(total);
    bool server_ok = false;
    std::thread srv([&] {
        sockaddr_in peer{};
        socklen_t plen = sizeof peer;
        int s = ak_sys_accept(l, reinterpret_cast<sockaddr*>(&peer), &plen);
        if (s < 0)
            return;
        server_ok = read_full(s, got.data(), total);
        char extra;
        server_ok = server_ok && ak_sys_read(s, &extra, 1) == 0; // EOF
        ak_sys_write(s, "done", 4);
        ak_sys_close(s);
    });
    int c = connect_to(5001);
    REQUIRE(c >= 0);
    size_t sent = 0;
    while (sent < total) {
        long w = ak_sys_write(c, data.data() + sent, total - sent);
        REQUIRE(w > 0);
        sent += static_cast<size_t>(w);
    }
    REQUIRE(ak_sys_shutdown(c, SHUT_WR) == 0);
    char reply[8] = {};
    CHECK(read_full(c, reply, 4));
    CHECK(memcmp(reply, "done", 4) == 0);
    srv.join();
    CHECK(server_ok);
    CHECK(got == data);
    ak_sys_close(c);
    ak_sys_close(l);
}

TEST_CASE("TCP connect to a closed port is refused; nonblocking connect completes via poll") {
    int c = ak_sys_socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a = loopback(1);
    CHECK(ak_sys_connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a) == -1);
    CHECK(errno == ECONNREFUSED);
    ak_sys_close(c);

    int l = listener(5002);
    REQUIRE(l >= 0);
    int n = ak_sys_socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
    sockaddr_in b = loopback(5002);
    int r = ak_sys_connect(n, reinterpret_cast<sockaddr*>(&b), sizeof b);
    CHECK((r == 0 || errno == EINPROGRESS));
    pollfd p{n, POLLOUT, 0};
    CHECK(ak_sys_poll(&p, 1, 2000) == 1);
    int err = -1;
    socklen_t el = sizeof err;
    CHECK(ak_sys_getsockopt(n, SOL_SOCKET, SO_ERROR, &err, &el) == 0);
    CHECK(err == 0);
    int s = ak_sys_accept4(l, nullptr, nullptr, SOCK_NONBLOCK);
    CHECK(s >= 0);
    char buf[4];
    CHECK(ak_sys_read(s, buf, sizeof buf) == -1);
    CHECK(errno == EAGAIN);
    int one = 1;
    CHECK(ak_sys_setsockopt(n, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) == 0);
    CHECK(ak_sys_write(n, "x", 1) == 1);
    pollfd ps{s, POLLIN, 0};
    CHECK(ak_sys_poll(&ps, 1, 2000) == 1);
    CHECK(ak_sys_read(s, buf, sizeof buf) == 1);
    ak_sys_close(s);
    ak_sys_close(n);
    ak_sys_close(l);
}

TEST_CASE("UDP echo over loopback, port unreachable reported to a connected socket") {
    int s = ak_sys_socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a = loopback(6000);
    REQUIRE(ak_sys_bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    int c = ak_sys_socket(AF_INET, SOCK_DGRAM, 0);
    CHECK(ak_sys_sendto(c, "hello", 5, 0, reinterpret_cast<sockaddr*>(&a), sizeof a) == 5);
    char buf[16];
    sockaddr_in from{};
    socklen_t fl = sizeof from;
    CHECK(ak_sys_recvfrom(s, buf, sizeof buf, 0, reinterpret_cast<sockaddr*>(&from), &fl) == 5);
    CHECK(from.sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    CHECK(ak_sys_sendto(s, buf, 5, 0, reinterpret_cast<sockaddr*>(&from), fl) == 5);
    CHECK(ak_sys_recvfrom(c, buf, sizeof buf, 0, nullptr, nullptr) == 5);
    sockaddr_in closed = loopback(6001);
    int u = ak_sys_socket(AF_INET, SOCK_DGRAM, 0);
    REQUIRE(ak_sys_connect(u, reinterpret_cast<sockaddr*>(&closed), sizeof closed) == 0);
    CHECK(ak_sys_sendto(u, "x", 1, 0, nullptr, 0) == 1);
    timeval tv{1, 0};
    ak_sys_setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    CHECK(ak_sys_recvfrom(u, buf, sizeof buf, 0, nullptr, nullptr) == -1);
    CHECK(errno == ECONNREFUSED);
    ak_sys_close(u);
    ak_sys_close(c);
    ak_sys_close(s);
}

TEST_CASE("ping socket gets an echo reply from 127.0.0.1") {
    int s = ak_sys_socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    REQUIRE(s >= 0);
    unsigned char pkt[16] = {ICMP_ECHO, 0, 0, 0, 0, 0, 0, 1, 'a', 'b'};
    sockaddr_in a = loopback(0);
    CHECK(ak_sys_sendto(s, pkt, sizeof pkt, 0, reinterpret_cast<sockaddr*>(&a), sizeof a) == 16);
    unsigned char r[64];
    timeval tv{2, 0};
    ak_sys_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    CHECK(ak_sys_recvfrom(s, r, sizeof r, 0, nullptr, nullptr) == 16);
    CHECK(r[0] == ICMP_ECHOREPLY);
    ak_sys_close(s);
}

TEST_CASE("interface ioctls: SIOCGIFCONF, flags, address, MTU, index; routes") {
    int s = ak_sys_socket(AF_INET, SOCK_DGRAM, 0);
    ifreq reqs[8];
    ifconf ifc{};
    ifc.ifc_len = sizeof reqs;
    ifc.ifc_req = reqs;
    REQUIRE(ak_sys_ioctl(s, SIOCGIFCONF, &ifc) == 0);
    CHECK(ifc.ifc_len >= static_cast<int>(sizeof(ifreq)));
    CHECK(strcmp(reqs[0].ifr_name, "lo") == 0);
    ifreq r{};
    strcpy(r.ifr_name, "lo");
    REQUIRE(ak_sys_ioctl(s, SIOCGIFFLAGS, &r) == 0);
    CHECK((r.ifr_flags & IFF_UP));
    CHECK((r.ifr_flags & IFF_LOOPBACK));
    REQUIRE(ak_sys_ioctl(s, SIOCGIFMTU, &r) == 0);
    CHECK(r.ifr_mtu == 65536);
    REQUIRE(ak_sys_ioctl(s, SIOCGIFINDEX, &r) == 0);
    CHECK(r.ifr_ifindex == 1);
    REQUIRE(ak_sys_ioctl(s, SIOCGIFADDR, &r) == 0);
    CHECK(reinterpret_cast<sockaddr_in*>(&r.ifr_addr)->sin_addr.s_addr == htonl(INADDR_LOOPBACK));
    strcpy(r.ifr_name, "nope0");
    CHECK(ak_sys_ioctl(s, SIOCGIFFLAGS, &r) == -1);
    CHECK(errno == ENODEV);
    rtentry rt{};
    auto* dst = reinterpret_cast<sockaddr_in*>(&rt.rt_dst);
    auto* mask = reinterpret_cast<sockaddr_in*>(&rt.rt_genmask);
    dst->sin_family = mask->sin_family = AF_INET;
    dst->sin_addr.s_addr = htonl(0x0a630000);
    mask->sin_addr.s_addr = htonl(0xffff0000);
    char lo[] = "lo";
    rt.rt_dev = lo;
    rt.rt_flags = RTF_UP;
    CHECK(ak_sys_ioctl(s, SIOCADDRT, &rt) == 0);
    CHECK(ak_sys_ioctl(s, SIOCDELRT, &rt) == 0);
    CHECK(ak_sys_ioctl(s, SIOCDELRT, &rt) == -1);
    ak_sys_close(s);
}

// Bug: a zero-window probe the receiver accepted (its window had opened a
// little without an update) was acknowledged beyond SND.MAX; the sender
// took every later ACK for an out-of-range one (RFC 5961 §5.2) and the
// connection stalled for good.
TEST_CASE("zero-window probe accepted by the receiver: the transfer goes on") {
    int l = ak_sys_socket(AF_INET, SOCK_STREAM, 0);
    int small = 4096;
    REQUIRE(ak_sys_setsockopt(l, SOL_SOCKET, SO_RCVBUF, &small, sizeof small) == 0);
    sockaddr_in a = loopback(7407);
    REQUIRE(ak_sys_bind(l, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(ak_sys_listen(l, 4) == 0);
    int c = connect_to(7407);
    REQUIRE(c >= 0);
    int s = ak_sys_accept(l, nullptr, nullptr);
    REQUIRE(s >= 0);
    timeval tv{5, 0};
    ak_sys_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    constexpr size_t k_total = 256 * 1024;
    std::vector<uint8_t> out(k_total), in(k_total);
    for (size_t i = 0; i < k_total; i++)
        out[i] = uint8_t(i * 7 + (i >> 9));
    std::thread writer([&] {
        size_t put = 0;
        while (put < k_total) {
            long n = ak_sys_write(c, out.data() + put, k_total - put);
            if (n <= 0)
                break;
            put += size_t(n);
        }
    });
    usleep(200000); // the receive buffer fills, the window closes
    // Read less than an MSS: the window opens without an update, so the
    // next persist probe is accepted.
    REQUIRE(ak_sys_read(s, in.data(), 100) == 100);
    usleep(1500000);
    CHECK(read_full(s, in.data() + 100, k_total - 100));
    CHECK(memcmp(in.data(), out.data(), k_total) == 0);
    writer.join();
    ak_sys_close(c);
    ak_sys_close(s);
    ak_sys_close(l);
}

TEST_CASE("10000 loopback connections (400 open at a time) close with no memory lost") {
    struct ak_kern_memstats before {};
    ak_kern_memstats(&before);
    int l = listener(5003);
    REQUIRE(l >= 0);
    const int batch = 400; // the descriptor table holds 1024
    for (int round = 0; round < 25; round++) {
        std::vector<int> cs, ss;
        for (int i = 0; i < batch; i++) {
            int c = connect_to(5003);
            REQUIRE(c >= 0);
            int s = ak_sys_accept(l, nullptr, nullptr);
            REQUIRE(s >= 0);
            cs.push_back(c);
            ss.push_back(s);
        }
        for (int i = 0; i < batch; i++) {
            CHECK(ak_sys_write(cs[i], "q", 1) == 1);
            char b;
            CHECK(ak_sys_read(ss[i], &b, 1) == 1);
            ak_sys_close(cs[i]);
            ak_sys_close(ss[i]);
        }
    }
    ak_sys_close(l);
    // TIME_WAIT lasts 2 * tcp_msl_ms (set to 100 ms for this test).
    struct ak_kern_memstats after {};
    for (int i = 0; i < 200; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ak_kern_memstats(&after);
        if (after.allocations <= before.allocations + 8)
            break;
    }
    CHECK(after.allocations <= before.allocations + 8);
}

TEST_CASE("10000 loopback connections open at once, spread over processes, then all closed") {
    // 20 000 sockets: ten kernel processes with RLIMIT_NOFILE raised to
    // 4096 each hold a listener, 1000 client ends and 1000 server ends.
    struct ak_kern_memstats before {};
    ak_kern_memstats(&before);
    const int nproc = 10, per = 1000;
    int parent = ak_sys_getpid();
    std::vector<int> pids;
    std::vector<std::vector<int>> cs(nproc), ss(nproc);
    std::vector<int> ls(nproc, -1);
    int opened = 0;
    for (int p = 0; p < nproc; p++) {
        int pid = ak_proc_create(0);
        REQUIRE(pid > 0);
        pids.push_back(pid);
        REQUIRE(ak_proc_switch(pid) == 0);
        struct rlimit rl {4096, 4096};
        REQUIRE(ak_sys_setrlimit(RLIMIT_NOFILE, &rl) == 0);
        ls[p] = listener(static_cast<uint16_t>(5100 + p));
        REQUIRE(ls[p] >= 0);
        for (int i = 0; i < per; i++) {
            int c = connect_to(static_cast<uint16_t>(5100 + p));
            REQUIRE(c >= 0);
            int s = ak_sys_accept(ls[p], nullptr, nullptr);
            REQUIRE(s >= 0);
            cs[p].push_back(c);
            ss[p].push_back(s);
            opened++;
        }
        REQUIRE(ak_proc_switch(parent) == 0);
    }
    CHECK(opened == 10000);
    struct ak_kern_memstats open {};
    ak_kern_memstats(&open);
    MESSAGE("kernel memory with 10000 connections open: "
            << (open.in_use - before.in_use) / 1024 << " KiB (" << (open.in_use - before.in_use) / 20000
            << " bytes per socket), within the limit of " << open.limit / (1024 * 1024) << " MiB");
    CHECK(open.limit == size_t(128) << 20);
    CHECK(open.in_use < open.limit);
    CHECK(open.failures == before.failures);
    // Every connection still works: one byte each way.
    int working = 0;
    for (int p = 0; p < nproc; p++) {
        REQUIRE(ak_proc_switch(pids[p]) == 0);
        for (int i = 0; i < per; i++) {
            char b = 0;
            if (ak_sys_write(cs[p][i], "a", 1) == 1 && ak_sys_read(ss[p][i], &b, 1) == 1 &&
                b == 'a' && ak_sys_write(ss[p][i], "b", 1) == 1 &&
                ak_sys_read(cs[p][i], &b, 1) == 1 && b == 'b')
                working++;
        }
        for (int i = 0; i < per; i++) {
            ak_sys_close(cs[p][i]);
            ak_sys_close(ss[p][i]);
        }
        ak_sys_close(ls[p]);
        REQUIRE(ak_proc_release() == 0);
        REQUIRE(ak_proc_switch(parent) == 0);
    }
    CHECK(working == 10000);
    struct ak_kern_memstats after {};
    for (int i = 0; i < 200; i++) {
        std::this_thread::sleep_for(std::chrono::milliseconds(50));
        ak_kern_memstats(&after);
        if (after.allocations <= before.allocations + 8)
            break;
    }
    CHECK(after.allocations <= before.allocations + 8);
}

int main(int argc, char** argv) {
    ak_setparam("tcp_msl_ms", "50");
    ak_setparam("memlimit", "128m"); // the kernel's whole budget in these tests
    if (ak_init() != 0) {
        perror("ak_init");
        return 1;
    }
    doctest::Context ctx(argc, argv);
    return ctx.run();
}
