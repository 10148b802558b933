// The kernel's constants and structures against the host's Linux headers
// (the kernel's system-call ABI is Linux x86-64).
#define _GNU_SOURCE 1
#include <doctest/doctest.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <poll.h>
#include <stddef.h>
#include <string>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <sys/utsname.h>
#include <unistd.h>

#include <linux/futex.h>
#include <signal.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/random.h>
#include <sys/resource.h>
#include <sys/sysinfo.h>
#include <sys/time.h>
#include <sys/wait.h>
#include <time.h>

#include <anykern/syscalls.h>

extern "C" const long ak_abi_kernel_values[];
extern "C" const char* const ak_abi_names[];
extern "C" const unsigned long ak_abi_kernel_sizes[];
extern "C" const long ak_abi_process_kernel_values[];
extern "C" const char* const ak_abi_process_names[];
extern "C" const unsigned long ak_abi_process_sizes[];

#define X(name) static_cast<long>(name),
static const long host_values[] = {
#include "abi_constants.def"
};
#undef X

TEST_CASE("kernel constants equal the Linux values") {
    for (size_t i = 0; i < sizeof host_values / sizeof host_values[0]; i++) {
        INFO(ak_abi_names[i]);
        CHECK(ak_abi_kernel_values[i] == host_values[i]);
    }
}

struct linux_dirent64_host {
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};

TEST_CASE("kernel structures have the Linux layout") {
    const unsigned long host_sizes[] = {
        sizeof(struct stat),
        sizeof(struct statfs),
        sizeof(struct statx),
        sizeof(struct utsname),
        sizeof(struct timespec),
        sizeof(struct iovec),
        offsetof(struct stat, st_size),
        offsetof(struct stat, st_mtim),
        offsetof(struct statx, stx_mtime),
        offsetof(linux_dirent64_host, d_name),
    };
    for (size_t i = 0; i < sizeof host_sizes / sizeof host_sizes[0]; i++) {
        INFO("index ", i);
        CHECK(ak_abi_kernel_sizes[i] == host_sizes[i]);
    }
}

#define Y(k, host) static_cast<long>(host),
static const long host_process_values[] = {
#include "abi_process.def"
};
#undef Y

TEST_CASE("clock, futex, signal, resource, prctl and tty constants equal the Linux values") {
    for (size_t i = 0; i < sizeof host_process_values / sizeof host_process_values[0]; i++) {
        INFO(std::string(ak_abi_process_names[i]));
        CHECK(ak_abi_process_kernel_values[i] == host_process_values[i]);
    }
}

TEST_CASE("signal, resource and terminal structures have the Linux layout") {
    const unsigned long host_sizes[] = {
        32, // struct kernel_sigaction: handler, flags, restorer, 8-byte mask
        sizeof(stack_t),
        offsetof(stack_t, ss_size),
        sizeof(siginfo_t),
        offsetof(siginfo_t, si_pid),
        offsetof(siginfo_t, si_uid),
        offsetof(siginfo_t, si_addr),
        sizeof(struct rlimit),
        sizeof(struct rusage),
        sizeof(struct sysinfo),
        offsetof(struct sysinfo, procs),
        offsetof(struct sysinfo, mem_unit),
        sizeof(struct winsize),
        sizeof(struct timezone),
    };
    for (size_t i = 0; i < sizeof host_sizes / sizeof host_sizes[0]; i++) {
        INFO("index ", i);
        CHECK(ak_abi_process_sizes[i] == host_sizes[i]);
    }
}
