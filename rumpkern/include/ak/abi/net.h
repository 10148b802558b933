// Linux x86-64 networking ABI: socket constants, socket option names,
// sockaddr layouts, msghdr, pollfd, epoll_event, fd_set and the interface
// ioctls.  Constants are plain constexpr in namespace ak::abi so hosted
// tests may include the host's <sys/socket.h> alongside.
#pragma once

#include <ak/abi/linux.h>

namespace ak::abi {

// Address families (<linux/socket.h>).
constexpr int k_af_unspec = 0;
constexpr int k_af_unix = 1;
constexpr int k_af_inet = 2;
constexpr int k_af_inet6 = 10;
constexpr int k_af_packet = 17;

// Socket types; SOCK_NONBLOCK and SOCK_CLOEXEC share the type argument.
constexpr int k_sock_stream = 1;
constexpr int k_sock_dgram = 2;
constexpr int k_sock_raw = 3;
constexpr int k_sock_seqpacket = 5;
constexpr int k_sock_type_mask = 0xf;
constexpr int k_sock_nonblock = 04000;   // == O_NONBLOCK
constexpr int k_sock_cloexec = 02000000; // == O_CLOEXEC

// IP protocols.
constexpr int k_ipproto_ip = 0;
constexpr int k_ipproto_icmp = 1;
constexpr int k_ipproto_tcp = 6;
constexpr int k_ipproto_udp = 17;

// send/recv flags.
constexpr int k_msg_oob = 0x1;
constexpr int k_msg_peek = 0x2;
constexpr int k_msg_dontroute = 0x4;
constexpr int k_msg_ctrunc = 0x8;
constexpr int k_msg_trunc = 0x20;
constexpr int k_msg_dontwait = 0x40;
constexpr int k_msg_eor = 0x80;
constexpr int k_msg_waitall = 0x100;
constexpr int k_msg_nosignal = 0x4000;
constexpr int k_msg_more = 0x8000;
constexpr int k_msg_cmsg_cloexec = 0x40000000;

// shutdown(how)
constexpr int k_shut_rd = 0;
constexpr int k_shut_wr = 1;
constexpr int k_shut_rdwr = 2;

// Socket option levels and names (asm-generic/socket.h).
constexpr int k_sol_socket = 1;
constexpr int k_sol_ip = 0;
constexpr int k_sol_tcp = 6;
constexpr int k_sol_udp = 17;
constexpr int k_so_debug = 1;
constexpr int k_so_reuseaddr = 2;
constexpr int k_so_type = 3;
constexpr int k_so_error = 4;
constexpr int k_so_dontroute = 5;
constexpr int k_so_broadcast = 6;
constexpr int k_so_sndbuf = 7;
constexpr int k_so_rcvbuf = 8;
constexpr int k_so_keepalive = 9;
constexpr int k_so_oobinline = 10;
constexpr int k_so_linger = 13;
constexpr int k_so_reuseport = 15;
constexpr int k_so_rcvlowat = 18;
constexpr int k_so_sndlowat = 19;
constexpr int k_so_rcvtimeo = 20;
constexpr int k_so_sndtimeo = 21;
constexpr int k_so_bindtodevice = 25;
constexpr int k_so_acceptconn = 30;
constexpr int k_so_peercred = 17;
constexpr int k_so_sndbufforce = 32;
constexpr int k_so_rcvbufforce = 33;
constexpr int k_so_protocol = 38;
constexpr int k_so_domain = 39;

constexpr int k_ip_tos = 1;
constexpr int k_ip_ttl = 2;
constexpr int k_ip_hdrincl = 3;
constexpr int k_ip_recverr = 11;

constexpr int k_tcp_nodelay = 1;
constexpr int k_tcp_maxseg = 2;
constexpr int k_tcp_cork = 3;
constexpr int k_tcp_keepidle = 4;
constexpr int k_tcp_keepintvl = 5;
constexpr int k_tcp_keepcnt = 6;
constexpr int k_tcp_info = 11;
constexpr int k_tcp_quickack = 12;
constexpr int k_tcp_congestion = 13;

// Interface flags (IFF_*).
constexpr uint16_t k_iff_up = 0x1;
constexpr uint16_t k_iff_broadcast = 0x2;
constexpr uint16_t k_iff_loopback = 0x8;
constexpr uint16_t k_iff_pointopoint = 0x10;
constexpr uint16_t k_iff_running = 0x40;
constexpr uint16_t k_iff_noarp = 0x80;
constexpr uint16_t k_iff_promisc = 0x100;
constexpr uint16_t k_iff_multicast = 0x1000;

// Interface and route ioctls (<linux/sockios.h>).
constexpr unsigned long k_siocaddrt = 0x890B;
constexpr unsigned long k_siocdelrt = 0x890C;
constexpr unsigned long k_siocgifname = 0x8910;
constexpr unsigned long k_siocgifconf = 0x8912;
constexpr unsigned long k_siocgifflags = 0x8913;
constexpr unsigned long k_siocsifflags = 0x8914;
constexpr unsigned long k_siocgifaddr = 0x8915;
constexpr unsigned long k_siocsifaddr = 0x8916;
constexpr unsigned long k_siocgifbrdaddr = 0x8919;
constexpr unsigned long k_siocgifnetmask = 0x891b;
constexpr unsigned long k_siocsifnetmask = 0x891c;
constexpr unsigned long k_siocgifmtu = 0x8921;
constexpr unsigned long k_siocsifmtu = 0x8922;
constexpr unsigned long k_siocgifhwaddr = 0x8927;
constexpr unsigned long k_siocgifindex = 0x8933;
constexpr unsigned long k_fionread = 0x541B;
constexpr unsigned long k_fionbio = 0x5421;
constexpr unsigned long k_siocoutq = 0x5411;

// Route flags (RTF_*).
constexpr uint16_t k_rtf_up = 0x1;
constexpr uint16_t k_rtf_gateway = 0x2;
constexpr uint16_t k_rtf_host = 0x4;

struct Sockaddr {
    uint16_t sa_family;
    char sa_data[14];
};
static_assert(sizeof(Sockaddr) == 16);

// Addresses and ports in network byte order, as on the wire.
struct SockaddrIn {
    uint16_t sin_family;
    uint16_t sin_port;
    uint32_t sin_addr;
    uint8_t sin_zero[8];
};
static_assert(sizeof(SockaddrIn) == 16);

struct SockaddrUn {
    uint16_t sun_family;
    char sun_path[108];
};
static_assert(sizeof(SockaddrUn) == 110);

constexpr size_t k_sockaddr_storage = 128;

struct Msghdr {
    void* msg_name;
    uint32_t msg_namelen;
    uint32_t pad0;
    Iovec* msg_iov;
    size_t msg_iovlen;
    void* msg_control;
    size_t msg_controllen;
    int msg_flags;
    int pad1;
};
static_assert(sizeof(Msghdr) == 56);

struct Pollfd {
    int fd;
    int16_t events;
    int16_t revents;
};
static_assert(sizeof(Pollfd) == 8);

// x86-64 packs struct epoll_event.
struct AK_PACKED EpollEvent {
    uint32_t events;
    uint64_t data;
};
static_assert(sizeof(EpollEvent) == 12);

constexpr int k_epoll_ctl_add = 1;
constexpr int k_epoll_ctl_del = 2;
constexpr int k_epoll_ctl_mod = 3;
constexpr uint32_t k_epollin = 0x001;
constexpr uint32_t k_epollpri = 0x002;
constexpr uint32_t k_epollout = 0x004;
constexpr uint32_t k_epollerr = 0x008;
constexpr uint32_t k_epollhup = 0x010;
constexpr uint32_t k_epollrdhup = 0x2000;
constexpr uint32_t k_epollexclusive = 1u << 28;
constexpr uint32_t k_epollwakeup = 1u << 29;
constexpr uint32_t k_epolloneshot = 1u << 30;
constexpr uint32_t k_epollet = 1u << 31;

constexpr int k_fd_setsize = 1024;
struct FdSet {
    uint64_t bits[k_fd_setsize / 64];
};
static_assert(sizeof(FdSet) == 128);

struct Linger {
    int l_onoff;
    int l_linger;
};

struct Ucred {
    int pid;
    uint32_t uid;
    uint32_t gid;
};

// struct ifreq: a 16-byte name and a 24-byte union.
constexpr size_t k_ifnamsiz = 16;
struct Ifreq {
    char ifr_name[k_ifnamsiz];
    union {
        Sockaddr ifr_addr;
        int16_t ifr_flags;
        int ifr_ivalue;
        int ifr_mtu;
        uint8_t raw[24];
    };
};
static_assert(sizeof(Ifreq) == 40);

struct Ifconf {
    int ifc_len;
    int pad;
    void* ifc_buf; // struct ifreq array
};
static_assert(sizeof(Ifconf) == 16);

// struct rtentry (x86-64).
struct Rtentry {
    unsigned long rt_pad1;
    Sockaddr rt_dst;
    Sockaddr rt_gateway;
    Sockaddr rt_genmask;
    uint16_t rt_flags;
    int16_t rt_pad2;
    unsigned long rt_pad3;
    void* rt_pad4;
    int16_t rt_metric;
    char* rt_dev;
    unsigned long rt_mtu;
    unsigned long rt_window;
    uint16_t rt_irtt;
};
static_assert(sizeof(Rtentry) == 120);

// Byte order helpers (x86-64 is little-endian; the kernel is built for it
// and for nothing else, but the helpers keep wire-order code explicit).
constexpr uint16_t htons(uint16_t v) {
    return __builtin_bswap16(v);
}
constexpr uint16_t ntohs(uint16_t v) {
    return __builtin_bswap16(v);
}
constexpr uint32_t htonl(uint32_t v) {
    return __builtin_bswap32(v);
}
constexpr uint32_t ntohl(uint32_t v) {
    return __builtin_bswap32(v);
}

} // namespace ak::abi
