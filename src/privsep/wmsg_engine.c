/* wmsg_engine: the keeper's validation and decoding of engine results. */
#include "privsep/wmsg_engine.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "privsep/wmsg.h"
#include "util/sanitize.h"

static int proto(struct err *e, const char *what)
{
    return err_set(e, -EPROTO, "the worker sent a bad %s", what);
}

static int oom(struct err *e)
{
    return err_set(e, -ENOMEM, "out of memory");
}

/* A copy of text field tag, index idx. A URL, token or name with a line break or tab in it is
 * refused (it would end up in a request line or a path); human text (a problem's detail) is
 * passed through util/sanitize.h instead, so that nothing the worker says forges a log line.
 * Returns 0 or negative. */
static int get_text(const struct ipc_msg *m, uint16_t tag, size_t idx, bool human, char **out,
                    struct err *e)
{
    if (!(*out = ipc_get_text(m, tag, idx)))
        return oom(e);
    if (human) {
        sanitize_into(*out, strlen(*out) + 1 < 4 ? 4 : strlen(*out) + 1, *out, strlen(*out));
        return 0;
    }
    if ((*out)[strcspn(*out, "\t\r\n")]) {
        free(*out);
        *out = NULL;
        return proto(e, "text field (a control character)");
    }
    return 0;
}

/* The first of text field tag (NULL when absent). Returns 0 or negative. */
static int get_opt(const struct ipc_msg *m, uint16_t tag, char **out, struct err *e)
{
    *out = NULL;
    return ipc_count(m, tag) ? get_text(m, tag, 0, false, out, e) : 0;
}

static int get_human(const struct ipc_msg *m, uint16_t tag, char **out, struct err *e)
{
    *out = NULL;
    return ipc_count(m, tag) ? get_text(m, tag, 0, true, out, e) : 0;
}

static int get_list(const struct ipc_msg *m, uint16_t tag, char ***out, size_t *n, struct err *e)
{
    size_t c = ipc_count(m, tag);

    *out = NULL;
    *n = 0;
    if (!c)
        return 0;
    if (!(*out = calloc(c, sizeof **out)))
        return oom(e);
    for (; *n < c; (*n)++) {
        int rc = get_text(m, tag, *n, false, &(*out)[*n], e);

        if (rc < 0)
            return rc;
    }
    return 0;
}

static int get_u64_max(const struct ipc_msg *m, uint16_t tag, uint64_t max, uint64_t *v,
                       const char *what, struct err *e)
{
    if (!ipc_get_u64(m, tag, 0, v) || *v > max)
        return proto(e, what);
    return 0;
}

static int get_time(const struct ipc_msg *m, uint16_t tag, time_t *t, const char *what,
                    struct err *e)
{
    uint64_t v;
    int rc = get_u64_max(m, tag, WMSG_O_TIME_MAX, &v, what, e);

    *t = (time_t)v;
    return rc;
}

int wmsg_get_ident(const struct ipc_msg *m, uint16_t tag, size_t idx, struct engine_identifier *out,
                   struct err *e)
{
    char *s;
    size_t skip;
    int rc;

    out->value = NULL;
    if ((rc = get_text(m, tag, idx, false, &s, e)) < 0)
        return rc;
    if (!strncmp(s, "dns:", 4))
        out->ip = false, skip = 4;
    else if (!strncmp(s, "ip:", 3))
        out->ip = true, skip = 3;
    else {
        free(s);
        return proto(e, "identifier");
    }
    memmove(s, s + skip, strlen(s + skip) + 1);
    if (!*s) {
        free(s);
        return proto(e, "identifier");
    }
    out->value = s;
    return 0;
}

/* Decodes nested field tag (index idx) as an object of type `type` into *in. */
static int nested(const struct ipc_msg *m, uint16_t tag, size_t idx, uint16_t type,
                  struct ipc_msg *in, struct err *e)
{
    const uint8_t *p;
    size_t n;
    int rc;

    if (!ipc_get_bytes(m, tag, idx, &p, &n))
        return proto(e, "object");
    if ((rc = ipc_decode(&wmsg_objects, p, n, in, e)) < 0) {
        err_wrap(e, "from the worker");
        return rc;
    }
    if (in->type != type)
        return proto(e, "object type");
    return 0;
}

