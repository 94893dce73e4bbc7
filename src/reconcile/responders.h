/* responders: the built-in challenge listeners of one pass (http-01 and tls-alpn-01), started
 * on demand for the addresses a target asks for and closed as soon as no challenge of the
 * pass uses them any more (DESIGN.md §6: listeners exist only while a challenge is pending).
 * Private to src/reconcile. */
#ifndef ACMED_RECONCILE_RESPONDERS_H
#define ACMED_RECONCILE_RESPONDERS_H

#include <stdbool.h>

#include "challenge/responder.h"
#include "hooks/hooks.h"
#include "net/tls_alpn.h"
#include "store/desired.h"

struct rec;

struct responder {
    char *key; /* "http:" or "tls:" + the address specs, identifying the listener */
    bool tls;
    struct chal_listener l; /* the http-01 or tls-alpn-01 server */
    unsigned users;         /* challenges published through it */
};

/* The http-01 listener for t's request.challenge.http-ports (default: ":80" when free plus
 * 127.0.0.1:402 and [::1]:402), started if needed, with one more user. NULL with e set when
 * it cannot listen. */
struct responder *responder_http(struct rec *r, const struct target *t, struct err *e);
/* The tls-alpn-01 listener for t's tls-ports (default ":443" when free), likewise. */
struct responder *responder_tls(struct rec *r, const struct target *t, struct err *e);
/* One user fewer; the last one closes the listener. */
void responder_release(struct rec *r, struct responder *p);
/* Closes every listener left (end of the pass); the loop must run afterwards. */
void responders_close_all(struct rec *r);

/* Hook options for target t (NULL: no target environment) in *ho. */
void rec_hooks_opts(const struct rec *r, const struct target *t, struct hooks_opts *ho);

#endif
