/* Unit tests for challenge/http01: the http-01 listener on loopback.
 *
 * The listener runs on a uv loop in the main thread; each client is a plain blocking socket
 * (with receive and send timeouts) in a second thread that only records what it saw: cmocka
 * assertions stay in the main thread. Every wait is bounded by a watchdog. Only explicit
 * loopback addresses with port 0 are bound, never a wildcard; clients that must count as
 * other sources bind 127.0.0.2 and up (all of 127/8 is loopback on Linux).
 *
 * The flood tests hold 100 idle connections from one address, as the finding that motivated
 * net/conn_guard did, and check that three concurrent requests (a CA validates like that)
 * are still all answered. */
#include <errno.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>
#include <uv.h>

#include "challenge/http01.h"
#include "challenge/http01_req.h"

#define TOKEN "evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA"
#define KEYAUTH TOKEN ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"
#define PATH "/.well-known/acme-challenge/" TOKEN
#define GOOD_REQ "GET " PATH " HTTP/1.1\r\nHost: a\r\n\r\n"
#define NFLOOD 100
#define NGOOD 3
#define NBURST 20
#define PER_SOURCE CONN_GUARD_MAX_IDLE_PER_SOURCE

/* ---- loop helpers ------------------------------------------------------------------------- */

static void on_watchdog(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

/* Runs loop until *flag >= value, failing the test after ms milliseconds. */
static void run_until(uv_loop_t *loop, atomic_int *flag, int value, uint64_t ms)
{
    uv_timer_t wd;
    int expired = 0;

    uv_timer_init(loop, &wd);
    wd.data = &expired;
    uv_timer_start(&wd, on_watchdog, ms, 0);
    while (atomic_load(flag) < value && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&wd, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    if (atomic_load(flag) < value)
        fail_msg("timed out after %llu ms", (unsigned long long)ms);
}

/* Runs loop for about ms milliseconds. */
static void run_for(uv_loop_t *loop, uint64_t ms)
{
    uv_timer_t wd;
    int expired = 0;

    uv_timer_init(loop, &wd);
    wd.data = &expired;
    uv_timer_start(&wd, on_watchdog, ms, 0);
    while (!expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&wd, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

static void on_closed(void *arg)
{
    atomic_fetch_add((atomic_int *)arg, 1);
}

/* Closes h, checks that done comes later from the loop, and that the loop is left empty. */
static void close_and_check(uv_loop_t *loop, struct http01 *h)
{
    atomic_int closed = 0;

    http01_close(h, on_closed, &closed);
    assert_int_equal(atomic_load(&closed), 0);
    run_until(loop, &closed, 1, 5000);
    uv_run(loop, UV_RUN_NOWAIT);
    assert_int_equal(atomic_load(&closed), 1);
    assert_int_equal(uv_loop_close(loop), 0);
}

static void loopback(struct listen_addr *a, int family)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};

    if (family == AF_INET)
        assert_int_equal(listen_addr_from_sockaddr(a, (struct sockaddr *)&in, sizeof in), 0);
    else
        assert_int_equal(listen_addr_from_sockaddr(a, (struct sockaddr *)&in6, sizeof in6), 0);
}

/* Whether [::1] can be bound here (containers without IPv6 have no ::1). */
static bool have_ipv6(void)
{
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    int fd = socket(AF_INET6, SOCK_STREAM, 0);
    bool ok = fd >= 0 && bind(fd, (struct sockaddr *)&in6, sizeof in6) == 0;

    if (fd >= 0)
        close(fd);
    return ok;
}

/* Starts a listener on 127.0.0.1:0, plus [::1]:0 when available (*nfam families). */
static struct http01 *start_loopback(uv_loop_t *loop, size_t *nfam)
{
    struct listen_addr a[2];
    struct http01 *h = NULL;
    struct err e;

    *nfam = have_ipv6() ? 2 : 1;
    loopback(&a[0], AF_INET);
    loopback(&a[1], AF_INET6);
    if (uv_loop_init(loop) != 0)
        fail_msg("uv_loop_init");
    if (http01_start(loop, a, NULL, *nfam, &h, &e) != 0)
        fail_msg("http01_start: %s", e.msg);
    for (size_t i = 0; i < *nfam; i++)
        assert_true(http01_bound_port(h, i) > 0);
    return h;
}

/* ---- blocking clients in a second thread ------------------------------------------------- */

struct job {
    void (*fn)(struct job *);
    atomic_int stage; /* 1: connected and request sent (hold client), 2: finished */
    uv_async_t async;
    int family, port;
    const char *req;
    size_t reqlen;
    bool shut_wr;      /* shut the write side down right after the request */
    int rcvbuf;        /* SO_RCVBUF when not 0 */
    unsigned delay_ms; /* wait before reading the response */
    bool after;        /* after the response, send more and see whether we get a reset */
    /* results */
    size_t resplen;
    bool eof;
    int err;
    int after_err; /* errno of the exchange after the response, 0 when it went fine */
    uint64_t elapsed_ms;
    int nclosed_early, n200, nother;
    int nclosed_after, nclosed_end; /* flood: after the good requests, in the end */
    size_t cap;
    char resp[]; /* cap bytes, NUL-terminated */
};

static struct job *job_new(size_t cap)
{
    struct job *j = calloc(1, sizeof *j + cap);

    assert_non_null(j);
    j->cap = cap;
    return j;
}

static uint64_t now_ms(void)
{
    return uv_hrtime() / 1000000;
}

/* Connects to the loopback address of family on port; from the IPv4 source address src when
 * not NULL ("127.0.0.2"). Returns the blocking socket or -1. */
static int connect_from(int family, const char *src, int port, int rcvbuf)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    struct sockaddr_in6 in6 = {.sin6_family = AF_INET6, .sin6_addr = IN6ADDR_LOOPBACK_INIT};
    struct sockaddr_in from = {.sin_family = AF_INET};
    struct timeval tv = {.tv_sec = 5};
    int fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int rc;

    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    if (rcvbuf)
        setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, sizeof rcvbuf);
    if (src && (inet_pton(AF_INET, src, &from.sin_addr) != 1 ||
                bind(fd, (struct sockaddr *)&from, sizeof from) < 0)) {
        close(fd);
        return -1;
    }
    in.sin_port = htons((uint16_t)port);
    in6.sin6_port = htons((uint16_t)port);
    if (family == AF_INET)
        rc = connect(fd, (struct sockaddr *)&in, sizeof in);
    else
        rc = connect(fd, (struct sockaddr *)&in6, sizeof in6);
    if (rc < 0) {
        close(fd);
        return -1;
    }
    return fd;
}

