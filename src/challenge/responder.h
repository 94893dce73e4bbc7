/* responder: the challenge methods acmed answers (http-01, tls-alpn-01, dns-01) as one table
 * of operations, so that the step answering authorizations (src/reconcile/step_authorize.c)
 * knows none of them: each says whether it can be served here, publishes an answer and
 * withdraws it. Hooks (challenge-*-start/stop) are run by the caller with the events and
 * arguments the table names; listeners are lent by the caller (struct chal_host). */
#ifndef ACMED_CHALLENGE_RESPONDER_H
#define ACMED_CHALLENGE_RESPONDER_H

#include <stdbool.h>
#include <stddef.h>

#include "challenge/http01.h"
#include "challenge/listen_addr.h"
#include "challenge/lookup.h" /* struct chal_lookup: who a listener asks on a miss */
#include "hooks/hooks.h"
#include "net/tls_alpn.h"
#include "util/err.h"

/* A built-in listener: an http-01 server or a tls-alpn-01 one. */
struct chal_listener {
    struct http01 *http;
    struct tls_alpn *alpn;
    /* Or one served by another process (privilege separation: the worker): its answers go
     * through ops (key: the http-01 token, or the tls-alpn-01 name). http and alpn are NULL. */
    const struct chal_listener_ops *ops;
    void *ctx;
};

struct chal_listener_ops {
    int (*add)(void *ctx, const char *key, const char *keyauth, struct err *e);
    void (*remove)(void *ctx, const char *key);
};

/* Where a pass gets its listeners when they are not its own (privilege separation). */
struct chal_listener_factory {
    /* Opens the http-01 (tls false) or tls-alpn-01 listener on addrs[0..n), each required
     * unless required[i] is false (then a failure to bind is only logged), into *out. Returns
     * 0, or negative with e set. */
    int (*open)(void *arg, bool tls, const struct listen_addr *addrs, const bool *required,
                size_t n, struct chal_listener *out, struct err *e);
    /* Closes a listener open returned (at once; *l is the caller's). */
    void (*close)(void *arg, struct chal_listener *l);
    void *arg;
    /* Optional (NULL: not supported): sets who the http-01 listener l (one open returned) asks
     * about a token it has no answer for (lk borrowed until replaced, removed with NULL, or l
     * closed). Returns 0, or negative with e set. */
    int (*set_lookup)(void *arg, struct chal_listener *l, const struct chal_lookup *lk,
                      struct err *e);
};

/* Sets who the http-01 listener l asks on a miss (challenge/lookup.h; lk borrowed as above,
 * NULL removes it): l is f's (f->set_lookup), or this process's own (f NULL, or l->http set).
 * Returns 0, or -EINVAL (not an http-01 listener) or -ENOTSUP (f cannot) with e set. */
int chal_listener_set_lookup(const struct chal_listener_factory *f, struct chal_listener *l,
                             const struct chal_lookup *lk, struct err *e);

/* What the caller lends the methods for one target. */
struct chal_host {
    const char *const *webroot_paths; /* request.challenge.webroot-paths */
    size_t nwebroot_paths;
    bool http_ports; /* the target names http-ports: the listener even with webroot paths */
    const struct hooks_opts *hooks; /* to find a dns-01 hook */
    void *arg;
    /* The http-01 (tls false) or tls-alpn-01 listener, with one more user, or NULL with e
     * set when it cannot listen; listener_release gives it back. */
    struct chal_listener *(*listener_get)(void *arg, bool tls, struct err *e);
    void (*listener_release)(void *arg, struct chal_listener *l);
};

/* One answer of one authorization. */
struct chal_answer {
    const char *host; /* the identifier's value */
    bool wildcard;
    const char *token;
    const char *keyauth;
    const char *txt; /* dns-01: the record's value */
};

/* What a method holds for one answer between prepare and unprovision. */
struct chal_slot {
    struct chal_listener *l; /* a lent listener, or NULL */
    bool webroot;            /* answer files were written */
    bool provisioned;
};

struct chal_responder {
    const char *type;        /* the ACME challenge type, "http-01" */
    const char *start_event; /* the hook events around the answer */
    const char *stop_event;
    bool dns; /* hooks get the record value and "wildcard" rather than the token */
    /* Whether the method can be served here (may take a listener into *s). Returns 0, or
     * negative with e saying why not. */
    int (*prepare)(const struct chal_host *h, struct chal_slot *s, struct err *e);
    /* Publishes the answer (answer files, a listener's entry). Returns 0, or negative with e
     * set; what was published before a failure is withdrawn by unprovision. */
    int (*provision)(const struct chal_host *h, struct chal_slot *s, const struct chal_answer *a,
                     struct err *e);
    /* Withdraws what provision published and gives the listener back, synchronously
     * (failures are logged with `who`). Safe to call on a slot that was only prepared. */
    void (*unprovision)(const struct chal_host *h, struct chal_slot *s, const struct chal_answer *a,
                        const char *who);
};

/* The method for ACME challenge type `type`, or NULL when acmed does not answer it. */
const struct chal_responder *chal_responder_find(const char *type);

#endif
