// ak-server: a kernel in its own process, serving system calls over a unix
// or TCP socket (docs/remote-protocol.md, docs/ak-server.md).
#include "akproto.h"
#include "server.h"

#include <anykern/anykern.h>
#include <anykern/disk.h>
#include <anykern/kern.h>

#include <cap-ng.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <syslog.h>
#include <unistd.h>

using namespace akserver;

namespace akserver {

namespace {
int g_log_level = k_log_warn;
bool g_syslog = false;
} // namespace

void set_log(int level, bool use_syslog) {
    g_log_level = level;
    g_syslog = use_syslog;
    if (use_syslog)
        openlog("ak-server", LOG_PID, LOG_DAEMON);
}

void log_msg(int level, const char* fmt, ...) {
    if (level > g_log_level)
        return;
    va_list ap;
    va_start(ap, fmt);
    if (g_syslog) {
        static const int prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
        vsyslog(prio[level], fmt, ap);
    } else {
        static const char* names[] = {"error", "warning", "info", "debug"};
        char line[1024];
        int n = snprintf(line, sizeof line, "ak-server: %s: ", names[level]);
        int m = vsnprintf(line + n, sizeof line - static_cast<size_t>(n) - 1, fmt, ap);
        size_t len = static_cast<size_t>(n) + (m < 0 ? 0 : static_cast<size_t>(m));
        if (len > sizeof line - 2)
            len = sizeof line - 2;
        line[len++] = '\n';
        ssize_t w = write(2, line, len);
        (void)w;
    }
    va_end(ap);
}

} // namespace akserver

