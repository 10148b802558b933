#include "helpers.h"

#include <algorithm>
#include <doctest/doctest.h>
#include <string.h>

namespace {
struct Dirent64 {
    unsigned long long d_ino;
    long long d_off;
    unsigned short d_reclen;
    unsigned char d_type;
    char d_name[];
};
} // namespace

void kernel_up() {
    static bool up = false;
    if (!up) {
        REQUIRE(ak_init() == 0);
        if (ak_sys_mkdir("/t", 0777) < 0)
            REQUIRE(errno == EEXIST);
        up = true;
    }
}

int err(long r) {
    return r < 0 ? errno : 0;
}

bool put_file(const std::string& path, const std::string& data, mode_t mode) {
    int fd = ak_sys_open(path.c_str(), O_CREAT | O_WRONLY | O_TRUNC, mode);
    if (fd < 0)
        return false;
    bool ok = ak_sys_write(fd, data.data(), data.size()) == static_cast<ssize_t>(data.size());
    return ak_sys_close(fd) == 0 && ok;
}

std::string get_file(const std::string& path) {
    int fd = ak_sys_open(path.c_str(), O_RDONLY, 0);
    if (fd < 0)
        return "<errno " + std::to_string(errno) + ">";
    std::string out;
    char buf[4096];
    ssize_t n;
    while ((n = ak_sys_read(fd, buf, sizeof buf)) > 0)
        out.append(buf, static_cast<size_t>(n));
    ak_sys_close(fd);
    if (n < 0)
        return "<errno " + std::to_string(errno) + ">";
    return out;
}

std::vector<std::string> list_dir(const std::string& path) {
    std::vector<std::string> names;
    int fd = ak_sys_open(path.c_str(), O_RDONLY | O_DIRECTORY, 0);
    REQUIRE(fd >= 0);
    char buf[512];
    ssize_t n;
    while ((n = ak_sys_getdents64(fd, buf, sizeof buf)) > 0) {
        for (ssize_t off = 0; off < n;) {
            auto* d = reinterpret_cast<Dirent64*>(buf + off);
            off += d->d_reclen;
            if (strcmp(d->d_name, ".") && strcmp(d->d_name, ".."))
                names.emplace_back(d->d_name);
        }
    }
    REQUIRE(n == 0);
    ak_sys_close(fd);
    std::sort(names.begin(), names.end());
    return names;
}

std::string scratch(const std::string& name) {
    kernel_up();
    std::string p = "/t/" + name;
    REQUIRE(ak_sys_mkdir(p.c_str(), 0777) == 0);
    return p;
}
