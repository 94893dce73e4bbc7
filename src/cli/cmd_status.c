/* cmd_status: `acmed status [--json]`: every target with its names, certificate, expiry,
 * next renewal and why, and last error, and whether privilege separation applies; read
 * without the lock. Exit codes as reconcile's (0 all satisfied, 1 something is not, 2
 * conf/acmed.yaml would stop a reconcile, 3 a certificate in its critical window is not
 * satisfied), so monitoring can use it.
 *
 * In fleet mode (conf/acmed.yaml cluster:, DESIGN.md §12) the targets are the fleet's, read
 * from etcd (cli/fleet_view.h), each with the node holding its lock and this node's installed
 * serial; when etcd does not answer within a few seconds, status says so and shows the
 * certificates this node has installed (exit 1, or 3 when one is in its critical window). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cli/fleet_view.h"
#include "privsep/privsep_plan.h"
#include "reconcile/plan.h"
#include "reconcile/policy.h"
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

/* The certificate live/<name> points at, among certs: the one installed on this node. */
static const struct store_cert *installed(const struct store *st, const struct store_cert *certs,
                                          size_t ncerts, const char *name)
{
    char id[STORE_ID_LEN + 1];
    struct err e;

    if (store_live_get(st, name, id, &e) < 0)
        return NULL;
    for (size_t i = 0; i < ncerts; i++)
        if (!strcmp(certs[i].id, id))
            return &certs[i];
    return NULL;
}

/* What fleet mode adds to a target: its lock's holder ("-": none) and the serial of the
 * certificate installed here for its first name (NULL: none). */
struct fleet_row {
    const char *holder, *serial;
};

static json_t *target_json(const struct target *t, const struct plan *p, const struct tstate *ts,
                           const struct fleet_row *f)
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
    if (f) {
        json_object_set_new(o, "holder", json_string(f->holder));
        json_object_set_new(o, "serial", f->serial ? json_string(f->serial) : json_null());
    }
    return o;
}

static void print_row(const struct target *t, const struct plan *p, const struct tstate *ts,
                      const struct fleet_row *f)
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
    if (f)
        printf("    holder: %s, serial: %s\n", f->holder, f->serial ? f->serial : "-");
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
    /* A daemon in fleet mode records whether it reaches etcd, and why not. */
    if (json_is_string(json_object_get(json_object_get(d, "cluster"), "etcd")))
        printf("daemon: etcd %s%s%s\n", str_at(d, "cluster", "etcd"),
               *str_at(d, "cluster", "error") ? ": " : "", str_at(d, "cluster", "error"));
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

/* How many entries desired/ holds (dotfiles aside): fleet mode ignores them. */
static size_t local_desired(const char *root)
{
    char *path = fsio_join(root, "desired");
    DIR *d = path ? opendir(path) : NULL;
    struct dirent *de;
    size_t n = 0;

    while (d && (de = readdir(d)))
        if (de->d_name[0] != '.')
            n++;
    if (d)
        closedir(d);
    free(path);
    return n;
}

/* Fleet mode: true when conf/acmed.yaml has cluster:, with the fleet read into *fv; *usage
 * when the cluster cannot even be opened (a secret file...). A conf/acmed.yaml that does not
 * load is not fleet mode here: privsep_status reports it. */
static bool fleet_load(const char *root, struct fleet_view *fv, bool *usage)
{
    struct acmed_conf conf;
    struct err e;
    bool on;

    *usage = false;
    if (acmed_conf_load(root, &conf, &e) < 0)
        return false;
    if ((on = conf.cluster != NULL) &&
        fleet_view_load(root, conf.cluster, FLEET_VIEW_WAIT_MS, fv, &e) < 0) {
        snprintf(fv->error, sizeof fv->error, "%s", err_msg(&e));
        *usage = true;
    }
    acmed_conf_clear(&conf);
    return on;
}

