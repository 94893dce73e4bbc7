/* etcd_parse: the gateway's answers, checked (see etcd_parse.h). */
#include "net/etcd_parse.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/sanitize.h"

#define MAX_TOKEN 4096 /* an auth token: simple tokens are short, JWTs a few hundred bytes */

/* An int64 field: absent is 0 (protobuf leaves defaults out), a string of decimal digits
 * with an optional '-', or a JSON integer. Returns 0 or -EBADMSG. */
static int get_int(json_t *obj, const char *name, int64_t *out)
{
    json_t *v = json_object_get(obj, name);
    const char *s, *p;
    int neg;
    uint64_t acc = 0;

    *out = 0;
    if (!v)
        return 0;
    if (json_is_integer(v)) {
        *out = (int64_t)json_integer_value(v);
        return 0;
    }
    if (!json_is_string(v) || json_string_length(v) == 0 || json_string_length(v) > 20)
        return -EBADMSG;
    s = json_string_value(v);
    neg = *s == '-';
    for (p = s + neg; *p; p++) {
        if (*p < '0' || *p > '9')
            return -EBADMSG;
        if (acc > (UINT64_C(1) << 63) / 10)
            return -EBADMSG;
        acc = acc * 10 + (uint64_t)(*p - '0');
    }
    if (p == s + neg || acc > (uint64_t)INT64_MAX + (uint64_t)neg)
        return -EBADMSG;
    *out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
    return 0;
}

/* A bool field: absent is false. */
static int get_bool(json_t *obj, const char *name, bool *out)
{
    json_t *v = json_object_get(obj, name);

    *out = false;
    if (!v)
        return 0;
    if (!json_is_boolean(v))
        return -EBADMSG;
    *out = json_is_true(v);
    return 0;
}

/* An object field: absent is NULL (fine); anything else not an object is an error. */
static int get_obj(json_t *obj, const char *name, json_t **out)
{
    *out = json_object_get(obj, name);
    if (*out && !json_is_object(*out))
        return -EBADMSG;
    return 0;
}

/* A base64 field into a NUL-terminated buffer of at most max bytes; absent is empty. */
static int get_bytes(json_t *obj, const char *name, size_t max, uint8_t **out, size_t *len)
{
    json_t *v = json_object_get(obj, name);
    int rc;

    if (!v) {
        *len = 0;
        return (*out = calloc(1, 1)) ? 0 : -ENOMEM;
    }
    if (!json_is_string(v))
        return -EBADMSG;
    rc = etcd_b64_decode(json_string_value(v), json_string_length(v), max, out, len);
    return rc == -EINVAL ? -EBADMSG : rc;
}

/* One key-value object into out (a struct etcd_kv). */
static int parse_kv(json_t *o, void *out)
{
    struct etcd_kv *kv = out;
    size_t klen = 0;
    int rc;

    if (!json_is_object(o))
        return -EBADMSG;
    if ((rc = get_bytes(o, "key", ETCD_MAX_KEY, (uint8_t **)&kv->key, &klen)) < 0)
        return rc == -EFBIG ? -EBADMSG : rc;
    /* Keys acmed reads are text: an embedded NUL would cut them short unseen. */
    if (klen == 0 || memchr(kv->key, '\0', klen))
        return -EBADMSG;
    if ((rc = get_bytes(o, "value", ETCD_MAX_VALUE, &kv->value, &kv->value_len)) < 0)
        return rc;
    if (get_int(o, "create_revision", &kv->create_revision) < 0 ||
        get_int(o, "mod_revision", &kv->mod_revision) < 0 ||
        get_int(o, "version", &kv->version) < 0 || get_int(o, "lease", &kv->lease) < 0)
        return -EBADMSG;
    return 0;
}

/* The array `name` of o (absent or empty: none), each element parsed by one() into a new
 * array of elements of `size` bytes at *items (NULL for none; the caller frees it). *count is
 * the number of elements started, so that on a failure part-way the caller frees what they
 * hold. A range answer's "kvs" and a watch result's "events" both come this way. */
