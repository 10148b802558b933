/* System calls the kernel does not have: ENOSYS every time, never a crash;
 * the kernel logs each number once (exec-enosys checks the console). */
#include <errno.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

int main(void)
{
    long nrs[] = {1000, 1000, 1001, 1000, 1001};
    for (unsigned i = 0; i < sizeof nrs / sizeof nrs[0]; i++) {
        errno = 0;
        long r = syscall(nrs[i], 1L, 2L, 3L);
        printf("syscall %ld: %ld, %s\n", nrs[i], r, errno == ENOSYS ? "ENOSYS" : "other error");
    }
    printf("still running after %zu unknown calls\n", sizeof nrs / sizeof nrs[0]);
    return 0;
}
