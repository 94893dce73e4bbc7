/* step_key: the certificate key (none for a CSR target: its key is elsewhere). A resumed order
 * keeps the key its CSR will need; otherwise request.key.id pins a key, request.key.reuse keeps the
 * current certificate's, and by default every certificate gets a new key (as acmetool). Key files
 * are never rewritten. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "reconcile/job.h"
#include "util/log.h"

static void key_ready(struct job *j)
{
    tstate_set(&j->ts.key_id, j->key_id);
    job_step_done(j);
}

static void on_generated(void *arg, int rc, struct ckey *key, const struct err *e)
{
    struct job *j = arg;
    struct err se;

    if (rc < 0) {
        job_fail(j, rc, NULL, e, "key generation");
        return;
    }
    j->key = key;
    if (store_key_save(j->ctx->st, key, j->key_id, &se) < 0) {
        job_fail(j, se.code, NULL, &se, "saving the key");
        return;
    }
    key_ready(j);
}

/* Loads keys/<id>; true when it worked. */
static bool load_key(struct job *j, const char *id, const char *why)
{
    struct err e;

    if (store_key_load(j->ctx->st, id, &j->key, &e) < 0) {
        log_warn("%s: cannot use %s key %s: %s", j->t->file, why, id, err_msg(&e));
        return false;
    }
    snprintf(j->key_id, sizeof j->key_id, "%s", id);
    return true;
}

void step_key(struct job *j)
{
    struct err e;
    int rc;

    if (j->ts.order_url) {
        char id[STORE_ID_LEN + 1];

        /* The "order in progress" already gave a certificate now in certs/ (its last
         * checkpoint was lost): it is done, not something to resume. Not only the current
         * certificate: two certificates can end the same second, and either may be current. */
        store_cert_id(j->ts.order_url, id);
        for (size_t i = 0; i < j->ctx->ncerts; i++) {
            if (!strcmp(id, j->ctx->certs[i].id)) {
                log_info("%s: order %s is already installed; a new one", j->t->file,
                         j->ts.order_url);
                tstate_clear_order(&j->ts);
                break;
            }
        }
    }
    if (j->t->csr) {
        /* The key is the CSR's owner's: nothing to make or load. */
        job_step_done(j);
        return;
    }
    if (j->ts.order_url && j->ts.key_id && load_key(j, j->ts.key_id, "the resumed order's")) {
        key_ready(j);
        return;
    }
    tstate_clear_order(&j->ts);
    if (j->t->key_id) {
        if (!load_key(j, j->t->key_id, "the pinned")) {
            err_set(&e, -ENOENT, "request.key.id %s: no such key in keys/", j->t->key_id);
            job_fail(j, -ENOENT, NULL, &e, "key");
            return;
        }
        key_ready(j);
        return;
    }
    if (j->t->key_reuse && j->cur && j->cur->key_id[0] &&
        load_key(j, j->cur->key_id, "the current certificate's")) {
        /* A key of another type or size than the target now asks for is not reused. */
        if (key_get_type(j->key) == j->t->key.type && key_get_size(j->key) == j->t->key.size) {
            key_ready(j);
            return;
        }
        key_free(j->key);
        j->key = NULL;
    }
    rc = key_generate_async(j->ctx->loop, &j->t->key, on_generated, j);
    if (rc < 0) {
        err_set(&e, rc, "cannot start key generation");
        job_fail(j, rc, NULL, &e, "key");
    }
}
