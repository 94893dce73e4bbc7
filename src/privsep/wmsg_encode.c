/* wmsg_encode: the worker's outcome of engine operations, within the channel's bounds. */
#include "privsep/wmsg_encode.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "privsep/wmsg.h"

static void fail(struct ipc_out *o, int rc)
{
    if (o->rc == 0)
        o->rc = rc;
}

/* Length of the longest prefix of s within max bytes that ends on a character boundary. */
static size_t cut(const char *s, size_t max)
{
    size_t n = strlen(s);

    if (n <= max)
        return n;
    while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
        max--;
    return max;
}

void wmsg_put_text_max(struct ipc_out *o, uint16_t tag, const char *s, size_t max)
{
    size_t n;
    char *c;

    if (!s)
        return;
    n = cut(s, max);
    if (!(c = malloc(n + 1))) {
        fail(o, -ENOMEM);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];

        c[i] = (ch < 0x20 && ch != '\t' && ch != '\r' && ch != '\n') || ch == 0x7f ? '?' : s[i];
    }
    c[n] = '\0';
    ipc_put_text(o, tag, c);
    free(c);
}

/* Text that must arrive whole (a URL, a token): too long for its field fails the message. */
static void put_exact(struct ipc_out *o, uint16_t tag, const char *s, size_t max)
{
    if (s && strlen(s) > max)
        fail(o, -E2BIG);
    else
        wmsg_put_text_max(o, tag, s, max);
}

static void put_time(struct ipc_out *o, uint16_t tag, time_t t)
{
    ipc_put_u64(o, tag, t > 0 && (uint64_t)t <= WMSG_O_TIME_MAX ? (uint64_t)t : 0);
}

void wmsg_put_ident(struct ipc_out *o, uint16_t tag, const struct engine_identifier *id)
{
    char s[WMSG_O_IDENT_MAX + 1];
    size_t n = id->value ? strlen(id->value) : 0;

    if (n > WMSG_O_IDENT_MAX - 4) {
        fail(o, -E2BIG);
        return;
    }
    memcpy(s, id->ip ? "ip:" : "dns:", id->ip ? 4 : 5);
    memcpy(s + strlen(s), id->value ? id->value : "", n + 1);
    wmsg_put_text_max(o, tag, s, WMSG_O_IDENT_MAX);
}

/* Closes the nested frame `in` and appends it to o as tag. */
static void put_nested(struct ipc_out *o, uint16_t tag, struct ipc_out *in)
{
    struct err e;

    if (in->rc < 0) {
        fail(o, in->rc);
        buf_clear(&in->b);
        return;
    }
    if (ipc_out_end(in, &e) < 0) {
        fail(o, e.code);
        return;
    }
    if (in->b.len > WMSG_OBJECT_MAX)
        fail(o, -E2BIG);
    else
        ipc_put_bytes(o, tag, in->b.data, in->b.len);
    buf_clear(&in->b);
}

static void put_list(struct ipc_out *o, uint16_t tag, char *const *v, size_t n, size_t maxn,
                     size_t max)
{
    if (n > maxn) {
        fail(o, -E2BIG);
        return;
    }
    for (size_t i = 0; i < n; i++)
        put_exact(o, tag, v[i], max);
}

static void put_problem(struct ipc_out *o, uint16_t tag, const struct engine_problem *p)
{
    struct ipc_out in;

    if (!p)
        return;
    ipc_out_begin(&in, OBJ_PROBLEM);
    wmsg_put_text_max(&in, O_TYPE, p->type ? p->type : "about:blank", WMSG_O_TYPE_MAX);
    wmsg_put_text_max(&in, O_DETAIL, p->detail, WMSG_O_DETAIL_MAX);
    wmsg_put_text_max(&in, O_TEXT, p->text ? p->text : "", WMSG_O_PTEXT_MAX);
    ipc_put_u64(&in, O_STATUS, p->status > 0 && p->status < 1000 ? (uint64_t)p->status : 0);
    for (size_t i = 0; i < p->nsub_ids && i < WMSG_NAMES_MAX; i++)
        wmsg_put_ident(&in, O_SUBID, &p->sub_ids[i]);
    put_nested(o, tag, &in);
}

static void put_account(struct ipc_out *o, const struct engine_account *a)
{
    struct ipc_out in;

    ipc_out_begin(&in, OBJ_ACCOUNT);
    ipc_put_u64(&in, O_STATUS, (uint64_t)a->status);
    put_exact(&in, O_URL, a->url, WMSG_URL_MAX);
    put_list(&in, O_CONTACT, a->contact, a->ncontact, WMSG_LIST_MAX, WMSG_O_CONTACT_MAX);
    put_exact(&in, O_ORDERS, a->orders, WMSG_URL_MAX);
    put_nested(o, WMSG_T_ACCOUNT, &in);
}

static void put_order(struct ipc_out *o, const struct engine_order *a)
{
    struct ipc_out in;

    ipc_out_begin(&in, OBJ_ORDER);
    ipc_put_u64(&in, O_STATUS, (uint64_t)a->status);
    put_exact(&in, O_URL, a->url, WMSG_URL_MAX);
    put_exact(&in, O_FINALIZE, a->finalize, WMSG_URL_MAX);
    put_exact(&in, O_CERT, a->certificate, WMSG_URL_MAX);
    put_time(&in, O_EXPIRES, a->expires);
    if (a->nidentifiers > WMSG_NAMES_MAX)
        fail(&in, -E2BIG);
    for (size_t i = 0; i < a->nidentifiers && i < WMSG_NAMES_MAX; i++)
        wmsg_put_ident(&in, O_IDENT, &a->identifiers[i]);
    put_list(&in, O_AUTHZ, a->authorizations, a->nauthorizations, WMSG_NAMES_MAX, WMSG_URL_MAX);
    put_problem(&in, O_ERROR, a->error);
    put_nested(o, WMSG_T_ORDER, &in);
}

