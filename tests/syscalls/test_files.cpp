// Regular files on tmpfs: data, offsets, sparse files, truncation, times.
#include "helpers.h"

#include <doctest/doctest.h>
#include <string.h>
#include <sys/statfs.h>
#include <sys/uio.h>
#include <time.h>

TEST_CASE("create, write, read back, stat") {
    std::string d = scratch("basic");
    std::string f = d + "/a.txt";
    REQUIRE(put_file(f, "hello world"));
    CHECK(get_file(f) == "hello world");
    struct stat st;
    REQUIRE(ak_sys_stat(f.c_str(), &st) == 0);
    CHECK(S_ISREG(st.st_mode));
    CHECK((st.st_mode & 07777) == 0644);
    CHECK(st.st_size == 11);
    CHECK(st.st_nlink == 1);
    CHECK(st.st_uid == 0);
    CHECK(st.st_blksize == 4096);
    CHECK(st.st_blocks >= 8); // one 4 KiB page in 512-byte units
}

TEST_CASE("O_EXCL, O_TRUNC, O_APPEND, O_CREAT without a name") {
    std::string d = scratch("flags");
    std::string f = d + "/x";
    int fd = ak_sys_open(f.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600);
    REQUIRE(fd >= 0);
    CHECK(ak_sys_write(fd, "abcdef", 6) == 6);
    ak_sys_close(fd);
    CHECK(err(ak_sys_open(f.c_str(), O_CREAT | O_EXCL | O_WRONLY, 0600)) == EEXIST);
    fd = ak_sys_open(f.c_str(), O_WRONLY | O_APPEND, 0);
    REQUIRE(fd >= 0);
    CHECK(ak_sys_lseek(fd, 0, SEEK_SET) == 0);
    CHECK(ak_sys_write(fd, "XY", 2) == 2); // goes to the end regardless
    ak_sys_close(fd);
    CHECK(get_file(f) == "abcdefXY");
    fd = ak_sys_open(f.c_str(), O_WRONLY | O_TRUNC, 0);
    REQUIRE(fd >= 0);
    ak_sys_close(fd);
    CHECK(get_file(f).empty());
    CHECK(err(ak_sys_open((d + "/").c_str(), O_CREAT | O_WRONLY, 0600)) == EISDIR);
    CHECK(err(ak_sys_open((d + "/nope/x").c_str(), O_CREAT | O_WRONLY, 0600)) == ENOENT);
    CHECK(err(ak_sys_open((f + "/y").c_str(), O_CREAT | O_WRONLY, 0600)) == ENOTDIR);
    CHECK(err(ak_sys_open(d.c_str(), O_WRONLY, 0)) == EISDIR);
    CHECK(err(ak_sys_open(f.c_str(), O_RDONLY | O_DIRECTORY, 0)) == ENOTDIR);
    CHECK(err(ak_sys_open((d + "/missing").c_str(), O_RDONLY, 0)) == ENOENT);
    CHECK(err(ak_sys_open("", O_RDONLY, 0)) == ENOENT);
    CHECK(err(ak_sys_open(nullptr, O_RDONLY, 0)) == EFAULT);
    int c = ak_sys_creat((d + "/viacreat").c_str(), 0640);
    REQUIRE(c >= 0);
    CHECK((ak_sys_fcntl(c, F_GETFL, 0) & O_ACCMODE) == O_WRONLY);
    ak_sys_close(c);
}

