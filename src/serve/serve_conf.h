/* serve_conf: conf/serve.yaml, the certificate server's settings and client rules
 * (DESIGN.md §11), parsed into plain data. Pure apart from serve_conf_load's one read.
 *
 * Every error names the file, line and column and the key path, as conf/acmed.yaml's do;
 * unlike there, an unknown key is an error: a misspelt `hmac-key-file` must not silently
 * leave a client unauthenticated. The HMAC key file is not read here (the keeper reads it,
 * and only it holds the key); its path is kept and must be absolute. */
#ifndef ACMED_SERVE_SERVE_CONF_H
#define ACMED_SERVE_SERVE_CONF_H

#include <stddef.h>

#include "serve/serve_addr.h"
#include "util/err.h"

#define SERVE_DEFAULT_MAX_SIZE 4096
#define SERVE_DEFAULT_REQUEST_TIMEOUT 300
#define SERVE_DEFAULT_RENEW_WITHIN 14
/* Most requests a `rate` may allow per period (rate.h keeps one timestamp per request). */
#define SERVE_RATE_MAX 10000

/* Challenge types a client rule may restrict its orders to (`challenge: {type: [...]}`). */
enum serve_chal {
    SERVE_CHAL_HTTP01 = 1 << 0,
    SERVE_CHAL_DNS01 = 1 << 1,
    SERVE_CHAL_TLSALPN01 = 1 << 2,
};

/* `rate: N/h`, `N/m` or `N/s`: at most count requests in any period_s seconds. count 0: no
 * limit (the key is absent). */
struct serve_rate {
    unsigned count;
    unsigned period_s;
};

/* One entry of `clients`, in file order (the order rules.h tries them in). */
struct serve_client {
    char *name;
    unsigned line; /* where the client's entry starts, for messages */
    struct serve_cidr *ip;
    size_t nip;
    char *hmac_key_file; /* absolute path, or NULL: no HMAC required */
    char **domains;      /* exact names or glob patterns (util/glob.h) */
    size_t ndomains;
    unsigned challenge_types; /* enum serve_chal bits; 0: conf/target's defaults */
    struct serve_rate rate;
};

struct serve_conf {
    struct serve_listen *listen; /* the endpoint; at least one */
    size_t nlisten;
    char *tls_cert, *tls_key;    /* both or neither; absolute paths */
    struct serve_listen *http01; /* http-01-listen; empty when not given (the listener decides) */
    size_t nhttp01;
    unsigned max_size;          /* bytes of CSR, default 4096 */
    unsigned request_timeout_s; /* default 300 */
    unsigned renew_within_days; /* default 14 */
    struct serve_client *clients;
    size_t nclients;
};

/* Parses `len` bytes of YAML; `src` names the file in messages ("conf/serve.yaml"). On
 * success *out holds the settings (release with serve_conf_clear). Returns 0, -EINVAL with
 * "<src>: line L, column C: <key path>: <what>" in e, or -ENOMEM; on failure *out is empty. */
int serve_conf_parse(const char *src, const char *text, size_t len, struct serve_conf *out,
                     struct err *e);

/* Reads and parses <root>/conf/serve.yaml. -ENOENT (e set) when the file does not exist,
 * otherwise as serve_conf_parse. */
int serve_conf_load(const char *root, struct serve_conf *out, struct err *e);

/* Frees what c holds and empties it. c may be NULL. */
void serve_conf_clear(struct serve_conf *c);

/* The client named `name`, or NULL. Borrowed from c. */
const struct serve_client *serve_conf_client(const struct serve_conf *c, const char *name);

#endif
