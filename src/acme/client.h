/* client: one ACME server as seen from acmed (RFC 8555 §6, §7.1.1, §7.2).
 *
 * Owns the directory, the nonce pool and the request machinery every operation goes
 * through: signed POST and POST-as-GET with "jwk" or "kid" (§6.2), the url exactly as the
 * server gave it, Content-Type application/jose+json, and the retry policy: badNonce is
 * retried with the nonce of the error response, 429/503/5xx honour Retry-After (else
 * exponential backoff with jitter), network errors and timeouts are retried, all bounded in
 * count and time. Nothing sleeps: every wait is a libuv timer. No policy lives here. */
#ifndef ACMED_ACME_CLIENT_H
#define ACMED_ACME_CLIENT_H

#include <stdbool.h>
#include <stdint.h>
#include <time.h>
#include <uv.h>

#include "acme/objects.h"
#include "crypto/jws.h"
#include "net/http.h"
#include "util/err.h"

/* Error code for "the server answered with an ACME problem": r->problem says which. */
#define ACME_EPROBLEM (-EREMOTEIO)

struct acme_retry_policy {
    unsigned max_attempts;      /* transport errors and 5xx/429: attempts per request (6) */
    unsigned max_nonce_retries; /* badNonce retries per request (16) */
    uint64_t max_total_ms;      /* give up retrying once this much time has passed (120 s) */
    uint64_t base_backoff_ms;   /* first backoff without Retry-After (500 ms), doubling */
    uint64_t max_backoff_ms;    /* cap of one backoff step (30 s) */
    uint64_t max_retry_after_s; /* a longer Retry-After is not waited for in-process (120 s):
                                   the request fails with r->retry_after set instead */
};

/* Fills the defaults above. */
void acme_retry_policy_default(struct acme_retry_policy *p);

/* What an operation hands its callback. Everything is borrowed for the duration of the
 * callback; parsed objects may be taken over by the callee by setting the member to NULL. */
struct acme_result {
    long status;                      /* HTTP status of the final response, 0 if none */
    const struct http_response *http; /* final response, NULL after a transport failure */
    const char *location;             /* Location header, or NULL */
    struct acme_problem *problem;     /* the server's problem document, if any */
    time_t retry_after;               /* seconds the server asked us to wait, -1 if none */
    struct acme_account *account;     /* per operation, see acme/ops.h */
    struct acme_order *order;
    struct acme_authz *authz;
    struct acme_challenge *challenge;
    char *cert_pem; /* downloaded chain (PEM), leaf first */
    size_t cert_len;
};

/* rc == 0 on success; rc < 0 with e describing the failure (ACME_EPROBLEM when the server
 * sent a problem document, in r->problem). r is never NULL. Called exactly once, on the loop
 * thread, never from inside the call that started the operation. */
typedef void (*acme_cb)(void *arg, int rc, struct acme_result *r, const struct err *e);

struct acme_client;

struct acme_client_stats {
    uint64_t requests;    /* HTTP requests sent, HEAD newNonce and retries included */
    uint64_t nonce_heads; /* HEAD newNonce requests */
    uint64_t retries;     /* attempts beyond the first */
};

/* Creates a client for the directory at `directory_url` using `http` (borrowed; must outlive
 * the client). policy may be NULL for the defaults. Does no I/O: call acme_client_start.
 * *out is caller-owned (acme_client_free). Returns 0 or negative. */
int acme_client_new(uv_loop_t *loop, struct http_client *http, const char *directory_url,
                    const struct acme_retry_policy *policy, struct acme_client **out,
                    struct err *e);

/* Fetches and parses the directory (with retries). cb's r carries nothing else. After
 * success acme_client_directory() is non-NULL. */
int acme_client_start(struct acme_client *c, acme_cb cb, void *arg, struct err *e);

/* True when the directory URL is https: then every URL the CA hands out must be https too
 * (acme/url.h), and a plain-http one fails the operation that received it. */
bool acme_client_https_only(const struct acme_client *c);

/* The parsed directory, or NULL before acme_client_start succeeded. Borrowed. */
const struct acme_directory *acme_client_directory(const struct acme_client *c);

/* Sets the account used by operations that sign with "kid": signer (borrowed, must outlive
 * its use) and account URL (copied). kid NULL clears it. Returns 0 or -ENOMEM. */
int acme_client_set_account(struct acme_client *c, const struct signer *s, const char *kid);
const char *acme_client_account_url(const struct acme_client *c);
/* Limits the requests in flight to this CA at once (0: no limit); the rest queue. */
void acme_client_set_max_inflight(struct acme_client *c, unsigned n);

/* The loop the client runs on. */
uv_loop_t *acme_client_loop(const struct acme_client *c);

/* The signer set by acme_client_set_account, or NULL. Borrowed. */
const struct signer *acme_client_account_signer(const struct acme_client *c);

void acme_client_stats(const struct acme_client *c, struct acme_client_stats *out);

/* Frees the client. Operations still in flight must have completed (or the loop stopped
 * for good); their callbacks must not run afterwards. NULL is ignored. */
void acme_client_free(struct acme_client *c);

/* Cancellation. There is no call for it: the client hears it from its HTTP client
 * (http_client_cancel, a forced stop). Then every operation in flight ends promptly with rc
 * -ECANCELED, each callback once and from the loop: requests waiting (a retry's backoff, a
 * Retry-After, a nonce, their turn under max_inflight) stop waiting, requests on the wire are
 * aborted by the HTTP client, polls stop between two looks; and every operation started
 * afterwards ends the same way. */
bool acme_client_cancelled(const struct acme_client *c);

/* --- The request machinery, used by the operation modules (acme/ops.h). --- */

/* An operation that waits on a timer of its own (acme/poll.c): told once, by cancel(w) from
 * inside the cancellation, so that it stops waiting. Linked while it waits for anything. */
struct acme_waiter {
    void (*cancel)(struct acme_waiter *w);
    struct acme_waiter *prev, *next; /* the client's */
};

/* Links w (not linked yet) among the client's waiters; unlinks it. */
void acme_client_waiter_add(struct acme_client *c, struct acme_waiter *w);
void acme_client_waiter_remove(struct acme_client *c, struct acme_waiter *w);

enum acme_auth { ACME_AUTH_KID, ACME_AUTH_JWK };

struct acme_call {
    const char *method;          /* "POST" (signed), or "GET"/"HEAD" (unauthenticated) */
    const char *url;             /* exactly as the server gave it */
    const char *payload;         /* POST: JSON text, or "" for POST-as-GET */
    enum acme_auth auth;         /* POST: sign with the account kid or embed the signer's jwk */
    const struct signer *signer; /* POST with ACME_AUTH_JWK: the key to sign with */
    const char *accept;          /* optional Accept header */
};

/* Raw completion of one logical request (after retries): rc as for acme_cb; r has status,
 * http, location, problem and retry_after filled. */
int acme_call(struct acme_client *c, const struct acme_call *call, acme_cb cb, void *arg,
              struct err *e);

/* Accepts a Replay-Nonce value into the pool if it is well-formed (base64url, at most 256
 * characters); invalid values are ignored. Exposed for tests. Returns true if kept. */
bool acme_client_offer_nonce(struct acme_client *c, const char *nonce);
size_t acme_client_nonce_count(const struct acme_client *c);

#endif
