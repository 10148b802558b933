// Shared by the syscall-level tests: start the kernel once per test program
// and small wrappers that keep test bodies short.
#pragma once

#define _GNU_SOURCE 1
#include <anykern/anykern.h>

#include <errno.h>
#include <fcntl.h>
#include <stdexcept>
#include <string>
#include <sys/stat.h>
#include <vector>

void kernel_up();
// Write data to path (create/truncate), returning true on success.
bool put_file(const std::string& path, const std::string& data, mode_t mode = 0644);
// Read the whole file, or "<errno N>" on failure.
std::string get_file(const std::string& path);
// Names in a directory (without . and ..), sorted.
std::vector<std::string> list_dir(const std::string& path);
// -errno of the last failed call (for CHECK(err(ak_sys_x(...)) == ENOENT)).
int err(long r);
// A fresh directory for one test, /t/<name>.
std::string scratch(const std::string& name);
// Run fn in a new kernel process with the given credentials; returns to pid 1.
template <typename F> void as_user(unsigned uid, unsigned gid, F&& fn) {
    int pid = ak_proc_create(0);
    if (pid < 0)
        throw std::runtime_error("ak_proc_create failed");
    struct Release {
        ~Release() { ak_proc_release(); } // also when a REQUIRE throws
    } release;
    if (ak_sys_setgid(gid) < 0 || ak_sys_setuid(uid) < 0)
        throw std::runtime_error("setuid failed");
    fn();
}
