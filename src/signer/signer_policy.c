/* signer_policy: the checks of `acmed signer` on a decoded request (see the header). */
#include "signer/signer_policy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "util/glob.h"

static bool url_allowed(const struct signer_policy *p, const char *url)
{
    if (p->n_url == 0)
        return true;
    for (size_t i = 0; i < p->n_url; i++) {
        if (!strncmp(url, p->url_prefix[i], strlen(p->url_prefix[i])))
            return true;
    }
    return false;
}

static bool name_allowed(const struct signer_policy *p, const char *name)
{
    if (p->n_name == 0)
        return true;
    for (size_t i = 0; i < p->n_name; i++) {
        if (glob_match(p->name_glob[i], name))
            return true;
    }
    return false;
}

/* The value of one identifier object {type, value}, or NULL when it is malformed. */
static const char *identifier_value(json_t *id)
{
    json_t *v = json_object_get(id, "value");

    if (!json_is_object(id) || !json_is_string(json_object_get(id, "type")) || !json_is_string(v))
        return NULL;
    /* A NUL inside the value would hide the rest of it from the glob. */
    if (strlen(json_string_value(v)) != json_string_length(v))
        return NULL;
    return json_string_value(v);
}

/* Checks every host the payload names. */
static int check_identifiers(const struct signer_policy *p, json_t *payload, struct err *e)
{
    json_t *ids = json_object_get(payload, "identifiers"),
           *one = json_object_get(payload, "identifier");
    const char *v;
    size_t i;
    json_t *id;

    if (ids && !json_is_array(ids))
        return err_set(e, -EPERM, "\"identifiers\" is not an array");
    json_array_foreach(ids, i, id)
    {
        if (!(v = identifier_value(id)))
            return err_set(e, -EPERM, "identifier %zu is malformed", i);
        if (!name_allowed(p, v))
            return err_set(e, -EPERM, "%s is not an allowed name", v);
    }
    if (one) {
        if (!(v = identifier_value(one)))
            return err_set(e, -EPERM, "\"identifier\" is malformed");
        if (!name_allowed(p, v))
            return err_set(e, -EPERM, "%s is not an allowed name", v);
    }
    return 0;
}

/* A keyChange's payload is the inner JWS (RFC 8555 §7.3.5). */
static bool is_jws(json_t *payload)
{
    return json_object_get(payload, "protected") && json_object_get(payload, "payload") &&
           json_object_get(payload, "signature");
}

static int check_account_change(const struct signer_policy *p, const struct signer_request *r,
                                struct err *e)
{
    json_t *status = json_object_get(r->payload_json, "status");

    if (p->account_change)
        return 0;
    if (is_jws(r->payload_json))
        return err_set(e, -EPERM, "a key change (keyChange) needs --allow-account-change");
    if (r->kid && !strcmp(r->kid, r->url)) {
        if (json_is_string(status) && !strcmp(json_string_value(status), "deactivated"))
            return err_set(e, -EPERM, "deactivating the account needs --allow-account-change");
        if (json_object_get(r->payload_json, "contact"))
            return err_set(e, -EPERM,
                           "changing the account's contact needs "
                           "--allow-account-change");
    }
    return 0;
}

int signer_policy_check(const struct signer_policy *p, const struct signer_request *r,
                        struct err *e)
{
    int rc;

    if (p->alg && strcmp(r->alg, p->alg) != 0)
        return err_set(e, -EPERM, "alg %s, this signer's key is %s", r->alg, p->alg);
    if (!url_allowed(p, r->url))
        return err_set(e, -EPERM, "url %s is not allowed", r->url);
    if (r->payload_len == 0)
        return 0;
    if (!json_is_object(r->payload_json))
        return err_set(e, -EPERM, "the payload is not a JSON object");
    if ((rc = check_identifiers(p, r->payload_json, e)) < 0)
        return rc;
    return check_account_change(p, r, e);
}

/* Appends s to out (at *n of size bytes), marking a cut with "...". */
static void append(char *out, size_t size, size_t *n, const char *s)
{
    int w;

    if (*n + 1 >= size)
        return;
    w = snprintf(out + *n, size - *n, "%s%s", *n ? "," : "", s);
    if (w < 0 || (size_t)w >= size - *n) {
        if (size >= 4)
            memcpy(out + size - 4, "...", 4);
        *n = size;
        return;
    }
    *n += (size_t)w;
}

char *signer_policy_identifiers(const struct signer_request *r, char *out, size_t size)
{
    json_t *ids = json_object_get(r->payload_json, "identifiers");
    json_t *one = json_object_get(r->payload_json, "identifier");
    const char *v;
    size_t n = 0, i;
    json_t *id;

    if (size == 0)
        return out;
    out[0] = '\0';
    if (json_is_array(ids)) {
        json_array_foreach(ids, i, id)
        {
            if ((v = identifier_value(id)))
                append(out, size, &n, v);
        }
    }
    if ((v = identifier_value(one)))
        append(out, size, &n, v);
    if (n == 0)
        snprintf(out, size, "-");
    return out;
}
