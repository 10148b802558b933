// The check of a table system call's pointer arguments against the
// process's map (components/exec/uaccess.cpp), on the host: the "user"
// memory is a host buffer whose pages the map describes, so every check
// that passes may really be read.
#include "process.h"

#include <ak/abi/net.h>

#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>

using namespace ak::exec;

namespace {

constexpr uint64_t P = 4096;

// Pages 0-1 read-write, page 2 read-only, page 3 not mapped.
struct Fixture {
    ExecProc p;
    uint8_t* mem;
    Fixture() {
        mem = static_cast<uint8_t*>(std::aligned_alloc(P, 4 * P));
        std::memset(mem, 'a', 4 * P);
        ak::MutexGuard g(p.lock);
        VmRegion rw;
        rw.start = addr(0);
        rw.end = addr(2 * P);
        rw.prot = k_prot_read | k_prot_write;
        REQUIRE(p.map.insert(ak::move(rw)).ok());
        VmRegion ro;
        ro.start = addr(2 * P);
        ro.end = addr(3 * P);
        ro.prot = k_prot_read;
        REQUIRE(p.map.insert(ak::move(ro)).ok());
    }
    ~Fixture() {
        {
            ak::MutexGuard g(p.lock);
            p.map.clear();
        }
        std::free(mem);
    }
    uint64_t addr(uint64_t off) const { return reinterpret_cast<uint64_t>(mem) + off; }
    bool ok(long nr, uint64_t a0 = 0, uint64_t a1 = 0, uint64_t a2 = 0, uint64_t a3 = 0,
            uint64_t a4 = 0, uint64_t a5 = 0) {
        const uint64_t a[6] = {a0, a1, a2, a3, a4, a5};
        return syscall_args_ok(p, nr, a);
    }
};

constexpr long k_read = 0, k_write = 1, k_stat = 4, k_ioctl = 16, k_readv = 19, k_accept = 43,
               k_sendmsg = 46, k_futex = 202, k_epoll_wait = 232, k_nanosleep = 35,
               k_rt_sigaction = 13;

} // namespace

TEST_CASE("buffers: reads need writable memory, writes readable memory") {
    Fixture f;
    CHECK(f.ok(k_read, 0, f.addr(0), 100));
    CHECK(f.ok(k_read, 0, f.addr(0), 2 * P));
    CHECK_FALSE(f.ok(k_read, 0, f.addr(2 * P), 10));       // read-only page
    CHECK_FALSE(f.ok(k_read, 0, f.addr(2 * P - 10), 20));  // runs into it
    CHECK_FALSE(f.ok(k_read, 0, 0, 10));                   // NULL
    CHECK(f.ok(k_read, 0, 0, 0));                          // nothing to touch
    CHECK_FALSE(f.ok(k_read, 0, f.addr(0), ~uint64_t(0))); // no such buffer
    CHECK(f.ok(k_write, 1, f.addr(2 * P), P));             // read-only is readable
    CHECK_FALSE(f.ok(k_write, 1, f.addr(2 * P), P + 1));   // the unmapped page
    CHECK_FALSE(f.ok(k_write, 1, 0x100000, 5));            // not user memory at all
    CHECK(f.ok(k_nanosleep, f.addr(0), 0));                // rem may be NULL
    CHECK_FALSE(f.ok(k_nanosleep, 0, 0));                  // req may not
    CHECK(f.ok(k_rt_sigaction, 10, 0, 0, 8));              // both sigactions NULL
    CHECK_FALSE(f.ok(k_rt_sigaction, 10, f.addr(3 * P), 0, 8));
}

TEST_CASE("strings are scanned page by page up to their NUL") {
    Fixture f;
    f.mem[100] = 0;
    CHECK(f.ok(k_stat, f.addr(90), f.addr(200)));
    CHECK_FALSE(f.ok(k_stat, f.addr(90), f.addr(2 * P))); // statbuf read-only
    // No NUL before the unmapped page: EFAULT; a NUL on the last mapped
    // byte: fine (the string never touches the next page).
    CHECK_FALSE(f.ok(k_stat, f.addr(2 * P + 10), f.addr(0)));
    f.mem[3 * P - 1] = 0;
    CHECK(f.ok(k_stat, f.addr(2 * P + 10), f.addr(0)));
    CHECK_FALSE(f.ok(k_stat, f.addr(3 * P), f.addr(0)));
}

