/* rules: may this request have a certificate for these names? The certificate server's
 * client rules (DESIGN.md §11, issue 15 item 2) as one pure decision over plain data: the
 * parsed clients, the peer address, the request headers, the body and the CSR's names.
 *
 * Clients are tried in conf/serve.yaml's order. A client is a candidate when the peer (an
 * IPv4-mapped IPv6 peer counts as IPv4) is inside one of its `ip` entries. A candidate
 * allows the request when
 *  - it has no HMAC key, or the request carries HMAC-SHA256(key, body) in hex, as a header
 *    `HMAC-SHA256` or `HMAC-SHA2-256` (what `openssl dgst -sha256 -hmac KEY FILE | sed -e
 *    's/(.*)=/:/'` prints, OpenSSL 1.1 and 3 respectively) or as `Authentication: hmac
 *    name=sha256, hash=<hex>` (name sha256 or sha2-256 in any case, the comma optional);
 *    the MAC is compared in constant time; and
 *  - every name of the CSR (its CN included) equals one of the client's domains (ASCII case
 *    ignored; IP addresses compared as addresses) or matches one as a glob (util/glob.h).
 * The first candidate that allows wins. As in acme-mgmtserver, a later candidate may allow
 * what an earlier one refused: DESIGN.md's example gives one address a plain rule for some
 * names and an HMAC rule for others. When none allows, the request is refused with 403 and
 * the first candidate's reason (or "no client rule for <peer>"). The HMAC keys are given by
 * the caller (the keeper reads hmac-key-file); a client with hmac-key-file but no key given
 * refuses with 500, never allows. */
#ifndef ACMED_SERVE_RULES_H
#define ACMED_SERVE_RULES_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "serve/serve_conf.h"

/* One request header as the HTTP layer gave it; both strings borrowed. Names are compared
 * case-insensitively, values have surrounding blanks ignored. */
struct rules_header {
    const char *name, *value;
};

/* A client's HMAC key bytes (borrowed; the hmac-key-file's bytes less one trailing newline,
 * as given to `openssl dgst -hmac`). key NULL: not loaded. */
struct rules_key {
    const uint8_t *key;
    size_t len;
};

/* What the request is: all borrowed for the duration of rules_check. */
struct rules_request {
    const struct sockaddr *peer;
    socklen_t peer_len;
    const struct rules_header *headers;
    size_t nheaders;
    const uint8_t *body;
    size_t body_len;
    const char *const *names; /* the CSR's names, CN included (duplicates are harmless) */
    size_t nnames;
    /* Only who asks: the peer and the HMAC, names ignored (the server asks this before it
     * reads the body as a CSR, so that a stranger learns nothing from the answer). */
    bool peer_only;
    /* The client a peer_only check of this same request (same peer, headers, body and keys)
     * allowed, i.e. that check's verdict's client, or NULL: that client's HMAC matched then
     * and is not computed again. Anything else here lets a request past that client's HMAC. */
    const struct serve_client *mac_checked;
};

#define RULES_REASON_MAX 256

/* The decision. status 200: allowed by client (borrowed from the conf); otherwise the HTTP
 * status (403, or 500 for a key the caller did not load) with a one-line reason that names
 * no secret. */
struct rules_verdict {
    int status;
    const struct serve_client *client;
    size_t index; /* of client in conf->clients */
    char reason[RULES_REASON_MAX];
};

/* Decides for req under conf. keys has conf->nclients entries (keys[i] for clients[i]) or is
 * NULL when no client has an HMAC key. Fills *out and returns out->status == 200 ? 0 :
 * -EACCES. */
int rules_check(const struct serve_conf *conf, const struct rules_key *keys,
                const struct rules_request *req, struct rules_verdict *out);

/* True when `name` is allowed by one of client's domains (exact or glob, see above). */
bool rules_name_allowed(const struct serve_client *client, const char *name);

#endif
