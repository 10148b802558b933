// The hypercall user group (1.4, hypercall.h) as this component uses it.
//
// Every call is referenced weakly: the component is linked into platforms
// without the group (posix) and uses it only when akhyp_groups() has
// AKHYP_GROUP_USER.
//
// Contract points the component relies on: the kernel reads and writes
// user memory directly at the user's addresses, but only after checking
// them against its VmMap (an access to unmapped or PROT_NONE memory, or a
// write to memory without PROT_WRITE, is a fatal kernel fault unless
// akhyp_user_guard (1.5) is around it: uaccess.cpp); the
// upcalls run on the user thread's own stack; regs->fs_base is read-only
// in an upcall (akhyp_user_set_tls changes it).
#pragma once

#include <anykern/hypercall.h>

extern "C" {
#pragma weak akhyp_vm_range
#pragma weak akhyp_vm_map
#pragma weak akhyp_vm_unmap
#pragma weak akhyp_vm_protect
#pragma weak akhyp_user_enter
#pragma weak akhyp_user_set_tls
#pragma weak akhyp_user_fpu_save
#pragma weak akhyp_user_fpu_restore
#pragma weak akhyp_user_interrupt
#pragma weak akhyp_user_guard
}
