/* signer_policy: what `acmed signer` agrees to sign, decided on the decoded request
 * (signer/signer_proto.h). Pure, no I/O.
 *
 *  - the JWS alg must be the signer's own;
 *  - the url must start with one of the allowed prefixes (none given: any url);
 *  - a payload naming hosts, `identifiers` (newOrder) or `identifier` (newAuthz), must name
 *    only hosts matching one of the allowed globs (util/glob.h; none given: any host);
 *  - account changes are refused unless allowed: a keyChange (a payload that is itself a JWS,
 *    with protected, payload and signature), and a post to the account URL (the header's kid
 *    equals the url) whose payload has `status: deactivated` or a `contact`;
 *  - a payload that is neither empty (POST-as-GET) nor a JSON object cannot be checked and
 *    is refused. */
#ifndef ACMED_SIGNER_SIGNER_POLICY_H
#define ACMED_SIGNER_SIGNER_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "signer/signer_proto.h"
#include "util/err.h"

struct signer_policy {
    const char *alg;               /* the signer key's JWS alg */
    const char *const *url_prefix; /* allowed url prefixes; n_url 0: any */
    size_t n_url;
    const char *const *name_glob; /* allowed host globs; n_name 0: any */
    size_t n_name;
    bool account_change; /* keyChange, deactivation and contact updates allowed */
};

/* Returns 0 when p allows signing r, else -EPERM with e saying why (the offending url,
 * name or change, unsanitised: sanitise before logging). */
int signer_policy_check(const struct signer_policy *p, const struct signer_request *r,
                        struct err *e);

/* The hosts r's payload names, comma-separated, into out (size bytes, cut with "..." when it
 * does not fit), or "-" when it names none. Unsanitised. Returns out. */
char *signer_policy_identifiers(const struct signer_request *r, char *out, size_t size);

#endif
