/* A NULL dereference: the process is killed by SIGSEGV (status 139). */
#include <stdio.h>

int main(void) {
    printf("about to dereference NULL\n");
    fflush(stdout);
    volatile int* p = 0;
    return *p;
}
