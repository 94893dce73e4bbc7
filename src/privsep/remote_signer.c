/* remote_signer: signing by asking the keeper. */
#include "privsep/remote_signer.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "privsep/wmsg.h"

struct waiting {
    struct waiting *next;
    uint64_t id;
    signer_cb cb;
    void *arg;
};

struct account {
    struct account *next;
    struct remote_hub *hub;
    char *directory;
    char *alg;
    json_t *jwk;
};

struct remote_hub {
    remote_send_fn send;
    void *send_arg;
    uint64_t next_id;
    struct waiting *waiting;
    struct account *accounts;
};

struct remote_hub *remote_hub_new(remote_send_fn send, void *arg)
{
    struct remote_hub *h = calloc(1, sizeof *h);

    if (h) {
        h->send = send;
        h->send_arg = arg;
        h->next_id = 1;
    }
    return h;
}

static json_t *acct_jwk(void *ctx, struct err *e)
{
    struct account *a = ctx;

    if (!a->jwk) {
        err_set(e, -ENOENT, "the account's key is known by its kid only");
        return NULL;
    }
    return json_incref(a->jwk);
}

static int acct_sign(void *ctx, const uint8_t *data, size_t len, signer_cb cb, void *arg,
                     struct err *e)
{
    struct account *a = ctx;
    struct remote_hub *h = a->hub;
    struct waiting *w;
    struct ipc_out o;
    int rc;

    if (len > WMSG_INPUT_MAX)
        return err_set(e, -EMSGSIZE, "request too large to sign (%zu bytes)", len);
    if (!(w = calloc(1, sizeof *w)))
        return err_set(e, -ENOMEM, "out of memory");
    ipc_out_begin(&o, WMSG_SIGN);
    ipc_put_u64(&o, WMSG_T_ID, h->next_id);
    ipc_put_text(&o, WMSG_T_DIRECTORY, a->directory);
    ipc_put_bytes(&o, WMSG_T_INPUT, data, len);
    if ((rc = ipc_out_end(&o, e)) < 0 || (rc = h->send(h->send_arg, &o.b, e)) < 0) {
        free(w);
        return rc;
    }
    /* The answer comes from the loop later, never from within send. */
    w->id = h->next_id++;
    w->cb = cb;
    w->arg = arg;
    w->next = h->waiting;
    h->waiting = w;
    return 0;
}

int remote_hub_signer(struct remote_hub *h, const char *directory, const char *alg, json_t *jwk,
                      struct signer *out, struct err *e)
{
    struct account *a = calloc(1, sizeof *a);

    if (!a || !(a->directory = strdup(directory)) || !(a->alg = strdup(alg))) {
        if (a)
            free(a->directory);
        free(a);
        return err_set(e, -ENOMEM, "out of memory");
    }
    a->hub = h;
    a->jwk = jwk ? json_incref(jwk) : NULL;
    a->next = h->accounts;
    h->accounts = a;
    memset(out, 0, sizeof *out);
    out->alg = a->alg;
    out->jwk = acct_jwk;
    out->sign = acct_sign;
    out->ctx = a;
    return 0;
}

static struct waiting *take(struct remote_hub *h, uint64_t id)
{
    for (struct waiting **pp = &h->waiting; *pp; pp = &(*pp)->next) {
        if ((*pp)->id == id) {
            struct waiting *w = *pp;

            *pp = w->next;
            return w;
        }
    }
    return NULL;
}

int remote_hub_answer(struct remote_hub *h, const struct ipc_msg *m, struct err *e)
{
    struct waiting *w;
    const uint8_t *sig;
    size_t len;
    uint64_t id;
    struct err ke = {0};

    if (m->type != WMSG_SIGNED || !ipc_get_u64(m, WMSG_T_ID, 0, &id))
        return err_set(e, -EPROTO, "not an answer to a signature request");
    if (!(w = take(h, id)))
        return err_set(e, -EPROTO,
                       "the keeper answered signature request %llu, which waits no more",
                       (unsigned long long)id);
    if (ipc_get_bytes(m, WMSG_T_SIG, 0, &sig, &len) && len > 0) {
        w->cb(w->arg, 0, sig, len, NULL);
    } else {
        char *why = ipc_get_text(m, WMSG_T_ERROR, 0);

        err_set(&ke, -EPERM, "the keeper refused to sign: %s", why ? why : "no reason given");
        free(why);
        w->cb(w->arg, -EPERM, NULL, 0, &ke);
    }
    free(w);
    return 0;
}

void remote_hub_fail_all(struct remote_hub *h, int rc, const char *why)
{
    struct err e = {0};

    err_set(&e, rc, "%s", why);
    while (h->waiting) {
        struct waiting *w = h->waiting;

        h->waiting = w->next;
        w->cb(w->arg, rc, NULL, 0, &e);
        free(w);
    }
}

void remote_hub_free(struct remote_hub *h)
{
    if (!h)
        return;
    remote_hub_fail_all(h, -ECANCELED, "the worker is stopping");
    while (h->accounts) {
        struct account *a = h->accounts;

        h->accounts = a->next;
        json_decref(a->jwk);
        free(a->directory);
        free(a->alg);
        free(a);
    }
    free(h);
}
