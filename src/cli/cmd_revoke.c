/* cmd_revoke: `acmed revoke CERT-ID|NAME [--reason R]`: writes the certificate's `revoke`
 * marker (as acmetool; the reason inside), then lets a reconciler act on it: a running one
 * holding the lock is woken with SIGUSR1, otherwise this process reconciles itself. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "crypto/crl_reason.h"
#include "store/names.h"
#include "store/store.h"
#include "util/lock.h"
#include "util/log.h"

/* The cert-id an argument names: an id itself, or the certificate live/<name> points at. */
static int find_cert(const struct store *st, const char *arg, char *id, struct err *e)
{
    char *name = NULL;
    bool ip;
    int rc;

    if (store_id_valid(arg)) {
        snprintf(id, STORE_ID_LEN + 1, "%s", arg);
        return 0;
    }
    if ((rc = name_normalize(arg, strlen(arg), &name, &ip, e)) < 0)
        return err_wrap(e, "%s is neither a certificate id nor a valid name", arg);
    rc = store_live_get(st, name, id, e);
    if (rc == -ENOENT)
        err_set(e, rc, "no certificate is live for %s", name);
    free(name);
    return rc;
}

int cmd_revoke(const struct cli *c)
{
    struct store st = {.lock_fd = -1};
    char id[STORE_ID_LEN + 1];
    const char *reason = c->reason ? c->reason : "unspecified";
    int code = EXIT_FAILED, r;
    pid_t holder;
    struct err e;

    if (c->nargs != 1) {
        log_err("revoke takes one certificate id or name (see acmed --help)");
        return EXIT_USAGE;
    }
    if (crl_reason_parse(reason, &r) < 0) {
        log_err("unknown revocation reason \"%s\" (unspecified, keyCompromise, superseded, "
                "cessationOfOperation, or a number)",
                reason);
        return EXIT_USAGE;
    }
    if (store_open(c->state_dir, &st, &e) < 0) {
        log_err("%s", err_msg(&e));
        return EXIT_USAGE;
    }
    if (find_cert(&st, c->args[0], id, &e) < 0) {
        log_err("%s", err_msg(&e));
        goto out;
    }
    if (store_cert_ask_revoke(&st, id, r, &e) < 0) {
        log_err("%s", err_msg(&e));
        goto out;
    }
    log_notice("certificate %s marked for revocation (%s)", id, reason);
    holder = lock_holder(c->state_dir);
    if (holder > 0) {
        if (kill(holder, SIGUSR1) < 0)
            log_warn("cannot wake the reconciler (pid %ld): the next pass revokes", (long)holder);
        code = EXIT_OK;
        goto out;
    }
    store_close(&st);
    return cli_reconcile(c, false);
out:
    store_close(&st);
    return code;
}
