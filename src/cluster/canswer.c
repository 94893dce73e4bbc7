/* canswer: challenge answers shared by a fleet (see canswer.h). */
#include "cluster/canswer.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "net/etcd_watch.h"
#include "util/log.h"

#define PREFIX "challenges/"

static const char *const kinds[] = {"http/", "tls/"};

struct entry {
    char name[16 + CANSWER_KEY_MAX]; /* "http/<token>" or "tls/<name>" */
    char keyauth[CANSWER_KEYAUTH_MAX + 1];
};

struct canswers {
    uv_loop_t *loop;
    struct etcd *c;
    struct ckv *kv;
    struct etcd_watch *w;
    struct entry *v;
    size_t n, cap;
    size_t ignored;
    int64_t last_rev;  /* the newest revision seen: a broken watch resumes after it */
    bool ready;        /* listed, and the watch runs */
    unsigned inflight; /* lists in flight */
    bool freed;
    canswers_change_cb changed; /* canswers_on_change */
    void *changed_arg;
};

/* Tells the owner about entry x ("http/<token>" or "tls/<name>"): keyauth NULL when gone. */
static void tell(struct canswers *cs, const struct entry *x, const char *keyauth)
{
    bool http = !strncmp(x->name, kinds[0], 5);

    if (cs->changed)
        cs->changed(cs->changed_arg, http ? CANSWER_HTTP01 : CANSWER_TLSALPN01,
                    x->name + (http ? 5 : 4), keyauth);
}