static int connect_to(int family, int port, int rcvbuf)
{
    return connect_from(family, NULL, port, rcvbuf);
}

static int send_all(int fd, const char *p, size_t n)
{
    while (n) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);

        if (w <= 0)
            return -1;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* Reads until EOF (eof set), a reset, or the receive timeout. */
static void read_all(int fd, struct job *j)
{
    for (;;) {
        ssize_t r = recv(fd, j->resp + j->resplen, j->cap - 1 - j->resplen, 0);

        if (r == 0) {
            j->eof = true;
            break;
        }
        if (r < 0) {
            j->err = errno;
            break;
        }
        j->resplen += (size_t)r;
        if (j->resplen == j->cap - 1)
            break;
    }
    j->resp[j->resplen] = '\0';
}

static void client_exchange(struct job *j)
{
    uint64_t t0 = now_ms();
    int fd = connect_to(j->family, j->port, j->rcvbuf);

    if (fd < 0) {
        j->err = errno;
        return;
    }
    if (j->reqlen && send_all(fd, j->req, j->reqlen) < 0)
        j->err = errno;
    if (j->shut_wr)
        shutdown(fd, SHUT_WR);
    atomic_store(&j->stage, 1);
    uv_async_send(&j->async);
    if (j->delay_ms)
        usleep(j->delay_ms * 1000);
    read_all(fd, j);
    j->elapsed_ms = now_ms() - t0;
    if (j->after) {
        char c;

        /* The server is draining: more input must not be answered with a reset. */
        if (send(fd, "more", 4, MSG_NOSIGNAL) < 0)
            j->after_err = errno;
        usleep(100 * 1000);
        if (!j->after_err && recv(fd, &c, 1, MSG_DONTWAIT) < 0)
            j->after_err = errno;
        if (!j->after_err && send(fd, "more", 4, MSG_NOSIGNAL) < 0)
            j->after_err = errno;
    }
    close(fd);
}

/* Whether the server has closed fd (EOF or reset pending), without blocking. */
static bool peer_closed(int fd)
{
    char c;
    ssize_t r = recv(fd, &c, 1, MSG_PEEK | MSG_DONTWAIT);

    return r == 0 || (r < 0 && errno != EAGAIN && errno != EWOULDBLOCK);
}

