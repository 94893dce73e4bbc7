/* cmd_cull: `acmed cull [-n]`: removes certificates that have expired and that no live link
 * uses, then certificate keys (keys/<id>/) nothing needs any more: no remaining certificate,
 * no target pinning it (request.key.id) and no order in progress (state/<file>.json). With -n
 * it only says what it would remove. It runs under the reconciler lock, so nothing it looks
 * at changes underneath it. Account keys live under accounts/ and are never touched.
 *
 * Whenever what uses a key cannot be known for sure (a malformed desired file, an unreadable
 * state file, a certificate directory whose key link we do not understand), every key is
 * kept: a key removed by mistake cannot be brought back. What the state directory holds is
 * read, and keys removed, through the store (store_cert_ids, store_cert_key_link,
 * store_key_ids, store_key_remove, store_state_files, store_accounts_list). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "store/desired.h"
#include "store/store.h"
#include "util/clock.h"
#include "util/log.h"

/* A set of ids; a state directory holds few, so a linear search is enough. */
struct idset {
    char (*ids)[STORE_ID_LEN + 1];
    size_t n, cap;
};

struct cull {
    const struct cli *c;
    struct store st;
    struct idset live;      /* cert ids that live links point at */
    struct idset removed;   /* cert ids removed (or, with -n, that would be) */
    struct idset used_keys; /* key ids something still needs */
    bool keep_all_keys;     /* what uses a key is not known for sure */
    unsigned ncerts, nkeys, nerrors;
};

static bool idset_has(const struct idset *s, const char *id)
{
    for (size_t i = 0; i < s->n; i++)
        if (!strcmp(s->ids[i], id))
            return true;
    return false;
}

/* Adds id when it is a valid id not yet in the set (anything else can name no key or cert
 * directory, so it is ignored). Returns 0 or -ENOMEM. */
static int idset_add(struct idset *s, const char *id)
{
    if (!id || !store_id_valid(id) || idset_has(s, id))
        return 0;
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 16;
        void *p = realloc(s->ids, cap * sizeof *s->ids);

        if (!p)
            return -ENOMEM;
        s->ids = p;
        s->cap = cap;
    }
    memcpy(s->ids[s->n++], id, STORE_ID_LEN + 1);
    return 0;
}

static void idset_free(struct idset *s)
{
    free(s->ids);
    memset(s, 0, sizeof *s);
}

/* ---- what is in use ---- */

