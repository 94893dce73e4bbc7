/* ari: ACME Renewal Information (RFC 9773): the renewalInfo response. The certificate
 * identifier is an X.509 fact (x509_ari_cert_id in crypto/x509.h); the choice of a renewal
 * time inside the suggested window is renewal policy (policy_ari_pick in
 * reconcile/policy.h). */
#ifndef ACMED_ACME_ARI_H
#define ACMED_ACME_ARI_H

#include <stddef.h>
#include <time.h>

#include "util/err.h"

struct acme_renewal_info {
    time_t start;          /* suggestedWindow.start */
    time_t end;            /* suggestedWindow.end, always > start */
    char *explanation_url; /* NULL when absent; owned, released by acme_renewal_info_clear */
};

/* Parses a renewalInfo response body. A missing or malformed suggestedWindow, or one whose
 * end is not after its start, gives -EINVAL with e set (callers treat it as no answer);
 * -ENOMEM on allocation failure. On failure *out is left zeroed. An explanationURL that is
 * not a string holding a plausible URL is ignored (explanation_url stays NULL). */
int acme_renewal_info_parse(const char *text, size_t len, struct acme_renewal_info *out,
                            struct err *e);

/* Releases what acme_renewal_info_parse stored in *ri and zeroes it. ri may be NULL. */
void acme_renewal_info_clear(struct acme_renewal_info *ri);

#endif