/* Marks the sockets of fds[0..n) the server has closed in closed[]; returns how many are. */
static int count_closed(const int *fds, bool *closed, int n)
{
    int count = 0;

    for (int i = 0; i < n; i++) {
        if (!closed[i] && fds[i] >= 0 && peer_closed(fds[i]))
            closed[i] = true;
        count += closed[i];
    }
    return count;
}

/* Waits until at least want of fds[0..n) are closed by the server, at most ms milliseconds.
 * Returns how many are closed. */
static int wait_closed(const int *fds, bool *closed, int n, int want, uint64_t ms)
{
    uint64_t deadline = now_ms() + ms;
    int count;

    while ((count = count_closed(fds, closed, n)) < want && now_ms() < deadline)
        usleep(10 * 1000);
    return count;
}

/* Sends GOOD_REQ on n connections from src (NULL: 127.0.0.1) opened together, as a CA's
 * validator does, then reads every answer. Between the connects and the requests, nburst
 * more connections from the same address are opened into burst[] (the caller closes them):
 * an attacker's burst that the listener accepts before the requests arrive. Returns how many
 * answers were the key authorization. */
static int good_requests(int n, const char *src, int port, int *burst, int nburst)
{
    int fds[NGOOD], ok = 0;

    for (int i = 0; i < n; i++)
        fds[i] = connect_from(AF_INET, src, port, 0);
    for (int i = 0; i < nburst; i++)
        burst[i] = connect_from(AF_INET, src, port, 0);
    if (nburst)
        usleep(50 * 1000); /* accepted, all of them idle */
    for (int i = 0; i < n; i++)
        if (fds[i] >= 0)
            send_all(fds[i], GOOD_REQ, sizeof GOOD_REQ - 1);
    for (int i = 0; i < n; i++) {
        struct job *one = calloc(1, sizeof *one + 1024);
        int st = 0;

        if (!one || fds[i] < 0) {
            free(one);
            continue;
        }
        one->cap = 1024;
        read_all(fds[i], one);
        if (sscanf(one->resp, "HTTP/1.1 %d", &st) == 1 && st == 200 && one->eof &&
            strstr(one->resp, "\r\n\r\n" KEYAUTH))
            ok++;
        free(one);
        close(fds[i]);
    }
    return ok;
}

/* NFLOOD idle connections from 127.0.0.1 (sending nothing); once the server has closed all
 * but the newest PER_SOURCE of them, NGOOD concurrent requests from the same address with a
 * burst of NBURST idle connections between their connects and their requests; then until
 * the idle deadline has closed the rest. */
static void client_flood(struct job *j)
{
    int fds[NFLOOD + NBURST];
    bool closed[NFLOOD + NBURST] = {false};
    const int n = NFLOOD + NBURST;
    uint64_t t0;

    for (int i = 0; i < NFLOOD; i++)
        fds[i] = connect_to(AF_INET, j->port, 0);
    wait_closed(fds, closed, NFLOOD, NFLOOD - PER_SOURCE, 5000);
    usleep(300 * 1000); /* time to close more than it should */
    j->nclosed_early = count_closed(fds, closed, NFLOOD);
    j->n200 = good_requests(NGOOD, NULL, j->port, fds + NFLOOD, NBURST);
    j->nother = NGOOD - j->n200;
    /* Of the idle ones only the newest PER_SOURCE stay. */
    wait_closed(fds, closed, n, n - PER_SOURCE, 2000);
    usleep(300 * 1000);
    j->nclosed_after = count_closed(fds, closed, n);
    t0 = now_ms();
    j->nclosed_end = wait_closed(fds, closed, n, n, 5000);
    j->elapsed_ms = now_ms() - t0;
    for (int i = 0; i < n; i++) {
        if (fds[i] < 0)
            j->err = ECONNREFUSED;
        else
            close(fds[i]);
    }
}

/* With the listener capped at 2 * PER_SOURCE connections: PER_SOURCE idle connections from
 * 127.0.0.2, as many from 127.0.0.3, one more from 127.0.0.4, then a request from 127.0.0.5.
 * The last two must each have closed the oldest idle connection overall (the first two from
 * 127.0.0.2) and nothing else; the request must be answered. nclosed_early counts the
 * connections closed, n200 the answer, nother anything unexpected. */