static bool keyauth_ok(const uint8_t *s, size_t n)
{
    static const char ok[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_.";
    size_t dots = 0;

    if (n == 0 || n > CANSWER_KEYAUTH_MAX)
        return false;
    for (size_t i = 0; i < n; i++) {
        if (!s[i] || !strchr(ok, s[i]))
            return false;
        dots += s[i] == '.';
    }
    return dots == 1;
}

/* A token is base64url; an SNI name letters, digits, '-' and '.'. */
static bool key_ok(enum canswer_type type, const char *key)
{
    const char *ok = type == CANSWER_HTTP01
                         ? "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_"
                         : "abcdefghijklmnopqrstuvwxyz0123456789-.";
    size_t n = key ? strlen(key) : 0;

    return n >= 1 && n <= CANSWER_KEY_MAX && strspn(key, ok) == n && key[0] != '.';
}

static int name_of(enum canswer_type type, const char *key, char *out, size_t len, struct err *e)
{
    if (!key_ok(type, key))
        return err_set(e, -EINVAL, "not a %s to publish an answer for",
                       type == CANSWER_HTTP01 ? "token" : "name");
    snprintf(out, len, PREFIX "%s%s", kinds[type], key);
    return 0;
}

int canswer_publish(struct ckv *kv, enum canswer_type type, const char *key, const char *keyauth,
                    int64_t lease, etcd_cb cb, void *arg, struct err *e)
{
    char name[64 + CANSWER_KEY_MAX];
    int rc = name_of(type, key, name, sizeof name, e);

    if (rc < 0)
        return rc;
    if (!keyauth || !keyauth_ok((const uint8_t *)keyauth, strlen(keyauth)))
        return err_set(e, -EINVAL, "not a key authorization");
    return ckv_put(kv, name, keyauth, strlen(keyauth), lease, cb, arg, e);
}

static void on_ignore(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    (void)arg, (void)rc, (void)r, (void)e;
}

int canswer_withdraw(struct ckv *kv, enum canswer_type type, const char *key, etcd_cb cb, void *arg,
                     struct err *e)
{
    char name[64 + CANSWER_KEY_MAX], full[ETCD_MAX_KEY];
    int rc = name_of(type, key, name, sizeof name, e);

    if (rc < 0)
        return rc;
    if (!ckv_key(kv, name, full, sizeof full))
        return err_set(e, -EINVAL, "not a name for etcd");
    return etcd_delete(ckv_etcd(kv), full, false, cb ? cb : on_ignore, arg, e);
}

struct lookup {
    canswer_lookup_cb cb;
    void *arg;
};

static void on_looked_up(void *arg, int rc, const struct ckv_item *it, size_t n, size_t bad,
                         const struct err *e)
{
    struct lookup *l = arg;
    char ka[CANSWER_KEYAUTH_MAX + 1];
    bool ok = rc == 0 && n == 1 && keyauth_ok(it[0].value, it[0].len);

    (void)bad, (void)e;
    if (ok) {
        memcpy(ka, it[0].value, it[0].len);
        ka[it[0].len] = '\0';
    }
    l->cb(l->arg, ok ? ka : NULL);
    free(l);
}

int canswer_lookup(struct ckv *kv, enum canswer_type type, const char *key, canswer_lookup_cb cb,
                   void *arg, struct err *e)
{
    char name[64 + CANSWER_KEY_MAX];
    struct lookup *l;
    int rc = name_of(type, key, name, sizeof name, e);

    if (rc < 0)
        return rc;
    if (!(l = malloc(sizeof *l)))
        return err_set(e, -ENOMEM, "out of memory");
    *l = (struct lookup){cb, arg};
    if ((rc = ckv_get(kv, name, on_looked_up, l, e)) < 0)
        free(l);
    return rc;
}

/* ---- the copy ---- */

static struct entry *find(const struct canswers *cs, const char *name)
{
    for (size_t i = 0; i < cs->n; i++)
        if (!strcmp(cs->v[i].name, name))
            return &cs->v[i];
    return NULL;
}

static void drop(struct canswers *cs, const char *name)
{
    struct entry *x = find(cs, name);

    if (x) {
        tell(cs, x, NULL);
        *x = cs->v[--cs->n];
    }
}

/* name is "challenges/..." as ckv gives it; value the opened key authorization. */
static void set(struct canswers *cs, const char *name, const uint8_t *value, size_t len)
{
    struct entry *x;

    if (strncmp(name, PREFIX, strlen(PREFIX)) || strlen(name) - strlen(PREFIX) >= sizeof x->name ||
        (strncmp(name + strlen(PREFIX), kinds[0], 5) &&
         strncmp(name + strlen(PREFIX), kinds[1], 4)) ||
        !keyauth_ok(value, len)) {
        cs->ignored++;
        return;
    }
    name += strlen(PREFIX);
    if (!(x = find(cs, name))) {
        if (cs->n == cs->cap) {
            size_t cap = cs->cap ? cs->cap * 2 : 16;
            struct entry *g = realloc(cs->v, cap * sizeof *g);

            if (!g)
                return;
            cs->v = g;
            cs->cap = cap;
        }
        x = &cs->v[cs->n++];
        snprintf(x->name, sizeof x->name, "%s", name);
        x->keyauth[0] = '\0';
    }
    if (strlen(x->keyauth) == len && !memcmp(x->keyauth, value, len))
        return;
    memcpy(x->keyauth, value, len);
    x->keyauth[len] = '\0';
    tell(cs, x, x->keyauth);
}

static void watch(struct canswers *cs, int64_t from);

static void on_list(void *arg, int rc, const struct ckv_item *it, size_t n, size_t bad,
                    const struct err *e)
{
    struct canswers *cs = arg;

    cs->inflight--;
    if (cs->freed) {
        if (!cs->inflight)
            free(cs);
        return;
    }
    if (rc < 0) {
        log_warn("cluster: challenge answers: %s", err_msg(e));
        return; /* the watch goes on; a miss is asked of etcd */
    }
    cs->ignored += bad;
    for (size_t i = 0; i < n; i++)
        set(cs, it[i].name, it[i].value, it[i].len);
    cs->ready = true;
}

static void relist(struct canswers *cs)
{
    struct err e;

    if (ckv_list(cs->kv, PREFIX, on_list, cs, &e) < 0)
        log_warn("cluster: challenge answers: %s", err_msg(&e));
    else
        cs->inflight++;
}

static void on_watch(void *arg, int rc, const struct etcd_watch_msg *m, const struct err *e)
{
    struct canswers *cs = arg;

    if (rc < 0) {
        cs->w = NULL;
        cs->ready = false;
        if (rc == -ECANCELED)
            return;
        log_info("cluster: challenge answers: the watch ended (%s); following again", err_msg(e));
        if (rc == -ESTALE) {
            for (size_t i = 0; i < cs->n; i++)
                tell(cs, &cs->v[i], NULL); /* read again from scratch */
            cs->n = 0;
            watch(cs, 0);
            return;
        }
        watch(cs, cs->last_rev ? cs->last_rev + 1 : 0);
        return;
    }
    if (m->kind == ETCD_WATCH_CREATED) {
        if (m->revision > cs->last_rev && !cs->last_rev)
            cs->last_rev = m->revision;
        /* Read after the watch is in place: nothing published in between is missed. */
        relist(cs);
        return;
    }
    for (size_t i = 0; i < m->nevents; i++) {
        const struct etcd_event *ev = &m->events[i];
        const char *name = NULL;
        uint8_t *pt = NULL;
        size_t len = 0;
        struct err oe;

        if (ev->kv.mod_revision > cs->last_rev)
            cs->last_rev = ev->kv.mod_revision;
        if (ev->type == ETCD_EVENT_DELETE) {
            const char *k = ev->kv.key;
            char full[ETCD_MAX_KEY];

            if (ckv_key(cs->kv, PREFIX, full, sizeof full) && !strncmp(k, full, strlen(full)))
                drop(cs, k + strlen(full));
            continue;
        }
        if (ckv_open(cs->kv, &ev->kv, &name, &pt, &len, &oe) < 0) {
            cs->ignored++;
            continue;
        }
        set(cs, name, pt, len);
        seal_free_secret(pt, len);
    }
}

static void watch(struct canswers *cs, int64_t from)
{
    char full[ETCD_MAX_KEY];
    struct err e;

    if (!ckv_key(cs->kv, PREFIX, full, sizeof full) ||
        etcd_watch_start(cs->c, full, from, on_watch, cs, &cs->w, &e) < 0)
        log_err("cluster: cannot follow the challenge answers: %s", err_msg(&e));
}

int canswers_new(uv_loop_t *loop, struct etcd *c, struct ckv *kv, struct canswers **out,
                 struct err *e)
{
    struct canswers *cs = calloc(1, sizeof *cs);

    *out = NULL;
    if (!cs)
        return err_set(e, -ENOMEM, "out of memory");
    cs->loop = loop;
    cs->c = c;
    cs->kv = kv;
    watch(cs, 0);
    *out = cs;
    return 0;
}

const char *canswers_find(const struct canswers *cs, enum canswer_type type, const char *key)
{
    char name[16 + CANSWER_KEY_MAX];
    const struct entry *x;

    if (!key_ok(type, key))
        return NULL;
    snprintf(name, sizeof name, "%s%s", kinds[type], key);
    x = find(cs, name);
    return x ? x->keyauth : NULL;
}

size_t canswers_count(const struct canswers *cs)
{
    return cs->n;
}

size_t canswers_ignored(const struct canswers *cs)
{
    return cs->ignored;
}

bool canswers_ready(const struct canswers *cs)
{
    return cs->ready;
}

void canswers_on_change(struct canswers *cs, canswers_change_cb cb, void *arg)
{
    cs->changed = cb;
    cs->changed_arg = arg;
}

void canswers_free(struct canswers *cs)
{
    if (!cs)
        return;
    etcd_watch_cancel(cs->w);
    free(cs->v);
    cs->v = NULL;
    cs->freed = true;
    if (!cs->inflight)
        free(cs);
}
