// The kernel's view of the ABI constants: this file sees only kernel
// headers, never the host's.
#include <ak/abi/linux.h>
#include <ak/abi/process.h>
#include <ak/errno.h>

#define X(name) static_cast<long>(name),
extern "C" const long ak_abi_kernel_values[] = {
#include "abi_constants.def"
};
#undef X
#define X(name) #name,
extern "C" const char* const ak_abi_names[] = {
#include "abi_constants.def"
};
#undef X
extern "C" const unsigned long ak_abi_kernel_sizes[] = {
    sizeof(ak::abi::Stat),
    sizeof(ak::abi::Statfs),
    sizeof(ak::abi::Statx),
    sizeof(ak::abi::Utsname),
    sizeof(ak::abi::Timespec),
    sizeof(ak::abi::Iovec),
    __builtin_offsetof(ak::abi::Stat, st_size),
    __builtin_offsetof(ak::abi::Stat, st_mtim),
    __builtin_offsetof(ak::abi::Statx, stx_mtime),
    __builtin_offsetof(ak::abi::Dirent64, d_name),
};

#define Y(k, host) static_cast<long>(ak::abi::k),
extern "C" const long ak_abi_process_kernel_values[] = {
#include "abi_process.def"
};
#undef Y
#define Y(k, host) #host,
extern "C" const char* const ak_abi_process_names[] = {
#include "abi_process.def"
};
#undef Y
extern "C" const unsigned long ak_abi_process_sizes[] = {
    sizeof(ak::abi::KernelSigaction),
    sizeof(ak::abi::StackT),
    __builtin_offsetof(ak::abi::StackT, ss_size),
    sizeof(ak::abi::Siginfo),
    __builtin_offsetof(ak::abi::Siginfo, u.kill.pid),
    __builtin_offsetof(ak::abi::Siginfo, u.kill.uid),
    __builtin_offsetof(ak::abi::Siginfo, u.fault.addr),
    sizeof(ak::abi::Rlimit),
    sizeof(ak::abi::Rusage),
    sizeof(ak::abi::Sysinfo),
    __builtin_offsetof(ak::abi::Sysinfo, procs),
    __builtin_offsetof(ak::abi::Sysinfo, mem_unit),
    sizeof(ak::abi::Winsize),
    sizeof(ak::abi::Timezone),
};
