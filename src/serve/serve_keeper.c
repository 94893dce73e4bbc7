/* serve_keeper: the keeper's side of acmed serve under privilege separation (see
 * serve_keeper.h). */
#include "serve/serve_keeper.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "privsep/wmsg.h"
#include "serve/serve_addr.h"
#include "util/log.h"

struct ask {
    struct serve_keeper *s;
    uint64_t id;
    struct serve_wait *w;
    bool answered; /* inside serve_back_ask */
    struct ask *next;
};

struct serve_keeper {
    struct keeper *k;
    struct serve_back *b;
    int *fds;
    size_t nfds;
    size_t max_body;
    char *cert, *key;
    struct keeper_watch watch;
    struct ask *asks; /* waiting for their order */
    size_t nasks;
};

static void ask_unlink(struct serve_keeper *s, struct ask *a)
{
    for (struct ask **p = &s->asks; *p; p = &(*p)->next) {
        if (*p == a) {
            *p = a->next;
            s->nasks--;
            return;
        }
    }
}

static void send_answer(struct serve_keeper *s, uint64_t id, unsigned status, const char *body,
                        size_t len, unsigned retry_after)
{
    struct ipc_out o;
    struct err e = {0};

    ipc_out_begin(&o, WMSG_ANSWER);
    ipc_put_u64(&o, WMSG_T_ID, id);
    ipc_put_u64(&o, WMSG_T_STATUS, status);
    ipc_put_u64(&o, WMSG_T_RETRY, retry_after);
    ipc_put_bytes(&o, WMSG_T_BODY, body, len);
    if (ipc_out_end(&o, &e) < 0 || keeper_send(s->k, &o.b, &e) < 0)
        log_warn("serve: cannot answer request %llu: %s", (unsigned long long)id, err_msg(&e));
}

static void on_answer(void *arg, unsigned status, const char *body, size_t len,
                      unsigned retry_after)
{
    struct ask *a = arg;
    struct serve_keeper *s = a->s;

    send_answer(s, a->id, status, body, len, retry_after);
    if (a->w || !a->answered) {
        /* Later, from the loop (or inside the ask: on_ask frees it then). */
        a->answered = true;
        if (a->w) {
            ask_unlink(s, a);
            free(a);
        }
    }
}

static struct ask *find(struct serve_keeper *s, uint64_t id)
{
    for (struct ask *a = s->asks; a; a = a->next)
        if (a->id == id)
            return a;
    return NULL;
}

