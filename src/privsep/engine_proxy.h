/* engine_proxy: the engine (reconcile/engine.h) of a privilege-separated keeper: each operation
 * goes to the worker (privsep/keeper.h), which runs it with engine_acme and asks the keeper
 * for each account-key signature; the keeper signs only what the operation allows.
 *
 * What the proxy adds to the engine's contract:
 *   - each operation's grants: newOrder for exactly the request's names and `replaces`,
 *     finalize of exactly the request's CSR, the challenge URL asked, the revocation of the
 *     request's certificate with its reason, the registration as asked (an External Account
 *     Binding is MACed here: the MAC key never leaves the keeper), reads (POST-as-GET);
 *   - the certificate chain a download returns is verified here again, against the key, the
 *     names and the trust anchors of the request, before the caller sees it; so is the chain
 *     a central certificate server answers a CSR post with (csr_post, for which nothing is
 *     signed: the worker gets the URL, the CSR and the HMAC header the keeper computed);
 *   - an operation the worker died in fails with ENGINE_ELOST (its outcome unknown: resume
 *     from the last checkpoint); one asked for while no worker is up waits for the next. */
#ifndef ACMED_PRIVSEP_ENGINE_PROXY_H
#define ACMED_PRIVSEP_ENGINE_PROXY_H

#include "privsep/keeper.h"
#include "reconcile/engine.h"

/* An engine for the CA whose directory is at url, run by k's worker. keeper is a struct
 * keeper * (the signature of engine_factory); it must outlive the engine. Returns 0 with *out
 * (engine_free), or negative with e set. */
int engine_proxy_new(void *keeper, const char *url, struct engine **out, struct err *e);

#endif
