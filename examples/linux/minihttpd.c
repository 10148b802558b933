/*
 * minihttpd: a small HTTP/1.0 server written against plain POSIX sockets.
 *
 *   minihttpd [PORT [COUNT]]
 *
 * Answers every GET with a short page naming the path, on PORT (default
 * 8080), and exits with status 0 after COUNT requests (default 0: never).
 * Prints "listening on PORT" when ready.
 *
 * One source, four ways (tests/linux/minihttpd_check.py runs all four):
 *   1. natively on the host;
 *   2. unmodified under the hijack against ak-server
 *      (AK_HIJACK=sockets=inet LD_PRELOAD=libak-hijack.so ./minihttpd);
 *   3. built with `musl-gcc -static` and baked as a Linux executable
 *      (ak-bake -o minihttpd.img ./minihttpd);
 *   4. compiled with `cc -c $(pkg-config --cflags anykern)` and baked as an
 *      object-file application on the image's own small libc.
 */
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads the request head (up to the blank line) and returns the path. */
static int read_request(int fd, char *path, size_t pathlen)
{
    char req[2048];
    size_t len = 0;
    while (len < sizeof req - 1) {
        ssize_t r = read(fd, req + len, sizeof req - 1 - len);
        if (r <= 0)
            return -1;
        len += (size_t)r;
        req[len] = 0;
        if (strstr(req, "\r\n\r\n") || strstr(req, "\n\n"))
            break;
    }
    if (strncmp(req, "GET ", 4) != 0)
        return -1;
    const char *p = req + 4;
    size_t n = strcspn(p, " \r\n");
    if (n == 0 || n >= pathlen)
        return -1;
    memcpy(path, p, n);
    path[n] = 0;
    return 0;
}

static void serve(int fd)
{
    char path[256], body[512], head[256];
    if (read_request(fd, path, sizeof path) < 0) {
        const char *bad = "HTTP/1.0 400 Bad Request\r\nContent-Length: 0\r\n\r\n";
        write_all(fd, bad, strlen(bad));
        return;
    }
    int blen = snprintf(body, sizeof body, "Hello from minihttpd: %s\n", path);
    int hlen = snprintf(head, sizeof head,
                        "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                        "Content-Length: %d\r\n\r\n",
                        blen);
    if (write_all(fd, head, (size_t)hlen) == 0)
        write_all(fd, body, (size_t)blen);
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 8080;
    long count = argc > 2 ? atol(argv[2]) : 0;
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "usage: minihttpd [PORT [COUNT]]\n");
        return 2;
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0) {
        perror("minihttpd: socket");
        return 1;
    }
    int one = 1;
    setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof sin);
    sin.sin_family = AF_INET;
    sin.sin_port = htons((unsigned short)port);
    sin.sin_addr.s_addr = htonl(INADDR_ANY);
    if (bind(s, (struct sockaddr *)&sin, sizeof sin) < 0 || listen(s, 16) < 0) {
        perror("minihttpd: bind/listen");
        return 1;
    }
    printf("listening on %d\n", port);
    fflush(stdout);
    for (long served = 0; count == 0 || served < count; served++) {
        int c = accept(s, NULL, NULL);
        if (c < 0) {
            perror("minihttpd: accept");
            return 1;
        }
        serve(c);
        close(c);
    }
    close(s);
    return 0;
}
