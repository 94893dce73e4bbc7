/* rate: per-client sliding-window rate limit (see rate.h). */
#include "serve/rate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/clock.h"

static uint64_t real_now(void *ctx)
{
    (void)ctx;
    return clock_mono_ms();
}

int rate_init(struct rate *r, const struct serve_conf *conf, rate_clock_fn now, void *now_ctx,
              struct err *e)
{
    memset(r, 0, sizeof *r);
    r->now = now ? now : real_now;
    r->now_ctx = now_ctx;
    if (conf->nclients == 0)
        return 0;
    if (!(r->w = calloc(conf->nclients, sizeof *r->w)))
        goto nomem;
    r->n = conf->nclients;
    for (size_t i = 0; i < r->n; i++) {
        const struct serve_rate *cr = &conf->clients[i].rate;

        if (cr->count == 0)
            continue;
        r->w[i].count = cr->count;
        r->w[i].period_ms = (uint64_t)cr->period_s * 1000;
        if (!(r->w[i].stamps = calloc(cr->count, sizeof *r->w[i].stamps)))
            goto nomem;
    }
    return 0;
nomem:
    rate_clear(r);
    return err_set(e, -ENOMEM, "out of memory");
}

int rate_take(struct rate *r, size_t i, unsigned *retry_after_s)
{
    struct rate_window *w;
    uint64_t now;

    if (!r || i >= r->n)
        return -EINVAL;
    w = &r->w[i];
    if (w->count == 0)
        return 0;
    now = r->now(r->now_ctx);
    /* Requests that left the window free their places. */
    while (w->used > 0 && now >= w->stamps[w->head] && now - w->stamps[w->head] >= w->period_ms) {
        w->head = (w->head + 1) % w->count;
        w->used--;
    }
    if (w->used < w->count) {
        w->stamps[(w->head + w->used) % w->count] = now;
        w->used++;
        return 0;
    }
    /* The oldest is still inside the window (now - oldest < period), so the wait is at least
     * a millisecond and rounds up to at least a second. */
    if (retry_after_s) {
        uint64_t oldest = w->stamps[w->head];
        uint64_t wait_ms = now >= oldest ? w->period_ms - (now - oldest) : w->period_ms;

        *retry_after_s = (unsigned)((wait_ms + 999) / 1000);
    }
    return -EAGAIN;
}

void rate_clear(struct rate *r)
{
    if (!r)
        return;
    for (size_t i = 0; i < r->n; i++)
        free(r->w[i].stamps);
    free(r->w);
    memset(r, 0, sizeof *r);
}
