/* poll: waiting for an authorization or an order to change state (RFC 8555 §7.5.1, §7.4).
 *
 * No fixed sleeps: the server's Retry-After decides when it gives one; otherwise the first
 * poll comes soon (a validation against a nearby CA takes milliseconds) and the interval
 * doubles from there, all bounded by the caller's deadline. A cancelled client (client.h)
 * ends a poll waiting between two looks at once, with -ECANCELED. */
#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "acme/ops.h"
#include "util/clock.h"
#include "util/log.h"

struct poll {
    struct acme_client *c;
    char *url;
    bool order;       /* polling an order (else an authorization) */
    bool until_ready; /* order: stop once it leaves "pending" */
    uint64_t deadline_ms;
    uint64_t next_ms; /* the wait without Retry-After, doubling */
    unsigned polls;
    acme_cb cb;
    void *arg;
    uv_timer_t timer;
    struct acme_waiter waiter; /* among the client's until the poll finishes */
};

static void poll_free_cb(uv_handle_t *h)
{
    struct poll *p = h->data;

    free(p->url);
    free(p);
}

static void poll_finish(struct poll *p, int rc, struct acme_result *r, const struct err *e)
{
    acme_client_waiter_remove(p->c, &p->waiter);
    p->cb(p->arg, rc, r, e);
    uv_close((uv_handle_t *)&p->timer, poll_free_cb);
}

/* True once the object reached a state worth returning to the caller. */
static bool poll_done(const struct poll *p, const struct acme_result *r)
{
    if (!p->order)
        return r->authz->status != AUTHZ_PENDING;
    if (r->order->status == ORDER_PENDING)
        return false;
    return p->until_ready || r->order->status != ORDER_PROCESSING;
}

static void poll_fetch(struct poll *p);

static void on_poll_timer(uv_timer_t *t)
{
    struct poll *p = t->data;
    struct acme_result r = {.retry_after = -1};
    struct err e;

    if (acme_client_cancelled(p->c)) {
        err_set(&e, -ECANCELED, "%s: polling cancelled: acmed is stopping", p->url);
        poll_finish(p, -ECANCELED, &r, &e);
        return;
    }
    poll_fetch(p);
}

/* The client is cancelled: a poll waiting for its next look ends from its timer at once; one
 * whose look is on the wire ends when that request fails. */
static void poll_cancel(struct acme_waiter *w)
{
    struct poll *p = (struct poll *)(void *)((char *)w - offsetof(struct poll, waiter));

    if (uv_is_active((uv_handle_t *)&p->timer))
        uv_timer_start(&p->timer, on_poll_timer, 0, 0);
}

static void on_polled(void *arg, int rc, struct acme_result *r, const struct err *e)
{
    struct poll *p = arg;
    uint64_t now = clock_mono_ms(), wait;
    struct err te;

    p->polls++;
    if (rc < 0 || poll_done(p, r)) {
        poll_finish(p, rc, r, e);
        return;
    }
    if (r->retry_after >= 0) {
        wait = (uint64_t)r->retry_after * 1000;
    } else {
        wait = p->next_ms;
        p->next_ms = p->next_ms * 2 > ACME_POLL_MAX_MS ? ACME_POLL_MAX_MS : p->next_ms * 2;
    }
    if (now >= p->deadline_ms) {
        err_set(&te, -ETIMEDOUT, "%s still %s after %u polls: giving up at the deadline", p->url,
                p->order ? acme_order_status_str(r->order->status)
                         : acme_authz_status_str(r->authz->status),
                p->polls);
        poll_finish(p, -ETIMEDOUT, r, &te);
        return;
    }
    /* A Retry-After beyond the deadline is cut short: one last look at the deadline. */
    if (now + wait > p->deadline_ms)
        wait = p->deadline_ms - now;
    log_debug("%s: not done yet, next poll in %llu ms", p->url, (unsigned long long)wait);
    uv_timer_start(&p->timer, on_poll_timer, wait, 0);
}

static void poll_fetch(struct poll *p)
{
    struct acme_result r = {.retry_after = -1};
    struct err e;
    int rc;

    err_clear(&e);
    rc = p->order ? acme_order_get(p->c, p->url, on_polled, p, &e)
                  : acme_authz_get(p->c, p->url, on_polled, p, &e);
    if (rc < 0)
        poll_finish(p, rc, &r, &e);
}

static int poll_start(struct acme_client *c, const char *url, bool order, bool until_ready,
                      uint64_t deadline_ms, acme_cb cb, void *arg, struct err *e)
{
    struct poll *p = calloc(1, sizeof *p);

    if (!p || !url || !(p->url = strdup(url))) {
        free(p);
        return err_set(e, url ? -ENOMEM : -EINVAL, url ? "out of memory" : "no URL to poll");
    }
    p->c = c;
    p->order = order;
    p->until_ready = until_ready;
    p->deadline_ms = deadline_ms;
    p->next_ms = ACME_POLL_FIRST_MS;
    p->cb = cb;
    p->arg = arg;
    uv_timer_init(acme_client_loop(c), &p->timer);
    p->timer.data = p;
    p->waiter.cancel = poll_cancel;
    acme_client_waiter_add(c, &p->waiter);
    /* The first look comes after the shortest wait: the caller has just asked the server to
     * act, and a look at once would only find the old state. */
    uv_timer_start(&p->timer, on_poll_timer, ACME_POLL_FIRST_MS, 0);
    p->next_ms = ACME_POLL_FIRST_MS * 2;
    return 0;
}

int acme_authz_poll(struct acme_client *c, const char *url, uint64_t deadline_ms, acme_cb cb,
                    void *arg, struct err *e)
{
    return poll_start(c, url, false, false, deadline_ms, cb, arg, e);
}

int acme_order_poll(struct acme_client *c, const char *url, bool until_ready, uint64_t deadline_ms,
                    acme_cb cb, void *arg, struct err *e)
{
    return poll_start(c, url, true, until_ready, deadline_ms, cb, arg, e);
}