namespace {

const char k_usage[] =
    "Usage: ak-server [OPTIONS] URL\n"
    "Run an anykern kernel and serve its system calls on URL:\n"
    "  unix:///abs/path.sock   unix socket (clients authenticated by their uid)\n"
    "  tcp://HOST:PORT         TCP (clients must present the shared token)\n"
    "\n"
    "Options:\n"
    "  -c, --ncpu N             virtual CPUs of the kernel (default 1)\n"
    "  -m, --memlimit SIZE      kernel memory limit (k/m/g suffixes)\n"
    "  -d, --disk PATH[,name=NAME][,ro]\n"
    "                           attach a host file or block device as kernel\n"
    "                           disk NAME (default akblk0, akblk1... in order),\n"
    "                           mountable as /dev/NAME (repeatable; opened after\n"
    "                           --user takes effect)\n"
    "  -M, --mount FSTYPE:SOURCE:TARGET[:ro]\n"
    "                           mount a file system at start (repeatable),\n"
    "                           e.g. tmpfs:tmpfs:/mnt; the target is created\n"
    "  -f, --foreground         stay in the foreground, log to stderr\n"
    "                           (default: daemonise once ready, log to syslog)\n"
    "  -l, --log-level LEVEL    error, warn (default), info or debug\n"
    "  -u, --user USER          switch to USER after set-up\n"
    "  -a, --allow-uid UID      also accept clients with this uid (repeatable;\n"
    "                           the server's own uid and root always may)\n"
    "  -t, --token-file FILE    shared secret for tcp:// (or env AK_TOKEN)\n"
    "  -i, --if SPEC            attach a network interface (repeatable):\n"
    "                           TYPE:TARGET[,addr=A/PLEN|,dhcp][,gw=G][,name=IF]\n"
    "                           [,mtu=N][,mac=M][,loss=PCT][,reorder=PCT][,dup=PCT]\n"
    "                           TYPE: tap:IFNAME, tun:IFNAME, packet:IFNAME (existing\n"
    "                           host interface), shm:/bus/file; e.g.\n"
    "                           tap:ak0,addr=10.0.0.2/24,gw=10.0.0.1 (docs/net.md)\n"
    "  -h, --help               this text\n"
    "\n"
    "SIGTERM or SIGINT: stop accepting, sync the file systems, remove the\n"
    "unix socket and exit 0.\n";

int g_signal_pipe[2] = {-1, -1};
const char* g_unix_path = nullptr; // removed when set-up fails after binding

void on_signal(int) {
    int saved = errno;
    char b = 1;
    ssize_t w = write(g_signal_pipe[1], &b, 1);
    (void)w;
    errno = saved;
}

[[noreturn]] void die(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void die(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "ak-server: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    if (g_unix_path)
        unlink(g_unix_path);
    exit(1);
}

int parse_level(const char* s) {
    static const char* names[] = {"error", "warn", "info", "debug"};
    for (int i = 0; i < 4; i++)
        if (!strcmp(s, names[i]))
            return i;
    if (!strcmp(s, "warning"))
        return k_log_warn;
    if (s[0] >= '0' && s[0] <= '3' && !s[1])
        return s[0] - '0';
    return -1;
}

Options parse_options(int argc, char** argv) {
    static const option longopts[] = {
        {"ncpu", required_argument, nullptr, 'c'},
        {"memlimit", required_argument, nullptr, 'm'},
        {"mount", required_argument, nullptr, 'M'},
        {"disk", required_argument, nullptr, 'd'},
        {"foreground", no_argument, nullptr, 'f'},
        {"log-level", required_argument, nullptr, 'l'},
        {"user", required_argument, nullptr, 'u'},
        {"allow-uid", required_argument, nullptr, 'a'},
        {"token-file", required_argument, nullptr, 't'},
        {"if", required_argument, nullptr, 'i'},
        {"help", no_argument, nullptr, 'h'},
        {nullptr, 0, nullptr, 0},
    };
    Options o;
    int ch;
    while ((ch = getopt_long(argc, argv, "c:m:M:d:fl:u:a:t:i:h", longopts, nullptr)) != -1) {
        switch (ch) {
        case 'c':
            o.ncpu = optarg;
            break;
        case 'm':
            o.memlimit = optarg;
            break;
        case 'M':
            o.mounts.push_back(optarg);
            break;
        case 'd':
            o.disks.push_back(optarg);
            break;
        case 'f':
            o.foreground = true;
            break;
        case 'l':
            o.log_level = parse_level(optarg);
            if (o.log_level < 0)
                die("bad log level '%s' (error, warn, info, debug)", optarg);
            break;
        case 'u':
            o.user = optarg;
            break;
        case 'a': {
            char* end;
            errno = 0;
            unsigned long v = strtoul(optarg, &end, 10);
            if (errno || *end || end == optarg || v > 0xfffffffeul)
                die("bad uid '%s'", optarg);
            o.allow_uids.push_back(static_cast<uid_t>(v));
            break;
        }
        case 't':
            o.token_file = optarg;
            break;
        case 'i':
            o.interfaces.push_back(optarg);
            break;
        case 'h':
            fputs(k_usage, stdout);
            exit(0);
        default:
            fputs(k_usage, stderr);
            exit(2);
        }
    }
    if (optind != argc - 1) {
        fprintf(stderr, "ak-server: expected one URL\n%s", k_usage);
        exit(2);
    }
    o.url = argv[optind];
    return o;
}

std::string read_token(const Options& o) {
    std::string t;
    if (!o.token_file.empty()) {
        int fd = open(o.token_file.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0)
            die("cannot read token file '%s': %s", o.token_file.c_str(), strerror(errno));
        struct stat st;
        if (fstat(fd, &st) == 0 && (st.st_mode & 077))
            log_msg(k_log_warn, "token file '%s' is readable by group or others",
                    o.token_file.c_str());
        char buf[akproto::k_max_secret + 2];
        ssize_t n = read(fd, buf, sizeof buf);
        close(fd);
        if (n < 0)
            die("cannot read token file '%s': %s", o.token_file.c_str(), strerror(errno));
        t.assign(buf, static_cast<size_t>(n));
    } else if (const char* e = getenv("AK_TOKEN")) {
        t = e;
    }
    while (!t.empty() && (t.back() == '\n' || t.back() == '\r'))
        t.pop_back();
    if (t.size() > akproto::k_max_secret)
        die("token longer than %zu bytes", akproto::k_max_secret);
    return t;
}

int listen_unix(const char* path) {
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        die("socket: %s", strerror(errno));
    sockaddr_un sa{};
    sa.sun_family = AF_UNIX;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    struct stat st;
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode))
            die("'%s' exists and is not a socket", path);
        // A live server answers; a stale socket file is replaced.
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, reinterpret_cast<sockaddr*>(&sa), sizeof sa) == 0)
            die("another server is listening on '%s'", path);
        if (probe >= 0)
            close(probe);
        unlink(path);
    }
    if (bind(fd, reinterpret_cast<sockaddr*>(&sa), sizeof sa) < 0)
        die("cannot bind '%s': %s", path, strerror(errno));
    // Anyone may reach the socket; the handshake decides by peer uid, so a
    // refused client gets a clear answer instead of EACCES.
    chmod(path, 0666);
    if (listen(fd, SOMAXCONN) < 0)
        die("listen: %s", strerror(errno));
    return fd;
}

