/* worker_serve: acmed serve's endpoint in the worker (see worker_serve.h). */
#include "daemon/worker_serve.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "privsep/wmsg.h"
#include "serve/serve_front.h"
#include "util/log.h"

struct pending {
    uint64_t id;
    serve_answer_cb cb;
    void *arg;
    struct pending *next;
};

struct worker_serve {
    uv_loop_t *loop;
    struct ipc_chan *chan;
    struct serve_front *front;
    int fds[WMSG_LISTEN_MAX];
    size_t nfds, total;
    uint64_t max_body;
    char *cert, *key;
    struct pending *pending;
    uint64_t next_id;
};

static int fwd_ask(void *ctx, const struct serve_ask *a, serve_answer_cb cb, void *arg,
                   void **ticket)
{
    static const uint16_t tags[3] = {WMSG_T_HMAC1, WMSG_T_HMAC2, WMSG_T_AUTHN};
    static const char *const names[3] = {"HMAC-SHA256", "HMAC-SHA2-256", "Authentication"};
    struct worker_serve *w = ctx;
    struct pending *p = calloc(1, sizeof *p);
    struct ipc_out o;
    struct err e = {0};

    *ticket = NULL;
    if (!p)
        return -ENOMEM;
    p->id = ++w->next_id;
    p->cb = cb;
    p->arg = arg;
    ipc_out_begin(&o, WMSG_ASK);
    ipc_put_u64(&o, WMSG_T_ID, p->id);
    ipc_put_bytes(&o, WMSG_T_PEER, a->peer, a->peer_len);
    ipc_put_bytes(&o, WMSG_T_BODY, a->body, a->len);
    for (size_t i = 0; i < a->nheaders; i++)
        for (size_t k = 0; k < 3; k++)
            if (!strcmp(a->headers[i].name, names[k]) &&
                strlen(a->headers[i].value) <= WMSG_HEADER_MAX)
                ipc_put_text(&o, tags[k], a->headers[i].value);
    if (ipc_out_end(&o, &e) < 0 || ipc_chan_send(w->chan, &o.b, &e) < 0) {
        log_warn("worker: serve: %s", err_msg(&e));
        free(p);
        return -ENOMEM;
    }
    p->next = w->pending;
    w->pending = p;
    *ticket = p;
    return 0;
}

static void unlink_pending(struct worker_serve *w, struct pending *p)
{
    for (struct pending **pp = &w->pending; *pp; pp = &(*pp)->next) {
        if (*pp == p) {
            *pp = p->next;
            return;
        }
    }
}

static void fwd_forget(void *ctx, void *ticket)
{
    struct worker_serve *w = ctx;
    struct pending *p = ticket;
    struct ipc_out o;
    struct err e = {0};

    unlink_pending(w, p);
    ipc_out_begin(&o, WMSG_GONE);
    ipc_put_u64(&o, WMSG_T_ID, p->id);
    if (ipc_out_end(&o, &e) < 0 || ipc_chan_send(w->chan, &o.b, &e) < 0)
        log_warn("worker: serve: %s", err_msg(&e));
    free(p);
}

static int on_serve(struct worker_serve *w, const struct ipc_msg *m, int fd, struct err *e)
{
    struct serve_backend be = {.ask = fwd_ask, .forget = fwd_forget, .ctx = w};
    uint64_t index, total;
    const uint8_t *p;
    size_t len;

    if (fd < 0)
        return err_set(e, -EPROTO, "serve: no socket came with it");
    ipc_get_u64(m, WMSG_T_INDEX, 0, &index);
    ipc_get_u64(m, WMSG_T_TOTAL, 0, &total);
    if (w->front || total == 0 || total > WMSG_LISTEN_MAX || index != w->nfds ||
        (w->nfds && total != w->total)) {
        close(fd);
        return err_set(e, -EPROTO, "serve: socket %llu of %llu out of order",
                       (unsigned long long)index, (unsigned long long)total);
    }
    w->total = (size_t)total;
    w->fds[w->nfds++] = fd;
    if (index == 0) {
        ipc_get_u64(m, WMSG_T_MAXBODY, 0, &w->max_body);
        if (ipc_get_bytes(m, WMSG_T_TLSCERT, 0, &p, &len) &&
            (w->cert = strndup((const char *)p, len)) &&
            ipc_get_bytes(m, WMSG_T_TLSKEY, 0, &p, &len))
            w->key = strndup((const char *)p, len);
        if (w->cert && !w->key)
            return err_set(e, -EPROTO, "serve: a certificate without its key");
    }
    if (w->nfds < w->total)
        return 0;
    if (serve_front_new(w->loop, w->fds, w->nfds,
                        w->max_body > WMSG_ASK_BODY_MAX ? WMSG_ASK_BODY_MAX : w->max_body, w->cert,
                        w->key, &be, &w->front, e) < 0)
        log_err("worker: serve: %s", err_msg(e)); /* the endpoint stays down; logged */
    for (size_t i = 0; i < w->nfds; i++)
        close(w->fds[i]); /* httpd serves on duplicates */
    w->nfds = 0;
    return 0;
}

static int on_answer(struct worker_serve *w, const struct ipc_msg *m, struct err *e)
{
    uint64_t id, status, retry;
    const uint8_t *body;
    size_t len;
    struct pending *p;

    ipc_get_u64(m, WMSG_T_ID, 0, &id);
    ipc_get_u64(m, WMSG_T_STATUS, 0, &status);
    ipc_get_u64(m, WMSG_T_RETRY, 0, &retry);
    ipc_get_bytes(m, WMSG_T_BODY, 0, &body, &len);
    if (status < 100 || status > 599 || retry > 86400)
        return err_set(e, -EPROTO, "serve: an answer with status %llu", (unsigned long long)status);
    for (p = w->pending; p && p->id != id; p = p->next)
        ;
    if (!p)
        return 0; /* its client went away meanwhile */
    unlink_pending(w, p);
    p->cb(p->arg, (unsigned)status, (const char *)body, len, (unsigned)retry);
    free(p);
    return 0;
}

struct worker_serve *worker_serve_new(uv_loop_t *loop, struct ipc_chan *chan)
{
    struct worker_serve *w = calloc(1, sizeof *w);

    if (w) {
        w->loop = loop;
        w->chan = chan;
    }
    return w;
}

int worker_serve_handle(struct worker_serve *w, const struct ipc_msg *m, int fd, struct err *e)
{
    if (m->type == WMSG_SERVE)
        return on_serve(w, m, fd, e);
    if (fd >= 0)
        close(fd);
    if (m->type == WMSG_ANSWER)
        return on_answer(w, m, e);
    return err_set(e, -EPROTO, "unexpected message %s", m->spec->name);
}

void worker_serve_free(struct worker_serve *w)
{
    if (!w)
        return;
    serve_front_close(w->front, NULL, NULL);
    for (size_t i = 0; i < w->nfds; i++)
        close(w->fds[i]);
    while (w->pending) {
        struct pending *p = w->pending;

        w->pending = p->next;
        free(p);
    }
    if (w->key)
        explicit_bzero(w->key, strlen(w->key));
    free(w->key);
    free(w->cert);
    free(w);
}