static void client_global(struct job *j)
{
    int fds[2 * PER_SOURCE + 1];
    bool closed[2 * PER_SOURCE + 1] = {false};
    const int n = 2 * PER_SOURCE + 1;

    for (int i = 0; i < PER_SOURCE; i++)
        fds[i] = connect_from(AF_INET, "127.0.0.2", j->port, 0);
    usleep(100 * 1000); /* accepted before the others */
    for (int i = 0; i < PER_SOURCE; i++)
        fds[PER_SOURCE + i] = connect_from(AF_INET, "127.0.0.3", j->port, 0);
    usleep(200 * 1000); /* accepted */
    fds[n - 1] = connect_from(AF_INET, "127.0.0.4", j->port, 0);
    wait_closed(fds, closed, n, 1, 2000);
    j->n200 = good_requests(1, "127.0.0.5", j->port, NULL, 0);
    wait_closed(fds, closed, n, 2, 2000);
    usleep(200 * 1000);
    j->nclosed_early = count_closed(fds, closed, n);
    /* The two closed are the first two from 127.0.0.2. */
    j->nother = !closed[0] || !closed[1];
    for (int i = 0; i < n; i++) {
        if (fds[i] < 0)
            j->err = ECONNREFUSED;
        else
            close(fds[i]);
    }
}

/* A request for a large answer read slowly (after delay_ms), while more connections from the
 * same address come and go: the one being answered is never closed for them. */
static void client_busy(struct job *j)
{
    static const char req[] = "GET " PATH " HTTP/1.1\r\n\r\n";
    int fd = connect_to(AF_INET, j->port, 4096), idle[2 * PER_SOURCE + 2];
    bool closed[2 * PER_SOURCE + 2] = {false};
    const int n = 2 * PER_SOURCE + 2;

    if (fd < 0 || send_all(fd, req, sizeof req - 1) < 0) {
        j->err = errno;
        if (fd >= 0)
            close(fd);
        return;
    }
    usleep(100 * 1000); /* the answer is being written */
    for (int i = 0; i < n; i++)
        idle[i] = connect_to(AF_INET, j->port, 0);
    j->nclosed_early = wait_closed(idle, closed, n, n - PER_SOURCE, 2000);
    usleep(j->delay_ms * 1000);
    read_all(fd, j);
    close(fd);
    for (int i = 0; i < n; i++)
        if (idle[i] >= 0)
            close(idle[i]);
}

static void *thread_main(void *arg)
{
    struct job *j = arg;

    j->fn(j);
    atomic_store(&j->stage, 2);
    uv_async_send(&j->async);
    return NULL;
}

static void on_async(uv_async_t *a)
{
}

static void job_start(uv_loop_t *loop, struct job *j, pthread_t *t)
{
    uv_async_init(loop, &j->async, on_async);
    assert_int_equal(pthread_create(t, NULL, thread_main, j), 0);
}

