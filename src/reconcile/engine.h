/* engine: everything the per-target steps and the pass ask of a CA (DESIGN.md §8), behind
 * one small table of functions: the directory, finding or registering the account, orders,
 * authorizations and their challenges, finalization, the download, revocation and renewal
 * information. The steps call only this; engine_acme.c implements it over src/acme, tests
 * script it (tests/unit/test_job.c), and a privilege-separated worker can be another.
 *
 * The operations keep acme/ops.h's contract: each returns 0 when it started, and then cb
 * runs exactly once later on the loop, never from inside the call; or a negative code with
 * e set, and cb never runs. Results arrive as struct engine_result (engine_types.h), plain
 * data: HTTP status, problem document, Retry-After and the object the operation names, which
 * the callee may take over by setting the member to NULL. Requests (and the strings in
 * them) are borrowed for the call only. */
#ifndef ACMED_RECONCILE_ENGINE_H
#define ACMED_RECONCILE_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <uv.h>

#include "net/http.h"
#include "reconcile/engine_types.h"

struct engine;

struct engine_ops {
    /* Fetches the directory; afterwards directory() is non-NULL. */
    int (*start)(struct engine *g, engine_cb cb, void *arg, struct err *e);
    /* The directory once start succeeded, else NULL. Borrowed. */
    const struct engine_directory *(*directory)(const struct engine *g);
    /* Sets the account for requests signed with "kid" (signer borrowed until replaced; kid
     * copied; NULL clears). Returns 0 or -ENOMEM. */
    int (*set_account)(struct engine *g, const struct signer *s, const char *kid);
    /* The account URL set above, or NULL. Borrowed. */
    const char *(*account_url)(const struct engine *g);
    int (*account_new)(struct engine *g, const struct engine_new_account *req, engine_cb cb,
                       void *arg, struct err *e);
    int (*account_update)(struct engine *g, const char *const *contact, size_t ncontact,
                          engine_cb cb, void *arg, struct err *e);
    /* Key rollover; afterwards requests are signed with req->new_key (borrowed as by
     * set_account). Only the `account` commands ask for it. */
    int (*account_key_change)(struct engine *g, const struct engine_key_change *req, engine_cb cb,
                              void *arg, struct err *e);
    /* Deactivates the account (§7.3.6). Only `account deactivate` asks for it. */
    int (*account_deactivate)(struct engine *g, engine_cb cb, void *arg, struct err *e);
    int (*order_new)(struct engine *g, const struct engine_new_order *req, engine_cb cb, void *arg,
                     struct err *e);
    int (*order_get)(struct engine *g, const char *url, engine_cb cb, void *arg, struct err *e);
    int (*authz_get)(struct engine *g, const char *url, engine_cb cb, void *arg, struct err *e);
    int (*challenge_answer)(struct engine *g, const char *url, engine_cb cb, void *arg,
                            struct err *e);
    int (*authz_poll)(struct engine *g, const char *url, uint64_t deadline_ms, engine_cb cb,
                      void *arg, struct err *e);
    int (*order_finalize)(struct engine *g, const char *url, const uint8_t *csr, size_t len,
                          engine_cb cb, void *arg, struct err *e);
    int (*order_poll)(struct engine *g, const char *url, bool until_ready, uint64_t deadline_ms,
                      engine_cb cb, void *arg, struct err *e);
    int (*cert_download)(struct engine *g, const struct engine_download *req, engine_cb cb,
                         void *arg, struct err *e);
    int (*cert_revoke)(struct engine *g, const uint8_t *der, size_t len, int reason,
                       const struct signer *cert_key, engine_cb cb, void *arg, struct err *e);
    int (*renewal_info_get)(struct engine *g, const char *cert_id, engine_cb cb, void *arg,
                            struct err *e);
    /* The http-01 self-test: GETs url over plain http as the CA will (no redirect followed;
     * connect_to "HOST:PORT", or NULL, to connect elsewhere), with the response's status in
     * r->status and its body in r->body (at most ENGINE_FETCH_MAX bytes of it). Done where
     * the CA is talked to: under privilege separation, by the worker. */
    int (*http01_fetch)(struct engine *g, const char *url, const char *connect_to, engine_cb cb,
                        void *arg, struct err *e);
    /* Posts a CSR to a central certificate server (engine_mgmt): an HTTP answer is rc 0 with
     * its status in r->status, Retry-After in r->retry_after, and the body in r->cert_pem (a
     * 200: the chain, which passed req's checks) or r->body (an error status: the reason).
     * rc < 0 when no answer came (connection refused, timeout), or when a 200's chain fails
     * the checks ("chain does not verify: <why>"). NULL in engines that talk ACME. */
    int (*csr_post)(struct engine *g, const struct engine_csr_post *req, engine_cb cb, void *arg,
                    struct err *e);
    /* A forced stop: every operation in flight ends (rc < 0, each callback once, from the loop,
     * never inside this call). NULL where the HTTP client's cancellation reaches everything
     * (engine_acme: http_client_cancel). */
    void (*cancel)(struct engine *g);
    /* Request counters (zero where the implementation keeps none). */
    void (*stats)(const struct engine *g, struct engine_stats *out);
    /* Frees the engine; nothing may be in flight. */
    void (*free)(struct engine *g);
};

/* An implementation embeds this as its first member. */
struct engine {
    const struct engine_ops *ops;
};

/* Makes the engine for the CA whose directory is at url. *out is caller-owned (engine_free).
 * Returns 0, or negative with e set. */
