// The remote protocol's encoders and decoders: client encoding decodes to
// the same call on the server side, and malformed input is refused.
#include "akproto.h"

#include <anykern/syscalls.h>

#include <doctest/doctest.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stddef.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

using namespace akproto;

namespace {

struct Server {
    std::vector<uint8_t> out = std::vector<uint8_t>(k_max_data + k_scratch_extra);
    std::vector<struct iovec> iov = std::vector<struct iovec>(k_max_iov);
    DecodeScratch scratch() { return {out.data(), out.size(), iov.data()}; }
};

std::vector<uint8_t> encode(long nr, const long args[6], ClientCall& call) {
    std::vector<uint8_t> buf(k_max_body + 8);
    long n = encode_syscall(buf.data(), buf.size(), nr, args, call);
    REQUIRE(n > 0);
    buf.resize(static_cast<size_t>(n));
    return buf;
}

} // namespace

TEST_CASE("open with a path round-trips") {
    long args[6] = {reinterpret_cast<long>("/etc/motd"), O_RDONLY, 0644, 0, 0, 0};
    ClientCall call;
    auto frame = encode(AK_SYS_open, args, call);
    CHECK(call.nout == 0);
    FrameHeader fh;
    memcpy(&fh, frame.data(), sizeof fh);
    CHECK(fh.type == k_msg_syscall);
    CHECK(fh.size == frame.size() - sizeof fh);
    Server s;
    auto sc = s.scratch();
    DecodedCall d;
    CHECK(decode_syscall(frame.data() + 8, fh.size, sc, d) == nullptr);
    CHECK(d.nr == AK_SYS_open);
    CHECK(strcmp(reinterpret_cast<const char*>(d.args[0]), "/etc/motd") == 0);
    CHECK(d.args[1] == O_RDONLY);
    CHECK(d.args[2] == 0644);
}

TEST_CASE("read reply is truncated to the return value") {
    char buf[100];
    memset(buf, 'x', sizeof buf);
    long args[6] = {3, reinterpret_cast<long>(buf), sizeof buf, 0, 0, 0};
    ClientCall call;
    auto frame = encode(AK_SYS_read, args, call);
    REQUIRE(call.nout == 1);
    Server s;
    auto sc = s.scratch();
    DecodedCall d;
    REQUIRE(decode_syscall(frame.data() + 8, frame.size() - 8, sc, d) == nullptr);
    REQUIRE(d.nout == 1);
    CHECK(d.out[0].size == sizeof buf);
    memcpy(d.out[0].data, "hello", 5);
    CHECK(reply_len(d.out[0], 5) == 5);
    CHECK(reply_len(d.out[0], -EIO) == 0);
    // Build the reply as the server does and decode it on the client.
    std::vector<uint8_t> reply;
    int64_t ret = 5;
    uint32_t len = 5;
    reply.insert(reply.end(), reinterpret_cast<uint8_t*>(&ret),
                 reinterpret_cast<uint8_t*>(&ret) + 8);
    reply.insert(reply.end(), reinterpret_cast<uint8_t*>(&len),
                 reinterpret_cast<uint8_t*>(&len) + 4);
    reply.insert(reply.end(), d.out[0].data, d.out[0].data + 5);
    long r;
    CHECK(decode_syscall_reply(reply.data(), reply.size(), call, r) == 0);
    CHECK(r == 5);
    CHECK(memcmp(buf, "hellox", 6) == 0);
    // A reply that claims more than the buffer holds is refused.
    len = 101;
    memcpy(reply.data() + 8, &len, 4);
    CHECK(decode_syscall_reply(reply.data(), reply.size(), call, r) == -EPROTO);
}

TEST_CASE("writev gathers input buffers") {
    char a[] = "abc", b[] = "defgh";
    struct iovec iov[2] = {{a, 3}, {b, 5}};
    long args[6] = {4, reinterpret_cast<long>(iov), 2, 0, 0, 0};
    ClientCall call;
    auto frame = encode(AK_SYS_writev, args, call);
    Server s;
    auto sc = s.scratch();
    DecodedCall d;
    REQUIRE(decode_syscall(frame.data() + 8, frame.size() - 8, sc, d) == nullptr);
    auto* kiov = reinterpret_cast<struct iovec*>(d.args[1]);
    CHECK(kiov[0].iov_len == 3);
    CHECK(memcmp(kiov[0].iov_base, "abc", 3) == 0);
    CHECK(memcmp(kiov[1].iov_base, "defgh", 5) == 0);
}