static int get_problem(const struct ipc_msg *m, uint16_t tag, struct engine_problem **out,
                       struct err *e)
{
    struct ipc_msg in;
    struct engine_problem *p;
    uint64_t v;
    int rc;

    *out = NULL;
    if (!ipc_count(m, tag))
        return 0;
    if ((rc = nested(m, tag, 0, OBJ_PROBLEM, &in, e)) < 0)
        return rc;
    if (!(*out = p = calloc(1, sizeof *p)))
        return oom(e);
    if ((rc = get_u64_max(&in, O_STATUS, 999, &v, "problem status", e)) < 0)
        return rc;
    p->status = (int)v;
    if ((rc = get_opt(&in, O_TYPE, &p->type, e)) < 0 ||
        (rc = get_human(&in, O_DETAIL, &p->detail, e)) < 0 ||
        (rc = get_human(&in, O_TEXT, &p->text, e)) < 0)
        return rc;
    p->nsub_ids = 0;
    if (ipc_count(&in, O_SUBID) &&
        !(p->sub_ids = calloc(ipc_count(&in, O_SUBID), sizeof *p->sub_ids)))
        return oom(e);
    for (; p->nsub_ids < ipc_count(&in, O_SUBID); p->nsub_ids++)
        if ((rc = wmsg_get_ident(&in, O_SUBID, p->nsub_ids, &p->sub_ids[p->nsub_ids], e)) < 0)
            return rc;
    return 0;
}

static int get_account(const struct ipc_msg *m, struct engine_account **out, struct err *e)
{
    struct ipc_msg in;
    struct engine_account *a;
    uint64_t v;
    int rc;

    if ((rc = nested(m, WMSG_T_ACCOUNT, 0, OBJ_ACCOUNT, &in, e)) < 0)
        return rc;
    if (!(*out = a = calloc(1, sizeof *a)))
        return oom(e);
    if ((rc = get_u64_max(&in, O_STATUS, EACCOUNT_REVOKED, &v, "account status", e)) < 0)
        return rc;
    a->status = (enum engine_account_status)v;
    if ((rc = get_opt(&in, O_URL, &a->url, e)) < 0 ||
        (rc = get_list(&in, O_CONTACT, &a->contact, &a->ncontact, e)) < 0 ||
        (rc = get_opt(&in, O_ORDERS, &a->orders, e)) < 0)
        return rc;
    return 0;
}

static int get_order(const struct ipc_msg *m, struct engine_order **out, struct err *e)
{
    struct ipc_msg in;
    struct engine_order *o;
    uint64_t v;
    size_t nid;
    int rc;

    if ((rc = nested(m, WMSG_T_ORDER, 0, OBJ_ORDER, &in, e)) < 0)
        return rc;
    if (!(*out = o = calloc(1, sizeof *o)))
        return oom(e);
    if ((rc = get_u64_max(&in, O_STATUS, EORDER_INVALID, &v, "order status", e)) < 0 ||
        (rc = get_time(&in, O_EXPIRES, &o->expires, "order expiry", e)) < 0)
        return rc;
    o->status = (enum engine_order_status)v;
    if ((rc = get_opt(&in, O_URL, &o->url, e)) < 0 ||
        (rc = get_opt(&in, O_FINALIZE, &o->finalize, e)) < 0 ||
        (rc = get_opt(&in, O_CERT, &o->certificate, e)) < 0 ||
        (rc = get_list(&in, O_AUTHZ, &o->authorizations, &o->nauthorizations, e)) < 0 ||
        (rc = get_problem(&in, O_ERROR, &o->error, e)) < 0)
        return rc;
    if ((nid = ipc_count(&in, O_IDENT)) && !(o->identifiers = calloc(nid, sizeof *o->identifiers)))
        return oom(e);
    for (; o->nidentifiers < nid; o->nidentifiers++)
        if ((rc = wmsg_get_ident(&in, O_IDENT, o->nidentifiers, &o->identifiers[o->nidentifiers],
                                 e)) < 0)
            return rc;
    return 0;
}