typedef int (*engine_factory)(void *arg, const char *url, struct engine **out, struct err *e);

/* The implementation over src/acme: a client for directory_url on loop through http (borrowed,
 * must outlive the engine), with at most max_inflight requests at once (0: no limit). Does no
 * I/O. Returns 0 with *out set (engine_free), or negative with e set. */
int engine_acme_new(uv_loop_t *loop, struct http_client *http, const char *directory_url,
                    unsigned max_inflight, struct engine **out, struct err *e);

/* The implementation for a central certificate server at url ("mgmt+http(s)://...";
 * net/mgmt_url.h) through http (borrowed, must outlive the engine): csr_post alone; every ACME
 * operation fails with -ENOTSUP. Does no I/O. Returns 0 with *out set (engine_free), or
 * negative with e set. */
int engine_mgmt_new(struct http_client *http, const char *url, struct engine **out, struct err *e);

/* The calls, one per operation of struct engine_ops (see there). */
static inline int engine_start(struct engine *g, engine_cb cb, void *arg, struct err *e)
{
    return g->ops->start(g, cb, arg, e);
}
static inline const struct engine_directory *engine_directory(const struct engine *g)
{
    return g->ops->directory(g);
}
static inline int engine_set_account(struct engine *g, const struct signer *s, const char *kid)
{
    return g->ops->set_account(g, s, kid);
}
static inline const char *engine_account_url(const struct engine *g)
{
    return g->ops->account_url(g);
}
static inline int engine_account_new(struct engine *g, const struct engine_new_account *req,
                                     engine_cb cb, void *arg, struct err *e)
{
    return g->ops->account_new(g, req, cb, arg, e);
}
static inline int engine_account_update(struct engine *g, const char *const *contact,
                                        size_t ncontact, engine_cb cb, void *arg, struct err *e)
{
    return g->ops->account_update(g, contact, ncontact, cb, arg, e);
}
static inline int engine_account_key_change(struct engine *g, const struct engine_key_change *req,
                                            engine_cb cb, void *arg, struct err *e)
{
    return g->ops->account_key_change(g, req, cb, arg, e);
}
static inline int engine_account_deactivate(struct engine *g, engine_cb cb, void *arg,
                                            struct err *e)
{
    return g->ops->account_deactivate(g, cb, arg, e);
}
static inline int engine_order_new(struct engine *g, const struct engine_new_order *req,
                                   engine_cb cb, void *arg, struct err *e)
{
    return g->ops->order_new(g, req, cb, arg, e);
}
static inline int engine_order_get(struct engine *g, const char *url, engine_cb cb, void *arg,
                                   struct err *e)
{
    return g->ops->order_get(g, url, cb, arg, e);
}
static inline int engine_authz_get(struct engine *g, const char *url, engine_cb cb, void *arg,
                                   struct err *e)
{
    return g->ops->authz_get(g, url, cb, arg, e);
}
static inline int engine_challenge_answer(struct engine *g, const char *url, engine_cb cb,
                                          void *arg, struct err *e)
{
    return g->ops->challenge_answer(g, url, cb, arg, e);
}
static inline int engine_authz_poll(struct engine *g, const char *url, uint64_t deadline_ms,
                                    engine_cb cb, void *arg, struct err *e)
{
    return g->ops->authz_poll(g, url, deadline_ms, cb, arg, e);
}
static inline int engine_order_finalize(struct engine *g, const char *url, const uint8_t *csr,
                                        size_t len, engine_cb cb, void *arg, struct err *e)
{
    return g->ops->order_finalize(g, url, csr, len, cb, arg, e);
}
static inline int engine_order_poll(struct engine *g, const char *url, bool until_ready,
                                    uint64_t deadline_ms, engine_cb cb, void *arg, struct err *e)
{
    return g->ops->order_poll(g, url, until_ready, deadline_ms, cb, arg, e);
}
static inline int engine_cert_download(struct engine *g, const struct engine_download *req,
                                       engine_cb cb, void *arg, struct err *e)
{
    return g->ops->cert_download(g, req, cb, arg, e);
}
static inline int engine_cert_revoke(struct engine *g, const uint8_t *der, size_t len, int reason,
                                     const struct signer *cert_key, engine_cb cb, void *arg,
                                     struct err *e)
{
    return g->ops->cert_revoke(g, der, len, reason, cert_key, cb, arg, e);
}
static inline int engine_renewal_info_get(struct engine *g, const char *cert_id, engine_cb cb,
                                          void *arg, struct err *e)
{
    return g->ops->renewal_info_get(g, cert_id, cb, arg, e);
}
static inline int engine_http01_fetch(struct engine *g, const char *url, const char *connect_to,
                                      engine_cb cb, void *arg, struct err *e)
{
    return g->ops->http01_fetch(g, url, connect_to, cb, arg, e);
}
static inline int engine_csr_post(struct engine *g, const struct engine_csr_post *req, engine_cb cb,
                                  void *arg, struct err *e)
{
    if (!g->ops->csr_post)
        return err_set(e, -ENOTSUP, "this provider is not a central certificate server");
    return g->ops->csr_post(g, req, cb, arg, e);
}
static inline void engine_cancel(struct engine *g)
{
    if (g && g->ops->cancel)
        g->ops->cancel(g);
}
static inline void engine_stats(const struct engine *g, struct engine_stats *out)
{
    g->ops->stats(g, out);
}
/* NULL is ignored. */
static inline void engine_free(struct engine *g)
{
    if (g)
        g->ops->free(g);
}

#endif
