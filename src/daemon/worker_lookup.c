/* worker_lookup: misses of the worker's http-01 listeners, asked of the keeper.
 *
 * Lookups in flight are a list in the order they were sent; as they all wait the same time,
 * the oldest always expires first and one timer, armed for the head, serves them all. Every
 * lookup's done is called exactly once: by the keeper's answer, the timer, a failure to send,
 * or worker_lookup_free. */
#include "daemon/worker_lookup.h"

#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>

#include "privsep/wmsg.h"
#include "util/log.h"

struct wask {
    struct wask *next;
    uint64_t id;
    uint64_t deadline; /* uv_now */
    chal_lookup_done done;
    void *done_arg;
};

struct worker_lookup {
    uv_loop_t *loop;
    struct ipc_chan *chan;
    uv_timer_t timer;
    struct wask *head, *tail;
    uint64_t next_id;
};

static void arm(struct worker_lookup *wl);

static struct wask *take(struct worker_lookup *wl, uint64_t id)
{
    struct wask *prev = NULL, *a;

    for (a = wl->head; a && a->id != id; prev = a, a = a->next)
        ;
    if (!a)
        return NULL;
    if (prev)
        prev->next = a->next;
    else
        wl->head = a->next;
    if (wl->tail == a)
        wl->tail = prev;
    return a;
}

static void on_timer(uv_timer_t *t)
{
    struct worker_lookup *wl = t->data;
    uint64_t now = uv_now(wl->loop);

    while (wl->head && wl->head->deadline <= now) {
        struct wask *a = take(wl, wl->head->id);

        log_debug("worker: lookup %llu: no answer from the keeper in time",
                  (unsigned long long)a->id);
        a->done(a->done_arg, NULL);
        free(a);
    }
    arm(wl);
}

static void arm(struct worker_lookup *wl)
{
    uint64_t now = uv_now(wl->loop);

    if (wl->head)
        uv_timer_start(&wl->timer, on_timer,
                       wl->head->deadline > now ? wl->head->deadline - now : 0, 0);
    else
        uv_timer_stop(&wl->timer);
}

static void ask(void *arg, const char *token, chal_lookup_done done, void *done_arg)
{
    struct worker_lookup_ref *ref = arg;
    struct worker_lookup *wl = ref->wl;
    struct wask *a = calloc(1, sizeof *a);
    struct ipc_out o;
    struct err e = {0};

    if (!a) {
        done(done_arg, NULL);
        return;
    }
    a->id = ++wl->next_id;
    a->deadline = uv_now(wl->loop) + CHAL_LOOKUP_TIMEOUT_MS;
    a->done = done;
    a->done_arg = done_arg;
    ipc_out_begin(&o, WMSG_LOOKUP);
    ipc_put_u64(&o, WMSG_T_ID, a->id);
    ipc_put_u64(&o, WMSG_T_RESPONDER, ref->responder);
    ipc_put_text(&o, WMSG_T_KEY, token);
    if (ipc_out_end(&o, &e) < 0 || ipc_chan_send(wl->chan, &o.b, &e) < 0) {
        log_warn("worker: lookup: %s", err_msg(&e));
        free(a);
        done(done_arg, NULL);
        return;
    }
    if (wl->tail)
        wl->tail->next = a;
    else
        wl->head = a;
    wl->tail = a;
    if (wl->head == a)
        arm(wl);
}

struct worker_lookup *worker_lookup_new(uv_loop_t *loop, struct ipc_chan *chan)
{
    struct worker_lookup *wl = calloc(1, sizeof *wl);

    if (!wl)
        return NULL;
    wl->loop = loop;
    wl->chan = chan;
    uv_timer_init(loop, &wl->timer);
    wl->timer.data = wl;
    return wl;
}

void worker_lookup_bind(struct worker_lookup *wl, uint64_t responder, struct worker_lookup_ref *ref,
                        struct chal_lookup *lk)
{
    *ref = (struct worker_lookup_ref){wl, responder};
    *lk = (struct chal_lookup){ask, ref};
}

int worker_lookup_answer(struct worker_lookup *wl, const struct ipc_msg *m, struct err *e)
{
    uint64_t id;
    struct wask *a;
    char *keyauth = NULL;
    bool first;

    ipc_get_u64(m, WMSG_T_ID, 0, &id);
    first = wl->head && wl->head->id == id;
    if (!(a = take(wl, id)))
        return 0; /* it timed out */
    if (ipc_count(m, WMSG_T_KEYAUTH) && !(keyauth = ipc_get_text(m, WMSG_T_KEYAUTH, 0))) {
        a->done(a->done_arg, NULL);
        free(a);
        return err_set(e, -ENOMEM, "out of memory");
    }
    /* The listener checks what it is given: a key authorization for that very token. */
    a->done(a->done_arg, keyauth);
    free(keyauth);
    free(a);
    if (first)
        arm(wl);
    return 0;
}

static void on_timer_closed(uv_handle_t *h)
{
    free(h->data);
}

void worker_lookup_free(struct worker_lookup *wl)
{
    if (!wl)
        return;
    while (wl->head) {
        struct wask *a = take(wl, wl->head->id);

        a->done(a->done_arg, NULL);
        free(a);
    }
    uv_close((uv_handle_t *)&wl->timer, on_timer_closed);
}
