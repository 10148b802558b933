// The console as a file: what descriptors 0, 1 and 2 of the unikernel's
// application refer to.  Writes go to akhyp_console_write (the serial port
// on kvm, stderr on posix); reads return end of file (console input would
// need an input hypercall; none exists yet).  Portable: it uses only the
// core hypercall group.
//
// It is a terminal as far as programs can tell (isatty: glibc asks TCGETS,
// musl TIOCGWINSZ): the terminal ioctls keep one termios and one window
// size for the console, which nothing interprets (output is passed through
// unchanged whatever OPOST says).
#include <ak/abi/net.h>
#include <ak/abi/process.h>
#include <ak/file.h>
#include <ak/params.h>
#include <ak/proc.h>
#include <ak/thread.h>
#include <anykern/hypercall.h>

namespace ak {
namespace {

// Linux's /dev/console is character device 5:1.
constexpr uint64_t k_console_rdev = (5 << 8) | 1;

// The terminal settings of a serial console as Linux's defaults leave them
// (stty: icrnl ixon opost onlcr cs8 cread b38400 isig icanon echo echoe
// echok echoctl echoke iexten) with the usual control characters.
constexpr abi::Termios k_default_termios = {
    0x500,  // ICRNL | IXON
    0x5,    // OPOST | ONLCR
    0xbf,   // B38400 | CS8 | CREAD
    0x8a3b, // ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHOCTL | ECHOKE | IEXTEN
    0,      // N_TTY
    {3, 0x1c, 0x7f, 0x15, 4, 0, 1, 0, 0x11, 0x13, 0x1a, 0, 0x12, 0x0f, 0x17, 0x16, 0, 0, 0},
};

// The one console's terminal state.
struct Terminal {
    Mutex lock;
    bool ready AK_GUARDED_BY(lock) = false;
    abi::Termios termios AK_GUARDED_BY(lock) = k_default_termios;
    abi::Winsize winsize AK_GUARDED_BY(lock) = {24, 80, 0, 0};
};
NoDestroy<Terminal> g_terminal;

// A window size parameter ("console_rows", "console_cols"), else dflt.
uint16_t size_param(const char* name, uint16_t dflt) {
    char buf[16];
    if (akhyp_getparam(name, buf, sizeof buf) != 0)
        return dflt;
    auto v = parse_size(buf);
    return v.ok() && v.value() > 0 && v.value() <= 0xffff ? static_cast<uint16_t>(v.value()) : dflt;
}

// The window size comes from the parameters on first use (the platform may
// not be up when the globals are built).
void terminal_ready_locked(Terminal& t) AK_REQUIRES(t.lock) {
    if (!t.ready) {
        t.winsize.ws_row = size_param("console_rows", 24);
        t.winsize.ws_col = size_param("console_cols", 80);
        t.ready = true;
    }
}

template <typename T> Result<void> put(void* arg, const T& v) {
    if (!arg)
        return EFAULT;
    __builtin_memcpy(arg, &v, sizeof v);
    return {};
}

template <typename T> Result<T> get(const void* arg) {
    if (!arg)
        return EFAULT;
    T v;
    __builtin_memcpy(&v, arg, sizeof v);
    return v;
}

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

    Result<long> ioctl(unsigned long cmd, void* arg) override {
        using namespace abi;
        Terminal& t = *g_terminal;
        switch (cmd) {
        case k_tcgets: {
            MutexGuard g(t.lock);
            terminal_ready_locked(t);
            TRY(put(arg, t.termios));
            return 0L;
        }
        case k_tcsets:
        case k_tcsetsw: // nothing is buffered: draining is immediate
        case k_tcsetsf: {
            Termios next = TRY(get<Termios>(arg));
            MutexGuard g(t.lock);
            terminal_ready_locked(t);
            t.termios = next;
            return 0L;
        }
        case k_tiocgwinsz: {
            MutexGuard g(t.lock);
            terminal_ready_locked(t);
            TRY(put(arg, t.winsize));
            return 0L;
        }
        case k_tiocswinsz: {
            Winsize next = TRY(get<Winsize>(arg));
            MutexGuard g(t.lock);
            terminal_ready_locked(t);
            t.winsize = next;
            return 0L;
        }
        case k_tiocgpgrp: {
            // No job control: the caller's group is the foreground one.
            int pgrp = curproc().pgid();
            TRY(put(arg, pgrp));
            return 0L;
        }
        case k_tiocspgrp: {
            int pgrp = TRY(get<int>(arg));
            if (pgrp < 0)
                return EINVAL;
            return 0L;
        }
        case k_fionread: {
            int none = 0; // reads are at end of file
            TRY(put(arg, none));
            return 0L;
        }
        case k_tcsbrk: // tcdrain, tcsendbreak: output is never queued
        case k_tcxonc:
        case k_tcflsh:
            return 0L;
        default:
            return ENOTTY;
        }
    }
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