/* status --json's "cluster": {node, etcd: "ok"|"unreachable", error, local_desired_ignored}. */
static json_t *cluster_json(const struct fleet_view *fv, size_t ignored)
{
    return json_pack("{s:s, s:s, s:o, s:I}", "node", fv->node, "etcd",
                     fv->reachable ? "ok" : "unreachable", "error",
                     fv->reachable ? json_null() : json_string(fv->error), "local_desired_ignored",
                     (json_int_t)ignored);
}

static void print_cluster(const struct fleet_view *fv, size_t ignored)
{
    if (fv->reachable)
        printf("cluster: node %s, etcd ok\n", fv->node);
    else
        printf("cluster: node %s, etcd unreachable: %s\n", fv->node, fv->error);
    if (ignored)
        printf("cluster: desired/ holds %zu file%s, ignored in fleet mode (acmed cluster import "
               "copies them into etcd)\n",
               ignored, ignored == 1 ? "" : "s");
}

/* The certificates installed on this node (live/), which fleet mode shows whether or not
 * etcd answers: into arr, or printed when arr is NULL. Returns EXIT_CRITICAL when one is in
 * its critical window (by its lifetime: the targets, in etcd, may be unknown), else EXIT_OK. */
static int show_installed(const struct store *st, const struct store_cert *certs, size_t ncerts,
                          time_t now, json_t *arr)
{
    char **names = NULL;
    size_t n = 0;
    struct err e;
    int code = EXIT_OK;

    if (store_live_list(st, &names, &n, &e) < 0) {
        log_warn("status: %s", err_msg(&e));
        return EXIT_OK;
    }
    if (!arr)
        printf("the fleet's targets are unknown while etcd is unreachable; installed here:\n"
               "%-32s %-21s %s\n",
               "LIVE", "NOT AFTER", "SERIAL");
    for (size_t i = 0; i < n; i++) {
        const struct store_cert *c = installed(st, certs, ncerts, names[i]);
        struct policy_cert pc = {c ? c->not_before : 0, c ? c->not_after : 0, 0};
        bool critical = c && policy_critical(&pc, 0, now);
        char na[32] = "-";

        if (c)
            clock_rfc3339(c->not_after, na, sizeof na);
        if (critical)
            code = EXIT_CRITICAL;
        if (arr)
            json_array_append_new(
                arr, json_pack("{s:s, s:o, s:o, s:o, s:b}", "name", names[i], "cert_id",
                               c ? json_string(c->id) : json_null(), "serial",
                               c ? json_string(c->serial_hex) : json_null(), "not_after",
                               time_json(c ? c->not_after : 0), "critical", critical));
        else
            printf("%-32s %-21s %s\n", names[i], na, c ? c->serial_hex : "-");
        free(names[i]);
    }
    free(names);
    return code;
}

/* Every target of set, in JSON into arr or printed, fleet mode's holder and serial with fv.
 * Returns the exit code they give. */
static int show_targets(const struct cli *c, const struct store *st, const struct desired_set *set,
                        const struct store_cert *certs, size_t ncerts, const struct plan_index *ix,
                        const struct fleet_view *fv, json_t *arr)
{
    time_t now = clock_now();
    int code = EXIT_OK;
    struct err e;

    for (size_t i = 0; i < set->ntargets; i++) {
        const struct target *t = &set->targets[i];
        const struct store_cert *cur = installed(st, certs, ncerts, t->names[0].name);
        struct fleet_row f = {fv ? fleet_view_holder(fv, t->file) : NULL,
                              cur ? cur->serial_hex : NULL};
        struct tstate ts;
        struct plan p;

        if (tstate_load(st, t->file, &ts, &e) < 0)
            memset(&ts, 0, sizeof ts);
        plan_target_ix(t, certs, ncerts, ix, &ts, now, false, &p);
        if (p.action != PLAN_SATISFIED) {
            if (p.cur && p.critical)
                code = EXIT_CRITICAL;
            else if (code == EXIT_OK)
                code = EXIT_FAILED;
        }
        if (c->json)
            json_array_append_new(arr, target_json(t, &p, &ts, fv ? &f : NULL));
        else
            print_row(t, &p, &ts, fv ? &f : NULL);
        tstate_free(&ts);
    }
    for (size_t i = 0; i < set->nerrors; i++) {
        if (c->json) {
            json_array_append_new(arr, json_pack("{s:s, s:s, s:[], s:s}", "file",
                                                 set->errors[i].file, "state", "invalid", "names",
                                                 "last_error", set->errors[i].message));
        } else {
            printf("%-24s %-10s %s\n", set->errors[i].file, "invalid", set->errors[i].message);
        }
        if (code == EXIT_OK)
            code = EXIT_FAILED;
    }
    return code;
}

