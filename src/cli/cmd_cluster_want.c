/* cmd_cluster_want: `acmed want` and `acmed unwant` in fleet mode (conf/acmed.yaml cluster:,
 * DESIGN.md §12): the fleet's targets in etcd change instead of this node's desired/, and no
 * pass runs here (the fleet's daemons see the change and act on it). want
 * writes desired/<first name> as `acmed cluster import` would have; unwant drops the names
 * from every target that lists them, deleting a target left without names, each change made
 * only if nobody changed that target since it was read. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_fleet.h"
#include "cli/cmd_cluster_want.h"
#include "cluster/ctarget.h"
#include "store/desired.h"
#include "store/names.h"
#include "util/buf.h"
#include "util/log.h"

struct op {
    struct cli_fleet f;
    char **drop; /* unwant: normalised names */
    size_t ndrop;
    unsigned changed, failed;
};

static void on_written(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    struct op *o = arg;

    o->f.pending--;
    if (rc < 0) {
        if (!o->f.expired)
            log_err("cluster: %s", err_msg(e));
        o->failed++;
    } else if (!r->succeeded) {
        log_err("cluster: a target changed while it was being changed: run the command again");
        o->failed++;
    } else {
        o->changed++;
    }
}

static void run_ops(struct op *o)
{
    struct err e;

    if (cli_fleet_wait(&o->f, CLI_FLEET_WAIT_MS, &e) < 0) {
        log_err("cluster: %s", err_msg(&e));
        o->failed++;
    }
}

/* The names of args, normalised, into a NULL-ended array (caller frees each and it). */
static char **normalise(char *const *args, size_t n, struct err *e)
{
    char **v = calloc(n + 1, sizeof *v);
    bool ip;

    for (size_t i = 0; v && i < n; i++)
        if (name_normalize(args[i], strlen(args[i]), &v[i], &ip, e) < 0) {
            for (size_t k = 0; k < i; k++)
                free(v[k]);
            free(v);
            return NULL;
        }
    if (!v)
        err_set(e, -ENOMEM, "out of memory");
    return v;
}

static void free_strv(char **v)
{
    for (size_t i = 0; v && v[i]; i++)
        free(v[i]);
    free(v);
}

static void on_put(void *arg, int rc, const struct etcd_result *r, const struct err *e)
{
    struct op *o = arg;

    (void)r;
    o->f.pending--;
    if (rc < 0) {
        if (!o->f.expired)
            log_err("cluster: %s", err_msg(e));
        o->failed++;
    } else {
        o->changed++;
    }
}

/* want: desired/<first name> in etcd, replacing what was there (as `want` replaces a file). */
static int want(struct op *o, char *const *args, size_t n, bool apex)
{
    char **names = NULL, *json = NULL;
    struct buf yaml = {0};
    struct target t = {0};
    char key[CTARGET_FILE_MAX + 16];
    size_t len;
    struct err e;
    int rc = -EINVAL;

    if (!(names = normalise(args, n, &e)))
        goto out;
    if (!ctarget_file_ok(names[0])) {
        err_set(&e, -EINVAL, "%s cannot name a target in etcd", names[0]);
        goto out;
    }
    /* Normalised names hold no character YAML would read as anything but the name. */
    buf_printf(&yaml, "satisfy:\n  www-apex: %s\n  names: [", apex ? "true" : "false");
    for (size_t i = 0; i < n; i++)
        buf_printf(&yaml, "%s\"%s\"", i ? ", " : "", names[i]);
    buf_puts(&yaml, "]\n");
    if ((rc = desired_parse(names[0], yaml.data, yaml.len, o->f.defaults, o->f.defaults_len, &t,
                            &e)) < 0 ||
        (rc = ctarget_encode(&t, &json, &len, &e)) < 0)
        goto out;
    snprintf(key, sizeof key, "desired/%s", names[0]);
    if ((rc = ckv_put(o->f.cl->kv, key, json, len, 0, on_put, o, &e)) < 0)
        goto out;
    o->f.pending++;
    run_ops(o);
    if (o->changed)
        printf("the fleet wants %s (desired/%s in etcd)\n", t.names[0].name, names[0]);
out:
    if (rc < 0)
        log_err("want: %s", err_msg(&e));
    target_clear(&t);
    buf_clear(&yaml);
    free(json);
    free_strv(names);
    return rc < 0 || o->failed ? -EIO : 0;
}