int listen_tcp(const akproto::Url& url) {
    addrinfo hints{};
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE;
    addrinfo* res = nullptr;
    int gai = getaddrinfo(url.host, url.port, &hints, &res);
    if (gai != 0)
        die("cannot resolve '%s': %s", url.host, gai_strerror(gai));
    int fd = -1;
    for (addrinfo* a = res; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, a->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
        if (bind(fd, a->ai_addr, a->ai_addrlen) == 0 && listen(fd, SOMAXCONN) == 0)
            break;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(res);
    if (fd < 0)
        die("cannot listen on %s:%s: %s", url.host, url.port, strerror(errno));
    return fd;
}

// Fork into the background; the parent exits once the child is ready.
int daemonise() {
    int p[2];
    if (pipe2(p, O_CLOEXEC) < 0)
        die("pipe: %s", strerror(errno));
    pid_t pid = fork();
    if (pid < 0)
        die("fork: %s", strerror(errno));
    if (pid > 0) {
        close(p[1]);
        char b;
        ssize_t n;
        do
            n = read(p[0], &b, 1);
        while (n < 0 && errno == EINTR);
        _exit(n == 1 ? 0 : 1);
    }
    close(p[0]);
    setsid();
    if (chdir("/") < 0) {}
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    if (null >= 0) {
        dup2(null, 0);
        dup2(null, 1);
        // stderr stays until the server is ready, so that set-up errors
        // (a bad --if or --mount) reach the user who started it.
        close(null);
    }
    return p[1];
}

// libcap-ng: keep no capabilities (nothing after set-up needs one), and
// switch user if asked.
void drop_privileges(const Options& o, const akproto::Url& url) {
    if (!o.user.empty()) {
        passwd* pw = getpwnam(o.user.c_str());
        if (!pw)
            die("no such user '%s'", o.user.c_str());
        if (url.is_unix && chown(url.path, pw->pw_uid, pw->pw_gid) < 0)
            log_msg(k_log_warn, "cannot chown '%s': %s", url.path, strerror(errno));
        capng_clear(CAPNG_SELECT_BOTH);
        int r =
            capng_change_id(static_cast<int>(pw->pw_uid), static_cast<int>(pw->pw_gid),
                            static_cast<capng_flags_t>(CAPNG_DROP_SUPP_GRP | CAPNG_CLEAR_BOUNDING));
        if (r != 0)
            die("cannot switch to user '%s' (capng_change_id: %d)", o.user.c_str(), r);
    } else if (capng_have_capabilities(CAPNG_SELECT_CAPS) != CAPNG_NONE) {
        capng_clear(CAPNG_SELECT_BOTH);
        if (capng_apply(CAPNG_SELECT_BOTH) != 0) {
            capng_clear(CAPNG_SELECT_CAPS);
            if (capng_apply(CAPNG_SELECT_CAPS) != 0)
                die("cannot drop capabilities");
        }
    }
    prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0);
    log_msg(k_log_info, "running as uid %u with no capabilities", getuid());
}

long ksys(long nr, long a0 = 0, long a1 = 0, long a2 = 0, long a3 = 0, long a4 = 0) {
    long args[6] = {a0, a1, a2, a3, a4, 0};
    return ak_kern_syscall(nr, args);
}

