// Permissions, ownership and the rules for an unprivileged process.
#include "helpers.h"

#include <doctest/doctest.h>

TEST_CASE("an unprivileged process is refused what it may not do") {
    std::string d = scratch("perm");
    REQUIRE(ak_sys_mkdir((d + "/private").c_str(), 0700) == 0);
    REQUIRE(put_file(d + "/private/secret", "s"));
    REQUIRE(put_file(d + "/ro", "r", 0444));
    REQUIRE(put_file(d + "/rootfile", "x", 0644));
    REQUIRE(ak_sys_mkdir((d + "/open").c_str(), 0777) == 0);
    REQUIRE(ak_sys_chmod((d + "/open").c_str(), 0777) == 0); // umask took 022
    as_user(1000, 1000, [&] {
        CHECK(ak_sys_getuid() == 1000);
        CHECK(ak_sys_geteuid() == 1000);
        CHECK(ak_sys_getgid() == 1000);
        struct stat st;
        CHECK(err(ak_sys_stat((d + "/private/secret").c_str(), &st)) == EACCES);
        CHECK(err(ak_sys_open((d + "/private/new").c_str(), O_CREAT | O_WRONLY, 0600)) == EACCES);
        CHECK(err(ak_sys_open((d + "/ro").c_str(), O_WRONLY, 0)) == EACCES);
        CHECK(err(ak_sys_open((d + "/rootfile").c_str(), O_RDWR, 0)) == EACCES);
        CHECK(ak_sys_open((d + "/rootfile").c_str(), O_RDONLY, 0) >= 0);
        CHECK(err(ak_sys_chmod((d + "/rootfile").c_str(), 0777)) == EPERM);
        CHECK(err(ak_sys_chown((d + "/rootfile").c_str(), 1000, 1000)) == EPERM);
        CHECK(err(ak_sys_unlink((d + "/rootfile").c_str())) == EACCES);
        CHECK(err(ak_sys_mkdir((d + "/mine").c_str(), 0755)) == EACCES);
        CHECK(err(ak_sys_setuid(0)) == EPERM);
        CHECK(err(ak_sys_setgid(0)) == EPERM);
        CHECK(err(ak_sys_setgroups(0, nullptr)) == EPERM);
        CHECK(err(ak_sys_mount("tmpfs", (d + "/open").c_str(), "tmpfs", 0, nullptr)) == EPERM);
        CHECK(err(ak_sys_access((d + "/ro").c_str(), W_OK)) == EACCES);
        CHECK(ak_sys_access((d + "/ro").c_str(), R_OK) == 0);
        CHECK(err(ak_sys_access((d + "/ro").c_str(), 8)) == EINVAL);
        // What it owns it may change.
        REQUIRE(put_file(d + "/open/mine", "m", 0600));
        REQUIRE(ak_sys_stat((d + "/open/mine").c_str(), &st) == 0);
        CHECK(st.st_uid == 1000);
        CHECK(st.st_gid == 1000);
        CHECK(ak_sys_chmod((d + "/open/mine").c_str(), 0640) == 0);
        CHECK(err(ak_sys_chown((d + "/open/mine").c_str(), 0, -1)) == EPERM);
        CHECK(err(ak_sys_chown((d + "/open/mine").c_str(), -1, 0)) == EPERM); // not its group
        struct timespec t[2] = {{1, 0}, {2, 0}};
        CHECK(ak_sys_utimensat(AT_FDCWD, (d + "/open/mine").c_str(), t, 0) == 0);
        CHECK(err(ak_sys_utimensat(AT_FDCWD, (d + "/rootfile").c_str(), t, 0)) == EPERM);
        CHECK(err(ak_sys_utimensat(AT_FDCWD, (d + "/rootfile").c_str(), nullptr, 0)) == EACCES);
    });
    // Root reads and writes regardless of modes.
    CHECK(get_file(d + "/ro") == "r");
    CHECK(ak_sys_open((d + "/ro").c_str(), O_WRONLY, 0) >= 0);
}

TEST_CASE("sticky directories protect other users' entries") {
    std::string d = scratch("sticky");
    REQUIRE(ak_sys_chmod(d.c_str(), 01777) == 0);
    as_user(1001, 1001, [&] { REQUIRE(put_file(d + "/alice", "a")); });
    as_user(1002, 1002, [&] {
        CHECK(err(ak_sys_unlink((d + "/alice").c_str())) == EPERM);
        CHECK(err(ak_sys_rename((d + "/alice").c_str(), (d + "/bob").c_str())) == EPERM);
        REQUIRE(put_file(d + "/bob", "b"));
        CHECK(ak_sys_unlink((d + "/bob").c_str()) == 0);
    });
    as_user(1001, 1001, [&] { CHECK(ak_sys_unlink((d + "/alice").c_str()) == 0); });
}

TEST_CASE("chown by root; umask; setgid directories") {
    std::string d = scratch("own");
    REQUIRE(put_file(d + "/f", "x", 06755));
    REQUIRE(ak_sys_chmod((d + "/f").c_str(), 06755) == 0);
    REQUIRE(ak_sys_chown((d + "/f").c_str(), 42, 43) == 0);
    struct stat st;
    REQUIRE(ak_sys_stat((d + "/f").c_str(), &st) == 0);
    CHECK(st.st_uid == 42);
    CHECK(st.st_gid == 43);
    CHECK((st.st_mode & 06000) == 0); // chown cleared set-id bits
    mode_t old = ak_sys_umask(077);
    CHECK(old == 022);
    REQUIRE(put_file(d + "/masked", "", 0666));
    REQUIRE(ak_sys_stat((d + "/masked").c_str(), &st) == 0);
    CHECK((st.st_mode & 0777) == 0600);
    ak_sys_umask(022);
    REQUIRE(ak_sys_mkdir((d + "/sg").c_str(), 0775) == 0);
    REQUIRE(ak_sys_chown((d + "/sg").c_str(), 0, 77) == 0);
    REQUIRE(ak_sys_chmod((d + "/sg").c_str(), 02775) == 0);
    REQUIRE(put_file(d + "/sg/inherits", ""));
    REQUIRE(ak_sys_stat((d + "/sg/inherits").c_str(), &st) == 0);
    CHECK(st.st_gid == 77);
    REQUIRE(ak_sys_lchown((d + "/sg/inherits").c_str(), 5, -1) == 0);
    int fd = ak_sys_open((d + "/sg/inherits").c_str(), O_RDONLY, 0);
    REQUIRE(ak_sys_fchown(fd, -1, 6) == 0);
    REQUIRE(ak_sys_fchmod(fd, 0600) == 0);
    REQUIRE(ak_sys_fstat(fd, &st) == 0);
    CHECK(st.st_uid == 5);
    CHECK(st.st_gid == 6);
    CHECK((st.st_mode & 07777) == 0600);
    ak_sys_close(fd);
    CHECK(ak_sys_fchmodat(AT_FDCWD, (d + "/masked").c_str(), 0604) == 0);
    CHECK(ak_sys_fchownat(AT_FDCWD, (d + "/masked").c_str(), 9, 9, AT_SYMLINK_NOFOLLOW) == 0);
    CHECK(err(ak_sys_fchownat(AT_FDCWD, (d + "/masked").c_str(), 9, 9, 0x8000)) == EINVAL);
}
