/* daemon: the long-running loop around reconcile passes. */
#include "daemon/daemon.h"
#include "daemon/privsep_start.h"

#include <errno.h>
#include <malloc.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <uv.h>

#include "cluster/lockset.h"
#include "daemon/daemon_fleet.h"
#include "daemon/daemon_serve.h"
#include "daemon/metrics.h"
#include "daemon/notify.h"
#include "daemon/status.h"
#include "store/desired.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/fsio.h"
#include "util/log.h"

#define DEBOUNCE_MS 300
#define MIN_DELAY_S 5 /* between passes nobody asked for, whatever is "due" */
/* Fleet mode: a pass left something to the fleet (a target another node held, etcd silent):
 * look again once a dead holder's lock has expired. */
#define FLEET_AGAIN_S (LOCKSET_TTL_DEFAULT + 2)

struct daemon {
    const struct rec_opts *o;
    struct rec_opts po; /* the options each pass gets */
    uv_loop_t loop;
    struct store st;
    struct acmed_conf conf;
    uv_signal_t sigs[4];
    uv_fs_event_t watch[2];
    uv_timer_t pass_timer, debounce, watchdog, grace;
    uv_timer_t trim;  /* gives the heap's free pages back once a pass has freed what it held */
    struct rec *pass; /* the pass running on the loop, NULL between passes */
    bool rerun;       /* asked for another pass while one ran */
    bool stopping;    /* a stop signal arrived: no new pass; the loop ends after this one */
    time_t started, next_pass;
    struct daemon_stats stats;
    struct privsep_run ps; /* privilege separation's worker, if any */
    bool serve;            /* acmed serve: the certificate server runs beside the passes */
    struct daemon_serve *srv;
    struct daemon_fleet *fleet; /* fleet mode (conf/acmed.yaml cluster:) */
};

static void schedule(struct daemon *d, uint64_t ms);

static void on_pass_timer(uv_timer_t *t);

/* The loop ends once a stop was asked, no pass runs and the server (acmed serve) is closed. */
static void maybe_exit(struct daemon *d)
{
    if (d->stopping && !d->pass && !d->srv)
        uv_stop(&d->loop);
}

static void on_serve_stopped(void *arg)
{
    struct daemon *d = arg;

    d->srv = NULL;
    maybe_exit(d);
}

static void request_pass(struct daemon *d, uint64_t ms, const char *why)
{
    if (d->stopping)
        return;
    snprintf(d->stats.next_why, sizeof d->stats.next_why, "%s", why);
    schedule(d, ms);
}

static void schedule(struct daemon *d, uint64_t ms)
{
    d->next_pass = clock_now() + (time_t)(ms / 1000);
    uv_timer_start(&d->pass_timer, on_pass_timer, ms, 0);
}

/* The grace after a stop signal is over (or a second signal came) and the pass has not
 * reached its checkpoints: what it has in flight is cancelled (reconcile_force_stop), and its
 * end, soon after, stops the loop as for any stop (on_pass_done). */
static void on_grace_over(uv_timer_t *t)
{
    struct daemon *d = t->data;

    uv_timer_stop(&d->grace);
    if (d->pass)
        reconcile_force_stop(d->pass);
    if (d->srv)
        daemon_serve_stop(d->srv, true, on_serve_stopped, d);
}

/* A stop: with no pass running, at once; during a pass, once its in-flight steps reach their
 * next checkpoint (at most REC_STOP_GRACE_MS; a second signal does not wait). */
static void stop(struct daemon *d, int signum)
{
    if (d->stopping) {
        if (d->pass || d->srv)
            on_grace_over(&d->grace);
        return;
    }
    d->stopping = true;
    notify_send("STOPPING=1");
    uv_timer_stop(&d->pass_timer);
    uv_timer_stop(&d->debounce);
    if (d->srv)
        daemon_serve_stop(d->srv, false, on_serve_stopped, d);
    if (d->pass || d->srv) {
        log_notice("signal %d: stopping at the next checkpoint (again to stop now)", signum);
        if (d->pass)
            reconcile_stop(d->pass);
        uv_timer_start(&d->grace, on_grace_over, REC_STOP_GRACE_MS, 0);
        return;
    }
    log_notice("signal %d: stopping", signum);
    uv_stop(&d->loop);
}

static void on_signal(uv_signal_t *h, int signum)
{
    struct daemon *d = h->data;

    if (signum == SIGTERM || signum == SIGINT) {
        stop(d, signum);
        return;
    }
    log_info("signal %d: %s", signum, signum == SIGHUP ? "reloading" : "reconciling now");
    request_pass(d, 0, signum == SIGHUP ? "SIGHUP" : "signal");
}

static void on_debounced(uv_timer_t *t);

/* Fleet mode: the record says whether etcd answers (status reads it at once). */
static void fleet_stats(struct daemon *d)
{
    const char *why;

    d->stats.fleet_up = daemon_fleet_up(d->fleet, &why, &d->stats.fleet_node);
    snprintf(d->stats.fleet_why, sizeof d->stats.fleet_why, "%s", why);
}

