// The hypercall user group (1.4) as this component calls it.
//
// hypercall.h on main announces the group (AKHYP_GROUP_USER, struct
// akhyp_uregs, the user_syscall/user_trap upcalls) while the kvm
// platform's side, with the calls' declarations, is being written in
// parallel.  These declarations repeat that contract (same names and
// types, so they are harmless redeclarations once hypercall.h has them;
// this file then shrinks to the #include).  Every call is referenced
// weakly: the component is linked into platforms without the group (posix)
// and uses it only when akhyp_groups() has AKHYP_GROUP_USER.
//
// Contract points the component relies on: the kernel reads and writes
// user memory directly at the user's addresses, but only after checking
// them against its VmMap (an access to unmapped or PROT_NONE memory, or a
// write to memory without PROT_WRITE, is a fatal kernel fault); the
// upcalls run on the user thread's own stack; regs->fs_base is read-only
// in an upcall (akhyp_user_set_tls changes it).
#pragma once

#include <anykern/hypercall.h>

extern "C" {

#ifndef AKHYP_PROT_NONE
#define AKHYP_PROT_NONE 0x0
#define AKHYP_PROT_READ 0x1
#define AKHYP_PROT_WRITE 0x2
#define AKHYP_PROT_EXEC 0x4
#endif
#ifndef AKHYP_VM_GENERAL
#define AKHYP_VM_GENERAL 0     /* demand-zero pages anywhere inside */
#define AKHYP_VM_EXEC_WINDOW 1 /* fixed addresses of a non-PIE executable */
#endif
#ifndef AKHYP_USER_FPU_SIZE
#define AKHYP_USER_FPU_SIZE 512
#endif
#ifndef AKHYP_USER_TRAP_NOMEM
#define AKHYP_USER_TRAP_NOMEM ((uint64_t)1 << 32)
#endif

// [*lo, *hi) of a user area; 0, ENOENT (no such area) or EINVAL.
int akhyp_vm_range(int area, uintptr_t* lo, uintptr_t* hi);
// [va, va+len) becomes user memory reading as zeros (replacing what was
// there); 0, EINVAL or ENOMEM.
int akhyp_vm_map(uintptr_t va, size_t len, int prot);
// [va, va+len) is no longer user memory; 0 or EINVAL.
int akhyp_vm_unmap(uintptr_t va, size_t len);
// Change the protection of mapped [va, va+len); 0, EINVAL or ENOMEM.
int akhyp_vm_protect(uintptr_t va, size_t len, int prot);
// Enter user mode with regs (FS base = regs->fs_base, FPU reset); never
// returns.
AKHYP_NORETURN void akhyp_user_enter(const struct akhyp_uregs* regs);
// Set the calling user thread's FS base.
void akhyp_user_set_tls(uint64_t fs_base);
// The calling thread's user FPU/SSE state as an FXSAVE image; restore(NULL)
// resets it.
void akhyp_user_fpu_save(void* area);
void akhyp_user_fpu_restore(const void* area);

#pragma weak akhyp_vm_range
#pragma weak akhyp_vm_map
#pragma weak akhyp_vm_unmap
#pragma weak akhyp_vm_protect
#pragma weak akhyp_user_enter
#pragma weak akhyp_user_set_tls
#pragma weak akhyp_user_fpu_save
#pragma weak akhyp_user_fpu_restore
}
