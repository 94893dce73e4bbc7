#include "faultproxy.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "common/pebble_env.h"
#include "common/testutil.h"

#define FP_READY_MS 10000   /* how long fp_start waits for the ready file */
#define FP_TERM_MS 5000     /* how long fp_stop waits after SIGTERM */
#define FP_CONTROL_MS 10000 /* default timeout of a control request */
#define FP_REPLY_MAX (64u << 20)

struct faultproxy {
    pid_t pid;
    int port;
    int cport;
    char base[64];
    char control[64];
    char *dir; /* private temporary directory holding the ready file */
    char **urls;
    size_t nurls;
};

static long now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void nap_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000};

    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

static char *xasprintf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static char *xasprintf(const char *fmt, ...)
{
    va_list ap;
    char *s = NULL;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&s, fmt, ap);
    va_end(ap);
    return n < 0 ? NULL : s;
}

/* The proxy script: $ACMED_FAULTPROXY, else next to $ACMED_TEST_DATA, else relative to this
 * source file (CMake compiles it by absolute path). Caller frees. */
static char *script_path(void)
{
    const char *env = getenv("ACMED_FAULTPROXY");
    const char *data = getenv("ACMED_TEST_DATA");
    char *p = NULL;
    const char *slash;

    if (env && *env)
        return strdup(env);
    if (data && *data) {
        p = xasprintf("%s/../faultproxy/faultproxy.py", data);
        if (p && access(p, R_OK) == 0)
            return p;
        free(p);
    }
#ifdef ACMED_FAULTPROXY_PY
    return strdup(ACMED_FAULTPROXY_PY);
#else
    slash = strrchr(__FILE__, '/');
    if (!slash)
        return strdup("tests/faultproxy/faultproxy.py");
    return xasprintf("%.*s/../faultproxy/faultproxy.py", (int)(slash - __FILE__), __FILE__);
#endif
}

/* The interpreter as an absolute path, searched in $PATH here rather than in the child,
 * where only async-signal-safe calls are allowed. Caller frees; NULL when not found. */
static char *python_path(void)
{
    const char *name = getenv("ACMED_PYTHON");
    const char *path = getenv("PATH");
    char *copy, *dir, *save = NULL, *found = NULL;

    if (!name || !*name)
        name = "python3";
    if (strchr(name, '/'))
        return strdup(name);
    copy = strdup(path && *path ? path : "/usr/local/bin:/usr/bin:/bin");
    if (!copy)
        return NULL;
    for (dir = strtok_r(copy, ":", &save); dir && !found; dir = strtok_r(NULL, ":", &save)) {
        char *cand = xasprintf("%s/%s", *dir ? dir : ".", name);

        if (cand && access(cand, X_OK) == 0)
            found = cand;
        else
            free(cand);
    }
    free(copy);
    return found;
}

/* Reads "PORT CONTROLPORT" from the ready file; 1 when complete, 0 when not yet there. */
static int read_ready(const char *file, int *port, int *cport)
{
    char *text = tu_read_file(file, NULL);
    int ok;

    if (!text)
        return 0;
    ok = sscanf(text, "%d %d", port, cport) == 2 && *port > 0 && *cport > 0;
    free(text);
    return ok;
}

/* Runs in the child between fork and exec: async-signal-safe calls only. */
static void child_exec(const char *python, char *const argv[], pid_t parent)
{
    int devnull;

    /* Die with the test program, even when it crashes before fp_stop(). */
    prctl(PR_SET_PDEATHSIG, SIGTERM);
    if (getppid() != parent)
        _exit(127);
    devnull = open("/dev/null", O_RDWR);
    if (devnull >= 0) {
        dup2(devnull, STDIN_FILENO);
        dup2(devnull, STDOUT_FILENO); /* the ports come through the ready file */
        if (devnull > STDERR_FILENO)
            close(devnull);
    }
    /* stderr stays: the proxy's complaints end up in the test's output. */
    close_range(STDERR_FILENO + 1, ~0U, 0);
    execv(python, argv);
    _exit(127);
}