/* The fleet's targets or progress changed in etcd (another node wanted or installed), or etcd
 * stopped or started answering. */
static void on_fleet_changed(void *arg)
{
    struct daemon *d = arg;
    bool was = d->stats.fleet_up;

    if (d->fleet) {
        fleet_stats(d);
        if (was != d->stats.fleet_up && d->stats.passes)
            daemon_status_write(&d->st, d->started, &d->stats);
    }
    uv_timer_start(&d->debounce, on_debounced, DEBOUNCE_MS, 0);
}

static void on_debounced(uv_timer_t *t)
{
    request_pass(t->data, 0, "a change in desired/ or conf/ (or the fleet's)");
}

/* A change under desired/ or conf/: acted on once the burst of events is over. */
static void on_fs_event(uv_fs_event_t *h, const char *name, int events, int status)
{
    struct daemon *d = h->data;

    if (name && name[0] == '.')
        return; /* our own temp files, editors' dotfiles */
    log_debug("change in %s: %s", (const char *)h->data == NULL ? "?" : "state directory",
              name ? name : "?");
    uv_timer_start(&d->debounce, on_debounced, DEBOUNCE_MS, 0);
}

static void on_watchdog(uv_timer_t *t)
{
    notify_send("WATCHDOG=1");
}

/* The delay until the next pass: what is due, but at least MIN_DELAY_S and at most the
 * interval with up to 10% jitter, so that many daemons do not all call their CA at once. What
 * is due comes from the pass that just ended when it knows (sum->wake_known: it changed
 * nothing), else from the state directory. sum may be NULL. */
static uint64_t next_delay_ms(struct daemon *d, const struct rec_summary *sum)
{
    uint64_t interval = (uint64_t)(d->conf.interval_s ? d->conf.interval_s : 3600) * 1000;
    uint32_t rnd = 0;
    time_t now = clock_now(), wake = 0;
    char why[sizeof d->stats.next_why];
    struct err e;
    uint64_t ms;

    fsio_random(&rnd, sizeof rnd);
    ms = interval - interval / 10 + (interval / 5 ? rnd % (interval / 5 + 1) : 0);
    snprintf(d->stats.next_why, sizeof d->stats.next_why, "interval");
    if (sum && sum->wake_known) {
        wake = sum->next_wake;
        snprintf(why, sizeof why, "%s", sum->next_why);
    } else if (reconcile_next_wake(d->o->state_dir, now, &wake, why, sizeof why, &e) < 0) {
        log_warn("%s", err_msg(&e));
    }
    if (sum && sum->fleet_again && (uint64_t)FLEET_AGAIN_S * 1000 < ms) {
        ms = (uint64_t)FLEET_AGAIN_S * 1000;
        snprintf(d->stats.next_why, sizeof d->stats.next_why, "the fleet: %s",
                 sum->fleet_up ? "a target held by another node" : "etcd unreachable");
    }
    if (wake > 0) {
        uint64_t until = wake > now ? (uint64_t)(wake - now) * 1000 : 0;

        if (until < (uint64_t)MIN_DELAY_S * 1000)
            until = (uint64_t)MIN_DELAY_S * 1000;
        if (until < ms) {
            ms = until;
            snprintf(d->stats.next_why, sizeof d->stats.next_why, "%s", why);
        }
    }
    return ms;
}

/* The pass has freed what it loaded (megabytes for thousands of targets) after its callback
 * returned, but the heap keeps the pages: give them back while the daemon idles. */
static void on_trim(uv_timer_t *t)
{
    (void)t;
    malloc_trim(0);
}

/* The pass is over (reconcile_start's callback): its record, then the next pass. */
static void on_pass_done(void *arg, int code, const struct rec_summary *sum, const struct err *e)
{
    struct daemon *d = arg;
    char when[32];

    d->pass = NULL;
    uv_timer_stop(&d->grace);
    d->stats.last_pass_end = clock_now();
    d->stats.last_exit = code;
    d->stats.passes++;
    d->stats.issued += sum->issued;
    d->stats.failures += sum->failed;
    d->stats.requests += sum->requests;
    d->stats.last = *sum;
    d->stats.last.snap = NULL; /* the pass's, gone after this call */
    if (code == REC_USAGE)
        log_err("reconcile: %s", err_msg(e));
    if (d->stopping) {
        maybe_exit(d);
        return;
    }
    if (d->rerun || sum->fleet_now) {
        d->rerun = false;
        snprintf(d->stats.next_why, sizeof d->stats.next_why, "requested during the last pass");
        schedule(d, 0);
    } else {
        schedule(d, next_delay_ms(d, sum));
    }
    d->stats.next_pass = d->next_pass;
    if (d->fleet)
        fleet_stats(d);
    notify_sendf("STATUS=%u targets, %u satisfied, %u failed; next pass at %s", sum->targets,
                 sum->satisfied, sum->failed, clock_rfc3339(d->next_pass, when, sizeof when));
    daemon_status_write(&d->st, d->started, &d->stats);
    if (d->conf.metrics_file)
        daemon_metrics_write(&d->st, d->conf.metrics_file, &d->stats, sum->snap);
    uv_timer_start(&d->trim, on_trim, 0, 0);
}

