/*
 * akping: ICMP echo from the anykern stack (a ping socket, as Linux's
 * SOCK_DGRAM/IPPROTO_ICMP).
 *
 *   akping [--if SPEC]... [-c COUNT] ADDR
 *
 * Exits 0 when every echo was answered.
 */
#include <anykern/anykern.h>

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

static double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

int main(int argc, char **argv)
{
    const char *ifs[8], *dst = NULL;
    int nifs = 0, count = 3;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--if") && i + 1 < argc && nifs < 8)
            ifs[nifs++] = argv[++i];
        else if (!strcmp(argv[i], "-c") && i + 1 < argc)
            count = atoi(argv[++i]);
        else
            dst = argv[i];
    }
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    if (!dst || inet_pton(AF_INET, dst, &a.sin_addr) != 1) {
        fprintf(stderr, "usage: akping [--if SPEC]... [-c COUNT] ADDR\n");
        return 2;
    }
    if (ak_init() != 0)
        return 1;
    for (int k = 0; k < nifs; k++)
        if (ak_if_attach(ifs[k]) < 0) {
            fprintf(stderr, "akping: %s: %s\n", ifs[k], strerror(errno));
            return 1;
        }
    int s = ak_sys_socket(AF_INET, SOCK_DGRAM, IPPROTO_ICMP);
    if (s < 0) {
        perror("akping: socket");
        return 1;
    }
    struct timeval tv = {2, 0};
    ak_sys_setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    int ok = 0;
    for (int seq = 1; seq <= count; seq++) {
        unsigned char pkt[64] = {8, 0, 0, 0, 0, 0, (unsigned char)(seq >> 8), (unsigned char)seq};
        for (int i = 8; i < 64; i++)
            pkt[i] = (unsigned char)i;
        double t0 = now_ms();
        if (ak_sys_sendto(s, pkt, sizeof pkt, 0, (struct sockaddr *)&a, sizeof a) < 0) {
            perror("akping: sendto");
            continue;
        }
        for (;;) {
            unsigned char r[128];
            ssize_t n = ak_sys_recvfrom(s, r, sizeof r, 0, NULL, NULL);
            if (n < 0) {
                printf("seq %d: timeout\n", seq);
                break;
            }
            if (n >= 8 && r[0] == 0 && r[6] == pkt[6] && r[7] == pkt[7]) {
                printf("%zd bytes from %s: icmp_seq=%d time=%.3f ms\n", n, dst, seq, now_ms() - t0);
                ok++;
                break;
            }
        }
    }
    printf("%d packets transmitted, %d received\n", count, ok);
    return ok == count ? 0 : 1;
}
