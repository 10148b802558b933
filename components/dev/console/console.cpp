// The console as a file: what descriptors 0, 1 and 2 of the unikernel's
// application refer to.  Writes go to akhyp_console_write (the serial port
// on kvm, stderr on posix); reads return end of file (console input would
// need an input hypercall; none exists yet).  Portable: it uses only the
// core hypercall group.
#include <ak/file.h>
#include <ak/proc.h>
#include <ak/thread.h>
#include <anykern/hypercall.h>

namespace ak {
namespace {

// Linux's /dev/console is character device 5:1.
constexpr uint64_t k_console_rdev = (5 << 8) | 1;

class ConsoleFile final : public File {
public:
    explicit ConsoleFile(int flags) : File(flags) {}

    Result<size_t> read(Uio&, int64_t&) override {
        if (!readable())
            return EBADF;
        return size_t(0);
    }

    Result<size_t> write(Uio& uio, int64_t&) override {
        if (!writable())
            return EBADF;
        // Bounce through a small buffer: the caller's memory is copied with
        // Uio (which handles iovecs), then written in whole pieces.
        char buf[256];
        size_t total = 0;
        while (uio.resid() > 0) {
            size_t n = uio.copy_in(buf, sizeof buf);
            if (n == 0)
                break;
            akhyp_console_write(buf, n);
            total += n;
        }
        return total;
    }

    Result<void> stat(abi::Stat& st) override {
        st = abi::Stat{};
        st.st_mode = S_IFCHR | 0620;
        st.st_rdev = k_console_rdev;
        st.st_nlink = 1;
        st.st_blksize = 1024;
        return {};
    }

    Result<long> ioctl(unsigned long, void*) override { return ENOTTY; }
};

} // namespace
} // namespace ak

using namespace ak;

// Make descriptors 0 (read), 1 and 2 (write) of the calling thread's
// process the console, leaving any that are already open.  Returns 0 or
// -errno.
extern "C" AK_EXPORT int ak_kern_console_stdio(void) {
    Proc& p = curproc();
    for (int fd = 0; fd < 3; fd++) {
        if (!p.fds().get(fd).is_error())
            continue;
        auto file = try_make_ref<ConsoleFile>(fd == 0 ? O_RDONLY : O_WRONLY);
        if (file.is_error())
            return -file.error();
        auto r = p.fds().install_at(fd, file.release_value(), false);
        if (r.is_error())
            return -r.error();
    }
    return 0;
}
