// Hooks for running user-mode code (Linux executables, components/exec):
// the component that implements them registers the user_syscall and
// user_trap upcalls here, and the kernel passes them to the platform in
// akhyp_init (rumpkern does not depend on the component: without it the
// upcalls stay NULL).
#pragma once

#include <ak/base.h>
#include <anykern/hypercall.h>

namespace ak {

struct UserUpcalls {
    void (*syscall)(akhyp_uregs* regs);
    void (*trap)(akhyp_uregs* regs, int vector, uint64_t error, uint64_t addr);
};

} // namespace ak

#define AK_USER_UPCALLS_SECTION "ak_user_upcalls"

// Register the upcalls (at most one component does):
// AK_USER_UPCALLS(exec, {exec_user_syscall, exec_user_trap});
#define AK_USER_UPCALLS(ident, ...)                                                                \
    static const ::ak::UserUpcalls ak_user_upcalls_##ident = __VA_ARGS__;                          \
    extern "C" __attribute__((used, section(AK_USER_UPCALLS_SECTION), aligned(8)))                 \
    const ::ak::UserUpcalls* const ak_user_upcalls_ptr_##ident = &ak_user_upcalls_##ident
