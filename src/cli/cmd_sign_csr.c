/* cmd_sign_csr: `acmed sign-csr FILE [--out FILE]` (DESIGN.md §11): one order for exactly the
 * names of a CSR someone else made, its key staying with them. The pass takes the provider,
 * account and challenge settings from conf/target, as a target would; the certificate goes
 * into certs/ (no privkey link, no live/ link: no target owns it) and its chain, leaf first,
 * to --out or stdout. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "crypto/csr_read.h"
#include "reconcile/reconcile.h"
#include "store/desired.h"
#include "util/fsio.h"
#include "util/log.h"

struct sign_result {
    bool ok;
    char *chain;
    size_t len;
    char cert_id[64];
};

static void on_done(void *arg, const struct target *t, const struct rec_extra_result *res)
{
    struct sign_result *s = arg;

    (void)t;
    if (!res->ok) {
        log_err("sign-csr: %s", err_msg(res->err));
        return;
    }
    if (!(s->chain = malloc(res->chain_len + 1)))
        return;
    memcpy(s->chain, res->chain, res->chain_len);
    s->len = res->chain_len;
    snprintf(s->cert_id, sizeof s->cert_id, "%s", res->cert_id);
    s->ok = true;
}

/* The CSR file (or "-": standard input), at most CSR_READ_MAX bytes. The path is the caller's
 * own argument: it is opened as the caller asks, symbolic links included. */
static int read_input(const char *path, uint8_t **out, size_t *len, struct err *e)
{
    FILE *f = strcmp(path, "-") ? fopen(path, "rb") : stdin;
    uint8_t *buf = malloc(CSR_READ_MAX + 1);
    size_t n = 0, got;

    if (!f || !buf) {
        free(buf);
        return f ? err_set(e, -ENOMEM, "out of memory")
                 : err_set(e, -errno, "%s: %s", path, strerror(errno));
    }
    while (n <= CSR_READ_MAX && (got = fread(buf + n, 1, CSR_READ_MAX + 1 - n, f)) > 0)
        n += got;
    if (f != stdin)
        fclose(f);
    if (n > CSR_READ_MAX) {
        free(buf);
        return err_set(e, -EFBIG, "%s: larger than %d bytes: not a CSR", path, CSR_READ_MAX);
    }
    *out = buf;
    *len = n;
    return 0;
}

static int write_output(const char *out, const struct sign_result *s, struct err *e)
{
    if (!out || !strcmp(out, "-")) {
        if (fwrite(s->chain, 1, s->len, stdout) != s->len || fflush(stdout) != 0)
            return err_set(e, -EIO, "cannot write the chain to standard output");
        return 0;
    }
    return fsio_write_atomic(out, s->chain, s->len, 0644, e);
}

int cmd_sign_csr(const struct cli *c)
{
    const char *hooks[1];
    struct rec_opts o = cli_rec_opts(c, hooks);
    struct sign_result s = {0};
    struct csr_info *csr = NULL;
    struct target t;
    struct rec_extra x = {.t = &t, .done = on_done, .arg = &s};
    uint8_t *data = NULL;
    size_t len = 0;
    struct err e;
    int code, rc;

    if (c->nargs != 1) {
        log_err("usage: acmed sign-csr FILE [--out FILE] (see acmed --help)");
        return EXIT_USAGE;
    }
    if ((rc = read_input(c->args[0], &data, &len, &e)) == 0)
        rc = csr_read(data, len, &csr, &e);
    free(data);
    if (rc < 0) {
        log_err("sign-csr: %s: %s", c->args[0], err_msg(&e));
        return EXIT_USAGE;
    }
    if (desired_target_csr(c->state_dir, "sign-csr", csr, &t, &e) < 0) {
        log_err("sign-csr: %s: %s", c->args[0], err_msg(&e));
        return EXIT_USAGE;
    }
    log_info("sign-csr: %s: %zu name%s, %s key, %s", c->args[0], t.nreq_names,
             t.nreq_names == 1 ? "" : "s", t.csr->key_desc, t.csr->sha256_hex);
    o.extra = &x;
    o.nextra = 1;
    code = cli_run_pass(&o);
    target_clear(&t);
    if (code == EXIT_LOCKED) {
        log_err("sign-csr: a running acmed holds the state directory: post the CSR to its "
                "`acmed serve` endpoint instead (curl --data-binary @%s http://HOST:PORT/sign)",
                c->args[0]);
    } else if (s.ok) {
        if (write_output(c->out, &s, &e) < 0) {
            log_err("sign-csr: certificate %s issued, but %s", s.cert_id, err_msg(&e));
            code = EXIT_FAILED;
        } else {
            log_notice("sign-csr: certificate %s%s%s", s.cert_id, c->out ? " written to " : "",
                       c->out ? c->out : "");
            code = EXIT_OK;
        }
    } else if (code == EXIT_OK) {
        code = EXIT_FAILED;
    }
    free(s.chain);
    return code;
}
