/* etcd_watch: watches of a key prefix through the etcd client (net/etcd.h).
 *
 * A watch is one streaming POST to /v3/watch (net/http.h's on_data mode): etcd answers with
 * one JSON object per line for as long as the request stays open. Until etcd confirms the
 * watch ("created") each try is bounded by the client's timeout_ms and a failure is retried on
 * the next endpoint like a read; once it runs, the stream has no time limit, and a
 * broken stream ends the watch and the caller resumes with a new one from the last revision
 * it saw plus one (no event is lost: etcd replays from that revision, unless compacted). The
 * watch asks etcd to require a leader: a member that loses its leader (cut off from its
 * peers, or no quorum left) ends the stream within a few seconds rather than going silent.
 * Lines are handed over from a uv timer, never from inside curl's callbacks, so a callback
 * may start calls, cancel the watch or free the client. */
#ifndef ACMED_NET_ETCD_WATCH_H
#define ACMED_NET_ETCD_WATCH_H

#include <stdint.h>

#include "net/etcd.h"
#include "net/etcd_parse.h" /* etcd_watch_msg, etcd_event */
#include "util/err.h"

struct etcd_watch;

/* From the loop. rc 0: m->kind is ETCD_WATCH_CREATED (the watch is in place: what changes
 * from now on will be seen) or ETCD_WATCH_EVENTS (m->events in revision order; none for a
 * progress notification); m is borrowed for the call. rc < 0: the watch has ended and is freed
 * after this call: -ESTALE the start revision was compacted (m->compact_revision is the
 * oldest kept: re-read, then watch from there), -ECONNRESET the stream broke or etcd ended it
 * (resume from the last revision + 1), -ECANCELED etcd_free, or as etcd_cb's codes when it
 * could not start (-EHOSTDOWN, -EACCES...). */
typedef void (*etcd_watch_cb)(void *arg, int rc, const struct etcd_watch_msg *m,
                              const struct err *e);

/* Watches every key starting with prefix from revision start_rev (0: from now). *out (may be
 * NULL) names the watch for etcd_watch_cancel until cb has run with rc < 0. Returns 0 (cb will
 * run, never from inside this call) or negative with e set: -EINVAL, -ESHUTDOWN, -ENOMEM. */
int etcd_watch_start(struct etcd *c, const char *prefix, int64_t start_rev, etcd_watch_cb cb,
                     void *arg, struct etcd_watch **out, struct err *e);

/* Ends the watch: cb will not run again, the memory goes later. Safe inside cb. w may be
 * NULL; a watch that has ended already must not be passed. */
void etcd_watch_cancel(struct etcd_watch *w);

#endif
