/* httpd-hello: a fixed-page HTTP/1.0 server on the anykern TCP/IP stack.
 *
 *   httpd-hello [PORT]  (default 80)
 *
 * Answers every GET with a short text page (the request path and a hit
 * count); GET /quit answers and then exits 0.  The same source runs as a
 * local client (the kernel's stack inside this process) and in a
 * unikernel image (ak-bake -c net; ak-run -n user,hostfwd=tcp::8080-:80). */
#include <anykern/anykern.h>

#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

static void die(const char *what)
{
    perror(what);
    exit(1);
}

/* Reads until the end of the request head (a blank line) or a full
 * buffer; returns the bytes read or -1. */
static long read_request(int fd, char *buf, size_t size)
{
    size_t len = 0;
    while (len < size - 1) {
        long n = ak_sys_read(fd, buf + len, size - 1 - len);
        if (n <= 0)
            return n < 0 ? -1 : (long)len;
        len += (size_t)n;
        buf[len] = 0;
        if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
            break;
    }
    buf[len] = 0;
    return (long)len;
}

int main(int argc, char **argv)
{
    int port = argc > 1 ? atoi(argv[1]) : 80;
    if (ak_init() < 0)
        die("ak_init");
    int s = ak_sys_socket(AF_INET, SOCK_STREAM, 0);
    if (s < 0)
        die("socket");
    int one = 1;
    if (ak_sys_setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0)
        die("setsockopt");
    struct sockaddr_in addr;
    memset(&addr, 0, sizeof addr);
    addr.sin_family = AF_INET;
    addr.sin_port = htons((unsigned short)port);
    addr.sin_addr.s_addr = htonl(INADDR_ANY);
    if (ak_sys_bind(s, (struct sockaddr *)&addr, sizeof addr) < 0)
        die("bind");
    if (ak_sys_listen(s, 16) < 0)
        die("listen");
    printf("httpd: listening on port %d\n", port);
    fflush(stdout);

    for (unsigned long hits = 1;; hits++) {
        int c = ak_sys_accept(s, NULL, NULL);
        if (c < 0)
            die("accept");
        char req[2048];
        if (read_request(c, req, sizeof req) < 0) {
            ak_sys_close(c);
            continue;
        }
        char path[256] = "/";
        if (!strncmp(req, "GET ", 4)) {
            size_t n = strcspn(req + 4, " \r\n");
            if (n >= sizeof path)
                n = sizeof path - 1;
            memcpy(path, req + 4, n);
            path[n] = 0;
        }
        char body[512];
        int blen = snprintf(body, sizeof body, "hello from anykern httpd: %s (request %lu)\n",
                            path, hits);
        char head[256];
        int hlen = snprintf(head, sizeof head,
                            "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n"
                            "Content-Length: %d\r\nConnection: close\r\n\r\n",
                            blen);
        ak_sys_write(c, head, (size_t)hlen);
        ak_sys_write(c, body, (size_t)blen);
        ak_sys_shutdown(c, SHUT_WR);
        /* Drain what the client still sends so close does not reset. */
        char sink[256];
        while (ak_sys_read(c, sink, sizeof sink) > 0)
            ;
        ak_sys_close(c);
        if (!strcmp(path, "/quit")) {
            printf("httpd: quit after %lu requests\n", hits);
            return ak_fini() < 0 ? 1 : 0;
        }
    }
}
