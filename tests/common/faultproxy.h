/* faultproxy: a C harness for tests/faultproxy/faultproxy.py, the scriptable TLS proxy that
 * sits between the client under test and pebble (see tests/faultproxy/README.md for the rule
 * language and the control API).
 *
 * This is test code: every call blocks (libcurl easy on loopback, each with a timeout).
 * Functions returning int give 0 (or a count / index) on success and -1 on failure, after
 * printing the reason to stderr. */
#ifndef ACMED_TESTS_FAULTPROXY_H
#define ACMED_TESTS_FAULTPROXY_H

#include <jansson.h>
#include <sys/types.h>

struct faultproxy;

/* Starts the proxy in front of `upstream_url_base` ("https://127.0.0.1:PORT", no path),
 * verifying upstream with the CA bundle `upstream_ca` and serving TLS with `cert`/`key`.
 * Both listeners bind 127.0.0.1 on free ports. Waits (at most 10 s) until it is ready.
 * The script is $ACMED_FAULTPROXY if set, else $ACMED_TEST_DATA/../faultproxy/faultproxy.py,
 * else the copy next to this source file; the interpreter is $ACMED_PYTHON or python3.
 * On success *out owns the process; release it with fp_stop(). */
int fp_start(const char *upstream_url_base, const char *upstream_ca, const char *cert,
             const char *key, struct faultproxy **out);

/* fp_start() in front of the Pebble fixture named by $PEBBLE_ENV, with the fixture's own
 * cert.pem/key.pem (next to PEBBLE_CA), so a client trusting PEBBLE_CA trusts the proxy. */
int fp_start_pebble(struct faultproxy **out);

/* Stops the proxy: SIGTERM, up to 5 s for it to exit, then SIGKILL; reaps exactly the PID
 * fp_start() created and frees everything (including strings from fp_url). NULL is fine. */
void fp_stop(struct faultproxy *fp);

/* "https://127.0.0.1:PORT" of the proxy listener. Borrowed, valid until fp_stop(). */
const char *fp_base(const struct faultproxy *fp);
/* fp_base() + `path` (e.g. "/dir"). Owned by fp, valid until fp_stop(); NULL on OOM. */
const char *fp_url(struct faultproxy *fp, const char *path);
int fp_port(const struct faultproxy *fp);
int fp_control_port(const struct faultproxy *fp);
pid_t fp_pid(const struct faultproxy *fp);

/* Replaces the whole rule list with `json_text` (a JSON array of rule objects, or {"rules":
 * [...]}). Counters of the old rules are lost. */
int fp_rules(struct faultproxy *fp, const char *json_text);
/* Appends one rule (a JSON object); returns its index or -1. */
int fp_add_rule(struct faultproxy *fp, const char *json_text);
/* Clears rules, the request log, ARI and profiles: a fresh proxy. */
int fp_reset(struct faultproxy *fp);
/* Clears only the request log. */
int fp_clear_log(struct faultproxy *fp);

/* Sets the ARI configuration (e.g. {"window": {"start": -60, "end": 3600}}; numbers are
 * seconds from now) and makes the directory advertise renewalInfo; NULL switches ARI off. */
int fp_set_ari(struct faultproxy *fp, const char *json_text);
/* Sets meta.profiles of the directory (a JSON object, name -> description); NULL removes. */
int fp_set_profiles(struct faultproxy *fp, const char *json_text);

/* The request log (a JSON array of entries, oldest first), or NULL. Caller json_decref()s. */
json_t *fp_log(struct faultproxy *fp);
/* The number of logged requests with this method (NULL: any) whose path (with query)
 * matches the Python regex `path_regex` (NULL: any), or -1. */
long fp_count(struct faultproxy *fp, const char *method, const char *path_regex);
/* Waits until fp_count(method, path_regex) >= n or `timeout_ms` passes (at most 120 s);
 * returns the count reached (compare it with n), or -1. Requests count from the moment they
 * arrive at the proxy, before they are answered. */
long fp_wait_count(struct faultproxy *fp, const char *method, const char *path_regex, long n,
                   long timeout_ms);

/* One control API request: method "GET" or "POST", `path` such as "/rules", body JSON text
 * or NULL. Returns the decoded JSON reply of a 200 answer (caller json_decref()s), or NULL. */
json_t *fp_control(struct faultproxy *fp, const char *method, const char *path, const char *body,
                   long timeout_ms);

#endif
