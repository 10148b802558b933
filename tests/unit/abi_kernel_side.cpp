// The kernel's view of the ABI constants: this file sees only kernel
// headers, never the host's.
#include <ak/abi/linux.h>
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