static int get_challenge(const struct ipc_msg *m, size_t idx, struct engine_challenge *c,
                         struct err *e)
{
    struct ipc_msg in;
    uint64_t v;
    int rc;

    if ((rc = nested(m, O_CHALL, idx, OBJ_CHALLENGE, &in, e)) < 0)
        return rc;
    if ((rc = get_u64_max(&in, O_STATUS, ECHALL_INVALID, &v, "challenge status", e)) < 0)
        return rc;
    c->status = (enum engine_chall_status)v;
    if ((rc = get_opt(&in, O_TYPE, &c->type, e)) < 0 ||
        (rc = get_opt(&in, O_URL, &c->url, e)) < 0 ||
        (rc = get_opt(&in, O_TOKEN, &c->token, e)) < 0 ||
        (rc = get_problem(&in, O_ERROR, &c->error, e)) < 0)
        return rc;
    return 0;
}

static int get_authz(const struct ipc_msg *m, struct engine_authz **out, struct err *e)
{
    struct ipc_msg *in = malloc(sizeof *in); /* nested three deep: keep the stack small */
    struct engine_authz *a;
    uint64_t v, w;
    size_t nc;
    int rc;

    if (!in)
        return oom(e);
    if ((rc = nested(m, WMSG_T_AUTHZ, 0, OBJ_AUTHZ, in, e)) < 0)
        goto out;
    if (!(*out = a = calloc(1, sizeof *a))) {
        rc = oom(e);
        goto out;
    }
    if ((rc = get_u64_max(in, O_STATUS, EAUTHZ_REVOKED, &v, "authorization status", e)) < 0 ||
        (rc = get_u64_max(in, O_WILDCARD, 1, &w, "authorization", e)) < 0 ||
        (rc = get_time(in, O_EXPIRES, &a->expires, "authorization expiry", e)) < 0 ||
        (rc = wmsg_get_ident(in, O_IDENT, 0, &a->identifier, e)) < 0)
        goto out;
    a->status = (enum engine_authz_status)v;
    a->wildcard = w;
    if ((nc = ipc_count(in, O_CHALL)) && !(a->challenges = calloc(nc, sizeof *a->challenges))) {
        rc = oom(e);
        goto out;
    }
    for (; a->nchallenges < nc; a->nchallenges++)
        if ((rc = get_challenge(in, a->nchallenges, &a->challenges[a->nchallenges], e)) < 0) {
            a->nchallenges++; /* freed with the rest */
            goto out;
        }
out:
    free(in);
    return rc;
}

static int get_rinfo(const struct ipc_msg *m, struct engine_renewal_info **out, struct err *e)
{
    struct ipc_msg in;
    struct engine_renewal_info *ri;
    int rc;

    if ((rc = nested(m, WMSG_T_RINFO, 0, OBJ_RINFO, &in, e)) < 0)
        return rc;
    if (!(*out = ri = calloc(1, sizeof *ri)))
        return oom(e);
    if ((rc = get_time(&in, O_START, &ri->start, "renewal window", e)) < 0 ||
        (rc = get_time(&in, O_END, &ri->end, "renewal window", e)) < 0 ||
        (rc = get_opt(&in, O_EXPLANATION, &ri->explanation_url, e)) < 0)
        return rc;
    if (ri->end < ri->start)
        return proto(e, "renewal window (ends before it starts)");
    return 0;
}

