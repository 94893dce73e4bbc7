/* cluster: a node's connection to its fleet (see cluster.h). */
#include "cluster/cluster.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "crypto/seal_key.h"
#include "util/fsio.h"

#define PASSWORD_MAX 4096

int cluster_open(uv_loop_t *loop, const struct acmed_cluster *c, struct cluster **out,
                 struct err *e)
{
    struct cluster *cl = calloc(1, sizeof *cl);
    struct etcd_opts o = {.endpoints = (const char *const *)c->endpoints,
                          .n = c->nendpoints,
                          .ca_bundle = c->ca_bundle,
                          .cert = c->cert,
                          .key = c->key,
                          .user = c->user,
                          .allow_insecure_http = true /* conf_cluster checked the rule */};
    uint8_t secret[SEAL_KEY_LEN];
    char *password = NULL;
    size_t plen = 0;
    int rc;

    *out = NULL;
    if (!cl || !(cl->node = strdup(c->node))) {
        free(cl);
        return err_set(e, -ENOMEM, "out of memory");
    }
    if ((rc = seal_key_load(c->secret_file, secret, e)) < 0)
        goto fail;
    if (c->password_file) {
        if ((rc = fsio_read_file(c->password_file, PASSWORD_MAX, &password, &plen, e)) < 0) {
            err_wrap(e, "cluster.etcd.password-file");
            goto fail;
        }
        if (plen && password[plen - 1] == '\n')
            password[--plen] = '\0';
        o.password = password;
    }
    if ((rc = etcd_new(loop, &o, &cl->etcd, e)) < 0 ||
        (rc = ckv_new(cl->etcd, c->prefix, secret, &cl->kv, e)) < 0)
        goto fail;
    explicit_bzero(secret, sizeof secret);
    if (password) {
        explicit_bzero(password, plen);
        free(password);
    }
    *out = cl;
    return 0;
fail:
    explicit_bzero(secret, sizeof secret);
    if (password) {
        explicit_bzero(password, plen);
        free(password);
    }
    etcd_free(cl->etcd, NULL, NULL);
    free(cl->node);
    free(cl);
    return rc;
}

void cluster_close(struct cluster *cl, void (*done)(void *arg), void *arg)
{
    if (!cl) {
        return;
    }
    ckv_free(cl->kv);
    free(cl->node);
    etcd_free(cl->etcd, done, arg);
    free(cl);
}