/* A pass on the daemon's own loop: the watchdog, signals and desired/ watching go on while it
 * runs. A pass asked for while one runs follows it. */
static void on_pass_timer(uv_timer_t *t)
{
    struct daemon *d = t->data;
    struct err e;

    if (d->stopping)
        return;
    if (d->pass) {
        d->rerun = true;
        return;
    }
    d->stats.last_pass_start = clock_now();
    if (reconcile_start(&d->loop, &d->po, on_pass_done, d, &d->pass, &e) < 0) {
        log_err("reconcile: %s", err_msg(&e));
        schedule(d, next_delay_ms(d, NULL));
    }
}

static int setup(struct daemon *d, struct err *e)
{
    static const int sigs[4] = {SIGTERM, SIGINT, SIGHUP, SIGUSR1};
    static const char *const dirs[2] = {"desired", "conf"};
    uint64_t wd;
    int rc;

    if ((rc = store_open(d->o->state_dir, &d->st, e)) < 0)
        return 2;
    if ((rc = store_lock(&d->st, e)) < 0)
        return rc == -EWOULDBLOCK ? 4 : 2;
    if ((rc = acmed_conf_load(d->st.root, &d->conf, e)) < 0)
        return 2;
    uv_loop_init(&d->loop);
    for (int i = 0; i < 4; i++) {
        uv_signal_init(&d->loop, &d->sigs[i]);
        d->sigs[i].data = d;
        uv_signal_start(&d->sigs[i], on_signal, sigs[i]);
    }
    for (int i = 0; i < 2; i++) {
        char *path = store_path(&d->st, dirs[i]);

        uv_fs_event_init(&d->loop, &d->watch[i]);
        d->watch[i].data = d;
        if (!path || uv_fs_event_start(&d->watch[i], on_fs_event, path, 0) < 0)
            log_warn("cannot watch %s/%s: changes are seen at the next pass", d->st.root, dirs[i]);
        free(path);
    }
    uv_timer_init(&d->loop, &d->pass_timer);
    uv_timer_init(&d->loop, &d->debounce);
    uv_timer_init(&d->loop, &d->watchdog);
    uv_timer_init(&d->loop, &d->grace);
    uv_timer_init(&d->loop, &d->trim);
    d->pass_timer.data = d->debounce.data = d->watchdog.data = d->grace.data = d;
    if ((wd = notify_watchdog_usec()) > 0)
        uv_timer_start(&d->watchdog, on_watchdog, wd / 2000, wd / 2000);
    /* One worker for the daemon's life, restarted when it dies. */
    if ((rc = privsep_start(&d->loop, &d->po, &d->ps, e)) < 0) {
        err_wrap(e, "privilege separation");
        return 2;
    }
    if (d->conf.cluster && (rc = daemon_fleet_start(&d->loop, &d->conf, d->st.root, &d->po,
                                                    on_fleet_changed, d, &d->fleet, e)) < 0) {
        err_wrap(e, "fleet mode");
        return 2;
    }
    if (d->fleet)
        fleet_stats(d);
    if (d->serve && (rc = daemon_serve_start(&d->loop, d->ps.keeper, d->st.root, &d->po,
                                             d->conf.max_orders, &d->srv, e)) < 0) {
        err_wrap(e, "serve");
        return 2;
    }
    return 0;
}

static void close_all(uv_handle_t *h, void *arg)
{
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

int daemon_run(const struct rec_opts *o, bool serve, struct err *e)
{
    struct daemon d;
    bool closed = false;
    int code;

    memset(&d, 0, sizeof d);
    d.serve = serve;
    d.o = o;
    d.po = *o;
    d.po.locked = true;
    d.st.lock_fd = -1;
    d.started = clock_now();
    code = setup(&d, e);
    if (code == 0) {
        log_notice("acmed %s: %s started on %s (pid %ld)", ACMED_VERSION,
                   serve ? "certificate server" : "daemon", d.st.root, (long)getpid());
        notify_send("READY=1\nSTATUS=starting the first pass");
        request_pass(&d, 0, "daemon start");
        while (!d.stopping && uv_run(&d.loop, UV_RUN_DEFAULT))
            ;
        /* The fleet's lease goes (its locks at once), its listener closes. */
        daemon_fleet_stop(d.fleet, &closed);
        while (!closed && uv_run(&d.loop, UV_RUN_ONCE))
            ;
        privsep_stop(&d.ps);
        uv_walk(&d.loop, close_all, NULL);
        uv_run(&d.loop, UV_RUN_DEFAULT);
        uv_loop_close(&d.loop);
        log_notice("daemon stopped");
    }
    acmed_conf_clear(&d.conf);
    store_close(&d.st);
    return code;
}
