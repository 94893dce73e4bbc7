/* signer_client: the signer protocol's client on a libuv loop (see signer_client.h). */
#include "signer/signer_client.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>

#include "signer/signer_proto.h"
#include "signer/signer_conn.h"
#include "util/log.h"

/* One queued item: a signature request (line != NULL) or a connection check. */
struct req {
    struct req *next;
    char *line; /* the request line, CRLF included */
    size_t len;
    signer_cb sign_cb;
    signer_client_cb conn_cb;
    void *arg;
};

/* Where the connection stands: waiting for the greeting, for the JWK line, idle, or with a
 * request in flight (the head of the queue). */
enum conn_state { C_GREETING, C_JWK, C_READY, C_BUSY };

struct signer_client {
    uv_loop_t *loop;
    char *name, *path;
    char **argv;
    uint64_t timeout_ms, idle_ms;
    struct req *head, *tail;
    struct signer_conn *conn; /* NULL when not connected */
    enum conn_state st;
    struct signer_greeting greeting; /* of the current connection */
    uv_timer_t timer;                /* the request, greeting or idle deadline */
    uv_timer_t kick;                 /* runs the queue from the loop, never inside a call */
    int open;                        /* of the two timers */
    bool closing;
    unsigned connections; /* opened so far */
    /* from the first greeting */
    char *alg, *thumbprint, *kid;
    json_t *jwk;
    bool known;
};

static void pump(struct signer_client *sc);

/* ---- the queue ---- */

static struct req *queue_pop(struct signer_client *sc)
{
    struct req *r = sc->head;

    if (r) {
        sc->head = r->next;
        if (!sc->head)
            sc->tail = NULL;
    }
    return r;
}

/* Completes one item with an error (or success for a check), then frees it. */
static void req_finish(struct req *r, int rc, const struct err *e)
{
    if (r->line)
        r->sign_cb(r->arg, rc, NULL, 0, e);
    else
        r->conn_cb(r->arg, rc, e);
    free(r->line);
    free(r);
}

/* Fails every queued item. A callback may close the client: then the rest get -ECANCELED
 * from signer_client_close, which has already emptied the queue. */
static void fail_all(struct signer_client *sc, int rc, const struct err *e)
{
    struct req *r;

    while (!sc->closing && (r = queue_pop(sc)))
        req_finish(r, rc, e);
}

static void on_kick(uv_timer_t *t)
{
    pump(t->data);
}

/* Runs the queue at the loop's next turn. */
static void kick(struct signer_client *sc)
{
    if (!sc->closing && sc->head)
        uv_timer_start(&sc->kick, on_kick, 0, 0);
}

/* ---- the connection ---- */

static void conn_drop(struct signer_client *sc)
{
    uv_timer_stop(&sc->timer);
    signer_conn_close(sc->conn);
    sc->conn = NULL;
    signer_greeting_clear(&sc->greeting);
}

/* The connection failed before it could serve: everything queued fails with the reason
 * (retrying at once would only fail again). */
static void conn_fail(struct signer_client *sc, int rc, const struct err *e)
{
    conn_drop(sc);
    fail_all(sc, rc, e);
}

/* The connection ended or broke the protocol after its greeting: a request in flight fails
 * with rc, the ones behind it go again on a fresh connection. */
static void conn_lost(struct signer_client *sc, int rc, const struct err *e)
{
    bool busy = sc->st == C_BUSY;
    struct req *r;

    conn_drop(sc);
    if (busy && (r = queue_pop(sc)))
        req_finish(r, rc, e);
    kick(sc);
}

/* A failure: what it costs depends on when it comes. */
static void conn_bad(struct signer_client *sc, int rc, const struct err *e)
{
    if (sc->st == C_BUSY || sc->st == C_READY)
        conn_lost(sc, rc, e);
    else
        conn_fail(sc, rc, e);
}

/* The greeting of a later connection must announce the key the first one did. */
static bool same_key(const struct signer_client *sc, const struct signer_greeting *g)
{
    return !strcmp(sc->alg, g->alg) && !strcmp(sc->thumbprint, g->thumbprint) &&
           (!sc->kid) == (!g->kid) && (!g->kid || !strcmp(sc->kid, g->kid));
}

