// eventfd counter and semaphore semantics, poll/epoll readiness and
// wake-ups, and the same readiness checks for pipes.
#include "helpers.h"

#include <chrono>
#include <doctest/doctest.h>
#include <poll.h>
#include <stdint.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <thread>

namespace {

uint64_t read_counter(int fd) {
    uint64_t v = 0;
    REQUIRE(ak_sys_read(fd, &v, sizeof v) == 8);
    return v;
}

void add(int fd, uint64_t v) {
    REQUIRE(ak_sys_write(fd, &v, sizeof v) == 8);
}

short poll_one(int fd, short events, int timeout_ms = 0) {
    pollfd p{fd, events, 0};
    long n = ak_sys_poll(&p, 1, timeout_ms);
    REQUIRE(n >= 0);
    return n ? p.revents : 0;
}

// epoll_wait on epfd from another thread while fn makes fd ready: the
// waiter must wake with the expected events (by default those it asked for).
template <typename F>
void epoll_wakes(int fd, uint32_t events, F&& make_ready, uint32_t expect = 0) {
    if (!expect)
        expect = events;
    int ep = ak_sys_epoll_create1(0);
    REQUIRE(ep >= 0);
    epoll_event ev{};
    ev.events = events;
    ev.data.u64 = 42;
    REQUIRE(ak_sys_epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev) == 0);
    epoll_event out[2];
    CHECK(ak_sys_epoll_wait(ep, out, 2, 0) == 0);
    long got = -1;
    std::thread waiter([&] { got = ak_sys_epoll_wait(ep, out, 2, 5000); });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    make_ready();
    waiter.join();
    CHECK(got == 1);
    uint64_t data = out[0].data.u64; // packed struct: copy before comparing
    uint32_t got_events = out[0].events;
    CHECK(data == 42u);
    CHECK((got_events & expect) == expect);
    ak_sys_close(ep);
}

} // namespace

TEST_CASE("eventfd: the counter adds up and a read takes all of it") {
    kernel_up();
    int fd = ak_sys_eventfd(3);
    REQUIRE(fd >= 0);
    CHECK(read_counter(fd) == 3);
    add(fd, 5);
    add(fd, 2);
    CHECK(read_counter(fd) == 7);
    CHECK(ak_sys_fcntl(fd, F_GETFL, 0) == O_RDWR);
    REQUIRE(ak_sys_fcntl(fd, F_SETFL, O_NONBLOCK) == 0);
    uint64_t v;
    CHECK(err(ak_sys_read(fd, &v, sizeof v)) == EAGAIN);
    // Exactly 8 bytes move; shorter buffers and the all-ones value are
    // refused.
    uint32_t small = 1;
    CHECK(err(ak_sys_read(fd, &small, sizeof small)) == EINVAL);
    CHECK(err(ak_sys_write(fd, &small, sizeof small)) == EINVAL);
    uint64_t ones = ~uint64_t(0);
    CHECK(err(ak_sys_write(fd, &ones, sizeof ones)) == EINVAL);
    // The counter stops at 2^64 - 2.
    add(fd, 0xfffffffffffffffeull);
    uint64_t one = 1;
    CHECK(err(ak_sys_write(fd, &one, sizeof one)) == EAGAIN);
    CHECK(read_counter(fd) == 0xfffffffffffffffeull);
    // An eventfd is an anonymous inode, and no terminal.
    struct stat st;
    REQUIRE(ak_sys_fstat(fd, &st) == 0);
    CHECK((st.st_mode & S_IFMT) == 0u);
    CHECK((st.st_mode & 0777) == 0600u);
    ak_sys_close(fd);
}