static int parse_array(json_t *o, const char *name, size_t size, int (*one)(json_t *, void *),
                       void **items, size_t *count)
{
    json_t *a = json_object_get(o, name);
    size_t n;
    int rc;

    *items = NULL;
    if (!a)
        return 0;
    if (!json_is_array(a))
        return -EBADMSG;
    if ((n = json_array_size(a)) == 0)
        return 0;
    if (!(*items = calloc(n, size)))
        return -ENOMEM;
    for (size_t i = 0; i < n; i++) {
        *count = i + 1; /* so that a failure frees what was parsed */
        if ((rc = one(json_array_get(a, i), (char *)*items + i * size)) < 0)
            return rc;
    }
    return 0;
}

static int parse_kvs(json_t *o, struct etcd_result *r)
{
    void *kvs;
    int rc = parse_array(o, "kvs", sizeof *r->kvs, parse_kv, &kvs, &r->nkvs);

    r->kvs = kvs;
    return rc;
}

static int parse_header(json_t *o, int64_t *revision)
{
    json_t *h;

    *revision = 0;
    if (get_obj(o, "header", &h) < 0)
        return -EBADMSG;
    return h ? get_int(h, "revision", revision) : 0;
}

static int parse_token(json_t *o, char **token)
{
    json_t *t = json_object_get(o, "token");
    const char *s;

    if (!json_is_string(t) || json_string_length(t) == 0 || json_string_length(t) > MAX_TOKEN)
        return -EBADMSG;
    s = json_string_value(t);
    /* It goes into an HTTP header: printable ASCII only. */
    for (const char *p = s; *p; p++) {
        if (*p <= ' ' || *p > '~')
            return -EBADMSG;
    }
    return (*token = strdup(s)) ? 0 : -ENOMEM;
}

static int parse_fields(enum etcd_call call, json_t *o, struct etcd_result *r, char **token)
{
    int rc;

    if (parse_header(o, &r->revision) < 0)
        return -EBADMSG;
    switch (call) {
    case ETCD_RANGE:
        if ((rc = parse_kvs(o, r)) < 0)
            return rc;
        return get_bool(o, "more", &r->more) < 0 || get_int(o, "count", &r->count) < 0 ||
                       r->count < 0
                   ? -EBADMSG
                   : 0;
    case ETCD_DELETE:
        return get_int(o, "deleted", &r->deleted) < 0 || r->deleted < 0 ? -EBADMSG : 0;
    case ETCD_TXN:
        if (json_object_get(o, "responses") && !json_is_array(json_object_get(o, "responses")))
            return -EBADMSG;
        return get_bool(o, "succeeded", &r->succeeded);
    case ETCD_LEASE_GRANT:
    case ETCD_LEASE_KEEPALIVE:
        if (get_int(o, "ID", &r->lease_id) < 0 || get_int(o, "TTL", &r->ttl) < 0 || r->ttl < 0)
            return -EBADMSG;
        /* etcd says why a grant failed in "error" with a 200. */
        return call == ETCD_LEASE_GRANT && (r->lease_id == 0 || r->ttl == 0) ? -EBADMSG : 0;
    case ETCD_AUTH:
        return token ? parse_token(o, token) : -EINVAL;
    case ETCD_PUT:
    case ETCD_LEASE_REVOKE:
        return 0;
    }
    return -EINVAL;
}

static const char *call_name(enum etcd_call call)
{
    static const char *const names[] = {"range",        "put",         "delete",
                                        "txn",          "lease grant", "lease keepalive",
                                        "lease revoke", "authenticate"};

    return (unsigned)call < sizeof names / sizeof names[0] ? names[call] : "call";
}