TEST_CASE("malformed requests are refused without touching memory") {
    Server s;
    auto sc = s.scratch();
    DecodedCall d;
    uint8_t small[4] = {};
    CHECK(decode_syscall(small, sizeof small, sc, d) != nullptr);
    // write with a count that does not match the chunk.
    SyscallHead h{};
    h.nr = AK_SYS_write;
    h.args[0] = 1;
    h.args[1] = 1;
    h.args[2] = 100;
    std::vector<uint8_t> body(sizeof h + 8 + 8);
    memcpy(body.data(), &h, sizeof h);
    uint32_t len = 8;
    memcpy(body.data() + sizeof h, &len, 4);
    CHECK(decode_syscall(body.data(), body.size(), sc, d) != nullptr);
    // read asking for more than the limit.
    h.nr = AK_SYS_read;
    h.args[2] = static_cast<int64_t>(k_max_data) + 1;
    CHECK(decode_syscall(reinterpret_cast<uint8_t*>(&h), sizeof h, sc, d) != nullptr);
    // A string without its terminator.
    h = SyscallHead{};
    h.nr = AK_SYS_unlink;
    h.args[0] = 1;
    uint8_t sbuf[sizeof h + 16];
    memcpy(sbuf, &h, sizeof h);
    uint32_t slen = 8, zero = 0;
    memcpy(sbuf + sizeof h, &slen, 4);
    memcpy(sbuf + sizeof h + 4, &zero, 4);
    memset(sbuf + sizeof h + 8, 'a', 8);
    CHECK(decode_syscall(sbuf, sizeof sbuf, sc, d) != nullptr);
    // Trailing bytes.
    h = SyscallHead{};
    h.nr = AK_SYS_getpid;
    uint8_t tbuf[sizeof h + 8] = {};
    memcpy(tbuf, &h, sizeof h);
    CHECK(decode_syscall(tbuf, sizeof tbuf, sc, d) != nullptr);
    CHECK(decode_syscall(tbuf, sizeof h, sc, d) == nullptr);
}

TEST_CASE("unknown syscalls and ioctls are answered, not sent to the kernel") {
    Server s;
    auto sc = s.scratch();
    DecodedCall d;
    SyscallHead h{};
    h.nr = 9999;
    CHECK(decode_syscall(reinterpret_cast<uint8_t*>(&h), sizeof h, sc, d) == nullptr);
    CHECK(d.early_ret == -ENOSYS);
    h.nr = AK_SYS_ioctl;
    h.args[1] = 0x5412; // TIOCSTI
    h.args[2] = 1;
    CHECK(decode_syscall(reinterpret_cast<uint8_t*>(&h), sizeof h, sc, d) == nullptr);
    CHECK(d.early_ret == -ENOTTY);
    long args[6] = {0, 0x5412, 1, 0, 0, 0};
    ClientCall call;
    uint8_t buf[256];
    CHECK(encode_syscall(buf, sizeof buf, AK_SYS_ioctl, args, call) == -ENOTTY);
}

TEST_CASE("calls that use the caller's memory in place are local only (ENOSYS remotely)") {
    Server s;
    auto sc = s.scratch();
    DecodedCall d;
    uint32_t word = 0;
    for (long nr : {long(AK_SYS_futex), long(AK_SYS_set_robust_list), long(AK_SYS_prctl)}) {
        INFO("syscall ", nr);
        long args[6] = {reinterpret_cast<long>(&word), 0, 0, 0, 0, 0};
        ClientCall call;
        uint8_t buf[256];
        CHECK(encode_syscall(buf, sizeof buf, nr, args, call) == -ENOSYS);
        SyscallHead h{};
        h.nr = static_cast<uint32_t>(nr);
        h.args[0] = 1;
        CHECK(decode_syscall(reinterpret_cast<uint8_t*>(&h), sizeof h, sc, d) == nullptr);
        CHECK(d.early_ret == -ENOSYS);
    }
}

