/* client_dir: the client's directory (acme_client_start) and settings, declared in client.h. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "acme/client_internal.h"
#include "acme/url.h"

const struct acme_directory *acme_client_directory(const struct acme_client *c)
{
    return c->dir;
}

int acme_client_set_account(struct acme_client *c, const struct signer *s, const char *kid)
{
    char *copy = NULL;

    if (kid && !(copy = strdup(kid)))
        return -ENOMEM;
    free(c->kid);
    c->kid = copy;
    c->acct_signer = kid ? s : NULL;
    return 0;
}

const char *acme_client_account_url(const struct acme_client *c)
{
    return c->kid;
}

void acme_client_set_max_inflight(struct acme_client *c, unsigned n)
{
    c->max_inflight = n;
}

uv_loop_t *acme_client_loop(const struct acme_client *c)
{
    return c->loop;
}

const struct signer *acme_client_account_signer(const struct acme_client *c)
{
    return c->acct_signer;
}

void acme_client_stats(const struct acme_client *c, struct acme_client_stats *out)
{
    *out = c->stats;
}

struct start_ctx {
    struct acme_client *c;
    acme_cb cb;
    void *arg;
};

static void on_directory(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct start_ctx *s = arg;
    struct acme_client *c = s->c;
    struct err pe;

    err_clear(&pe);
    if (rc == 0) {
        struct acme_directory *d = NULL;

        rc = acme_directory_parse(r->http->body, r->http->body_len, &d, &pe);
        if (rc == 0 && (rc = acme_directory_urls_check(d, acme_client_https_only(c), &pe)) < 0)
            acme_directory_free(d);
        if (rc < 0) {
            err_wrap(&pe, "directory %s", c->dir_url);
        } else {
            acme_directory_free(c->dir);
            c->dir = d;
        }
        e = rc < 0 ? &pe : NULL;
    }
    s->cb(s->arg, rc, r, e);
    free(s);
}

bool acme_client_https_only(const struct acme_client *c)
{
    return acme_url_is_https(c->dir_url);
}

int acme_client_start(struct acme_client *c, acme_cb cb, void *arg, struct err *e)
{
    struct start_ctx *s = calloc(1, sizeof *s);
    struct acme_call call = {.method = "GET", .url = c->dir_url};
    int rc;

    if (!s)
        return err_set(e, -ENOMEM, "out of memory");
    s->c = c;
    s->cb = cb;
    s->arg = arg;
    rc = acme_call(c, &call, on_directory, s, e);
    if (rc < 0)
        free(s);
    return rc;
}
