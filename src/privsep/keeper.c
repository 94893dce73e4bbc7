/* keeper: the worker's supervisor, its operations in flight, and the signatures it may have. */
#include "privsep/keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/http.h"
#include "privsep/supervisor.h"
#include "privsep/wmsg.h"
#include "reconcile/engine_types.h"
#include "util/fsio.h"
#include "util/log.h"
#include "util/proc.h"

#define WORKER_ARG "--privsep-worker"

extern char **environ;

struct kop {
    struct kop *next;
    uint64_t id;
    struct buf frame; /* until sent */
    bool sent;
    const struct keeper_grant *grants;
    size_t ngrants;
    keeper_result_cb cb;
    void *arg;
};

/* A signature being made for the worker; answered only to the worker that asked. */
struct ksign {
    struct ksign *next;
    struct keeper *k; /* NULL once the keeper is gone */
    unsigned gen;
    uint64_t id;
};

struct keeper {
    uv_loop_t *loop;
    struct supervisor *sv;
    struct privdrop_id id;
    bool have_id;
    int self_fd;
    char *ca;
    size_t ca_len;
    bool insecure_http;
    unsigned max_requests;
    bool up;       /* a worker has its settings */
    bool aborting; /* keeper_abort ended the worker: what it had fails as cancelled */
    unsigned gen;  /* workers started so far */
    uint64_t next_id;
    struct kop *ops; /* queued and sent, in order */
    struct keeper_watch *watches;
    struct ksign *signs;
    int (*extra)(void *arg, const struct ipc_msg *m, struct err *e);
    void *extra_arg;
    struct keeper_route *routes;
};

static char worker_name[] = "acmed: worker", worker_arg[] = WORKER_ARG;
static char *worker_argv[] = {worker_name, worker_arg, NULL};

uv_loop_t *keeper_loop(const struct keeper *k)
{
    return k->loop;
}

void keeper_set_extra(struct keeper *k,
                      int (*fn)(void *arg, const struct ipc_msg *m, struct err *e), void *arg)
{
    k->extra = fn;
    k->extra_arg = arg;
}

void keeper_route_add(struct keeper *k, struct keeper_route *r)
{
    r->next = k->routes;
    k->routes = r;
}

void keeper_route_remove(struct keeper *k, struct keeper_route *r)
{
    for (struct keeper_route **pp = &k->routes; *pp; pp = &(*pp)->next) {
        if (*pp == r) {
            *pp = r->next;
            return;
        }
    }
}

uint64_t keeper_new_id(struct keeper *k)
{
    return ++k->next_id;
}

static void send_config(struct keeper *k)
{
    struct ipc_out o;
    struct err e = {0};

    ipc_out_begin(&o, WMSG_CONFIG);
    if (k->ca)
        ipc_put_bytes(&o, WMSG_T_CA, k->ca, k->ca_len);
    ipc_put_u64(&o, WMSG_T_INSECURE, k->insecure_http);
    ipc_put_u64(&o, WMSG_T_VERBOSE, log_get_level() >= LL_DEBUG ? 2 : 0);
    ipc_put_u64(&o, WMSG_T_MAXREQ, k->max_requests);
    if (ipc_out_end(&o, &e) < 0 || supervisor_send(k->sv, &o.b, &e) < 0)
        log_warn("privsep: cannot configure the worker: %s", err_msg(&e));
}

static int send_op(struct keeper *k, struct kop *op, struct err *e)
{
    int rc = supervisor_send(k->sv, &op->frame, e);

    if (rc == 0)
        op->sent = true;
    return rc;
}

static void on_up(void *arg)
{
    struct keeper *k = arg;
    struct err e = {0};

    k->gen++;
    send_config(k);
    k->up = true;
    for (struct keeper_watch *w = k->watches; w; w = w->next)
        w->up(w->arg);
    for (struct kop *op = k->ops; op && k->up; op = op->next)
        if (!op->sent && send_op(k, op, &e) < 0)
            log_warn("privsep: %s", err_msg(&e));
}

static struct kop *unlink_op(struct keeper *k, uint64_t id)
{
    for (struct kop **pp = &k->ops; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct kop *op = *pp;

            *pp = op->next;
            return op;
        }
    }
    return NULL;
}

static void op_free(struct kop *op)
{
    buf_clear(&op->frame);
    free(op);
}

/* ---- signatures ---- */

static void on_signed(void *arg, int rc, const uint8_t *sig, size_t len, const struct err *e)
{
    struct ksign *s = arg;
    struct keeper *k = s->k;
    struct ipc_out o;
    struct err se = {0};

    if (k) {
        for (struct ksign **pp = &k->signs; *pp; pp = &(*pp)->next)
            if (*pp == s) {
                *pp = s->next;
                break;
            }
    }
    if (k && k->up && s->gen == k->gen) {
        ipc_out_begin(&o, WMSG_SIGNED);
        ipc_put_u64(&o, WMSG_T_ID, s->id);
        if (rc == 0)
            ipc_put_bytes(&o, WMSG_T_SIG, sig, len);
        else
            ipc_put_text(&o, WMSG_T_ERROR, e ? err_msg(e) : "refused");
        if (ipc_out_end(&o, &se) < 0 || supervisor_send(k->sv, &o.b, &se) < 0)
            log_warn("privsep: %s", err_msg(&se));
    }
    free(s);
}