static int learn_key(struct signer_client *sc, json_t *jwk)
{
    if (sc->known) {
        json_decref(jwk);
        return 0;
    }
    sc->jwk = jwk;
    sc->alg = strdup(sc->greeting.alg);
    sc->thumbprint = strdup(sc->greeting.thumbprint);
    sc->kid = sc->greeting.kid ? strdup(sc->greeting.kid) : NULL;
    if (!sc->alg || !sc->thumbprint || (sc->greeting.kid && !sc->kid))
        return -ENOMEM;
    sc->known = true;
    return 0;
}

static void on_answer(struct signer_client *sc, const char *line, size_t len)
{
    struct req *r;
    uint8_t *sig = NULL;
    size_t siglen = 0;
    struct err e;
    int rc;

    err_clear(&e);
    if ((rc = signer_proto_answer_parse(line, len, &sig, &siglen, &e)) < 0) {
        err_wrap(&e, "signer %s", sc->name);
        conn_lost(sc, rc, &e);
        return;
    }
    uv_timer_stop(&sc->timer);
    sc->st = C_READY;
    r = queue_pop(sc);
    r->sign_cb(r->arg, 0, sig, siglen, NULL);
    free(sig);
    free(r->line);
    free(r);
    pump(sc);
}

static void on_line(void *arg, const char *line, size_t len)
{
    struct signer_client *sc = arg;
    json_t *jwk = NULL;
    struct err e;
    int rc;

    err_clear(&e);
    switch (sc->st) {
    case C_GREETING:
        if ((rc = signer_proto_greeting_parse(line, len, &sc->greeting, &e)) < 0)
            break;
        if (sc->known && !same_key(sc, &sc->greeting)) {
            rc = err_set(&e, -EPROTO, "it now announces another key (%s %s)", sc->greeting.alg,
                         sc->greeting.thumbprint);
            break;
        }
        sc->st = C_JWK;
        return;
    case C_JWK:
        if ((rc = signer_proto_jwk_parse(&sc->greeting, line, len, &jwk, &e)) < 0)
            break;
        if ((rc = learn_key(sc, jwk)) < 0) {
            err_set(&e, rc, "out of memory");
            break;
        }
        log_debug("signer %s: connected (%s, key %s%s%s)", sc->name, sc->alg, sc->thumbprint,
                  sc->kid ? ", kid " : "", sc->kid ? sc->kid : "");
        uv_timer_stop(&sc->timer);
        sc->st = C_READY;
        pump(sc);
        return;
    case C_BUSY:
        on_answer(sc, line, len);
        return;
    default:
        rc = err_set(&e, -EPROTO, "a line nobody asked for");
        break;
    }
    err_wrap(&e, "signer %s", sc->name);
    conn_bad(sc, rc, &e);
}

/* The connection is over. With a request in flight that is the signer's refusal (the
 * reference signer refuses by closing); idle, the next request simply reconnects. */
static void on_end(void *arg, int rc, const struct err *ce)
{
    struct signer_client *sc = arg;
    const char *why = rc == UV_EOF ? "it closed the connection" : err_msg(ce);
    struct err e;

    err_clear(&e);
    if (rc != UV_EOF && rc != -ECONNRESET && rc != -EPIPE) {
        conn_bad(sc, rc, ce); /* a bare LF, an oversized line */
        return;
    }
    switch (sc->st) {
    case C_BUSY:
        err_set(&e, -EPERM, "signer %s refused the request (%s)", sc->name, why);
        conn_lost(sc, -EPERM, &e);
        break;
    case C_READY:
        conn_drop(sc);
        kick(sc);
        break;
    default:
        err_set(&e, -ECONNRESET, "signer %s: no greeting (%s)", sc->name, why);
        conn_fail(sc, -ECONNRESET, &e);
    }
}

