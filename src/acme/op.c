/* op: the shared tail of every ACME operation: run the request, parse the answer. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acme/op_internal.h"
#include "acme/objects.h"
#include "acme/url.h"

struct op {
    enum acme_op_kind kind;
    bool https_only; /* the client's directory is https: so must every URL it returns be */
    char *url;
    acme_cb cb;
    void *arg;
};

/* Parses the body of a successful response into the member of r that `kind` names. */
static int parse_into(enum acme_op_kind kind, struct acme_result *r, struct err *e)
{
    const char *body = r->http->body;
    size_t len = r->http->body_len;

    switch (kind) {
    case OP_ACCOUNT:
        return acme_account_parse(body, len, &r->account, e);
    case OP_ORDER:
        return acme_order_parse(body, len, &r->order, e);
    case OP_AUTHZ:
        return acme_authz_parse(body, len, &r->authz, e);
    case OP_CHALLENGE:
        return acme_challenge_parse(body, len, &r->challenge, e);
    case OP_RAW:
        break;
    }
    return 0;
}

static int order_urls_check(const struct acme_order *o, bool https_only, struct err *e)
{
    int rc;

    for (size_t i = 0; i < o->nauthorizations; i++)
        if ((rc = acme_url_check(o->authorizations[i], https_only, "order authorization", e)) < 0)
            return rc;
    if ((rc = acme_url_check(o->finalize, https_only, "order finalize", e)) < 0 ||
        (rc = acme_url_check(o->certificate, https_only, "order certificate", e)) < 0)
        return rc;
    return 0;
}

int acme_result_urls_check(const struct acme_result *r, bool https_only, struct err *e)
{
    int rc;

    if ((rc = acme_url_check(r->location, https_only, "Location", e)) < 0)
        return rc;
    if (r->account &&
        (rc = acme_url_check(r->account->orders, https_only, "account orders", e)) < 0)
        return rc;
    if (r->order && (rc = order_urls_check(r->order, https_only, e)) < 0)
        return rc;
    for (size_t i = 0; r->authz && i < r->authz->nchallenges; i++)
        if ((rc = acme_url_check(r->authz->challenges[i].url, https_only, "challenge", e)) < 0)
            return rc;
    if (r->challenge && (rc = acme_url_check(r->challenge->url, https_only, "challenge", e)) < 0)
        return rc;
    return 0;
}

static void op_done(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct op *o = arg;
    struct err pe;

    err_clear(&pe);
    if (rc == 0 && o->kind != OP_RAW) {
        if (!r->http || parse_into(o->kind, r, &pe) < 0 ||
            acme_result_urls_check(r, o->https_only, &pe) < 0) {
            rc = -EPROTO;
            if (!r->http)
                err_set(&pe, rc, "%s: no response body", o->url);
            else
                err_wrap(&pe, "%s", o->url);
            pe.code = rc;
            e = &pe;
        }
    }
    o->cb(o->arg, rc, r, e);
    free(o->url);
    free(o);
}

int acme_op_start(struct acme_client *c, const struct acme_call *call, enum acme_op_kind kind,
                  acme_cb cb, void *arg, struct err *e)
{
    struct op *o = calloc(1, sizeof *o);
    int rc;

    if (!o || !(o->url = strdup(call->url))) {
        free(o);
        return err_set(e, -ENOMEM, "out of memory");
    }
    o->kind = kind;
    o->https_only = acme_client_https_only(c);
    o->cb = cb;
    o->arg = arg;
    rc = acme_call(c, call, op_done, o, e);
    if (rc < 0) {
        free(o->url);
        free(o);
    }
    return rc;
}

char *acme_json_text(json_t *v, struct err *e)
{
    char *s = json_dumps(v, JSON_COMPACT);

    if (!s)
        err_set(e, -ENOMEM, "cannot serialise JSON");
    return s;
}

int acme_op_post(struct acme_client *c, const char *url, json_t *payload, enum acme_op_kind kind,
                 acme_cb cb, void *arg, struct err *e)
{
    struct acme_call call = {.method = "POST", .url = url, .auth = ACME_AUTH_KID};
    char *text = NULL;
    int rc;

    if (!url)
        return err_set(e, -EINVAL, "no URL for this request");
    if (payload && !(text = acme_json_text(payload, e)))
        return -ENOMEM;
    call.payload = text ? text : "";
    rc = acme_op_start(c, &call, kind, cb, arg, e);
    free(text);
    return rc;
}