static void put_authz(struct ipc_out *o, const struct engine_authz *a)
{
    struct ipc_out in;

    ipc_out_begin(&in, OBJ_AUTHZ);
    ipc_put_u64(&in, O_STATUS, (uint64_t)a->status);
    wmsg_put_ident(&in, O_IDENT, &a->identifier);
    ipc_put_u64(&in, O_WILDCARD, a->wildcard);
    put_time(&in, O_EXPIRES, a->expires);
    if (a->nchallenges > WMSG_LIST_MAX)
        fail(&in, -E2BIG);
    for (size_t i = 0; i < a->nchallenges && i < WMSG_LIST_MAX; i++) {
        const struct engine_challenge *c = &a->challenges[i];
        struct ipc_out ci;

        ipc_out_begin(&ci, OBJ_CHALLENGE);
        put_exact(&ci, O_TYPE, c->type ? c->type : "", WMSG_O_TYPE_MAX);
        put_exact(&ci, O_URL, c->url ? c->url : "", WMSG_URL_MAX);
        put_exact(&ci, O_TOKEN, c->token, WMSG_O_TOKEN_MAX);
        ipc_put_u64(&ci, O_STATUS, (uint64_t)c->status);
        put_problem(&ci, O_ERROR, c->error);
        put_nested(&in, O_CHALL, &ci);
    }
    put_nested(o, WMSG_T_AUTHZ, &in);
}

static void put_rinfo(struct ipc_out *o, const struct engine_renewal_info *ri)
{
    struct ipc_out in;

    ipc_out_begin(&in, OBJ_RINFO);
    put_time(&in, O_START, ri->start);
    put_time(&in, O_END, ri->end);
    put_exact(&in, O_EXPLANATION, ri->explanation_url, WMSG_URL_MAX);
    put_nested(o, WMSG_T_RINFO, &in);
}

void wmsg_put_directory(struct ipc_out *o, const struct engine_directory *d)
{
    struct ipc_out in;

    ipc_out_begin(&in, OBJ_DIRECTORY);
    put_exact(&in, O_NEW_ACCOUNT, d->new_account ? d->new_account : "", WMSG_URL_MAX);
    put_exact(&in, O_NEW_ORDER, d->new_order ? d->new_order : "", WMSG_URL_MAX);
    put_exact(&in, O_REVOKE, d->revoke_cert, WMSG_URL_MAX);
    put_exact(&in, O_KEY_CHANGE, d->key_change, WMSG_URL_MAX);
    put_exact(&in, O_NEW_AUTHZ, d->new_authz, WMSG_URL_MAX);
    put_exact(&in, O_RENEWAL, d->renewal_info, WMSG_URL_MAX);
    put_exact(&in, O_TOS, d->terms_of_service, WMSG_URL_MAX);
    put_exact(&in, O_WEBSITE, d->website, WMSG_URL_MAX);
    put_list(&in, O_CAA, d->caa_identities, d->ncaa_identities, WMSG_LIST_MAX, WMSG_O_TOKEN_MAX);
    ipc_put_u64(&in, O_EAB, d->external_account_required);
    put_list(&in, O_PROFILE, d->profiles, d->nprofiles, WMSG_LIST_MAX, WMSG_O_NAME_MAX);
    put_nested(o, WMSG_T_DIRDOC, &in);
}

void wmsg_put_result(struct ipc_out *o, int rc, const struct engine_result *r, const struct err *e)
{
    ipc_put_u64(o, WMSG_T_RC, rc < 0 ? (uint64_t)-rc : 0);
    if (rc < 0)
        wmsg_put_text_max(o, WMSG_T_ERROR, e ? err_msg(e) : "failed", WMSG_ERROR_MAX);
    if (!r)
        return;
    if (r->status > 0 && r->status < 1000)
        ipc_put_u64(o, WMSG_T_STATUS, (uint64_t)r->status);
    if (r->retry_after >= 0)
        ipc_put_u64(o, WMSG_T_RETRY,
                    (uint64_t)r->retry_after < WMSG_O_TIME_MAX ? (uint64_t)r->retry_after
                                                               : WMSG_O_TIME_MAX);
    put_problem(o, WMSG_T_PROBLEM, r->problem);
    put_exact(o, WMSG_T_LOCATION, r->location, WMSG_URL_MAX);
    if (r->account)
        put_account(o, r->account);
    else if (r->order)
        put_order(o, r->order);
    else if (r->authz)
        put_authz(o, r->authz);
    else if (r->renewal_info)
        put_rinfo(o, r->renewal_info);
    else if (r->body) {
        ipc_put_bytes(o, WMSG_T_BODY, r->body,
                      r->body_len < ENGINE_FETCH_MAX ? r->body_len : ENGINE_FETCH_MAX);
    } else if (r->cert_pem) {
        if (r->cert_len > WMSG_CHAIN_MAX)
            fail(o, -E2BIG);
        else
            ipc_put_bytes(o, WMSG_T_CERT, r->cert_pem, r->cert_len);
    }
}
