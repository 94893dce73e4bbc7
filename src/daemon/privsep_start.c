/* privsep_start: the decision (privsep/privsep_plan.h) and the keeper's start. */
#include "daemon/privsep_start.h"

#include <string.h>
#include <unistd.h>

#include "privsep/engine_proxy.h"
#include "privsep/privsep_plan.h"
#include "store/desired.h"
#include "util/log.h"

int privsep_start(uv_loop_t *loop, struct rec_opts *o, struct privsep_run *out, struct err *e)
{
    struct acmed_conf conf;
    struct privsep_plan plan;
    struct keeper_opts ko = {.ca_bundle = o->ca_bundle};
    int rc;

    memset(out, 0, sizeof *out);
    if ((rc = acmed_conf_load(o->state_dir, &conf, e)) < 0)
        return rc;
    rc = privsep_plan(&conf, geteuid(), &plan, e);
    ko.insecure_http = conf.allow_insecure_http;
    ko.max_requests = conf.max_requests_per_ca;
    acmed_conf_clear(&conf);
    if (rc < 0)
        return rc;
    if (!plan.enabled) {
        log_debug("privilege separation off: %s", plan.why_off);
        return 0;
    }
    if (plan.fallback)
        log_warn("%s", plan.warning);
    ko.id = &plan.user;
    if (!(out->keeper = keeper_start(loop, &ko, e)))
        return e->code ? e->code : -1;
    if (!(out->listeners = listener_proxy_new(out->keeper))) {
        privsep_stop(out);
        return err_set(e, -ENOMEM, "out of memory");
    }
    log_debug("privilege separation: the worker runs as %s", plan.user.name);
    o->new_engine = engine_proxy_new;
    o->new_engine_arg = out->keeper;
    o->listeners = listener_proxy_factory(out->listeners);
    return 0;
}

void privsep_stop(struct privsep_run *run)
{
    listener_proxy_free(run->listeners);
    keeper_free(run->keeper);
    memset(run, 0, sizeof *run);
}
