/* serve_target: the target acmed serve orders for one client's CSR (see serve_target.h). */
#include "serve/serve_target.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/desired.h"

int serve_target_make(const char *state_dir, const char *sha, struct csr_info *csr,
                      const struct serve_client *c, struct target *t, struct err *e)
{
    static const struct {
        unsigned bit;
        const char *name;
    } types[] = {{SERVE_CHAL_HTTP01, "http-01"},
                 {SERVE_CHAL_TLSALPN01, "tls-alpn-01"},
                 {SERVE_CHAL_DNS01, "dns-01"}};
    char file[128], env[160], **g;
    int rc;

    snprintf(file, sizeof file, "serve:%s:%.12s", c->name, sha);
    if ((rc = desired_target_csr(state_dir, file, csr, t, e)) < 0)
        return rc;
    if (c->challenge_types) {
        for (size_t i = 0; i < t->nchallenge_types; i++)
            free(t->challenge_types[i]);
        t->nchallenge_types = 0;
        for (size_t i = 0; i < 3; i++)
            if ((c->challenge_types & types[i].bit) &&
                !(t->challenge_types[t->nchallenge_types++] = strdup(types[i].name)))
                return err_set(e, -ENOMEM, "out of memory");
    }
    /* http-01 answers go to the listener the server holds (serve_listen.h), never to a
     * webroot of conf/target's: the fleet's web servers proxy to the listener. */
    for (size_t i = 0; i < t->nwebroot_paths; i++)
        free(t->webroot_paths[i]);
    t->nwebroot_paths = 0;
    snprintf(env, sizeof env, "ACMED_SERVE_CLIENT=%s", c->name);
    if (!(g = realloc(t->env, (t->nenv + 2) * sizeof *g)))
        return err_set(e, -ENOMEM, "out of memory");
    t->env = g;
    if (!(t->env[t->nenv] = strdup(env)))
        return err_set(e, -ENOMEM, "out of memory");
    t->env[++t->nenv] = NULL;
    return 0;
}