TEST_CASE("terminal ioctls travel with their structures") {
    // TCGETS: the kernel's struct termios (36 bytes) comes back.
    uint8_t termios[36];
    long args[6] = {0, 0x5401, reinterpret_cast<long>(termios), 0, 0, 0};
    ClientCall call;
    uint8_t buf[256];
    CHECK(encode_syscall(buf, sizeof buf, AK_SYS_ioctl, args, call) > 0);
    REQUIRE(call.nout == 1);
    CHECK(call.out[0].size == 36);
    // TIOCSWINSZ: struct winsize (8 bytes) goes out, nothing comes back.
    uint16_t ws[4] = {24, 80, 0, 0};
    long wargs[6] = {0, 0x5414, reinterpret_cast<long>(ws), 0, 0, 0};
    CHECK(encode_syscall(buf, sizeof buf, AK_SYS_ioctl, wargs, call) > 0);
    CHECK(call.nout == 0);
}

TEST_CASE("URLs") {
    Url u;
    CHECK(parse_url("unix:///tmp/a.sock", u) == 0);
    CHECK(u.is_unix);
    CHECK(strcmp(u.path, "/tmp/a.sock") == 0);
    CHECK(parse_url("tcp://127.0.0.1:1234", u) == 0);
    CHECK(!u.is_unix);
    CHECK(strcmp(u.host, "127.0.0.1") == 0);
    CHECK(strcmp(u.port, "1234") == 0);
    CHECK(parse_url("tcp://[::1]:99", u) == 0);
    CHECK(strcmp(u.host, "::1") == 0);
    CHECK(parse_url("unix://relative", u) != 0);
    CHECK(parse_url("tcp://host", u) != 0);
    CHECK(parse_url("tcp://host:12x", u) != 0);
    CHECK(parse_url("http://x", u) != 0);
}

TEST_CASE("secrets compare by content and length") {
    const uint8_t a[] = "secret";
    CHECK(secret_equal(a, 6, reinterpret_cast<const uint8_t*>("secret"), 6));
    CHECK(!secret_equal(a, 6, reinterpret_cast<const uint8_t*>("secreT"), 6));
    CHECK(!secret_equal(a, 6, reinterpret_cast<const uint8_t*>("secre"), 5));
    CHECK(!secret_equal(a, 6, reinterpret_cast<const uint8_t*>("secretsecret"), 12));
    CHECK(!secret_equal(a, 6, nullptr, 0));
    uint8_t bytes[4] = {1, 0xab, 0, 0xff}, back[4];
    char hex[9];
    to_hex(bytes, 4, hex);
    CHECK(strcmp(hex, "01ab00ff") == 0);
    CHECK(from_hex(hex, back, 4));
    CHECK(memcmp(bytes, back, 4) == 0);
    CHECK(!from_hex("01ab00f", back, 4));
    CHECK(!from_hex("01ab00fg", back, 4));
}

// --- Socket calls (msghdr, DEREF lengths, ioctl structures) --------------------

namespace {

// Decode a request as the server does; the caller plays the kernel.
struct Served {
    Server s;
    DecodeScratch sc = s.scratch();
    DecodedCall d;
    std::vector<uint8_t> frame;
    ClientCall call;
    Served(long nr, const long args[6]) {
        frame = encode(nr, args, call);
        REQUIRE(decode_syscall(frame.data() + 8, frame.size() - 8, sc, d) == nullptr);
        CHECK(d.nout == call.nout);
    }
    // Build the reply as ak-server does and decode it into the caller's buffers.
    long reply(long ret) {
        std::vector<uint8_t> body;
        int64_t r64 = ret;
        body.insert(body.end(), reinterpret_cast<uint8_t*>(&r64),
                    reinterpret_cast<uint8_t*>(&r64) + 8);
        for (int i = 0; i < d.nout; i++) {
            uint32_t len = static_cast<uint32_t>(reply_len(d.out[i], ret));
            body.insert(body.end(), reinterpret_cast<uint8_t*>(&len),
                        reinterpret_cast<uint8_t*>(&len) + 4);
            body.insert(body.end(), d.out[i].data, d.out[i].data + len);
        }
        long got = 0;
        REQUIRE(decode_syscall_reply(body.data(), body.size(), call, got) == 0);
        return got;
    }
};

} // namespace

