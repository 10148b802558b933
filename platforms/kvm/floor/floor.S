/*
 * The boot-time floor: the least a PVH image can do.  It writes one line to
 * COM1 and leaves through isa-debug-exit (QEMU exit code 1, status 0), then
 * ACPI-less fallbacks: a triple fault (QEMU -no-reboot exits).  Used by the
 * boot benchmark as the baseline for the real platform (docs/kvm.md).
 */
    .section .note.pvh, "a", @note
    .p2align 2
    .long 4
    .long 8
    .long 18 /* XEN_ELFNOTE_PHYS32_ENTRY */
    .asciz "Xen"
    .quad ak_pvh_entry
    .p2align 2

    .section .text.boot32, "ax"
    .code32
    .globl ak_pvh_entry
ak_pvh_entry:
    cli
    mov $message, %esi
1:  movzbl (%esi), %eax
    test %eax, %eax
    jz 3f
    mov $0x3fd, %dx /* wait for THR empty */
2:  inb %dx, %al
    test $0x20, %al
    jz 2b
    movzbl (%esi), %eax
    mov $0x3f8, %dx
    outb %al, %dx
    inc %esi
    jmp 1b
3:  xor %eax, %eax
    outl %eax, $0xf4
    lidt null_idt
    int3
4:  hlt
    jmp 4b

    .section .rodata
message:
    .asciz "ak-kvm floor\r\n"
null_idt:
    .word 0
    .long 0

    .section .note.GNU-stack, "", @progbits
