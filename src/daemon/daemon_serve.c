/* daemon_serve: the certificate server inside the daemon (see daemon_serve.h). */
#include "daemon/daemon_serve.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/listen_sock.h"
#include "serve/serve_back.h"
#include "serve/serve_conf.h"
#include "serve/serve_front.h"
#include "serve/serve_keeper.h"
#include "serve/serve_listen.h"
#include "util/fsio.h"
#include "util/log.h"

#define TLS_PEM_MAX (1u << 20)

struct daemon_serve {
    struct serve_conf conf;
    struct serve_listen_held held;
    struct serve_back *back;
    struct serve_front *front;  /* in this process, or: */
    struct serve_keeper *proxy; /* in the worker (privilege separation) */
    int *fds;                   /* the endpoint's listening sockets */
    size_t nfds;
    bool stopping, front_closed, back_stopped;
    void (*done)(void *arg);
    void *done_arg;
};

static int be_ask(void *ctx, const struct serve_ask *a, serve_answer_cb cb, void *arg,
                  void **ticket)
{
    struct serve_wait *w = NULL;
    int rc = serve_back_ask(ctx, a, cb, arg, &w);

    *ticket = w;
    return rc;
}

static void be_forget(void *ctx, void *ticket)
{
    serve_back_forget(ctx, ticket);
}

static void free_all(struct daemon_serve *s)
{
    for (size_t i = 0; i < s->nfds; i++)
        if (s->fds[i] >= 0)
            close(s->fds[i]);
    free(s->fds);
    serve_conf_clear(&s->conf);
    free(s);
}

/* The endpoint's certificate and key, read by the process that reads configuration. */
static int read_tls(const struct serve_conf *c, char **cert, char **key, struct err *e)
{
    size_t len;
    int rc;

    *cert = *key = NULL;
    if (!c->tls_cert)
        return 0;
    if ((rc = fsio_read_file(c->tls_cert, TLS_PEM_MAX, cert, &len, e)) < 0 ||
        (rc = fsio_read_file(c->tls_key, TLS_PEM_MAX, key, &len, e)) < 0) {
        free(*cert);
        *cert = NULL;
        return err_wrap(e, "tls"), rc;
    }
    return 0;
}

int daemon_serve_start(uv_loop_t *loop, struct keeper *k, const char *state_dir,
                       struct rec_opts *po, unsigned max_orders, struct daemon_serve **out,
                       struct err *e)
{
    struct daemon_serve *s = calloc(1, sizeof *s);
    struct serve_back_opts bo = {.loop = loop, .state_dir = state_dir, .max_orders = max_orders};
    struct serve_backend be = {.ask = be_ask, .forget = be_forget};
    char *cert = NULL, *key = NULL;
    int rc;

    *out = NULL;
    if (!s)
        return err_set(e, -ENOMEM, "out of memory");
    if ((rc = serve_conf_load(state_dir, &s->conf, e)) < 0) {
        free(s);
        return rc;
    }
    if (!(s->fds = calloc(s->conf.nlisten, sizeof *s->fds))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto fail;
    }
    for (size_t i = 0; i < s->conf.nlisten; i++) {
        const struct serve_listen *l = &s->conf.listen[i];

        if ((rc = listen_sock_open((const struct sockaddr *)&l->sa, l->len, l->text, e)) < 0)
            goto fail;
        s->fds[s->nfds++] = rc;
    }
    if (s->conf.nhttp01) {
        if ((rc = serve_listen_open(&s->held, loop, po->listeners, NULL, s->conf.http01,
                                    s->conf.nhttp01, e)) < 0)
            goto fail;
        po->listeners = &s->held.f;
    }
    bo.conf = &s->conf;
    bo.rec = po;
    if ((rc = serve_back_new(&bo, &s->back, e)) < 0)
        goto fail_listen;
    be.ctx = s->back;
    if ((rc = read_tls(&s->conf, &cert, &key, e)) == 0 && k) {
        /* The worker serves the endpoint; the sockets are the keeper's to hand it. */
        rc = serve_keeper_start(k, s->back, s->fds, s->nfds, s->conf.max_size, cert, key, &s->proxy,
                                e);
        if (rc == 0)
            s->nfds = 0;
    } else if (rc == 0) {
        rc = serve_front_new(loop, s->fds, s->nfds, s->conf.max_size, cert, key, &be, &s->front, e);
    }
    if (key) {
        explicit_bzero(key, strlen(key));
        free(key);
    }
    free(cert);
    if (rc < 0) {
        serve_back_stop(s->back, true, NULL, NULL);
        goto fail_listen;
    }
    for (size_t i = 0; i < s->conf.nlisten; i++)
        log_notice("serve: listening on %s%s%s", s->conf.listen[i].text,
                   s->conf.tls_cert ? " (https)" : "", k ? " (served by the worker)" : "");
    for (size_t i = 0; i < s->conf.nhttp01; i++)
        log_notice("serve: answering http-01 on %s", s->conf.http01[i].text);
    *out = s;
    return 0;
fail_listen:
    serve_listen_close(&s->held);
fail:
    free_all(s);
    return rc;
}

static void maybe_done(struct daemon_serve *s)
{
    void (*done)(void *) = s->done;
    void *arg = s->done_arg;

    if (!s->front_closed || !s->back_stopped)
        return;
    serve_listen_close(&s->held);
    free_all(s);
    if (done)
        done(arg);
}

static void on_front_closed(void *arg)
{
    struct daemon_serve *s = arg;

    s->front_closed = true;
    maybe_done(s);
}

static void on_back_stopped(void *arg)
{
    struct daemon_serve *s = arg;

    s->back_stopped = true;
    maybe_done(s);
}

void daemon_serve_stop(struct daemon_serve *s, bool force, void (*done)(void *arg), void *arg)
{
    if (s->stopping) {
        if (force && !s->back_stopped)
            serve_back_stop(s->back, true, on_back_stopped, s);
        return;
    }
    s->stopping = true;
    s->done = done;
    s->done_arg = arg;
    if (s->proxy) {
        serve_keeper_stop(s->proxy);
        s->proxy = NULL;
        s->front_closed = true;
    } else {
        serve_front_close(s->front, on_front_closed, s);
    }
    serve_back_stop(s->back, force, on_back_stopped, s);
}
