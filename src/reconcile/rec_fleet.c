/* rec_fleet: a pass's fleet phase (see rec_fleet.h): the fleet's targets, and the
 * certificates other nodes obtained, installed here. */
#include "reconcile/rec_fleet.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/ccert.h"
#include "cluster/ctarget.h"
#include "cluster/fleet.h"
#include "util/clock.h"
#include "util/fsio.h"
#include "util/log.h"

#define CACHE_MAX (64u << 20)

/* ---- the targets ---- */

/* Adds target `file` from its JSON; a bad one is reported like a bad desired file. */
static void add_target(struct rec *r, const char *file, const char *json, size_t len)
{
    struct desired_set *ds = &r->ds;
    struct target t, *g;
    struct err e;

    if (!ctarget_file_ok(file)) {
        log_err("cluster: desired/%s in etcd: not a target name, ignored", file);
        r->sum.bad_files++;
        return;
    }
    if (ctarget_decode(file, json, len, r->fleet_defaults, r->fleet_defaults_len, &t, &e) < 0) {
        log_err("cluster: %s", err_msg(&e));
        r->sum.bad_files++;
        return;
    }
    if (!(g = realloc(ds->targets, (ds->ntargets + 1) * sizeof *g))) {
        target_clear(&t);
        r->sum.bad_files++;
        return;
    }
    ds->targets = g;
    ds->targets[ds->ntargets++] = t;
}

/* The targets as JSON {"file": "<target JSON>", ...}: what etcd gave, kept for an outage. */
static void save_cache(struct rec *r, const struct ckv_item *it, size_t n)
{
    json_t *o = json_object();
    char *text = NULL, *path = store_path(&r->st, REC_FLEET_CACHE);
    struct err e;

    for (size_t i = 0; o && i < n; i++)
        json_object_set_new(o, it[i].name + strlen("desired/"),
                            json_stringn((const char *)it[i].value, it[i].len));
    if (o && path && (text = json_dumps(o, JSON_COMPACT | JSON_SORT_KEYS)) &&
        fsio_write_atomic(path, text, strlen(text), 0644, &e) < 0)
        log_warn("cluster: %s", err_msg(&e));
    free(text);
    free(path);
    json_decref(o);
}

/* The targets the last answer of etcd gave; returns how many. */
static size_t load_cache(struct rec *r)
{
    char *path = store_path(&r->st, REC_FLEET_CACHE), *text = NULL;
    json_t *o = NULL, *v;
    const char *file;
    struct err e;
    size_t len = 0;

    if (path && fsio_read_file(path, CACHE_MAX, &text, &len, &e) == 0)
        o = json_loadb(text, len, JSON_REJECT_DUPLICATES, NULL);
    json_object_foreach(o, file, v)
    {
        if (json_is_string(v))
            add_target(r, file, json_string_value(v), json_string_length(v));
    }
    json_decref(o);
    free(text);
    free(path);
    return r->ds.ntargets;
}

/* ---- certificates obtained by other nodes ---- */

static bool have_cert(const struct rec *r, const char *id)
{
    for (size_t i = 0; i < r->ncerts; i++)
        if (!strcmp(r->certs[i].id, id))
            return true;
    return false;
}

static ssize_t target_index(const struct rec *r, const char *file)
{
    for (size_t i = 0; i < r->ds.ntargets; i++)
        if (!strcmp(r->ds.targets[i].file, file))
            return (ssize_t)i;
    return -1;
}

/* The certificate a record of state/ names (NULL when none or not a record). */
static char *record_cert(const uint8_t *v, size_t len)
{
    json_t *o = json_loadb((const char *)v, len, JSON_REJECT_DUPLICATES, NULL);
    const char *c = json_string_value(json_object_get(o, "cert"));
    char *out = c && store_id_valid(c) ? strdup(c) : NULL;

    json_decref(o);
    return out;
}

static void fleet_done(struct rec *r);
static void publish_next(struct rec *r);
static void materialize_next(struct rec *r);

static void on_materialized(void *arg, int rc, const struct err *e)
{
    struct rec *r = arg;
    const char *id = r->fleet_mat[r->fleet_mat_i - 1];

    if (rc < 0) {
        log_err("cluster: certificate %s from etcd not installed: %s", id, err_msg(e));
    } else {
        log_info("cluster: installed certificate %s obtained by another node", id);
        r->fleet_materialised = true;
    }
    materialize_next(r);
}

static void materialize_next(struct rec *r)
{
    struct err e;

    while (r->fleet_mat_i < r->nfleet_mat && !r->stopping) {
        const char *id = r->fleet_mat[r->fleet_mat_i++];

        if (ccert_materialize(r->o->fleet->cl->kv, &r->st, id, on_materialized, r, &e) == 0)
            return;
        log_err("cluster: certificate %s: %s", id, err_msg(&e));
    }
    fleet_done(r);
}

