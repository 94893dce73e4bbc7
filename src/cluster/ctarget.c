/* ctarget: desired targets as fleet mode shares them (see ctarget.h). */
#include "cluster/ctarget.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/desired.h"
#include "util/buf.h"

static const char *const challenge_types[] = {"http-01", "tls-alpn-01", "dns-01"};

bool ctarget_file_ok(const char *file)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._@+-";
    size_t n = file ? strlen(file) : 0;

    return n >= 1 && n <= CTARGET_FILE_MAX && file[0] != '.' && strspn(file, ok) == n;
}

/* A name as it may appear in the YAML built from it: what names.h accepts before
 * normalising (letters, digits, '-', '.', a leading "*." for a wildcard, ':' of an IPv6
 * address), at most 253 bytes. The schema then validates it fully. */
static bool name_chars_ok(const char *s)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789.-:*";
    size_t n = strlen(s);

    return n >= 1 && n <= 253 && strspn(s, ok) == n;
}

/* ---- encoding ---- */

static json_t *names_json(const struct target_name *v, size_t n)
{
    json_t *a = json_array();

    for (size_t i = 0; a && i < n; i++)
        if (json_array_append_new(a, json_string(v[i].name)) < 0) {
            json_decref(a);
            return NULL;
        }
    return a;
}

static bool same_names(const struct target *t)
{
    if (t->nnames != t->nreq_names)
        return false;
    for (size_t i = 0; i < t->nnames; i++)
        if (strcmp(t->names[i].name, t->req_names[i].name))
            return false;
    return true;
}

int ctarget_encode(const struct target *t, char **out, size_t *len, struct err *e)
{
    const char *local = t->csr                             ? "request.csr"
                        : t->key_id                        ? "request.key.id"
                        : t->signer_unix || t->signer_exec ? "request.account.signer"
                        : t->provider && !strncmp(t->provider, "mgmt+", 5) ? "request.provider"
                                                                           : NULL;
    json_t *o, *key, *ch;
    char *s;

    *out = NULL;
    if (local)
        return err_set(e, -EINVAL, "%s: %s is this node's alone: the target cannot be shared",
                       t->file, local);
    if (!(o = json_object()) || !(ch = json_array()) || !(key = json_object())) {
        json_decref(o);
        return err_set(e, -ENOMEM, "out of memory");
    }
    json_object_set_new(o, "v", json_integer(1));
    json_object_set_new(o, "names", names_json(t->names, t->nnames));
    if (!same_names(t))
        json_object_set_new(o, "request-names", names_json(t->req_names, t->nreq_names));
    if (t->key.type == KEY_RSA) {
        json_object_set_new(key, "type", json_string("rsa"));
        json_object_set_new(key, "bits", json_integer(t->key.size));
    } else {
        json_object_set_new(key, "type", json_string("ecdsa"));
        json_object_set_new(key, "curve",
                            json_string(t->key.size == 384   ? "nistp384"
                                        : t->key.size == 521 ? "nistp521"
                                                             : "nistp256"));
    }
    json_object_set_new(o, "key", key);
    if (t->profile)
        json_object_set_new(o, "profile", json_string(t->profile));
    for (size_t i = 0; i < t->nchallenge_types; i++)
        json_array_append_new(ch, json_string(t->challenge_types[i]));
    json_object_set_new(o, "challenge", ch);
    s = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS);
    json_decref(o);
    if (!s)
        return err_set(e, -ENOMEM, "out of memory");
    *out = s;
    *len = strlen(s);
    return 0;
}

/* ---- decoding ---- */

/* names (a non-empty array of strings passing name_chars_ok) as a YAML flow list. */
static int yaml_names(const char *file, const char *field, json_t *a, struct buf *b, struct err *e)
{
    size_t i;
    json_t *v;

    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > CTARGET_NAMES_MAX)
        return err_set(e, -EINVAL, "target %s: %s: expected 1 to %d names", file, field,
                       CTARGET_NAMES_MAX);
    buf_puts(b, "[");
    json_array_foreach(a, i, v)
    {
        if (!json_is_string(v) || !name_chars_ok(json_string_value(v)))
            return err_set(e, -EINVAL, "target %s: %s[%zu]: not a host name or IP address", file,
                           field, i);
        buf_printf(b, "%s\"%s\"", i ? ", " : "", json_string_value(v));
    }
    return buf_puts(b, "]\n");
}