/* Waits up to `ms` for the child to exit; 1 when reaped, 0 when still running. */
static int reap_within(pid_t pid, long ms, int *status)
{
    long deadline = now_ms() + ms;

    for (;;) {
        pid_t r = waitpid(pid, status, WNOHANG);

        if (r == pid || (r < 0 && errno == ECHILD))
            return 1;
        if (now_ms() >= deadline)
            return 0;
        nap_ms(10);
    }
}

static int wait_ready(struct faultproxy *fp, const char *file)
{
    long deadline = now_ms() + FP_READY_MS;
    int status = 0;

    while (now_ms() < deadline) {
        if (read_ready(file, &fp->port, &fp->cport))
            return 0;
        if (waitpid(fp->pid, &status, WNOHANG) == fp->pid) {
            fprintf(stderr, "faultproxy: the proxy exited during start-up (status %#x)\n",
                    (unsigned)status);
            fp->pid = -1;
            return -1;
        }
        nap_ms(20);
    }
    fprintf(stderr, "faultproxy: not ready after %d ms\n", FP_READY_MS);
    return -1;
}

int fp_start(const char *upstream_url_base, const char *upstream_ca, const char *cert,
             const char *key, struct faultproxy **out)
{
    struct faultproxy *fp = NULL;
    char *script = NULL, *python = NULL, *ready = NULL;
    char parent_s[32];
    pid_t parent = getpid();
    int rc = -1;

    *out = NULL;
    fp = calloc(1, sizeof *fp);
    if (!fp)
        goto out;
    fp->pid = -1;
    script = script_path();
    python = python_path();
    if (!script || !python) {
        fprintf(stderr, "faultproxy: %s not found\n", script ? "python3" : "the proxy script");
        goto out;
    }
    fp->dir = tu_mkdtemp("faultproxy");
    ready = xasprintf("%s/ready", fp->dir);
    if (!ready)
        goto out;
    snprintf(parent_s, sizeof parent_s, "%ld", (long)parent);
    {
        /* clang-format off */
        char *const argv[] = {
            python, "-u", script,
            "--listen", "127.0.0.1:0", "--control", "127.0.0.1:0",
            "--upstream", (char *)upstream_url_base, "--upstream-ca", (char *)upstream_ca,
            "--cert", (char *)cert, "--key", (char *)key,
            "--ready-file", ready, "--parent", parent_s, NULL,
        };
        /* clang-format on */

        fflush(NULL);
        fp->pid = fork();
        if (fp->pid < 0) {
            fprintf(stderr, "faultproxy: fork: %s\n", strerror(errno));
            goto out;
        }
        if (fp->pid == 0)
            child_exec(python, argv, parent);
    }
    if (wait_ready(fp, ready) < 0)
        goto out;
    snprintf(fp->base, sizeof fp->base, "https://127.0.0.1:%d", fp->port);
    snprintf(fp->control, sizeof fp->control, "http://127.0.0.1:%d", fp->cport);
    *out = fp;
    fp = NULL;
    rc = 0;
out:
    fp_stop(fp);
    free(script);
    free(python);
    free(ready);
    return rc;
}

/* The directory holding `path`, as a new string. */
static char *dir_of(const char *path)
{
    const char *slash = strrchr(path, '/');

    if (!slash)
        return strdup(".");
    return strndup(path, slash == path ? 1 : (size_t)(slash - path));
}

