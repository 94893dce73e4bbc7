/* keeper_sign: decode, check against the operations in flight, sign. */
#include "privsep/keeper_sign.h"

#include <errno.h>
#include <stdbool.h>

#include "signer/signer_proto.h"
#include "util/log.h"

int keeper_sign_start(const struct keeper_grant *grants, size_t n, const char *input, size_t len,
                      signer_cb cb, void *arg, struct err *e)
{
    struct signer_request r;
    struct err why = {0}, ge;
    const struct keeper_grant *allowed = NULL;
    bool have_why = false, why_is_read = false;
    int rc;

    if ((rc = signer_proto_request_parse(input, len, &r, e)) < 0) {
        err_wrap(e, "the worker asked for a signature of a malformed request");
        log_warn("%s", err_msg(e));
        return rc;
    }
    /* The reason given is the first refusal by an operation that writes: a read's "it has a
     * payload" says nothing useful when an order was what the request came closest to. */
    for (size_t i = 0; i < n && !allowed; i++) {
        if (sign_guard_check(grants[i].guard, &r, &ge) == 0)
            allowed = &grants[i];
        else if (!have_why || (why_is_read && grants[i].guard->op != SIGN_GUARD_POST_AS_GET)) {
            why = ge;
            why_is_read = grants[i].guard->op == SIGN_GUARD_POST_AS_GET;
            have_why = true;
        }
    }
    if (!allowed) {
        rc = n ? err_set(e, -EPERM, "%s (url %s)", err_msg(&why), r.url ? r.url : "?")
               : err_set(e, -EPERM,
                         "refusing to sign for the worker: no operation is in flight (url %s)",
                         r.url ? r.url : "?");
        log_warn("%s", err_msg(e));
        signer_request_clear(&r);
        return rc;
    }
    signer_request_clear(&r);
    return signer_sign(allowed->signer, (const uint8_t *)input, len, cb, arg, e);
}
