/* etcd_parse: checked parsing of the answers of etcd's v3 HTTP/JSON gateway, and the decision
 * what to do after a failed call (net/etcd_json.h has the types and the wire conventions). No
 * I/O: unit-tested and fuzzed (tests/fuzz/fuzz_etcd.c). Everything parsed here is hostile:
 * sizes are capped, base64 is strict, every field's type is checked, integers are decimal
 * strings (or JSON integers) that fit in 64 bits. */
#ifndef ACMED_NET_ETCD_PARSE_H
#define ACMED_NET_ETCD_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "net/etcd_json.h"
#include "util/err.h"

/* ---- answers ---- */

enum etcd_call {
    ETCD_RANGE,
    ETCD_PUT,
    ETCD_DELETE,
    ETCD_TXN,
    ETCD_LEASE_GRANT,
    ETCD_LEASE_KEEPALIVE,
    ETCD_LEASE_REVOKE,
    ETCD_AUTH,
};

/* Parses the 200 answer to `call` (body[0..len), which need not be NUL-terminated) into *r
 * (cleared first; clear it after). A keepalive's answer is wrapped in "result". For ETCD_AUTH
 * the token goes to *token (caller frees; NULL for other calls). Returns 0, -EBADMSG (with e
 * saying what is wrong), -EFBIG or -ENOMEM. */
int etcd_parse(enum etcd_call call, const char *body, size_t len, struct etcd_result *r,
               char **token, struct err *e);

/* What a watch stream's line said. */
enum etcd_watch_kind {
    ETCD_WATCH_CREATED,   /* the watch is in place */
    ETCD_WATCH_EVENTS,    /* events (maybe none: a progress notification) */
    ETCD_WATCH_COMPACTED, /* the start revision was compacted away: compact_revision */
    ETCD_WATCH_CANCELED,  /* etcd ended the watch (reason in e) */
};

enum etcd_event_type { ETCD_EVENT_PUT, ETCD_EVENT_DELETE };

struct etcd_event {
    enum etcd_event_type type;
    struct etcd_kv kv; /* a delete carries the key and mod_revision only */
};

struct etcd_watch_msg {
    enum etcd_watch_kind kind;
    int64_t revision;         /* header.revision */
    int64_t compact_revision; /* COMPACTED: the oldest revision still kept */
    char *cancel_reason;      /* CANCELED: etcd's words (sanitised), or NULL; owned */
    bool unauthenticated;     /* CANCELED for an invalid or expired token */
    struct etcd_event *events;
    size_t nevents;
};

/* Releases what m holds and zeroes it. m may be NULL. */
void etcd_watch_msg_clear(struct etcd_watch_msg *m);

/* Parses one line of a watch stream ({"result": {...}} or {"error": {...}}). Returns 0, or
 * -EBADMSG/-EFBIG/-ENOMEM; an "error" line is -ECONNRESET with etcd's words in e. */
int etcd_parse_watch(const char *line, size_t len, struct etcd_watch_msg *m, struct err *e);

/* ---- after a failure ---- */

enum etcd_next {
    ETCD_NEXT_DONE,    /* report the outcome (success, or a definite error) */
    ETCD_NEXT_RETRY,   /* try the next endpoint: nothing happened */
    ETCD_NEXT_REAUTH,  /* the token is invalid or expired: authenticate, then retry */
    ETCD_NEXT_UNKNOWN, /* a write was sent and may or may not have happened */
};

/* What to do after one try of `call`: http_rc is the transport's code (net/http_msg.h; -ENOTCONN
 * means nothing was sent), status and body the answer when http_rc == 0. Reads, lease calls
 * and revokes are safe to repeat; a put, delete or txn that may have reached etcd is not. On
 * a definite error *code gets the code to report: -EACCES (authentication, permission),
 * -ENOENT (no such lease), -EFBIG, -EINVAL (etcd refused the request), -EIO. */
enum etcd_next etcd_next_step(enum etcd_call call, int http_rc, long status, const char *body,
                              size_t len, int *code);

/* etcd's explanation in an error answer ("message"), sanitised into out (size n). */
void etcd_error_text(const char *body, size_t len, char *out, size_t n);

#endif