static bool dropped(const struct op *o, const char *name)
{
    for (size_t i = 0; i < o->ndrop; i++)
        if (!strcmp(o->drop[i], name))
            return true;
    return false;
}

/* Removes the dropped names from v[0..*n). True when one was there. */
static bool drop_names(const struct op *o, struct target_name *v, size_t *n)
{
    size_t k = 0;
    bool any = false;

    for (size_t i = 0; i < *n; i++) {
        if (dropped(o, v[i].name)) {
            free(v[i].name);
            any = true;
            continue;
        }
        v[k++] = v[i];
    }
    *n = k;
    return any;
}

static void on_targets(void *arg, int rc, const struct ckv_item *it, size_t n, size_t bad,
                       const struct err *e)
{
    struct op *o = arg;

    o->f.pending--;
    if (rc < 0) {
        if (!o->f.expired)
            log_err("unwant: %s", err_msg(e));
        o->failed++;
        return;
    }
    if (bad)
        log_warn("unwant: %zu target%s in etcd this node cannot open: left alone", bad,
                 bad == 1 ? "" : "s");
    for (size_t i = 0; i < n; i++) {
        const char *file = it[i].name + strlen("desired/");
        struct target t;
        char *json = NULL;
        size_t len;
        struct err te;
        int wrc;

        if (ctarget_decode(file, (const char *)it[i].value, it[i].len, o->f.defaults,
                           o->f.defaults_len, &t, &te) < 0) {
            log_warn("unwant: %s", err_msg(&te));
            continue;
        }
        bool in_names = drop_names(o, t.names, &t.nnames);
        bool in_req = drop_names(o, t.req_names, &t.nreq_names);

        if (!in_names && !in_req) {
            target_clear(&t);
            continue;
        }
        if (t.nnames == 0 || t.nreq_names == 0)
            wrc =
                ckv_delete_if_mod(o->f.cl->kv, it[i].name, it[i].mod_revision, on_written, o, &te);
        else if ((wrc = ctarget_encode(&t, &json, &len, &te)) == 0)
            wrc = ckv_put_if_mod(o->f.cl->kv, it[i].name, it[i].mod_revision, json, len, on_written,
                                 o, &te);
        if (wrc < 0) {
            log_err("unwant: %s: %s", file, err_msg(&te));
            o->failed++;
        } else {
            o->f.pending++;
            log_info("unwant: desired/%s in etcd %s", file,
                     t.nnames && t.nreq_names ? "keeps its other names" : "goes");
        }
        free(json);
        target_clear(&t);
    }
}

static int unwant(struct op *o, char *const *args, size_t n)
{
    struct err e;

    if (!(o->drop = normalise(args, n, &e))) {
        log_err("unwant: %s", err_msg(&e));
        return -EINVAL;
    }
    o->ndrop = n;
    if (ckv_list(o->f.cl->kv, "desired/", on_targets, o, &e) < 0) {
        log_err("unwant: %s", err_msg(&e));
        return -EIO;
    }
    o->f.pending++;
    run_ops(o);
    printf("unwant: %u target%s in etcd changed\n", o->changed, o->changed == 1 ? "" : "s");
    return o->failed ? -EIO : 0;
}

int cluster_want_run(const struct cli *c, const struct acmed_cluster *cc, const char *root,
                     bool is_want)
{
    struct op o = {0};
    struct err e;
    int rc;

    if (cli_fleet_open(&o.f, root, cc, &e) < 0) {
        log_err("%s", err_msg(&e));
        return EXIT_USAGE;
    }
    rc = is_want ? want(&o, c->args, c->nargs, c->apex) : unwant(&o, c->args, c->nargs);
    cli_fleet_close(&o.f);
    free_strv(o.drop);
    return rc == -EINVAL ? EXIT_USAGE : rc < 0 ? EXIT_FAILED : EXIT_OK;
}
