/* cmd_cluster: `acmed cluster import` copies this node's desired/ into the fleet's targets in
 * etcd (sealed, names, key, profile and challenge types only: cluster/ctarget.h); `acmed
 * cluster targets` lists the fleet's targets as this node reads them (opened with its secret
 * file and merged over its conf/target). Both need conf/acmed.yaml's `cluster:` (DESIGN.md
 * §12). Fleet mode is being built: the daemon does not act on these targets yet. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <uv.h>

#include "cli/cli.h"
#include "cluster/cluster.h"
#include "cluster/ctarget.h"
#include "store/desired.h"
#include "store/store.h"
#include "util/fsio.h"
#include "util/log.h"

struct run {
    uv_loop_t loop;
    struct cluster *cl;
    unsigned pending, ok, failed;
    char *defaults; /* conf/target's text, NULL when none */
    size_t defaults_len;
};

struct one {
    struct run *r;
    char file[CTARGET_FILE_MAX + 1];
};

static void on_put(void *arg, int rc, const struct etcd_result *res, const struct err *e)
{
    struct one *o = arg;

    (void)res;
    o->r->pending--;
    if (rc < 0) {
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
        if (ckv_put(r->cl->kv, name, json, len, 0, on_put, o, &e) < 0) {
            log_err("cluster import: %s: %s", t->file, err_msg(&e));
            r->failed++;
            free(o);
        } else {
            r->pending++;
        }
        free(json);
    }
    return 0;
}

static void on_list(void *arg, int rc, const struct ckv_item *it, size_t n, size_t bad,
                    const struct err *e)
{
    struct run *r = arg;

    r->pending--;
    if (rc < 0) {
        log_err("cluster targets: %s", err_msg(e));
        r->failed++;
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *file = it[i].name + strlen("desired/");
        struct target t;
        struct err te;

        if (ctarget_decode(file, (const char *)it[i].value, it[i].len, r->defaults, r->defaults_len,
                           &t, &te) < 0) {
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

static void on_closed(void *arg)
{
    (void)arg;
}

int cmd_cluster(const struct cli *c)
{
    struct run r = {0};
    struct store st = {.lock_fd = -1};
    struct acmed_conf conf = {0};
    struct desired_set ds = {0};
    const char *sub = c->nargs ? c->args[0] : "";
    bool do_import = !strcmp(sub, "import");
    struct err e;
    int code = EXIT_USAGE;

    if (c->nargs != 1 || (!do_import && strcmp(sub, "targets"))) {
        log_err("usage: acmed cluster import|targets (see acmed --help)");
        return EXIT_USAGE;
    }
    if (store_open(c->state_dir, &st, &e) < 0 || acmed_conf_load(st.root, &conf, &e) < 0) {
        log_err("%s", err_msg(&e));
        goto out;
    }
    if (!conf.cluster) {
        log_err("cluster %s: %s/conf/acmed.yaml has no cluster: section (fleet mode is off)", sub,
                st.root);
        goto out;
    }
    if (do_import && desired_load(st.root, &ds, &e) < 0) {
        log_err("%s", err_msg(&e));
        goto out;
    }
    if (!do_import) {
        char *path = store_path(&st, "conf/target");

        if (path && fsio_read_file(path, 1u << 20, &r.defaults, &r.defaults_len, &e) < 0 &&
            e.code != -ENOENT) {
            log_err("%s", err_msg(&e));
            free(path);
            goto out;
        }
        free(path);
    }
    uv_loop_init(&r.loop);
    if (cluster_open(&r.loop, conf.cluster, &r.cl, &e) < 0) {
        log_err("cluster: %s", err_msg(&e));
        uv_loop_close(&r.loop);
        goto out;
    }
    code = EXIT_OK;
    if (do_import) {
        if (import(&r, &ds) < 0)
            r.failed++;
    } else if (ckv_list(r.cl->kv, "desired/", on_list, &r, &e) < 0) {
        log_err("cluster targets: %s", err_msg(&e));
        r.failed++;
    } else {
        r.pending++;
    }
    while (r.pending && uv_run(&r.loop, UV_RUN_ONCE))
        ;
    cluster_close(r.cl, on_closed, NULL);
    uv_run(&r.loop, UV_RUN_DEFAULT);
    uv_loop_close(&r.loop);
    if (do_import)
        printf("imported %u target%s into etcd, %u not\n", r.ok, r.ok == 1 ? "" : "s", r.failed);
    code = r.failed ? EXIT_FAILED : EXIT_OK;
out:
    free(r.defaults);
    desired_set_clear(&ds);
    acmed_conf_clear(&conf);
    store_close(&st);
    return code;
}