static int collect_live(struct cull *cu, struct err *e)
{
    char **names = NULL, id[STORE_ID_LEN + 1];
    size_t n = 0;
    int rc;

    if ((rc = store_live_list(&cu->st, &names, &n, e)) < 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct err le;

        /* A link that leads nowhere usable keeps no certificate alive. */
        if (store_live_get(&cu->st, names[i], id, &le) < 0)
            log_warn("ignoring live/%s: %s", names[i], err_msg(&le));
        else if (idset_add(&cu->live, id) < 0)
            rc = err_set(e, -ENOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
    return rc;
}

/* Keys pinned by targets. A desired file we cannot read might pin one too. */
static int collect_pinned(struct cull *cu, struct err *e)
{
    struct desired_set ds = {0};
    int rc;

    if ((rc = desired_load(cu->st.root, &ds, e)) < 0)
        return rc;
    for (size_t i = 0; i < ds.ntargets && rc == 0; i++)
        if (idset_add(&cu->used_keys, ds.targets[i].key_id) < 0)
            rc = err_set(e, -ENOMEM, "out of memory");
    if (ds.nerrors > 0) {
        log_warn("keeping every key: desired/%s cannot be read and may pin one", ds.errors[0].file);
        cu->keep_all_keys = true;
    }
    desired_set_clear(&ds);
    return rc;
}

/* The keys of orders in progress, from state/<file>.json ("key_id"). */
static int collect_state(struct cull *cu, struct err *e)
{
    char **files = NULL;
    size_t n = 0;
    int rc;

    if ((rc = store_state_files(&cu->st, &files, &n, e)) < 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        char *text = NULL;
        json_t *o = NULL;
        struct err le;

        if (store_state_read(&cu->st, files[i], &text, &le) < 0 ||
            !(o = json_loads(text, 0, NULL)) || !json_is_object(o)) {
            log_warn("keeping every key: state/%s.json cannot be read and may name one", files[i]);
            cu->keep_all_keys = true;
        } else if (idset_add(&cu->used_keys, json_string_value(json_object_get(o, "key_id"))) < 0) {
            rc = err_set(e, -ENOMEM, "out of memory");
        }
        json_decref(o);
        free(text);
    }
    store_ids_free(files, n);
    return rc;
}

/* Account key ids, including moved-aside ".deactivated-<id>" ones: keys/ should never hold
 * one, but if it does it must stay. */
static int collect_accounts(struct cull *cu, struct err *e)
{
    struct store_account_ref *v = NULL;
    size_t n = 0;
    int rc;

    if ((rc = store_accounts_list(&cu->st, NULL, true, &v, &n, e)) < 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++)
        if (idset_add(&cu->used_keys, v[i].key_id) < 0)
            rc = err_set(e, -ENOMEM, "out of memory");
    store_account_refs_free(v, n);
    return rc;
}

/* The keys remaining certificate directories link to: store_certs_load leaves out
 * directories without a parseable cert and the key_id of a key that does not match its cert,
 * yet those keys must stay too. */
static int collect_cert_links(struct cull *cu, struct err *e)
{
    char **ids = NULL, key[STORE_ID_LEN + 1];
    size_t n = 0;
    int rc;

    if ((rc = store_cert_ids(&cu->st, &ids, &n, e)) < 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        struct err le;
        int lr;

        if (idset_has(&cu->removed, ids[i]))
            continue;
        if ((lr = store_cert_key_link(&cu->st, ids[i], key, &le)) == 0) {
            rc = idset_add(&cu->used_keys, key);
        } else if (lr == -ENOMEM) {
            rc = lr;
        } else if (lr != -ENOENT) {
            log_warn("keeping every key: %s", err_msg(&le));
            cu->keep_all_keys = true;
        }
    }
    store_ids_free(ids, n);
    return rc < 0 ? err_set(e, rc, "out of memory") : 0;
}

/* ---- removal ---- */

static int cull_certs(struct cull *cu, struct err *e)
{
    struct store_cert *certs = NULL;
    time_t now = clock_now();
    size_t n = 0;
    char when[32];
    int rc;

    if ((rc = store_certs_load(&cu->st, &certs, &n, e)) < 0)
        return rc;
    for (size_t i = 0; i < n && rc == 0; i++) {
        const struct store_cert *sc = &certs[i];
        struct err le;

        if (sc->not_after >= now || idset_has(&cu->live, sc->id)) {
            rc = idset_add(&cu->used_keys, sc->key_id);
            continue;
        }
        clock_rfc3339(sc->not_after, when, sizeof when);
        if (cu->c->dry_run) {
            printf("would remove certificate %s (expired %s)\n", sc->id, when);
        } else if (store_cert_remove(&cu->st, sc->id, &le) < 0) {
            log_err("cannot remove certificate %s: %s", sc->id, err_msg(&le));
            cu->nerrors++;
            rc = idset_add(&cu->used_keys, sc->key_id);
            continue;
        } else {
            log_notice("removed certificate %s (expired %s)", sc->id, when);
        }
        cu->ncerts++;
        rc = idset_add(&cu->removed, sc->id);
    }
    store_certs_free(certs, n);
    if (rc == -ENOMEM)
        err_set(e, rc, "out of memory");
    if (rc == 0)
        rc = collect_cert_links(cu, e);
    return rc;
}

static int cull_keys(struct cull *cu, struct err *e)
{
    char **ids = NULL;
    size_t n = 0;
    int rc;

    if (cu->keep_all_keys)
        return 0;
    if ((rc = store_key_ids(&cu->st, &ids, &n, e)) < 0)
        return rc;
    for (size_t i = 0; i < n; i++) {
        struct err le;

        if (idset_has(&cu->used_keys, ids[i]))
            continue;
        if (cu->c->dry_run) {
            printf("would remove key %s\n", ids[i]);
        } else if (store_key_remove(&cu->st, ids[i], &le) < 0) {
            log_err("%s", err_msg(&le));
            cu->nerrors++;
            continue;
        } else {
            log_notice("removed key %s", ids[i]);
        }
        cu->nkeys++;
    }
    store_ids_free(ids, n);
    return 0;
}

int cmd_cull(const struct cli *c)
{
    struct cull cu = {.c = c, .st = {.lock_fd = -1}};
    int code = EXIT_FAILED, rc;
    unsigned nserved = 0;
    struct err e;

    if (c->nargs > 0) {
        log_err("cull takes no arguments, got \"%s\" (see acmed --help)", c->args[0]);
        return EXIT_USAGE;
    }
    if (store_open(c->state_dir, &cu.st, &e) < 0) {
        log_err("%s", err_msg(&e));
        return EXIT_USAGE;
    }
    if ((rc = store_lock(&cu.st, &e)) < 0) {
        log_err("%s", err_msg(&e));
        code = rc == -EWOULDBLOCK ? EXIT_LOCKED : EXIT_FAILED;
        goto out;
    }
    /* Everything that may keep a key is gathered before anything is removed. */
    if ((rc = collect_pinned(&cu, &e)) < 0) {
        log_err("%s", err_msg(&e));
        code = rc == -EINVAL ? EXIT_USAGE : EXIT_FAILED;
        goto out;
    }
    if (collect_live(&cu, &e) < 0 || collect_state(&cu, &e) < 0 || collect_accounts(&cu, &e) < 0 ||
        cull_certs(&cu, &e) < 0 || cull_keys(&cu, &e) < 0) {
        log_err("%s", err_msg(&e));
        goto out;
    }
    /* acmed serve's cache links to certificates just removed (or long gone). */
    if (store_served_prune(&cu.st, c->dry_run, &nserved, &e) < 0) {
        log_err("%s", err_msg(&e));
        cu.nerrors++;
    } else if (nserved) {
        log_notice("%s %u served/ link%s to removed certificates",
                   c->dry_run ? "would remove" : "removed", nserved, nserved == 1 ? "" : "s");
    }
    printf("%s %u certificate%s and %u key%s\n", c->dry_run ? "would remove" : "removed", cu.ncerts,
           cu.ncerts == 1 ? "" : "s", cu.nkeys, cu.nkeys == 1 ? "" : "s");
    code = cu.nerrors ? EXIT_FAILED : EXIT_OK;
out:
    idset_free(&cu.live);
    idset_free(&cu.removed);
    idset_free(&cu.used_keys);
    store_close(&cu.st);
    return code;
}
