/* cmd_reconcile: `acmed --once` / `acmed reconcile [--force]`, and the pass other commands
 * run after changing desired/. */
#include "cli/cli.h"
#include "daemon/daemon.h"
#include "reconcile/reconcile.h"
#include "util/log.h"

/* The reconciler's options from the command line; `hooks` (one slot) holds --hooks. */
static struct rec_opts cli_rec_opts(const struct cli *c, const char **hooks)
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

int cli_reconcile(const struct cli *c, bool force)
{
    const char *hooks[1];
    struct rec_opts o = cli_rec_opts(c, hooks);
    struct err e;
    int code;

    o.force = force;
    /* A stop (systemd stopping the timer's unit, ^C) lets in-flight steps reach a checkpoint
     * and takes the challenge answers down. */
    o.handle_signals = true;
    err_clear(&e);
    code = reconcile_once(&o, NULL, &e);
    if (code == REC_USAGE || code == REC_LOCKED)
        log_err("%s", err_msg(&e));
    return code;
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
    code = daemon_run(&o, &e);
    if (code != 0)
        log_err("%s", err_msg(&e));
    return code;
}
