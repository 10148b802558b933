/* A tiny C program that the exec unit tests parse after building it with
 * the host compilers (cc -static, cc -static-pie, musl-gcc -static, and
 * dynamically linked), and that the qemu tests run in images. */
#include <stdio.h>
#include <stdlib.h>

static __thread int tls_counter = 3;

int main(int argc, char** argv, char** envp) {
    printf("argc=%d\n", argc);
    for (int i = 0; i < argc; i++)
        printf("argv[%d]=%s\n", i, argv[i]);
    for (char** e = envp; *e; e++)
        printf("env %s\n", *e);
    tls_counter += argc;
    printf("tls=%d\n", tls_counter);
    fflush(stdout);
    return argc > 1 ? atoi(argv[1]) : 0;
}
