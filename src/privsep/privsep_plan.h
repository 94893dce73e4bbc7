/* privsep_plan: whether a run separates privileges, and as whom its worker runs (DESIGN.md
 * §10, issue 14 item 4).
 *
 * One decision, made the same way for the daemon, `--once`, every command that talks to a CA
 * and `status`: on when started as root (effective uid 0) unless conf/acmed.yaml says
 * `privsep: false`; the worker then runs as `user:`, or as "acmed", or as "nobody" with a
 * warning when neither is set nor exists. Pure but for the user database lookup
 * (privdrop_resolve). */
#ifndef ACMED_PRIVSEP_PRIVSEP_PLAN_H
#define ACMED_PRIVSEP_PRIVSEP_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "privsep/privdrop.h"
#include "store/desired.h"
#include "util/err.h"

/* Why a run keeps one process. */
enum privsep_off {
    PRIVSEP_OFF_NONE = 0, /* privilege separation is on */
    PRIVSEP_OFF_CONF,     /* privsep: false in conf/acmed.yaml */
    PRIVSEP_OFF_NOT_ROOT, /* not started as root: no user to change to */
};

struct privsep_plan {
    bool enabled;
    enum privsep_off off;    /* PRIVSEP_OFF_NONE exactly when enabled */
    const char *why_off;     /* static, for logs: "privsep: false in conf/acmed.yaml", "not
                                started as root"; NULL when enabled */
    struct privdrop_id user; /* the worker's user when enabled (zeroed otherwise) */
    bool fallback;           /* enabled, `user:` unset and no "acmed" user: runs as nobody */
    char warning[256];       /* when fallback: the warning to log at every start; else "" */
};

/* Decides for conf c (conf/acmed.yaml as loaded) and the effective uid the run started with.
 * When enabled, resolves the worker's user through privdrop_resolve. A `user:` naming a user
 * that does not exist, or root, and an unset one when neither "acmed" nor "nobody" exists, are
 * -EINVAL with e naming conf/acmed.yaml and the user (callers exit 2: a configuration error);
 * a failing lookup is its negative code. When off, `user:` is not looked up. Fills *out in
 * every case (zeroed on error: neither enabled nor a reason to be off). Returns 0 or
 * negative. */
int privsep_plan(const struct acmed_conf *c, uid_t euid, struct privsep_plan *out, struct err *e);

/* One line for people (`acmed status`, logs), written into buf (NUL-terminated, truncated to
 * size): "worker runs as acmed", "worker runs as nobody (no acmed user: set user: in
 * conf/acmed.yaml)", "off (privsep: false)" or "off (not running as root)" ("undecided
 * (configuration error)" for the plan of a failed privsep_plan). Returns buf. */
const char *privsep_plan_describe(const struct privsep_plan *p, char *buf, size_t size);

/* The short name of why it is off, for --json: "privsep: false", "not running as root", or
 * NULL when on. Static. */
const char *privsep_plan_off_name(enum privsep_off off);

#endif
