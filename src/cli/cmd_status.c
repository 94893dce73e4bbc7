/* cmd_status: `acmed status [--json]`: every target with its names, certificate, expiry,
 * next renewal and why, and last error, and whether privilege separation applies; read
 * without the lock. Exit codes as reconcile's (0 all satisfied, 1 something is not, 2
 * conf/acmed.yaml would stop a reconcile, 3 a certificate in its critical window is not
 * satisfied), so monitoring can use it. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "privsep/privsep_plan.h"
#include "reconcile/plan.h"
#include "store/desired.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/fsio.h"
#include "util/lock.h"
#include "util/log.h"

static const char *state_name(const struct plan *p)
{
    switch (p->action) {
    case PLAN_SATISFIED:
        return "satisfied";
    case PLAN_ISSUE:
        return "missing";
    case PLAN_RENEW:
        return "due";
    case PLAN_BACKOFF:
        return "backoff";
    }
    return "unknown";
}

static json_t *time_json(time_t t)
{
    char buf[32];

    return t ? json_string(clock_rfc3339(t, buf, sizeof buf)) : json_null();
}

/* The `replaces` the CA refused for this target's renewal (step_order): the renewal under
 * way's (state/), else the one that made the certificate in use (its meta). */
static void replaces_dropped(const struct plan *p, const struct tstate *ts, const char **id,
                             const char **why)
{
    *id = ts->replaces_dropped;
    *why = ts->replaces_dropped_why;
    if (!*id && p->cur) {
        *id = p->cur->replaces_dropped;
        *why = p->cur->replaces_dropped_why;
    }
}

static json_t *target_json(const struct target *t, const struct plan *p, const struct tstate *ts)
{
    json_t *o = json_object(), *names = json_array();
    const char *rd, *why;

    for (size_t i = 0; i < t->nnames; i++)
        json_array_append_new(names, json_string(t->names[i].name));
    json_object_set_new(o, "file", json_string(t->file));
    json_object_set_new(o, "names", names);
    json_object_set_new(o, "state", json_string(state_name(p)));
    json_object_set_new(o, "cert_id", p->cur ? json_string(p->cur->id) : json_null());
    json_object_set_new(o, "not_after", time_json(p->cur ? p->cur->not_after : 0));
    json_object_set_new(o, "next_renewal", time_json(p->cur ? p->due : 0));
    json_object_set_new(o, "why", p->cur ? json_string(policy_why_str(p->why)) : json_null());
    json_object_set_new(o, "critical", json_boolean(p->cur && p->critical));
    json_object_set_new(o, "failures", json_integer(ts->failures));
    json_object_set_new(o, "next_attempt", time_json(p->next_attempt));
    json_object_set_new(o, "last_error",
                        ts->last_error ? json_string(ts->last_error) : json_null());
    json_object_set_new(o, "last_problem",
                        ts->last_problem ? json_string(ts->last_problem) : json_null());
    {
        char *signer = target_signer_name(t);

        /* Where the account key lives: a key file under accounts/, or this signer. */
        json_object_set_new(o, "account_key", json_string(signer ? signer : "file"));
        free(signer);
    }
    replaces_dropped(p, ts, &rd, &why);
    json_object_set_new(o, "replaces_dropped",
                        rd ? json_pack("{s:s, s:s?}", "cert_id", rd, "problem", why) : json_null());
    return o;
}

static void print_row(const struct target *t, const struct plan *p, const struct tstate *ts)
{
    char na[32] = "-", nr[40] = "-";
    const char *rd, *why;

    if (p->cur) {
        clock_rfc3339(p->cur->not_after, na, sizeof na);
        clock_rfc3339(p->due, nr, sizeof nr);
        snprintf(nr + strlen(nr), sizeof nr - strlen(nr), " (%s)", policy_why_str(p->why));
    }
    printf("%-24s %-10s %-21s %-30s %s", t->file, state_name(p), na, nr, t->names[0].name);
    for (size_t i = 1; i < t->nnames; i++)
        printf(",%s", t->names[i].name);
    printf("\n");
    if (target_has_signer(t)) {
        char *signer = target_signer_name(t);

        printf("    account key: %s\n", signer ? signer : "a signer");
        free(signer);
    }
    if (ts->last_error)
        printf("    last error (%u failures): %s\n", ts->failures, ts->last_error);
    replaces_dropped(p, ts, &rd, &why);
    if (rd)
        printf("    replaces dropped (%s): %s\n", rd, why ? why : "refused by the CA");
}

/* The running daemon's record (state/daemon.json), when a daemon holds the lock and wrote it;
 * NULL otherwise. Caller decrefs. */
static json_t *daemon_record(const struct store *st, const char *root)
{
    pid_t holder = lock_holder(root);
    char *text = NULL;
    json_t *d;
    struct err e;

    if (holder <= 0 || store_state_read(st, "daemon", &text, &e) < 0)
        return NULL;
    d = json_loads(text, 0, NULL);
    free(text);
    if (!json_is_object(d) || json_integer_value(json_object_get(d, "pid")) != holder) {
        json_decref(d);
        return NULL;
    }
    return d;
}

static const char *str_at(json_t *o, const char *a, const char *b)
{
    const char *v = json_string_value(json_object_get(json_object_get(o, a), b));

    return v ? v : "-";
}

/* One line about the running daemon. */
static void print_daemon(json_t *d)
{
    if (!d)
        return;
    printf("daemon: pid %lld, last pass ended %s (%s), next pass %s (%s)\n",
           (long long)json_integer_value(json_object_get(d, "pid")), str_at(d, "last_pass", "end"),
           str_at(d, "last_pass", "outcome"), str_at(d, "next_pass", "at"),
           str_at(d, "next_pass", "why"));
}

