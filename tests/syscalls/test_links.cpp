// Hard links and symbolic links: counts, targets, loops, *at flags.
#include "helpers.h"

#include <doctest/doctest.h>

TEST_CASE("hard links share data and count") {
    std::string d = scratch("hard");
    REQUIRE(put_file(d + "/a", "data"));
    REQUIRE(ak_sys_link((d + "/a").c_str(), (d + "/b").c_str()) == 0);
    struct stat sa, sb;
    REQUIRE(ak_sys_stat((d + "/a").c_str(), &sa) == 0);
    REQUIRE(ak_sys_stat((d + "/b").c_str(), &sb) == 0);
    CHECK(sa.st_ino == sb.st_ino);
    CHECK(sa.st_nlink == 2);
    REQUIRE(put_file(d + "/b", "changed"));
    CHECK(get_file(d + "/a") == "changed");
    REQUIRE(ak_sys_unlink((d + "/a").c_str()) == 0);
    REQUIRE(ak_sys_stat((d + "/b").c_str(), &sb) == 0);
    CHECK(sb.st_nlink == 1);
    CHECK(err(ak_sys_link((d + "/b").c_str(), (d + "/b").c_str())) == EEXIST);
    CHECK(err(ak_sys_link(d.c_str(), (d + "/dirlink").c_str())) == EPERM);
    CHECK(err(ak_sys_link((d + "/none").c_str(), (d + "/x").c_str())) == ENOENT);
}

TEST_CASE("an unlinked open file stays readable") {
    std::string d = scratch("orphan");
    REQUIRE(put_file(d + "/f", "still here"));
    int fd = ak_sys_open((d + "/f").c_str(), O_RDONLY, 0);
    REQUIRE(fd >= 0);
    REQUIRE(ak_sys_unlink((d + "/f").c_str()) == 0);
    char buf[32] = {};
    CHECK(ak_sys_read(fd, buf, sizeof buf) == 10);
    CHECK(std::string(buf) == "still here");
    struct stat st;
    REQUIRE(ak_sys_fstat(fd, &st) == 0);
    CHECK(st.st_nlink == 0);
    ak_sys_close(fd);
}

TEST_CASE("symlinks: resolution, lstat, readlink, relative targets") {
    std::string d = scratch("sym");
    REQUIRE(ak_sys_mkdir((d + "/dir").c_str(), 0755) == 0);
    REQUIRE(put_file(d + "/dir/target", "T"));
    REQUIRE(ak_sys_symlink("dir/target", (d + "/rel").c_str()) == 0);
    REQUIRE(ak_sys_symlink((d + "/dir").c_str(), (d + "/abs").c_str()) == 0);
    CHECK(get_file(d + "/rel") == "T");
    CHECK(get_file(d + "/abs/target") == "T");
    struct stat st;
    REQUIRE(ak_sys_lstat((d + "/rel").c_str(), &st) == 0);
    CHECK(S_ISLNK(st.st_mode));
    CHECK(st.st_size == 10);
    REQUIRE(ak_sys_stat((d + "/rel").c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    char buf[64];
    CHECK(ak_sys_readlink((d + "/rel").c_str(), buf, sizeof buf) == 10);
    CHECK(std::string(buf, 10) == "dir/target");
    CHECK(ak_sys_readlink((d + "/rel").c_str(), buf, 3) == 3); // truncated, no NUL
    CHECK(err(ak_sys_readlink((d + "/dir").c_str(), buf, sizeof buf)) == EINVAL);
    CHECK(err(ak_sys_readlink((d + "/rel").c_str(), buf, 0)) == EINVAL);
    CHECK(err(ak_sys_symlink("x", (d + "/rel").c_str())) == EEXIST);
    CHECK(err(ak_sys_symlink("", (d + "/empty").c_str())) == ENOENT);
    // A long (slow) symlink target.
    std::string longt(3000, 'p');
    REQUIRE(ak_sys_symlink(longt.c_str(), (d + "/long").c_str()) == 0);
    char lbuf[4096];
    CHECK(ak_sys_readlink((d + "/long").c_str(), lbuf, sizeof lbuf) == 3000);
    // Dangling links.
    REQUIRE(ak_sys_symlink("nowhere", (d + "/dangling").c_str()) == 0);
    CHECK(err(ak_sys_stat((d + "/dangling").c_str(), &st)) == ENOENT);
    CHECK(ak_sys_lstat((d + "/dangling").c_str(), &st) == 0);
    // unlink removes the link, not the target.
    REQUIRE(ak_sys_unlink((d + "/rel").c_str()) == 0);
    CHECK(get_file(d + "/dir/target") == "T");
    // O_NOFOLLOW on a symlink.
    CHECK(err(ak_sys_open((d + "/abs").c_str(), O_RDONLY | O_NOFOLLOW, 0)) == ELOOP);
    // linkat with and without AT_SYMLINK_FOLLOW.
    REQUIRE(ak_sys_linkat(AT_FDCWD, (d + "/dangling").c_str(), AT_FDCWD, (d + "/hl").c_str(), 0) ==
            0);
    REQUIRE(ak_sys_lstat((d + "/hl").c_str(), &st) == 0);
    CHECK(S_ISLNK(st.st_mode));
    // Following "abs" reaches a directory, which cannot be hard-linked.
    CHECK(err(ak_sys_linkat(AT_FDCWD, (d + "/abs").c_str(), AT_FDCWD, (d + "/hl2").c_str(),
                            AT_SYMLINK_FOLLOW)) == EPERM);
    REQUIRE(ak_sys_symlink("dir/target", (d + "/rel2").c_str()) == 0);
    REQUIRE(ak_sys_linkat(AT_FDCWD, (d + "/rel2").c_str(), AT_FDCWD, (d + "/hl3").c_str(),
                          AT_SYMLINK_FOLLOW) == 0);
    REQUIRE(ak_sys_lstat((d + "/hl3").c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK(err(ak_sys_linkat(AT_FDCWD, (d + "/rel2").c_str(), AT_FDCWD, (d + "/hl4").c_str(),
                            0x4000)) == EINVAL);
}

TEST_CASE("symlink loops give ELOOP") {
    std::string d = scratch("loop");
    REQUIRE(ak_sys_symlink("b", (d + "/a").c_str()) == 0);
    REQUIRE(ak_sys_symlink("a", (d + "/b").c_str()) == 0);
    struct stat st;
    CHECK(err(ak_sys_stat((d + "/a").c_str(), &st)) == ELOOP);
    CHECK(err(ak_sys_open((d + "/a/x").c_str(), O_RDONLY, 0)) == ELOOP);
    // A chain of 40 links resolves; 41 does not (SYMLOOP_MAX).
    REQUIRE(put_file(d + "/end", "E"));
    std::string prev = "end";
    for (int i = 0; i < 41; i++) {
        std::string n = "c" + std::to_string(i);
        REQUIRE(ak_sys_symlink(prev.c_str(), (d + "/" + n).c_str()) == 0);
        prev = n;
    }
    CHECK(get_file(d + "/c39") == "E");
    CHECK(get_file(d + "/c40") == "<errno " + std::to_string(ELOOP) + ">");
}
