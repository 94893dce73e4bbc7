/* cmd_reconcile: `acmed --once` / `acmed reconcile [--force]`, and the pass other commands
 * run after changing desired/. */
#include <signal.h>
#include <uv.h>

#include "cli/cli.h"
#include "daemon/daemon.h"
#include "daemon/privsep_start.h"
#include "reconcile/reconcile.h"
#include "util/log.h"

/* The reconciler's options from the command line; `hooks` (one slot) holds --hooks. */
struct rec_opts cli_rec_opts(const struct cli *c, const char **hooks)
{
    struct rec_opts o = {
        .state_dir = c->state_dir,
        .hook_dirs = c->hooks_dir ? hooks : NULL,
        .nhook_dirs = c->hooks_dir ? 1 : 0,
        .ca_bundle = c->ca_bundle,
        .provider = c->provider,
        .agree_tos = c->agree_tos,
    };

    hooks[0] = c->hooks_dir;
    return o;
}

/* One pass on a loop of the command's own, with the signals a timer's unit or ^C sends: the
 * first SIGTERM/SIGINT lets in-flight steps reach their next checkpoint (the next run resumes
 * them) and takes the challenge answers down; a second one, or REC_STOP_GRACE_MS without the
 * pass ending, cancels what is in flight (reconcile_force_stop), and the pass ends at once
 * through the same path, with the same exit code. */
struct cli_pass {
    uv_loop_t loop;
    struct rec *pass;      /* NULL once the pass has ended */
    struct privsep_run ps; /* privilege separation's worker, if any */
    uv_signal_t sigs[2];
    uv_timer_t grace;
    bool stopping;
    int code;
    struct err e;
};

static void on_grace_over(uv_timer_t *t)
{
    struct cli_pass *p = t->data;

    uv_timer_stop(&p->grace);
    if (p->pass)
        reconcile_force_stop(p->pass);
}

static void on_stop_signal(uv_signal_t *h, int signum)
{
    struct cli_pass *p = h->data;

    if (!p->pass)
        return;
    if (p->stopping) {
        on_grace_over(&p->grace);
        return;
    }
    log_notice("signal %d: stopping at the next checkpoint (again to stop now)", signum);
    p->stopping = true;
    reconcile_stop(p->pass);
    uv_timer_start(&p->grace, on_grace_over, REC_STOP_GRACE_MS, 0);
}

static void on_pass_done(void *arg, int code, const struct rec_summary *sum, const struct err *e)
{
    struct cli_pass *p = arg;

    (void)sum;
    p->pass = NULL;
    p->code = code;
    if (code == REC_USAGE || code == REC_LOCKED)
        p->e = *e;
    for (int i = 0; i < 2; i++)
        uv_close((uv_handle_t *)&p->sigs[i], NULL);
    uv_close((uv_handle_t *)&p->grace, NULL);
    privsep_stop(&p->ps);
}

int cli_reconcile(const struct cli *c, bool force)
{
    const char *hooks[1];
    struct rec_opts o = cli_rec_opts(c, hooks);

    o.force = force;
    return cli_run_pass(&o);
}

int cli_run_pass(struct rec_opts *op)
{
    static const int sigs[2] = {SIGTERM, SIGINT};
    struct rec_opts o = *op;
    struct cli_pass p = {.code = REC_FAILED};
    struct err e;

    err_clear(&p.e);
    if (uv_loop_init(&p.loop) < 0) {
        log_err("cannot create an event loop");
        return EXIT_USAGE;
    }
    uv_timer_init(&p.loop, &p.grace);
    p.grace.data = &p;
    for (int i = 0; i < 2; i++) {
        uv_signal_init(&p.loop, &p.sigs[i]);
        p.sigs[i].data = &p;
        uv_signal_start(&p.sigs[i], on_stop_signal, sigs[i]);
        uv_unref((uv_handle_t *)&p.sigs[i]); /* the pass alone keeps the loop going */
    }
    if (privsep_start(&p.loop, &o, &p.ps, &e) < 0) {
        err_wrap(&e, "privilege separation");
        on_pass_done(&p, REC_USAGE, &(struct rec_summary){0}, &e);
    } else if (reconcile_start(&p.loop, &o, on_pass_done, &p, &p.pass, &e) < 0) {
        on_pass_done(&p, REC_USAGE, &(struct rec_summary){0}, &e);
        p.pass = NULL;
    }
    uv_run(&p.loop, UV_RUN_DEFAULT);
    uv_loop_close(&p.loop);
    if (p.code == REC_USAGE || p.code == REC_LOCKED)
        log_err("%s", err_msg(&p.e));
    return p.code;
}

int cmd_reconcile(const struct cli *c)
{
    if (c->nargs > 0) {
        log_err("reconcile takes no arguments (see acmed --help)");
        return EXIT_USAGE;
    }
    return cli_reconcile(c, c->force);
}

int cmd_daemon(const struct cli *c)
{
    const char *hooks[1];
    struct rec_opts o = cli_rec_opts(c, hooks);
    struct err e;
    int code;

    err_clear(&e);
    code = daemon_run(&o, false, &e);
    if (code != 0)
        log_err("%s", err_msg(&e));
    return code;
}

int cmd_serve(const struct cli *c)
{
    const char *hooks[1];
    struct rec_opts o = cli_rec_opts(c, hooks);
    struct err e;
    int code;

    if (c->nargs > 0) {
        log_err("serve takes no arguments (see acmed --help)");
        return EXIT_USAGE;
    }
    err_clear(&e);
    code = daemon_run(&o, true, &e);
    if (code != 0)
        log_err("%s", err_msg(&e));
    return code;
}
