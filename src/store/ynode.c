#include "store/ynode.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <yaml.h>

/* Limits that keep a hostile file (desired/ is often writable by tooling) from costing much:
 * duplicate-key checks are quadratic per mapping, so mappings stay small, and the whole tree
 * has a node budget. The files we read have a few dozen nodes. */
#define YNODE_MAX_KEYS 1024
#define YNODE_MAX_NODES 65536

struct yparse {
    yaml_parser_t p;
    const char *src;
    size_t nodes;
    struct err *e;
};

static int mark_err(struct yparse *yp, yaml_mark_t m, const char *what)
{
    return err_set(yp->e, -EINVAL, "%s: line %zu, column %zu: %s", yp->src, m.line + 1,
                   m.column + 1, what);
}

/* libyaml reports a syntax problem with an optional context ("while parsing a block
 * mapping"); both go into the message with the position of the problem. */
static int parser_err(struct yparse *yp)
{
    const yaml_parser_t *p = &yp->p;

    if (p->error == YAML_MEMORY_ERROR)
        return err_set(yp->e, -ENOMEM, "%s: out of memory parsing YAML", yp->src);
    return err_set(yp->e, -EINVAL, "%s: line %zu, column %zu: invalid YAML: %s%s%s%s", yp->src,
                   p->problem_mark.line + 1, p->problem_mark.column + 1,
                   p->problem ? p->problem : "syntax error", p->context ? " (" : "",
                   p->context ? p->context : "", p->context ? ")" : "");
}

static int next_event(struct yparse *yp, yaml_event_t *ev)
{
    if (!yaml_parser_parse(&yp->p, ev))
        return parser_err(yp);
    return 0;
}

struct ynode *ynode_new(enum ynode_type type, const char *src)
{
    struct ynode *n = calloc(1, sizeof *n);

    if (n) {
        n->type = type;
        n->src = src;
    }
    return n;
}

struct ynode *ynode_new_scalar(const char *s, const char *src)
{
    struct ynode *n = ynode_new(YNODE_SCALAR, src);

    if (n && !(n->str = strdup(s))) {
        free(n);
        return NULL;
    }
    if (n)
        n->len = strlen(s);
    return n;
}

void ynode_free(struct ynode *n)
{
    if (!n)
        return;
    for (size_t i = 0; i < n->n; i++) {
        if (n->keys)
            ynode_free(n->keys[i]);
        ynode_free(n->items[i]);
    }
    free(n->keys);
    free(n->items);
    free(n->str);
    free(n);
}

int ynode_add(struct ynode *n, struct ynode *key, struct ynode *item)
{
    if (!item || (n->type == YNODE_MAP && !key) || n->type == YNODE_SCALAR)
        goto fail;
    if (n->n == n->cap) {
        size_t cap = n->cap ? 2 * n->cap : 4;
        struct ynode **items = realloc(n->items, cap * sizeof *items);

        if (!items)
            goto fail;
        n->items = items;
        if (n->type == YNODE_MAP) {
            struct ynode **keys = realloc(n->keys, cap * sizeof *keys);

            if (!keys)
                goto fail;
            n->keys = keys;
        }
        n->cap = cap;
    }
    if (n->type == YNODE_MAP)
        n->keys[n->n] = key;
    n->items[n->n++] = item;
    return 0;
fail:
    ynode_free(key);
    ynode_free(item);
    return -ENOMEM;
}

void ynode_remove(struct ynode *n, size_t i)
{
    if (n->type == YNODE_SCALAR || i >= n->n)
        return;
    if (n->keys) {
        ynode_free(n->keys[i]);
        memmove(n->keys + i, n->keys + i + 1, (n->n - i - 1) * sizeof *n->keys);
    }
    ynode_free(n->items[i]);
    memmove(n->items + i, n->items + i + 1, (n->n - i - 1) * sizeof *n->items);
    n->n--;
}

bool ynode_is_null(const struct ynode *n)
{
    static const char *const nulls[] = {"", "~", "null", "Null", "NULL"};

    if (!n || n->type != YNODE_SCALAR || n->quoted)
        return false;
    for (size_t i = 0; i < sizeof nulls / sizeof nulls[0]; i++)
        if (strcmp(n->str, nulls[i]) == 0)
            return true;
    return false;
}

int ynode_bool(const struct ynode *n, bool *out)
{
    static const char *const yes[] = {"true", "yes", "on"}, *const no[] = {"false", "no", "off"};

    if (!n || n->type != YNODE_SCALAR)
        return -EINVAL;
    for (size_t i = 0; i < 3; i++) {
        if (strcasecmp(n->str, yes[i]) == 0 || strcasecmp(n->str, no[i]) == 0) {
            *out = strcasecmp(n->str, yes[i]) == 0;
            return 0;
        }
    }
    return -EINVAL;
}