int fp_start_pebble(struct faultproxy **out)
{
    const char *directory = pe_find("PEBBLE_DIRECTORY");
    const char *ca = pe_find("PEBBLE_CA");
    char *base = NULL, *dir = NULL, *cert = NULL, *key = NULL;
    const char *host;
    int rc = -1;

    *out = NULL;
    if (!directory || !ca) {
        fprintf(stderr, "faultproxy: PEBBLE_DIRECTORY / PEBBLE_CA missing from $PEBBLE_ENV\n");
        return -1;
    }
    /* https://127.0.0.1:PORT/dir -> https://127.0.0.1:PORT */
    host = strstr(directory, "://");
    host = host ? host + 3 : directory;
    base = strndup(directory, (size_t)(host - directory) + strcspn(host, "/"));
    dir = dir_of(ca);
    if (!base || !dir)
        goto out;
    cert = xasprintf("%s/cert.pem", dir);
    key = xasprintf("%s/key.pem", dir);
    if (!cert || !key)
        goto out;
    rc = fp_start(base, ca, cert, key, out);
out:
    free(base);
    free(dir);
    free(cert);
    free(key);
    return rc;
}

void fp_stop(struct faultproxy *fp)
{
    size_t i;
    int status = 0;

    if (!fp)
        return;
    if (fp->pid > 0) {
        if (kill(fp->pid, SIGTERM) == 0 && !reap_within(fp->pid, FP_TERM_MS, &status)) {
            fprintf(stderr, "faultproxy: pid %ld ignored SIGTERM, killing it\n", (long)fp->pid);
            kill(fp->pid, SIGKILL);
            while (waitpid(fp->pid, &status, 0) < 0 && errno == EINTR)
                ;
        } else {
            reap_within(fp->pid, 0, &status);
        }
    }
    if (fp->dir) {
        tu_rmtree(fp->dir);
        free(fp->dir);
    }
    for (i = 0; i < fp->nurls; i++)
        free(fp->urls[i]);
    free(fp->urls);
    free(fp);
}

const char *fp_base(const struct faultproxy *fp)
{
    return fp->base;
}

const char *fp_url(struct faultproxy *fp, const char *path)
{
    char **grown;
    char *url;

    url = xasprintf("%s%s", fp->base, path ? path : "");
    if (!url)
        return NULL;
    grown = realloc(fp->urls, (fp->nurls + 1) * sizeof *grown);
    if (!grown) {
        free(url);
        return NULL;
    }
    fp->urls = grown;
    fp->urls[fp->nurls++] = url;
    return url;
}

int fp_port(const struct faultproxy *fp)
{
    return fp->port;
}

int fp_control_port(const struct faultproxy *fp)
{
    return fp->cport;
}

pid_t fp_pid(const struct faultproxy *fp)
{
    return fp->pid;
}

/* ---- control API ---------------------------------------------------------------------- */

struct reply {
    char *data;
    size_t len;
};

static size_t on_data(char *ptr, size_t size, size_t nmemb, void *userdata)
{
    struct reply *r = userdata;
    size_t n = size * nmemb;
    char *grown;

    if (r->len + n > FP_REPLY_MAX)
        return 0;
    grown = realloc(r->data, r->len + n + 1);
    if (!grown)
        return 0;
    memcpy(grown + r->len, ptr, n);
    r->len += n;
    grown[r->len] = '\0';
    r->data = grown;
    return n;
}

json_t *fp_control(struct faultproxy *fp, const char *method, const char *path, const char *body,
                   long timeout_ms)
{
    CURL *h = curl_easy_init();
    struct curl_slist *hdrs = NULL;
    struct reply r = {NULL, 0};
    char *url = xasprintf("%s%s", fp->control, path);
    json_t *j = NULL;
    json_error_t jerr;
    long code = 0;
    CURLcode cc;

    if (!h || !url)
        goto out;
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_NOPROXY, "*");
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 5000L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, timeout_ms > 0 ? timeout_ms : FP_CONTROL_MS);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, &r);
    if (strcmp(method, "POST") == 0) {
        hdrs = curl_slist_append(NULL, "Content-Type: application/json");
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, body ? body : "null");
    }
    cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        fprintf(stderr, "faultproxy: %s %s: %s\n", method, url, curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &code);
    if (code != 200) {
        fprintf(stderr, "faultproxy: %s %s: HTTP %ld: %s\n", method, url, code,
                r.data ? r.data : "");
        goto out;
    }
    j = json_loadb(r.data ? r.data : "", r.len, JSON_DECODE_ANY, &jerr);
    if (!j)
        fprintf(stderr, "faultproxy: %s %s: bad reply: %s\n", method, url, jerr.text);
