/* fleet_view: the fleet's targets and lock holders for status (see fleet_view.h). */
#include "cli/fleet_view.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli_fleet.h"
#include "cluster/ctarget.h"
#include "cluster/lockset.h"

struct load {
    struct cli_fleet f;
    struct fleet_view *v;
    int rc; /* the first failure of either read; e says why */
    struct err e;
};

static void failed(struct load *l, int rc, const struct err *e)
{
    if (l->rc == 0) {
        l->rc = rc;
        l->e = *e;
    }
}

static void out_of_memory(struct load *l)
{
    struct err e;

    failed(l, err_set(&e, -ENOMEM, "out of memory"), &e);
}

/* Appends an error entry to v->ds (file and message copied). */
static int add_error(struct desired_set *ds, const char *file, const char *msg)
{
    struct desired_error *n = realloc(ds->errors, (ds->nerrors + 1) * sizeof *n);

    if (!n)
        return -ENOMEM;
    ds->errors = n;
    n[ds->nerrors] = (struct desired_error){.file = strdup(file), .message = strdup(msg)};
    if (!n[ds->nerrors].file || !n[ds->nerrors].message) {
        free(n[ds->nerrors].file);
        free(n[ds->nerrors].message);
        return -ENOMEM;
    }
    ds->nerrors++;
    return 0;
}

static void on_targets(void *arg, int rc, const struct ckv_item *it, size_t n, size_t bad,
                       const struct err *e)
{
    struct load *l = arg;
    struct desired_set *ds = &l->v->ds;
    char msg[160];

    l->f.pending--;
    if (rc < 0) {
        failed(l, rc, e);
        return;
    }
    if (n && !(ds->targets = calloc(n, sizeof *ds->targets))) {
        out_of_memory(l);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        const char *file = it[i].name + strlen("desired/");
        struct err te;

        if (ctarget_decode(file, (const char *)it[i].value, it[i].len, l->f.defaults,
                           l->f.defaults_len, &ds->targets[ds->ntargets], &te) == 0)
            ds->ntargets++;
        else if (add_error(ds, file, err_msg(&te)) < 0)
            out_of_memory(l);
    }
    snprintf(msg, sizeof msg,
             "%zu value%s under desired/ in etcd that this node's secret-file does not open", bad,
             bad == 1 ? "" : "s");
    if (bad && add_error(ds, "?", msg) < 0)
        out_of_memory(l);
}

static void on_holders(void *arg, int rc, const struct lockset_holder *h, size_t n,
                       const struct err *e)
{
    struct load *l = arg;
    struct fleet_view *v = l->v;

    l->f.pending--;
    if (rc < 0) {
        failed(l, rc, e);
        return;
    }
    if (n && !(v->holders = calloc(n, sizeof *v->holders))) {
        out_of_memory(l);
        return;
    }
    for (size_t i = 0; i < n; i++) {
        struct fleet_holder *o = &v->holders[v->nholders];

        if (!(o->target = strdup(h[i].target)) || !(o->node = strdup(h[i].node))) {
            free(o->target);
            out_of_memory(l);
            return;
        }
        v->nholders++;
    }
}

/* Empties what the reads brought: etcd did not answer, so nothing of it is shown. */
static void drop_reads(struct fleet_view *v)
{
    char node[sizeof v->node], error[sizeof v->error];

    memcpy(node, v->node, sizeof node);
    memcpy(error, v->error, sizeof error);
    fleet_view_clear(v);
    memcpy(v->node, node, sizeof node);
    memcpy(v->error, error, sizeof error);
}

int fleet_view_load(const char *root, const struct acmed_cluster *cc, unsigned timeout_ms,
                    struct fleet_view *v, struct err *e)
{
    struct load l = {.v = v};
    struct err we;

    memset(v, 0, sizeof *v);
    snprintf(v->node, sizeof v->node, "%s", cc->node);
    if (cli_fleet_open(&l.f, root, cc, e) < 0)
        return e->code;
    if (ckv_list(l.f.cl->kv, "desired/", on_targets, &l, &l.e) < 0)
        l.rc = l.e.code;
    else
        l.f.pending++;
    if (l.rc == 0 && lockset_holders(l.f.cl->kv, on_holders, &l, &l.e) < 0)
        l.rc = l.e.code;
    else if (l.rc == 0)
        l.f.pending++;
    if (cli_fleet_wait(&l.f, timeout_ms, &we) < 0)
        failed(&l, we.code, &we);
    cli_fleet_close(&l.f);
    v->reachable = l.rc == 0;
    if (!v->reachable) {
        snprintf(v->error, sizeof v->error, "%s", err_msg(&l.e));
        drop_reads(v);
    }
    return 0;
}

const char *fleet_view_holder(const struct fleet_view *v, const char *target)
{
    for (size_t i = 0; i < v->nholders; i++)
        if (!strcmp(v->holders[i].target, target))
            return v->holders[i].node;
    return "-";
}

void fleet_view_clear(struct fleet_view *v)
{
    desired_set_clear(&v->ds);
    for (size_t i = 0; i < v->nholders; i++) {
        free(v->holders[i].target);
        free(v->holders[i].node);
    }
    free(v->holders);
    memset(v, 0, sizeof *v);
}