// --disk PATH[,name=NAME][,ro]: attach before the --mount options run.
void attach_disks(const Options& o) {
    for (const std::string& spec : o.disks) {
        size_t comma = spec.find(',');
        std::string path = spec.substr(0, comma);
        std::string name;
        int flags = 0;
        while (comma != std::string::npos) {
            size_t next = spec.find(',', comma + 1);
            std::string opt =
                spec.substr(comma + 1, next == std::string::npos ? next : next - comma - 1);
            if (opt == "ro")
                flags |= AK_KERN_DISK_RDONLY;
            else if (opt == "rw")
                flags &= ~AK_KERN_DISK_RDONLY;
            else if (opt.compare(0, 5, "name=") == 0)
                name = opt.substr(5);
            else
                die("bad --disk '%s' (want PATH[,name=NAME][,ro])", spec.c_str());
            comma = next;
        }
        if (path.empty())
            die("bad --disk '%s' (want PATH[,name=NAME][,ro])", spec.c_str());
        char chosen[64];
        int r = ak_kern_disk_attach(path.c_str(), name.empty() ? nullptr : name.c_str(), flags,
                                    chosen, sizeof chosen);
        if (r < 0)
            die("cannot attach disk %s: %s", path.c_str(), strerror(-r));
        log_msg(k_log_info, "disk %s is /dev/%s%s", path.c_str(), chosen,
                (flags & AK_KERN_DISK_RDONLY) ? " (read-only)" : "");
    }
}

// One ak_kern_if_attach per --if, in order.  tap, tun and packet need
// CAP_NET_ADMIN / CAP_NET_RAW, so this runs before the privileges go.
void attach_interfaces(const Options& o) {
    for (const std::string& spec : o.interfaces) {
        size_t colon = spec.find(':');
        if (colon == std::string::npos || colon == 0 || colon + 1 == spec.size())
            die("bad --if '%s' (want TYPE:TARGET[,addr=A/PLEN][,gw=G]..., TYPE tap, tun, "
                "packet, shm)",
                spec.c_str());
        char name[32] = {};
        int r = ak_kern_if_attach(spec.c_str(), name, sizeof name);
        if (r < 0) {
            const char* hint = "";
            if (r == -EPERM || r == -EACCES)
                hint = " (tap, tun and packet need CAP_NET_ADMIN or CAP_NET_RAW)";
            else if (r == -EINVAL)
                hint = " (bad spec: see --help and docs/net.md)";
            die("cannot attach interface '%s': %s%s", spec.c_str(), strerror(-r), hint);
        }
        log_msg(k_log_info, "interface %s (index %d) from '%s'", name, r, spec.c_str());
    }
}

void start_kernel(const Options& o) {
    static const char* level_names[] = {"0", "1", "2", "3"};
    ak_setparam("verbose", level_names[o.log_level]);
    if (!o.ncpu.empty() && ak_setparam("ncpu", o.ncpu.c_str()) < 0)
        die("bad --ncpu '%s'", o.ncpu.c_str());
    if (!o.memlimit.empty() && ak_setparam("memlimit", o.memlimit.c_str()) < 0)
        die("bad --memlimit '%s'", o.memlimit.c_str());
    int e = ak_kern_init();
    if (e < 0)
        die("kernel start failed: %s", strerror(-e));
}

void mount_all(const Options& o) {
    for (const std::string& spec : o.mounts) {
        std::vector<std::string> parts;
        size_t start = 0;
        for (;;) {
            size_t colon = spec.find(':', start);
            parts.push_back(spec.substr(start, colon - start));
            if (colon == std::string::npos)
                break;
            start = colon + 1;
        }
        bool ro = false;
        if (parts.size() == 4 && parts[3] == "ro")
            ro = true;
        else if (parts.size() == 4 && parts[3] == "rw")
            ro = false;
        else if (parts.size() != 3)
            die("bad --mount '%s' (want FSTYPE:SOURCE:TARGET[:ro])", spec.c_str());
        const std::string& target = parts[2];
        if (target.empty() || target[0] != '/' || parts[0].empty())
            die("bad --mount '%s' (want FSTYPE:SOURCE:/abs/target[:ro])", spec.c_str());
        // Create the target (and its parents) when missing.
        for (size_t i = 1; i <= target.size(); i++) {
            if (i == target.size() || target[i] == '/') {
                std::string prefix = target.substr(0, i);
                if (prefix.size() > 1)
                    ksys(AK_SYS_mkdir, reinterpret_cast<long>(prefix.c_str()), 0755);
            }
        }
        long r = ksys(AK_SYS_mount, reinterpret_cast<long>(parts[1].c_str()),
                      reinterpret_cast<long>(target.c_str()),
                      reinterpret_cast<long>(parts[0].c_str()), ro ? 1 /* MS_RDONLY */ : 0, 0);
        if (r < 0)
            die("cannot mount %s (%s) on %s: %s", parts[0].c_str(), parts[1].c_str(),
                target.c_str(), strerror(static_cast<int>(-r)));
        log_msg(k_log_info, "mounted %s on %s%s", parts[0].c_str(), target.c_str(),
                ro ? " (read-only)" : "");
    }
}

} // namespace