int ynode_int(const struct ynode *n, long long *out)
{
    const char *p;
    char *end = NULL;
    long long v;

    if (!n || n->type != YNODE_SCALAR || n->len != strlen(n->str))
        return -EINVAL;
    p = n->str + (n->str[0] == '+' || n->str[0] == '-');
    /* strtoll alone would take " 12", "0x1f" (base 0) or "12abc" (prefix); insist on digits. */
    if (*p == '\0' || strspn(p, "0123456789") != strlen(p))
        return -EINVAL;
    errno = 0;
    v = strtoll(n->str, &end, 10);
    if (errno == ERANGE)
        return -ERANGE;
    *out = v;
    return 0;
}

struct ynode *ynode_get(const struct ynode *m, const char *key)
{
    if (!m || m->type != YNODE_MAP)
        return NULL;
    for (size_t i = 0; i < m->n; i++)
        if (strcmp(m->keys[i]->str, key) == 0)
            return m->items[i];
    return NULL;
}

int ynode_err(struct err *e, const struct ynode *n, const char *path, const char *fmt, ...)
{
    char what[ERR_MSG_MAX / 2];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(what, sizeof what, fmt, ap);
    va_end(ap);
    if (!path || !*path)
        path = "top level";
    if (n && n->line)
        return err_set(e, -EINVAL, "%s: line %u, column %u: %s: %s", n->src, n->line, n->col, path,
                       what);
    if (n)
        return err_set(e, -EINVAL, "%s: %s: %s", n->src, path, what);
    return err_set(e, -EINVAL, "%s: %s", path, what);
}

static struct ynode *node_at(struct yparse *yp, enum ynode_type type, const yaml_event_t *ev)
{
    struct ynode *n;

    if (++yp->nodes > YNODE_MAX_NODES) {
        mark_err(yp, ev->start_mark, "too many YAML nodes");
        return NULL;
    }
    if (!(n = ynode_new(type, yp->src))) {
        err_set(yp->e, -ENOMEM, "%s: out of memory", yp->src);
        return NULL;
    }
    n->line = (unsigned)ev->start_mark.line + 1;
    n->col = (unsigned)ev->start_mark.column + 1;
    return n;
}

static struct ynode *scalar_from(struct yparse *yp, const yaml_event_t *ev)
{
    struct ynode *n = node_at(yp, YNODE_SCALAR, ev);
    size_t len = ev->data.scalar.length;

    if (!n)
        return NULL;
    if (!(n->str = malloc(len + 1))) {
        ynode_free(n);
        err_set(yp->e, -ENOMEM, "%s: out of memory", yp->src);
        return NULL;
    }
    memcpy(n->str, ev->data.scalar.value, len);
    n->str[len] = '\0';
    n->len = len;
    n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
    return n;
}

static int parse_node(struct yparse *yp, yaml_event_t *ev, unsigned depth, struct ynode **out);

static int key_dup_err(struct yparse *yp, yaml_mark_t m, const char *key)
{
    return err_set(yp->e, -EINVAL, "%s: line %zu, column %zu: duplicate key \"%.100s\"", yp->src,
                   m.line + 1, m.column + 1, key);
}