static void on_sign(struct keeper *k, const struct ipc_msg *m)
{
    struct keeper_grant *grants = NULL;
    size_t n = 0, cap = 0;
    const uint8_t *in;
    size_t inlen;
    struct ksign *s = calloc(1, sizeof *s);
    struct err e = {0};

    if (!s)
        return;
    s->gen = k->gen;
    ipc_get_u64(m, WMSG_T_ID, 0, &s->id);
    ipc_get_bytes(m, WMSG_T_INPUT, 0, &in, &inlen);
    for (struct kop *op = k->ops; op; op = op->next)
        if (op->sent)
            cap += op->ngrants;
    if (cap && !(grants = calloc(cap, sizeof *grants))) {
        free(s);
        return;
    }
    for (struct kop *op = k->ops; op; op = op->next)
        for (size_t i = 0; op->sent && i < op->ngrants; i++)
            grants[n++] = op->grants[i];
    /* Registered before starting: a local key answers inside the call. */
    s->k = k;
    s->next = k->signs;
    k->signs = s;
    if (keeper_sign_start(grants, n, (const char *)in, inlen, on_signed, s, &e) < 0)
        on_signed(s, e.code, NULL, 0, &e);
    free(grants);
}

/* ---- the worker's messages ---- */

static void on_frame(void *arg, const uint8_t *frame, size_t len)
{
    struct keeper *k = arg;
    struct ipc_msg *m = malloc(sizeof *m);
    struct err e = {0};
    struct kop *op;
    struct keeper_route *r;
    uint64_t id = 0;

    if (!m)
        return;
    if (ipc_decode(&wmsg_to_keeper, frame, len, m, &e) < 0) {
        supervisor_reject(k->sv, &e);
        goto out;
    }
    switch (m->type) {
    case WMSG_SIGN:
        on_sign(k, m);
        break;
    case WMSG_RESULT:
        ipc_get_u64(m, WMSG_T_ID, 0, &id);
        for (op = k->ops; op && op->id != id; op = op->next)
            ;
        if (!op || !op->sent) {
            /* An operation it was never sent (one still queued keeps waiting for the next
             * worker); a cancelled one's late answer goes to no one. */
            if (op || id > k->next_id) {
                err_set(&e, -EPROTO, "a result for operation %llu, which it was not given",
                        (unsigned long long)id);
                supervisor_reject(k->sv, &e);
            }
            break;
        }
        unlink_op(k, id);
        op->cb(op->arg, m, NULL);
        op_free(op);
        break;
    case WMSG_LISTENING:
        /* Binding was ours and succeeded; serving on what we bound fails only for a reason
         * of the worker's, which the challenge then shows. */
        if (ipc_count(m, WMSG_T_ERROR)) {
            char *why = ipc_get_text(m, WMSG_T_ERROR, 0);

            ipc_get_u64(m, WMSG_T_RESPONDER, 0, &id);
            log_warn("privsep: the worker cannot serve listener %llu: %s", (unsigned long long)id,
                     why ? why : "?");
            free(why);
        }
        break;
    default:
        /* Messages of another module's: routed by type (the listeners' lookups:
         * privsep/listener_proxy.h), else to the extra handler (acmed serve's requests:
         * serve/serve_keeper.h). */
        for (r = k->routes; r && r->type != m->type; r = r->next)
            ;
        if (r) {
            if (r->fn(r->arg, m, &e) < 0)
                supervisor_reject(k->sv, &e);
        } else if (!k->extra) {
            err_set(&e, -EPROTO, "unexpected message %s", m->spec->name);
            supervisor_reject(k->sv, &e);
        } else if (k->extra(k->extra_arg, m, &e) < 0) {
            supervisor_reject(k->sv, &e);
        }
        break;
    }
out:
    free(m);
}

static void on_down(void *arg, int status, const struct err *why)
{
    struct keeper *k = arg;
    struct kop *lost = NULL, **tail = &lost;
    struct err e;

    (void)status;
    k->up = false;
    if (k->aborting)
        err_set(&e, -ECANCELED, "cancelled: acmed is stopping");
    else
        err_set(&e, ENGINE_ELOST, "the worker went away (%s)", why ? err_msg(why) : "exited");
    k->aborting = false;
    /* What was sent has no answer now; what was queued waits for the next worker. */
    for (struct kop **pp = &k->ops; *pp;) {
        if ((*pp)->sent) {
            *tail = *pp;
            *pp = (*pp)->next;
            tail = &(*tail)->next;
            *tail = NULL;
        } else {
            pp = &(*pp)->next;
        }
    }
    while (lost) {
        struct kop *op = lost;

        lost = op->next;
        op->cb(op->arg, NULL, &e);
        op_free(op);
    }
}

/* ---- the API ---- */

