/* Integration tests of the fault proxy itself (tests/faultproxy/faultproxy.py driven through
 * tests/common/faultproxy.c) in front of the Pebble fixture, with libcurl easy as the client.
 * One proxy serves the whole group; each test starts from fp_reset(). Every transfer has a
 * timeout. */
#include <curl/curl.h>
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <jansson.h>

#include "common/acme_flow.h"
#include "common/faultproxy.h"
#include "common/pebble_env.h"

#define BODY_KEEP (1u << 20) /* bytes of a response body kept for inspection */
#define MiB (1024L * 1024L)

static struct faultproxy *fp;

/* ---- a small blocking HTTPS client ----------------------------------------------------- */

struct resp {
    CURLcode cc;
    long code;
    char *body; /* the first BODY_KEEP bytes, NUL-terminated */
    size_t len;
    curl_off_t total;       /* all body bytes received */
    curl_off_t abort_after; /* > 0: fail the transfer once this many bytes arrived */
    char hdrs[8192];        /* header lines of the last response, "\n"-separated */
    size_t hlen;
    long elapsed_ms;
};

static size_t on_body(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct resp *r = userdata;
    size_t n = size * nmemb;
    size_t keep = n;

    r->total += (curl_off_t)n;
    if (r->abort_after > 0 && r->total > r->abort_after)
        return 0;
    if (r->len + keep > BODY_KEEP)
        keep = BODY_KEEP - r->len;
    if (keep > 0) {
        char *grown = realloc(r->body, r->len + keep + 1);

        assert_non_null(grown);
        memcpy(grown + r->len, ptr, keep);
        r->len += keep;
        grown[r->len] = '\0';
        r->body = grown;
    }
    return n;
}

static size_t on_header(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct resp *r = userdata;
    size_t n = size * nmemb;

    if (n >= 5 && strncmp(ptr, "HTTP/", 5) == 0)
        r->hlen = 0; /* a new response (e.g. after 100 Continue) */
    if (r->hlen + n < sizeof r->hdrs) {
        memcpy(r->hdrs + r->hlen, ptr, n);
        r->hlen += n;
        r->hdrs[r->hlen] = '\0';
    }
    return n;
}

/* The value of header `name` in r (case-insensitive), copied into buf; NULL if absent. */
static const char *header(const struct resp *r, const char *name, char *buf, size_t size)
{
    const char *line = r->hdrs;
    size_t nl = strlen(name);

    while (line && *line) {
        if (strncasecmp(line, name, nl) == 0 && line[nl] == ':') {
            const char *v = line + nl + 1;
            size_t len;

            v += strspn(v, " \t");
            len = strcspn(v, "\r\n");
            if (len >= size)
                len = size - 1;
            memcpy(buf, v, len);
            buf[len] = '\0';
            return buf;
        }
        line = strchr(line, '\n');
        line = line ? line + 1 : NULL;
    }
    return NULL;
}

static long mono_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* One request trusting the fixture CA. method: "GET", "HEAD" or "POST" (with `body`).
 * r->abort_after and `maxfilesize` (0: none) bound the body. */
static void fetch_opt(const char *method, const char *url, const char *body, long timeout_ms,
                      curl_off_t maxfilesize, struct resp *r)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    long t0 = mono_ms();

    assert_non_null(h);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CAINFO, pe_get("PEBBLE_CA"));
    curl_easy_setopt(h, CURLOPT_CAPATH, NULL); /* only the fixture CA, and fast */
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, r);
    if (maxfilesize > 0)
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, maxfilesize);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "POST") == 0) {
        hdrs = curl_slist_append(NULL, "Content-Type: application/jose+json");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "");
    }
    r->cc = curl_easy_perform(h);
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &r->code);
    r->elapsed_ms = mono_ms() - t0;
    curl_slist_free_all(hdrs);
    curl_easy_cleanup(h);
}

static void fetch(const char *method, const char *url, struct resp *r)
{
    fetch_opt(method, url, NULL, 10000, 0, r);
}

static void resp_free(struct resp *r)
{
    free(r->body);
    memset(r, 0, sizeof *r);
}

