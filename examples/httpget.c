/*
 * httpget: fetch a URL with HTTP/1.0 over the anykern TCP/IP stack.
 *
 *   httpget [--if SPEC]... [-o FILE] http://A.B.C.D[:PORT]/PATH
 *
 * Writes the body to FILE (a host file) or stdout.  Exits non-zero unless
 * the status is 200 and the body matches Content-Length when given.
 */
#define _GNU_SOURCE
#include <anykern/anykern.h>

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    const char *url = NULL, *out = NULL;
    const char *ifs[8];
    int nifs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--if") && i + 1 < argc && nifs < 8)
            ifs[nifs++] = argv[++i];
        else if (!strcmp(argv[i], "-o") && i + 1 < argc)
            out = argv[++i];
        else
            url = argv[i];
    }
    char host[64], path[1024] = "/";
    int port = 80;
    if (!url || strncmp(url, "http://", 7) != 0) {
        fprintf(stderr, "usage: httpget [--if SPEC]... [-o FILE] http://ADDR[:PORT]/PATH\n");
        return 2;
    }
    const char *h = url + 7;
    size_t hl = strcspn(h, ":/");
    if (hl >= sizeof host)
        return 2;
    memcpy(host, h, hl);
    host[hl] = 0;
    const char *rest = h + hl;
    if (*rest == ':') {
        port = atoi(rest + 1);
        rest = strchr(rest, '/');
    }
    if (rest && *rest)
        snprintf(path, sizeof path, "%s", rest);
    if (ak_init() != 0) {
        perror("ak_init");
        return 1;
    }
    for (int i = 0; i < nifs; i++)
        if (ak_if_attach(ifs[i]) < 0) {
            fprintf(stderr, "httpget: %s: %s\n", ifs[i], strerror(errno));
            return 1;
        }
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (inet_pton(AF_INET, host, &a.sin_addr) != 1) {
        fprintf(stderr, "httpget: %s: not an IPv4 address\n", host);
        return 2;
    }
    int s = ak_sys_socket(AF_INET, SOCK_STREAM, 0);
    int tries = 0;
    while (ak_sys_connect(s, (struct sockaddr *)&a, sizeof a) != 0) {
        /* The first attempt may race ARP/the peer starting up. */
        if (++tries > 5) {
            perror("httpget: connect");
            return 1;
        }
        ak_sys_close(s);
        s = ak_sys_socket(AF_INET, SOCK_STREAM, 0);
        sleep(1);
    }
    char req[1200];
    int rl = snprintf(req, sizeof req, "GET %s HTTP/1.0\r\nHost: %s\r\nUser-Agent: ak-httpget\r\n\r\n",
                      path, host);
    if (ak_sys_write(s, req, (size_t)rl) != rl) {
        perror("httpget: write");
        return 1;
    }
    int fd = out ? open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644) : 1;
    if (fd < 0) {
        perror(out);
        return 1;
    }
    static char buf[1 << 18];
    size_t have = 0;
    long long body = 0, length = -1;
    int in_body = 0, status = 0;
    for (;;) {
        ssize_t n = ak_sys_read(s, buf + have, sizeof buf - have);
        if (n < 0) {
            perror("httpget: read");
            return 1;
        }
        if (n == 0)
            break;
        have += (size_t)n;
        if (!in_body) {
            char *end = NULL;
            for (size_t i = 0; i + 3 < have; i++)
                if (!memcmp(buf + i, "\r\n\r\n", 4)) {
                    end = buf + i + 4;
                    break;
                }
            if (!end) {
                if (have == sizeof buf)
                    return 1;
                continue;
            }
            end[-1] = 0;
            sscanf(buf, "HTTP/%*s %d", &status);
            const char *cl = strcasestr(buf, "\ncontent-length:");
            if (cl)
                length = atoll(cl + 16);
            in_body = 1;
            size_t hdr = (size_t)(end - buf);
            have -= hdr;
            memmove(buf, end, have);
        }
        if (have && write(fd, buf, have) != (ssize_t)have)
            return 1;
        body += (long long)have;
        have = 0;
    }
    ak_sys_close(s);
    if (out)
        close(fd);
    if (status != 200 || (length >= 0 && body != length)) {
        fprintf(stderr, "httpget: status %d, %lld of %lld bytes\n", status, body, length);
        return 1;
    }
    return 0;
}
