// The hypercall user group (1.4) as this component calls it.
//
// hypercall.h announces the group (AKHYP_GROUP_USER, struct akhyp_uregs,
// the user_syscall/user_trap upcalls) but does not yet declare its calls:
// the kvm platform's side is being written in parallel.  These are the
// calls and contracts the component is written against; when the
// platform's declarations land in hypercall.h this file shrinks to the
// #include.  Every call is referenced weakly: the component is linked into
// platforms without the group (posix) and uses it only when akhyp_groups()
// has AKHYP_GROUP_USER.
#pragma once

#include <anykern/hypercall.h>

extern "C" {

// Address ranges user mappings may use: AKHYP_VM_GENERAL (anywhere the
// kernel chooses; 4 KiB pages, demand-zero) or AKHYP_VM_EXEC_WINDOW (the
// fixed link addresses of a non-PIE executable, reserved at boot).
// Stores [*lo, *hi), page aligned.  Returns 0 or ENOENT (no such range).
#define AKHYP_VM_GENERAL 0
#define AKHYP_VM_EXEC_WINDOW 1
int akhyp_vm_range(int which, uint64_t* lo, uint64_t* hi);

// Protection bits (the Linux PROT_* values).
#define AKHYP_VM_READ 0x1
#define AKHYP_VM_WRITE 0x2
#define AKHYP_VM_EXEC 0x4

// akhyp_vm_map: make [addr, addr+len) user memory with prot, inside one
// range; pages read as zero until written (the platform may allocate them
// on first touch).  addr and len page aligned, len > 0.  The kernel may
// read and write mapped user memory directly, whatever prot says (pages it
// touches first are allocated then).  Returns 0, EINVAL (misaligned,
// outside the ranges), EEXIST (overlaps a mapping) or ENOMEM.  May block.
int akhyp_vm_map(uint64_t addr, uint64_t len, int prot);
// akhyp_vm_unmap: remove user mappings in [addr, addr+len) (unmapped parts
// are ignored) and free their pages.  Returns 0 or EINVAL.  May block.
int akhyp_vm_unmap(uint64_t addr, uint64_t len);
// akhyp_vm_protect: change the protection of mapped [addr, addr+len).
// Returns 0, EINVAL, or ENOMEM (part of the range is not mapped).
int akhyp_vm_protect(uint64_t addr, uint64_t len, int prot);

// akhyp_user_enter: switch the calling thread (made by akhyp_thread_create)
// to user mode with the registers regs (rip, rsp, rflags (IF forced on),
// fs_base, all general registers).  Never returns: system calls and
// exceptions of the thread arrive as upcalls on it; it ends with
// akhyp_thread_exit() from an upcall.
AKHYP_NORETURN void akhyp_user_enter(const struct akhyp_uregs* regs);
// akhyp_user_set_tls: set the calling user thread's FS base (the value it
// resumes with; also stored in the upcall's regs->fs_base).
void akhyp_user_set_tls(uint64_t fs_base);
// FPU/SSE state of the calling user thread as an FXSAVE image (512 bytes,
// 16-byte aligned): saved into a signal frame and restored by
// rt_sigreturn.
#define AKHYP_FPU_STATE_SIZE 512
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