TEST_CASE("accept's address is sized by *addrlen and cut to what the kernel wrote") {
    struct sockaddr_in sin;
    memset(&sin, 0x55, sizeof sin);
    socklen_t len = sizeof sin;
    long args[6] = {3, reinterpret_cast<long>(&sin), reinterpret_cast<long>(&len), 0, 0, 0};
    Served sv(AK_SYS_accept, args);
    REQUIRE(sv.d.nout == 2);
    CHECK(sv.d.out[0].size == sizeof sin);
    // The kernel writes 8 bytes and lowers *addrlen to 8.
    auto* kaddr = reinterpret_cast<uint8_t*>(sv.d.args[1]);
    auto* klen = reinterpret_cast<socklen_t*>(sv.d.args[2]);
    CHECK(*klen == sizeof sin);
    memset(kaddr, 0xab, 8);
    *klen = 8;
    CHECK(reply_len(sv.d.out[0], 4) == 8);
    CHECK(sv.reply(4) == 4);
    CHECK(len == 8);
    auto* u = reinterpret_cast<uint8_t*>(&sin);
    CHECK(u[0] == 0xab);
    CHECK(u[7] == 0xab);
    CHECK(u[8] == 0x55);
}

TEST_CASE("a DEREF size that disagrees with its length argument is refused") {
    char opt[16];
    socklen_t len = sizeof opt;
    long args[6] = {3, 1, 2, reinterpret_cast<long>(opt), reinterpret_cast<long>(&len), 0};
    ClientCall call;
    auto frame = encode(AK_SYS_getsockopt, args, call);
    // The size chunk of optval comes right after the 56-byte head; the
    // optlen chunk (len 4) follows.  Make *optlen say 1 MiB.
    uint32_t big = 1u << 20;
    size_t optlen_data = 8 + 56 + 8 + 8;
    memcpy(frame.data() + optlen_data, &big, 4);
    Server s;
    auto sc = s.scratch();
    DecodedCall d;
    CHECK(decode_syscall(frame.data() + 8, frame.size() - 8, sc, d) != nullptr);
}

TEST_CASE("sendmsg carries name, data and control; recvmsg brings them back") {
    struct sockaddr_in to {};
    to.sin_family = AF_INET;
    to.sin_port = htons(7);
    char a[] = "abc", b[] = "defg";
    struct iovec iov[2] = {{a, 3}, {b, 4}};
    char cbuf[24];
    memset(cbuf, 7, sizeof cbuf);
    struct msghdr m {};
    m.msg_name = &to;
    m.msg_namelen = sizeof to;
    m.msg_iov = iov;
    m.msg_iovlen = 2;
    m.msg_control = cbuf;
    m.msg_controllen = sizeof cbuf;
    long args[6] = {3, reinterpret_cast<long>(&m), 0, 0, 0, 0};
    {
        Served sv(AK_SYS_sendmsg, args);
        CHECK(sv.d.nout == 0);
        auto* km = reinterpret_cast<struct msghdr*>(sv.d.args[1]);
        REQUIRE(km->msg_iovlen == 2);
        CHECK(memcmp(km->msg_iov[0].iov_base, "abc", 3) == 0);
        CHECK(memcmp(km->msg_iov[1].iov_base, "defg", 4) == 0);
        CHECK(km->msg_namelen == sizeof to);
        CHECK(memcmp(km->msg_name, &to, sizeof to) == 0);
        CHECK(km->msg_controllen == sizeof cbuf);
        CHECK(memcmp(km->msg_control, cbuf, sizeof cbuf) == 0);
    }
    char r1[4], r2[8];
    struct iovec riov[2] = {{r1, sizeof r1}, {r2, sizeof r2}};
    struct sockaddr_in from;
    char rc[32];
    struct msghdr rm {};
    rm.msg_name = &from;
    rm.msg_namelen = sizeof from;
    rm.msg_iov = riov;
    rm.msg_iovlen = 2;
    rm.msg_control = rc;
    rm.msg_controllen = sizeof rc;
    long rargs[6] = {3, reinterpret_cast<long>(&rm), 0, 0, 0, 0};
    Served sv(AK_SYS_recvmsg, rargs);
    REQUIRE(sv.d.nout == 6);
    auto* km = reinterpret_cast<struct msghdr*>(sv.d.args[1]);
    memcpy(km->msg_iov[0].iov_base, "ABCD", 4);
    memcpy(km->msg_iov[1].iov_base, "EF", 2);
    memset(km->msg_name, 0x11, sizeof from);
    km->msg_namelen = 16;
    memset(km->msg_control, 0x22, 20);
    km->msg_controllen = 20;
    km->msg_flags = MSG_TRUNC;
    CHECK(sv.reply(6) == 6);
    CHECK(memcmp(r1, "ABCD", 4) == 0);
    CHECK(memcmp(r2, "EF", 2) == 0);
    CHECK(rm.msg_namelen == 16);
    CHECK(rm.msg_controllen == 20);
    CHECK(rm.msg_flags == MSG_TRUNC);
    CHECK(static_cast<uint8_t>(rc[19]) == 0x22);
    CHECK(rm.msg_iov == riov); // the caller's pointers are untouched
    CHECK(rm.msg_control == rc);
}

