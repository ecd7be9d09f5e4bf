/*
 * gate.c: the front door of policy-web (see gate.h).
 *
 * libmicrohttpd's connection timeout measures idleness, so a client that
 * sends one byte every few seconds ("slowloris") keeps a connection for
 * ever, and enough of them fill every connection slot.  Here we accept
 * connections ourselves and hand a connection to the HTTP server only
 * once its request headers are complete (seen with MSG_PEEK, so the
 * server reads them itself), or close it when they are not complete
 * GATE_DEADLINE seconds after accept.  Connections still sending headers
 * are limited per client address (GATE_PER_IP) and in all (GATE_MAX);
 * at a limit, the oldest of them is closed to make room, so a client that
 * sends its request at once is always served, whoever else trickles.  /healthz is answered here, so it
 * answers even when every worker is busy.
 */
#include "web/gate.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define GATE_DEADLINE 10.0     /* seconds to send the request headers */
#define GATE_PER_IP 64         /* header-sending connections per address */
#define GATE_MAX 4096          /* ... in all */
#define PEEK_BYTES 16384       /* longer request headers: answered here */
#define DRAIN_SECONDS 2.0      /* after such an answer, the rest read ... */
#define DRAIN_BYTES (8 << 20)  /* ... for so long, or so much, at most */

typedef struct pending {
    int fd;
    double deadline;
    struct sockaddr_storage addr;
    socklen_t addrlen;
    uint32_t ip;               /* IPv4 address, for the per-address cap */
    size_t drained;            /* answered already: bytes read since */
    int draining;
} pending;

struct gate {
    int lfd, ep, stop_pipe[2];
    struct MHD_Daemon *d;
    pending *p;                /* slots; fd -1 when free */
    size_t np;
    pthread_t th;
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void drop(gate *g, size_t i)
{
    epoll_ctl(g->ep, EPOLL_CTL_DEL, g->p[i].fd, NULL);
    close(g->p[i].fd);
    g->p[i].fd = -1;
}

/* How many connections of address ip are still sending headers, and the
 * oldest of them (or of all, when ip is ANY_IP). */
#define ANY_IP 0xFFFFFFFFu

static size_t count_ip(const gate *g, uint32_t ip, size_t *oldest)
{
    size_t n = 0;
    *oldest = g->np;
    for (size_t i = 0; i < g->np; i++) {
        if (g->p[i].fd < 0 || (ip != ANY_IP && g->p[i].ip != ip))
            continue;
        n++;
        if (*oldest == g->np || g->p[i].deadline < g->p[*oldest].deadline)
            *oldest = i;
    }
    return n;
}

static void accept_all(gate *g)
{
    for (;;) {
        struct sockaddr_storage a;
        socklen_t al = sizeof a;
        int fd = accept4(g->lfd, (struct sockaddr *)&a, &al,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        uint32_t ip = a.ss_family == AF_INET
                          ? ((struct sockaddr_in *)&a)->sin_addr.s_addr : 0;
        /* Full, for this address or for all: the oldest connection still
         * sending its headers makes room.  A client that sends them at
         * once always gets in; one that trickles them is the one that
         * goes. */
        size_t oldest;
        if (count_ip(g, ip, &oldest) >= GATE_PER_IP)
            drop(g, oldest);
        size_t slot = g->np;
        for (size_t i = 0; i < g->np; i++)
            if (g->p[i].fd < 0) {
                slot = i;
                break;
            }
        if (slot == g->np) {
            count_ip(g, ANY_IP, &oldest);
            drop(g, oldest);
            slot = oldest;
        }
        pending *p = &g->p[slot];
        p->fd = fd;
        p->deadline = now() + GATE_DEADLINE;
        p->addr = a;
        p->addrlen = al;
        p->ip = ip;
        p->draining = 0;
        p->drained = 0;
        struct epoll_event ev = {.events = EPOLLIN | EPOLLRDHUP,
                                 .data.u64 = slot};
        if (epoll_ctl(g->ep, EPOLL_CTL_ADD, fd, &ev) < 0) {
            close(fd);
            p->fd = -1;
        }
    }
}

static void answer_health(int fd)
{
    static const char r[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain; "
                            "charset=utf-8\r\nContent-Length: 3\r\nCache-Control: "
                            "no-store\r\nConnection: close\r\n\r\nok\n";
    char buf[PEEK_BYTES];
    while (recv(fd, buf, sizeof buf, MSG_DONTWAIT) > 0)
        ;
    ssize_t w = send(fd, r, sizeof r - 1, MSG_NOSIGNAL);
    (void)w;
}

/* Request headers that do not end within PEEK_BYTES: answered here with
 * a JSON error that names the parameter too long when the request line is
 * what did not end (the server itself would read a few times more into
 * its per-connection memory and then answer with a page of its own).  The
 * rest of the request is read and dropped for a while, so that closing
 * with unread bytes does not reset the connection before the client has
 * read the answer. */
static void answer_too_long(gate *g, size_t i, const char *buf, size_t n)
{
    pending *p = &g->p[i];
    char msg[256], name[48];
    int line_ended = memchr(buf, '\n', n) != NULL;
    /* The request line's last parameter, cut off: its name, when it is
     * a plain word followed by '='. */
    const char *q = line_ended ? NULL : memrchr(buf, '?', n);
    const char *amp = q ? memrchr(q, '&', n - (size_t)(q - buf)) : NULL;
    const char *at = amp ? amp + 1 : q ? q + 1 : NULL;
    size_t m = 0;
    while (at && at + m < buf + n && m + 1 < sizeof name &&
           (isalnum((unsigned char)at[m]) || at[m] == '_' || at[m] == '-'))
        m++;
    int named = at && m && at + m < buf + n && at[m] == '=';
    if (named)
        memcpy(name, at, m);
    name[named ? m : 0] = '\0';
    if (line_ended)
        snprintf(msg, sizeof msg, "request headers too large: they must end "
                 "within %d bytes", PEEK_BYTES);
    else if (named)
        snprintf(msg, sizeof msg, "parameter %s is too long: a request's "
                 "address and headers must fit in %d bytes", name, PEEK_BYTES);
    else
        snprintf(msg, sizeof msg, "request address too long: the address "
                 "and headers must fit in %d bytes", PEEK_BYTES);
    char r[512];
    int len = snprintf(r, sizeof r, "HTTP/1.1 %s\r\nContent-Type: "
                       "application/json; charset=utf-8\r\nContent-Length: "
                       "%zu\r\nCache-Control: no-store\r\nConnection: "
                       "close\r\n\r\n{\"error\":\"%s\"}\n",
                       line_ended ? "431 Request Header Fields Too Large"
                                  : "414 URI Too Long",
                       strlen(msg) + 13, msg);
    ssize_t w = send(p->fd, r, (size_t)len, MSG_NOSIGNAL);
    (void)w;
    shutdown(p->fd, SHUT_WR);
    p->draining = 1;
    p->drained = 0;
    p->deadline = now() + DRAIN_SECONDS;
}

static void readable(gate *g, size_t i)
{
    pending *p = &g->p[i];
    char buf[PEEK_BYTES];
    if (p->draining) {
        ssize_t n;
        while ((n = recv(p->fd, buf, sizeof buf, MSG_DONTWAIT)) > 0)
            p->drained += (size_t)n;
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR) ||
            p->drained > DRAIN_BYTES)
            drop(g, i);
        return;
    }
    ssize_t n = recv(p->fd, buf, sizeof buf, MSG_PEEK);
    if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
        drop(g, i);
        return;
    }
    if (n < 0)
        return;
    int done = memmem(buf, (size_t)n, "\r\n\r\n", 4) ||
               memmem(buf, (size_t)n, "\n\n", 2);
    if (!done && (size_t)n == sizeof buf) {
        answer_too_long(g, i, buf, (size_t)n);
        return;
    }
    if (!done)
        return;
    epoll_ctl(g->ep, EPOLL_CTL_DEL, p->fd, NULL);
    if ((size_t)n >= 16 && (strncmp(buf, "GET /healthz ", 13) == 0 ||
                            strncmp(buf, "GET /healthz?", 13) == 0)) {
        answer_health(p->fd);
        close(p->fd);
    } else if (MHD_add_connection(g->d, p->fd, (struct sockaddr *)&p->addr,
                                  p->addrlen) != MHD_YES) {
        /* the server's own limits said no; it closed the socket */
    }
    p->fd = -1;
}

