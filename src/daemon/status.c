/* status: the daemon's own record of what it did (state/daemon.json, metrics file). */
#include "daemon/status.h"

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
    char *text = o ? json_dumps(o, JSON_INDENT(2)) : NULL;
    struct err e;

    if (!text || store_state_write(st, "daemon", text, &e) < 0)
        log_warn("cannot write state/daemon.json: %s", text ? err_msg(&e) : "out of memory");
    free(text);
    json_decref(o);
}

void daemon_metrics_write(const struct store *st, const char *path, const struct daemon_stats *s)
{
    struct desired_set ds = {0};
    struct store_cert *certs = NULL;
    struct plan_index ix = {0};
    size_t ncerts = 0;
    struct metrics_target *mt = NULL;
    struct tstate *tss = NULL;
    struct metrics m = {0};
    time_t now = clock_now();
    struct err e;

    err_set(&e, -ENOMEM, "out of memory");
    if (desired_load(st->root, &ds, &e) < 0 || store_certs_load(st, &certs, &ncerts, &e) < 0 ||
        plan_index_certs(&ix, certs, ncerts) < 0 || !(mt = calloc(ds.ntargets + 1, sizeof *mt)) ||
        !(tss = calloc(ds.ntargets + 1, sizeof *tss))) {
        log_warn("metrics: %s", err_msg(&e));
        goto out;
    }
    for (size_t i = 0; i < ds.ntargets; i++) {
        struct plan p;

        if (tstate_load(st, ds.targets[i].file, &tss[i], &e) < 0)
            memset(&tss[i], 0, sizeof tss[i]);
        plan_target_ix(&ds.targets[i], certs, ncerts, &ix, &tss[i], now, false, &p);
        mt[i].target = ds.targets[i].file;
        mt[i].cert_id = p.cur ? p.cur->id : NULL;
        mt[i].not_after = p.cur ? p.cur->not_after : 0;
        mt[i].next_renewal = p.cur ? p.due : 0;
        mt[i].last_success = tss[i].last_success;
        mt[i].failures = tss[i].failures;
        mt[i].satisfied = p.action == PLAN_SATISFIED;
    }
    m.targets = mt;
    m.ntargets = ds.ntargets;
    m.passes_total = s->passes;
    m.orders_total = s->issued + s->failures;
    m.requests_total = s->requests;
    m.failures_total = s->failures;
    m.certificates_issued_total = s->issued;
    m.last_pass = s->last_pass_end;
    if (metrics_write(path, &m, &e) < 0)
        log_warn("metrics file %s: %s", path, err_msg(&e));
out:
    for (size_t i = 0; tss && i < ds.ntargets; i++)
        tstate_free(&tss[i]);
    free(tss);
    free(mt);
    plan_index_free(&ix);
    store_certs_free(certs, ncerts);
    desired_set_free(&ds);
}
