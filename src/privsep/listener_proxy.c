/* listener_proxy: sockets bound here, served by the worker, answers kept for its restarts. */
#include "privsep/listener_proxy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "net/listen_sock.h"
#include "privsep/wmsg.h"
#include "util/log.h"

struct answer {
    struct answer *next;
    char *key, *keyauth;
};

struct plis {
    struct plis *next;
    struct listener_proxy *lp;
    uint64_t id;
    bool tls;
    int fds[WMSG_LISTEN_MAX];
    size_t nfds;
    struct answer *answers;
};

struct listener_proxy {
    struct keeper *k;
    struct chal_listener_factory f;
    struct keeper_watch watch;
    struct plis *open;
};

static void send_simple(struct listener_proxy *lp, uint16_t type, uint64_t id, const char *key,
                        const char *keyauth)
{
    struct ipc_out o;
    struct err e = {0};

    ipc_out_begin(&o, type);
    ipc_put_u64(&o, WMSG_T_RESPONDER, id);
    if (key)
        ipc_put_text(&o, WMSG_T_KEY, key);
    if (keyauth)
        ipc_put_text(&o, WMSG_T_KEYAUTH, keyauth);
    if (ipc_out_end(&o, &e) < 0 || keeper_send(lp->k, &o.b, &e) < 0)
        log_warn("privsep: listener %llu: %s", (unsigned long long)id, err_msg(&e));
}

/* The sockets, then the answers: to the worker that is up. */
static void send_listener(struct plis *l)
{
    struct err e = {0};

    for (size_t i = 0; i < l->nfds; i++) {
        struct ipc_out o;

        ipc_out_begin(&o, WMSG_LISTEN);
        ipc_put_u64(&o, WMSG_T_RESPONDER, l->id);
        ipc_put_u64(&o, WMSG_T_KIND, l->tls ? WMSG_KIND_TLS_ALPN : WMSG_KIND_HTTP01);
        ipc_put_u64(&o, WMSG_T_INDEX, i);
        ipc_put_u64(&o, WMSG_T_TOTAL, l->nfds);
        if (ipc_out_end(&o, &e) < 0 || keeper_send_fd(l->lp->k, &o.b, l->fds[i], &e) < 0) {
            log_warn("privsep: listener %llu: %s", (unsigned long long)l->id, err_msg(&e));
            return;
        }
    }
    for (struct answer *a = l->answers; a; a = a->next)
        send_simple(l->lp, WMSG_PUBLISH, l->id, a->key, a->keyauth);
}

static void on_worker_up(void *arg)
{
    struct listener_proxy *lp = arg;

    for (struct plis *l = lp->open; l; l = l->next)
        send_listener(l);
}

static int pl_add(void *ctx, const char *key, const char *keyauth, struct err *e)
{
    struct plis *l = ctx;
    struct answer *a = calloc(1, sizeof *a);

    if (strlen(key) > WMSG_KEY_MAX || strlen(keyauth) > WMSG_KEYAUTH_MAX) {
        free(a);
        return err_set(e, -EINVAL, "a challenge answer too long for the worker");
    }
    if (!a || !(a->key = strdup(key)) || !(a->keyauth = strdup(keyauth))) {
        if (a)
            free(a->key);
        free(a);
        return err_set(e, -ENOMEM, "out of memory");
    }
    a->next = l->answers;
    l->answers = a;
    send_simple(l->lp, WMSG_PUBLISH, l->id, key, keyauth);
    return 0;
}

static void pl_remove(void *ctx, const char *key)
{
    struct plis *l = ctx;

    for (struct answer **pp = &l->answers; *pp; pp = &(*pp)->next) {
        if (!strcmp((*pp)->key, key)) {
            struct answer *a = *pp;

            *pp = a->next;
            free(a->key);
            free(a->keyauth);
            free(a);
            break;
        }
    }
    send_simple(l->lp, WMSG_WITHDRAW, l->id, key, NULL);
}

static const struct chal_listener_ops pl_ops = {pl_add, pl_remove};

static void plis_free(struct plis *l)
{
    while (l->answers) {
        struct answer *a = l->answers;

        l->answers = a->next;
        free(a->key);
        free(a->keyauth);
        free(a);
    }
    for (size_t i = 0; i < l->nfds; i++)
        close(l->fds[i]);
    free(l);
}

static int pl_open(void *arg, bool tls, const struct listen_addr *addrs, const bool *required,
                   size_t n, struct chal_listener *out, struct err *e)
{
    struct listener_proxy *lp = arg;
    struct plis *l = calloc(1, sizeof *l);
    const char *what = tls ? "tls-alpn-01" : "http-01";

    if (!l)
        return err_set(e, -ENOMEM, "out of memory");
    l->lp = lp;
    l->tls = tls;
    l->id = keeper_new_id(lp->k);
    /* As the listeners of one process bind (challenge/http01.c): an address that is not
     * required may be taken, and is only logged. */
    for (size_t i = 0; i < n && l->nfds < WMSG_LISTEN_MAX; i++) {
        struct err oe = {0};
        int fd = listen_sock_open((const struct sockaddr *)&addrs[i].sa, addrs[i].len,
                                  addrs[i].text, &oe);

        if (fd < 0) {
            if (!required || required[i]) {
                plis_free(l);
                return err_set(e, fd, "%s: %s", what, err_msg(&oe));
            }
            log_info("%s: not listening: %s", what, err_msg(&oe));
            continue;
        }
        l->fds[l->nfds++] = fd;
    }
    if (l->nfds == 0) {
        plis_free(l);
        return err_set(e, -EADDRNOTAVAIL, "%s: no address to listen on", what);
    }
    l->next = lp->open;
    lp->open = l;
    send_listener(l);
    *out = (struct chal_listener){.ops = &pl_ops, .ctx = l};
    return 0;
}

static void pl_close(void *arg, struct chal_listener *cl)
{
    struct listener_proxy *lp = arg;
    struct plis *l = cl->ctx;

    for (struct plis **pp = &lp->open; *pp; pp = &(*pp)->next) {
        if (*pp == l) {
            *pp = l->next;
            send_simple(lp, WMSG_UNLISTEN, l->id, NULL, NULL);
            plis_free(l);
            break;
        }
    }
    cl->ops = NULL;
    cl->ctx = NULL;
}

struct listener_proxy *listener_proxy_new(struct keeper *k)
{
    struct listener_proxy *lp = calloc(1, sizeof *lp);

    if (!lp)
        return NULL;
    lp->k = k;
    lp->f = (struct chal_listener_factory){pl_open, pl_close, lp};
    lp->watch = (struct keeper_watch){on_worker_up, lp, NULL};
    keeper_watch_add(k, &lp->watch);
    return lp;
}

const struct chal_listener_factory *listener_proxy_factory(struct listener_proxy *lp)
{
    return &lp->f;
}

void listener_proxy_free(struct listener_proxy *lp)
{
    if (!lp)
        return;
    keeper_watch_remove(lp->k, &lp->watch);
    while (lp->open) {
        struct plis *l = lp->open;

        lp->open = l->next;
        send_simple(lp, WMSG_UNLISTEN, l->id, NULL, NULL);
        plis_free(l);
    }
    free(lp);
}
