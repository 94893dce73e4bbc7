/* worker: the network side of privilege separation, driven by the keeper over its channel. */
#include "daemon/worker.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <uv.h>

#include "challenge/http01.h"
#include "daemon/worker_engine.h"
#include "daemon/worker_lookup.h"
#include "daemon/worker_serve.h"
#include "net/tls_alpn.h"
#include "privsep/child.h"
#include "privsep/ipc_chan.h"
#include "privsep/remote_signer.h"
#include "privsep/wmsg.h"
#include "util/log.h"

struct responder {
    struct responder *next;
    uint64_t id;
    uint64_t kind;
    int fds[WMSG_LISTEN_MAX]; /* gathered until all TOTAL have come */
    size_t nfds, total;
    struct http01 *http;
    struct tls_alpn *alpn;
    struct worker_lookup_ref ref; /* http-01: asking the keeper on a miss, once told to */
    struct chal_lookup lk;
};

struct worker {
    uv_loop_t loop;
    struct ipc_chan *chan;
    struct remote_hub *hub;
    struct worker_engines *engines;
    struct responder *responders;
    struct worker_lookup *lookup; /* the responders' asks of the keeper */
    struct worker_serve *serve;   /* acmed serve's endpoint, once the keeper sends it */
    char ca_path[64];             /* "/proc/self/fd/N" of the CA bundle the keeper sent, or "" */
    int ca_fd;
    bool insecure_http;
    int exit_code;
    bool ending;
};

bool worker_requested(int argc, char **argv)
{
    return argc == 2 && !strcmp(argv[1], WORKER_ARG) && fcntl(CHILD_CHAN_FD, F_GETFD) >= 0;
}

static int send_frame(void *arg, struct buf *frame, struct err *e)
{
    struct worker *w = arg;

    return ipc_chan_send(w->chan, frame, e);
}

static void responder_close(struct responder *r)
{
    for (size_t i = 0; i < r->nfds; i++)
        close(r->fds[i]);
    http01_close(r->http, NULL, NULL);
    tls_alpn_close(r->alpn, NULL, NULL);
    free(r);
}

/* Ends the worker: everything is closed, the loop then runs dry. */
static void worker_end(struct worker *w, int code)
{
    if (w->ending)
        return;
    w->ending = true;
    w->exit_code = code;
    if (worker_engines_busy(w->engines)) {
        /* A request or a wait between polls is in flight: nothing of the worker's is worth
         * unwinding (it holds no state; the keeper resumes from its checkpoints). */
        log_debug("worker: ending with operations in flight");
        fflush(NULL);
        _exit(code);
    }
    worker_engines_free(w->engines);
    w->engines = NULL;
    while (w->responders) {
        struct responder *r = w->responders;

        w->responders = r->next;
        responder_close(r);
    }
    worker_lookup_free(w->lookup);
    w->lookup = NULL;
    worker_serve_free(w->serve);
    w->serve = NULL;
    remote_hub_free(w->hub);
    w->hub = NULL;
    ipc_chan_free(w->chan);
    w->chan = NULL;
}

static struct responder *find_responder(struct worker *w, uint64_t id, bool unlink)
{
    for (struct responder **pp = &w->responders; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct responder *r = *pp;

            if (unlink)
                *pp = r->next;
            return r;
        }
    }
    return NULL;
}

static void reply_listening(struct worker *w, uint64_t id, const struct err *failed)
{
    struct ipc_out o;
    struct err e = {0};

    ipc_out_begin(&o, WMSG_LISTENING);
    ipc_put_u64(&o, WMSG_T_RESPONDER, id);
    if (failed)
        ipc_put_text(&o, WMSG_T_ERROR, err_msg(failed));
    if (ipc_out_end(&o, &e) < 0 || ipc_chan_send(w->chan, &o.b, &e) < 0)
        log_warn("worker: %s", err_msg(&e));
}

