/* listener_proxy: the challenge listeners of a privilege-separated keeper (DESIGN.md §10).
 *
 * The keeper binds each listener's sockets itself (root may bind ports 80 and 443; the worker
 * may not), exactly as the in-process listeners would (net/listen_sock.h), and hands them to
 * its worker, which serves them; the answers it publishes are the keeper's own key
 * authorizations. The keeper keeps the sockets and the answers, so a worker started again
 * after a crash gets both: the ports stay bound the whole time. */
#ifndef ACMED_PRIVSEP_LISTENER_PROXY_H
#define ACMED_PRIVSEP_LISTENER_PROXY_H

#include "challenge/responder.h"
#include "privsep/keeper.h"

struct listener_proxy;

/* Listeners served by k's worker (k must outlive it). Returns NULL when out of memory. */
struct listener_proxy *listener_proxy_new(struct keeper *k);

/* The factory for rec_opts.listeners. Borrowed from lp. */
const struct chal_listener_factory *listener_proxy_factory(struct listener_proxy *lp);

/* Sets who the worker's http-01 listeners ask about a token they have no answer for
 * (challenge/lookup.h; lk borrowed until replaced, removed with NULL, or lp freed): every one
 * open now or later, unless the factory's set_lookup gave it its own. The worker's asks are
 * checked here (a token, a listener of ours, at most CHAL_LOOKUP_MAX_INFLIGHT in flight per
 * listener) before lk is asked; only the answer, a key authorization (public), goes back. */
void listener_proxy_set_lookup(struct listener_proxy *lp, const struct chal_lookup *lk);

/* Closes what is still open and frees lp (lookups in flight are answered to no one). NULL is
 * ignored. */
void listener_proxy_free(struct listener_proxy *lp);

#endif
