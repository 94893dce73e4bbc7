/* privsep_plan: the one decision about privilege separation for a run. */
#include "privsep/privsep_plan.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int privsep_plan(const struct acmed_conf *c, uid_t euid, struct privsep_plan *out, struct err *e)
{
    struct err inner;
    int rc;

    memset(out, 0, sizeof *out);
    if (c->privsep == ACMED_PRIVSEP_OFF) {
        out->off = PRIVSEP_OFF_CONF;
        out->why_off = "privsep: false in conf/acmed.yaml";
        return 0;
    }
    /* `privsep: true` cannot make it happen either: only root can change to another user. */
    if (euid != 0) {
        out->off = PRIVSEP_OFF_NOT_ROOT;
        out->why_off = "not started as root";
        return 0;
    }
    err_clear(&inner);
    rc = privdrop_resolve(c->user, &out->user, &inner);
    if (rc < 0) {
        /* Off on error, so that a caller that goes on anyway (status) shows nothing stale. */
        memset(out, 0, sizeof *out);
        /* A lookup that failed (not "no such user") keeps its own code: it may pass. */
        if (rc == -ENOENT || rc == -EINVAL || rc == -ENAMETOOLONG)
            rc = -EINVAL;
        return err_set(e, rc, "conf/acmed.yaml: %s", err_msg(&inner));
    }
    out->enabled = true;
    out->fallback = out->user.fallback;
    if (out->fallback)
        snprintf(out->warning, sizeof out->warning,
                 "no user \"acmed\": the worker runs as %s; create the system user acmed (the "
                 "Debian package does) or set user: in conf/acmed.yaml",
                 out->user.name);
    return 0;
}

const char *privsep_plan_off_name(enum privsep_off off)
{
    switch (off) {
    case PRIVSEP_OFF_NONE:
        return NULL;
    case PRIVSEP_OFF_CONF:
        return "privsep: false";
    case PRIVSEP_OFF_NOT_ROOT:
        return "not running as root";
    }
    return "unknown";
}

const char *privsep_plan_describe(const struct privsep_plan *p, char *buf, size_t size)
{
    if (!p->enabled && p->off == PRIVSEP_OFF_NONE)
        snprintf(buf, size, "undecided (configuration error)");
    else if (!p->enabled)
        snprintf(buf, size, "off (%s)", privsep_plan_off_name(p->off));
    else if (p->fallback)
        snprintf(buf, size, "worker runs as %s (no acmed user: set user: in conf/acmed.yaml)",
                 p->user.name);
    else
        snprintf(buf, size, "worker runs as %s", p->user.name);
    return buf;
}
