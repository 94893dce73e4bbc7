/* cli_fleet: a fleet command's cluster, loop and deadline (see cli_fleet.h). */
#include "cli/cli_fleet.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/desired.h"
#include "util/fsio.h"

#define DEFAULTS_MAX (1u << 20) /* bytes of conf/target */

/* Reads conf/acmed.yaml's cluster: into f->own. */
static int load_conf(struct cli_fleet *f, const char *root, struct err *e)
{
    struct acmed_conf conf = {0};
    int rc;

    if ((rc = acmed_conf_load(root, &conf, e)) < 0)
        return rc;
    if (!conf.cluster)
        rc = err_set(e, -ENOENT, "%s/conf/acmed.yaml has no cluster: section (fleet mode is off)",
                     root);
    f->own = conf.cluster;
    conf.cluster = NULL;
    acmed_conf_clear(&conf);
    return rc;
}

static int read_defaults(struct cli_fleet *f, const char *root, struct err *e)
{
    char *path = fsio_join(root, "conf/target");
    int rc = 0;

    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    if (fsio_read_file(path, DEFAULTS_MAX, &f->defaults, &f->defaults_len, e) < 0) {
        if (e->code == -ENOENT)
            err_clear(e);
        else
            rc = e->code;
    }
    free(path);
    return rc;
}

int cli_fleet_open(struct cli_fleet *f, const char *root, const struct acmed_cluster *cc,
                   struct err *e)
{
    int rc;

    memset(f, 0, sizeof *f);
    if ((!cc && (rc = load_conf(f, root, e)) < 0) || (rc = read_defaults(f, root, e)) < 0)
        goto fail;
    f->conf = cc ? cc : f->own;
    uv_loop_init(&f->loop);
    uv_timer_init(&f->loop, &f->deadline);
    f->deadline.data = f;
    if ((rc = cluster_open(&f->loop, f->conf, &f->cl, e)) < 0) {
        err_wrap(e, "cluster");
        uv_close((uv_handle_t *)&f->deadline, NULL);
        uv_run(&f->loop, UV_RUN_DEFAULT);
        uv_loop_close(&f->loop);
        goto fail;
    }
    f->open = true;
    return 0;
fail:
    conf_cluster_free(f->own);
    free(f->defaults);
    memset(f, 0, sizeof *f);
    return rc;
}

static void on_deadline(uv_timer_t *t)
{
    struct cli_fleet *f = t->data;

    f->expired = true;
}

int cli_fleet_wait(struct cli_fleet *f, unsigned timeout_ms, struct err *e)
{
    char where[512] = "";

    uv_timer_start(&f->deadline, on_deadline, timeout_ms, 0);
    while (f->pending && !f->expired && uv_run(&f->loop, UV_RUN_ONCE))
        ;
    uv_timer_stop(&f->deadline);
    if (!f->pending)
        return 0;
    f->expired = true;
    for (size_t i = 0; i < f->conf->nendpoints; i++)
        snprintf(where + strlen(where), sizeof where - strlen(where), "%s%s", i ? ", " : "",
                 f->conf->endpoints[i]);
    return err_set(e, -ETIMEDOUT, "etcd (%s) did not answer within %u s", where,
                   (timeout_ms + 999) / 1000);
}

static void on_closed(void *arg)
{
    (void)arg;
}

void cli_fleet_close(struct cli_fleet *f)
{
    if (f->open) {
        /* etcd_free ends what is in flight: the callbacks run from the loop, here. */
        cluster_close(f->cl, on_closed, NULL);
        uv_close((uv_handle_t *)&f->deadline, NULL);
        uv_run(&f->loop, UV_RUN_DEFAULT);
        uv_loop_close(&f->loop);
    }
    conf_cluster_free(f->own);
    free(f->defaults);
    memset(f, 0, sizeof *f);
}
