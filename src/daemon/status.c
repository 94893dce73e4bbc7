/* status: the daemon's own record of what it did (state/daemon.json, metrics file). */
#include "daemon/status.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "daemon/metrics.h"
#include "reconcile/plan.h"
#include "store/desired.h"
#include "util/clock.h"
#include "util/log.h"

static json_t *when(time_t t)
{
    char buf[32];

    return t ? json_string(clock_rfc3339(t, buf, sizeof buf)) : json_null();
}

/* What a pass's exit code means, for people reading status. */
static const char *outcome(int code)
{
    switch (code) {
    case REC_OK:
        return "all satisfied";
    case REC_FAILED:
        return "a target failed";
    case REC_USAGE:
        return "configuration error";
    case REC_CRITICAL:
        return "a certificate in its critical window could not be renewed";
    case REC_LOCKED:
        return "locked by another reconciler";
    }
    return "unknown";
}

static json_t *last_pass(const struct daemon_stats *s)
{
    json_t *l = json_array();

    for (unsigned i = 0; l && i < s->last.nlisteners; i++)
        json_array_append_new(l, json_string(s->last.listeners[i]));
    return json_pack("{s:o, s:o, s:i, s:s, s:i, s:i, s:i, s:i, s:i, s:o}", "start",
                     when(s->last_pass_start), "end", when(s->last_pass_end), "exit", s->last_exit,
                     "outcome", outcome(s->last_exit), "targets", (int)s->last.targets, "satisfied",
                     (int)s->last.satisfied, "issued", (int)s->last.issued, "failed",
                     (int)s->last.failed, "max_orders_in_flight", (int)s->last.max_in_flight,
                     "listeners", l ? l : json_null());
}

void daemon_status_write(const struct store *st, time_t started, const struct daemon_stats *s)
{
    json_t *o =
        json_pack("{s:I, s:s, s:o, s:I, s:I, s:I, s:I, s:o, s:{s:o, s:s}}", "pid",
                  (json_int_t)getpid(), "version", ACMED_VERSION, "started", when(started),
                  "passes", (json_int_t)s->passes, "issued", (json_int_t)s->issued, "failures",
                  (json_int_t)s->failures, "requests", (json_int_t)s->requests, "last_pass",
                  last_pass(s), "next_pass", "at", when(s->next_pass), "why", s->next_why);
    char *text;
    struct err e;

    if (o && s->fleet_node)
        json_object_set_new(o, "cluster",
                            json_pack("{s:s, s:s, s:s, s:i}", "node", s->fleet_node, "etcd",
                                      s->fleet_up ? "ok" : "unreachable", "error", s->fleet_why,
                                      "targets_held_elsewhere", (int)s->last.fleet_elsewhere));
    text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    if (!text || store_state_write(st, "daemon", text, &e) < 0)
        log_warn("cannot write state/daemon.json: %s", text ? err_msg(&e) : "out of memory");
    free(text);
    json_decref(o);
}

/* The metrics of one target, planned from the certificates and its saved progress. */
static void target_metrics(const struct store *st, const struct target *t,
                           const struct rec_snapshot *sn, time_t now, struct metrics_target *mt)
{
    struct tstate ts;
    struct plan p;
    struct err e;

    if (tstate_load(st, t->file, &ts, &e) < 0)
        memset(&ts, 0, sizeof ts);
    plan_target_ix(t, sn->certs, sn->ncerts, sn->certix, &ts, now, false, &p);
    mt->target = t->file;
    mt->cert_id = p.cur ? p.cur->id : NULL;
    mt->not_after = p.cur ? p.cur->not_after : 0;
    mt->next_renewal = p.cur ? p.due : 0;
    mt->last_success = ts.last_success;
    mt->failures = ts.failures;
    mt->satisfied = p.action == PLAN_SATISFIED;
    tstate_free(&ts);
}

void daemon_metrics_write(const struct store *st, const char *path, const struct daemon_stats *s,
                          const struct rec_snapshot *snap)
{
    struct desired_set ds = {0};
    struct store_cert *certs = NULL;
    struct plan_index ix = {0};
    struct rec_snapshot own = {&ds, NULL, 0, &ix};
    size_t ncerts = 0;
    struct metrics_target *mt = NULL;
    struct metrics m = {0};
    time_t now = clock_now();
    struct err e;

    err_set(&e, -ENOMEM, "out of memory");
    /* Without the pass's snapshot (it changed something), what is there now; certificates
     * through state/certs.cache, so only new ones are parsed. */
    if (!snap) {
        if (desired_load(st->root, &ds, &e) < 0 || store_certs_load(st, &certs, &ncerts, &e) < 0 ||
            plan_index_certs(&ix, certs, ncerts) < 0) {
            log_warn("metrics: %s", err_msg(&e));
            goto out;
        }
        own.certs = certs;
        own.ncerts = ncerts;
        snap = &own;
    }
    if (!(mt = calloc(snap->ds->ntargets + 1, sizeof *mt))) {
        log_warn("metrics: out of memory");
        goto out;
    }
    for (size_t i = 0; i < snap->ds->ntargets; i++)
        target_metrics(st, &snap->ds->targets[i], snap, now, &mt[i]);
    m.targets = mt;
    m.ntargets = snap->ds->ntargets;
    m.passes_total = s->passes;
    m.cluster = s->fleet_node != NULL;
    m.cluster_up = s->fleet_up;
    m.orders_total = s->issued + s->failures;
    m.requests_total = s->requests;
    m.failures_total = s->failures;
    m.certificates_issued_total = s->issued;
    m.last_pass = s->last_pass_end;
    if (metrics_write(path, &m, &e) < 0)
        log_warn("metrics file %s: %s", path, err_msg(&e));
out:
    free(mt);
    plan_index_free(&ix);
    store_certs_free(certs, ncerts);
    desired_set_clear(&ds);
}