/* GETs url, expecting 200 and a JSON object; returns it (caller decrefs). */
static json_t *get_json(const char *url)
{
    struct resp r = {0};
    json_error_t jerr;
    json_t *j;

    fetch("GET", url, &r);
    assert_int_equal(r.cc, CURLE_OK);
    assert_int_equal(r.code, 200);
    j = json_loadb(r.body ? r.body : "", r.len, 0, &jerr);
    if (!j)
        fail_msg("GET %s: not JSON: %s", url, jerr.text);
    resp_free(&r);
    return j;
}

static const char *jstr(json_t *obj, const char *key)
{
    return json_string_value(json_object_get(obj, key));
}

/* The rule counters the proxy reports for rule `index`. */
static void rule_counters(int index, long *seen, long *applied, int *expired)
{
    json_t *rules = fp_control(fp, "GET", "/rules", NULL, 0);
    json_t *r;

    assert_non_null(rules);
    r = json_array_get(rules, (size_t)index);
    assert_non_null(r);
    *seen = (long)json_integer_value(json_object_get(r, "_seen"));
    *applied = (long)json_integer_value(json_object_get(r, "_applied"));
    *expired = json_is_true(json_object_get(r, "_expired"));
    json_decref(rules);
}

/* ---- fixtures ---------------------------------------------------------------------------- */

static int group_setup(void **state)
{
    (void)state;
    if (pe_load() < 0)
        return -1;
    curl_global_init(CURL_GLOBAL_DEFAULT);
    return fp_start_pebble(&fp);
}

static int group_teardown(void **state)
{
    (void)state;
    fp_stop(fp);
    fp = NULL;
    curl_global_cleanup();
    return 0;
}

static int reset(void **state)
{
    (void)state;
    return fp_reset(fp);
}

/* ---- tests ------------------------------------------------------------------------------- */

/* The directory comes through unchanged, and since the Host header is forwarded, every URL in
 * it points at the proxy; the nonce endpoint answers through the proxy with pebble's headers. */