/* Reads the key/value pairs of a mapping up to its end event. Keys must be distinct scalars. */
static int parse_map_body(struct yparse *yp, struct ynode *m, unsigned depth)
{
    yaml_event_t ev;
    struct ynode *key = NULL, *val = NULL;
    int rc;

    for (;;) {
        if ((rc = next_event(yp, &ev)) < 0)
            return rc;
        if (ev.type == YAML_MAPPING_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if (ev.type != YAML_SCALAR_EVENT) {
            rc = mark_err(yp, ev.start_mark,
                          ev.type == YAML_ALIAS_EVENT ? "aliases (*name) are not supported"
                                                      : "mapping keys must be strings");
            yaml_event_delete(&ev);
            return rc;
        }
        rc = 0;
        if (!(key = scalar_from(yp, &ev)))
            rc = yp->e ? yp->e->code : -ENOMEM;
        else if (m->n >= YNODE_MAX_KEYS)
            rc = mark_err(yp, ev.start_mark, "too many keys in one mapping");
        else if (ynode_get(m, key->str))
            rc = key_dup_err(yp, ev.start_mark, key->str);
        yaml_event_delete(&ev);
        if (rc < 0) {
            ynode_free(key);
            return rc;
        }
        if ((rc = next_event(yp, &ev)) < 0 || (rc = parse_node(yp, &ev, depth, &val)) < 0) {
            ynode_free(key);
            return rc;
        }
        if ((rc = ynode_add(m, key, val)) < 0)
            return err_set(yp->e, rc, "%s: out of memory", yp->src);
    }
}

static int parse_seq_body(struct yparse *yp, struct ynode *s, unsigned depth)
{
    yaml_event_t ev;
    struct ynode *item = NULL;
    int rc;

    for (;;) {
        if ((rc = next_event(yp, &ev)) < 0)
            return rc;
        if (ev.type == YAML_SEQUENCE_END_EVENT) {
            yaml_event_delete(&ev);
            return 0;
        }
        if ((rc = parse_node(yp, &ev, depth, &item)) < 0)
            return rc;
        if ((rc = ynode_add(s, NULL, item)) < 0)
            return err_set(yp->e, rc, "%s: out of memory", yp->src);
    }
}

/* Builds the node that starts with *ev (consumed) and everything up to its end event. */
static int parse_node(struct yparse *yp, yaml_event_t *ev, unsigned depth, struct ynode **out)
{
    struct ynode *n = NULL;
    int rc = -EINVAL;

    *out = NULL;
    if (depth >= YNODE_MAX_DEPTH) {
        rc = mark_err(yp, ev->start_mark, "nested too deeply");
        goto out;
    }
    switch (ev->type) {
    case YAML_SCALAR_EVENT:
        n = scalar_from(yp, ev);
        rc = n ? 0 : (yp->e ? yp->e->code : -ENOMEM);
        break;
    case YAML_SEQUENCE_START_EVENT:
    case YAML_MAPPING_START_EVENT: {
        bool map = ev->type == YAML_MAPPING_START_EVENT;

        if (!(n = node_at(yp, map ? YNODE_MAP : YNODE_SEQ, ev))) {
            rc = yp->e ? yp->e->code : -ENOMEM;
            break;
        }
        n->flow = map ? ev->data.mapping_start.style == YAML_FLOW_MAPPING_STYLE
                      : ev->data.sequence_start.style == YAML_FLOW_SEQUENCE_STYLE;
        rc = map ? parse_map_body(yp, n, depth + 1) : parse_seq_body(yp, n, depth + 1);
        break;
    }
    case YAML_ALIAS_EVENT:
        rc = mark_err(yp, ev->start_mark, "aliases (*name) are not supported");
        break;
    default:
        rc = mark_err(yp, ev->start_mark, "unexpected YAML structure");
        break;
    }
out:
    yaml_event_delete(ev);
    if (rc < 0) {
        ynode_free(n);
        return rc;
    }
    *out = n;
    return 0;
}

/* Expects an event of `type` next; anything else is an error at its position. */
static int expect_event(struct yparse *yp, yaml_event_type_t type, const char *what)
{
    yaml_event_t ev;
    int rc;

    if ((rc = next_event(yp, &ev)) < 0)
        return rc;
    rc = ev.type == type ? 0 : mark_err(yp, ev.start_mark, what);
    yaml_event_delete(&ev);
    return rc;
}

static int parse_stream(struct yparse *yp, struct ydoc *doc)
{
    yaml_event_t ev;
    int rc;

    if ((rc = expect_event(yp, YAML_STREAM_START_EVENT, "expected a YAML stream")) < 0)
        return rc;
    if ((rc = next_event(yp, &ev)) < 0)
        return rc;
    if (ev.type == YAML_STREAM_END_EVENT) {
        yaml_event_delete(&ev);
        return 0;
    }
    yaml_event_delete(&ev); /* DOCUMENT_START: the parser guarantees it here */
    if ((rc = next_event(yp, &ev)) < 0 || (rc = parse_node(yp, &ev, 0, &doc->root)) < 0)
        return rc;
    if ((rc = expect_event(yp, YAML_DOCUMENT_END_EVENT, "expected the end of the document")) < 0)
        return rc;
    /* A second document would be silently ignored by a reader that takes the first, so
     * refuse it rather than guess which one the operator meant. */
    return expect_event(yp, YAML_STREAM_END_EVENT, "only one YAML document is allowed");
}

int ydoc_parse(struct ydoc *doc, const char *src, const char *text, size_t len, struct err *e)
{
    struct yparse yp = {.src = NULL, .e = e};
    int rc;

    doc->root = NULL;
    if (!(doc->src = strdup(src)))
        return err_set(e, -ENOMEM, "out of memory");
    yp.src = doc->src;
    if (!yaml_parser_initialize(&yp.p))
        return err_set(e, -ENOMEM, "%s: cannot initialise the YAML parser", src);
    yaml_parser_set_input_string(&yp.p, (const unsigned char *)(text ? text : ""), text ? len : 0);
    rc = parse_stream(&yp, doc);
    yaml_parser_delete(&yp.p);
    if (rc < 0) {
        ynode_free(doc->root);
        doc->root = NULL;
    }
    return rc;
}

void ydoc_clear(struct ydoc *doc)
{
    if (!doc)
        return;
    ynode_free(doc->root);
    free(doc->src);
    doc->root = NULL;
    doc->src = NULL;
}

/* ---- emitting ---- */

struct ebuf {
    char *p;
    size_t len, cap;
};

static int ebuf_write(void *data, unsigned char *buf, size_t size)
{
    struct ebuf *b = data;

    if (b->len + size + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        char *p;

        while (cap < b->len + size + 1)
            cap *= 2;
        if (!(p = realloc(b->p, cap)))
            return 0;
        b->p = p;
        b->cap = cap;
    }
    memcpy(b->p + b->len, buf, size);
    b->len += size;
    b->p[b->len] = '\0';
    return 1;
}

/* Emits one scalar. A scalar that was quoted stays quoted (a quoted "yes" is a string, and
 * must not come back as a boolean); a plain one is left to libyaml, which quotes it only
 * when plain text would not read back the same ("*.example.com"). */
static int emit_scalar(yaml_emitter_t *em, const struct ynode *n)
{
    yaml_event_t ev;
    yaml_scalar_style_t style = YAML_ANY_SCALAR_STYLE;

    if (n->quoted) {
        /* Single quotes read best, but only double quotes can escape a line break or a
         * control character on one line. */
        style = YAML_SINGLE_QUOTED_SCALAR_STYLE;
        for (size_t i = 0; i < n->len; i++)
            if ((unsigned char)n->str[i] < 0x20 || n->str[i] == 0x7f)
                style = YAML_DOUBLE_QUOTED_SCALAR_STYLE;
    }

    if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)n->str, (int)n->len, 1, 1,
                                      style))
        return -ENOMEM;
    return yaml_emitter_emit(em, &ev) ? 0 : -EIO;
}

