/*
 * The runtime of an image made from a static Linux executable (ak-bake
 * with an executable INPUT): the kvm platform calls ak_kvm_main, which
 * starts the kernel as for any image (boot.c: console on 0-2, environment
 * and arguments from the command line, disks) and then runs the embedded
 * executable with ak_kern_exec.  The image exits with the program's
 * status.
 *
 * ak-bake's generated object provides the file's bytes (section
 * .ak_exec_file, which kvm.ld places in the image below the executable
 * window) and the program's name.
 */
#include <anykern/kern.h>
#include <stddef.h>

#include "rt.h"

extern const unsigned char __ak_exec_file_start[];
extern const unsigned char __ak_exec_file_end[];
extern const char __ak_exec_name[];

#define AKRT_ENOENT 2
#define AKRT_ENOSYS 38

int ak_kvm_main(int argc, char** argv) {
    if (akrt_boot(&argc, &argv) < 0)
        return 1;
    /* argv[0] is the program's name; ak-run's first word is the image's. */
    static char* only_name[2];
    only_name[0] = (char*)__ak_exec_name;
    if (argc == 0) {
        argv = only_name;
    } else {
        argv[0] = (char*)__ak_exec_name;
    }
    char path[300];
    snprintf(path, sizeof path, "/bin/%s", __ak_exec_name);
    int r = ak_kern_exec(__ak_exec_file_start,
                         (size_t)(__ak_exec_file_end - __ak_exec_file_start), path, argv,
                         environ);
    if (r < 0) {
        /* As a shell reports a program it cannot run: 127 when there is
         * nothing to run, 126 when it cannot be executed. */
        char msg[400];
        snprintf(msg, sizeof msg, "ak-rt: cannot run %s: %s\n", path, strerror(-r));
        akhyp_console_write(msg, strlen(msg));
        exit(r == -AKRT_ENOENT || r == -AKRT_ENOSYS ? 127 : 126);
    }
    exit(r);
    return 0;
}
