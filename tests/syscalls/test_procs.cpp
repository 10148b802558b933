// Process contexts: pids, descriptor tables, credentials, uname.
#include "helpers.h"

#include <doctest/doctest.h>
#include <string.h>
#include <sys/utsname.h>
#include <thread>

TEST_CASE("the default process is pid 1; children get their own tables") {
    std::string f = scratch("procs") + "/f";
    REQUIRE(put_file(f, "shared"));
    CHECK(ak_sys_getpid() == 1);
    CHECK(ak_sys_getppid() == 0);
    int fd = ak_sys_open(f.c_str(), O_RDONLY, 0);
    REQUIRE(fd >= 0);
    int child = ak_proc_create(AK_PROC_COPYFD);
    REQUIRE(child > 1);
    CHECK(ak_sys_getpid() == child);
    CHECK(ak_sys_getppid() == 1);
    char c;
    CHECK(ak_sys_read(fd, &c, 1) == 1); // the copied descriptor works
    CHECK(c == 's');
    int other = ak_proc_create(0);
    REQUIRE(other > child);
    CHECK(ak_sys_getppid() == child);
    CHECK(err(ak_sys_read(fd, &c, 1)) == EBADF); // fresh table
    REQUIRE(ak_proc_release() == 0);
    CHECK(ak_sys_getpid() == 1);
    CHECK(ak_proc_switch(child) == 0);
    CHECK(ak_sys_read(fd, &c, 1) == 1); // offset shared with the parent's file
    CHECK(c == 'h');
    REQUIRE(ak_proc_release() == 0);
    CHECK(ak_sys_getpid() == 1);
    CHECK(ak_proc_switch(child) == -1);
    CHECK(errno == ESRCH);
    CHECK(ak_sys_read(fd, &c, 1) == 1);
    CHECK(c == 'a');
    ak_sys_close(fd);
    CHECK(ak_proc_release() == -1); // pid 1 cannot be released
}

TEST_CASE("cwd and umask are per process and inherited") {
    std::string d = scratch("inherit");
    REQUIRE(ak_sys_chdir(d.c_str()) == 0);
    ak_sys_umask(027);
    int child = ak_proc_create(0);
    REQUIRE(child > 1);
    char buf[256];
    REQUIRE(ak_sys_getcwd(buf, sizeof buf) > 0);
    CHECK(std::string(buf) == d);
    CHECK(ak_sys_umask(0) == 027);
    REQUIRE(ak_sys_chdir("/") == 0);
    REQUIRE(ak_proc_release() == 0);
    REQUIRE(ak_sys_getcwd(buf, sizeof buf) > 0);
    CHECK(std::string(buf) == d);
    CHECK(ak_sys_umask(022) == 027);
    REQUIRE(ak_sys_chdir("/") == 0);
}

TEST_CASE("setuid/setgid rules and groups") {
    kernel_up();
    int child = ak_proc_create(0);
    REQUIRE(child > 1);
    gid_t groups[2] = {10, 20};
    CHECK(ak_sys_setgroups(2, groups) == 0);
    gid_t got[8];
    CHECK(ak_sys_getgroups(0, nullptr) == 2);
    CHECK(ak_sys_getgroups(8, got) == 2);
    CHECK(got[1] == 20);
    CHECK(err(ak_sys_getgroups(1, got)) == EINVAL);
    CHECK(ak_sys_setgid(500) == 0);
    CHECK(ak_sys_setuid(500) == 0);
    CHECK(ak_sys_getuid() == 500);
    CHECK(ak_sys_setuid(500) == 0); // its own id is fine
    CHECK(err(ak_sys_setuid(501)) == EPERM);
    CHECK(err(ak_sys_setuid(-1)) == EINVAL);
    REQUIRE(ak_proc_release() == 0);
    CHECK(ak_sys_getuid() == 0);
}

TEST_CASE("threads bind to pid 1 and can switch independently") {
    kernel_up();
    int child = ak_proc_create(0);
    REQUIRE(child > 1);
    int seen_in_thread = 0;
    std::thread t([&] { seen_in_thread = ak_sys_getpid(); });
    t.join();
    CHECK(seen_in_thread == 1);
    std::thread t2([&] {
        ak_proc_switch(child);
        seen_in_thread = ak_sys_getpid();
    });
    t2.join();
    CHECK(seen_in_thread == child);
    REQUIRE(ak_proc_release() == 0);
}

TEST_CASE("uname and unknown system calls") {
    kernel_up();
    struct utsname u;
    REQUIRE(ak_sys_uname(&u) == 0);
    CHECK(std::string(u.sysname) == "Linux");
    CHECK(std::string(u.machine) == "x86_64");
    CHECK(strlen(u.nodename) > 0);
    CHECK(ak_syscall(424242) == -ENOSYS);
    CHECK(ak_syscall(-1) == -ENOSYS);
    CHECK(ak_syscall(AK_SYS_getpid) == 1);
    CHECK(err(ak_sys_uname(nullptr)) == EFAULT);
}