int etcd_parse(enum etcd_call call, const char *body, size_t len, struct etcd_result *r,
               char **token, struct err *e)
{
    json_t *root = NULL, *o;
    int rc;

    memset(r, 0, sizeof *r);
    if (token)
        *token = NULL;
    if (len > ETCD_MAX_RESPONSE)
        return err_set(e, -EFBIG, "etcd: %s: answer of %zu bytes is too large", call_name(call),
                       len);
    root = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    o = root;
    /* A keepalive is a stream: its one answer comes wrapped as {"result": {...}}. */
    if (o && call == ETCD_LEASE_KEEPALIVE)
        o = json_object_get(root, "result");
    if (!json_is_object(o)) {
        rc = err_set(e, -EBADMSG, "etcd: %s: the answer is not a JSON object", call_name(call));
        goto out;
    }
    if ((rc = parse_fields(call, o, r, token)) < 0) {
        etcd_result_clear(r);
        rc = err_set(e, rc, "etcd: %s: %s", call_name(call),
                     rc == -ENOMEM  ? "out of memory"
                     : rc == -EFBIG ? "a value in the answer is too large"
                                    : "malformed answer");
    }
out:
    json_decref(root);
    return rc;
}

void etcd_watch_msg_clear(struct etcd_watch_msg *m)
{
    if (!m)
        return;
    for (size_t i = 0; i < m->nevents; i++) {
        free(m->events[i].kv.key);
        free(m->events[i].kv.value);
    }
    free(m->events);
    free(m->cancel_reason);
    memset(m, 0, sizeof *m);
}

/* One watch event into out (a struct etcd_event): a type (absent is PUT) and its kv. */
static int parse_event(json_t *ev, void *out)
{
    struct etcd_event *event = out;
    json_t *t;

    if (!json_is_object(ev))
        return -EBADMSG;
    t = json_object_get(ev, "type");
    if (!t || (json_is_string(t) && strcmp(json_string_value(t), "PUT") == 0))
        event->type = ETCD_EVENT_PUT;
    else if (json_is_string(t) && strcmp(json_string_value(t), "DELETE") == 0)
        event->type = ETCD_EVENT_DELETE;
    else
        return -EBADMSG;
    return parse_kv(json_object_get(ev, "kv"), &event->kv);
}

static int parse_events(json_t *o, struct etcd_watch_msg *m)
{
    void *events;
    int rc = parse_array(o, "events", sizeof *m->events, parse_event, &events, &m->nevents);

    m->events = events;
    return rc;
}

/* The "result" of a watch line. */
static int parse_watch_result(json_t *o, struct etcd_watch_msg *m)
{
    bool created, canceled;

    if (!json_is_object(o) || parse_header(o, &m->revision) < 0 ||
        get_bool(o, "created", &created) < 0 || get_bool(o, "canceled", &canceled) < 0 ||
        get_int(o, "compact_revision", &m->compact_revision) < 0 || m->compact_revision < 0)
        return -EBADMSG;
    if (m->compact_revision > 0) {
        m->kind = ETCD_WATCH_COMPACTED;
        return 0;
    }
    if (canceled) {
        json_t *why = json_object_get(o, "cancel_reason");

        m->kind = ETCD_WATCH_CANCELED;
        if (json_is_string(why)) {
            if (!(m->cancel_reason = strndup(json_string_value(why), SANITIZE_MAX)))
                return -ENOMEM;
            sanitize_into(m->cancel_reason, strlen(m->cancel_reason) + 1, m->cancel_reason,
                          strlen(m->cancel_reason));
            m->unauthenticated = strstr(m->cancel_reason, "code = Unauthenticated") != NULL;
        }
        return 0;
    }
    m->kind = created ? ETCD_WATCH_CREATED : ETCD_WATCH_EVENTS;
    return parse_events(o, m);
}

int etcd_parse_watch(const char *line, size_t len, struct etcd_watch_msg *m, struct err *e)
{
    json_t *root = NULL, *o;
    char why[256];
    int rc;

    memset(m, 0, sizeof *m);
    if (len > ETCD_MAX_RESPONSE)
        return err_set(e, -EFBIG, "etcd: watch: a message of %zu bytes is too large", len);
    root = json_loadb(line, len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(root)) {
        rc = err_set(e, -EBADMSG, "etcd: watch: a message is not a JSON object");
        goto out;
    }
    if ((o = json_object_get(root, "error"))) {
        etcd_error_text(line, len, why, sizeof why);
        rc = err_set(e, -ECONNRESET, "etcd: watch: the stream ended: %s", why);
        goto out;
    }
    if ((rc = parse_watch_result(json_object_get(root, "result"), m)) < 0) {
        etcd_watch_msg_clear(m);
        rc = err_set(e, rc, "etcd: watch: %s",
                     rc == -ENOMEM  ? "out of memory"
                     : rc == -EFBIG ? "a value is too large"
                                    : "malformed message");
    }
out:
    json_decref(root);
    return rc;
}