static void test_passthrough(void **state)
{
    json_t *dir = get_json(fp_url(fp, "/dir"));
    const char *nonce_url = jstr(dir, "newNonce");
    char want[128], buf[256];
    struct resp r = {0};

    (void)state;
    snprintf(want, sizeof want, "%s/", fp_base(fp));
    assert_non_null(nonce_url);
    assert_true(strncmp(nonce_url, want, strlen(want)) == 0);
    assert_true(strncmp(jstr(dir, "newOrder"), want, strlen(want)) == 0);
    assert_null(json_object_get(dir, "renewalInfo"));
    assert_null(json_object_get(json_object_get(dir, "meta"), "profiles"));

    fetch("HEAD", nonce_url, &r);
    assert_int_equal(r.cc, CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_non_null(header(&r, "Replay-Nonce", buf, sizeof buf));
    assert_true(strlen(buf) > 0);
    assert_non_null(header(&r, "Link", buf, sizeof buf));
    assert_non_null(strstr(buf, want));
    resp_free(&r);
    json_decref(dir);
}

/* A POST reaches pebble with its body intact, and the log shows the decoded JWS. */
static void test_post_passthrough(void **state)
{
    /* protected {"alg":"ES256"}, payload {"x":1}: pebble rejects it (no key), but it has to
     * have parsed the body to say so. */
    const char *jws = "{\"protected\":\"eyJhbGciOiJFUzI1NiJ9\",\"payload\":\"eyJ4IjoxfQ\","
                      "\"signature\":\"AA\"}";
    struct resp r = {0};
    json_t *prob, *log, *e;
    char buf[256];

    (void)state;
    fetch_opt("POST", fp_url(fp, "/sign-me-up"), jws, 10000, 0, &r);
    assert_int_equal(r.cc, CURLE_OK);
    assert_int_equal(r.code, 400);
    assert_non_null(header(&r, "Replay-Nonce", buf, sizeof buf));
    prob = json_loads(r.body, 0, NULL);
    assert_non_null(prob);
    assert_string_equal(jstr(prob, "type"), "urn:ietf:params:acme:error:malformed");
    json_decref(prob);
    resp_free(&r);

    log = fp_log(fp);
    assert_non_null(log);
    assert_int_equal(json_array_size(log), 1);
    e = json_array_get(log, 0);
    assert_string_equal(jstr(e, "method"), "POST");
    assert_string_equal(jstr(e, "path"), "/sign-me-up");
    assert_int_equal(json_integer_value(json_object_get(e, "status")), 400);
    assert_string_equal(jstr(json_object_get(e, "protected"), "alg"), "ES256");
    assert_int_equal(json_integer_value(json_object_get(json_object_get(e, "payload"), "x")), 1);
    json_decref(log);

    /* Rules match on the decoded payload. */
    assert_int_equal(fp_rules(fp, "[{\"method\": \"POST\", \"payload_has\": \"y\","
                                  " \"action\": \"status\", \"status\": 418},"
                                  " {\"method\": \"POST\", \"payload_has\": [\"x\"],"
                                  " \"payload_empty\": false,"
                                  " \"action\": \"status\", \"status\": 429}]"),
                     0);
    fetch_opt("POST", fp_url(fp, "/sign-me-up"), jws, 10000, 0, &r);
    assert_int_equal(r.cc, CURLE_OK);
    assert_int_equal(r.code, 429);
    resp_free(&r);
}

/* A 503 with Retry-After, limited to one use; the next request passes. */
static void test_status_once(void **state)
{
    struct resp r = {0};
    char buf[64];
    long seen, applied;
    int expired;

    (void)state;
    assert_int_equal(fp_rules(fp, "[{\"method\": \"GET\", \"path\": \"^/dir$\","
                                  " \"action\": \"status\", \"status\": 503,"
                                  " \"retry_after\": 7, \"times\": 1,"
                                  " \"problem\": {\"detail\": \"try later\"}}]"),
                     0);
    fetch("GET", fp_url(fp, "/dir"), &r);
    assert_int_equal(r.cc, CURLE_OK);
    assert_int_equal(r.code, 503);
    assert_string_equal(header(&r, "Retry-After", buf, sizeof buf), "7");
    assert_string_equal(header(&r, "Content-Type", buf, sizeof buf), "application/problem+json");
    assert_non_null(strstr(r.body, "try later"));
    resp_free(&r);

    fetch("GET", fp_url(fp, "/dir"), &r);
    assert_int_equal(r.cc, CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_non_null(strstr(r.body, "newNonce"));
    resp_free(&r);

    rule_counters(0, &seen, &applied, &expired);
    assert_int_equal(applied, 1);
    assert_true(expired);
    assert_int_equal(fp_count(fp, "GET", "^/dir$"), 2);
}

/* skip lets the first N matches through (to later rules); count is an alias of times. */
static void test_skip_and_count(void **state)
{
    struct resp r = {0};
    long codes[4];
    int i;

    (void)state;
    assert_int_equal(fp_rules(fp, "[{\"path\": \"^/dir$\", \"action\": \"status\","
                                  " \"status\": 500, \"skip\": 1, \"count\": 2}]"),
                     0);
    for (i = 0; i < 4; i++) {
        fetch("GET", fp_url(fp, "/dir"), &r);
        assert_int_equal(r.cc, CURLE_OK);
        codes[i] = r.code;
        resp_free(&r);
    }
    assert_int_equal(codes[0], 200);
    assert_int_equal(codes[1], 500);
    assert_int_equal(codes[2], 500);
    assert_int_equal(codes[3], 200);
}

/* Malformed rules are refused when they are set, and leave the old rules in place. */
static void test_bad_rules_rejected(void **state)
{
    (void)state;
    assert_int_equal(fp_add_rule(fp, "{\"path\": \"^/dir$\", \"action\": \"pass\"}"), 0);
    assert_int_equal(fp_rules(fp, "[{\"action\": \"explode\"}]"), -1);
    assert_int_equal(fp_rules(fp, "[{\"action\": \"drop\", \"path\": \"(\"}]"), -1);
    assert_int_equal(fp_rules(fp, "[{\"action\": \"delay\", \"seconds\": \"x\"}]"), -1);
    assert_int_equal(fp_rules(fp, "not json"), -1);
    assert_int_equal(fp_add_rule(fp, "{\"action\": \"status\", \"status\": \"503\"}"), -1);
    assert_int_equal(fp_set_ari(fp, "{\"window\": {\"start\": 1}}"), -1);
    assert_int_equal(fp_add_rule(fp, "{\"action\": \"pass\"}"), 1);
}

/* drop closes the connection without an answer: a transport error, no HTTP status. */
static void test_drop(void **state)
{
    struct resp r = {0};
    json_t *log;

    (void)state;
    assert_int_equal(fp_rules(fp, "[{\"path\": \"^/dir$\", \"action\": \"drop\"}]"), 0);
    fetch("GET", fp_url(fp, "/dir"), &r);
    assert_int_not_equal(r.cc, CURLE_OK);
    assert_int_not_equal(r.cc, CURLE_OPERATION_TIMEDOUT);
    assert_int_equal(r.code, 0);
    resp_free(&r);

    log = fp_log(fp);
    assert_non_null(log);
    assert_int_equal(json_array_size(log), 1);
    assert_string_equal(jstr(json_array_get(log, 0), "action"), "drop");
    assert_true(json_is_null(json_object_get(json_array_get(log, 0), "status")));
    json_decref(log);

    /* With reset, a TCP RST: curl sees a receive error. */
    assert_int_equal(fp_rules(fp, "[{\"path\": \"^/dir$\", \"action\": \"drop\","
                                  " \"reset\": true}]"),
                     0);
    fetch("GET", fp_url(fp, "/dir"), &r);
    assert_int_not_equal(r.cc, CURLE_OK);
    assert_int_equal(r.code, 0);
    resp_free(&r);
}

/* truncate announces the full length, sends half and closes the TLS session cleanly: a
 * partial-file error. */
static void test_truncate(void **state)
{
    struct resp r = {0};

    (void)state;
    assert_int_equal(fp_rules(fp, "[{\"path\": \"^/dir$\", \"action\": \"truncate\"}]"), 0);
    fetch("GET", fp_url(fp, "/dir"), &r);
    assert_int_equal(r.cc, CURLE_PARTIAL_FILE);
    assert_int_equal(r.code, 200);
    assert_true(r.total > 0);
    resp_free(&r);
}

/* huge: 20 MiB arrive in full; a size cap stops it early by Content-Length or, when the body
 * is chunked, in the write callback. */
static void test_huge(void **state)
{
    struct resp r = {0};

    (void)state;
    assert_int_equal(fp_rules(fp, "[{\"path\": \"^/dir$\", \"action\": \"huge\"}]"), 0);
    fetch_opt("GET", fp_url(fp, "/dir"), NULL, 60000, 0, &r);
    assert_int_equal(r.cc, CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_int_equal(r.total, 20 * MiB);
    resp_free(&r);

    fetch_opt("GET", fp_url(fp, "/dir"), NULL, 10000, 1 * MiB, &r);
    assert_int_equal(r.cc, CURLE_FILESIZE_EXCEEDED);
    resp_free(&r);

    assert_int_equal(fp_rules(fp, "[{\"path\": \"^/dir$\", \"action\": \"huge\","
                                  " \"chunked\": true}]"),
                     0);
    r.abort_after = 1 * MiB;
    fetch_opt("GET", fp_url(fp, "/dir"), NULL, 10000, 1 * MiB, &r);
    assert_int_equal(r.cc, CURLE_WRITE_ERROR);
    assert_true(r.total <= 2 * MiB);
    resp_free(&r);
}

/* stall never answers: the client's own timeout ends it. delay answers late. */
static void test_stall_and_delay(void **state)
{
    struct resp r = {0};

    (void)state;
    assert_int_equal(fp_rules(fp, "[{\"path\": \"^/dir$\", \"action\": \"stall\","
                                  " \"seconds\": 60, \"times\": 1},"
                                  " {\"path\": \"^/dir$\", \"action\": \"delay\","
                                  " \"seconds\": 0.3}]"),
                     0);
    fetch_opt("GET", fp_url(fp, "/dir"), NULL, 700, 0, &r);
    assert_int_equal(r.cc, CURLE_OPERATION_TIMEDOUT);
    assert_true(r.elapsed_ms < 5000);
    resp_free(&r);

    fetch("GET", fp_url(fp, "/dir"), &r);
    assert_int_equal(r.cc, CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_true(r.elapsed_ms >= 250);
    resp_free(&r);
}

/* json_patch merges into the directory: members removed, added and nested. */
static void test_json_patch(void **state)
{
    json_t *dir, *meta;

    (void)state;
    assert_int_equal(fp_rules(fp, "[{\"path\": \"^/dir$\", \"action\": \"json_patch\","
                                  " \"patch\": {\"newOrder\": null,"
                                  " \"meta\": {\"caaIdentities\": [\"ca.test\"]}}}]"),
                     0);
    dir = get_json(fp_url(fp, "/dir"));
    assert_null(json_object_get(dir, "newOrder"));
    assert_non_null(jstr(dir, "newAccount"));
    meta = json_object_get(dir, "meta");
    assert_string_equal(
        json_string_value(json_array_get(json_object_get(meta, "caaIdentities"), 0)), "ca.test");
    assert_non_null(jstr(meta, "termsOfService"));
    json_decref(dir);
}

/* header and replace_body rewrite a forwarded response. */
static void test_rewrites(void **state)
{
    struct resp r = {0};
    char buf[256];

    (void)state;
    assert_int_equal(fp_rules(fp, "[{\"method\": \"HEAD\", \"action\": \"header\","
                                  " \"set\": {\"Retry-After\": \"5\"},"
                                  " \"remove\": [\"Replay-Nonce\"]},"
                                  " {\"path\": \"^/dir$\", \"action\": \"replace_body\","
                                  " \"sub\": [[\"nonce-plz\", \"elsewhere\"]]}]"),
                     0);
    fetch("HEAD", fp_url(fp, "/nonce-plz"), &r);
    assert_int_equal(r.cc, CURLE_OK);
    assert_null(header(&r, "Replay-Nonce", buf, sizeof buf));
    assert_string_equal(header(&r, "Retry-After", buf, sizeof buf), "5");
    resp_free(&r);

    fetch("GET", fp_url(fp, "/dir"), &r);
    assert_int_equal(r.cc, CURLE_OK);
    assert_non_null(strstr(r.body, "/elsewhere\""));
    assert_null(strstr(r.body, "nonce-plz"));
    resp_free(&r);
}

/* Parses "YYYY-MM-DDTHH:MM:SSZ" as UTC. */
static time_t parse_utc(const char *s)
{
    struct tm tm;
    const char *end;

    memset(&tm, 0, sizeof tm);
    assert_non_null(s);
    end = strptime(s, "%Y-%m-%dT%H:%M:%SZ", &tm);
    assert_non_null(end);
    assert_int_equal(*end, '\0');
    return timegm(&tm);
}

/* ARI: the directory advertises renewalInfo at the proxy, which serves the window (relative
 * times resolved against now), per-certificate windows and Retry-After; switching it off
 * removes both. */
static void test_ari(void **state)
{
    char url[512], buf[64];
    const char *ri;
    json_t *dir, *info, *win;
    struct resp r = {0};
    time_t now = time(NULL);

    (void)state;
    assert_int_equal(fp_set_ari(fp, "{\"window\": {\"start\": -60, \"end\": 3600},"
                                    " \"retry_after\": 21600,"
                                    " \"certs\": {\"special.id\": {\"window\":"
                                    " {\"start\": \"2030-01-01T00:00:00Z\","
                                    " \"end\": \"2030-01-02T00:00:00Z\"}}}}"),
                     0);
    dir = get_json(fp_url(fp, "/dir"));
    ri = jstr(dir, "renewalInfo");
    assert_non_null(ri);
    snprintf(url, sizeof url, "%s/renewal-info", fp_base(fp));
    assert_string_equal(ri, url);

    snprintf(url, sizeof url, "%s/aYhba4dGQEHhs3uEe6CuLN4ByNQ.AIdlQyE", ri);
    fetch("GET", url, &r);
    assert_int_equal(r.cc, CURLE_OK);
    assert_int_equal(r.code, 200);
    assert_string_equal(header(&r, "Retry-After", buf, sizeof buf), "21600");
    info = json_loads(r.body, 0, NULL);
    assert_non_null(info);
    win = json_object_get(info, "suggestedWindow");
    assert_true(parse_utc(jstr(win, "start")) <= now);
    assert_true(parse_utc(jstr(win, "end")) > now + 3000);
    json_decref(info);
    resp_free(&r);

    snprintf(url, sizeof url, "%s/special.id", ri);
    info = get_json(url);
    win = json_object_get(info, "suggestedWindow");
    assert_string_equal(jstr(win, "start"), "2030-01-01T00:00:00Z");
    json_decref(info);
    json_decref(dir);

    {
        json_t *log = fp_control(fp, "GET", "/log?path=%5E/renewal-info/special", NULL, 0);

        assert_non_null(log);
        assert_int_equal(json_array_size(log), 1);
        assert_string_equal(jstr(json_array_get(log, 0), "cert_id"), "special.id");
        json_decref(log);
    }

    assert_int_equal(fp_set_ari(fp, NULL), 0);
    dir = get_json(fp_url(fp, "/dir"));
    assert_null(json_object_get(dir, "renewalInfo"));
    json_decref(dir);
    fetch("GET", url, &r);
    assert_int_equal(r.cc, CURLE_OK);
    assert_int_equal(r.code, 404);
    resp_free(&r);
}

/* Profiles appear in meta next to pebble's own members. */
static void test_profiles(void **state)
{
    json_t *dir, *meta, *profiles;

    (void)state;
    assert_int_equal(fp_set_profiles(fp, "{\"classic\": \"90 days\", \"shortlived\": \"6 days\"}"),
                     0);
    dir = get_json(fp_url(fp, "/dir"));
    meta = json_object_get(dir, "meta");
    profiles = json_object_get(meta, "profiles");
    assert_int_equal(json_object_size(profiles), 2);
    assert_string_equal(jstr(profiles, "shortlived"), "6 days");
    assert_non_null(jstr(meta, "termsOfService"));
    json_decref(dir);

    assert_int_equal(fp_set_profiles(fp, NULL), 0);
    dir = get_json(fp_url(fp, "/dir"));
    assert_null(json_object_get(json_object_get(dir, "meta"), "profiles"));
    json_decref(dir);
}

/* The log counts requests by method and path, and fp_wait_count is bounded. */
static void test_log_counts(void **state)
{
    struct resp r = {0};
    json_t *log;
    long t0;
    int i;

    (void)state;
    for (i = 0; i < 3; i++) {
        fetch("GET", fp_url(fp, "/dir"), &r);
        assert_int_equal(r.code, 200);
        resp_free(&r);
    }
    fetch("HEAD", fp_url(fp, "/nonce-plz?x=1"), &r);
    assert_int_equal(r.code, 200);
    resp_free(&r);

    assert_int_equal(fp_count(fp, NULL, NULL), 4);
    assert_int_equal(fp_count(fp, "GET", "^/dir$"), 3);
    assert_int_equal(fp_count(fp, "get", NULL), 3);
    assert_int_equal(fp_count(fp, "HEAD", NULL), 1);
    assert_int_equal(fp_count(fp, NULL, "^/nonce-plz\\?x=1$"), 1);
    assert_int_equal(fp_count(fp, "POST", NULL), 0);
    assert_int_equal(fp_count(fp, NULL, "("), -1);

    log = fp_log(fp);
    assert_non_null(log);
    assert_int_equal(json_array_size(log), 4);
    assert_string_equal(jstr(json_array_get(log, 0), "method"), "GET");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(log, 0), "status")), 200);
    assert_string_equal(jstr(json_array_get(log, 3), "path"), "/nonce-plz?x=1");
    json_decref(log);

    assert_int_equal(fp_wait_count(fp, "GET", "^/dir$", 3, 5000), 3);
    t0 = mono_ms();
    assert_int_equal(fp_wait_count(fp, "GET", "^/dir$", 5, 300), 3);
    assert_true(mono_ms() - t0 < 5000);

    assert_int_equal(fp_clear_log(fp), 0);
    assert_int_equal(fp_count(fp, NULL, NULL), 0);
}

/* The log entry of the `nth` (0-based) request matching method and path regex. Borrowed from
 * `log`. */
static json_t *log_find(json_t *log, const char *method, const char *path_prefix, int nth)
{
    size_t i;
    json_t *e;

    json_array_foreach(log, i, e)
    {
        if (strcmp(jstr(e, "method"), method) == 0 &&
            strncmp(jstr(e, "path"), path_prefix, strlen(path_prefix)) == 0 && nth-- == 0)
            return e;
    }
    return NULL;
}

/* A whole issuance by the engine under test through the proxy: signed requests name the
 * proxy's URLs and pebble accepts them (Host is forwarded); a 503 with Retry-After on the
 * first newOrder is retried; the profile the client sends is visible in the log because the
 * proxy advertised profiles. */
static void test_issue_through_proxy(void **state)
{
    static const char *names[] = {"e2e.faultproxy.test"};
    static const char *http01[] = {"http-01"};
    struct flow_req req = {.names = names,
                           .nnames = 1,
                           .key = {KEY_ECDSA, 256},
                           .prefs = http01,
                           .nprefs = 1,
                           .challtestsrv = pe_get("CHALLTESTSRV_MGMT"),
                           .profile = "shortlived"};
    struct flow_env fe;
    struct flow_result res;
    struct err e;
    json_t *log, *first, *second;
    char want[256];

    (void)state;
    assert_int_equal(fp_set_profiles(fp, "{\"shortlived\": \"6 days\"}"), 0);
    assert_int_equal(fp_rules(fp, "[{\"method\": \"POST\", \"path\": \"^/order-plz$\","
                                  " \"action\": \"status\", \"status\": 503,"
                                  " \"retry_after\": 1, \"with_nonce\": true, \"times\": 1}]"),
                     0);
    flow_env_init(&fe, fp_url(fp, "/dir"), pe_get("PEBBLE_CA"), NULL);
    if (flow_env_account(&fe, NULL, &e) < 0)
        fail_msg("account through the proxy: %s", err_msg(&e));
    if (flow_issue(&fe, &req, &res) < 0)
        fail_msg("issuance through the proxy: %s", err_msg(&res.e));
    assert_non_null(res.cert_pem);
    flow_result_clear(&res);
    flow_env_fini(&fe);

    assert_int_equal(fp_count(fp, "POST", "^/order-plz$"), 2);
    assert_int_equal(fp_count(fp, "POST", "^/finalize-order/"), 1);
    log = fp_log(fp);
    assert_non_null(log);
    first = log_find(log, "POST", "/order-plz", 0);
    second = log_find(log, "POST", "/order-plz", 1);
    assert_non_null(first);
    assert_non_null(second);
    assert_int_equal(json_integer_value(json_object_get(first, "status")), 503);
    assert_int_equal(json_integer_value(json_object_get(second, "status")), 201);
    assert_string_equal(jstr(json_object_get(second, "payload"), "profile"), "shortlived");
    snprintf(want, sizeof want, "%s/order-plz", fp_base(fp));
    assert_string_equal(jstr(json_object_get(second, "protected"), "url"), want);
    json_decref(log);
}

/* A second proxy starts and stops cleanly, and fp_stop reaps exactly its process. */
static void test_start_stop(void **state)
{
    struct faultproxy *other = NULL;
    pid_t pid;
    json_t *dir;

    (void)state;
    assert_int_equal(fp_start_pebble(&other), 0);
    assert_int_not_equal(fp_port(other), fp_port(fp));
    dir = get_json(fp_url(other, "/dir"));
    json_decref(dir);
    pid = fp_pid(other);
    assert_true(pid > 0);
    fp_stop(other);
    assert_int_equal(kill(pid, 0), -1);
    assert_int_equal(errno, ESRCH);

    /* A bad upstream CA fails at start-up, bounded, without leaving a process behind. */
    assert_int_equal(fp_start("https://127.0.0.1:1", "/nonexistent/ca.pem", "/nonexistent",
                              "/nonexistent", &other),
                     -1);
    assert_null(other);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_passthrough, reset),
        cmocka_unit_test_setup(test_post_passthrough, reset),
        cmocka_unit_test_setup(test_status_once, reset),
        cmocka_unit_test_setup(test_skip_and_count, reset),
        cmocka_unit_test_setup(test_bad_rules_rejected, reset),
        cmocka_unit_test_setup(test_drop, reset),
        cmocka_unit_test_setup(test_truncate, reset),
        cmocka_unit_test_setup(test_huge, reset),
        cmocka_unit_test_setup(test_stall_and_delay, reset),
        cmocka_unit_test_setup(test_json_patch, reset),
        cmocka_unit_test_setup(test_rewrites, reset),
        cmocka_unit_test_setup(test_ari, reset),
        cmocka_unit_test_setup(test_profiles, reset),
        cmocka_unit_test_setup(test_log_counts, reset),
        cmocka_unit_test_setup(test_issue_through_proxy, reset),
        cmocka_unit_test_setup(test_start_stop, reset),
    };

    return cmocka_run_group_tests(tests, group_setup, group_teardown);
}
