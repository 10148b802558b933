// The console is a terminal (TCGETS, TIOCGWINSZ, ...) and nothing else is
// (ENOTTY for files, pipes, sockets, eventfds); readlink("/proc/self/exe")
// reports the path the exec component recorded.
#include "helpers.h"

#include <anykern/kern.h>

#include <doctest/doctest.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <termios.h>

namespace {

// The kernel's struct termios (TCGETS): 19 control characters, no speeds.
struct KernelTermios {
    uint32_t c_iflag, c_oflag, c_cflag, c_lflag;
    uint8_t c_line;
    uint8_t c_cc[19];
};
static_assert(sizeof(KernelTermios) == 36);

bool is_tty(int fd) {
    KernelTermios t;
    winsize w;
    long a = ak_syscall(AK_SYS_ioctl, fd, TCGETS, &t);
    long b = ak_syscall(AK_SYS_ioctl, fd, TIOCGWINSZ, &w);
    CHECK(a == b); // glibc asks TCGETS, musl TIOCGWINSZ: the same answer
    CHECK((a == 0 || a == -ENOTTY));
    return a == 0;
}

template <typename F> void in_child(F&& fn) {
    kernel_up();
    int pid = ak_proc_create(0);
    REQUIRE(pid > 1);
    struct Release {
        ~Release() { ak_proc_release(); }
    } release;
    fn(pid);
}

std::string readlink_of(const char* path) {
    char buf[256];
    long n = ak_sys_readlink(path, buf, sizeof buf);
    if (n < 0)
        return "<errno " + std::to_string(errno) + ">";
    return std::string(buf, static_cast<size_t>(n));
}

} // namespace

TEST_CASE("the console answers the terminal ioctls") {
    in_child([](int) {
        REQUIRE(ak_kern_console_stdio() == 0);
        for (int fd = 0; fd < 3; fd++)
            CHECK(is_tty(fd));
        KernelTermios t{};
        REQUIRE(ak_sys_ioctl(1, TCGETS, &t) == 0);
        CHECK((t.c_iflag & ICRNL) != 0u);
        CHECK((t.c_oflag & (OPOST | ONLCR)) == (OPOST | ONLCR));
        CHECK((t.c_cflag & CSIZE) == CS8);
        CHECK((t.c_lflag & (ICANON | ECHO | ISIG)) == (ICANON | ECHO | ISIG));
        CHECK(t.c_cc[VINTR] == 3);
        CHECK(t.c_cc[VEOF] == 4);
        CHECK(t.c_cc[VMIN] == 1);
        // Raw mode, as a line editor sets it, reads back.
        KernelTermios raw = t;
        raw.c_lflag &= ~(ICANON | ECHO);
        REQUIRE(ak_sys_ioctl(0, TCSETSW, &raw) == 0);
        KernelTermios back{};
        REQUIRE(ak_sys_ioctl(2, TCGETS, &back) == 0); // one terminal behind all three
        CHECK((back.c_lflag & (ICANON | ECHO)) == 0u);
        REQUIRE(ak_sys_ioctl(0, TCSETS, &t) == 0);
        // 80x24 unless the parameters say otherwise; TIOCSWINSZ sticks.
        winsize w{};
        REQUIRE(ak_sys_ioctl(1, TIOCGWINSZ, &w) == 0);
        CHECK(w.ws_row == 24);
        CHECK(w.ws_col == 80);
        winsize big{50, 132, 0, 0};
        REQUIRE(ak_sys_ioctl(1, TIOCSWINSZ, &big) == 0);
        REQUIRE(ak_sys_ioctl(0, TIOCGWINSZ, &w) == 0);
        CHECK(w.ws_col == 132);
        CHECK(w.ws_row == 50);
        winsize std_size{24, 80, 0, 0};
        REQUIRE(ak_sys_ioctl(1, TIOCSWINSZ, &std_size) == 0);
        pid_t pgrp = 0;
        REQUIRE(ak_sys_ioctl(0, TIOCGPGRP, &pgrp) == 0);
        CHECK(pgrp == ak_sys_getpgrp());
        REQUIRE(ak_sys_ioctl(0, TIOCSPGRP, &pgrp) == 0);
        int avail = -1;
        REQUIRE(ak_sys_ioctl(0, FIONREAD, &avail) == 0);
        CHECK(avail == 0);
        CHECK(ak_sys_ioctl(1, TCSBRK, reinterpret_cast<void*>(1)) == 0); // tcdrain
        CHECK(err(ak_sys_ioctl(1, TCGETS, nullptr)) == EFAULT);
        CHECK(err(ak_sys_ioctl(1, 0x54ff, &t)) == ENOTTY);
    });
}