TEST_CASE("epoll_wait's reply counts 12-byte events, not bytes") {
    struct epoll_event ev[4];
    long args[6] = {5, reinterpret_cast<long>(ev), 4, -1, 0, 0};
    Served sv(AK_SYS_epoll_wait, args);
    REQUIRE(sv.d.nout == 1);
    CHECK(reply_len(sv.d.out[0], 2) == 24);
    CHECK(reply_len(sv.d.out[0], 9) == 48);
}

TEST_CASE("SIOCGIFCONF marshals the nested buffer, cut to the new ifc_len") {
    struct ifreq reqs[4];
    memset(reqs, 0, sizeof reqs);
    struct ifconf ifc {};
    ifc.ifc_len = sizeof reqs;
    ifc.ifc_req = reqs;
    long args[6] = {3, SIOCGIFCONF, reinterpret_cast<long>(&ifc), 0, 0, 0};
    Served sv(AK_SYS_ioctl, args);
    REQUIRE(sv.d.nout == 2);
    auto* kifc = reinterpret_cast<struct ifconf*>(sv.d.args[2]);
    REQUIRE(kifc->ifc_len == int(sizeof reqs));
    REQUIRE(kifc->ifc_req != nullptr);
    strcpy(kifc->ifc_req[0].ifr_name, "lo");
    strcpy(kifc->ifc_req[1].ifr_name, "eth0");
    kifc->ifc_len = 2 * sizeof(struct ifreq);
    CHECK(sv.reply(0) == 0);
    CHECK(ifc.ifc_len == int(2 * sizeof(struct ifreq)));
    CHECK(ifc.ifc_req == reqs);
    CHECK(strcmp(reqs[1].ifr_name, "eth0") == 0);
    // Without a buffer the call asks for the size only.
    struct ifconf q {};
    long qargs[6] = {3, SIOCGIFCONF, reinterpret_cast<long>(&q), 0, 0, 0};
    Served sq(AK_SYS_ioctl, qargs);
    CHECK(sq.d.nout == 1);
}

TEST_CASE("SIOCGIFFLAGS goes in and out; SIOCADDRT carries rt_dev as a string") {
    struct ifreq ifr {};
    strcpy(ifr.ifr_name, "eth0");
    long args[6] = {3, SIOCGIFFLAGS, reinterpret_cast<long>(&ifr), 0, 0, 0};
    {
        Served sv(AK_SYS_ioctl, args);
        REQUIRE(sv.d.nout == 1);
        auto* k = reinterpret_cast<struct ifreq*>(sv.d.args[2]);
        CHECK(strcmp(k->ifr_name, "eth0") == 0);
        k->ifr_flags = IFF_UP;
        sv.reply(0);
        CHECK(ifr.ifr_flags == IFF_UP);
    }
    struct rtentry rt {};
    char dev[] = "eth1";
    rt.rt_dev = dev;
    rt.rt_flags = RTF_UP | RTF_GATEWAY;
    long rargs[6] = {3, SIOCADDRT, reinterpret_cast<long>(&rt), 0, 0, 0};
    Served sv(AK_SYS_ioctl, rargs);
    CHECK(sv.d.nout == 0);
    auto* k = reinterpret_cast<struct rtentry*>(sv.d.args[2]);
    REQUIRE(k->rt_dev != nullptr);
    CHECK(k->rt_dev != dev);
    CHECK(strcmp(k->rt_dev, "eth1") == 0);
    CHECK(k->rt_flags == (RTF_UP | RTF_GATEWAY));
}