TEST_CASE("iovecs and msghdrs: the arrays and every buffer") {
    Fixture f;
    auto* iov = reinterpret_cast<ak::abi::Iovec*>(f.mem + 1024);
    iov[0] = {f.mem, 16};
    iov[1] = {f.mem + 2 * P, 16};
    CHECK_FALSE(f.ok(k_readv, 0, f.addr(1024), 2)); // second buffer read-only
    CHECK(f.ok(k_readv, 0, f.addr(1024), 1));
    iov[1].iov_len = 0;
    CHECK(f.ok(k_readv, 0, f.addr(1024), 2)); // empty buffers are not touched
    CHECK_FALSE(f.ok(k_readv, 0, f.addr(3 * P), 1));
    CHECK(f.ok(k_readv, 0, f.addr(3 * P), static_cast<uint32_t>(-1))); // EINVAL's business

    auto* m = reinterpret_cast<ak::abi::Msghdr*>(f.mem + 2048);
    std::memset(m, 0, sizeof *m);
    iov[1] = {f.mem + 2 * P, 16};
    m->msg_iov = iov;
    m->msg_iovlen = 2;
    CHECK(f.ok(k_sendmsg, 0, f.addr(2048), 0)); // sendmsg reads its buffers
    m->msg_control = reinterpret_cast<void*>(f.addr(3 * P));
    m->msg_controllen = 8;
    CHECK_FALSE(f.ok(k_sendmsg, 0, f.addr(2048), 0));
}

TEST_CASE("counts: socklen_t through a pointer, negative ints left to the call") {
    Fixture f;
    auto* len = reinterpret_cast<uint32_t*>(f.mem + 64);
    *len = 16;
    CHECK(f.ok(k_accept, 3, f.addr(2 * P - 16), f.addr(64)));
    *len = 17;
    CHECK_FALSE(f.ok(k_accept, 3, f.addr(2 * P - 16), f.addr(64)));
    CHECK(f.ok(k_accept, 3, 0, 0));
    CHECK_FALSE(f.ok(k_accept, 3, f.addr(0), f.addr(3 * P)));
    // epoll_wait's maxevents is an int: -1 is EINVAL's, not a huge buffer.
    CHECK(f.ok(k_epoll_wait, 3, f.addr(3 * P), 0xffffffffu, 0));
    CHECK_FALSE(f.ok(k_epoll_wait, 3, f.addr(2 * P), 1, 0));
}

TEST_CASE("local and ioctl arguments: futex words, termios, winsize") {
    Fixture f;
    CHECK(f.ok(k_futex, f.addr(8), 0 /* FUTEX_WAIT */, 0, 0));
    CHECK(f.ok(k_futex, f.addr(2 * P), 0x80 /* private */, 0, 0)); // read-only is fine to wait on
    CHECK_FALSE(f.ok(k_futex, f.addr(3 * P), 0, 0, 0));
    CHECK(f.ok(k_futex, f.addr(3 * P + 1), 0, 0, 0));           // misaligned: EINVAL first
    CHECK(f.ok(k_futex, f.addr(3 * P), 1 /* WAKE */, 1));       // a key only
    CHECK_FALSE(f.ok(k_futex, f.addr(0), 0, 0, f.addr(3 * P))); // the timeout
    CHECK_FALSE(f.ok(k_futex, f.addr(0), 5 /* WAKE_OP */, 1, 0, f.addr(2 * P)));
    CHECK(f.ok(k_ioctl, 1, ak::abi::k_tcgets, f.addr(0)));
    CHECK_FALSE(f.ok(k_ioctl, 1, ak::abi::k_tcgets, f.addr(2 * P)));
    CHECK(f.ok(k_ioctl, 1, ak::abi::k_tcsets, f.addr(2 * P)));
    CHECK_FALSE(f.ok(k_ioctl, 1, ak::abi::k_tiocgwinsz, f.addr(3 * P)));
    CHECK(f.ok(k_ioctl, 1, 0x1234, f.addr(3 * P))); // unknown: ENOTTY, nothing touched
}
