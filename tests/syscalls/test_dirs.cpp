// Directories: mkdir/rmdir, readdir with concurrent changes, rename, getcwd.
#include "helpers.h"

#include <doctest/doctest.h>
#include <set>
#include <string.h>

TEST_CASE("mkdir, nlink, rmdir, errors") {
    std::string d = scratch("mk");
    REQUIRE(ak_sys_mkdir((d + "/a").c_str(), 0755) == 0);
    REQUIRE(ak_sys_mkdir((d + "/a/b").c_str(), 0700) == 0);
    struct stat st;
    REQUIRE(ak_sys_stat((d + "/a").c_str(), &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK(st.st_nlink == 3); // ".", its entry in d, "b/.."
    CHECK((st.st_mode & 07777) == 0755);
    CHECK(err(ak_sys_mkdir((d + "/a").c_str(), 0755)) == EEXIST);
    CHECK(err(ak_sys_mkdir("/", 0755)) == EEXIST);
    CHECK(err(ak_sys_mkdir((d + "/x/y").c_str(), 0755)) == ENOENT);
    REQUIRE(put_file(d + "/file", "z"));
    CHECK(err(ak_sys_mkdir((d + "/file/y").c_str(), 0755)) == ENOTDIR);
    CHECK(err(ak_sys_rmdir((d + "/a").c_str())) == ENOTEMPTY);
    CHECK(err(ak_sys_rmdir((d + "/file").c_str())) == ENOTDIR);
    CHECK(err(ak_sys_rmdir((d + "/a/.").c_str())) == EINVAL);
    CHECK(err(ak_sys_rmdir((d + "/a/..").c_str())) == ENOTEMPTY);
    CHECK(err(ak_sys_rmdir("/")) == EBUSY);
    CHECK(err(ak_sys_unlink((d + "/a").c_str())) == EISDIR);
    CHECK(err(ak_sys_unlink((d + "/file/").c_str())) == ENOTDIR);
    REQUIRE(ak_sys_rmdir((d + "/a/b").c_str()) == 0);
    REQUIRE(ak_sys_stat((d + "/a").c_str(), &st) == 0);
    CHECK(st.st_nlink == 2);
    REQUIRE(ak_sys_rmdir((d + "/a").c_str()) == 0);
    CHECK(err(ak_sys_stat((d + "/a").c_str(), &st)) == ENOENT);
    CHECK(ak_sys_mkdirat(AT_FDCWD, (d + "/viaat").c_str(), 0755) == 0);
    CHECK(ak_sys_unlinkat(AT_FDCWD, (d + "/viaat").c_str(), AT_REMOVEDIR) == 0);
    CHECK(err(ak_sys_unlinkat(AT_FDCWD, (d + "/file").c_str(), 0x4000)) == EINVAL);
}

TEST_CASE("readdir lists every entry once, also across many calls") {
    std::string d = scratch("many");
    std::set<std::string> want;
    for (int i = 0; i < 500; i++) {
        std::string n = "entry-" + std::to_string(i);
        REQUIRE(put_file(d + "/" + n, ""));
        want.insert(n);
    }
    auto names = list_dir(d); // uses a small buffer: many getdents64 calls
    CHECK(names.size() == 500);
    CHECK(std::set<std::string>(names.begin(), names.end()) == want);
}

TEST_CASE("readdir while entries are removed sees each survivor exactly once") {
    std::string d = scratch("churn");
    for (int i = 0; i < 100; i++)
        REQUIRE(put_file(d + "/f" + std::to_string(i), ""));
    int fd = ak_sys_open(d.c_str(), O_RDONLY | O_DIRECTORY, 0);
    REQUIRE(fd >= 0);
    char buf[256];
    std::multiset<std::string> seen;
    bool removed = false;
    ssize_t n;
    while ((n = ak_sys_getdents64(fd, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            unsigned short reclen;
            memcpy(&reclen, buf + off + 16, 2);
            std::string name(buf + off + 19);
            off += reclen;
            if (name != "." && name != "..")
                seen.insert(name);
        }
        if (!removed) {
            for (int i = 50; i < 100; i += 2)
                REQUIRE(ak_sys_unlink((d + "/f" + std::to_string(i)).c_str()) == 0);
            removed = true;
        }
    }
    CHECK(n == 0);
    ak_sys_close(fd);
    for (int i = 0; i < 100; i++) {
        std::string name = "f" + std::to_string(i);
        if (i >= 50 && i % 2 == 0)
            continue; // removed: may or may not have been seen
        CHECK(seen.count(name) == 1);
    }
    for (auto& s : seen)
        CHECK(seen.count(s) == 1);
}

TEST_CASE("getdents64 errors") {
    std::string d = scratch("gd");
    REQUIRE(put_file(d + "/f", ""));
    int fd = ak_sys_open((d + "/f").c_str(), O_RDONLY, 0);
    char buf[256];
    CHECK(err(ak_sys_getdents64(fd, buf, sizeof buf)) == ENOTDIR);
    ak_sys_close(fd);
    fd = ak_sys_open(d.c_str(), O_RDONLY | O_DIRECTORY, 0);
    CHECK(err(ak_sys_getdents64(fd, buf, 10)) == EINVAL);
    ak_sys_close(fd);
    CHECK(err(ak_sys_getdents64(9999, buf, sizeof buf)) == EBADF);
}

TEST_CASE("rename: files, directories, replacing, across directories, flags") {
    std::string d = scratch("ren");
    REQUIRE(put_file(d + "/a", "A"));
    REQUIRE(put_file(d + "/b", "B"));
    REQUIRE(ak_sys_rename((d + "/a").c_str(), (d + "/b").c_str()) == 0); // replaces b
    CHECK(get_file(d + "/b") == "A");
    CHECK(err(ak_sys_access((d + "/a").c_str(), F_OK)) == ENOENT);
    REQUIRE(ak_sys_mkdir((d + "/d1").c_str(), 0755) == 0);
    REQUIRE(ak_sys_mkdir((d + "/d2").c_str(), 0755) == 0);
    REQUIRE(ak_sys_mkdir((d + "/d1/sub").c_str(), 0755) == 0);
    REQUIRE(put_file(d + "/d1/sub/x", "X"));
    // Move a directory across directories; ".." must follow.
    REQUIRE(ak_sys_rename((d + "/d1/sub").c_str(), (d + "/d2/moved").c_str()) == 0);
    CHECK(get_file(d + "/d2/moved/x") == "X");
    CHECK(get_file(d + "/d2/moved/../moved/x") == "X");
    struct stat st;
    REQUIRE(ak_sys_stat((d + "/d1").c_str(), &st) == 0);
    CHECK(st.st_nlink == 2);
    REQUIRE(ak_sys_stat((d + "/d2").c_str(), &st) == 0);
    CHECK(st.st_nlink == 3);
    // Replace an empty directory; refuse a non-empty one.
    REQUIRE(ak_sys_mkdir((d + "/empty").c_str(), 0755) == 0);
    REQUIRE(ak_sys_rename((d + "/d1").c_str(), (d + "/empty").c_str()) == 0);
    CHECK(err(ak_sys_rename((d + "/empty").c_str(), (d + "/d2").c_str())) == ENOTEMPTY);
    // Type mismatches and loops.
    CHECK(err(ak_sys_rename((d + "/b").c_str(), (d + "/d2").c_str())) == EISDIR);
    CHECK(err(ak_sys_rename((d + "/d2").c_str(), (d + "/b").c_str())) == ENOTDIR);
    CHECK(err(ak_sys_rename((d + "/d2").c_str(), (d + "/d2/moved/inside").c_str())) == EINVAL);
    CHECK(err(ak_sys_rename((d + "/nothing").c_str(), (d + "/z").c_str())) == ENOENT);
    CHECK(err(ak_sys_rename((d + "/.").c_str(), (d + "/z").c_str())) == EBUSY);
    // renameat2 flags.
    REQUIRE(put_file(d + "/c", "C"));
    CHECK(err(ak_sys_renameat2(AT_FDCWD, (d + "/c").c_str(), AT_FDCWD, (d + "/b").c_str(),
                               RENAME_NOREPLACE)) == EEXIST);
    REQUIRE(ak_sys_renameat2(AT_FDCWD, (d + "/c").c_str(), AT_FDCWD, (d + "/b").c_str(),
                             RENAME_EXCHANGE) == 0);
    CHECK(get_file(d + "/b") == "C");
    CHECK(get_file(d + "/c") == "A");
    REQUIRE(ak_sys_renameat2(AT_FDCWD, (d + "/c").c_str(), AT_FDCWD, (d + "/d2").c_str(),
                             RENAME_EXCHANGE) == 0);
    CHECK(get_file(d + "/d2") == "A");
    CHECK(get_file(d + "/c/moved/x") == "X");
    CHECK(err(ak_sys_renameat2(AT_FDCWD, (d + "/b").c_str(), AT_FDCWD, (d + "/zz").c_str(),
                               RENAME_EXCHANGE)) == ENOENT);
    CHECK(err(ak_sys_renameat2(AT_FDCWD, (d + "/b").c_str(), AT_FDCWD, (d + "/zz").c_str(),
                               RENAME_EXCHANGE | RENAME_NOREPLACE)) == EINVAL);
    // Renaming a file onto a hard link of itself does nothing.
    REQUIRE(ak_sys_link((d + "/b").c_str(), (d + "/b2").c_str()) == 0);
    REQUIRE(ak_sys_rename((d + "/b").c_str(), (d + "/b2").c_str()) == 0);
    CHECK(get_file(d + "/b") == "C");
}

TEST_CASE("chdir, fchdir, getcwd, relative paths and ..") {
    std::string d = scratch("cwd");
    REQUIRE(ak_sys_mkdir((d + "/x").c_str(), 0755) == 0);
    REQUIRE(ak_sys_mkdir((d + "/x/y").c_str(), 0755) == 0);
    REQUIRE(ak_sys_chdir((d + "/x/y").c_str()) == 0);
    char buf[256];
    REQUIRE(ak_sys_getcwd(buf, sizeof buf) > 0);
    CHECK(std::string(buf) == d + "/x/y");
    REQUIRE(put_file("rel", "r"));
    CHECK(get_file(d + "/x/y/rel") == "r");
    REQUIRE(ak_sys_chdir("../..") == 0);
    REQUIRE(ak_sys_getcwd(buf, sizeof buf) > 0);
    CHECK(std::string(buf) == d);
    CHECK(err(ak_sys_getcwd(buf, 3)) == ERANGE);
    int fd = ak_sys_open((d + "/x").c_str(), O_RDONLY | O_DIRECTORY, 0);
    REQUIRE(ak_sys_fchdir(fd) == 0);
    REQUIRE(ak_sys_getcwd(buf, sizeof buf) > 0);
    CHECK(std::string(buf) == d + "/x");
    CHECK(get_file("y/rel") == "r");
    // *at calls relative to a directory descriptor.
    CHECK(ak_sys_mkdirat(fd, "z", 0755) == 0);
    struct stat st;
    CHECK(ak_sys_newfstatat(fd, "z", &st, 0) == 0);
    CHECK(S_ISDIR(st.st_mode));
    int f2 = ak_sys_openat(fd, "y/rel", O_RDONLY, 0);
    CHECK(f2 >= 0);
    ak_sys_close(f2);
    CHECK(err(ak_sys_chdir((d + "/x/y/rel").c_str())) == ENOTDIR);
    CHECK(err(ak_sys_openat(f2, "y", O_RDONLY, 0)) == EBADF);
    ak_sys_close(fd);
    REQUIRE(ak_sys_chdir("/") == 0);
    REQUIRE(ak_sys_getcwd(buf, sizeof buf) > 0);
    CHECK(std::string(buf) == "/");
    REQUIRE(ak_sys_chdir("/..") == 0); // .. of the root is the root
    REQUIRE(ak_sys_getcwd(buf, sizeof buf) > 0);
    CHECK(std::string(buf) == "/");
}