TEST_CASE("pread/pwrite/readv/writev and lseek") {
    std::string f = scratch("rw") + "/f";
    int fd = ak_sys_open(f.c_str(), O_CREAT | O_RDWR, 0644);
    REQUIRE(fd >= 0);
    char a[] = "0123", b[] = "456789";
    struct iovec iov[2] = {{a, 4}, {b, 6}};
    CHECK(ak_sys_writev(fd, iov, 2) == 10);
    CHECK(ak_sys_lseek(fd, 0, SEEK_CUR) == 10);
    char buf[16] = {};
    CHECK(ak_sys_pread64(fd, buf, 3, 4) == 3);
    CHECK(std::string(buf, 3) == "456");
    CHECK(ak_sys_lseek(fd, 0, SEEK_CUR) == 10); // pread leaves the offset alone
    CHECK(ak_sys_pwrite64(fd, "ab", 2, 8) == 2);
    char x[5] = {}, y[5] = {};
    struct iovec riov[2] = {{x, 5}, {y, 5}};
    CHECK(ak_sys_lseek(fd, 0, SEEK_SET) == 0);
    CHECK(ak_sys_readv(fd, riov, 2) == 10);
    CHECK(std::string(x, 5) == "01234");
    CHECK(std::string(y, 5) == "567ab");
    CHECK(ak_sys_read(fd, buf, sizeof buf) == 0); // EOF
    CHECK(ak_sys_lseek(fd, -3, SEEK_END) == 7);
    CHECK(err(ak_sys_lseek(fd, -100, SEEK_SET)) == EINVAL);
    CHECK(err(ak_sys_lseek(fd, 0, 99)) == EINVAL);
    CHECK(err(ak_sys_pread64(fd, buf, 1, -1)) == EINVAL);
    CHECK(err(ak_sys_readv(fd, riov, -1)) == EINVAL);
    CHECK(err(ak_sys_readv(fd, riov, 1025)) == EINVAL);
    ak_sys_close(fd);
    fd = ak_sys_open(f.c_str(), O_RDONLY, 0);
    CHECK(err(ak_sys_write(fd, "z", 1)) == EBADF);
    ak_sys_close(fd);
    fd = ak_sys_open(f.c_str(), O_WRONLY, 0);
    CHECK(err(ak_sys_read(fd, buf, 1)) == EBADF);
    ak_sys_close(fd);
}

TEST_CASE("sparse files and large offsets") {
    std::string f = scratch("sparse") + "/s";
    int fd = ak_sys_open(f.c_str(), O_CREAT | O_RDWR, 0644);
    REQUIRE(fd >= 0);
    const off_t far = (off_t)1 << 40; // 1 TiB
    CHECK(ak_sys_pwrite64(fd, "end", 3, far) == 3);
    struct stat st;
    REQUIRE(ak_sys_fstat(fd, &st) == 0);
    CHECK(st.st_size == far + 3);
    CHECK(st.st_blocks <= 16); // only the written page is allocated
    char buf[8];
    memset(buf, 'q', sizeof buf);
    CHECK(ak_sys_pread64(fd, buf, 8, 12345) == 8);
    for (char c : buf)
        CHECK(c == 0);
    CHECK(ak_sys_pread64(fd, buf, 3, far) == 3);
    CHECK(std::string(buf, 3) == "end");
    CHECK(ak_sys_lseek(fd, 0, SEEK_END) == far + 3);
    ak_sys_close(fd);
}

TEST_CASE("truncate grows with zeros and shrinks") {
    std::string f = scratch("trunc") + "/t";
    REQUIRE(put_file(f, std::string(10000, 'a')));
    CHECK(ak_sys_truncate(f.c_str(), 5000) == 0);
    CHECK(get_file(f) == std::string(5000, 'a'));
    CHECK(ak_sys_truncate(f.c_str(), 6000) == 0);
    CHECK(get_file(f) == std::string(5000, 'a') + std::string(1000, '\0'));
    int fd = ak_sys_open(f.c_str(), O_RDWR, 0);
    CHECK(ak_sys_ftruncate(fd, 0) == 0);
    CHECK(err(ak_sys_ftruncate(fd, -1)) == EINVAL);
    ak_sys_close(fd);
    CHECK(get_file(f).empty());
    fd = ak_sys_open(f.c_str(), O_RDONLY, 0);
    CHECK(err(ak_sys_ftruncate(fd, 10)) == EINVAL);
    ak_sys_close(fd);
    CHECK(err(ak_sys_truncate(f.c_str(), -5)) == EINVAL);
    CHECK(err(ak_sys_truncate("/t", 0)) == EISDIR);
}

