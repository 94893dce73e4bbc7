/* rate: the certificate server's per-client rate limit (`rate: N/h` in conf/serve.yaml,
 * DESIGN.md §11; 429 when a client is over it).
 *
 * A sliding window: a client may have at most N requests accepted in any period (an hour,
 * a minute, a second), exactly, with no burst beyond N at a window's edge as a token bucket
 * would allow. Each client keeps the times of its last N accepted requests in a ring. Time
 * comes from an injected clock (monotonic milliseconds), so tests drive it by hand. Not
 * thread-safe: the loop's thread owns it. */
#ifndef ACMED_SERVE_RATE_H
#define ACMED_SERVE_RATE_H

#include <stddef.h>
#include <stdint.h>

#include "serve/serve_conf.h"
#include "util/err.h"

/* Monotonic milliseconds. */
typedef uint64_t (*rate_clock_fn)(void *ctx);

struct rate_window {
    unsigned count;     /* N; 0: unlimited */
    uint64_t period_ms; /* the window */
    uint64_t *stamps;   /* ring of `count` accept times */
    size_t head, used;  /* oldest entry, entries in use */
};

struct rate {
    struct rate_window *w; /* one per client of the conf, same order */
    size_t n;
    rate_clock_fn now;
    void *now_ctx;
};

/* Sets r up for conf's clients (their `rate`), reading time from now(now_ctx), or from
 * util/clock.h's clock_mono_ms when now is NULL. Returns 0 or -ENOMEM (e set; r empty). */
int rate_init(struct rate *r, const struct serve_conf *conf, rate_clock_fn now, void *now_ctx,
              struct err *e);

/* Counts one request of client i (an index into conf->clients) when the window has room:
 * returns 0. Over the rate, returns -EAGAIN, counts nothing and sets *retry_after_s (when
 * not NULL) to the whole seconds until a request would be accepted (at least 1). An index
 * out of range is -EINVAL. */
int rate_take(struct rate *r, size_t i, unsigned *retry_after_s);

/* Frees what r holds; r may be NULL. */
void rate_clear(struct rate *r);

#endif
