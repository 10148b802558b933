/*
 * The kernel on the kvm platform: ak_kern_init() and a few system calls
 * (getpid, pipe, write, read, close) through ak_kern_syscall(), with the
 * kernel archive and components taken --whole-archive as ak-bake will.
 * Prints "kern-boot: ok" and exits 0.
 */
#include <anykern/hypercall.h>
#include <anykern/kern.h>

static void out(const char* s) {
    akhyp_console_write(s, __builtin_strlen(s));
}

static int fail(const char* what, long v) {
    out("kern-boot: FAIL ");
    out(what);
    out(v < 0 ? " (negative errno)\n" : "\n");
    return 1;
}

int ak_kvm_main(int argc, char** argv) {
    (void)argc, (void)argv;
    long r = ak_kern_init();
    if (r != 0)
        return fail("ak_kern_init", r);
    long args[6] = {0};
    long pid = ak_kern_syscall(39 /* getpid */, args);
    if (pid <= 0)
        return fail("getpid", pid);
    int fds[2];
    args[0] = (long)fds;
    if ((r = ak_kern_syscall(22 /* pipe */, args)) != 0)
        return fail("pipe", r);
    char msg[] = "through the pipe", buf[32] = {0};
    long w[6] = {fds[1], (long)msg, sizeof msg};
    long rd[6] = {fds[0], (long)buf, sizeof buf};
    if ((r = ak_kern_syscall(1 /* write */, w)) != (long)sizeof msg)
        return fail("write", r);
    if ((r = ak_kern_syscall(0 /* read */, rd)) != (long)sizeof msg ||
        __builtin_memcmp(buf, msg, sizeof msg) != 0)
        return fail("read", r);
    for (int i = 0; i < 2; i++) {
        long c[6] = {fds[i]};
        if ((r = ak_kern_syscall(3 /* close */, c)) != 0)
            return fail("close", r);
    }
    out("kern-boot: ok\n");
    return 0;
}