static int yaml_key(const char *file, json_t *k, struct buf *b, struct err *e)
{
    const char *type = json_string_value(json_object_get(k, "type"));
    json_t *curve = json_object_get(k, "curve"), *bits = json_object_get(k, "bits");

    if (!json_is_object(k) || !type || json_object_size(k) != 2)
        return err_set(e, -EINVAL, "target %s: key: expected {type, curve} or {type, bits}", file);
    if (!strcmp(type, "ecdsa") && json_is_string(curve)) {
        const char *c = json_string_value(curve);

        if (strcmp(c, "nistp256") && strcmp(c, "nistp384") && strcmp(c, "nistp521"))
            return err_set(e, -EINVAL, "target %s: key.curve: not a curve acmed uses", file);
        return buf_printf(b, "  key: {type: ecdsa, ecdsa-curve: %s}\n", c);
    }
    if (!strcmp(type, "rsa") && json_is_integer(bits) && json_integer_value(bits) >= 2048 &&
        json_integer_value(bits) <= 4096)
        return buf_printf(b, "  key: {type: rsa, rsa-size: %lld}\n",
                          (long long)json_integer_value(bits));
    return err_set(e, -EINVAL, "target %s: key: expected ecdsa with a curve or rsa with bits",
                   file);
}

static int yaml_challenge(const char *file, json_t *a, struct buf *b, struct err *e)
{
    unsigned seen = 0;
    size_t i;
    json_t *v;

    if (!json_is_array(a) || json_array_size(a) == 0 || json_array_size(a) > 3)
        return err_set(e, -EINVAL, "target %s: challenge: expected 1 to 3 challenge types", file);
    buf_puts(b, "  challenge: {type: [");
    json_array_foreach(a, i, v)
    {
        size_t k = 0;

        while (k < 3 && !(json_is_string(v) && !strcmp(json_string_value(v), challenge_types[k])))
            k++;
        if (k == 3 || (seen & (1u << k)))
            return err_set(e, -EINVAL, "target %s: challenge[%zu]: not a challenge type, or twice",
                           file, i);
        seen |= 1u << k;
        buf_printf(b, "%s%s", i ? ", " : "", challenge_types[k]);
    }
    return buf_puts(b, "]}\n");
}

/* The fields ctarget_encode writes, and nothing else. */
static int check_fields(const char *file, json_t *o, struct err *e)
{
    static const char *const known[] = {"v",         "names", "request-names", "key", "profile",
                                        "challenge", NULL};
    const char *k;
    json_t *v;

    if (!json_is_object(o))
        return err_set(e, -EINVAL, "target %s: expected a JSON object", file);
    json_object_foreach(o, k, v)
    {
        size_t i = 0;

        while (known[i] && strcmp(known[i], k))
            i++;
        if (!known[i])
            return err_set(e, -EINVAL, "target %s: unknown field (not shared between nodes)", file);
    }
    if (!json_is_integer(json_object_get(o, "v")) ||
        json_integer_value(json_object_get(o, "v")) != 1)
        return err_set(e, -EINVAL, "target %s: not a version 1 target", file);
    return 0;
}

static int to_yaml(const char *file, json_t *o, struct buf *b, struct err *e)
{
    json_t *rn = json_object_get(o, "request-names"), *p = json_object_get(o, "profile");
    int rc;

    if ((rc = check_fields(file, o, e)) < 0)
        return rc;
    buf_puts(b, "satisfy:\n  names: ");
    if ((rc = yaml_names(file, "names", json_object_get(o, "names"), b, e)) < 0)
        return rc;
    buf_puts(b, "request:\n");
    if (rn) {
        buf_puts(b, "  names: ");
        if ((rc = yaml_names(file, "request-names", rn, b, e)) < 0)
            return rc;
    }
    if ((rc = yaml_key(file, json_object_get(o, "key"), b, e)) < 0)
        return rc;
    if (p) {
        static const char ok[] =
            "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789._-";
        const char *s = json_string_value(p);

        if (!s || !*s || strlen(s) > 64 || strspn(s, ok) != strlen(s))
            return err_set(e, -EINVAL, "target %s: profile: expected 1 to 64 of [A-Za-z0-9._-]",
                           file);
        buf_printf(b, "  profile: \"%s\"\n", s);
    }
    return yaml_challenge(file, json_object_get(o, "challenge"), b, e);
}

int ctarget_decode(const char *file, const char *json, size_t len, const char *defaults,
                   size_t defaults_len, struct target *out, struct err *e)
{
    struct buf b = {0};
    json_error_t je;
    json_t *o;
    int rc;

    memset(out, 0, sizeof *out);
    if (!ctarget_file_ok(file))
        return err_set(e, -EINVAL, "a target in etcd with a name that cannot be a file name");
    if (len > CTARGET_MAX)
        return err_set(e, -EINVAL, "target %s: larger than %d bytes", file, CTARGET_MAX);
    if (!(o = json_loadb(json, len, JSON_REJECT_DUPLICATES, &je)))
        return err_set(e, -EINVAL, "target %s: not JSON (line %d)", file, je.line);
    rc = to_yaml(file, o, &b, e);
    json_decref(o);
    if (rc == 0 && b.len == 0)
        rc = err_set(e, -ENOMEM, "out of memory");
    if (rc == 0 &&
        (rc = desired_parse(file, (const char *)b.data, b.len, defaults, defaults_len, out, e)) < 0)
        err_wrap(e, "target %s from etcd", file);
    buf_clear(&b);
    return rc;
}
