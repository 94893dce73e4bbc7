/* engine_acme: the engine (engine.h) over src/acme, one acme_client per CA. Each operation
 * is the acme/ops.h function of the same name. */
#include <errno.h>
#include <stdlib.h>

#include "reconcile/engine.h"

struct engine_acme {
    struct engine base; /* first: the engine is the struct */
    struct acme_client *c;
};

static struct acme_client *C(const struct engine *g)
{
    return ((const struct engine_acme *)g)->c;
}

static int ea_start(struct engine *g, acme_cb cb, void *arg, struct err *e)
{
    return acme_client_start(C(g), cb, arg, e);
}

static const struct acme_directory *ea_directory(const struct engine *g)
{
    return acme_client_directory(C(g));
}

static int ea_set_account(struct engine *g, const struct signer *s, const char *kid)
{
    return acme_client_set_account(C(g), s, kid);
}

static const char *ea_account_url(const struct engine *g)
{
    return acme_client_account_url(C(g));
}

static int ea_account_new(struct engine *g, const struct acme_new_account *req, acme_cb cb,
                          void *arg, struct err *e)
{
    return acme_account_new(C(g), req, cb, arg, e);
}

static int ea_account_update(struct engine *g, const char *const *contact, size_t ncontact,
                             acme_cb cb, void *arg, struct err *e)
{
    return acme_account_update(C(g), contact, ncontact, cb, arg, e);
}

static int ea_order_new(struct engine *g, const struct acme_new_order *req, acme_cb cb, void *arg,
                        struct err *e)
{
    return acme_order_new(C(g), req, cb, arg, e);
}

static int ea_order_get(struct engine *g, const char *url, acme_cb cb, void *arg, struct err *e)
{
    return acme_order_get(C(g), url, cb, arg, e);
}

static int ea_authz_get(struct engine *g, const char *url, acme_cb cb, void *arg, struct err *e)
{
    return acme_authz_get(C(g), url, cb, arg, e);
}

static int ea_challenge_answer(struct engine *g, const char *url, acme_cb cb, void *arg,
                               struct err *e)
{
    return acme_challenge_answer(C(g), url, cb, arg, e);
}

static int ea_authz_poll(struct engine *g, const char *url, uint64_t deadline_ms, acme_cb cb,
                         void *arg, struct err *e)
{
    return acme_authz_poll(C(g), url, deadline_ms, cb, arg, e);
}

static int ea_order_finalize(struct engine *g, const char *url, const uint8_t *csr, size_t len,
                             acme_cb cb, void *arg, struct err *e)
{
    return acme_order_finalize(C(g), url, csr, len, cb, arg, e);
}

static int ea_order_poll(struct engine *g, const char *url, bool until_ready, uint64_t deadline_ms,
                         acme_cb cb, void *arg, struct err *e)
{
    return acme_order_poll(C(g), url, until_ready, deadline_ms, cb, arg, e);
}

static int ea_cert_download(struct engine *g, const struct acme_download *req, acme_cb cb,
                            void *arg, struct err *e)
{
    return acme_cert_download(C(g), req, cb, arg, e);
}

static int ea_cert_revoke(struct engine *g, const uint8_t *der, size_t len, int reason,
                          const struct signer *cert_key, acme_cb cb, void *arg, struct err *e)
{
    return acme_cert_revoke(C(g), der, len, reason, cert_key, cb, arg, e);
}

static int ea_renewal_info_get(struct engine *g, const char *cert_id, acme_cb cb, void *arg,
                               struct err *e)
{
    return acme_renewal_info_get(C(g), cert_id, cb, arg, e);
}

static void ea_stats(const struct engine *g, struct acme_client_stats *out)
{
    acme_client_stats(C(g), out);
}

static void ea_free(struct engine *g)
{
    acme_client_free(C(g));
    free(g);
}

static const struct engine_ops ea_ops = {
    .start = ea_start,
    .directory = ea_directory,
    .set_account = ea_set_account,
    .account_url = ea_account_url,
    .account_new = ea_account_new,
    .account_update = ea_account_update,
    .order_new = ea_order_new,
    .order_get = ea_order_get,
    .authz_get = ea_authz_get,
    .challenge_answer = ea_challenge_answer,
    .authz_poll = ea_authz_poll,
    .order_finalize = ea_order_finalize,
    .order_poll = ea_order_poll,
    .cert_download = ea_cert_download,
    .cert_revoke = ea_cert_revoke,
    .renewal_info_get = ea_renewal_info_get,
    .stats = ea_stats,
    .free = ea_free,
};

int engine_acme_new(uv_loop_t *loop, struct http_client *http, const char *directory_url,
                    unsigned max_inflight, struct engine **out, struct err *e)
{
    struct engine_acme *g = calloc(1, sizeof *g);
    int rc;

    *out = NULL;
    if (!g)
        return err_set(e, -ENOMEM, "out of memory");
    if ((rc = acme_client_new(loop, http, directory_url, NULL, &g->c, e)) < 0) {
        free(g);
        return rc;
    }
    acme_client_set_max_inflight(g->c, max_inflight);
    g->base.ops = &ea_ops;
    *out = &g->base;
    return 0;
}
