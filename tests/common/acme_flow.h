/* acme_flow: a whole issuance driven through src/acme's operations, for the integration tests
 * and bench/. It answers challenges through pebble-challtestsrv's management API (http-01 via
 * /add-http01, dns-01 via /set-txt), so it needs none of acmed's own responders.
 *
 * This is test code: publishing a challenge is a short blocking HTTP call to challtestsrv on
 * loopback. Everything else runs on the loop through the engine under test. */
#ifndef ACMED_TESTS_ACME_FLOW_H
#define ACMED_TESTS_ACME_FLOW_H

#include <stdbool.h>
#include <stddef.h>
#include <uv.h>

#include "acme/client.h"
#include "acme/ops.h"
#include "crypto/key.h"
#include "net/http.h"
#include "util/err.h"

/* A loop, an HTTP client trusting `ca` and an ACME client for `directory`, started (the
 * directory fetched). Fails the cmocka test on error. */
struct flow_env {
    uv_loop_t loop;
    struct http_client *http;
    struct acme_client *acme;
    struct ckey *account_key;
    struct signer account;
    char *thumbprint; /* of the account key, for key authorizations */
};

void flow_env_init(struct flow_env *fe, const char *directory, const char *ca,
                   const struct acme_retry_policy *policy);
/* The same with explicit HTTP options (timeouts, body cap); opts->ca_bundle is used as is.
 * Returns the directory fetch's rc instead of failing the test on it (e set). */
int flow_env_init_opts(struct flow_env *fe, const char *directory,
                       const struct http_client_opts *opts,
                       const struct acme_retry_policy *policy, struct err *e);
/* Creates an account with a fresh P-256 key (agreeing to the terms) and sets it on the
 * client. Returns the operation's rc (0 on success), e filled on failure. */
int flow_env_account(struct flow_env *fe, const struct acme_eab *eab, struct err *e);
/* Closes everything and runs the loop until all handles are closed. */
void flow_env_fini(struct flow_env *fe);

/* Runs the loop until *done becomes true (bounded: fails the test after `limit_ms`). */
void flow_run_until(uv_loop_t *loop, const bool *done, unsigned limit_ms);

struct flow_req {
    const char *const *names; /* dns names or ip addresses */
    size_t nnames;
    struct key_spec key;      /* the certificate key to generate */
    const char *const *prefs; /* challenge types, preferred first */
    size_t nprefs;
    const char *preferred_chain;
    const char *trust_anchors; /* PEM roots the chain must end at, or NULL */
    const char *challtestsrv;  /* management URL */
    const char *profile;
    const char *replaces;
};

struct flow_result {
    int rc;
    struct err e;
    char *problem_type; /* the ACME problem type of a failure, if any */
    char *cert_pem;     /* on success: the chain, leaf first */
    size_t cert_len;
    struct ckey *key;   /* the certificate key */
    char *order_url;
    unsigned authz_polls, order_polls;
};

/* Starts one issuance on fe's client; cb(arg, res) runs once when it is over (res is owned
 * by the caller of flow_issue_start, and must stay valid until then). Returns 0 or negative. */
int flow_issue_start(struct flow_env *fe, const struct flow_req *req, struct flow_result *res,
                     void (*cb)(void *arg, struct flow_result *res), void *arg);

/* Runs one issuance to the end (bounded). Returns res->rc. */
int flow_issue(struct flow_env *fe, const struct flow_req *req, struct flow_result *res);

void flow_result_clear(struct flow_result *res);

/* Runs one acme_* operation synchronously: `start` is called with the callback to pass.
 * The result's objects are moved into *out (caller clears with flow_sync_clear). */
struct flow_sync {
    bool done;
    int rc;
    struct err e;
    long status;
    char *location;
    struct acme_problem *problem;
    struct acme_account *account;
    struct acme_order *order;
    struct acme_authz *authz;
    struct acme_challenge *challenge;
    char *body;
    size_t body_len;
    char *cert_pem;
    size_t cert_len;
    long retry_after;
};
void flow_sync_cb(void *arg, int rc, struct acme_result *r, const struct err *e);
void flow_sync_wait(struct flow_env *fe, struct flow_sync *s);
void flow_sync_clear(struct flow_sync *s);

/* GETs PEBBLE_MGMT<path> over TLS trusting PEBBLE_CA (blocking, loopback). Fails the test
 * unless the answer is 200. Caller frees the body. */
char *flow_pebble_mgmt(const char *path);

/* POSTs a JSON body to challtestsrv (blocking, loopback). Returns the HTTP status or -1. */
int flow_challtestsrv(const char *mgmt, const char *path, const char *json);

#endif
