// mount/umount2 of tmpfs instances; statfs; busy mounts; size limits.
#include "helpers.h"

#include <doctest/doctest.h>
#include <sys/mount.h>
#include <sys/statfs.h>
#include <sys/statvfs.h>

TEST_CASE("mount a tmpfs, cross it both ways, unmount it") {
    std::string d = scratch("mnt");
    REQUIRE(put_file(d + "/under", "hidden"));
    REQUIRE(ak_sys_mount("scratchfs", d.c_str(), "tmpfs", 0, "size=1m") == 0);
    CHECK(list_dir(d).empty()); // the new file system hides what was there
    REQUIRE(put_file(d + "/on-top", "t"));
    struct stat a, b;
    REQUIRE(ak_sys_stat(d.c_str(), &a) == 0);
    REQUIRE(ak_sys_stat("/t", &b) == 0);
    CHECK(a.st_dev != b.st_dev);
    // ".." from the mount's root leaves the mount.
    REQUIRE(ak_sys_stat((d + "/..").c_str(), &a) == 0);
    CHECK(a.st_ino == b.st_ino);
    CHECK(a.st_dev == b.st_dev);
    struct statfs sf;
    REQUIRE(ak_sys_statfs(d.c_str(), &sf) == 0);
    CHECK(sf.f_blocks * sf.f_bsize == 1024 * 1024);
    // Busy while a file is open or a cwd is inside.
    int fd = ak_sys_open((d + "/on-top").c_str(), O_RDONLY, 0);
    CHECK(err(ak_sys_umount2(d.c_str(), 0)) == EBUSY);
    ak_sys_close(fd);
    REQUIRE(ak_sys_chdir(d.c_str()) == 0);
    CHECK(err(ak_sys_umount2(d.c_str(), 0)) == EBUSY);
    REQUIRE(ak_sys_chdir("/") == 0);
    // Size limit.
    std::string big(2 * 1024 * 1024, 'b');
    fd = ak_sys_open((d + "/big").c_str(), O_CREAT | O_WRONLY, 0644);
    long n = ak_sys_write(fd, big.data(), big.size());
    CHECK((n < 0 ? errno == ENOSPC : n < (long)big.size()));
    ak_sys_close(fd);
    // A nested mount pins its parent.
    REQUIRE(ak_sys_mkdir((d + "/inner").c_str(), 0755) == 0);
    REQUIRE(ak_sys_mount("inner", (d + "/inner").c_str(), "tmpfs", 0, nullptr) == 0);
    CHECK(err(ak_sys_umount2(d.c_str(), 0)) == EBUSY);
    REQUIRE(ak_sys_umount2((d + "/inner").c_str(), 0) == 0);
    REQUIRE(ak_sys_umount2(d.c_str(), 0) == 0);
    CHECK(get_file(d + "/under") == "hidden");
}

TEST_CASE("mount and umount errors") {
    std::string d = scratch("mnterr");
    REQUIRE(put_file(d + "/file", ""));
    CHECK(err(ak_sys_mount("x", (d + "/file").c_str(), "tmpfs", 0, nullptr)) == ENOTDIR);
    CHECK(err(ak_sys_mount("x", d.c_str(), "nosuchfs", 0, nullptr)) == ENODEV);
    CHECK(err(ak_sys_mount("x", (d + "/none").c_str(), "tmpfs", 0, nullptr)) == ENOENT);
    CHECK(err(ak_sys_mount("x", d.c_str(), "tmpfs", 0, "bogus=1")) == EINVAL);
    CHECK(err(ak_sys_umount2(d.c_str(), 0)) == EINVAL); // not a mount point
    CHECK(err(ak_sys_umount2("/", 0)) == EINVAL);
    CHECK(err(ak_sys_umount2(d.c_str(), 0x100)) == EINVAL);
}

TEST_CASE("read-only remount refuses writes") {
    std::string d = scratch("ro");
    REQUIRE(ak_sys_mount("rofs", d.c_str(), "tmpfs", 0, nullptr) == 0);
    REQUIRE(put_file(d + "/f", "x"));
    REQUIRE(ak_sys_mount(nullptr, d.c_str(), nullptr, MS_REMOUNT | MS_RDONLY, nullptr) == 0);
    CHECK(err(ak_sys_open((d + "/f").c_str(), O_WRONLY, 0)) == EROFS);
    CHECK(err(ak_sys_mkdir((d + "/n").c_str(), 0755)) == EROFS);
    CHECK(err(ak_sys_unlink((d + "/f").c_str())) == EROFS);
    CHECK(get_file(d + "/f") == "x");
    struct statfs sf;
    REQUIRE(ak_sys_statfs(d.c_str(), &sf) == 0);
    CHECK((sf.f_flags & ST_RDONLY) != 0);
    REQUIRE(ak_sys_umount2(d.c_str(), 0) == 0);
}
