/*
 * PVH entry for the kvm platform.
 *
 * A PVH loader (QEMU -kernel on microvm/q35/pc, Firecracker, cloud-hypervisor)
 * finds the XEN_ELFNOTE_PHYS32_ENTRY note and enters ak_pvh_entry in 32-bit
 * protected mode, paging off, flat segments, %ebx = physical address of the
 * hvm_start_info block.  We identity-map the first 4 GiB with 2 MiB pages
 * (RAM below 4 GiB plus the LAPIC/IOAPIC/HPET MMIO window), enter long mode
 * and call ak_kvm_start(start_info) on the boot stack.  RAM above 4 GiB is
 * mapped later from C (memory.cpp) once the memory map is known.
 */

#define XEN_ELFNOTE_PHYS32_ENTRY 18

#define CR0_PE 0x00000001
#define CR0_MP 0x00000002
#define CR0_EM 0x00000004
#define CR0_NE 0x00000020
#define CR0_WP 0x00010000
#define CR0_PG 0x80000000
#define CR4_PAE 0x00000020
#define CR4_PGE 0x00000080
#define CR4_OSFXSR 0x00000200
#define CR4_OSXMMEXCPT 0x00000400
#define MSR_EFER 0xc0000080
#define EFER_LME 0x00000100

#define PTE_P 0x001
#define PTE_W 0x002
#define PTE_PS 0x080

#define BOOT_STACK_SIZE 65536

/* The note's descriptor is pointer sized (QEMU reads a size_t), and the
 * section is 4-aligned so the PT_NOTE segment has p_align 4. */
    .section .note.pvh, "a", @note
    .p2align 2
    .long 2f - 1f
    .long 4f - 3f
    .long XEN_ELFNOTE_PHYS32_ENTRY
1:  .asciz "Xen"
2:  .p2align 2
3:  .quad ak_pvh_entry
4:  .p2align 2

    .section .text.boot32, "ax"
    .code32
    .globl ak_pvh_entry
ak_pvh_entry:
    cli
    cld
    mov %ebx, %esi /* start_info survives to ak_kvm_start's first argument */

    /* Not every loader clears .bss. */
    mov $__bss_start, %edi
    mov $__bss_end, %ecx
    sub %edi, %ecx
    xor %eax, %eax
    rep stosb

    /* 4 page directories of 512 2 MiB pages: identity map of [0, 4 GiB). */
    mov $ak_boot_pd, %edi
    mov $(PTE_P | PTE_W | PTE_PS), %eax
    mov $2048, %ecx
1:  mov %eax, (%edi)
    add $0x200000, %eax
    add $8, %edi
    loop 1b

    mov $ak_boot_pdpt, %edi
    mov $(ak_boot_pd + PTE_P + PTE_W), %eax
    mov %eax, 0(%edi)
    add $0x1000, %eax
    mov %eax, 8(%edi)
    add $0x1000, %eax
    mov %eax, 16(%edi)
    add $0x1000, %eax
    mov %eax, 24(%edi)
    movl $(ak_boot_pdpt + PTE_P + PTE_W), ak_boot_pml4

    mov %cr4, %eax
    or $(CR4_PAE | CR4_PGE | CR4_OSFXSR | CR4_OSXMMEXCPT), %eax
    mov %eax, %cr4
    mov $ak_boot_pml4, %eax
    mov %eax, %cr3
    mov $MSR_EFER, %ecx
    rdmsr
    or $EFER_LME, %eax
    wrmsr
    mov %cr0, %eax
    and $~CR0_EM, %eax
    or $(CR0_PE | CR0_MP | CR0_NE | CR0_WP | CR0_PG), %eax
    mov %eax, %cr0

    lgdt ak_gdt_ptr
    ljmp $0x08, $1f

    .code64
1:  mov $0x10, %eax
    mov %eax, %ds
    mov %eax, %es
    mov %eax, %ss
    xor %eax, %eax
    mov %eax, %fs
    mov %eax, %gs
    lea ak_boot_stack_top(%rip), %rsp
    xor %ebp, %ebp
    fninit
    mov %esi, %edi
    call ak_kvm_start
2:  cli
    hlt
    jmp 2b

    .section .data
    .p2align 4
    .globl ak_gdt
ak_gdt:
    .quad 0                  /* 0x00 null */
    .quad 0x00af9a000000ffff /* 0x08 64-bit code, ring 0 */
    .quad 0x00cf92000000ffff /* 0x10 data, ring 0 */
    /* syscall/sysret need this order (IA32_STAR, user.cpp): user data at
     * STAR[63:48] + 8, user 64-bit code at STAR[63:48] + 16. */
    .quad 0x00cff2000000ffff /* 0x18 data, ring 3 (selector 0x1b) */
    .quad 0x00affa000000ffff /* 0x20 64-bit code, ring 3 (selector 0x23) */
    .quad 0, 0               /* 0x28 TSS, filled in by traps.cpp */
ak_gdt_end:
    .p2align 4
    .globl ak_gdt_ptr
ak_gdt_ptr:
    .word ak_gdt_end - ak_gdt - 1
    .quad ak_gdt

    .section .bss
    .p2align 12
    .globl ak_boot_pml4
ak_boot_pml4:
    .skip 4096
    .globl ak_boot_pdpt
ak_boot_pdpt:
    .skip 4096
ak_boot_pd:
    .skip 4 * 4096
    .p2align 4
    .globl ak_boot_stack_bottom
ak_boot_stack_bottom:
    .skip BOOT_STACK_SIZE
ak_boot_stack_top:

    .section .note.GNU-stack, "", @progbits