/* A request from the worker: hostile input, checked before it is decided on. */
static int on_ask(struct serve_keeper *s, const struct ipc_msg *m, struct err *e)
{
    static const uint16_t tags[3] = {WMSG_T_HMAC1, WMSG_T_HMAC2, WMSG_T_AUTHN};
    static const char *const names[3] = {"HMAC-SHA256", "HMAC-SHA2-256", "Authentication"};
    struct sockaddr_storage ss = {0};
    struct rules_header hs[3];
    char *vals[3] = {NULL, NULL, NULL};
    struct serve_ask q = {0};
    const uint8_t *p, *body;
    size_t plen, blen, nh = 0;
    uint8_t addr[16];
    int family, rc = 0;
    struct ask *a;
    uint64_t id;

    ipc_get_u64(m, WMSG_T_ID, 0, &id);
    if (!ipc_get_bytes(m, WMSG_T_PEER, 0, &p, &plen) || plen > sizeof ss)
        return err_set(e, -EPROTO, "serve: a request without a peer address");
    memcpy(&ss, p, plen);
    if (serve_addr_peer((struct sockaddr *)&ss, (socklen_t)plen, &family, addr) < 0)
        return err_set(e, -EPROTO, "serve: a request from a peer that is not IPv4 or IPv6");
    ipc_get_bytes(m, WMSG_T_BODY, 0, &body, &blen);
    if (blen > s->max_body)
        return err_set(e, -EPROTO, "serve: a request body over max-size");
    if (find(s, id))
        return err_set(e, -EPROTO, "serve: request %llu is already waiting",
                       (unsigned long long)id);
    if (s->nasks >= WMSG_ASKS_MAX) {
        send_answer(s, id, 500, "too many requests waiting\n", 26, 0);
        return 0;
    }
    for (size_t i = 0; i < 3; i++) {
        if (ipc_count(m, tags[i]) && (vals[i] = ipc_get_text(m, tags[i], 0)))
            hs[nh++] = (struct rules_header){.name = names[i], .value = vals[i]};
    }
    if (!(a = calloc(1, sizeof *a))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    a->s = s;
    a->id = id;
    q = (struct serve_ask){.peer = (struct sockaddr *)&ss,
                           .peer_len = (socklen_t)plen,
                           .headers = hs,
                           .nheaders = nh,
                           .body = body,
                           .len = blen};
    if (serve_back_ask(s->b, &q, on_answer, a, &a->w) < 0) {
        send_answer(s, id, 500, "out of memory\n", 14, 0);
        free(a);
    } else if (a->answered || !a->w) {
        free(a);
    } else {
        a->next = s->asks;
        s->asks = a;
        s->nasks++;
    }
out:
    for (size_t i = 0; i < 3; i++)
        free(vals[i]);
    return rc;
}

static int on_message(void *arg, const struct ipc_msg *m, struct err *e)
{
    struct serve_keeper *s = arg;
    struct ask *a;
    uint64_t id;

    switch (m->type) {
    case WMSG_ASK:
        return on_ask(s, m, e);
    case WMSG_GONE:
        ipc_get_u64(m, WMSG_T_ID, 0, &id);
        /* Unknown: answered just before the client went (the answer and this crossed). */
        if ((a = find(s, id))) {
            ask_unlink(s, a);
            serve_back_forget(s->b, a->w);
            free(a);
        }
        return 0;
    }
    return err_set(e, -EPROTO, "unexpected message %s", m->spec->name);
}

static void forget_all(struct serve_keeper *s)
{
    while (s->asks) {
        struct ask *a = s->asks;

        s->asks = a->next;
        serve_back_forget(s->b, a->w);
        free(a);
    }
    s->nasks = 0;
}

/* A new worker: the old one's requests died with it; this one gets the sockets. */
static void on_worker_up(void *arg)
{
    struct serve_keeper *s = arg;

    forget_all(s);
    for (size_t i = 0; i < s->nfds; i++) {
        struct ipc_out o;
        struct err e = {0};

        ipc_out_begin(&o, WMSG_SERVE);
        ipc_put_u64(&o, WMSG_T_INDEX, i);
        ipc_put_u64(&o, WMSG_T_TOTAL, s->nfds);
        ipc_put_u64(&o, WMSG_T_MAXBODY, s->max_body);
        if (i == 0 && s->cert) {
            ipc_put_bytes(&o, WMSG_T_TLSCERT, s->cert, strlen(s->cert));
            ipc_put_bytes(&o, WMSG_T_TLSKEY, s->key, strlen(s->key));
        }
        if (ipc_out_end(&o, &e) < 0 || keeper_send_fd(s->k, &o.b, s->fds[i], &e) < 0) {
            log_err("serve: cannot hand the endpoint to the worker: %s", err_msg(&e));
            return;
        }
    }
}

int serve_keeper_start(struct keeper *k, struct serve_back *b, const int *fds, size_t n,
                       size_t max_body, const char *cert_pem, const char *key_pem,
                       struct serve_keeper **out, struct err *e)
{
    struct serve_keeper *s = calloc(1, sizeof *s);

    *out = NULL;
    if (!s || !(s->fds = calloc(n ? n : 1, sizeof *s->fds)) ||
        (cert_pem && (!(s->cert = strdup(cert_pem)) || !(s->key = strdup(key_pem))))) {
        if (s) {
            free(s->fds);
            free(s->cert);
            free(s);
        }
        return err_set(e, -ENOMEM, "out of memory");
    }
    memcpy(s->fds, fds, n * sizeof *fds);
    s->nfds = n;
    s->k = k;
    s->b = b;
    s->max_body = max_body;
    s->watch = (struct keeper_watch){on_worker_up, s, NULL};
    keeper_set_extra(k, on_message, s);
    keeper_watch_add(k, &s->watch);
    /* A worker already up (the daemon started it before us) gets the sockets now. */
    if (keeper_worker_pid(k) > 0)
        on_worker_up(s);
    *out = s;
    return 0;
}

void serve_keeper_stop(struct serve_keeper *s)
{
    if (!s)
        return;
    keeper_set_extra(s->k, NULL, NULL);
    keeper_watch_remove(s->k, &s->watch);
    forget_all(s);
    for (size_t i = 0; i < s->nfds; i++)
        close(s->fds[i]);
    free(s->fds);
    if (s->key)
        explicit_bzero(s->key, strlen(s->key));
    free(s->key);
    free(s->cert);
    free(s);
}