int wmsg_get_directory(const struct ipc_msg *m, struct engine_directory **out, struct err *e)
{
    struct ipc_msg in;
    struct engine_directory *d;
    uint64_t v;
    int rc;

    *out = NULL;
    if (!ipc_count(m, WMSG_T_DIRDOC))
        return -ENOENT;
    if ((rc = nested(m, WMSG_T_DIRDOC, 0, OBJ_DIRECTORY, &in, e)) < 0)
        return rc;
    if (!(d = calloc(1, sizeof *d)))
        return oom(e);
    if ((rc = get_u64_max(&in, O_EAB, 1, &v, "directory", e)) < 0)
        goto fail;
    d->external_account_required = v;
    if ((rc = get_opt(&in, O_NEW_ACCOUNT, &d->new_account, e)) < 0 ||
        (rc = get_opt(&in, O_NEW_ORDER, &d->new_order, e)) < 0 ||
        (rc = get_opt(&in, O_REVOKE, &d->revoke_cert, e)) < 0 ||
        (rc = get_opt(&in, O_KEY_CHANGE, &d->key_change, e)) < 0 ||
        (rc = get_opt(&in, O_NEW_AUTHZ, &d->new_authz, e)) < 0 ||
        (rc = get_opt(&in, O_RENEWAL, &d->renewal_info, e)) < 0 ||
        (rc = get_opt(&in, O_TOS, &d->terms_of_service, e)) < 0 ||
        (rc = get_opt(&in, O_WEBSITE, &d->website, e)) < 0 ||
        (rc = get_list(&in, O_CAA, &d->caa_identities, &d->ncaa_identities, e)) < 0 ||
        (rc = get_list(&in, O_PROFILE, &d->profiles, &d->nprofiles, e)) < 0)
        goto fail;
    *out = d;
    return 0;
fail:
    engine_directory_free(d);
    return rc;
}

int wmsg_get_result(const struct ipc_msg *m, int *rc, struct err *why, struct engine_result *r,
                    struct err *e)
{
    uint64_t v;
    int objects = !!ipc_count(m, WMSG_T_ACCOUNT) + !!ipc_count(m, WMSG_T_ORDER) +
                  !!ipc_count(m, WMSG_T_AUTHZ) + !!ipc_count(m, WMSG_T_RINFO) +
                  !!ipc_count(m, WMSG_T_CERT) + !!ipc_count(m, WMSG_T_BODY);
    int x = 0;

    memset(r, 0, sizeof *r);
    r->retry_after = -1;
    *rc = 0;
    if (!ipc_get_u64(m, WMSG_T_RC, 0, &v) || v > 4095)
        return proto(e, "result code");
    *rc = -(int)v;
    if (*rc < 0) {
        char *msg = NULL;

        get_human(m, WMSG_T_ERROR, &msg, e);
        err_set(why, *rc, "%s", msg ? msg : "the worker's operation failed");
        free(msg);
    }
    if (objects > 1)
        return proto(e, "result (more than one object)");
    if (ipc_get_u64(m, WMSG_T_STATUS, 0, &v)) {
        if (v > 999)
            return proto(e, "HTTP status");
        r->status = (long)v;
    }
    if (ipc_get_u64(m, WMSG_T_RETRY, 0, &v)) {
        if (v > WMSG_O_TIME_MAX)
            return proto(e, "Retry-After");
        r->retry_after = (time_t)v;
    }
    if ((x = get_problem(m, WMSG_T_PROBLEM, &r->problem, e)) < 0 ||
        (x = get_opt(m, WMSG_T_LOCATION, &r->location, e)) < 0)
        goto fail;
    if (ipc_count(m, WMSG_T_ACCOUNT))
        x = get_account(m, &r->account, e);
    else if (ipc_count(m, WMSG_T_ORDER))
        x = get_order(m, &r->order, e);
    else if (ipc_count(m, WMSG_T_AUTHZ))
        x = get_authz(m, &r->authz, e);
    else if (ipc_count(m, WMSG_T_RINFO))
        x = get_rinfo(m, &r->renewal_info, e);
    else if (ipc_count(m, WMSG_T_BODY)) {
        const uint8_t *p;
        size_t n;

        ipc_get_bytes(m, WMSG_T_BODY, 0, &p, &n);
        if (!(r->body = malloc(n + 1)))
            x = oom(e);
        else {
            memcpy(r->body, p, n);
            r->body[n] = '\0';
            r->body_len = n;
        }
    } else if (ipc_count(m, WMSG_T_CERT)) {
        const uint8_t *p;
        size_t n;

        ipc_get_bytes(m, WMSG_T_CERT, 0, &p, &n);
        if (!(r->cert_pem = malloc(n + 1)))
            x = oom(e);
        else {
            memcpy(r->cert_pem, p, n);
            r->cert_pem[n] = '\0';
            r->cert_len = n;
        }
    }
    if (x == 0)
        return 0;
fail:
    engine_result_clear(r);
    return x;
}
