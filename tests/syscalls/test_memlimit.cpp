// The kernel's memory limit: exhaustion gives ENOMEM, never a crash, and
// the kernel recovers when memory is released.
#include "helpers.h"

#include <doctest/doctest.h>
#include <vector>

TEST_CASE("ENOMEM at the memory limit") {
    REQUIRE(ak_setparam("memlimit", "4m") == 0);
    kernel_up();
    std::string d = "/t/fill";
    REQUIRE(ak_sys_mkdir(d.c_str(), 0755) == 0);
    std::string chunk(64 * 1024, 'm');
    int written_files = 0;
    int fail_errno = 0;
    for (int i = 0; i < 1000 && !fail_errno; i++) {
        std::string f = d + "/f" + std::to_string(i);
        int fd = ak_sys_open(f.c_str(), O_CREAT | O_WRONLY, 0644);
        if (fd < 0) {
            fail_errno = errno;
            break;
        }
        long n = ak_sys_write(fd, chunk.data(), chunk.size());
        if (n >= 0 && n < (long)chunk.size()) // a short write: the next one says why
            n = ak_sys_write(fd, chunk.data(), chunk.size());
        if (n < 0)
            fail_errno = errno;
        else if (n == (long)chunk.size())
            written_files++;
        ak_sys_close(fd);
    }
    CHECK(fail_errno == ENOMEM);
    CHECK(written_files > 10);
    CHECK(written_files < 64); // 4 MiB / 64 KiB
    // Many small creations fail cleanly too.
    int created = 0;
    for (int i = 0; i < 100000; i++) {
        std::string f = d + "/small" + std::to_string(i);
        int fd = ak_sys_open(f.c_str(), O_CREAT | O_WRONLY, 0644);
        if (fd < 0) {
            CHECK(errno == ENOMEM);
            break;
        }
        ak_sys_close(fd);
        created++;
    }
    CHECK(created < 100000);
    // Release everything; the kernel works again.
    for (int i = 0; i < 1000; i++)
        ak_sys_unlink((d + "/f" + std::to_string(i)).c_str());
    for (int i = 0; i < created + 1; i++)
        ak_sys_unlink((d + "/small" + std::to_string(i)).c_str());
    CHECK(put_file(d + "/after", std::string(100000, 'a')));
    CHECK(get_file(d + "/after").size() == 100000);
    CHECK(list_dir(d).size() == 1);
}
