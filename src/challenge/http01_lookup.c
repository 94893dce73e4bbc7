/* http01_lookup: asks on a miss, with records that survive their askers (http01_lookup.h).
 *
 * A record is in its listener's list while both are alive. The connection that asked points
 * at it (and it at the connection) until the answer or a cancel; the listener's close detaches
 * the whole list. The answer, whenever it comes, is the only thing that frees a record. */
#include "challenge/http01_lookup.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "challenge/http01_req.h"
#include "util/log.h"

struct http01_ask {
    struct http01_ask *prev, *next;
    struct http01_lookup *s; /* NULL once the listener went away */
    http01_lookup_cb cb;
    void *owner;              /* NULL once cancelled */
    struct http01_ask **slot; /* the owner's pointer to this record */
    char token[HTTP01_TOKEN_MAX + 1];
};

static bool b64url_char(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
           c == '_';
}

bool http01_lookup_valid(const char *token, const char *keyauth)
{
    size_t tlen = strlen(token), len, dots = 0;

    if (!keyauth || (len = strnlen(keyauth, HTTP01_TOKEN_MAX + 1)) > HTTP01_TOKEN_MAX ||
        len <= tlen + 1 || strncmp(keyauth, token, tlen) != 0 || keyauth[tlen] != '.')
        return false;
    for (size_t i = 0; i < len; i++) {
        if (keyauth[i] == '.')
            dots++;
        else if (!b64url_char(keyauth[i]))
            return false;
    }
    return dots == 1;
}

static void unlink_ask(struct http01_ask *a)
{
    struct http01_lookup *s = a->s;

    if (!s)
        return;
    if (a->prev)
        a->prev->next = a->next;
    else
        s->head = a->next;
    if (a->next)
        a->next->prev = a->prev;
    a->prev = a->next = NULL;
    s->n--;
    a->s = NULL;
}

/* The done of lookup.h: the one place a record is freed. */
static void on_answer(void *arg, const char *keyauth)
{
    struct http01_ask *a = arg;
    struct http01_lookup *s = a->s;
    void *owner = a->owner;

    if (keyauth && !http01_lookup_valid(a->token, keyauth)) {
        /* Whoever published it is wrong; the validator gets 404, the log says why, once
         * loudly per listener. */
        if (s && !s->warned) {
            s->warned = true;
            log_warn("http-01: ignoring an invalid answer for token %s", a->token);
        } else {
            log_debug("http-01: ignoring an invalid answer for token %s", a->token);
        }
        keyauth = NULL;
    }
    unlink_ask(a);
    if (owner) {
        *a->slot = NULL;
        a->cb(owner, keyauth);
    }
    free(a);
}

int http01_lookup_ask(struct http01_lookup *s, const char *token, http01_lookup_cb cb, void *owner,
                      struct http01_ask **slot)
{
    const struct chal_lookup *lk = s->lk;
    struct http01_ask *a;

    if (!lk)
        return -ENOENT;
    if (s->n >= CHAL_LOOKUP_MAX_INFLIGHT) {
        log_debug("http-01: %zu lookups in flight, not asking for token %s", s->n, token);
        return -EBUSY;
    }
    if (strlen(token) > HTTP01_TOKEN_MAX || !(a = calloc(1, sizeof *a)))
        return -ENOMEM;
    memcpy(a->token, token, strlen(token) + 1);
    a->s = s;
    a->cb = cb;
    a->owner = owner;
    a->slot = slot;
    a->next = s->head;
    if (s->head)
        s->head->prev = a;
    s->head = a;
    s->n++;
    *slot = a;
    /* May answer at once: a must not be touched after this. */
    lk->ask(lk->arg, token, on_answer, a);
    return 0;
}

void http01_lookup_cancel(struct http01_ask *a)
{
    if (!a)
        return;
    if (a->owner)
        *a->slot = NULL;
    a->owner = NULL;
}

void http01_lookup_detach(struct http01_lookup *s)
{
    while (s->head) {
        struct http01_ask *a = s->head;

        http01_lookup_cancel(a);
        unlink_ask(a);
    }
    s->lk = NULL;
}