out:
    curl_slist_free_all(hdrs);
    if (h)
        curl_easy_cleanup(h);
    free(r.data);
    free(url);
    return j;
}

/* POSTs `body` to `path`; 0 when the proxy accepted it. */
static int post(struct faultproxy *fp, const char *path, const char *body)
{
    json_t *j = fp_control(fp, "POST", path, body, 0);

    if (!j)
        return -1;
    json_decref(j);
    return 0;
}

int fp_rules(struct faultproxy *fp, const char *json_text)
{
    return post(fp, "/rules", json_text);
}

int fp_add_rule(struct faultproxy *fp, const char *json_text)
{
    json_t *j = fp_control(fp, "POST", "/rules/add", json_text, 0);
    json_int_t idx = -1;

    if (j && json_is_integer(json_object_get(j, "index")))
        idx = json_integer_value(json_object_get(j, "index"));
    json_decref(j);
    return (int)idx;
}

int fp_reset(struct faultproxy *fp)
{
    return post(fp, "/reset", "{}");
}

int fp_clear_log(struct faultproxy *fp)
{
    return post(fp, "/reset", "{\"rules\":false,\"ari\":false,\"profiles\":false}");
}

int fp_set_ari(struct faultproxy *fp, const char *json_text)
{
    return post(fp, "/ari", json_text ? json_text : "null");
}

int fp_set_profiles(struct faultproxy *fp, const char *json_text)
{
    return post(fp, "/profiles", json_text ? json_text : "null");
}

json_t *fp_log(struct faultproxy *fp)
{
    json_t *j = fp_control(fp, "GET", "/log", NULL, 0);

    if (j && !json_is_array(j)) {
        json_decref(j);
        j = NULL;
    }
    return j;
}

/* "?method=...&path=...&" with both escaped; caller frees. */
static char *filter_query(const char *method, const char *path_regex)
{
    CURL *h = curl_easy_init();
    char *m = NULL, *p = NULL, *q = NULL;

    if (!h)
        return NULL;
    m = curl_easy_escape(h, method ? method : "", 0);
    p = curl_easy_escape(h, path_regex ? path_regex : "", 0);
    if (m && p)
        q = xasprintf("?%s%s%s%s%s&", method ? "method=" : "", method ? m : "",
                      method && path_regex ? "&" : "", path_regex ? "path=" : "",
                      path_regex ? p : "");
    curl_free(m);
    curl_free(p);
    curl_easy_cleanup(h);
    return q;
}

static long count_of(json_t *j)
{
    json_t *c = json_object_get(j, "count");

    return json_is_integer(c) ? (long)json_integer_value(c) : -1;
}

long fp_count(struct faultproxy *fp, const char *method, const char *path_regex)
{
    char *q = filter_query(method, path_regex);
    char *path = q ? xasprintf("/count%s", q) : NULL;
    json_t *j = path ? fp_control(fp, "GET", path, NULL, 0) : NULL;
    long n = j ? count_of(j) : -1;

    json_decref(j);
    free(path);
    free(q);
    return n;
}

long fp_wait_count(struct faultproxy *fp, const char *method, const char *path_regex, long n,
                   long timeout_ms)
{
    char *q = filter_query(method, path_regex);
    char *path = NULL;
    json_t *j = NULL;
    long got = -1;

    if (timeout_ms < 0)
        timeout_ms = 0;
    if (timeout_ms > 120000)
        timeout_ms = 120000;
    if (q)
        path = xasprintf("/wait%sn=%ld&timeout=%.3f", q, n, (double)timeout_ms / 1000.0);
    if (path)
        j = fp_control(fp, "GET", path, NULL, timeout_ms + FP_CONTROL_MS);
    if (j)
        got = count_of(j);
    json_decref(j);
    free(path);
    free(q);
    return got;
}
