/* rec_fleet: a pass's fleet phase (see rec_fleet.h): the fleet's targets, and the
 * certificates other nodes obtained, installed here. */
#include "reconcile/rec_fleet.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/ccert.h"
#include "cluster/ctarget.h"
#include "cluster/fleet.h"
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

static bool have_target(const struct rec *r, const char *file)
{
    for (size_t i = 0; i < r->ds.ntargets; i++)
        if (!strcmp(r->ds.targets[i].file, file))
            return true;
    return false;
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
    for (size_t i = 0; i < n; i++) {
        char *id = record_cert(it[i].value, it[i].len);

        if (id && have_target(r, it[i].name + strlen("state/")) && !have_cert(r, id))
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
    r->phase_end(r);
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
