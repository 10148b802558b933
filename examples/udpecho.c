/*
 * udpecho: UDP echo over the anykern stack.
 *
 *   udpecho [--if SPEC]... server PORT [COUNT]   echo COUNT datagrams back
 *   udpecho [--if SPEC]... client ADDR PORT COUNT  send, expect echoes
 */
#include <anykern/anykern.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv)
{
    const char *ifs[8];
    int nifs = 0, i = 1;
    while (i + 1 < argc && !strcmp(argv[i], "--if") && nifs < 8) {
        ifs[nifs++] = argv[i + 1];
        i += 2;
    }
    if (i >= argc)
        return 2;
    if (ak_init() != 0)
        return 1;
    for (int k = 0; k < nifs; k++)
        if (ak_if_attach(ifs[k]) < 0) {
            fprintf(stderr, "udpecho: %s: %s\n", ifs[k], strerror(errno));
            return 1;
        }
    int s = ak_sys_socket(AF_INET, SOCK_DGRAM, 0);
    struct timeval tv = {5, 0};
    ak_sys_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    char buf[2048];
    if (!strcmp(argv[i], "server") && i + 1 < argc) {
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        a.sin_port = htons((uint16_t)atoi(argv[i + 1]));
        int count = i + 2 < argc ? atoi(argv[i + 2]) : -1;
        if (ak_sys_bind(s, (struct sockaddr *)&a, sizeof a) != 0)
            return 1;
        printf("ready\n");
        fflush(stdout);
        while (count != 0) {
            struct sockaddr_in from;
            socklen_t fl = sizeof from;
            ssize_t n = ak_sys_recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &fl);
            if (n < 0) {
                if (errno == EAGAIN)
                    continue;
                return 1;
            }
            ak_sys_sendto(s, buf, (size_t)n, 0, (struct sockaddr *)&from, fl);
            if (count > 0)
                count--;
        }
        return 0;
    }
    if (!strcmp(argv[i], "client") && i + 3 < argc) {
        struct sockaddr_in a = {0};
        a.sin_family = AF_INET;
        inet_pton(AF_INET, argv[i + 1], &a.sin_addr);
        a.sin_port = htons((uint16_t)atoi(argv[i + 2]));
        int count = atoi(argv[i + 3]), ok = 0;
        for (int k = 0; k < count; k++) {
            int len = snprintf(buf, sizeof buf, "datagram %d", k);
            ak_sys_sendto(s, buf, (size_t)len, 0, (struct sockaddr *)&a, sizeof a);
            char r[2048];
            ssize_t n = ak_sys_recvfrom(s, r, sizeof r, 0, NULL, NULL);
            if (n == len && !memcmp(r, buf, (size_t)len))
                ok++;
        }
        printf("%d/%d echoed\n", ok, count);
        return ok == count ? 0 : 1;
    }
    return 2;
}
