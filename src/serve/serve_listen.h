/* serve_listen: acmed serve's http-01 listeners (DESIGN.md §11, `http-01-listen`), opened once
 * and kept for as long as the server runs, so that web servers proxying
 * /.well-known/acme-challenge/ to it always find someone there (unknown tokens get 404, for
 * nginx's proxy_next_upstream http_404), whatever the Host.
 *
 * It is a listener factory (challenge/responder.h) for every pass the server runs: http-01
 * answers of any target go into the held listener, whatever addresses the target names;
 * tls-alpn-01 listeners are opened per pass as usual (through `base` when given: privilege
 * separation's worker), and closed by the pass. */
#ifndef ACMED_SERVE_SERVE_LISTEN_H
#define ACMED_SERVE_SERVE_LISTEN_H

#include <stddef.h>
#include <uv.h>

#include "challenge/responder.h"
#include "serve/serve_addr.h"
#include "util/err.h"

struct serve_listen_held {
    struct chal_listener_factory f;           /* what passes get (rec_opts.listeners) */
    const struct chal_listener_factory *base; /* the factory underneath, NULL: this process */
    uv_loop_t *loop;
    struct chal_listener held; /* the http-01 listener, for the server's life */
    bool open;
};

/* Opens the http-01 listener on addrs[0..n) (each required; a zone is turned into its
 * interface index here) through base (NULL: in this process) and sets h->f up. With lookup
 * (borrowed until serve_listen_close; NULL: none) the listener asks it about tokens it has no
 * answer for (challenge/lookup.h; base must then support it). Returns 0, or negative with e
 * naming the address or why lookup cannot be used (nothing is left open then). */
int serve_listen_open(struct serve_listen_held *h, uv_loop_t *loop,
                      const struct chal_listener_factory *base, const struct chal_lookup *lookup,
                      const struct serve_listen *addrs, size_t n, struct err *e);

/* The port the held listener's address i is bound to (tests ask for port 0), or negative. */
int serve_listen_port(const struct serve_listen_held *h, size_t i);

/* Closes the held listener (after every pass has ended). */
void serve_listen_close(struct serve_listen_held *h);

#endif
