/* cmd_cluster: `acmed cluster import` copies this node's desired/ into the fleet's targets in
 * etcd (sealed, names, key, profile and challenge types only: cluster/ctarget.h); `acmed
 * cluster targets` lists the fleet's targets as this node reads them (opened with its secret
 * file and merged over its conf/target). Both need conf/acmed.yaml's `cluster:` (DESIGN.md
 * §12); the fleet's daemons act on these targets. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/cli_fleet.h"
#include "cluster/ctarget.h"
#include "store/desired.h"
#include "store/store.h"
#include "util/log.h"

struct run {
    struct cli_fleet f;
    unsigned ok, failed;
};

struct one {
    struct run *r;
    char file[CTARGET_FILE_MAX + 1];
};

static void on_put(void *arg, int rc, const struct etcd_result *res, const struct err *e)
{
    struct one *o = arg;

    (void)res;
    o->r->f.pending--;
    if (rc < 0) {
        if (!o->r->f.expired) /* else cli_fleet_wait said why */
            log_err("cluster import: %s: %s", o->file, err_msg(e));
        o->r->failed++;
    } else {
        log_info("cluster import: %s", o->file);
        o->r->ok++;
    }
    free(o);
}

static int import(struct run *r, const struct desired_set *ds)
{
    for (size_t i = 0; i < ds->nerrors; i++) {
        log_err("cluster import: %s not imported: %s", ds->errors[i].file, ds->errors[i].message);
        r->failed++;
    }
    for (size_t i = 0; i < ds->ntargets; i++) {
        const struct target *t = &ds->targets[i];
        char name[CTARGET_FILE_MAX + 16], *json = NULL;
        struct one *o;
        size_t len;
        struct err e;

        if (!ctarget_file_ok(t->file)) {
            log_err("cluster import: %s: this file name cannot name a target in etcd", t->file);
            r->failed++;
            continue;
        }
        if (ctarget_encode(t, &json, &len, &e) < 0) {
            log_err("cluster import: %s", err_msg(&e));
            r->failed++;
            continue;
        }
        snprintf(name, sizeof name, "desired/%s", t->file);
        if (!(o = calloc(1, sizeof *o))) {
            free(json);
            return -ENOMEM;
        }
        o->r = r;
        snprintf(o->file, sizeof o->file, "%s", t->file);
        if (ckv_put(r->f.cl->kv, name, json, len, 0, on_put, o, &e) < 0) {
            log_err("cluster import: %s: %s", t->file, err_msg(&e));
            r->failed++;
            free(o);
        } else {
            r->f.pending++;
        }
        free(json);
    }
    return 0;
}

static void on_list(void *arg, int rc, const struct ckv_item *it, size_t n, size_t bad,
                    const struct err *e)
{
    struct run *r = arg;

    r->f.pending--;
    if (rc < 0) {
        if (!r->f.expired)
            log_err("cluster targets: %s", err_msg(e));
        r->failed++;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *file = it[i].name + strlen("desired/");
        struct target t;
        struct err te;

        if (ctarget_decode(file, (const char *)it[i].value, it[i].len, r->f.defaults,
                           r->f.defaults_len, &t, &te) < 0) {
            log_err("cluster targets: %s", err_msg(&te));
            r->failed++;
            continue;
        }
        printf("%s:", t.file);
        for (size_t k = 0; k < t.nnames; k++)
            printf(" %s", t.names[k].name);
        printf("\n");
        target_clear(&t);
        r->ok++;
    }
    if (bad) {
        log_err("cluster targets: %zu value%s under desired/ that this node's secret-file does "
                "not open (another cluster's secret, or written by someone else)",
                bad, bad == 1 ? "" : "s");
        r->failed += (unsigned)bad;
    }
}

int cmd_cluster(const struct cli *c)
{
    struct run r = {0};
    struct store st = {.lock_fd = -1};
    struct desired_set ds = {0};
    const char *sub = c->nargs ? c->args[0] : "";
    bool do_import = !strcmp(sub, "import");
    struct err e;
    int code = EXIT_USAGE;

    if (c->nargs != 1 || (!do_import && strcmp(sub, "targets"))) {
        log_err("usage: acmed cluster import|targets (see acmed --help)");
        return EXIT_USAGE;
    }
    if (store_open(c->state_dir, &st, &e) < 0) {
        log_err("%s", err_msg(&e));
        goto out;
    }
    if (cli_fleet_open(&r.f, st.root, NULL, &e) < 0) {
        log_err("cluster %s: %s", sub, err_msg(&e));
        goto out;
    }
    if (do_import && desired_load(st.root, &ds, &e) < 0) {
        log_err("%s", err_msg(&e));
        cli_fleet_close(&r.f);
        goto out;
    }
    if (do_import) {
        if (import(&r, &ds) < 0)
            r.failed++;
    } else if (ckv_list(r.f.cl->kv, "desired/", on_list, &r, &e) < 0) {
        log_err("cluster targets: %s", err_msg(&e));
        r.failed++;
    } else {
        r.f.pending++;
    }
    if (cli_fleet_wait(&r.f, CLI_FLEET_WAIT_MS, &e) < 0) {
        log_err("cluster %s: %s", sub, err_msg(&e));
        r.failed++;
    }
    cli_fleet_close(&r.f);
    if (do_import)
        printf("imported %u target%s into etcd, %u not\n", r.ok, r.ok == 1 ? "" : "s", r.failed);
    code = r.failed ? EXIT_FAILED : EXIT_OK;
out:
    desired_set_clear(&ds);
    store_close(&st);
    return code;
}