// The protocol's structure sizes are the host ABI's.
static_assert(offsetof(struct rtentry, rt_dev) == k_rtentry_dev_off);
static_assert(sizeof(struct rtentry) == k_rtentry_size);
static_assert(sizeof(struct ifreq) == k_ifreq_size);
static_assert(sizeof(struct ifconf) == k_ifconf_size);
static_assert(sizeof(struct msghdr) == k_msghdr_size);
static_assert(offsetof(struct msghdr, msg_namelen) == 8);
static_assert(offsetof(struct msghdr, msg_controllen) == 40);
static_assert(offsetof(struct msghdr, msg_flags) == 48);

TEST_CASE("iov_advance drops written iovecs and trims a partly written one") {
    char a[4], b[6], c[3];
    struct iovec v[3] = {{a, sizeof a}, {b, sizeof b}, {c, sizeof c}};
    struct iovec* iov = v;
    int n = 3;
    akproto::iov_advance(iov, n, 6); // all of a, 2 bytes of b
    CHECK(n == 2);
    CHECK(iov == &v[1]);
    CHECK(iov->iov_base == b + 2);
    CHECK(iov->iov_len == 4);
    akproto::iov_advance(iov, n, 7); // the rest of b and all of c
    CHECK(n == 0);
}

namespace {
// A byte stream handed out a few bytes at a time, then end of stream or an
// error.
struct Trickle {
    std::vector<uint8_t> data;
    size_t pos = 0;
    size_t chunk = 3;
    long at_end = 0; // 0: end of stream, else -errno
    int eintrs = 0;  // -EINTR answers to give first
};
long trickle_read(void* ctx, void* dst, size_t len) {
    auto* t = static_cast<Trickle*>(ctx);
    if (t->eintrs > 0) {
        t->eintrs--;
        return -EINTR;
    }
    if (t->pos == t->data.size())
        return t->at_end;
    size_t n = std::min({len, t->chunk, t->data.size() - t->pos});
    memcpy(dst, t->data.data() + t->pos, n);
    t->pos += n;
    return static_cast<long>(n);
}
void append_frame(Trickle& t, uint16_t type, const char* body) {
    FrameHeader fh{static_cast<uint32_t>(strlen(body)), type, 0};
    auto* p = reinterpret_cast<const uint8_t*>(&fh);
    t.data.insert(t.data.end(), p, p + sizeof fh);
    t.data.insert(t.data.end(), body, body + strlen(body));
}
} // namespace

TEST_CASE("frames are reassembled from a trickling stream, one at a time") {
    Trickle t;
    t.eintrs = 2;
    append_frame(t, k_msg_stats, "first");
    append_frame(t, k_msg_bye, "second frame");
    std::vector<uint8_t> buf(sizeof(FrameHeader) + k_max_body);
    FrameBuffer b{buf.data(), buf.size(), 0};
    FrameHeader fh;
    const char* reason = nullptr;
    REQUIRE(frame_read(b, fh, trickle_read, &t, reason, nullptr) == 1);
    CHECK(fh.type == k_msg_stats);
    CHECK(std::string(reinterpret_cast<char*>(b.buf) + sizeof fh, fh.size) == "first");
    frame_consume(b, fh);
    REQUIRE(frame_read(b, fh, trickle_read, &t, reason, nullptr) == 1);
    CHECK(fh.type == k_msg_bye);
    CHECK(std::string(reinterpret_cast<char*>(b.buf) + sizeof fh, fh.size) == "second frame");
    frame_consume(b, fh);
    CHECK(b.have == 0);
    CHECK(frame_read(b, fh, trickle_read, &t, reason, nullptr) == 0); // orderly end
}