static void *run(void *arg)
{
    gate *g = arg;
    struct epoll_event evs[64];
    for (;;) {
        int n = epoll_wait(g->ep, evs, 64, 250);
        for (int k = 0; k < n; k++) {
            uint64_t tag = evs[k].data.u64;
            if (tag == UINT64_MAX - 1)
                return NULL;                         /* stop */
            if (tag == UINT64_MAX)
                accept_all(g);
            else if (tag < g->np && g->p[tag].fd >= 0)
                readable(g, (size_t)tag);
        }
        double t = now();
        for (size_t i = 0; i < g->np; i++)
            if (g->p[i].fd >= 0 && t > g->p[i].deadline)
                drop(g, i);                          /* too slow */
    }
}

gate *gate_start(int listen_fd, struct MHD_Daemon *d, char *err, size_t errlen)
{
    gate *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    g->lfd = listen_fd;
    g->d = d;
    g->np = GATE_MAX;
    g->p = calloc(g->np, sizeof(pending));
    g->ep = epoll_create1(EPOLL_CLOEXEC);
    if (!g->p || g->ep < 0 || pipe2(g->stop_pipe, O_CLOEXEC) < 0) {
        snprintf(err, errlen, "cannot start the connection gate: %s",
                 strerror(errno));
        free(g->p);
        free(g);
        return NULL;
    }
    for (size_t i = 0; i < g->np; i++)
        g->p[i].fd = -1;
    fcntl(listen_fd, F_SETFL, fcntl(listen_fd, F_GETFL) | O_NONBLOCK);
    struct epoll_event ev = {.events = EPOLLIN, .data.u64 = UINT64_MAX};
    epoll_ctl(g->ep, EPOLL_CTL_ADD, listen_fd, &ev);
    struct epoll_event sv = {.events = EPOLLIN, .data.u64 = UINT64_MAX - 1};
    epoll_ctl(g->ep, EPOLL_CTL_ADD, g->stop_pipe[0], &sv);
    if (pthread_create(&g->th, NULL, run, g) != 0) {
        snprintf(err, errlen, "cannot start the connection gate thread");
        close(g->ep);
        free(g->p);
        free(g);
        return NULL;
    }
    return g;
}

void gate_stop(gate *g)
{
    if (!g)
        return;
    ssize_t w = write(g->stop_pipe[1], "x", 1);
    (void)w;
    pthread_join(g->th, NULL);
    for (size_t i = 0; i < g->np; i++)
        if (g->p[i].fd >= 0)
            close(g->p[i].fd);
    close(g->ep);
    close(g->stop_pipe[0]);
    close(g->stop_pipe[1]);
    free(g->p);
    free(g);
}
