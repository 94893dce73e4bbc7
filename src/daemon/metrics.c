/* metrics: Prometheus text exposition format 0.0.4. See metrics.h.
 *
 * The format, in short: "# HELP <name> <text>" and "# TYPE <name> <type>" once per metric,
 * then all of that metric's samples together, each "<name>{<label>="<value>",...} <number>".
 * Label values escape backslash, double quote and newline; a scraper rejects the whole file on
 * one bad line, so label values are also forced to valid UTF-8. */
#include "daemon/metrics.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "util/buf.h"
#include "util/fsio.h"

enum target_metric {
    TM_NOT_AFTER,
    TM_NEXT_RENEWAL,
    TM_LAST_SUCCESS,
    TM_FAILURES,
    TM_SATISFIED,
};

static const struct {
    const char *name;
    const char *help;
} target_metrics[] = {
    [TM_NOT_AFTER] = {"acmed_certificate_not_after_seconds",
                      "Expiry of the current certificate of a target, in seconds since the "
                      "epoch."},
    [TM_NEXT_RENEWAL] = {"acmed_certificate_next_renewal_seconds",
                         "When the certificate of a target is next due for renewal, in seconds "
                         "since the epoch."},
    [TM_LAST_SUCCESS] = {"acmed_target_last_success_seconds",
                         "Time of the last successful reconcile of a target, in seconds since "
                         "the epoch."},
    [TM_FAILURES] = {"acmed_target_failures", "Consecutive failed attempts for a target."},
    [TM_SATISFIED] = {"acmed_target_satisfied",
                      "Whether the current certificate of a target satisfies its desired "
                      "state (1) or not (0)."},
};

/* The length of the valid UTF-8 sequence at `s` (NUL-terminated), or 0 when it is invalid:
 * truncated, overlong, a surrogate or beyond U+10FFFF. A NUL byte ends every check early, so
 * nothing past the terminator is read. */
