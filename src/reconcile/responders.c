/* responders: on-demand challenge listeners, shared by the jobs of a pass. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "challenge/listen_addr.h"
#include "hooks/hooks.h"
#include "reconcile/pass.h"
#include "reconcile/responders.h"
#include "util/log.h"

void rec_hooks_opts(const struct rec *r, const struct target *t, struct hooks_opts *ho)
{
    memset(ho, 0, sizeof *ho);
    ho->dirs = r->o->hook_dirs;
    ho->ndirs = r->o->nhook_dirs;
    ho->state_dir = r->st.root;
    ho->timeout_s = r->hook_timeout_s;
    if (t) {
        ho->env = (const char *const *)t->env;
        ho->nenv = t->nenv;
    }
}

/* "http:a,b,c" for the address specs (or "default"). Caller frees. */
static char *make_key(bool tls, char **specs, size_t n)
{
    size_t len = 16;
    char *k;

    for (size_t i = 0; i < n; i++)
        len += strlen(specs[i]) + 1;
    if (!(k = malloc(len)))
        return NULL;
    strcpy(k, tls ? "tls:" : "http:");
    if (n == 0)
        strcat(k, "default");
    for (size_t i = 0; i < n; i++) {
        strcat(k, specs[i]);
        strcat(k, ",");
    }
    return k;
}

static struct responder *find(struct rec *r, const char *key)
{
    for (size_t i = 0; i < r->nresponders; i++)
        if (r->responders[i] && !strcmp(r->responders[i]->key, key))
            return r->responders[i];
    return NULL;
}

/* Parses the addresses: the target's list, or the default (":P" optional, the rest required
 * for http; ":443" optional for tls). */
static int addresses(bool tls, char **specs, size_t n, struct listen_addr **addrs, bool **required,
                     size_t *naddrs, struct err *e)
{
    static const char *const http_default[] = {":80", "402"};
    static const char *const tls_default[] = {":443"};
    const char *const *use = (const char *const *)specs;
    size_t nuse = n;
    int rc;

    if (n == 0) {
        use = tls ? tls_default : http_default;
        nuse = tls ? 1 : 2;
    }
    if ((rc = listen_addrs_parse(use, nuse, addrs, naddrs, e)) < 0)
        return rc;
    if (!(*required = calloc(*naddrs ? *naddrs : 1, sizeof **required))) {
        free(*addrs);
        return err_set(e, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < *naddrs; i++) {
        /* Explicit addresses must work; of the defaults only 402 must ("when free"). */
        const char *t = (*addrs)[i].text;
        bool wildcard = !strncmp(t, "0.0.0.0:", 8) || !strncmp(t, "[::]:", 5);

        (*required)[i] = n > 0 || !wildcard;
    }
    return 0;
}

/* Records the listener's addresses in the pass's summary (state/daemon.json). */
/* Logs the new listener ("listening for http-01 challenges on 127.0.0.1:402, [::1]:402") and
 * records it in the pass's summary (state/daemon.json). */
static void note_listener(struct rec *r, bool tls, const struct listen_addr *addrs, size_t n)
{
    char s[REC_LISTENER_TEXT_MAX];
    size_t used;

    used = (size_t)snprintf(s, sizeof s, "%s", tls ? "tls-alpn-01" : "http-01");
    for (size_t i = 0; i < n && used < sizeof s; i++)
        used += (size_t)snprintf(s + used, sizeof s - used, "%s%s", i ? ", " : " ", addrs[i].text);
    log_info("listening for %s challenges on %s", tls ? "tls-alpn-01" : "http-01",
             strchr(s, ' ') ? strchr(s, ' ') + 1 : "");
    if (r->sum.nlisteners < REC_LISTENERS_MAX)
        memcpy(r->sum.listeners[r->sum.nlisteners++], s, sizeof s);
}

static struct responder *acquire(struct rec *r, const struct target *t, bool tls, struct err *e)
{
    char **specs = tls ? t->tls_ports : t->http_ports;
    size_t nspecs = tls ? t->ntls_ports : t->nhttp_ports;
    char *key = make_key(tls, specs, nspecs);
    struct listen_addr *addrs = NULL;
    bool *required = NULL;
    size_t n = 0;
    struct responder *p = NULL, **g;
    int rc;

    if (!key) {
        err_set(e, -ENOMEM, "out of memory");
        return NULL;
    }
    if ((p = find(r, key))) {
        free(key);
        p->users++;
        return p;
    }
    if (addresses(tls, specs, nspecs, &addrs, &required, &n, e) < 0)
        goto fail;
    if (!(p = calloc(1, sizeof *p)) ||
        !(g = realloc(r->responders, (r->nresponders + 1) * sizeof *g))) {
        err_set(e, -ENOMEM, "out of memory");
        goto fail;
    }
    r->responders = g;
    p->key = key;
    p->tls = tls;
    if (r->o->listeners) {
        const struct chal_listener_factory *f = r->o->listeners;

        rc = f->open(f->arg, tls, addrs, required, n, &p->l, e);
    } else if (tls) {
        const struct sockaddr *sa[16];
        socklen_t lens[16];

        for (size_t i = 0; i < n && i < 16; i++) {
            sa[i] = (const struct sockaddr *)&addrs[i].sa;
            lens[i] = addrs[i].len;
        }
        rc = tls_alpn_start(r->loop, sa, lens, required, n < 16 ? n : 16, &p->l.alpn, e);
    } else {
        rc = http01_start(r->loop, addrs, required, n, &p->l.http, e);
    }
    if (rc < 0)
        goto fail;
    note_listener(r, tls, addrs, n);
    p->users = 1;
    r->responders[r->nresponders++] = p;
    free(addrs);
    free(required);
    return p;
fail:
    free(addrs);
    free(required);
    free(key);
    free(p);
    return NULL;
}

struct responder *responder_http(struct rec *r, const struct target *t, struct err *e)
{
    return acquire(r, t, false, e);
}

struct responder *responder_tls(struct rec *r, const struct target *t, struct err *e)
{
    return acquire(r, t, true, e);
}

static void on_closed(void *arg)
{
    free(arg);
}

static void close_one(struct rec *r, struct responder *p)
{
    if (p->l.ops && r->o->listeners)
        r->o->listeners->close(r->o->listeners->arg, &p->l);
    if (p->l.http)
        http01_close(p->l.http, on_closed, NULL);
    if (p->l.alpn)
        tls_alpn_close(p->l.alpn, on_closed, NULL);
    free(p->key);
    free(p);
}

void responder_release(struct rec *r, struct responder *p)
{
    if (!p || --p->users > 0)
        return;
    for (size_t i = 0; i < r->nresponders; i++) {
        if (r->responders[i] == p) {
            r->responders[i] = r->responders[--r->nresponders];
            break;
        }
    }
    close_one(r, p);
}

void responders_close_all(struct rec *r)
{
    for (size_t i = 0; i < r->nresponders; i++)
        close_one(r, r->responders[i]);
    free(r->responders);
    r->responders = NULL;
    r->nresponders = 0;
}
