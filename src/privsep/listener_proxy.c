/* listener_proxy: sockets bound here, served by the worker, answers kept for its restarts.
 *
 * Lookups: the worker's http-01 listener asks (WMSG_LOOKUP) on a miss when told to
 * (WMSG_SET_LOOKUP); the keeper checks the ask (a token, a listener of ours, within the bound)
 * and relays it to its struct chal_lookup, whose answer goes back as WMSG_LOOKED. An ask is a
 * record of its own that the answer frees: a listener closed or the proxy freed meanwhile only
 * orphans it, and an answer meant for a worker that has since been replaced goes nowhere. */
#include "privsep/listener_proxy.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "challenge/http01_req.h"
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
    const struct chal_lookup *lk; /* its own (the factory's set_lookup), else lp's */
    size_t asking;                /* lookups of its in flight */
};

/* A lookup the worker asked for, until its answer. */
struct pask {
    struct pask *next;
    struct listener_proxy *lp; /* NULL once the proxy is freed */
    uint64_t listener, id;
    unsigned gen; /* the worker that asked (keeper_worker_starts) */
};

struct listener_proxy {
    struct keeper *k;
    struct chal_listener_factory f;
    struct keeper_watch watch;
    struct keeper_route route;
    struct plis *open;
    const struct chal_lookup *lk; /* for every http-01 listener (listener_proxy_set_lookup) */
    struct pask *asks;
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

static const struct chal_lookup *lookup_of(const struct plis *l)
{
    return l->tls ? NULL : l->lk ? l->lk : l->lp->lk;
}

static void send_set_lookup(struct plis *l)
{
    struct ipc_out o;
    struct err e = {0};

    ipc_out_begin(&o, WMSG_SET_LOOKUP);
    ipc_put_u64(&o, WMSG_T_RESPONDER, l->id);
    ipc_put_u64(&o, WMSG_T_LOOKUP, lookup_of(l) != NULL);
    if (ipc_out_end(&o, &e) < 0 || keeper_send(l->lp->k, &o.b, &e) < 0)
        log_warn("privsep: listener %llu: %s", (unsigned long long)l->id, err_msg(&e));
}

/* The sockets, then the answers and whether to ask: to the worker that is up. */
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
    if (lookup_of(l))
        send_set_lookup(l);
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

static struct plis *find_plis(struct listener_proxy *lp, uint64_t id)
{
    struct plis *l;

    for (l = lp->open; l && l->id != id; l = l->next)
        ;
    return l;
}

static void send_looked(struct listener_proxy *lp, uint64_t id, const char *keyauth)
{
    struct ipc_out o;
    struct err e = {0};

    ipc_out_begin(&o, WMSG_LOOKED);
    ipc_put_u64(&o, WMSG_T_ID, id);
    if (keyauth && strlen(keyauth) <= WMSG_KEYAUTH_MAX)
        ipc_put_text(&o, WMSG_T_KEYAUTH, keyauth);
    if (ipc_out_end(&o, &e) < 0 || keeper_send(lp->k, &o.b, &e) < 0)
        log_warn("privsep: lookup %llu: %s", (unsigned long long)id, err_msg(&e));
}

/* The done of challenge/lookup.h: the one place a struct pask is freed. */
static void on_looked(void *arg, const char *keyauth)
{
    struct pask *p = arg;
    struct listener_proxy *lp = p->lp;
    struct plis *l;

    if (lp) {
        for (struct pask **pp = &lp->asks; *pp; pp = &(*pp)->next) {
            if (*pp == p) {
                *pp = p->next;
                break;
            }
        }
        if ((l = find_plis(lp, p->listener)))
            l->asking--;
        /* A new worker numbers its lookups afresh: the old one's answer is for no one. */
        if (p->gen == keeper_worker_starts(lp->k))
            send_looked(lp, p->id, keyauth);
    }
    free(p);
}

static bool is_token(const char *s)
{
    size_t n = strlen(s);

    if (n == 0 || n > HTTP01_TOKEN_MAX)
        return false;
    for (size_t i = 0; i < n; i++)
        if (!((s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z') ||
              (s[i] >= '0' && s[i] <= '9') || s[i] == '-' || s[i] == '_'))
            return false;
    return true;
}

/* WMSG_LOOKUP, from a worker that parses the Internet: anything but a token for one of our
 * http-01 listeners is a breach; a listener closed meanwhile, no lookup, or too many in flight
 * is answered "unknown" at once. */
static int on_lookup(void *arg, const struct ipc_msg *m, struct err *e)
{
    struct listener_proxy *lp = arg;
    uint64_t id, lid;
    char *token = ipc_get_text(m, WMSG_T_KEY, 0);
    const struct chal_lookup *lk;
    struct plis *l;
    struct pask *p;

    ipc_get_u64(m, WMSG_T_ID, 0, &id);
    ipc_get_u64(m, WMSG_T_RESPONDER, 0, &lid);
    if (!token)
        return err_set(e, -ENOMEM, "out of memory");
    l = find_plis(lp, lid);
    if (!is_token(token) || (l && l->tls)) {
        free(token);
        return err_set(e, -EPROTO, "a lookup that is not for a token of an http-01 listener");
    }
    if (!l || !(lk = lookup_of(l)) || l->asking >= CHAL_LOOKUP_MAX_INFLIGHT ||
        !(p = calloc(1, sizeof *p))) {
        free(token);
        send_looked(lp, id, NULL);
        return 0;
    }
    *p = (struct pask){lp->asks, lp, lid, id, keeper_worker_starts(lp->k)};
    lp->asks = p;
    l->asking++;
    lk->ask(lk->arg, token, on_looked, p); /* may answer at once: p is not touched after */
    free(token);
    return 0;
}

static int pl_set_lookup(void *arg, struct chal_listener *cl, const struct chal_lookup *lk,
                         struct err *e)
{
    struct plis *l = cl->ops == &pl_ops ? cl->ctx : NULL;

    (void)arg;
    if (!l || l->tls)
        return err_set(e, -EINVAL, "not an http-01 listener of the worker's");
    l->lk = lk;
    send_set_lookup(l);
    return 0;
}

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
    lp->f = (struct chal_listener_factory){pl_open, pl_close, lp, pl_set_lookup};
    lp->watch = (struct keeper_watch){on_worker_up, lp, NULL};
    keeper_watch_add(k, &lp->watch);
    lp->route = (struct keeper_route){WMSG_LOOKUP, on_lookup, lp, NULL};
    keeper_route_add(k, &lp->route);
    return lp;
}

const struct chal_listener_factory *listener_proxy_factory(struct listener_proxy *lp)
{
    return &lp->f;
}

void listener_proxy_set_lookup(struct listener_proxy *lp, const struct chal_lookup *lk)
{
    lp->lk = lk;
    for (struct plis *l = lp->open; l; l = l->next)
        if (!l->tls && !l->lk)
            send_set_lookup(l);
}

void listener_proxy_free(struct listener_proxy *lp)
{
    if (!lp)
        return;
    keeper_watch_remove(lp->k, &lp->watch);
    keeper_route_remove(lp->k, &lp->route);
    for (struct pask *p = lp->asks; p; p = p->next)
        p->lp = NULL; /* freed by their answers */
    while (lp->open) {
        struct plis *l = lp->open;

        lp->open = l->next;
        send_simple(lp, WMSG_UNLISTEN, l->id, NULL, NULL);
        plis_free(l);
    }
    free(lp);
}
