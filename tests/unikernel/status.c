/* A unikernel application that reports its arguments and environment and
 * exits with argv[1] as its status ("abort" aborts).  Checks that ak-run
 * passes arguments and variables through the kernel command line and maps
 * the exit status back. */
#include <anykern/anykern.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int main(int argc, char **argv)
{
    if (ak_init() < 0) {
        perror("ak_init");
        return 99;
    }
    printf("status-app: argc=%d", argc);
    for (int i = 1; i < argc; i++)
        printf(" [%s]", argv[i]);
    const char *foo = getenv("FOO");
    printf(" FOO=%s\n", foo ? foo : "(unset)");
    char buf[64];
    int n = snprintf(buf, sizeof buf, "status-app: %5.2f|%-4s|%04x|%lld\n", 3.14159, "ab", 0xbeef,
                     -1234567890123LL);
    if (ak_sys_write(2, buf, (size_t)n) != n)
        return 98;
    if (argc > 1 && !strcmp(argv[1], "abort"))
        abort();
    return argc > 1 ? atoi(argv[1]) : 0;
}