int main(int argc, char** argv) {
    Options o = parse_options(argc, argv);
    set_log(o.log_level, false);
    akproto::Url url;
    if (akproto::parse_url(o.url.c_str(), url) != 0)
        die("bad URL '%s' (want unix:///abs/path.sock or tcp://host:port)", o.url.c_str());
    g_config.tcp = !url.is_unix;
    if (g_config.tcp) {
        g_config.secret = read_token(o);
        if (g_config.secret.empty())
            die("tcp:// needs a shared secret: --token-file FILE or AK_TOKEN");
    }
    signal(SIGPIPE, SIG_IGN);
    int lfd = url.is_unix ? listen_unix(url.path) : listen_tcp(url);
    if (url.is_unix)
        g_unix_path = url.path;
    int ready_fd = -1;
    if (!o.foreground) {
        ready_fd = daemonise();
        set_log(o.log_level, true);
    }
    // Interfaces and disks need privileges (tap/packet, root-owned images):
    // with --if or --disk the kernel starts before they are dropped
    // (docs/remote-protocol.md, "Privileges").
    bool early = !o.interfaces.empty() || !o.disks.empty();
    if (early) {
        start_kernel(o);
        attach_interfaces(o);
        attach_disks(o);
    }
    drop_privileges(o, url);
    g_config.allowed.push_back(getuid());
    g_config.allowed.push_back(0);
    for (uid_t u : o.allow_uids)
        g_config.allowed.push_back(u);
    g_config.tcp_uid = getuid();
    g_config.tcp_gid = getgid();

    if (!early)
        start_kernel(o);
    mount_all(o);
    int e = start_watcher();
    if (e < 0)
        die("watcher thread: %s", strerror(-e));

    if (pipe2(g_signal_pipe, O_CLOEXEC | O_NONBLOCK) < 0)
        die("pipe: %s", strerror(errno));
    struct sigaction sa {};
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGTERM, &sa, nullptr);
    sigaction(SIGINT, &sa, nullptr);

    log_msg(k_log_info, "serving %s", o.url.c_str());
    if (ready_fd >= 0) {
        char b = 1;
        ssize_t w = write(ready_fd, &b, 1);
        (void)w;
        close(ready_fd);
        int null = open("/dev/null", O_WRONLY | O_CLOEXEC);
        if (null >= 0) {
            dup2(null, 2);
            close(null);
        }
    }
    pollfd pfd[2] = {{lfd, POLLIN, 0}, {g_signal_pipe[0], POLLIN, 0}};
    for (;;) {
        int n = poll(pfd, 2, -1);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            log_msg(k_log_error, "poll: %s", strerror(errno));
            break;
        }
        if (pfd[1].revents)
            break;
        if (pfd[0].revents & POLLIN) {
            int cfd = accept4(lfd, nullptr, nullptr, SOCK_CLOEXEC);
            if (cfd < 0) {
                if (errno != EINTR && errno != EAGAIN && errno != ECONNABORTED)
                    log_msg(k_log_warn, "accept: %s", strerror(errno));
                if (errno == EMFILE || errno == ENFILE)
                    usleep(100000);
                continue;
            }
            if (g_config.tcp) {
                int one = 1;
                setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
            }
            int r = spawn_connection(cfd, g_config.tcp);
            if (r < 0) {
                log_msg(k_log_warn, "cannot serve a connection: %s", strerror(-r));
                close(cfd);
            }
        }
    }
    log_msg(k_log_info, "shutting down");
    close(lfd);
    if (url.is_unix)
        unlink(url.path);
    stop_all_connections(2000);
    ak_kern_shutdown();
    log_msg(k_log_info, "file systems synced; exiting");
    _exit(0);
}