/* The effective uid of the reconcilers of this state directory: the owner of its .lock, which
 * lock_acquire insists is the effective uid of whoever takes it (the daemon or --once, root
 * or not, whoever runs status), else this process's, as an `acmed --once` run here would be. */
static uid_t reconciler_euid(const char *root)
{
    char *path = fsio_join(root, ".lock");
    struct stat sb;
    uid_t uid = geteuid();

    if (path && lstat(path, &sb) == 0 && S_ISREG(sb.st_mode))
        uid = sb.st_uid;
    free(path);
    return uid;
}

/* Privilege separation as a reconcile would decide it now (privsep_plan): 0 and *p, or
 * negative with e saying what in conf/acmed.yaml stops it (*p zeroed). */
static int privsep_status(const char *root, struct privsep_plan *p, struct err *e)
{
    struct acmed_conf conf;
    int rc;

    memset(p, 0, sizeof *p);
    if ((rc = acmed_conf_load(root, &conf, e)) < 0)
        return rc;
    rc = privsep_plan(&conf, reconciler_euid(root), p, e);
    acmed_conf_clear(&conf);
    return rc;
}

/* status --json's "privsep": {enabled, user, uid, gid, fallback, warning, off, error}. */
static json_t *privsep_json(const struct privsep_plan *p, int rc, const struct err *e)
{
    bool on = rc == 0 && p->enabled;

    return json_pack("{s:b, s:o, s:o, s:o, s:b, s:o, s:o, s:o}", "enabled", on, "user",
                     on ? json_string(p->user.name) : json_null(), "uid",
                     on ? json_integer(p->user.uid) : json_null(), "gid",
                     on ? json_integer(p->user.gid) : json_null(), "fallback", on && p->fallback,
                     "warning", on && p->fallback ? json_string(p->warning) : json_null(), "off",
                     rc == 0 && !on ? json_string(privsep_plan_off_name(p->off)) : json_null(),
                     "error", rc < 0 ? json_string(err_msg(e)) : json_null());
}

static void print_privsep(const struct privsep_plan *p, int rc, const struct err *e)
{
    char buf[256];

    if (rc < 0)
        printf("privilege separation: error: %s\n\n", err_msg(e));
    else
        printf("privilege separation: %s\n\n", privsep_plan_describe(p, buf, sizeof buf));
}

int cmd_status(const struct cli *c)
{
    struct store st = {.lock_fd = -1};
    struct desired_set ds = {0};
    struct store_cert *certs = NULL;
    struct plan_index ix = {0};
    size_t ncerts = 0;
    json_t *arr = json_array();
    time_t now = clock_now();
    int code = EXIT_OK, prc;
    struct privsep_plan pp;
    struct err e, pe;

    if (c->nargs > 0) {
        log_err("status takes no arguments (see acmed --help)");
        return EXIT_USAGE;
    }
    if (store_open(c->state_dir, &st, &e) < 0 || desired_load(st.root, &ds, &e) < 0 ||
        store_certs_load(&st, &certs, &ncerts, &e) < 0 ||
        (plan_index_certs(&ix, certs, ncerts) < 0 && err_set(&e, -ENOMEM, "out of memory"))) {
        log_err("%s", err_msg(&e));
        code = EXIT_USAGE;
        goto out;
    }
    /* A conf/acmed.yaml that would stop a reconcile (a missing user:...) is shown, not fatal:
     * the targets are still worth seeing. */
    err_clear(&pe);
    prc = privsep_status(st.root, &pp, &pe);
    if (!c->json) {
        json_t *d = daemon_record(&st, c->state_dir);

        print_daemon(d);
        json_decref(d);
        print_privsep(&pp, prc, &pe);
        printf("%-24s %-10s %-21s %-30s %s\n", "TARGET", "STATE", "NOT AFTER", "NEXT RENEWAL",
               "NAMES");
    }
    for (size_t i = 0; i < ds.ntargets; i++) {
        struct tstate ts;
        struct plan p;

        if (tstate_load(&st, ds.targets[i].file, &ts, &e) < 0)
            memset(&ts, 0, sizeof ts);
        plan_target_ix(&ds.targets[i], certs, ncerts, &ix, &ts, now, false, &p);
        if (p.action != PLAN_SATISFIED) {
            if (p.cur && p.critical)
                code = EXIT_CRITICAL;
            else if (code == EXIT_OK)
                code = EXIT_FAILED;
        }
        if (c->json)
            json_array_append_new(arr, target_json(&ds.targets[i], &p, &ts));
        else
            print_row(&ds.targets[i], &p, &ts);
        tstate_free(&ts);
    }
    for (size_t i = 0; i < ds.nerrors; i++) {
        if (c->json) {
            json_array_append_new(arr, json_pack("{s:s, s:s, s:[], s:s}", "file", ds.errors[i].file,
                                                 "state", "invalid", "names", "last_error",
                                                 ds.errors[i].message));
        } else {
            printf("%-24s %-10s %s\n", ds.errors[i].file, "invalid", ds.errors[i].message);
        }
        if (code == EXIT_OK)
            code = EXIT_FAILED;
    }
    if (prc < 0)
        code = EXIT_USAGE; /* what a reconcile would exit with: 2 comes first */
    if (c->json) {
        /* {"daemon": its record or null, "targets": [...]} (acmed(8), "status --json"). */
        json_t *d = daemon_record(&st, c->state_dir);
        json_t *top = json_pack("{s:o, s:o, s:O}", "daemon", d ? d : json_null(), "privsep",
                                privsep_json(&pp, prc, &pe), "targets", arr);

        json_dumpf(top, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(top);
    }
out:
    json_decref(arr);
    plan_index_free(&ix);
    store_certs_free(certs, ncerts);
    desired_set_clear(&ds);
    store_close(&st);
    return code;
}