static void on_states(void *arg, int rc, const struct ckv_item *it, size_t n, size_t bad,
                      const struct err *e)
{
    struct rec *r = arg;

    if (rc < 0) {
        fleet_set_up(r->o->fleet, false, err_msg(e));
        fleet_done(r);
        return;
    }
    if (bad)
        log_warn("cluster: %zu progress records in etcd do not open: ignored", bad);
    if (n && !(r->fleet_mat = calloc(n, sizeof *r->fleet_mat))) {
        fleet_done(r);
        return;
    }
    if (r->ds.ntargets && !(r->fleet_rec = calloc(r->ds.ntargets, sizeof *r->fleet_rec))) {
        fleet_done(r);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        char *id = record_cert(it[i].value, it[i].len);
        ssize_t t = target_index(r, it[i].name + strlen("state/"));

        if (id && t >= 0)
            r->fleet_rec[t] = strdup(id);
        if (id && t >= 0 && !have_cert(r, id))
            r->fleet_mat[r->nfleet_mat++] = id;
        else
            free(id);
    }
    materialize_next(r);
}

static void on_targets(void *arg, int rc, const struct ckv_item *it, size_t n, size_t bad,
                       const struct err *e)
{
    struct rec *r = arg;
    struct err le;

    if (rc < 0) {
        fleet_set_up(r->o->fleet, false, err_msg(e));
        log_warn("cluster: etcd unreachable (%s): working from the %zu targets it last gave",
                 err_msg(e), load_cache(r));
        fleet_done(r);
        return;
    }
    fleet_set_up(r->o->fleet, true, NULL);
    if (bad)
        log_err("cluster: %zu targets in etcd do not open (another secret?): ignored", bad);
    if (n == 0 && load_cache(r) > 0) {
        /* Only an observed delete removes a target: an emptied etcd is not one. */
        log_warn("cluster: etcd holds no targets; keeping the %zu this node knew", r->ds.ntargets);
    } else {
        for (size_t i = 0; i < n; i++)
            add_target(r, it[i].name + strlen("desired/"), (const char *)it[i].value, it[i].len);
        save_cache(r, it, n);
    }
    if (ckv_list(r->o->fleet->cl->kv, "state/", on_states, r, &le) < 0) {
        log_err("cluster: %s", err_msg(&le));
        fleet_done(r);
    }
}

/* The targets are known and the fleet's certificates installed: certs/ is read again when it
 * changed, and the indexes the jobs phase uses are built. */
static void fleet_done(struct rec *r)
{
    struct err e;

    r->sum.fleet_up = r->o->fleet->up;
    r->sum.targets = (unsigned)r->ds.ntargets + r->sum.bad_files;
    if (r->fleet_materialised) {
        struct store_cert *c = NULL;
        size_t n = 0;

        if (store_certs_load_cached(&r->st, true, &c, &n, &e) < 0) {
            log_err("%s", err_msg(&e));
        } else {
            plan_index_free(&r->certix);
            store_certs_free(r->certs, r->ncerts);
            r->certs = c;
            r->ncerts = n;
            r->jctx.certs = c;
            r->jctx.ncerts = n;
            if (plan_index_certs(&r->certix, r->certs, r->ncerts) < 0)
                log_err("out of memory");
        }
    }
    plan_index_free(&r->owners);
    if (plan_index_owners(&r->owners, r->ds.targets, r->ds.ntargets) < 0)
        log_err("out of memory");
    if (!r->o->fleet->up || !r->fleet_rec) {
        r->phase_end(r);
        return;
    }
    r->fleet_pub = 0;
    publish_next(r);
}

/* ---- a certificate this node obtained alone (etcd was unreachable): the newer wins ---- */

static const struct store_cert *cert_by_id(const struct rec *r, const char *id)
{
    for (size_t i = 0; id && i < r->ncerts; i++)
        if (!strcmp(r->certs[i].id, id))
            return &r->certs[i];
    return NULL;
}

/* This node's certificate for target i when it is newer than the one the fleet's record
 * names (or the fleet has none), and its key is ours to share; else NULL. */
static const struct store_cert *newer_here(const struct rec *r, size_t i)
{
    const struct target *t = &r->ds.targets[i];
    struct tstate ts = {0};
    const struct store_cert *fc;
    struct plan p;

    plan_target_ix(t, r->certs, r->ncerts, &r->certix, &ts, clock_now(), false, &p);
    if (!p.cur || !p.cur->key_id[0] || (r->fleet_rec[i] && !strcmp(r->fleet_rec[i], p.cur->id)))
        return NULL;
    fc = cert_by_id(r, r->fleet_rec[i]);
    if (r->fleet_rec[i] && (!fc || fc->not_before >= p.cur->not_before))
        return NULL;
    return p.cur;
}

static void on_pub_record(void *arg, int rc, const struct etcd_result *res, const struct err *e)
{
    struct rec *r = arg;
    const struct target *t = &r->ds.targets[r->fleet_pub - 1];

    if (rc < 0 || !res->succeeded)
        log_warn("cluster: %s: its record was not updated (%s)", t->file,
                 rc < 0 ? err_msg(e) : "the lock is gone");
    lockset_release(r->o->fleet->locks, t->file, r->fleet_fence);
    publish_next(r);
}