void etcd_error_text(const char *body, size_t len, char *out, size_t n)
{
    json_t *root = body ? json_loadb(body, len, 0, NULL) : NULL, *m = NULL;

    if (json_is_object(root)) {
        m = json_object_get(root, "message");
        if (!json_is_string(m))
            m = json_object_get(root, "error");
        /* A watch's error is {"error": {"grpc_code":..,"message":..}}. */
        if (json_is_object(m))
            m = json_object_get(m, "message");
    }
    if (json_is_string(m))
        sanitize_into(out, n, json_string_value(m), json_string_length(m));
    else
        snprintf(out, n, "(no explanation)");
    json_decref(root);
}

/* etcd's gRPC code in an error answer, or -1. */
static int grpc_code(const char *body, size_t len)
{
    json_t *root = body ? json_loadb(body, len, 0, NULL) : NULL;
    json_t *c = json_is_object(root) ? json_object_get(root, "code") : NULL;
    int code = json_is_integer(c) ? (int)json_integer_value(c) : -1;

    json_decref(root);
    return code;
}

/* Unavailable answers that etcd gives before a write enters the raft log (no leader, raft
 * dropped the proposal while electing one...): safe to retry. */
static bool refused_before_proposal(const char *body, size_t len)
{
    static const char *const before[] = {"etcdserver: no leader", "etcdserver: not capable",
                                         "etcdserver: too many requests",
                                         "etcdserver: server stopped", "raft proposal dropped"};
    char why[256];

    etcd_error_text(body, len, why, sizeof why);
    for (size_t i = 0; i < sizeof before / sizeof before[0]; i++) {
        if (strcmp(why, before[i]) == 0)
            return true;
    }
    return false;
}

enum etcd_next etcd_next_step(enum etcd_call call, int http_rc, long status, const char *body,
                              size_t len, int *code)
{
    bool safe = call != ETCD_PUT && call != ETCD_DELETE && call != ETCD_TXN;
    int g;

    *code = 0;
    if (http_rc == -ENOTCONN)
        return ETCD_NEXT_RETRY; /* nothing was sent */
    if (http_rc < 0) {
        if (http_rc == -EFBIG || http_rc == -ENOMEM || http_rc == -ECANCELED) {
            *code = http_rc;
            return ETCD_NEXT_DONE;
        }
        return safe ? ETCD_NEXT_RETRY : ETCD_NEXT_UNKNOWN;
    }
    if (status == 200)
        return ETCD_NEXT_DONE;
    g = grpc_code(body, len);
    /* Unauthenticated (16): an invalid or expired token; a wrong password is "authentication
     * failed" (code 3) and stays an error. */
    if (g == 16 && call != ETCD_AUTH)
        return ETCD_NEXT_REAUTH;
    if (status >= 500 || status == 429 || g == 14 || g == 4) {
        if (safe || refused_before_proposal(body, len) || status == 429)
            return ETCD_NEXT_RETRY;
        return ETCD_NEXT_UNKNOWN;
    }
    if (g == 3 && status == 400 && call != ETCD_AUTH) {
        char why[128];

        /* No token at all where authentication is on. */
        etcd_error_text(body, len, why, sizeof why);
        if (strcmp(why, "etcdserver: user name is empty") == 0)
            g = 7;
    }
    *code = g == 5 || status == 404                              ? -ENOENT
            : g == 7 || g == 16 || (g == 3 && call == ETCD_AUTH) ? -EACCES
            : status == 413                                      ? -EFBIG
            : status >= 400 && status < 500                      ? -EINVAL
                                                                 : -EIO;
    return ETCD_NEXT_DONE;
}
