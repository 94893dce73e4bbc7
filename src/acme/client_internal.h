/* client_internal: the client's state, shared by client.c (the request machinery and its
 * cancellation) and client_dir.c (fetching the directory). Private to src/acme/client*. */
#ifndef ACMED_ACME_CLIENT_INTERNAL_H
#define ACMED_ACME_CLIENT_INTERNAL_H

#include "acme/client.h"
#include "acme/nonce_pool.h"

struct acme_client {
    uv_loop_t *loop;
    struct http_client *http;
    char *dir_url;
    struct acme_directory *dir;
    struct acme_retry_policy pol;
    struct nonce_pool nonces;
    const struct signer *acct_signer;
    char *kid;
    struct acme_client_stats stats;
    unsigned inflight;           /* HTTP requests started and not yet answered */
    unsigned max_inflight;       /* 0: no limit */
    struct call **nonce_waiters; /* POSTs waiting for a nonce from a response in flight */
    size_t nwaiters;
    struct http_watch watch;     /* tells the client of http_client_cancel */
    struct acme_waiter *waiters; /* requests and polls in progress (acme_client_waiter_add) */
    bool cancelled;              /* http_client_cancel was called: everything ends */
};

#endif