static void on_timer(uv_timer_t *t)
{
    struct signer_client *sc = t->data;
    struct err e;
    unsigned secs = (unsigned)((sc->timeout_ms + 999) / 1000);

    if (!sc->conn)
        return;
    switch (sc->st) {
    case C_READY: /* idle long enough: let another client have the signer */
        conn_drop(sc);
        break;
    case C_BUSY:
        err_set(&e, -ETIMEDOUT, "signer %s: no answer within %u s", sc->name, secs);
        conn_lost(sc, -ETIMEDOUT, &e);
        break;
    default:
        err_set(&e, -ETIMEDOUT, "signer %s: no greeting within %u s", sc->name, secs);
        conn_fail(sc, -ETIMEDOUT, &e);
    }
}

static void conn_open(struct signer_client *sc)
{
    struct signer_conn_cbs cbs = {.line = on_line, .end = on_end, .arg = sc};
    struct err e;
    int rc;

    err_clear(&e);
    rc = signer_conn_open(sc->loop, sc->path, sc->argv, sc->name, &cbs, &sc->conn, &e);
    if (rc < 0) {
        fail_all(sc, rc, &e);
        return;
    }
    sc->connections++;
    sc->st = C_GREETING;
    uv_timer_start(&sc->timer, on_timer, sc->timeout_ms, 0);
}

/* Moves the queue on: opens a connection when needed, completes connection checks, and
 * sends the next request once the connection is ready and idle. */
static void pump(struct signer_client *sc)
{
    struct req *r;
    struct err e;
    int rc;

    while (!sc->closing && sc->head) {
        if (!sc->conn) {
            conn_open(sc);
            continue;
        }
        if (sc->st != C_READY)
            return;
        if (!sc->head->line) {
            r = queue_pop(sc);
            req_finish(r, 0, NULL);
            continue;
        }
        sc->st = C_BUSY;
        uv_timer_start(&sc->timer, on_timer, sc->timeout_ms, 0);
        if ((rc = signer_conn_write(sc->conn, sc->head->line, sc->head->len, &e)) < 0)
            conn_lost(sc, rc, &e);
        return;
    }
    if (!sc->closing && sc->conn && sc->st == C_READY)
        uv_timer_start(&sc->timer, on_timer, sc->idle_ms, 0);
}

/* ---- the public side ---- */

static void free_argv(char **argv)
{
    for (size_t i = 0; argv && argv[i]; i++)
        free(argv[i]);
    free(argv);
}

static char **dup_argv(char *const *argv)
{
    size_t n = 0;
    char **out;

    while (argv[n])
        n++;
    if (!(out = calloc(n + 1, sizeof *out)))
        return NULL;
    for (size_t i = 0; i < n; i++) {
        if (!(out[i] = strdup(argv[i]))) {
            free_argv(out);
            return NULL;
        }
    }
    return out;
}

static void on_timer_closed(uv_handle_t *h)
{
    struct signer_client *sc = h->data;

    if (--sc->open > 0)
        return;
    free(sc->name);
    free(sc->path);
    free_argv(sc->argv);
    free(sc->alg);
    free(sc->thumbprint);
    free(sc->kid);
    json_decref(sc->jwk);
    free(sc);
}

int signer_client_new(uv_loop_t *loop, const struct signer_client_opts *opts,
                      struct signer_client **out, struct err *e)
{
    struct signer_client *sc;
    bool oom;
    int n;

    *out = NULL;
    if (!opts->socket_path == !opts->argv || (opts->argv && !opts->argv[0]))
        return err_set(e, -EINVAL, "a signer is a UNIX socket or a command, not both or neither");
    if (opts->socket_path &&
        strlen(opts->socket_path) >= sizeof(((struct sockaddr_un *)NULL)->sun_path))
        return err_set(e, -EINVAL, "signer socket path too long: %s", opts->socket_path);
    if (!(sc = calloc(1, sizeof *sc)))
        return err_set(e, -ENOMEM, "out of memory");
    sc->loop = loop;
    sc->timeout_ms = opts->timeout_ms ? opts->timeout_ms : SIGNER_CLIENT_TIMEOUT_MS;
    sc->idle_ms = opts->idle_ms ? opts->idle_ms : SIGNER_CLIENT_IDLE_MS;
    if (opts->name)
        n = (sc->name = strdup(opts->name)) ? 0 : -1;
    else if (opts->socket_path)
        n = asprintf(&sc->name, "unix:%s", opts->socket_path);
    else
        n = asprintf(&sc->name, "exec:%s", opts->argv[0]);
    if (n < 0)
        sc->name = NULL;
    oom = !sc->name || (opts->socket_path && !(sc->path = strdup(opts->socket_path))) ||
          (opts->argv && !(sc->argv = dup_argv(opts->argv)));
    if (oom) {
        free(sc->name);
        free(sc->path);
        free_argv(sc->argv);
        free(sc);
        return err_set(e, -ENOMEM, "out of memory");
    }
    uv_timer_init(loop, &sc->timer);
    uv_timer_init(loop, &sc->kick);
    sc->timer.data = sc->kick.data = sc;
    sc->open = 2;
    *out = sc;
    return 0;
}

