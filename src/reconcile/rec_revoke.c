/* rec_revoke: certificates whose `revoke` marker is set (by `acmed revoke`, as acmetool)
 * are revoked at their CA, signed by the account, or by the certificate's own key when the
 * account is not the one that ordered it; then marked `revoked`. Their targets are no
 * longer satisfied and get a new certificate in the same pass. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/crl_reason.h"
#include "crypto/jws.h"
#include "crypto/pem.h"
#include "reconcile/rec_phases.h"
#include "util/fsio.h"
#include "util/log.h"

struct revoke_work {
    struct rec *r;
    struct provider *p;
    struct store_cert *c;
    struct pem_chain chain;
    struct ckey *cert_key;
    struct signer cs;
    bool tried_cert_key;
};

static void revoke_end(struct revoke_work *w)
{
    struct rec *r = w->r;

    pem_chain_clear(&w->chain);
    key_free(w->cert_key);
    free(w);
    if (--r->revoke_pending == 0)
        r->phase_end(r);
}

static void on_revoked(void *arg, int rc, struct engine_result *r, const struct err *e);

static int send_revoke(struct revoke_work *w, const struct signer *s, struct err *e)
{
    /* The reason was recorded in the marker file; superseded/unspecified otherwise. */
    char path[600], *text = NULL;
    size_t len;
    int reason = 0;

    snprintf(path, sizeof path, "%s/certs/%s/revoke", w->r->st.root, w->c->id);
    if (fsio_read_file(path, 64, &text, &len, NULL) == 0 && len > 0) {
        text[strcspn(text, "\r\n")] = '\0';
        if (crl_reason_parse(text, &reason) < 0)
            reason = 0;
    }
    free(text);
    return engine_cert_revoke(w->p->eng, w->chain.certs[0].der, w->chain.certs[0].len, reason, s,
                              on_revoked, w, e);
}

static void on_revoked(void *arg, int rc, struct engine_result *r, const struct err *e)
{
    struct revoke_work *w = arg;
    struct err me;

    if (rc < 0 && engine_problem_is(r->problem, "unauthorized") && !w->tried_cert_key &&
        w->c->key_id[0] && store_key_load(&w->r->st, w->c->key_id, &w->cert_key, &me) == 0) {
        /* Another account ordered it: the certificate's own key proves the right. */
        w->tried_cert_key = true;
        jws_signer_from_key(w->cert_key, &w->cs);
        if (send_revoke(w, &w->cs, &me) == 0)
            return;
    }
    if (rc == 0 || engine_problem_is(r->problem, "alreadyRevoked")) {
        w->c->revoked = true;
        if (store_cert_mark(&w->r->st, w->c->id, "revoked", true, &me) < 0)
            log_err("certificate %s: %s", w->c->id, err_msg(&me));
        else
            log_notice("certificate %s revoked", w->c->id);
    } else {
        log_err("revoking certificate %s: %s", w->c->id, err_msg(e));
    }
    revoke_end(w);
}

static void on_account(void *arg, int rc, const struct err *e)
{
    struct revoke_work *w = arg;
    struct err re;

    if (rc == 0 && send_revoke(w, NULL, &re) == 0)
        return;
    log_err("revoking certificate %s: %s", w->c->id, rc < 0 ? err_msg(e) : err_msg(&re));
    revoke_end(w);
}

static void revoke_start(struct rec *r, struct store_cert *c)
{
    struct revoke_work *w = calloc(1, sizeof *w);
    const struct target *t = rec_cert_target(r, c);
    char path[600], *pem = NULL;
    size_t len;
    struct err e;

    err_clear(&e);
    if (!w)
        return;
    w->r = r;
    w->c = c;
    snprintf(path, sizeof path, "%s/certs/%s/cert", r->st.root, c->id);
    if (fsio_read_file(path, 1 << 20, &pem, &len, &e) < 0 ||
        pem_split_chain(pem, len, &w->chain, &e) < 0 ||
        !(w->p = provider_for_target(&r->provs, rec_provider_url(r, t), t))) {
        if (!w->p && e.code == 0)
            err_set(&e, -ENOMEM, "out of memory");
        log_err("revoking certificate %s: %s", c->id, err_msg(&e));
        free(pem);
        pem_chain_clear(&w->chain);
        free(w);
        return;
    }
    free(pem);
    r->revoke_pending++;
    provider_need_account(w->p, t, on_account, w);
}

void rec_phase_revoke(struct rec *r)
{
    r->revoke_pending = 1;
    for (size_t i = 0; i < r->ncerts; i++)
        if (r->certs[i].revoke_asked && !r->certs[i].revoked)
            revoke_start(r, &r->certs[i]);
    if (--r->revoke_pending == 0)
        r->phase_end(r);
}