static size_t utf8_len(const unsigned char *s)
{
    unsigned char lo = 0x80, hi = 0xbf;

    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        return (s[1] & 0xc0) == 0x80 ? 2 : 0;
    if (s[0] >= 0xe0 && s[0] <= 0xef) {
        if (s[0] == 0xe0)
            lo = 0xa0;
        if (s[0] == 0xed)
            hi = 0x9f;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 ? 3 : 0;
    }
    if (s[0] >= 0xf0 && s[0] <= 0xf4) {
        if (s[0] == 0xf0)
            lo = 0x90;
        if (s[0] == 0xf4)
            hi = 0x8f;
        return s[1] >= lo && s[1] <= hi && (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80 ? 4 : 0;
    }
    return 0;
}

/* Appends a label value, escaped, without the surrounding quotes. */
static int put_label_value(struct buf *b, const char *value)
{
    const unsigned char *s = (const unsigned char *)value;
    size_t n;
    int rc = 0;

    while (*s && rc == 0) {
        if (*s == '\\') {
            rc = buf_puts(b, "\\\\");
            n = 1;
        } else if (*s == '"') {
            rc = buf_puts(b, "\\\"");
            n = 1;
        } else if (*s == '\n') {
            rc = buf_puts(b, "\\n");
            n = 1;
        } else if ((n = utf8_len(s)) > 0) {
            rc = buf_append(b, s, n);
        } else {
            rc = buf_puts(b, "\xef\xbf\xbd"); /* U+FFFD for one invalid byte */
            n = 1;
        }
        s += n;
    }
    return rc;
}

static int put_header(struct buf *b, const char *name, const char *type, const char *help)
{
    return buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* The value of one per-target metric; false when it is unknown and the sample is left out. */
static bool target_value(const struct metrics_target *t, enum target_metric k, long long *v)
{
    switch (k) {
    case TM_NOT_AFTER:
        *v = (long long)t->not_after;
        return t->not_after != 0;
    case TM_NEXT_RENEWAL:
        *v = (long long)t->next_renewal;
        return t->next_renewal != 0;
    case TM_LAST_SUCCESS:
        *v = (long long)t->last_success;
        return t->last_success != 0;
    case TM_FAILURES:
        *v = t->failures;
        return true;
    case TM_SATISFIED:
        *v = t->satisfied ? 1 : 0;
        return true;
    }
    return false;
}

/* Appends one per-target metric: its header, then a sample for every target that has a
 * value. The expiry also carries the certificate id, so a dashboard can tell renewals apart. */
static int put_target_metric(struct buf *b, const struct metrics *m, enum target_metric k)
{
    long long v;
    size_t i;
    int rc;

    rc = put_header(b, target_metrics[k].name, "gauge", target_metrics[k].help);
    for (i = 0; rc == 0 && i < m->ntargets; i++) {
        const struct metrics_target *t = &m->targets[i];

        if (!target_value(t, k, &v))
            continue;
        rc = buf_printf(b, "%s{target=\"", target_metrics[k].name);
        if (rc == 0)
            rc = put_label_value(b, t->target ? t->target : "");
        if (rc == 0 && k == TM_NOT_AFTER) {
            rc = buf_puts(b, "\",cert_id=\"");
            if (rc == 0)
                rc = put_label_value(b, t->cert_id ? t->cert_id : "");
        }
        if (rc == 0)
            rc = buf_printf(b, "\"} %lld\n", v);
    }
    return rc;
}

/* Appends the daemon-wide metrics, one sample each. Counters are unsigned; the time is a
 * time_t and printed signed. */
static int put_global_metrics(struct buf *b, const struct metrics *m)
{
    const struct {
        const char *name, *type, *help;
        unsigned long long u; /* the value, unless is_signed */
        long long s;          /* the value when is_signed */
        bool is_signed;
    } g[] = {
        {"acmed_passes_total", "counter", "Reconcile passes completed.", .u = m->passes_total},
        {"acmed_orders_total", "counter", "ACME orders created.", .u = m->orders_total},
        {"acmed_requests_total", "counter", "Requests sent to ACME servers.",
         .u = m->requests_total},
        {"acmed_failures_total", "counter", "Failed attempts, all targets together.",
         .u = m->failures_total},
        {"acmed_certificates_issued_total", "counter", "Certificates issued.",
         .u = m->certificates_issued_total},
        {"acmed_last_pass_seconds", "gauge",
         "End of the last reconcile pass, in seconds since the epoch.",
         .s = (long long)m->last_pass, .is_signed = true},
        {"acmed_orders_in_flight", "gauge", "ACME orders in progress.", .u = m->orders_in_flight},
    };
    size_t i;
    int rc = 0;

    for (i = 0; rc == 0 && i < sizeof g / sizeof g[0]; i++) {
        rc = put_header(b, g[i].name, g[i].type, g[i].help);
        if (rc == 0 && g[i].is_signed)
            rc = buf_printf(b, "%s %lld\n", g[i].name, g[i].s);
        else if (rc == 0)
            rc = buf_printf(b, "%s %llu\n", g[i].name, g[i].u);
    }
    if (rc == 0 && m->cluster)
        rc = put_header(b, "acmed_cluster_etcd_up", "gauge",
                        "Fleet mode: 1 when etcd answered this node last, 0 when not.");
    if (rc == 0 && m->cluster)
        rc = buf_printf(b, "acmed_cluster_etcd_up %d\n", m->cluster_up ? 1 : 0);
    return rc;
}

char *metrics_format(const struct metrics *m)
{
    struct buf b = BUF_INIT;
    int rc = 0;
    int k;

    for (k = TM_NOT_AFTER; rc == 0 && k <= TM_SATISFIED; k++)
        rc = put_target_metric(&b, m, (enum target_metric)k);
    if (rc == 0)
        rc = put_global_metrics(&b, m);
    if (rc < 0) {
        buf_clear(&b);
        return NULL;
    }
    return buf_steal(&b);
}

int metrics_write(const char *path, const struct metrics *m, struct err *e)
{
    char *text = NULL;
    int rc;

    text = metrics_format(m);
    if (!text) {
        rc = err_set(e, -ENOMEM, "cannot format metrics for %s", path);
        goto out;
    }
    rc = fsio_write_atomic(path, text, strlen(text), 0644, e);
    if (rc < 0)
        err_wrap(e, "writing metrics");
out:
    free(text);
    return rc;
}