static void job_finish(uv_loop_t *loop, struct job *j, pthread_t t)
{
    run_until(loop, &j->stage, 2, 20000);
    pthread_join(t, NULL);
    uv_close((uv_handle_t *)&j->async, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
}

/* Runs one request against port and returns the job (caller frees). */
static struct job *exchange(uv_loop_t *loop, int family, int port, const char *req, size_t n)
{
    struct job *j = job_new(16384);
    pthread_t t;

    j->fn = client_exchange;
    j->family = family;
    j->port = port;
    j->req = req;
    j->reqlen = n;
    job_start(loop, j, &t);
    job_finish(loop, j, t);
    return j;
}

static int resp_status(const struct job *j)
{
    int st = 0;

    return sscanf(j->resp, "HTTP/1.1 %d", &st) == 1 ? st : -1;
}

static const char *resp_body(const struct job *j)
{
    const char *p = strstr(j->resp, "\r\n\r\n");

    assert_non_null(p);
    return p + 4;
}

static long resp_content_length(const struct job *j)
{
    const char *p = strstr(j->resp, "\r\nContent-Length: ");

    assert_non_null(p);
    return strtol(p + 18, NULL, 10);
}

/* ---- tests -------------------------------------------------------------------------------- */

static void check_answer(uv_loop_t *loop, int family, int port, const char *req, int status,
                         const char *body)
{
    struct job *j = exchange(loop, family, port, req, strlen(req));

    if (resp_status(j) != status)
        fail_msg("%s: got \"%s\" (err %d)", req, j->resp, j->err);
    assert_true(j->eof);
    assert_non_null(strstr(j->resp, "\r\nConnection: close\r\n"));
    assert_non_null(strstr(j->resp, "\r\nContent-Type: text/plain\r\n"));
    assert_string_equal(resp_body(j), body);
    if (body[0])
        assert_int_equal(resp_content_length(j), strlen(body));
    free(j);
}

static void test_answers(void **state)
{
    uv_loop_t loop;
    size_t nfam;
    struct http01 *h = start_loopback(&loop, &nfam);
    struct err e;
    struct job *j;

    assert_int_equal(http01_add(h, TOKEN, KEYAUTH, &e), 0);
    assert_int_equal(http01_count(h), 1);
    for (size_t i = 0; i < nfam; i++) {
        int fam = i ? AF_INET6 : AF_INET, port = http01_bound_port(h, i);

        check_answer(&loop, fam, port, "GET " PATH " HTTP/1.1\r\nHost: a\r\n\r\n", 200, KEYAUTH);
        check_answer(&loop, fam, port, "GET " PATH " HTTP/1.0\n\n", 200, KEYAUTH);
        check_answer(&loop, fam, port, "GET /.well-known/acme-challenge/nope HTTP/1.1\r\n\r\n", 404,
                     "404 Not Found\n");
        check_answer(&loop, fam, port, "GET / HTTP/1.1\r\n\r\n", 404, "404 Not Found\n");
        check_answer(&loop, fam, port, "GET " PATH "/.. HTTP/1.1\r\n\r\n", 404, "404 Not Found\n");
        check_answer(&loop, fam, port, "GARBAGE\r\n\r\n", 400, "400 Bad Request\n");
        /* HEAD: the headers of the GET, no body. */
        check_answer(&loop, fam, port, "HEAD " PATH " HTTP/1.1\r\n\r\n", 200, "");
        j = exchange(&loop, fam, port, "HEAD " PATH " HTTP/1.1\r\n\r\n",
                     strlen("HEAD " PATH " HTTP/1.1\r\n\r\n"));
        assert_int_equal(resp_content_length(j), strlen(KEYAUTH));
        free(j);
        /* POST: 405 with Allow. */
        j = exchange(&loop, fam, port, "POST " PATH " HTTP/1.1\r\n\r\n",
                     strlen("POST " PATH " HTTP/1.1\r\n\r\n"));
        assert_int_equal(resp_status(j), 405);
        assert_non_null(strstr(j->resp, "\r\nAllow: GET, HEAD\r\n"));
        free(j);
    }
    /* Publishing again replaces the answer; withdrawing gives 404. */
    assert_int_equal(http01_add(h, TOKEN, "other", &e), 0);
    assert_int_equal(http01_count(h), 1);
    check_answer(&loop, AF_INET, http01_bound_port(h, 0), "GET " PATH " HTTP/1.1\r\n\r\n", 200,
                 "other");
    http01_remove(h, TOKEN);
    http01_remove(h, TOKEN);
    assert_int_equal(http01_count(h), 0);
    check_answer(&loop, AF_INET, http01_bound_port(h, 0), "GET " PATH " HTTP/1.1\r\n\r\n", 404,
                 "404 Not Found\n");
    close_and_check(&loop, h);
}

/* Runs a client_exchange job prepared by the caller. */
static void run_job(uv_loop_t *loop, struct job *j, int port, const char *req)
{
    pthread_t t;

    j->fn = client_exchange;
    j->family = AF_INET;
    j->port = port;
    j->req = req;
    j->reqlen = strlen(req);
    job_start(loop, j, &t);
    job_finish(loop, j, t);
}

/* A body after the head, more input after the response, or a client that shuts down its side
 * right after the request must not cost it the response nor get it a reset. */
static void test_body_and_half_close(void **state)
{
    static const char with_body[] = "GET " PATH " HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello";
    static const char plain[] = "GET " PATH " HTTP/1.1\r\n\r\n";
    const size_t big = 8 << 20;
    char *keyauth = malloc(big + 1);
    uv_loop_t loop;
    size_t nfam;
    struct http01 *h = start_loopback(&loop, &nfam);
    int port = http01_bound_port(h, 0);
    struct job *j;

    assert_non_null(keyauth);
    assert_int_equal(http01_add(h, TOKEN, KEYAUTH, NULL), 0);
    check_answer(&loop, AF_INET, port, with_body, 200, KEYAUTH);

    j = job_new(16384);
    j->after = true;
    run_job(&loop, j, port, with_body);
    assert_int_equal(resp_status(j), 200);
    assert_true(j->eof);
    assert_int_equal(j->after_err, 0);
    free(j);

    j = job_new(16384);
    j->shut_wr = true;
    run_job(&loop, j, port, plain);
    assert_int_equal(resp_status(j), 200);
    assert_string_equal(resp_body(j), KEYAUTH);
    assert_true(j->eof);
    free(j);

    /* An answer too large to be written at once to a client that has already shut down its
     * side: the end of its input must not cut the response short. */
    memset(keyauth, 'k', big);
    keyauth[big] = '\0';
    assert_int_equal(http01_add(h, TOKEN, keyauth, NULL), 0);
    j = job_new(big + 4096);
    j->shut_wr = true;
    j->rcvbuf = 4096;
    j->delay_ms = 300;
    run_job(&loop, j, port, plain);
    assert_int_equal(resp_status(j), 200);
    assert_int_equal(resp_content_length(j), big);
    assert_int_equal(strlen(resp_body(j)), big);
    assert_true(j->eof);
    free(j);
    free(keyauth);
    close_and_check(&loop, h);
}

static void test_limits(void **state)
{
    uv_loop_t loop;
    size_t nfam;
    struct http01 *h = start_loopback(&loop, &nfam);
    int port = http01_bound_port(h, 0);
    size_t n = 0, cap = 12 * 1024;
    char *s = malloc(cap);
    struct job *j;

    assert_non_null(s);
    /* An over-long request line is answered before it ends. */
    memcpy(s, "GET /", 5);
    memset(s + 5, 'a', 1100);
    j = exchange(&loop, AF_INET, port, s, 1105);
    assert_int_equal(resp_status(j), 414);
    assert_true(j->eof);
    assert_non_null(strstr(j->resp, "\r\nConnection: close\r\n"));
    free(j);
    /* A 9 KiB head. */
    n = (size_t)snprintf(s, cap, "GET " PATH " HTTP/1.1\r\n");
    while (n < 9 * 1024)
        n += (size_t)snprintf(s + n, cap - n, "X-Pad: %060d\r\n", 0);
    n += (size_t)snprintf(s + n, cap - n, "\r\n");
    j = exchange(&loop, AF_INET, port, s, n);
    assert_int_equal(resp_status(j), 431);
    assert_true(j->eof);
    free(j);
    free(s);
    close_and_check(&loop, h);
}

/* A client that sends nothing, half a request line, or an incomplete head is closed when the
 * idle deadline passes: 3 s by default, here also 200 ms. */
static void test_timeout(void **state)
{
    static const char *reqs[] = {"", "GET /.well-known/acme-chal",
                                 "GET /.well-known/acme-challenge/" TOKEN " HTTP/1.1\r\n"};
    struct conn_guard_limits lim = {.idle_ms = 200};
    uv_loop_t loop;
    size_t nfam;
    struct http01 *h = start_loopback(&loop, &nfam);
    int port = http01_bound_port(h, 0);
    struct job *j;

    assert_int_equal(http01_add(h, TOKEN, KEYAUTH, NULL), 0);
    /* The default deadline, with half a request line. */
    j = exchange(&loop, AF_INET, port, reqs[1], strlen(reqs[1]));
    if (!j->eof || j->resplen != 0)
        fail_msg("default deadline: eof %d, err %d, \"%s\"", j->eof, j->err, j->resp);
    /* Not the macro: what the listener must do is close it after 2 to 3 s. */
    if (j->elapsed_ms < 1900 || j->elapsed_ms > 3000 + 1000)
        fail_msg("closed after %llu ms, not 2 to 3 s", (unsigned long long)j->elapsed_ms);
    free(j);
    http01_set_limits(h, &lim);
    for (size_t i = 0; i < sizeof reqs / sizeof reqs[0]; i++) {
        j = exchange(&loop, AF_INET, port, reqs[i], strlen(reqs[i]));
        if (!j->eof || j->resplen != 0)
            fail_msg("request %zu: eof %d, err %d, \"%s\"", i, j->eof, j->err, j->resp);
        assert_true(j->elapsed_ms >= 150);
        assert_true(j->elapsed_ms < 3000);
        free(j);
    }
    close_and_check(&loop, h);
}

/* Runs a client job of fn against 127.0.0.1 on h's first listener. */
static void run_client(uv_loop_t *loop, struct http01 *h, void (*fn)(struct job *),
                       unsigned delay_ms, struct job *j)
{
    pthread_t t;

    j->fn = fn;
    j->family = AF_INET;
    j->port = http01_bound_port(h, 0);
    j->delay_ms = delay_ms;
    job_start(loop, j, &t);
    job_finish(loop, j, t);
}

/* 100 idle connections from one address cost the validator nothing: the address keeps only
 * its newest four idle ones, three concurrent requests are all answered even when a burst of
 * connections from their address comes between their connects and their requests, and the
 * idle deadline closes the last idle ones. */
static void test_flood(void **state)
{
    /* A long idle deadline, so that only the sweep closes connections before the end. */
    struct conn_guard_limits lim = {.idle_ms = 4000};
    uv_loop_t loop;
    size_t nfam;
    struct http01 *h = start_loopback(&loop, &nfam);
    struct job *j = job_new(16384);

    assert_int_equal(http01_add(h, TOKEN, KEYAUTH, NULL), 0);
    http01_set_limits(h, &lim);
    run_client(&loop, h, client_flood, 0, j);
    assert_int_equal(j->err, 0);
    assert_int_equal(j->nclosed_early, NFLOOD - PER_SOURCE);
    assert_int_equal(j->n200, NGOOD);
    assert_int_equal(j->nother, 0);
    assert_int_equal(j->nclosed_after, NFLOOD + NBURST - PER_SOURCE);
    assert_int_equal(j->nclosed_end, NFLOOD + NBURST);
    assert_true(j->elapsed_ms < lim.idle_ms);
    free(j);
    /* The listener still answers afterwards. */
    check_answer(&loop, AF_INET, http01_bound_port(h, 0), GOOD_REQ, 200, KEYAUTH);
    close_and_check(&loop, h);
}

/* At the listener's cap a new connection closes the oldest idle one of any address. */
static void test_global_cap(void **state)
{
    struct conn_guard_limits lim = {.max_conns = 2 * PER_SOURCE};
    uv_loop_t loop;
    size_t nfam;
    struct http01 *h = start_loopback(&loop, &nfam);
    struct job *j = job_new(16384);

    assert_int_equal(http01_add(h, TOKEN, KEYAUTH, NULL), 0);
    http01_set_limits(h, &lim);
    run_client(&loop, h, client_global, 0, j);
    assert_int_equal(j->err, 0);
    assert_int_equal(j->n200, 1);
    assert_int_equal(j->nclosed_early, 2);
    assert_int_equal(j->nother, 0);
    free(j);
    close_and_check(&loop, h);
}

/* A connection whose request has arrived is neither closed for newer ones from its address
 * nor by the idle deadline: only the deadline of the whole exchange bounds it. */
static void test_busy_kept(void **state)
{
    /* The idle deadline after the grace, so that the sweep sees the other connections. */
    struct conn_guard_limits lim = {.idle_ms = 1000};
    const size_t big = 8 << 20;
    char *keyauth = malloc(big + 1);
    uv_loop_t loop;
    size_t nfam;
    struct http01 *h = start_loopback(&loop, &nfam);
    struct job *j = job_new(big + 4096);

    assert_non_null(keyauth);
    memset(keyauth, 'k', big);
    keyauth[big] = '\0';
    assert_int_equal(http01_add(h, TOKEN, keyauth, NULL), 0);
    http01_set_limits(h, &lim);
    run_client(&loop, h, client_busy, lim.idle_ms + 300, j);
    assert_int_equal(j->err, 0);
    assert_true(j->nclosed_early >= 2 * PER_SOURCE + 2 - PER_SOURCE);
    assert_int_equal(resp_status(j), 200);
    assert_int_equal(resp_content_length(j), big);
    assert_int_equal(strlen(resp_body(j)), big);
    assert_true(j->eof);
    free(j);
    free(keyauth);
    close_and_check(&loop, h);
}

/* Closing with a connection open closes it and still frees everything. */
static void test_close_with_connection(void **state)
{
    static const char partial[] = "GET / HTTP/1.1\r\n";
    uv_loop_t loop;
    size_t nfam;
    struct http01 *h = start_loopback(&loop, &nfam);
    struct job *j = job_new(16384);
    pthread_t t;

    j->fn = client_exchange;
    j->family = AF_INET;
    j->port = http01_bound_port(h, 0);
    j->req = partial;
    j->reqlen = sizeof partial - 1;
    job_start(&loop, j, &t);
    run_until(&loop, &j->stage, 1, 5000);
    run_for(&loop, 100); /* let the listener accept and read */
    http01_close(h, NULL, NULL);
    job_finish(&loop, j, t);
    assert_true(j->eof);
    assert_int_equal(j->resplen, 0);
    assert_true(j->elapsed_ms < 3000);
    free(j);
    uv_run(&loop, UV_RUN_NOWAIT);
    assert_int_equal(uv_loop_close(&loop), 0);
}

/* A required address in use fails the start; an optional one is reported per address. */
static void test_bind_results(void **state)
{
    struct sockaddr_in in = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t sl = sizeof in;
    int blocker = socket(AF_INET, SOCK_STREAM, 0);
    struct listen_addr a[2];
    bool required[2] = {false, true};
    struct http01 *h = (struct http01 *)1;
    uv_loop_t loop;
    struct err e;

    assert_true(blocker >= 0);
    assert_int_equal(bind(blocker, (struct sockaddr *)&in, sizeof in), 0);
    assert_int_equal(listen(blocker, 1), 0);
    assert_int_equal(getsockname(blocker, (struct sockaddr *)&in, &sl), 0);
    assert_int_equal(listen_addr_from_sockaddr(&a[0], (struct sockaddr *)&in, sl), 0);
    loopback(&a[1], AF_INET);
    assert_int_equal(uv_loop_init(&loop), 0);

    err_clear(&e);
    assert_int_equal(http01_start(&loop, a, NULL, 2, &h, &e), -EADDRINUSE);
    assert_null(h);
    assert_non_null(strstr(e.msg, a[0].text));
    assert_int_equal(http01_start(&loop, a, NULL, 0, &h, &e), -EINVAL);

    assert_int_equal(http01_start(&loop, a, required, 2, &h, &e), 0);
    assert_int_equal(http01_bound_port(h, 0), -EADDRINUSE);
    assert_null(http01_bound_addr(h, 0));
    assert_true(http01_bound_port(h, 1) > 0);
    assert_non_null(http01_bound_addr(h, 1));
    assert_non_null(strstr(http01_bound_addr(h, 1), "127.0.0.1:"));
    assert_int_equal(http01_bound_port(h, 2), -ENOENT);
    close(blocker);
    close_and_check(&loop, h);
}

static void test_add_checks(void **state)
{
    char long_token[HTTP01_TOKEN_MAX + 2];
    uv_loop_t loop;
    size_t nfam;
    struct http01 *h = start_loopback(&loop, &nfam);
    struct err e;

    memset(long_token, 'a', sizeof long_token - 1);
    long_token[sizeof long_token - 1] = '\0';
    assert_int_equal(http01_add(h, "../etc", KEYAUTH, &e), -EINVAL);
    assert_non_null(strstr(e.msg, "base64url"));
    assert_int_equal(http01_add(h, "", KEYAUTH, &e), -EINVAL);
    assert_int_equal(http01_add(h, NULL, KEYAUTH, &e), -EINVAL);
    assert_int_equal(http01_add(h, TOKEN, NULL, &e), -EINVAL);
    assert_int_equal(http01_add(h, long_token, KEYAUTH, &e), -EINVAL);
    long_token[HTTP01_TOKEN_MAX] = '\0';
    assert_int_equal(http01_add(h, long_token, KEYAUTH, &e), 0);
    assert_int_equal(http01_add(h, TOKEN, KEYAUTH, &e), 0);
    assert_int_equal(http01_count(h), 2);
    http01_remove(h, "unknown");
    http01_remove(h, NULL);
    assert_int_equal(http01_count(h), 2);
    http01_close(NULL, NULL, NULL);
    /* Answers still published at close are freed with the listener. */
    close_and_check(&loop, h);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_answers),      cmocka_unit_test(test_body_and_half_close),
        cmocka_unit_test(test_limits),       cmocka_unit_test(test_timeout),
        cmocka_unit_test(test_flood),        cmocka_unit_test(test_global_cap),
        cmocka_unit_test(test_busy_kept),    cmocka_unit_test(test_close_with_connection),
        cmocka_unit_test(test_bind_results), cmocka_unit_test(test_add_checks),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