TEST_CASE("timestamps: write updates mtime/ctime, utimensat sets them") {
    std::string f = scratch("times") + "/t";
    REQUIRE(put_file(f, "x"));
    struct timespec ts[2] = {{1000, 5}, {2000, 6}};
    REQUIRE(ak_sys_utimensat(AT_FDCWD, f.c_str(), ts, 0) == 0);
    struct stat st;
    REQUIRE(ak_sys_stat(f.c_str(), &st) == 0);
    CHECK(st.st_atim.tv_sec == 1000);
    CHECK(st.st_atim.tv_nsec == 5);
    CHECK(st.st_mtim.tv_sec == 2000);
    CHECK(st.st_mtim.tv_nsec == 6);
    time_t now = time(nullptr);
    CHECK(st.st_ctim.tv_sec >= now - 5);
    int fd = ak_sys_open(f.c_str(), O_WRONLY, 0);
    ak_sys_write(fd, "y", 1);
    ak_sys_close(fd);
    REQUIRE(ak_sys_stat(f.c_str(), &st) == 0);
    CHECK(st.st_mtim.tv_sec >= now - 5);
    struct timespec omit[2] = {{0, UTIME_OMIT}, {3000, 0}};
    REQUIRE(ak_sys_utimensat(AT_FDCWD, f.c_str(), omit, 0) == 0);
    REQUIRE(ak_sys_stat(f.c_str(), &st) == 0);
    CHECK(st.st_atim.tv_sec == 1000);
    CHECK(st.st_mtim.tv_sec == 3000);
    struct timespec bad[2] = {{0, 1000000000}, {0, 0}};
    CHECK(err(ak_sys_utimensat(AT_FDCWD, f.c_str(), bad, 0)) == EINVAL);
    CHECK(ak_sys_utimensat(AT_FDCWD, f.c_str(), nullptr, 0) == 0);
}

TEST_CASE("statx and statfs") {
    std::string f = scratch("statx") + "/s";
    REQUIRE(put_file(f, "12345"));
    struct statx sx;
    REQUIRE(ak_sys_statx(AT_FDCWD, f.c_str(), 0, STATX_BASIC_STATS, &sx) == 0);
    CHECK(sx.stx_size == 5);
    CHECK(S_ISREG(sx.stx_mode));
    CHECK((sx.stx_mask & STATX_BASIC_STATS) == STATX_BASIC_STATS);
    struct statfs sf;
    REQUIRE(ak_sys_statfs("/", &sf) == 0);
    CHECK(sf.f_type == 0x01021994); // TMPFS_MAGIC
    CHECK(sf.f_namelen == 255);
    int fd = ak_sys_open(f.c_str(), O_RDONLY, 0);
    REQUIRE(ak_sys_fstatfs(fd, &sf) == 0);
    CHECK(sf.f_bsize == 4096);
    CHECK(ak_sys_fsync(fd) == 0);
    CHECK(ak_sys_fdatasync(fd) == 0);
    ak_sys_close(fd);
}

TEST_CASE("names: NAME_MAX and PATH_MAX") {
    std::string d = scratch("names");
    std::string ok255(255, 'n');
    CHECK(put_file(d + "/" + ok255, "x"));
    std::string long256(256, 'n');
    CHECK(err(ak_sys_open((d + "/" + long256).c_str(), O_CREAT | O_WRONLY, 0644)) == ENAMETOOLONG);
    std::string longpath = d;
    while (longpath.size() < 5000)
        longpath += "/aaaaaaaa";
    CHECK(err(ak_sys_mkdir(longpath.c_str(), 0755)) == ENAMETOOLONG);
}