TEST_CASE("truncated, oversized and failing streams are errors") {
    std::vector<uint8_t> buf(sizeof(FrameHeader) + k_max_body);
    FrameHeader fh;
    const char* reason = nullptr;
    int err = 0;
    {
        Trickle t;
        append_frame(t, k_msg_stats, "cut short");
        t.data.resize(t.data.size() - 2);
        FrameBuffer b{buf.data(), buf.size(), 0};
        CHECK(frame_read(b, fh, trickle_read, &t, reason, &err) == -1);
        CHECK(std::string(reason) == "connection closed mid-frame");
    }
    {
        Trickle t;
        FrameHeader big{static_cast<uint32_t>(k_max_body + 1), k_msg_syscall, 0};
        auto* p = reinterpret_cast<const uint8_t*>(&big);
        t.data.assign(p, p + sizeof big);
        FrameBuffer b{buf.data(), buf.size(), 0};
        CHECK(frame_read(b, fh, trickle_read, &t, reason, &err) == -1);
        CHECK(std::string(reason) == "frame over the size limit");
    }
    {
        Trickle t;
        append_frame(t, k_msg_stats, "x");
        t.data.pop_back();
        t.at_end = -ECONNRESET;
        FrameBuffer b{buf.data(), buf.size(), 0};
        CHECK(frame_read(b, fh, trickle_read, &t, reason, &err) == -1);
        CHECK(err == -ECONNRESET);
    }
}

TEST_CASE("a syscall reply gathers the return value and each output slot") {
    uint8_t data[16] = {1, 2, 3, 4, 5, 6, 7, 8};
    DecodedCall call{};
    call.nout = 1;
    call.out[0].data = data;
    call.out[0].size = sizeof data;
    call.out[0].ret_unit = 1; // like read(): only ret bytes are valid
    SyscallReply r;
    build_syscall_reply(call, 5, r);
    REQUIRE(r.niov == 3);
    CHECK(r.head.ret == 5);
    CHECK(r.head.fh.type == k_msg_syscall_reply);
    CHECK(r.lens[0] == 5);
    CHECK(r.iov[2].iov_base == data);
    CHECK(r.iov[2].iov_len == 5);
    CHECK(r.head.fh.size == sizeof(int64_t) + sizeof(uint32_t) + 5);
    build_syscall_reply(call, -EBADF, r); // errors carry no data
    CHECK(r.niov == 2);
    CHECK(r.lens[0] == 0);
    WelcomeBody w = make_welcome(EACCES, 7, nullptr);
    CHECK(w.magic == k_magic);
    CHECK(w.status == EACCES);
    CHECK(w.kpid == 7);
}

namespace {
// A writer that takes at most `chunk` bytes per call, after `eintrs` -EINTR
// answers, and fails with `fail` once `limit` bytes are in.
struct Sink {
    std::vector<uint8_t> got;
    size_t chunk = 3;
    int eintrs = 1;
    size_t limit = SIZE_MAX;
    long fail = 0;
};

long sink_write(void* ctx, struct iovec* iov, int n) {
    auto* s = static_cast<Sink*>(ctx);
    if (s->eintrs > 0) {
        s->eintrs--;
        return -EINTR;
    }
    if (s->got.size() >= s->limit)
        return s->fail;
    size_t done = 0;
    for (int i = 0; i < n && done < s->chunk; i++) {
        size_t take = std::min(iov[i].iov_len, s->chunk - done);
        auto* p = static_cast<const uint8_t*>(iov[i].iov_base);
        s->got.insert(s->got.end(), p, p + take);
        done += take;
        if (take < iov[i].iov_len)
            break;
    }
    return static_cast<long>(done);
}
} // namespace

TEST_CASE("frame_write sends the header and body through partial writes and EINTR") {
    Sink s;
    const char body[] = "0123456789";
    REQUIRE(frame_write(k_msg_status, body, 10, sink_write, &s));
    REQUIRE(s.got.size() == sizeof(FrameHeader) + 10);
    FrameHeader fh;
    memcpy(&fh, s.got.data(), sizeof fh);
    CHECK(fh.size == 10);
    CHECK(fh.type == k_msg_status);
    CHECK(memcmp(s.got.data() + sizeof fh, body, 10) == 0);
    // An empty body is a header alone.
    Sink e;
    CHECK(frame_write(k_msg_bye, nullptr, 0, sink_write, &e));
    CHECK(e.got.size() == sizeof(FrameHeader));
}

TEST_CASE("write_all stops at an error or a write of nothing") {
    char a[8] = {}, b[8] = {};
    for (long fail : {long{-EPIPE}, 0L}) {
        struct iovec v[2] = {{a, sizeof a}, {b, sizeof b}};
        Sink s;
        s.limit = 6;
        s.fail = fail;
        CHECK_FALSE(write_all(v, 2, sink_write, &s));
        CHECK(s.got.size() == 6);
    }
}