static int emit_node(yaml_emitter_t *em, const struct ynode *n)
{
    yaml_event_t ev;
    int ok, rc;

    if (n->type == YNODE_SCALAR)
        return emit_scalar(em, n);
    if (n->type == YNODE_MAP)
        ok = yaml_mapping_start_event_initialize(
            &ev, NULL, NULL, 1, n->flow ? YAML_FLOW_MAPPING_STYLE : YAML_BLOCK_MAPPING_STYLE);
    else
        ok = yaml_sequence_start_event_initialize(
            &ev, NULL, NULL, 1, n->flow ? YAML_FLOW_SEQUENCE_STYLE : YAML_BLOCK_SEQUENCE_STYLE);
    if (!ok)
        return -ENOMEM;
    if (!yaml_emitter_emit(em, &ev))
        return -EIO;
    for (size_t i = 0; i < n->n; i++) {
        if (n->type == YNODE_MAP && (rc = emit_scalar(em, n->keys[i])) < 0)
            return rc;
        if ((rc = emit_node(em, n->items[i])) < 0)
            return rc;
    }
    if (n->type == YNODE_MAP)
        ok = yaml_mapping_end_event_initialize(&ev);
    else
        ok = yaml_sequence_end_event_initialize(&ev);
    if (!ok)
        return -ENOMEM;
    return yaml_emitter_emit(em, &ev) ? 0 : -EIO;
}

static int emit_doc(yaml_emitter_t *em, const struct ynode *root)
{
    yaml_event_t ev;
    int rc;

    if (!yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING) || !yaml_emitter_emit(em, &ev))
        return -EIO;
    if (!yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 1) ||
        !yaml_emitter_emit(em, &ev))
        return -EIO;
    if ((rc = emit_node(em, root)) < 0)
        return rc;
    if (!yaml_document_end_event_initialize(&ev, 1) || !yaml_emitter_emit(em, &ev))
        return -EIO;
    if (!yaml_stream_end_event_initialize(&ev) || !yaml_emitter_emit(em, &ev))
        return -EIO;
    return yaml_emitter_flush(em) ? 0 : -EIO;
}

int ynode_emit(const struct ynode *root, char **out, size_t *len, struct err *e)
{
    yaml_emitter_t em;
    struct ebuf b = {0};
    int rc;

    *out = NULL;
    *len = 0;
    if (!yaml_emitter_initialize(&em))
        return err_set(e, -ENOMEM, "cannot initialise the YAML emitter");
    yaml_emitter_set_output(&em, ebuf_write, &b);
    yaml_emitter_set_unicode(&em, 1);
    yaml_emitter_set_width(&em, -1); /* never fold long scalars across lines */
    yaml_emitter_set_indent(&em, 2);
    rc = emit_doc(&em, root);
    if (rc < 0)
        err_set(e, rc, "cannot write YAML: %s", em.problem ? em.problem : "out of memory");
    yaml_emitter_delete(&em);
    if (rc < 0 || !b.p) {
        free(b.p);
        return rc < 0 ? rc : err_set(e, -EIO, "cannot write YAML: no output");
    }
    *out = b.p;
    *len = b.len;
    return 0;
}
