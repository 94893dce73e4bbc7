/* tstate: reconciler progress per target, as JSON in state/. */
#include "reconcile/tstate.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"
#include "util/sanitize.h"

int tstate_set(char **slot, const char *s)
{
    char *copy = NULL;

    if (s && !(copy = strdup(s)))
        return -ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

int tstate_set_text(char **slot, const char *s)
{
    char *copy = NULL;

    if (s && !(copy = sanitize_dup_max(s, ERR_MSG_MAX)))
        return -ENOMEM;
    free(*slot);
    *slot = copy;
    return 0;
}

void tstate_clear_order(struct tstate *ts)
{
    tstate_set(&ts->order_url, NULL);
    tstate_set(&ts->key_id, NULL);
    tstate_set(&ts->account_url, NULL);
    tstate_set(&ts->replaces, NULL);
}

void tstate_free(struct tstate *ts)
{
    tstate_clear_order(ts);
    free(ts->replaces_dropped);
    free(ts->replaces_dropped_why);
    free(ts->last_error);
    free(ts->last_problem);
    memset(ts, 0, sizeof *ts);
}

static void get_str(json_t *o, const char *k, char **slot)
{
    const char *v = json_string_value(json_object_get(o, k));

    if (v)
        tstate_set(slot, v);
}

static time_t get_time(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);

    return json_is_integer(v) && json_integer_value(v) > 0 ? (time_t)json_integer_value(v) : 0;
}

int tstate_parse(const char *text, size_t len, struct tstate *ts, struct err *e)
{
    json_error_t je;
    json_t *o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &je);

    memset(ts, 0, sizeof *ts);
    if (!json_is_object(o)) {
        json_decref(o);
        return err_set(e, -EBADMSG, "not a progress record (%s)", je.text);
    }
    /* "step", written by earlier versions, is ignored: the order's status decides. */
    get_str(o, "order_url", &ts->order_url);
    get_str(o, "key_id", &ts->key_id);
    get_str(o, "account_url", &ts->account_url);
    get_str(o, "replaces", &ts->replaces);
    get_str(o, "replaces_dropped", &ts->replaces_dropped);
    get_str(o, "replaces_dropped_why", &ts->replaces_dropped_why);
    get_str(o, "last_error", &ts->last_error);
    get_str(o, "last_problem", &ts->last_problem);
    /* Read back through the sanitiser too: a file from an earlier version, or edited, must
     * not put control characters on the operator's terminal (status). */
    tstate_set_text(&ts->last_error, ts->last_error);
    tstate_set_text(&ts->last_problem, ts->last_problem);
    tstate_set_text(&ts->replaces_dropped_why, ts->replaces_dropped_why);
    ts->failures = (unsigned)get_time(o, "failures");
    ts->last_failure = get_time(o, "last_failure");
    ts->next_attempt = get_time(o, "next_attempt");
    ts->retry_until = get_time(o, "retry_until");
    ts->last_success = get_time(o, "last_success");
    json_decref(o);
    if (ts->key_id && !store_id_valid(ts->key_id)) {
        tstate_free(ts);
        return err_set(e, -EBADMSG, "not a progress record (a bad key id)");
    }
    return 0;
}

int tstate_load(const struct store *st, const char *file, struct tstate *ts, struct err *e)
{
    char *text = NULL;
    struct err pe;
    int rc;

    memset(ts, 0, sizeof *ts);
    rc = store_state_read(st, file, &text, e);
    if (rc == -ENOENT)
        return 0;
    if (rc < 0)
        return rc;
    rc = tstate_parse(text, strlen(text), ts, &pe);
    free(text);
    if (rc < 0)
        log_warn("state/%s.json: %s, starting afresh", file, err_msg(&pe));
    return 0;
}

static int put_str(json_t *o, const char *k, const char *v)
{
    return v ? json_object_set_new(o, k, json_string(v)) : 0;
}

static int put_int(json_t *o, const char *k, long long v)
{
    return v ? json_object_set_new(o, k, json_integer(v)) : 0;
}

char *tstate_json(const struct tstate *ts, bool compact)
{
    json_t *o = json_object();
    char *text = NULL;

    if (!o || put_str(o, "order_url", ts->order_url) || put_str(o, "key_id", ts->key_id) ||
        put_str(o, "account_url", ts->account_url) || put_str(o, "replaces", ts->replaces) ||
        put_str(o, "replaces_dropped", ts->replaces_dropped) ||
        put_str(o, "replaces_dropped_why", ts->replaces_dropped_why) ||
        put_str(o, "last_error", ts->last_error) || put_str(o, "last_problem", ts->last_problem) ||
        put_int(o, "failures", ts->failures) || put_int(o, "last_failure", ts->last_failure) ||
        put_int(o, "next_attempt", ts->next_attempt) ||
        put_int(o, "retry_until", ts->retry_until) || put_int(o, "last_success", ts->last_success))
        goto out;
    text = json_dumps(o, (compact ? JSON_COMPACT : JSON_INDENT(2)) | JSON_SORT_KEYS);
out:
    json_decref(o);
    return text;
}

int tstate_save(const struct store *st, const char *file, const struct tstate *ts, struct err *e)
{
    char *text = tstate_json(ts, false);
    int rc;

    if (!text)
        return err_set(e, -ENOMEM, "out of memory");
    rc = store_state_write(st, file, text, e);
    free(text);
    return rc;
}