static void on_pub_cert(void *arg, int rc, const struct err *e)
{
    struct rec *r = arg;
    size_t i = r->fleet_pub - 1;
    const struct target *t = &r->ds.targets[i];
    struct etcd_result res = {0};
    struct tstate ts;
    struct err le;
    char *tsj = NULL, *json = NULL, lock[CKV_NAME_MAX], name[CKV_NAME_MAX];
    json_t *o;

    if (rc < 0) {
        log_err("cluster: %s: %s", t->file, err_msg(e));
        on_pub_record(r, 0, &(struct etcd_result){.succeeded = true}, NULL);
        return;
    }
    log_notice("cluster: %s: this node's newer certificate %s is the fleet's now", t->file,
               r->fleet_rec[i]);
    if (tstate_load(&r->st, t->file, &ts, &le) < 0)
        memset(&ts, 0, sizeof ts);
    tsj = tstate_json(&ts, true);
    tstate_free(&ts);
    o = tsj ? json_pack("{s:i, s:s, s:s, s:s}", "v", 1, "node", r->o->fleet->cl->node, "ts", tsj,
                        "cert", r->fleet_rec[i])
            : NULL;
    json = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    free(tsj);
    snprintf(lock, sizeof lock, "locks/%s", t->file);
    snprintf(name, sizeof name, "state/%s", t->file);
    if (!json)
        err_set(&le, -ENOMEM, "out of memory");
    if (!json || ckv_put_fenced(r->o->fleet->cl->kv, lock, r->fleet_fence, name, json, strlen(json),
                                on_pub_record, r, &le) < 0)
        on_pub_record(r, le.code, &res, &le);
    free(json);
}

static void on_pub_locked(void *arg, int rc, int64_t fence, const char *holder, const struct err *e)
{
    struct rec *r = arg;
    size_t i = r->fleet_pub - 1;
    const struct store_cert *c = rc == 0 ? newer_here(r, i) : NULL;
    struct err pe;

    (void)holder;
    (void)e;
    if (rc < 0 || !c) {
        if (rc == 0)
            lockset_release(r->o->fleet->locks, r->ds.targets[i].file, fence);
        publish_next(r); /* a holder deals with it, or it is no longer newer */
        return;
    }
    r->fleet_fence = fence;
    free(r->fleet_rec[i]);
    r->fleet_rec[i] = strdup(c->id);
    if (!r->fleet_rec[i] ||
        ccert_publish(r->o->fleet->cl->kv, &r->st, c->id, on_pub_cert, r, &pe) < 0)
        on_pub_cert(r, r->fleet_rec[i] ? pe.code : -ENOMEM, &pe);
}

static void publish_next(struct rec *r)
{
    struct err e;

    while (r->fleet_pub < r->ds.ntargets && !r->stopping) {
        size_t i = r->fleet_pub++;

        if (!newer_here(r, i))
            continue;
        if (lockset_acquire(r->o->fleet->locks, r->ds.targets[i].file, on_pub_locked, r, &e) == 0)
            return;
        log_warn("cluster: %s", err_msg(&e));
    }
    r->phase_end(r);
}

void rec_fleet_spread(struct rec *r)
{
    uint32_t h = 2166136261u;
    struct job **v;
    size_t k;

    if (!r->o->fleet || r->o->nextra || r->njobs < 2 || !(v = malloc(r->njobs * sizeof *v)))
        return;
    for (const char *p = r->o->fleet->cl->node; *p; p++)
        h = (h ^ (uint8_t)*p) * 16777619u; /* FNV-1a */
    k = h % r->njobs;
    for (size_t i = 0; i < r->njobs; i++)
        v[i] = r->jobs[(i + k) % r->njobs];
    memcpy(r->jobs, v, r->njobs * sizeof *v);
    free(v);
}

/* A local desired/ is not the fleet's: say so when it holds something. */
static void warn_local_desired(const struct rec *r)
{
    char *path = store_path(&r->st, "desired");
    DIR *dir = path ? opendir(path) : NULL;
    struct dirent *de;
    size_t n = 0;

    while (dir && (de = readdir(dir)))
        n += de->d_name[0] != '.';
    if (n)
        log_warn("cluster: desired/ holds %zu files, ignored in fleet mode (acmed cluster import "
                 "copies them into etcd)",
                 n);
    if (dir)
        closedir(dir);
    free(path);
}

void rec_phase_fleet(struct rec *r)
{
    struct err e;

    if (!r->o->fleet || r->o->nextra) {
        r->phase_end(r);
        return;
    }
    r->sum.fleet = true;
    warn_local_desired(r);
    {
        char *path = store_path(&r->st, "conf/target");

        if (path &&
            fsio_read_file(path, CACHE_MAX, &r->fleet_defaults, &r->fleet_defaults_len, &e) < 0 &&
            e.code != -ENOENT)
            log_warn("%s", err_msg(&e));
        free(path);
    }
    if (ckv_list(r->o->fleet->cl->kv, "desired/", on_targets, r, &e) < 0) {
        log_err("cluster: %s", err_msg(&e));
        load_cache(r);
        fleet_done(r);
    }
}
