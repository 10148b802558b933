/* Read-only listings of the network stack's tables, for akctl route, arp,
 * netstat and ifconfig (docs/net.md, "Listing tables").
 *
 * anykern-private ioctls on any AF_INET socket, in the SIOCDEVPRIVATE range.
 * The argument is a struct ak_nettab laid out like struct ifconf: on entry
 * len is the size of buf in bytes; on return len is the number of bytes
 * filled (whole records only).  With buf NULL, len returns the bytes needed.
 * Addresses are IPv4 in network byte order. */
#ifndef ANYKERN_NETTAB_H
#define ANYKERN_NETTAB_H

#include <stdint.h>

#define AK_SIOCGRTTAB 0x89F0  /* struct ak_rtinfo records: the routing table */
#define AK_SIOCGARPTAB 0x89F1 /* struct ak_arpinfo records: the ARP cache */
#define AK_SIOCGTCPTAB 0x89F2 /* struct ak_tcpinfo records: TCP control blocks */
#define AK_SIOCGIFTAB 0x89F3  /* struct ak_ifinfo records: every interface */

struct ak_nettab {
    int32_t len;
    int32_t pad;
    void *buf;
};

struct ak_rtinfo {
    uint32_t dst, mask, gw; /* gw 0: directly connected */
    int32_t metric;
    char ifname[16];
};

struct ak_arpinfo {
    uint32_t ip;
    uint8_t hw[6];
    uint8_t complete; /* 0: resolution in progress */
    uint8_t pad;
    char ifname[16];
};

struct ak_tcpinfo {
    char state[12]; /* "ESTABLISHED", "LISTEN", ... NUL-terminated */
    uint32_t laddr, faddr;
    uint16_t lport, fport; /* network byte order */
    uint32_t pad;
    uint64_t recvq, sendq; /* bytes queued */
};

struct ak_ifinfo {
    char name[16];
    int32_t index;
    uint16_t flags; /* IFF_* */
    uint16_t hwtype; /* ARPHRD_*: 1 Ethernet, 772 loopback, 65534 none */
    uint32_t mtu;
    uint8_t hw[6];
    uint16_t pad;
    uint32_t addr, netmask; /* 0 when unconfigured */
    uint32_t pad2;
    uint64_t ipackets, ibytes, ierrors, idrops;
    uint64_t opackets, obytes, oerrors, odrops;
};

#endif