static int enqueue(struct signer_client *sc, struct req *r, struct err *e)
{
    if (sc->closing) {
        free(r->line);
        free(r);
        return err_set(e, -ECANCELED, "signer %s is closing", sc->name);
    }
    if (sc->tail)
        sc->tail->next = r;
    else
        sc->head = r;
    sc->tail = r;
    kick(sc);
    return 0;
}

int signer_client_connect(struct signer_client *sc, signer_client_cb cb, void *arg, struct err *e)
{
    struct req *r = calloc(1, sizeof *r);

    if (!r)
        return err_set(e, -ENOMEM, "out of memory");
    r->conn_cb = cb;
    r->arg = arg;
    return enqueue(sc, r, e);
}

int signer_client_sign(struct signer_client *sc, const uint8_t *data, size_t len, signer_cb cb,
                       void *arg, struct err *e)
{
    struct req *r = calloc(1, sizeof *r);
    int rc;

    if (!r)
        return err_set(e, -ENOMEM, "out of memory");
    if ((rc = signer_proto_request_format((const char *)data, len, &r->line, e)) < 0) {
        free(r);
        return err_wrap(e, "signer %s", sc->name);
    }
    r->len = len + 2;
    r->sign_cb = cb;
    r->arg = arg;
    return enqueue(sc, r, e);
}

const char *signer_client_alg(const struct signer_client *sc)
{
    return sc->alg;
}

const char *signer_client_thumbprint(const struct signer_client *sc)
{
    return sc->thumbprint;
}

const char *signer_client_kid(const struct signer_client *sc)
{
    return sc->kid;
}

json_t *signer_client_jwk(const struct signer_client *sc)
{
    return sc->jwk;
}

unsigned signer_client_connections(const struct signer_client *sc)
{
    return sc->connections;
}

const char *signer_client_name(const struct signer_client *sc)
{
    return sc->name;
}

static json_t *iface_jwk(void *ctx, struct err *e)
{
    struct signer_client *sc = ctx;

    if (!sc->jwk) {
        err_set(e, -ENOENT, "signer %s gave a kid and no public JWK", sc->name);
        return NULL;
    }
    return json_incref(sc->jwk);
}

static int iface_sign(void *ctx, const uint8_t *data, size_t len, signer_cb cb, void *arg,
                      struct err *e)
{
    return signer_client_sign(ctx, data, len, cb, arg, e);
}

int signer_client_signer(struct signer_client *sc, struct signer *out, struct err *e)
{
    if (!sc->known)
        return err_set(e, -ENOTCONN, "signer %s: not connected yet", sc->name);
    out->alg = sc->alg;
    out->jwk = iface_jwk;
    out->sign = iface_sign;
    out->ctx = sc;
    return 0;
}

void signer_client_close(struct signer_client *sc)
{
    struct req *r;
    struct err e;

    if (!sc || sc->closing)
        return;
    sc->closing = true;
    conn_drop(sc);
    err_set(&e, -ECANCELED, "signer %s: closed", sc->name);
    while ((r = queue_pop(sc)))
        req_finish(r, -ECANCELED, &e);
    uv_close((uv_handle_t *)&sc->timer, on_timer_closed);
    uv_close((uv_handle_t *)&sc->kick, on_timer_closed);
}