int keeper_op(struct keeper *k, uint64_t id, struct buf *frame, const struct keeper_grant *grants,
              size_t ngrants, keeper_result_cb cb, void *arg, struct err *e)
{
    struct kop *op = calloc(1, sizeof *op), **pp;

    if (!op) {
        buf_clear(frame);
        return err_set(e, -ENOMEM, "out of memory");
    }
    op->id = id;
    op->frame = *frame;
    *frame = (struct buf)BUF_INIT;
    op->grants = grants;
    op->ngrants = ngrants;
    op->cb = cb;
    op->arg = arg;
    for (pp = &k->ops; *pp; pp = &(*pp)->next)
        ;
    *pp = op;
    if (k->up && send_op(k, op, e) < 0) {
        /* The worker is going: the operation waits for the next one. */
        log_debug("privsep: operation %llu waits: %s", (unsigned long long)id, err_msg(e));
    }
    return 0;
}

void keeper_op_cancel(struct keeper *k, uint64_t id)
{
    struct kop *op = unlink_op(k, id);

    if (op)
        op_free(op);
}

int keeper_send(struct keeper *k, struct buf *frame, struct err *e)
{
    if (!k->up) {
        buf_clear(frame);
        return 0;
    }
    return supervisor_send(k->sv, frame, e);
}

int keeper_send_fd(struct keeper *k, struct buf *frame, int fd, struct err *e)
{
    if (!k->up) {
        buf_clear(frame);
        return 0;
    }
    return supervisor_send_fd(k->sv, frame, fd, e);
}

void keeper_watch_add(struct keeper *k, struct keeper_watch *w)
{
    w->next = k->watches;
    k->watches = w;
}

void keeper_watch_remove(struct keeper *k, struct keeper_watch *w)
{
    for (struct keeper_watch **pp = &k->watches; *pp; pp = &(*pp)->next)
        if (*pp == w) {
            *pp = w->next;
            return;
        }
}

void keeper_abort(struct keeper *k)
{
    for (struct kop *op = k->ops; op; op = op->next) {
        if (op->sent) {
            log_info("privsep: stopping the worker now, with what it was doing");
            k->aborting = true;
            supervisor_kill(k->sv);
            return;
        }
    }
}

pid_t keeper_worker_pid(const struct keeper *k)
{
    return supervisor_pid(k->sv);
}

unsigned keeper_worker_starts(const struct keeper *k)
{
    return supervisor_starts(k->sv);
}

static int read_ca(struct keeper *k, const char *path, struct err *e)
{
    char *sys = NULL;
    int rc;

    if (!path && !(path = sys = http_dir_bundle("/etc/ssl/certs")))
        return 0; /* libcurl's default, which the worker can read as well as we can */
    rc = fsio_read_file(path, WMSG_CA_MAX, &k->ca, &k->ca_len, e);
    if (rc < 0)
        err_wrap(e, "the CA bundle for the worker");
    free(sys);
    return rc;
}

struct keeper *keeper_start(uv_loop_t *loop, const struct keeper_opts *o, struct err *e)
{
    struct keeper *k = calloc(1, sizeof *k);
    struct child_spec spec = {.argv = worker_argv, .envp = environ};
    struct supervisor_cbs cbs;

    if (!k) {
        err_set(e, -ENOMEM, "out of memory");
        return NULL;
    }
    k->loop = loop;
    k->self_fd = -1;
    k->insecure_http = o->insecure_http;
    k->max_requests = o->max_requests;
    if (o->id) {
        k->id = *o->id;
        k->have_id = true;
    }
    if (read_ca(k, o->ca_bundle, e) < 0 || (k->self_fd = privdrop_self_open(e)) < 0)
        goto fail;
    spec.id = k->have_id ? &k->id : NULL;
    spec.self_fd = k->self_fd;
    cbs = (struct supervisor_cbs){on_up, on_frame, on_down, k};
    if (!(k->sv = supervisor_start(loop, &spec, &cbs, e)))
        goto fail;
    return k;
fail:
    if (k->self_fd >= 0)
        close(k->self_fd);
    free(k->ca);
    free(k);
    return NULL;
}

/* For the benchmarks: the worker's memory, as acmed reports its own (util/proc.h). */
static void worker_memstat(const struct keeper *k)
{
    struct proc_mem m;
    char path[64];
    pid_t pid = supervisor_pid(k->sv);

    if (!pid || !proc_memstat_wanted())
        return;
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    if (proc_mem_read_path(path, &m) == 0)
        fprintf(stderr, "acmed: memstat worker: VmHWM=%ld VmRSS=%ld RssAnon=%ld RssFile=%ld kB\n",
                m.hwm, m.rss, m.anon, m.file);
}

void keeper_free(struct keeper *k)
{
    if (!k)
        return;
    worker_memstat(k);
    supervisor_free(k->sv);
    while (k->ops) {
        struct kop *op = k->ops;

        k->ops = op->next;
        op_free(op);
    }
    for (struct ksign *s = k->signs; s; s = s->next)
        s->k = NULL;
    if (k->self_fd >= 0)
        close(k->self_fd);
    free(k->ca);
    free(k);
}
