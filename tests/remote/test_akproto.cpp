// The remote protocol's encoders and decoders: client encoding decodes to
// the same call on the server side, and malformed input is refused.
#include "akproto.h"

#include <anykern/syscalls.h>

#include <doctest/doctest.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>

#include <vector>

using namespace akproto;

namespace {

struct Server {
    std::vector<uint8_t> out = std::vector<uint8_t>(k_max_data + 64);
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
    h.args[1] = 0x5401; // TCGETS
    h.args[2] = 1;
    CHECK(decode_syscall(reinterpret_cast<uint8_t*>(&h), sizeof h, sc, d) == nullptr);
    CHECK(d.early_ret == -ENOTTY);
    long args[6] = {0, 0x5401, 1, 0, 0, 0};
    ClientCall call;
    uint8_t buf[256];
    CHECK(encode_syscall(buf, sizeof buf, AK_SYS_ioctl, args, call) == -ENOTTY);
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