TEST_CASE("files, pipes, sockets and eventfds are not terminals") {
    std::string f = scratch("tty") + "/file";
    REQUIRE(put_file(f, "data"));
    int fd = ak_sys_open(f.c_str(), O_RDONLY, 0);
    REQUIRE(fd >= 0);
    CHECK_FALSE(is_tty(fd));
    ak_sys_close(fd);
    int dir = ak_sys_open("/", O_RDONLY | O_DIRECTORY, 0);
    REQUIRE(dir >= 0);
    CHECK_FALSE(is_tty(dir));
    ak_sys_close(dir);
    int p[2];
    REQUIRE(ak_sys_pipe(p) == 0);
    CHECK_FALSE(is_tty(p[0]));
    CHECK_FALSE(is_tty(p[1]));
    ak_sys_close(p[0]);
    ak_sys_close(p[1]);
    int sv[2];
    REQUIRE(ak_sys_socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0);
    CHECK_FALSE(is_tty(sv[0]));
    ak_sys_close(sv[0]);
    ak_sys_close(sv[1]);
    int efd = ak_sys_eventfd(0);
    REQUIRE(efd >= 0);
    CHECK_FALSE(is_tty(efd));
    ak_sys_close(efd);
}

TEST_CASE("readlink(/proc/self/exe) reports the recorded program path") {
    std::string dir = scratch("exe");
    in_child([&](int pid) {
        // Unset: no such link, and opening it fails cleanly.
        CHECK(readlink_of("/proc/self/exe") == "<errno 2>");
        CHECK(err(ak_sys_open("/proc/self/exe", O_RDONLY, 0)) == ENOENT);
        std::string exe = dir + "/app";
        REQUIRE(ak_kern_proc_set_exe(pid, exe.c_str()) == 0);
        CHECK(readlink_of("/proc/self/exe") == exe);
        std::string by_pid = "/proc/" + std::to_string(pid) + "/exe";
        CHECK(readlink_of(by_pid.c_str()) == exe);
        char small[4];
        CHECK(ak_sys_readlink("/proc/self/exe", small, sizeof small) == 4); // truncated
        CHECK(memcmp(small, exe.data(), 4) == 0);
        char buf[256];
        CHECK(ak_sys_readlinkat(AT_FDCWD, "/proc/self/exe", buf, sizeof buf) ==
              static_cast<long>(exe.size()));
        // Another process's link, and ones that name no process.
        CHECK(readlink_of("/proc/1/exe") == "<errno 2>");
        CHECK(readlink_of("/proc/4000000/exe") == "<errno 2>");
        CHECK(readlink_of("/proc/0x1/exe") == "<errno 2>"); // not a /proc link: no /proc dir
        // Following the link opens the program if it is in the file
        // system; until then ENOENT.
        CHECK(err(ak_sys_open("/proc/self/exe", O_RDONLY, 0)) == ENOENT);
        REQUIRE(put_file(exe, "\177ELF"));
        int fd = ak_sys_open("/proc/self/exe", O_RDONLY, 0);
        REQUIRE(fd >= 0);
        char magic[4];
        CHECK(ak_sys_read(fd, magic, 4) == 4);
        CHECK(memcmp(magic, "\177ELF", 4) == 0);
        ak_sys_close(fd);
        struct stat st;
        CHECK(ak_sys_stat("/proc/self/exe", &st) == 0);
        CHECK(S_ISREG(st.st_mode));
        CHECK(err(ak_sys_lstat("/proc/self/exe", &st)) == ENOENT); // no link vnode
        // Only absolute paths are recorded.
        CHECK(ak_kern_proc_set_exe(pid, "relative/app") == -EINVAL);
        CHECK(ak_kern_proc_set_exe(4000000, "/x") == -ESRCH);
    });
}
