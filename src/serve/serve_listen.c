/* serve_listen: the http-01 listener acmed serve holds for its life, lent to its passes. */
#include "serve/serve_listen.h"

#include <errno.h>
#include <net/if.h>
#include <stdlib.h>
#include <stdio.h>
#include <string.h>

static int fwd_add(void *ctx, const char *key, const char *keyauth, struct err *e)
{
    struct serve_listen_held *h = ctx;

    if (h->held.ops)
        return h->held.ops->add(h->held.ctx, key, keyauth, e);
    return http01_add(h->held.http, key, keyauth, e);
}

static void fwd_remove(void *ctx, const char *key)
{
    struct serve_listen_held *h = ctx;

    if (h->held.ops)
        h->held.ops->remove(h->held.ctx, key);
    else
        http01_remove(h->held.http, key);
}

static const struct chal_listener_ops fwd_ops = {.add = fwd_add, .remove = fwd_remove};

static int f_open(void *arg, bool tls, const struct listen_addr *addrs, const bool *required,
                  size_t n, struct chal_listener *out, struct err *e)
{
    struct serve_listen_held *h = arg;
    const struct sockaddr *sa[16];
    socklen_t lens[16];

    memset(out, 0, sizeof *out);
    if (!tls) {
        /* Every http-01 answer goes to the listener the fleet's web servers proxy to. */
        out->ops = &fwd_ops;
        out->ctx = h;
        return 0;
    }
    if (h->base)
        return h->base->open(h->base->arg, tls, addrs, required, n, out, e);
    for (size_t i = 0; i < n && i < 16; i++) {
        sa[i] = (const struct sockaddr *)&addrs[i].sa;
        lens[i] = addrs[i].len;
    }
    return tls_alpn_start(h->loop, sa, lens, required, n < 16 ? n : 16, &out->alpn, e);
}

static void f_close(void *arg, struct chal_listener *l)
{
    struct serve_listen_held *h = arg;

    if (l->ops == &fwd_ops)
        return; /* the held listener stays */
    if (h->base)
        h->base->close(h->base->arg, l);
}

int serve_listen_open(struct serve_listen_held *h, uv_loop_t *loop,
                      const struct chal_listener_factory *base, const struct chal_lookup *lookup,
                      const struct serve_listen *addrs, size_t n, struct err *e)
{
    struct listen_addr *la = calloc(n ? n : 1, sizeof *la);
    int rc;

    memset(h, 0, sizeof *h);
    h->loop = loop;
    h->base = base;
    h->f.open = f_open;
    h->f.close = f_close;
    h->f.arg = h;
    if (!la)
        return err_set(e, -ENOMEM, "out of memory");
    for (size_t i = 0; i < n; i++) {
        memcpy(&la[i].sa, &addrs[i].sa, sizeof la[i].sa);
        la[i].len = addrs[i].len;
        snprintf(la[i].text, sizeof la[i].text, "%s", addrs[i].text);
        if (addrs[i].zone[0] && addrs[i].sa.ss_family == AF_INET6) {
            struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&la[i].sa;
            unsigned idx = if_nametoindex(addrs[i].zone);
            char *end;

            if (!idx) {
                unsigned long v = strtoul(addrs[i].zone, &end, 10);

                idx = *end == '\0' && v > 0 && v <= UINT32_MAX ? (unsigned)v : 0;
            }
            if (!idx) {
                free(la);
                return err_set(e, -ENODEV, "http-01-listen %s: no interface %s", addrs[i].text,
                               addrs[i].zone);
            }
            s6->sin6_scope_id = idx;
        }
    }
    if (base)
        rc = base->open(base->arg, false, la, NULL, n, &h->held, e);
    else
        rc = http01_start(loop, la, NULL, n, &h->held.http, e);
    free(la);
    if (rc == 0)
        h->open = true;
    if (rc == 0 && lookup && (rc = chal_listener_set_lookup(base, &h->held, lookup, e)) < 0) {
        err_wrap(e, "http-01-listen");
        serve_listen_close(h);
    }
    return rc;
}

int serve_listen_port(const struct serve_listen_held *h, size_t i)
{
    if (!h->open || !h->held.http)
        return -ENOENT;
    return http01_bound_port(h->held.http, i);
}

void serve_listen_close(struct serve_listen_held *h)
{
    if (!h->open)
        return;
    h->open = false;
    if (h->held.ops && h->base)
        h->base->close(h->base->arg, &h->held);
    else if (h->held.http)
        http01_close(h->held.http, NULL, NULL);
    memset(&h->held, 0, sizeof h->held);
}
