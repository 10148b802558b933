// akctl network commands: ifconfig, route, ping, arp, netstat
// (docs/akctl.md).  Interfaces and routes go through the Linux ioctls;
// listings use the kernel's read-only table ioctls (anykern/nettab.h).
#include "netcmds.h"

#include <anykern/anykern.h>
#include <anykern/nettab.h>

#include <arpa/inet.h>
#include <errno.h>
#include <net/if.h>
#include <net/route.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>

#include <string>
#include <vector>

namespace akctl {

int vfail(const char* fmt, va_list ap) {
    fputs("akctl: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    return 1;
}

int fail(const char* fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfail(fmt, ap);
    va_end(ap);
    return 1;
}

namespace {

// A socket for the interface and route ioctls.
class CtlSocket {
public:
    CtlSocket() : m_fd(ak_sys_socket(AF_INET, SOCK_DGRAM, 0)) {}
    ~CtlSocket() {
        if (m_fd >= 0)
            ak_sys_close(m_fd);
    }
    int fd() const { return m_fd; }

private:
    int m_fd;
};

// Read a whole table (AK_SIOCG*TAB) as records of T.
template <typename T> bool read_table(unsigned long cmd, std::vector<T>& out, const char* what) {
    CtlSocket s;
    if (s.fd() < 0) {
        fail("cannot open a socket in the kernel: %s", strerror(errno));
        return false;
    }
    for (size_t cap = 64;; cap *= 4) {
        out.resize(cap);
        struct ak_nettab t {};
        t.len = static_cast<int32_t>(cap * sizeof(T));
        t.buf = out.data();
        if (ak_sys_ioctl(s.fd(), cmd, &t) < 0) {
            fail("cannot read the %s: %s", what, strerror(errno));
            return false;
        }
        size_t n = static_cast<size_t>(t.len) / sizeof(T);
        if (n < cap || cap >= (1u << 20) / sizeof(T)) {
            out.resize(n);
            return true;
        }
    }
}

std::string ip_text(uint32_t net_order) {
    char b[INET_ADDRSTRLEN];
    struct in_addr a;
    a.s_addr = net_order;
    inet_ntop(AF_INET, &a, b, sizeof b);
    return b;
}

int prefix_len(uint32_t net_order_mask) {
    return __builtin_popcount(net_order_mask);
}

// "A.B.C.D/P" (P defaults to 32 when want_prefix is false).
bool parse_prefix(const char* text, uint32_t& addr, int& plen, bool need_prefix) {
    std::string s = text;
    size_t slash = s.find('/');
    plen = 32;
    if (slash != std::string::npos) {
        char* end;
        long p = strtol(s.c_str() + slash + 1, &end, 10);
        if (*end || end == s.c_str() + slash + 1 || p < 0 || p > 32)
            return false;
        plen = static_cast<int>(p);
        s.resize(slash);
    } else if (need_prefix) {
        return false;
    }
    struct in_addr a;
    if (inet_pton(AF_INET, s.c_str(), &a) != 1)
        return false;
    addr = a.s_addr;
    return true;
}

uint32_t mask_of(int plen) {
    return plen == 0 ? 0 : htonl(0xffffffffu << (32 - plen));
}

void set_sin(struct sockaddr* sa, uint32_t net_order) {
    struct sockaddr_in sin {};
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = net_order;
    memcpy(sa, &sin, sizeof sin);
}

std::string flag_text(uint16_t f) {
    static const struct {
        uint16_t bit;
        const char* name;
    } names[] = {{IFF_UP, "UP"},           {IFF_BROADCAST, "BROADCAST"},
                 {IFF_LOOPBACK, "LOOPBACK"}, {IFF_POINTOPOINT, "POINTOPOINT"},
                 {IFF_RUNNING, "RUNNING"},   {IFF_NOARP, "NOARP"},
                 {IFF_PROMISC, "PROMISC"},   {IFF_MULTICAST, "MULTICAST"}};
    std::string s;
    for (auto& n : names)
        if (f & n.bit) {
            if (!s.empty())
                s += ',';
            s += n.name;
        }
    return s;
}

std::string mac_text(const uint8_t* hw) {
    char b[18];
    snprintf(b, sizeof b, "%02x:%02x:%02x:%02x:%02x:%02x", hw[0], hw[1], hw[2], hw[3], hw[4],
             hw[5]);
    return b;
}

void print_interface(const ak_ifinfo& i) {
    printf("%d: %s: <%s> mtu %u\n", i.index, i.name, flag_text(i.flags).c_str(), i.mtu);
    const char* link = i.hwtype == 1 ? "ether" : i.hwtype == 772 ? "loopback" : "none";
    if (i.hwtype == 65534)
        printf("    link/%s\n", link);
    else
        printf("    link/%s %s\n", link, mac_text(i.hw).c_str());
    if (i.addr)
        printf("    inet %s/%d\n", ip_text(i.addr).c_str(), prefix_len(i.netmask));
    printf("    RX: packets %llu bytes %llu errors %llu dropped %llu\n",
           (unsigned long long)i.ipackets, (unsigned long long)i.ibytes,
           (unsigned long long)i.ierrors, (unsigned long long)i.idrops);
    printf("    TX: packets %llu bytes %llu errors %llu dropped %llu\n",
           (unsigned long long)i.opackets, (unsigned long long)i.obytes,
           (unsigned long long)i.oerrors, (unsigned long long)i.odrops);
}

int ifreq_call(int fd, unsigned long cmd, struct ifreq& r, const char* ifname, const char* what) {
    if (ak_sys_ioctl(fd, cmd, &r) < 0)
        return fail("cannot %s of %s: %s", what, ifname, strerror(errno));
    return 0;
}

} // namespace

int cmd_ifconfig(int argc, char** argv) {
    std::vector<ak_ifinfo> ifs;
    if (argc <= 2) {
        if (!read_table(AK_SIOCGIFTAB, ifs, "interface list"))
            return 1;
        bool found = false;
        for (const ak_ifinfo& i : ifs)
            if (argc < 2 || !strcmp(i.name, argv[1])) {
                print_interface(i);
                found = true;
            }
        if (argc == 2 && !found)
            return fail("no interface '%s'", argv[1]);
        return 0;
    }
    const char* name = argv[1];
    if (strlen(name) >= IFNAMSIZ)
        return fail("interface name '%s' too long", name);
    CtlSocket s;
    if (s.fd() < 0)
        return fail("cannot open a socket in the kernel: %s", strerror(errno));
    for (int k = 2; k < argc; k++) {
        struct ifreq r {};
        strcpy(r.ifr_name, name);
        if (!strcmp(argv[k], "up") || !strcmp(argv[k], "down")) {
            if (ifreq_call(s.fd(), SIOCGIFFLAGS, r, name, "read the flags"))
                return 1;
            if (argv[k][0] == 'u')
                r.ifr_flags = static_cast<short>(r.ifr_flags | IFF_UP);
            else
                r.ifr_flags = static_cast<short>(r.ifr_flags & ~IFF_UP);
            if (ifreq_call(s.fd(), SIOCSIFFLAGS, r, name, "set the flags"))
                return 1;
        } else if (!strcmp(argv[k], "mtu")) {
            char* end;
            long mtu = k + 1 < argc ? strtol(argv[k + 1], &end, 10) : 0;
            if (k + 1 >= argc || *end || mtu <= 0 || mtu > 65536)
                return 2;
            r.ifr_mtu = static_cast<int>(mtu);
            if (ifreq_call(s.fd(), SIOCSIFMTU, r, name, "set the MTU"))
                return 1;
            k++;
        } else {
            uint32_t addr;
            int plen;
            if (!parse_prefix(argv[k], addr, plen, true)) {
                fprintf(stderr, "akctl: bad address '%s' (want A.B.C.D/PLEN)\n", argv[k]);
                return 2;
            }
            // Netmask first, so that the address gets its connected route.
            set_sin(&r.ifr_netmask, mask_of(plen));
            if (ifreq_call(s.fd(), SIOCSIFNETMASK, r, name, "set the netmask"))
                return 1;
            set_sin(&r.ifr_addr, addr);
            if (ifreq_call(s.fd(), SIOCSIFADDR, r, name, "set the address"))
                return 1;
        }
    }
    return 0;
}

int cmd_route(int argc, char** argv) {
    if (argc == 1) {
        std::vector<ak_rtinfo> routes;
        if (!read_table(AK_SIOCGRTTAB, routes, "routing table"))
            return 1;
        for (const ak_rtinfo& r : routes) {
            if (r.mask == 0)
                printf("default");
            else
                printf("%s/%d", ip_text(r.dst).c_str(), prefix_len(r.mask));
            if (r.gw)
                printf(" via %s", ip_text(r.gw).c_str());
            printf(" dev %s", r.ifname);
            if (r.metric)
                printf(" metric %d", r.metric);
            printf("\n");
        }
        return 0;
    }
    bool add = !strcmp(argv[1], "add");
    if (!add && strcmp(argv[1], "del") && strcmp(argv[1], "delete"))
        return 2;
    if (argc < 3)
        return 2;
    struct rtentry rt {};
    uint32_t dst = 0;
    int plen = 0;
    if (strcmp(argv[2], "default") && !parse_prefix(argv[2], dst, plen, false)) {
        fprintf(stderr, "akctl: bad destination '%s' (want A.B.C.D/PLEN or default)\n",
                argv[2]);
        return 2;
    }
    rt.rt_flags = RTF_UP;
    if (plen == 32)
        rt.rt_flags |= RTF_HOST;
    set_sin(&rt.rt_dst, dst & mask_of(plen));
    set_sin(&rt.rt_genmask, mask_of(plen));
    std::string dev;
    for (int k = 3; k < argc; k += 2) {
        if (k + 1 >= argc)
            return 2;
        if (!strcmp(argv[k], "gw") || !strcmp(argv[k], "via")) {
            uint32_t gw;
            int gplen;
            if (!parse_prefix(argv[k + 1], gw, gplen, false) || gplen != 32) {
                fprintf(stderr, "akctl: bad gateway '%s'\n", argv[k + 1]);
                return 2;
            }
            set_sin(&rt.rt_gateway, gw);
            rt.rt_flags |= RTF_GATEWAY;
        } else if (!strcmp(argv[k], "dev")) {
            dev = argv[k + 1];
        } else {
            return 2;
        }
    }
    if (!dev.empty())
        rt.rt_dev = dev.data();
    CtlSocket s;
    if (s.fd() < 0)
        return fail("cannot open a socket in the kernel: %s", strerror(errno));
    if (ak_sys_ioctl(s.fd(), add ? SIOCADDRT : SIOCDELRT, &rt) < 0)
        return fail("cannot %s route %s: %s", add ? "add" : "delete", argv[2], strerror(errno));
    return 0;
}

int cmd_arp(int argc, char**) {
    if (argc != 1)
        return 2;
    std::vector<ak_arpinfo> entries;
    if (!read_table(AK_SIOCGARPTAB, entries, "ARP cache"))
        return 1;
    for (const ak_arpinfo& e : entries) {
        if (e.complete)
            printf("%s dev %s lladdr %s REACHABLE\n", ip_text(e.ip).c_str(), e.ifname,
                   mac_text(e.hw).c_str());
        else
            printf("%s dev %s INCOMPLETE\n", ip_text(e.ip).c_str(), e.ifname);
    }
    return 0;
}

int cmd_netstat(int argc, char**) {
    if (argc != 1)
        return 2;
    std::vector<ak_tcpinfo> conns;
    if (!read_table(AK_SIOCGTCPTAB, conns, "TCP connection list"))
        return 1;
    printf("%-5s %8s %8s %-21s %-21s %s\n", "Proto", "Recv-Q", "Send-Q", "Local Address",
           "Foreign Address", "State");
    for (const ak_tcpinfo& c : conns) {
        std::string l = ip_text(c.laddr) + ":" + std::to_string(ntohs(c.lport));
        std::string f = ip_text(c.faddr) + ":" + std::to_string(ntohs(c.fport));
        printf("%-5s %8llu %8llu %-21s %-21s %s\n", "tcp", (unsigned long long)c.recvq,
               (unsigned long long)c.sendq, l.c_str(), f.c_str(), c.state);
    }
    return 0;
}

namespace {

double now_ms() {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<double>(ts.tv_sec) * 1e3 + static_cast<double>(ts.tv_nsec) / 1e6;
}

} // namespace

int cmd_ping(int argc, char** argv) {
    long count = 4;
    double interval = 1.0;
    int timeout_s = 2;
    const char* dst = nullptr;
    for (int k = 1; k < argc; k++) {
        char* end;
        if (!strcmp(argv[k], "-c") && k + 1 < argc) {
            count = strtol(argv[++k], &end, 10);
            if (*end || count <= 0)
                return 2;
        } else if (!strcmp(argv[k], "-i") && k + 1 < argc) {
            interval = strtod(argv[++k], &end);
            if (*end || interval < 0)
                return 2;
        } else if (!strcmp(argv[k], "-W") && k + 1 < argc) {
            timeout_s = static_cast<int>(strtol(argv[++k], &end, 10));
            if (*end || timeout_s <= 0)
                return 2;
        } else if (argv[k][0] != '-' && !dst) {
            dst = argv[k];
        } else {
            return 2;
        }
    }
    struct sockaddr_in a {};
    a.sin_family = AF_INET;
    if (!dst)
        return 2;
    if (inet_pton(AF_INET, dst, &a.sin_addr) != 1)
        return fail("bad address '%s' (numeric IPv4 only)", dst);
    // A ping socket (SOCK_DGRAM/IPPROTO_ICMP): the kernel fills in the
    // identifier and the checksum.
    int s = ak_sys_socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    if (s < 0)
        return fail("cannot open a ping socket: %s", strerror(errno));
    struct timeval tv = {timeout_s, 0};
    ak_sys_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    printf("PING %s: 56 data bytes\n", dst);
    long received = 0;
    for (long seq = 1; seq <= count; seq++) {
        if (seq > 1 && interval > 0) {
            struct timespec ts;
            ts.tv_sec = static_cast<time_t>(interval);
            ts.tv_nsec = static_cast<long>((interval - static_cast<double>(ts.tv_sec)) * 1e9);
            nanosleep(&ts, nullptr);
        }
        unsigned char pkt[64] = {8, 0, 0, 0, 0, 0, static_cast<unsigned char>(seq >> 8),
                                 static_cast<unsigned char>(seq)};
        for (int k = 8; k < 64; k++)
            pkt[k] = static_cast<unsigned char>(k);
        double t0 = now_ms();
        if (ak_sys_sendto(s, pkt, sizeof pkt, 0, reinterpret_cast<struct sockaddr*>(&a),
                          sizeof a) < 0) {
            fail("cannot send to %s: %s", dst, strerror(errno));
            continue;
        }
        for (;;) {
            unsigned char r[256];
            ssize_t n = ak_sys_recvfrom(s, r, sizeof r, 0, nullptr, nullptr);
            if (n < 0) {
                printf("no reply for icmp_seq=%ld (%s)\n", seq, strerror(errno));
                break;
            }
            if (n >= 8 && r[0] == 0 && r[6] == pkt[6] && r[7] == pkt[7]) {
                printf("%zd bytes from %s: icmp_seq=%ld time=%.3f ms\n", n, dst, seq,
                       now_ms() - t0);
                received++;
                break;
            }
        }
    }
    ak_sys_close(s);
    printf("--- %s ping statistics ---\n%ld packets transmitted, %ld received, %ld%% packet "
           "loss\n",
           dst, count, received, (count - received) * 100 / count);
    if (received == 0)
        return fail("no reply from %s", dst);
    return 0;
}

} // namespace akctl
