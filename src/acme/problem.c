/* problem: ACME problem documents (RFC 7807, RFC 8555 §6.7): parsing, formatting, testing the
 * type. */
#include "acme/problem.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "acme/fields.h"
#include "acme/problem_internal.h"
#include "util/buf.h"
#include "util/sanitize.h"

#define ACME_ERROR_NS "urn:ietf:params:acme:error:"

static int problem_type(json_t *obj, const char *ctx, char **out, struct err *e)
{
    int rc = acme_field_str(obj, ctx, "type", false, false, out, e);

    if (rc == 0 && !*out && !(*out = strdup("about:blank")))
        rc = err_set(e, -ENOMEM, "%s: out of memory", ctx);
    return rc;
}

static int subproblem_from_json(json_t *v, const char *ctx, struct acme_subproblem *sp,
                                struct err *e)
{
    json_t *id;
    int rc;

    if (!json_is_object(v))
        return err_set(e, -EINVAL, "%s: not an object", ctx);
    if ((rc = problem_type(v, ctx, &sp->type, e)) < 0 ||
        (rc = acme_field_str(v, ctx, "detail", false, false, &sp->detail, e)) < 0)
        return rc;
    if (!(id = acme_field_get(v, "identifier")))
        return 0;
    if (!json_is_object(id))
        return acme_field_wrong_type(ctx, "identifier", "an object", e);
    if ((rc = acme_field_str(id, ctx, "type", true, false, &sp->id_type, e)) < 0 ||
        (rc = acme_field_str(id, ctx, "value", true, false, &sp->id_value, e)) < 0)
        return rc;
    return 0;
}

static int problem_from_json(json_t *v, const char *ctx, struct acme_problem *p, struct err *e)
{
    json_t *status, *subs;
    char sub_ctx[96];
    int rc;

    if (!json_is_object(v))
        return err_set(e, -EINVAL, "%s: not an object", ctx);
    if ((rc = problem_type(v, ctx, &p->type, e)) < 0 ||
        (rc = acme_field_str(v, ctx, "detail", false, false, &p->detail, e)) < 0 ||
        (rc = acme_field_str(v, ctx, "instance", false, false, &p->instance, e)) < 0)
        return rc;
    if ((status = acme_field_get(v, "status"))) {
        if (!json_is_integer(status) || json_integer_value(status) < 0 ||
            json_integer_value(status) > 999)
            return acme_field_wrong_type(ctx, "status", "an HTTP status code", e);
        p->status = (int)json_integer_value(status);
    }
    if (!(subs = acme_field_get(v, "subproblems")))
        return 0;
    if (!json_is_array(subs))
        return acme_field_wrong_type(ctx, "subproblems", "an array", e);
    p->subproblems = calloc(json_array_size(subs) + 1, sizeof(*p->subproblems));
    if (!p->subproblems)
        return err_set(e, -ENOMEM, "%s: out of memory", ctx);
    for (size_t i = 0; i < json_array_size(subs); i++) {
        p->nsubproblems = i + 1;
        snprintf(sub_ctx, sizeof(sub_ctx), "%s: subproblems[%zu]", ctx, i);
        if ((rc = subproblem_from_json(json_array_get(subs, i), sub_ctx, &p->subproblems[i], e)) <
            0)
            return rc;
    }
    return 0;
}

/* See problem_internal.h. */
int acme_problem_member(json_t *obj, const char *ctx, const char *key, struct acme_problem **out,
                        struct err *e)
{
    json_t *v = acme_field_get(obj, key);
    char sub_ctx[96];

    if (!v)
        return 0;
    if (!(*out = calloc(1, sizeof(**out))))
        return err_set(e, -ENOMEM, "%s: out of memory", ctx);
    snprintf(sub_ctx, sizeof(sub_ctx), "%s: %s", ctx, key);
    return problem_from_json(v, sub_ctx, *out, e);
}

void acme_problem_free(struct acme_problem *p)
{
    if (!p)
        return;
    for (size_t i = 0; i < p->nsubproblems; i++) {
        free(p->subproblems[i].type);
        free(p->subproblems[i].detail);
        free(p->subproblems[i].id_type);
        free(p->subproblems[i].id_value);
    }
    free(p->subproblems);
    free(p->type);
    free(p->detail);
    free(p->instance);
    free(p);
}

static void put_clean(struct buf *b, const char *s, int *rc)
{
    char tmp[SANITIZE_MAX];

    if (s && *rc == 0)
        *rc = buf_puts(b, acme_field_clean(s, tmp, sizeof tmp));
}

char *acme_problem_format(const struct acme_problem *p)
{
    struct buf b = BUF_INIT;
    int rc = 0;

    if (!p)
        return strdup("no problem document");
    put_clean(&b, p->type ? p->type : "about:blank", &rc);
    if (rc == 0 && p->status)
        rc = buf_printf(&b, " (%d)", p->status);
    if (rc == 0 && p->detail)
        rc = buf_puts(&b, ": ");
    put_clean(&b, p->detail, &rc);
    for (size_t i = 0; i < p->nsubproblems && rc == 0; i++) {
        const struct acme_subproblem *sp = &p->subproblems[i];

        rc = buf_puts(&b, "; ");
        if (rc == 0 && sp->id_type) {
            rc = buf_puts(&b, "[");
            put_clean(&b, sp->id_type, &rc);
            if (rc == 0)
                rc = buf_puts(&b, " ");
            put_clean(&b, sp->id_value, &rc);
            if (rc == 0)
                rc = buf_puts(&b, "] ");
        }
        put_clean(&b, sp->type, &rc);
        if (rc == 0 && sp->detail)
            rc = buf_puts(&b, ": ");
        put_clean(&b, sp->detail, &rc);
    }
    if (rc < 0) {
        buf_clear(&b);
        return NULL;
    }
    return buf_steal(&b);
}

bool acme_problem_is(const struct acme_problem *p, const char *name)
{
    size_t ns = strlen(ACME_ERROR_NS);

    return p && p->type && name && strncmp(p->type, ACME_ERROR_NS, ns) == 0 &&
           strcmp(p->type + ns, name) == 0;
}

ACME_FIELD_PARSE_FUNC(acme_problem_parse, struct acme_problem, "problem",
                      problem_from_json(root, "problem", obj, e), acme_problem_free)
