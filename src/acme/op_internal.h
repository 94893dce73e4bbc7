/* op_internal: what the operation modules (account.c, order.c, poll.c, cert.c) share: one
 * signed or unsigned request whose successful response body is parsed into the result.
 * Private to src/acme/. */
#ifndef ACMED_ACME_OP_INTERNAL_H
#define ACMED_ACME_OP_INTERNAL_H

#include <jansson.h>

#include "acme/client.h"

enum acme_op_kind { OP_RAW, OP_ACCOUNT, OP_ORDER, OP_AUTHZ, OP_CHALLENGE };

/* Runs `call`; on a 2xx answer parses the body as `kind` into the result (r->account,
 * r->order, ...) before calling cb. A body that does not parse fails the operation with
 * -EPROTO naming the URL. Returns as acme_call. */
int acme_op_start(struct acme_client *c, const struct acme_call *call, enum acme_op_kind kind,
                  acme_cb cb, void *arg, struct err *e);

/* POST of a JSON payload (or "" when payload is NULL: POST-as-GET) signed with the account
 * kid, parsed as `kind`. Does not steal payload. */
int acme_op_post(struct acme_client *c, const char *url, json_t *payload, enum acme_op_kind kind,
                 acme_cb cb, void *arg, struct err *e);

/* Checks every URL in a parsed result with acme_url_check (acme/url.h): the Location header,
 * the account's orders URL, the order's authorizations, finalize and certificate URLs, the
 * authorization's challenge URLs and the challenge's URL. Returns 0 or -EPROTO with e naming
 * the URL. (Every operation that parses an answer runs it, in acme_op_start.) */
int acme_result_urls_check(const struct acme_result *r, bool https_only, struct err *e);

/* Compact JSON text of v (caller frees), or NULL with e set. */
char *acme_json_text(json_t *v, struct err *e);

#endif
