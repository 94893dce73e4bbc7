#include "acme/headers.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

/* ---- Retry-After ---- */

/* A cursor over [p, end) for the fixed-layout HTTP-date grammars. */
struct scan {
    const char *p;
    const char *end;
};

static bool lit(struct scan *s, const char *l)
{
    size_t n = strlen(l);

    if ((size_t)(s->end - s->p) < n || memcmp(s->p, l, n) != 0)
        return false;
    s->p += n;
    return true;
}

/* Exactly n ASCII digits. */
static bool num(struct scan *s, int n, int *out)
{
    int v = 0;

    if (s->end - s->p < n)
        return false;
    for (int i = 0; i < n; i++) {
        if (s->p[i] < '0' || s->p[i] > '9')
            return false;
        v = v * 10 + (s->p[i] - '0');
    }
    s->p += n;
    *out = v;
    return true;
}

static bool word(struct scan *s, const char *const *names, int count, int *idx)
{
    for (int i = 0; i < count; i++) {
        if (lit(s, names[i])) {
            *idx = i;
            return true;
        }
    }
    return false;
}

static const char *const day_names[] = {"Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"};
static const char *const day_names_long[] = {"Sunday",   "Monday", "Tuesday", "Wednesday",
                                             "Thursday", "Friday", "Saturday"};