static int on_config(struct worker *w, const struct ipc_msg *m, struct err *e)
{
    const uint8_t *ca;
    size_t calen;
    uint64_t v;

    if (ipc_get_u64(m, WMSG_T_VERBOSE, 0, &v) && v)
        log_set_level(v > 1 ? LL_DEBUG : LL_INFO);
    w->insecure_http = ipc_get_u64(m, WMSG_T_INSECURE, 0, &v) && v;
    if (ipc_get_bytes(m, WMSG_T_CA, 0, &ca, &calen)) {
        /* The HTTP client reads a CA file by name: an anonymous file of our own holds the
         * keeper's bundle (libcurl-gnutls 7.88 takes no in-memory bundle). */
        int fd = memfd_create("acmed-ca-bundle", MFD_CLOEXEC);

        if (fd < 0 || write(fd, ca, calen) != (ssize_t)calen) {
            if (fd >= 0)
                close(fd);
            return err_sys(e, -errno, "cannot hold the CA bundle");
        }
        if (w->ca_fd >= 0)
            close(w->ca_fd);
        w->ca_fd = fd;
        snprintf(w->ca_path, sizeof w->ca_path, "/proc/self/fd/%d", fd);
    }
    if (!ipc_get_u64(m, WMSG_T_MAXREQ, 0, &v))
        v = 0;
    return worker_engines_config(w->engines, w->ca_path[0] ? w->ca_path : NULL, w->insecure_http,
                                 v > 1000 ? 1000 : (unsigned)v, e);
}

static int on_listen(struct worker *w, const struct ipc_msg *m, struct err *e)
{
    uint64_t id, kind, index, total;
    struct responder *r;
    struct err le = {0};
    int fd = ipc_chan_take_fd(w->chan), rc;

    if (fd < 0)
        return err_set(e, -EPROTO, "listen: no socket came with it");
    ipc_get_u64(m, WMSG_T_RESPONDER, 0, &id);
    ipc_get_u64(m, WMSG_T_KIND, 0, &kind);
    ipc_get_u64(m, WMSG_T_INDEX, 0, &index);
    ipc_get_u64(m, WMSG_T_TOTAL, 0, &total);
    r = find_responder(w, id, false);
    if ((kind != WMSG_KIND_HTTP01 && kind != WMSG_KIND_TLS_ALPN) || total == 0 ||
        total > WMSG_LISTEN_MAX || (index == 0) == (r != NULL) ||
        (r && (r->kind != kind || r->total != total || r->nfds != index || r->http || r->alpn))) {
        close(fd);
        return err_set(e, -EPROTO, "listen: socket %llu of %llu out of order for responder %llu",
                       (unsigned long long)index, (unsigned long long)total,
                       (unsigned long long)id);
    }
    if (!r) {
        if (!(r = calloc(1, sizeof *r))) {
            close(fd);
            return err_set(e, -ENOMEM, "out of memory");
        }
        r->id = id;
        r->kind = kind;
        r->total = (size_t)total;
        r->next = w->responders;
        w->responders = r;
    }
    r->fds[r->nfds++] = fd;
    if (r->nfds < r->total)
        return 0;
    /* The listeners take the descriptors, on failure too. */
    r->nfds = 0;
    rc = kind == WMSG_KIND_HTTP01 ? http01_adopt(&w->loop, r->fds, r->total, &r->http, &le)
                                  : tls_alpn_adopt(&w->loop, r->fds, r->total, &r->alpn, &le);
    if (rc < 0) {
        log_warn("worker: responder %llu: %s", (unsigned long long)id, err_msg(&le));
        find_responder(w, id, true);
        free(r);
    }
    reply_listening(w, id, rc < 0 ? &le : NULL);
    return 0;
}

static int on_publish(struct worker *w, const struct ipc_msg *m, bool add, struct err *e)
{
    uint64_t id;
    struct responder *r;
    char *key = NULL, *keyauth = NULL;
    struct err pe = {0};
    int rc = 0;

    ipc_get_u64(m, WMSG_T_RESPONDER, 0, &id);
    if (!(r = find_responder(w, id, false)) || (!r->http && !r->alpn))
        return err_set(e, -EPROTO, "no responder %llu is serving", (unsigned long long)id);
    key = ipc_get_text(m, WMSG_T_KEY, 0);
    keyauth = add ? ipc_get_text(m, WMSG_T_KEYAUTH, 0) : NULL;
    if (!key || (add && !keyauth)) {
        rc = err_set(e, -ENOMEM, "out of memory");
    } else if (add) {
        /* A refused token or name is the keeper's mistake, not a broken channel: logged. */
        if ((r->http ? http01_add(r->http, key, keyauth, &pe)
                     : tls_alpn_add(r->alpn, key, keyauth, strlen(keyauth), &pe)) < 0)
            log_warn("worker: responder %llu: %s", (unsigned long long)id, err_msg(&pe));
    } else if (r->http) {
        http01_remove(r->http, key);
    } else {
        tls_alpn_remove(r->alpn, key);
    }
    free(key);
    free(keyauth);
    return rc;
}