int cmd_status(const struct cli *c)
{
    struct store st = {.lock_fd = -1};
    struct desired_set ds = {0};
    struct fleet_view fv = {0};
    struct store_cert *certs = NULL;
    struct plan_index ix = {0};
    size_t ncerts = 0, ignored = 0;
    json_t *arr = json_array(), *inst = json_array();
    int code = EXIT_OK, icode = EXIT_OK, prc;
    bool fleet = false, fleet_usage = false;
    struct privsep_plan pp;
    struct err e, pe;

    if (c->nargs > 0) {
        log_err("status takes no arguments (see acmed --help)");
        return EXIT_USAGE;
    }
    if (store_open(c->state_dir, &st, &e) < 0 ||
        (!(fleet = fleet_load(st.root, &fv, &fleet_usage)) && desired_load(st.root, &ds, &e) < 0) ||
        store_certs_load(&st, &certs, &ncerts, &e) < 0 ||
        (plan_index_certs(&ix, certs, ncerts) < 0 && err_set(&e, -ENOMEM, "out of memory"))) {
        log_err("%s", err_msg(&e));
        code = EXIT_USAGE;
        goto out;
    }
    if (fleet)
        ignored = local_desired(st.root);
    /* A conf/acmed.yaml that would stop a reconcile (a missing user:...) is shown, not fatal:
     * the targets are still worth seeing. */
    err_clear(&pe);
    prc = privsep_status(st.root, &pp, &pe);
    if (!c->json) {
        json_t *d = daemon_record(&st, c->state_dir);

        if (fleet)
            print_cluster(&fv, ignored);
        print_daemon(d);
        json_decref(d);
        print_privsep(&pp, prc, &pe);
        if (fleet && !fv.reachable)
            icode = show_installed(&st, certs, ncerts, clock_now(), NULL);
        else
            printf("%-24s %-10s %-21s %-30s %s\n", "TARGET", "STATE", "NOT AFTER", "NEXT RENEWAL",
                   "NAMES");
    } else if (fleet) {
        icode = show_installed(&st, certs, ncerts, clock_now(), inst);
    }
    code = show_targets(c, &st, fleet ? &fv.ds : &ds, certs, ncerts, &ix, fleet ? &fv : NULL, arr);
    if (fleet && !fv.reachable) /* the fleet's targets could not be checked */
        code = icode == EXIT_CRITICAL ? EXIT_CRITICAL : EXIT_FAILED;
    if (prc < 0 || fleet_usage)
        code = EXIT_USAGE; /* what a reconcile would exit with: 2 comes first */
    if (c->json) {
        /* {"daemon": its record or null, "targets": [...]} (acmed(8), "status --json"); in
         * fleet mode "cluster" and this node's "installed" certificates too. */
        json_t *d = daemon_record(&st, c->state_dir);
        json_t *top = json_pack("{s:o, s:o, s:O}", "daemon", d ? d : json_null(), "privsep",
                                privsep_json(&pp, prc, &pe), "targets", arr);

        if (fleet) {
            json_object_set_new(top, "cluster", cluster_json(&fv, ignored));
            json_object_set(top, "installed", inst);
        }
        json_dumpf(top, stdout, JSON_INDENT(2));
        printf("\n");
        json_decref(top);
    }
out:
    json_decref(inst);
    json_decref(arr);
    plan_index_free(&ix);
    store_certs_free(certs, ncerts);
    fleet_view_clear(&fv);
    desired_set_clear(&ds);
    store_close(&st);
    return code;
}