static const char *const month_names[] = {"Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                          "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"};

static bool time_of_day(struct scan *s, struct tm *tm)
{
    return num(s, 2, &tm->tm_hour) && lit(s, ":") && num(s, 2, &tm->tm_min) && lit(s, ":") &&
           num(s, 2, &tm->tm_sec);
}

/* timegm() of tm with its year replaced by `year`; tm itself is left alone. */
static time_t at_year(const struct tm *tm, int year)
{
    struct tm t = *tm;

    t.tm_year = year - 1900;
    return timegm(&t);
}

/* RFC 850's two-digit year (RFC 9110 §5.6.7): a timestamp that would be more than 50 years in
 * the future means the most recent past year with those last two digits. The comparison is on
 * the whole timestamp, not just the year, so the candidate is the latest year with the right
 * digits whose date is at most 50 years after `now`. */
static int rfc850_year(int yy, const struct tm *date, time_t now)
{
    struct tm cur;
    time_t limit;
    int y;

    if (!gmtime_r(&now, &cur))
        return 1900 + yy;
    limit = at_year(&cur, cur.tm_year + 1900 + 50);
    y = cur.tm_year + 1900 - (cur.tm_year + 1900) % 100 + yy;
    if (at_year(date, y) > limit)
        y -= 100;
    else if (at_year(date, y + 100) <= limit)
        y += 100;
    return y;
}

/* Parses the three HTTP-date forms of RFC 9110 §5.6.7:
 *   IMF-fixdate  Sun, 06 Nov 1994 08:49:37 GMT
 *   RFC 850      Sunday, 06-Nov-94 08:49:37 GMT
 *   asctime      Sun Nov  6 08:49:37 1994
 * The weekday is required by the grammar but not checked against the date. */
static int http_date(const char *p, const char *end, time_t now, time_t *out)
{
    struct scan s = {p, end};
    struct tm tm = {0};
    int wd, year = 0, mday, ok;
    bool two_digit = false;
    time_t t;

    if (word(&s, day_names_long, 7, &wd) && lit(&s, ", ")) {
        ok = num(&s, 2, &tm.tm_mday) && lit(&s, "-") && word(&s, month_names, 12, &tm.tm_mon) &&
             lit(&s, "-") && num(&s, 2, &year) && lit(&s, " ") && time_of_day(&s, &tm) &&
             lit(&s, " GMT");
        two_digit = true;
    } else {
        s.p = p;
        if (!word(&s, day_names, 7, &wd))
            return -EINVAL;
        if (lit(&s, ", ")) {
            ok = num(&s, 2, &tm.tm_mday) && lit(&s, " ") && word(&s, month_names, 12, &tm.tm_mon) &&
                 lit(&s, " ") && num(&s, 4, &year) && lit(&s, " ") && time_of_day(&s, &tm) &&
                 lit(&s, " GMT");
        } else {
            ok = lit(&s, " ") && word(&s, month_names, 12, &tm.tm_mon) && lit(&s, " ") &&
                 (lit(&s, " ") ? num(&s, 1, &tm.tm_mday) : num(&s, 2, &tm.tm_mday)) &&
                 lit(&s, " ") && time_of_day(&s, &tm) && lit(&s, " ") && num(&s, 4, &year);
        }
    }
    if (!ok || s.p != s.end || tm.tm_mday < 1 || tm.tm_mday > 31 || tm.tm_hour > 23 ||
        tm.tm_min > 59 || tm.tm_sec > 60)
        return -EINVAL;
    if (tm.tm_sec == 60) /* a leap second */
        tm.tm_sec = 59;
    if (two_digit)
        year = rfc850_year(year, &tm, now);
    tm.tm_year = year - 1900;
    mday = tm.tm_mday;
    t = timegm(&tm);
    if (tm.tm_mday != mday) /* timegm normalised an impossible date such as 31 Feb */
        return -EINVAL;
    *out = t;
    return 0;
}

static bool is_ows(char c)
{
    return c == ' ' || c == '\t';
}

/* delay-seconds is 1*DIGIT (RFC 9110 §10.2.3). A value too large for time_t is rejected
 * rather than saturated, so that the caller falls back to its own backoff; a value that fits
 * is clamped to max_s by acme_retry_after_parse. */
static int delay_seconds(const char *p, const char *end, time_t *out)
{
    time_t d = 0;

    for (; p < end; p++) {
        if (*p < '0' || *p > '9')
            return -EINVAL;
        if (__builtin_mul_overflow(d, 10, &d) || __builtin_add_overflow(d, *p - '0', &d))
            return -EINVAL;
    }
    *out = d;
    return 0;
}

int acme_retry_after_parse(const char *value, time_t now, time_t max_s, time_t *delay_s)
{
    const char *p, *end;
    time_t d = 0, t;

    if (!value)
        return -EINVAL;
    if (max_s <= 0)
        max_s = ACME_RETRY_AFTER_MAX;
    for (p = value; is_ows(*p); p++)
        ;
    for (end = p + strlen(p); end > p && is_ows(end[-1]); end--)
        ;
    if (p == end)
        return -EINVAL;
    if (*p >= '0' && *p <= '9') {
        if (delay_seconds(p, end, &d) < 0)
            return -EINVAL;
    } else {
        if (http_date(p, end, now, &t) < 0)
            return -EINVAL;
        /* A `now` far in the past could make the difference overflow: that is "very long". */
        if (t <= now)
            d = 0;
        else if (__builtin_sub_overflow(t, now, &d))
            d = max_s;
    }
    *delay_s = d > max_s ? max_s : d;
    return 0;
}

/* ---- Link ---- */

/* tchar of RFC 9110 §5.6.2. */
static bool is_tchar(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
           (c && strchr("!#$%&'*+-.^_`|~", c));
}

static bool is_ctl(char c)
{
    return (unsigned char)c < 0x20 || c == 0x7f;
}

static const char *skip_ows(const char *p)
{
    while (is_ows(*p))
        p++;
    return p;
}

/* A token or quoted-string parameter value starting at *pp; *out is a malloc'd unquoted copy. */
static int param_value(const char **pp, char **out)
{
    const char *p = *pp, *start = p;
    char *v, *w;

    if (*p != '"') {
        while (is_tchar(*p))
            p++;
        if (p == start)
            return -EINVAL;
        *out = strndup(start, (size_t)(p - start));
        *pp = p;
        return *out ? 0 : -ENOMEM;
    }
    /* The unquoted text is never longer than the quoted one. */
    if (!(v = malloc(strlen(p) + 1)))
        return -ENOMEM;
    for (w = v, p++; *p != '"'; p++) {
        if (*p == '\\')
            p++;
        if (!*p || (is_ctl(*p) && *p != '\t')) {
            free(v);
            return -EINVAL;
        }
        *w++ = *p;
    }
    *w = '\0';
    *out = v;
    *pp = p + 1;
    return 0;
}

/* The parameters after "<url>": *( OWS ";" OWS token BWS [ "=" BWS value ] ). Keeps the first
 * rel (RFC 8288 §3.3: later occurrences are ignored). Stops before ',' or the end. */
static int link_params(const char **pp, char **rel)
{
    const char *p = *pp, *name;
    size_t nlen;
    char *v;
    int rc;

    for (;;) {
        p = skip_ows(p);
        if (*p != ';')
            break;
        p = skip_ows(p + 1);
        for (name = p; is_tchar(*p); p++)
            ;
        if (p == name)
            return -EINVAL;
        nlen = (size_t)(p - name);
        p = skip_ows(p);
        if (*p != '=')
            continue;
        p = skip_ows(p + 1);
        if ((rc = param_value(&p, &v)) < 0)
            return rc;
        if (nlen == 3 && strncasecmp(name, "rel", 3) == 0 && !*rel)
            *rel = v;
        else
            free(v);
    }
    *pp = p;
    return *p == ',' || *p == '\0' ? 0 : -EINVAL;
}

static int link_append(struct acme_link **links, size_t *n, char *url, char *rel)
{
    struct acme_link *tmp = realloc(*links, (*n + 1) * sizeof(**links));

    if (!tmp)
        return -ENOMEM;
    *links = tmp;
    tmp[*n].url = url;
    tmp[*n].rel = rel;
    (*n)++;
    return 0;
}

int acme_link_parse(const char *value, struct acme_link **links, size_t *n, struct err *e)
{
    struct acme_link *out = NULL;
    const char *p = value, *url_start;
    char *url = NULL, *rel = NULL;
    size_t count = 0;
    int rc = 0;

    if (!value)
        return err_set(e, -EINVAL, "Link: no value");
    for (;;) {
        /* Empty list elements (", ,") are allowed by the #rule of RFC 9110 §5.6.1. */
        while (is_ows(*p) || *p == ',')
            p++;
        if (!*p)
            break;
        if (*p != '<') {
            rc = err_set(e, -EINVAL, "Link: expected '<' at offset %zu", (size_t)(p - value));
            goto out;
        }
        for (url_start = ++p; *p && *p != '>'; p++) {
            if (is_ctl(*p) || *p == ' ' || *p == '<') {
                rc = err_set(e, -EINVAL, "Link: invalid character in URL at offset %zu",
                             (size_t)(p - value));
                goto out;
            }
        }
        if (*p != '>' || p == url_start) {
            rc = err_set(e, -EINVAL, "Link: unterminated or empty URL");
            goto out;
        }
        if (!(url = strndup(url_start, (size_t)(p - url_start)))) {
            rc = err_set(e, -ENOMEM, "Link: out of memory");
            goto out;
        }
        p++;
        if ((rc = link_params(&p, &rel)) < 0) {
            rc = err_set(e, rc, "Link: %s in parameters at offset %zu",
                         rc == -ENOMEM ? "out of memory" : "syntax error", (size_t)(p - value));
            goto out;
        }
        if ((rc = link_append(&out, &count, url, rel)) < 0) {
            rc = err_set(e, rc, "Link: out of memory");
            goto out;
        }
        url = rel = NULL;
    }
    *links = out;
    *n = count;
    out = NULL;
    count = 0;
out:
    free(url);
    free(rel);
    acme_links_free(out, count);
    return rc;
}

void acme_links_free(struct acme_link *links, size_t n)
{
    for (size_t i = 0; links && i < n; i++) {
        free(links[i].url);
        free(links[i].rel);
    }
    free(links);
}

bool acme_link_rel_has(const char *rel_value, const char *rel)
{
    size_t len = rel ? strlen(rel) : 0;
    const char *p = rel_value, *w;

    if (!p || !len)
        return false;
    while (*p) {
        while (*p == ' ' || *p == '\t')
            p++;
        for (w = p; *p && *p != ' ' && *p != '\t'; p++)
            ;
        if ((size_t)(p - w) == len && strncasecmp(w, rel, len) == 0)
            return true;
    }
    return false;
}

void acme_urls_free(char **urls, size_t n)
{
    for (size_t i = 0; urls && i < n; i++)
        free(urls[i]);
    free(urls);
}

int acme_link_find(const char *const *values, size_t nvalues, const char *rel, char ***urls,
                   size_t *nurls, struct err *e)
{
    struct acme_link *links = NULL;
    char **out = NULL, **tmp;
    size_t nlinks = 0, count = 0;
    int rc = 0;

    for (size_t i = 0; i < nvalues; i++) {
        if ((rc = acme_link_parse(values[i], &links, &nlinks, e)) < 0)
            goto out;
        for (size_t j = 0; j < nlinks; j++) {
            if (!acme_link_rel_has(links[j].rel, rel))
                continue;
            if (!(tmp = realloc(out, (count + 1) * sizeof(*out)))) {
                rc = err_set(e, -ENOMEM, "Link: out of memory");
                goto out;
            }
            out = tmp;
            out[count++] = links[j].url; /* moved out of the link */
            links[j].url = NULL;
        }
        acme_links_free(links, nlinks);
        links = NULL;
        nlinks = 0;
    }
    *urls = out;
    *nurls = count;
    out = NULL;
    count = 0;
out:
    acme_links_free(links, nlinks);
    acme_urls_free(out, count);
    return rc;
}
