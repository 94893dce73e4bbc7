/* http01_answers: the published key authorizations of the http-01 responder (see
 * http01_answers.h). */
#include "challenge/http01_answers.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "challenge/http01_req.h"
#include "crypto/b64.h"

static struct http01_answer *find(const struct http01_answers *s, const char *token)
{
    for (size_t i = 0; i < s->n; i++)
        if (strcmp(s->v[i].token, token) == 0)
            return &s->v[i];
    return NULL;
}

const struct http01_answer *http01_answers_find(const struct http01_answers *s, const char *token)
{
    return s && token ? find(s, token) : NULL;
}

int http01_answers_put(struct http01_answers *s, const char *token, const char *keyauth,
                       struct err *e)
{
    struct http01_answer *a, *v;
    char *t = NULL, *k = NULL;
    int rc = 0;

    if (!keyauth) {
        rc = err_set(e, -EINVAL, "http-01: no key authorization");
        goto out;
    }
    if (!token || !b64url_valid(token) || strlen(token) > HTTP01_TOKEN_MAX) {
        rc = err_set(e, -EINVAL, "invalid ACME token \"%.64s\": not base64url", token ? token : "");
        goto out;
    }
    k = strdup(keyauth);
    if (!k) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    a = find(s, token);
    if (a) {
        free(a->keyauth);
        a->keyauth = k;
        k = NULL;
        goto out;
    }
    t = strdup(token);
    v = t ? realloc(s->v, (s->n + 1) * sizeof *v) : NULL;
    if (!v) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    s->v = v;
    v[s->n].token = t;
    v[s->n].keyauth = k;
    s->n++;
    t = k = NULL;
out:
    free(t);
    free(k);
    return rc;
}

void http01_answers_remove(struct http01_answers *s, const char *token)
{
    struct http01_answer *a;

    if (!s || !token)
        return;
    a = find(s, token);
    if (!a)
        return;
    free(a->token);
    free(a->keyauth);
    *a = s->v[--s->n];
}

void http01_answers_clear(struct http01_answers *s)
{
    if (!s)
        return;
    for (size_t i = 0; i < s->n; i++) {
        free(s->v[i].token);
        free(s->v[i].keyauth);
    }
    free(s->v);
    s->v = NULL;
    s->n = 0;
}