TEST_CASE("eventfd: EFD_SEMAPHORE reads one at a time; flags") {
    kernel_up();
    int fd = ak_sys_eventfd2(2, EFD_SEMAPHORE | EFD_NONBLOCK | EFD_CLOEXEC);
    REQUIRE(fd >= 0);
    CHECK(ak_sys_fcntl(fd, F_GETFD, 0) == FD_CLOEXEC);
    CHECK((ak_sys_fcntl(fd, F_GETFL, 0) & O_NONBLOCK) != 0);
    CHECK(read_counter(fd) == 1);
    CHECK(read_counter(fd) == 1);
    uint64_t v;
    CHECK(err(ak_sys_read(fd, &v, sizeof v)) == EAGAIN);
    add(fd, 3);
    CHECK(read_counter(fd) == 1);
    CHECK(read_counter(fd) == 1);
    CHECK(read_counter(fd) == 1);
    CHECK(err(ak_sys_eventfd2(0, 0x10)) == EINVAL);
    ak_sys_close(fd);
}

TEST_CASE("eventfd: poll readiness, a blocked read woken by a write, epoll") {
    kernel_up();
    int fd = ak_sys_eventfd2(0, 0);
    REQUIRE(fd >= 0);
    CHECK(poll_one(fd, POLLIN) == 0);
    CHECK(poll_one(fd, POLLOUT) == POLLOUT);
    add(fd, 1);
    CHECK(poll_one(fd, POLLIN | POLLOUT) == (POLLIN | POLLOUT));
    CHECK(read_counter(fd) == 1);
    // A reader blocks until a writer adds.
    uint64_t got = 0;
    std::thread reader([&] { got = read_counter(fd); });
    std::this_thread::sleep_for(std::chrono::milliseconds(30));
    add(fd, 9);
    reader.join();
    CHECK(got == 9);
    // poll with a timeout wakes when another thread writes.
    std::thread writer([&] {
        std::this_thread::sleep_for(std::chrono::milliseconds(30));
        add(fd, 1);
    });
    CHECK(poll_one(fd, POLLIN, 5000) == POLLIN);
    writer.join();
    CHECK(read_counter(fd) == 1);
    epoll_wakes(fd, EPOLLIN, [&] { add(fd, 4); });
    CHECK(read_counter(fd) == 4);
    ak_sys_close(fd);
}

TEST_CASE("pipes: poll and epoll see data, hang-ups and errors") {
    kernel_up();
    int p[2];
    REQUIRE(ak_sys_pipe2(p, O_NONBLOCK) == 0);
    CHECK(poll_one(p[0], POLLIN) == 0);
    CHECK(poll_one(p[1], POLLOUT) == POLLOUT);
    REQUIRE(ak_sys_write(p[1], "ab", 2) == 2);
    CHECK(poll_one(p[0], POLLIN) == POLLIN);
    char buf[4];
    REQUIRE(ak_sys_read(p[0], buf, sizeof buf) == 2);
    CHECK(poll_one(p[0], POLLIN) == 0);
    epoll_wakes(p[0], EPOLLIN, [&] { REQUIRE(ak_sys_write(p[1], "c", 1) == 1); });
    REQUIRE(ak_sys_read(p[0], buf, sizeof buf) == 1);
    // A full pipe is not writable; draining it wakes an epoll writer.
    std::vector<char> chunk(4096, 'x');
    while (ak_sys_write(p[1], chunk.data(), chunk.size()) > 0) {}
    CHECK(errno == EAGAIN);
    CHECK(poll_one(p[1], POLLOUT) == 0);
    epoll_wakes(p[1], EPOLLOUT, [&] {
        while (ak_sys_read(p[0], chunk.data(), chunk.size()) > 0) {}
    });
    // The writer goes: readers see POLLHUP, and epoll wakes for it.
    epoll_wakes(
        p[0], EPOLLIN, [&] { ak_sys_close(p[1]); }, EPOLLHUP);
    CHECK((poll_one(p[0], POLLIN) & POLLHUP) != 0);
    ak_sys_close(p[0]);
    // The reader goes: writers see POLLERR.
    REQUIRE(ak_sys_pipe(p) == 0);
    ak_sys_close(p[0]);
    CHECK((poll_one(p[1], POLLOUT) & POLLERR) != 0);
    ak_sys_close(p[1]);
}
