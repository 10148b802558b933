/* Memory system calls from an unmodified static program: mmap (anonymous,
 * fixed, hint, file-backed private), munmap with splits, mprotect,
 * mremap (shrink, grow, move), brk, madvise(MADV_DONTNEED), mincore.
 * Prints one line per check and exits 0 when all passed (1 otherwise), so
 * the same binary checks the host kernel and the image alike. */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

static int failures;

static void check(int ok, const char* what) {
    printf("%s: %s\n", ok ? "ok" : "FAIL", what);
    if (!ok)
        failures++;
}

int main(void) {
    long page = sysconf(_SC_PAGESIZE);
    check(page == 4096, "page size 4096");

    /* Anonymous private memory reads as zero and keeps what is written. */
    char* a = mmap(NULL, 16 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    check(a != MAP_FAILED, "mmap anonymous");
    int zero = 1;
    for (long i = 0; i < 16 * page; i++)
        zero &= a[i] == 0;
    check(zero, "fresh memory is zero");
    memset(a, 0x5a, 16 * page);
    check(a[16 * page - 1] == 0x5a, "written memory keeps its value");

    /* munmap in the middle splits the mapping; mincore sees the hole. */
    check(munmap(a + 4 * page, 2 * page) == 0, "munmap the middle");
    unsigned char vec[16];
    check(mincore(a, 4 * page, vec) == 0, "mincore of the first part");
    check(mincore(a + 4 * page, page, vec) == -1, "mincore of the hole fails");
    check(a[3 * page] == 0x5a && a[6 * page] == 0x5a, "both sides survive");

    /* MAP_FIXED_NOREPLACE refuses the still-mapped part, accepts the hole. */
    void* r = mmap(a, page, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    check(r == MAP_FAILED, "MAP_FIXED_NOREPLACE on a mapping fails");
    r = mmap(a + 4 * page, page, PROT_READ | PROT_WRITE,
             MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED_NOREPLACE, -1, 0);
    check(r == a + 4 * page && a[4 * page] == 0, "MAP_FIXED_NOREPLACE into the hole");
    /* MAP_FIXED replaces. */
    r = mmap(a, page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0);
    check(r == a && a[0] == 0 && a[page] == 0x5a, "MAP_FIXED replaces one page");

    /* mprotect: read-only, then writable again. */
    check(mprotect(a, page, PROT_READ) == 0, "mprotect read-only");
    check(mprotect(a, page, PROT_READ | PROT_WRITE) == 0, "mprotect read-write");
    a[0] = 1;
    check(mprotect(a + 4 * page + page, page, PROT_READ) == -1, "mprotect of unmapped fails");
    /* The system call (musl's mprotect rounds the address down). */
    check(syscall(SYS_mprotect, a + 1, page, PROT_READ) == -1 && errno == EINVAL,
          "mprotect misaligned is EINVAL");

    /* mremap: shrink, grow (in place or moved), contents kept. */
    char* m = mmap(NULL, 4 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    for (int i = 0; i < 4; i++)
        m[i * page] = (char)('A' + i);
    char* s = mremap(m, 4 * page, 2 * page, 0);
    check(s == m, "mremap shrink in place");
    char* g = mremap(s, 2 * page, 64 * page, MREMAP_MAYMOVE);
    check(g != MAP_FAILED && g[0] == 'A' && g[page] == 'B' && g[63 * page] == 0,
          "mremap grow keeps contents");
    g[63 * page] = 'z';
    check(munmap(g, 64 * page) == 0, "munmap the grown mapping");

    /* brk grows and shrinks the heap (the system call: musl's sbrk only
     * reports the break). */
    char* b0 = (char*)syscall(SYS_brk, 0);
    check((char*)syscall(SYS_brk, b0 + 3 * page) == b0 + 3 * page, "brk grows");
    memset(b0, 7, 3 * page);
    check(b0[3 * page - 1] == 7, "the heap is writable");
    check((char*)syscall(SYS_brk, b0 + page) == b0 + page, "brk shrinks");
    check((char*)syscall(SYS_brk, 0) == b0 + page, "brk(0) reports the break");

    /* MADV_DONTNEED zeroes private anonymous memory. */
    memset(a + page, 9, page);
    check(madvise(a + page, page, MADV_DONTNEED) == 0 && a[page] == 0, "MADV_DONTNEED zeroes");

    /* Errors. */
    errno = 0;
    check(mmap(NULL, 0, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0) == MAP_FAILED &&
              errno == EINVAL, "mmap of length 0 is EINVAL");
    check(mmap(NULL, page, PROT_READ, MAP_PRIVATE, 12345, 0) == MAP_FAILED && errno == EBADF,
          "mmap of a bad descriptor is EBADF");
    check(mmap(NULL, page, PROT_READ, MAP_ANONYMOUS, -1, 0) == MAP_FAILED && errno == EINVAL,
          "mmap without SHARED or PRIVATE is EINVAL");
    check(munmap(a + 1, page) == -1 && errno == EINVAL, "munmap misaligned is EINVAL");

    /* A private file mapping reads the file's bytes. */
    int fd = open("mm-test.txt", O_RDWR | O_CREAT | O_TRUNC, 0644);
    check(fd >= 0, "create a file");
    const char text[] = "bytes from a file";
    check(write(fd, text, sizeof text) == (ssize_t)sizeof text, "write the file");
    char* f = mmap(NULL, page, PROT_READ, MAP_PRIVATE, fd, 0);
    check(f != MAP_FAILED && memcmp(f, text, sizeof text) == 0 && f[sizeof text] == 0,
          "private file mapping has the file's bytes");
    close(fd);
    unlink("mm-test.txt");

    printf("%s\n", failures ? "mm: FAILED" : "mm: all passed");
    return failures ? 1 : 0;
}
