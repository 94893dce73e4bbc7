/* daemon_fleet: the daemon in fleet mode (see daemon_fleet.h). */
#include "daemon/daemon_fleet.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "challenge/listen_addr.h"
#include "challenge/webroot.h"
#include "cluster/fleet.h"
#include "serve/serve_listen.h"
#include "util/log.h"

struct daemon_fleet {
    struct fleet *f;
    struct serve_listen_held held;
    struct chal_lookup lookup; /* the held listener's misses */
    struct target defaults;    /* conf/target: its webroot-paths get every node's answers */
};

/* An http-01 answer of any node came or went: this node's webroot serves it too, so that the
 * CA may validate through this node's web server (DESIGN.md §12). */
static void on_answer(void *arg, enum canswer_type type, const char *key, const char *keyauth)
{
    struct daemon_fleet *df = arg;
    const char *const *paths = (const char *const *)df->defaults.webroot_paths;
    size_t n = df->defaults.nwebroot_paths;
    struct err e;
    int rc;

    if (type != CANSWER_HTTP01 || !n)
        return;
    rc = keyauth ? webroot_publish(paths, n, key, keyauth, strlen(keyauth), &e)
                 : webroot_unpublish(paths, n, key, &e);
    if (rc < 0)
        log_warn("cluster: the fleet's answer for %s in the webroot: %s", key, err_msg(&e));
}

/* ---- a token this node's listener does not know: the fleet's ---- */

struct ask {
    chal_lookup_done done;
    void *done_arg;
};

static void on_looked_up(void *arg, const char *keyauth)
{
    struct ask *a = arg;

    a->done(a->done_arg, keyauth);
    free(a);
}

/* The watched copy first (another node's answer, already seen), then etcd itself: the CA may
 * come before the watch brings it. The etcd client bounds each call: done always runs. */
static void ask(void *arg, const char *token, chal_lookup_done done, void *done_arg)
{
    struct daemon_fleet *df = arg;
    const char *ka = canswers_find(df->f->answers, CANSWER_HTTP01, token);
    struct ask *a;
    struct err e;

    if (ka || !(a = malloc(sizeof *a))) {
        done(done_arg, ka);
        return;
    }
    *a = (struct ask){done, done_arg};
    if (canswer_lookup(df->f->cl->kv, CANSWER_HTTP01, token, on_looked_up, a, &e) < 0) {
        free(a);
        done(done_arg, NULL);
    }
}

/* conf/target's http-ports (or, with no webroot, the default ones) as the held listener's
 * addresses; none when conf/target answers through a webroot only. */
static int held_addrs(const struct target *t, struct serve_listen **out, size_t *n, struct err *e)
{
    struct listen_addr *la = NULL;
    bool *req = NULL;
    size_t nla = 0;
    int rc = 0;

    *out = NULL;
    *n = 0;
    if (t->nhttp_ports)
        rc = listen_addrs_parse((const char *const *)t->http_ports, t->nhttp_ports, &la, &nla, e);
    else if (!t->nwebroot_paths)
        rc = listen_addrs_default_http(&la, &req, &nla, e);
    free(req);
    if (rc < 0)
        return rc;
    if (nla && !(*out = calloc(nla, sizeof **out))) {
        free(la);
        return err_set(e, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < nla; i++) {
        memcpy(&(*out)[i].sa, &la[i].sa, la[i].len);
        (*out)[i].len = la[i].len;
        snprintf((*out)[i].text, sizeof(*out)[i].text, "%s", la[i].text);
    }
    *n = nla;
    free(la);
    return 0;
}

int daemon_fleet_start(uv_loop_t *loop, const struct acmed_conf *conf, const char *root,
                       struct rec_opts *po, void (*changed)(void *arg), void *arg,
                       struct daemon_fleet **out, struct err *e)
{
    struct daemon_fleet *df = calloc(1, sizeof *df);
    struct serve_listen *addrs = NULL;
    size_t n = 0;
    int rc;

    *out = NULL;
    if (!df)
        return err_set(e, -ENOMEM, "out of memory");
    if ((rc = desired_load_defaults(root, &df->defaults, e)) < 0) {
        free(df);
        return rc;
    }
    if ((rc = held_addrs(&df->defaults, &addrs, &n, e)) < 0 ||
        (rc = fleet_open(loop, conf->cluster, changed, arg, &df->f, e)) < 0)
        goto fail;
    canswers_on_change(df->f->answers, on_answer, df);
    df->lookup = (struct chal_lookup){ask, df};
    if (n &&
        (rc = serve_listen_open(&df->held, loop, po->listeners, &df->lookup, addrs, n, e)) < 0) {
        err_wrap(e, "the fleet's http-01 listener");
        fleet_close(df->f, NULL, NULL);
        goto fail;
    }
    if (n)
        po->listeners = &df->held.f;
    po->fleet = df->f;
    log_notice("cluster: node %s in fleet mode%s", df->f->cl->node,
               n ? ", answering http-01 for the fleet" : "");
    free(addrs);
    *out = df;
    return 0;
fail:
    free(addrs);
    target_clear(&df->defaults);
    free(df);
    return rc;
}

bool daemon_fleet_up(const struct daemon_fleet *df, const char **why, const char **node)
{
    *why = df->f->why;
    *node = df->f->cl->node;
    return df->f->up;
}

static void on_closed(void *arg)
{
    *(bool *)arg = true;
}

void daemon_fleet_stop(struct daemon_fleet *df, bool *closed)
{
    if (!df) {
        *closed = true;
        return;
    }
    if (df->held.open)
        serve_listen_close(&df->held);
    fleet_close(df->f, on_closed, closed);
    target_clear(&df->defaults);
    free(df);
}