/* WMSG_SET_LOOKUP: whether an http-01 responder asks the keeper on a miss. */
static int on_set_lookup(struct worker *w, const struct ipc_msg *m, struct err *e)
{
    uint64_t id, on;
    struct responder *r;

    ipc_get_u64(m, WMSG_T_RESPONDER, 0, &id);
    ipc_get_u64(m, WMSG_T_LOOKUP, 0, &on);
    if (!(r = find_responder(w, id, false)) || (!r->http && !r->alpn))
        return 0; /* it could not serve (the keeper was told) */
    if (!r->http)
        return err_set(e, -EPROTO, "responder %llu is not http-01", (unsigned long long)id);
    worker_lookup_bind(w->lookup, id, &r->ref, &r->lk);
    http01_set_lookup(r->http, on ? &r->lk : NULL);
    return 0;
}

static int dispatch(struct worker *w, const struct ipc_msg *m, const uint8_t *frame, size_t len,
                    struct err *e)
{
    uint64_t id;
    struct responder *r;

    switch (m->type) {
    case WMSG_SIGNED:
        return remote_hub_answer(w->hub, m, e);
    case WMSG_CONFIG:
        return on_config(w, m, e);
    case WMSG_LISTEN:
        return on_listen(w, m, e);
    case WMSG_UNLISTEN:
        ipc_get_u64(m, WMSG_T_RESPONDER, 0, &id);
        if (!(r = find_responder(w, id, true)))
            return err_set(e, -EPROTO, "no responder %llu to close", (unsigned long long)id);
        responder_close(r);
        return 0;
    case WMSG_PUBLISH:
        return on_publish(w, m, true, e);
    case WMSG_WITHDRAW:
        return on_publish(w, m, false, e);
    case WMSG_SET_LOOKUP:
        return on_set_lookup(w, m, e);
    case WMSG_LOOKED:
        return worker_lookup_answer(w->lookup, m, e);
    case WMSG_OP:
    case WMSG_ACCOUNT:
    case WMSG_DROP:
        return worker_engines_handle(w->engines, m, frame, len, e);
    case WMSG_SERVE:
    case WMSG_ANSWER:
        if (!w->serve && !(w->serve = worker_serve_new(&w->loop, w->chan)))
            return err_set(e, -ENOMEM, "out of memory");
        return worker_serve_handle(w->serve, m,
                                   m->type == WMSG_SERVE ? ipc_chan_take_fd(w->chan) : -1, e);
    }
    return err_set(e, -EPROTO, "unexpected message %s", m->spec->name);
}

static void on_frame(void *arg, const uint8_t *frame, size_t len)
{
    struct worker *w = arg;
    struct ipc_msg *m;
    struct err e = {0};

    if (w->ending)
        return;
    if (!(m = malloc(sizeof *m))) {
        log_err("worker: out of memory");
        worker_end(w, 1);
        return;
    }
    if (ipc_decode(&wmsg_to_worker, frame, len, m, &e) < 0 || dispatch(w, m, frame, len, &e) < 0) {
        log_err("worker: from the keeper: %s", err_msg(&e));
        worker_end(w, 1);
    }
    free(m);
}

static void on_closed(void *arg, int rc, const struct err *e)
{
    struct worker *w = arg;

    if (rc < 0)
        log_err("worker: %s", err_msg(e));
    worker_end(w, rc < 0 ? 1 : 0);
}

int worker_main(void)
{
    struct worker w = {.ca_fd = -1};
    struct err e = {0};

    uv_loop_init(&w.loop);
    w.chan = ipc_chan_open(&w.loop, CHILD_CHAN_FD, true, on_frame, on_closed, &w, &e);
    if (w.chan && (w.hub = remote_hub_new(send_frame, &w)))
        w.engines =
            worker_engines_new(&(struct worker_engines_opts){&w.loop, w.hub, send_frame, &w});
    if (w.engines)
        w.lookup = worker_lookup_new(&w.loop, w.chan);
    if (!w.chan || !w.hub || !w.engines || !w.lookup) {
        log_err("worker: cannot start: %s", err_msg(&e));
        worker_engines_free(w.engines);
        remote_hub_free(w.hub);
        ipc_chan_free(w.chan);
        uv_run(&w.loop, UV_RUN_DEFAULT);
        uv_loop_close(&w.loop);
        return 1;
    }
    uv_run(&w.loop, UV_RUN_DEFAULT);
    if (w.ca_fd >= 0)
        close(w.ca_fd);
    uv_loop_close(&w.loop);
    return w.exit_code;
}
