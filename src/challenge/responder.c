/* responder: http-01 (webroot files and/or the built-in listener), tls-alpn-01 (the built-in
 * listener) and dns-01 (hooks only) behind one table. */
#include <errno.h>
#include <string.h>

#include "challenge/responder.h"
#include "challenge/webroot.h"
#include "util/log.h"

static int take_listener(const struct chal_host *h, struct chal_slot *s, bool tls, struct err *e)
{
    if (!s->l && !(s->l = h->listener_get(h->arg, tls, e)))
        return e->code < 0 ? e->code : -EIO;
    return 0;
}

static void give_back(const struct chal_host *h, struct chal_slot *s)
{
    if (s->l)
        h->listener_release(h->arg, s->l);
    s->l = NULL;
}

/* ---- http-01 ---- */

static int http_prepare(const struct chal_host *h, struct chal_slot *s, struct err *e)
{
    /* The built-in listener unless the target only gave webroot paths. */
    if (h->nwebroot_paths == 0 || h->http_ports)
        return take_listener(h, s, false, e);
    return 0;
}

static int http_provision(const struct chal_host *h, struct chal_slot *s,
                          const struct chal_answer *a, struct err *e)
{
    s->provisioned = true;
    if (h->nwebroot_paths > 0) {
        if (webroot_publish(h->webroot_paths, h->nwebroot_paths, a->token, a->keyauth,
                            strlen(a->keyauth), e) < 0)
            return e->code;
        s->webroot = true;
    }
    if (s->l && (s->l->ops ? s->l->ops->add(s->l->ctx, a->token, a->keyauth, e)
                           : http01_add(s->l->http, a->token, a->keyauth, e)) < 0)
        return e->code;
    return 0;
}

static void http_unprovision(const struct chal_host *h, struct chal_slot *s,
                             const struct chal_answer *a, const char *who)
{
    struct err e;

    if (s->webroot && webroot_unpublish(h->webroot_paths, h->nwebroot_paths, a->token, &e) < 0)
        log_warn("%s: %s", who, err_msg(&e));
    s->webroot = false;
    if (s->l && s->provisioned) {
        if (s->l->ops)
            s->l->ops->remove(s->l->ctx, a->token);
        else
            http01_remove(s->l->http, a->token);
    }
    s->provisioned = false;
    give_back(h, s);
}

int chal_listener_set_lookup(const struct chal_listener_factory *f, struct chal_listener *l,
                             const struct chal_lookup *lk, struct err *e)
{
    if (l && l->http) {
        http01_set_lookup(l->http, lk);
        return 0;
    }
    if (!l || !l->ops)
        return err_set(e, -EINVAL, "only an http-01 listener can ask about tokens");
    if (!f || !f->set_lookup)
        return err_set(e, -ENOTSUP, "this listener cannot ask about tokens");
    return f->set_lookup(f->arg, l, lk, e);
}

/* ---- tls-alpn-01 ---- */

static int tls_prepare(const struct chal_host *h, struct chal_slot *s, struct err *e)
{
    return take_listener(h, s, true, e);
}

static int tls_provision(const struct chal_host *h, struct chal_slot *s,
                         const struct chal_answer *a, struct err *e)
{
    s->provisioned = true;
    if ((s->l->ops ? s->l->ops->add(s->l->ctx, a->host, a->keyauth, e)
                   : tls_alpn_add(s->l->alpn, a->host, a->keyauth, strlen(a->keyauth), e)) < 0)
        return e->code;
    return 0;
}

static void tls_unprovision(const struct chal_host *h, struct chal_slot *s,
                            const struct chal_answer *a, const char *who)
{
    if (s->l && s->provisioned) {
        if (s->l->ops)
            s->l->ops->remove(s->l->ctx, a->host);
        else
            tls_alpn_remove(s->l->alpn, a->host);
    }
    s->provisioned = false;
    give_back(h, s);
}

/* ---- dns-01: the record is the hooks' job ---- */

static int dns_prepare(const struct chal_host *h, struct chal_slot *s, struct err *e)
{
    char **paths = NULL;
    size_t n = 0;
    int rc = hooks_discover(h->hooks, &paths, &n, e);

    hooks_paths_free(paths, n);
    if (rc < 0 || n == 0)
        return err_set(e, -ENOTSUP, "no hook installed");
    return 0;
}

static int dns_provision(const struct chal_host *h, struct chal_slot *s,
                         const struct chal_answer *a, struct err *e)
{
    s->provisioned = true;
    return 0;
}

static void dns_unprovision(const struct chal_host *h, struct chal_slot *s,
                            const struct chal_answer *a, const char *who)
{
    s->provisioned = false;
}

static const struct chal_responder methods[] = {
    {"http-01", "challenge-http-start", "challenge-http-stop", false, http_prepare, http_provision,
     http_unprovision},
    {"tls-alpn-01", "challenge-tls-alpn-start", "challenge-tls-alpn-stop", false, tls_prepare,
     tls_provision, tls_unprovision},
    {"dns-01", "challenge-dns-start", "challenge-dns-stop", true, dns_prepare, dns_provision,
     dns_unprovision},
};

const struct chal_responder *chal_responder_find(const char *type)
{
    for (size_t i = 0; i < sizeof methods / sizeof methods[0]; i++)
        if (!strcmp(methods[i].type, type))
            return &methods[i];
    return NULL;
}
