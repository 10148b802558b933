/*
 * httpd: a small HTTP/1.0 server on the anykern TCP/IP stack.
 *
 *   httpd [--if SPEC]... [--port N] [--count N] FILE
 *
 * Attaches the interfaces (ak_if_attach, e.g. tap:ak0,addr=10.0.0.2/24),
 * then answers every GET with the contents of FILE (a host file, read with
 * the host's libc) through the kernel's sockets.  Exits after --count
 * requests (default: never).  Prints "ready" on stdout when listening.
 */
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

static int send_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = ak_sys_write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static void serve(int c, const char *path)
{
    char req[4096];
    size_t got = 0;
    /* Read the request head (up to the blank line). */
    while (got < sizeof req - 1) {
        ssize_t r = ak_sys_read(c, req + got, sizeof req - 1 - got);
        if (r <= 0)
            return;
        got += (size_t)r;
        req[got] = 0;
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
            break;
    }
    int fd = open(path, O_RDONLY);
    if (fd < 0 || strncmp(req, "GET ", 4) != 0) {
        const char *nf = "HTTP/1.0 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
        send_all(c, nf, strlen(nf));
        if (fd >= 0)
            close(fd);
        return;
    }
    off_t size = lseek(fd, 0, SEEK_END);
    lseek(fd, 0, SEEK_SET);
    char head[256];
    int hl = snprintf(head, sizeof head,
                      "HTTP/1.0 200 OK\r\nContent-Type: application/octet-stream\r\n"
                      "Content-Length: %lld\r\nConnection: close\r\n\r\n",
                      (long long)size);
    if (send_all(c, head, (size_t)hl) == 0) {
        static char buf[1 << 18];
        ssize_t n;
        while ((n = read(fd, buf, sizeof buf)) > 0)
            if (send_all(c, buf, (size_t)n) != 0)
                break;
    }
    close(fd);
}

int main(int argc, char **argv)
{
    int port = 8080, count = -1;
    const char *file = NULL;
    const char *ifs[8];
    int nifs = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--if") && i + 1 < argc && nifs < 8)
            ifs[nifs++] = argv[++i];
        else if (!strcmp(argv[i], "--port") && i + 1 < argc)
            port = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--count") && i + 1 < argc)
            count = atoi(argv[++i]);
        else
            file = argv[i];
    }
    if (!file) {
        fprintf(stderr, "usage: httpd [--if SPEC]... [--port N] [--count N] FILE\n");
        return 2;
    }
    if (ak_init() != 0) {
        perror("ak_init");
        return 1;
    }
    for (int i = 0; i < nifs; i++)
        if (ak_if_attach(ifs[i]) < 0) {
            fprintf(stderr, "httpd: %s: %s\n", ifs[i], strerror(errno));
            return 1;
        }
    int l = ak_sys_socket(AF_INET, SOCK_STREAM, 0);
    int one = 1;
    ak_sys_setsockopt(l, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_port = htons((uint16_t)port);
    if (ak_sys_bind(l, (struct sockaddr *)&a, sizeof a) != 0 || ak_sys_listen(l, 64) != 0) {
        perror("httpd: bind/listen");
        return 1;
    }
    printf("ready\n");
    fflush(stdout);
    while (count != 0) {
        int c = ak_sys_accept(l, NULL, NULL);
        if (c < 0) {
            perror("httpd: accept");
            continue;
        }
        serve(c, file);
        ak_sys_shutdown(c, SHUT_WR);
        /* Drain until the client closes so our FIN is not followed by RST. */
        char tmp[512];
        struct timeval tv = {5, 0};
        ak_sys_setsockopt(c, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
        while (ak_sys_read(c, tmp, sizeof tmp) > 0)
            ;
        ak_sys_close(c);
        if (count > 0)
            count--;
    }
    ak_sys_close(l);
    return 0;
}
