/* cmd_cull: `acmed cull [-n]`: removes certificates that have expired and that no live link
 * uses, then certificate keys (keys/<id>/) nothing needs any more: no remaining certificate,
 * no target pinning it (request.key.id) and no order in progress (state/<file>.json). With -n
 * it only says what it would remove. It runs under the reconciler lock, so nothing it looks
 * at changes underneath it. Account keys live under accounts/ and are never touched.
 *
 * Whenever what uses a key cannot be known for sure (a malformed desired file, an unreadable
 * state file, a certificate directory whose key link we do not understand), every key is
 * kept: a key removed by mistake cannot be brought back. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

/* Opens <root>/<rel> as a directory, refusing a symlink. -1 with errno set on failure. */
static int open_dir(const struct store *st, const char *rel)
{
    char *path = store_path(st, rel);
    int fd;

    if (!path) {
        errno = ENOMEM;
        return -1;
    }
    fd = open(path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    free(path);
    return fd;
}

/* Calls fn for every entry of the directory fd (which stays open) but "." and "..". */
static int each_entry(int fd, int (*fn)(struct cull *cu, int dirfd, const char *name),
                      struct cull *cu, struct err *e)
{
    int dfd = dup(fd), rc = 0;
    struct dirent *de;
    DIR *d;

    if (dfd < 0 || !(d = fdopendir(dfd))) {
        rc = err_sys(e, -errno, "cannot list a directory of %s", cu->st.root);
        if (dfd >= 0)
            close(dfd);
        return rc;
    }
    rewinddir(d);
    while (rc == 0 && (de = readdir(d)))
        if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
            rc = fn(cu, fd, de->d_name);
    closedir(d);
    if (rc < 0)
        err_set(e, rc, "out of memory");
    return rc;
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
    desired_set_free(&ds);
    return rc;
}

/* The key of an order in progress, from state/<name> ("key_id"). */
static int state_entry(struct cull *cu, int dirfd, const char *name)
{
    size_t len = strlen(name);
    char *file = NULL, *text = NULL;
    json_t *o = NULL;
    struct stat sb;
    struct err e;
    int rc = 0;

    if (name[0] == '.' || len <= 5 || strcmp(name + len - 5, ".json") ||
        fstatat(dirfd, name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
        return 0;
    if (!(file = strndup(name, len - 5)))
        return -ENOMEM;
    if (store_state_read(&cu->st, file, &text, &e) < 0 || !(o = json_loads(text, 0, NULL)) ||
        !json_is_object(o)) {
        log_warn("keeping every key: state/%s cannot be read and may name one", name);
        cu->keep_all_keys = true;
        goto out;
    }
    rc = idset_add(&cu->used_keys, json_string_value(json_object_get(o, "key_id")));
out:
    json_decref(o);
    free(text);
    free(file);
    return rc;
}

/* Account key ids, including moved-aside ".deactivated-<id>" ones: keys/ should never hold
 * one, but if it does it must stay. */
static int account_key_entry(struct cull *cu, int dirfd, const char *name)
{
    static const char prefix[] = ".deactivated-";

    (void)dirfd;
    if (!strncmp(name, prefix, sizeof prefix - 1))
        name += sizeof prefix - 1;
    return idset_add(&cu->used_keys, name);
}

static int account_dir_entry(struct cull *cu, int dirfd, const char *name)
{
    int fd, rc;

    if (name[0] == '.')
        return 0;
    fd = openat(dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return 0;
    rc = each_entry(fd, account_key_entry, cu, NULL);
    close(fd);
    return rc;
}

/* Runs fn over the entries of <root>/<rel>; a missing directory has none. */
static int collect_dir(struct cull *cu, const char *rel,
                       int (*fn)(struct cull *cu, int dirfd, const char *name), struct err *e)
{
    int fd = open_dir(&cu->st, rel), rc;

    if (fd < 0)
        return errno == ENOENT ? 0 : err_sys(e, -errno, "cannot open %s/%s", cu->st.root, rel);
    rc = each_entry(fd, fn, cu, e);
    close(fd);
    return rc;
}

/* The key a remaining certificate directory links to ("../../keys/<key-id>/privkey"), read
 * from the link itself: store_certs_load leaves out directories without a parseable cert and
 * the key_id of a key that does not match its cert, yet those keys must stay too. */
static int cert_link_entry(struct cull *cu, int dirfd, const char *name)
{
    static const char pre[] = "../../keys/", post[] = "/privkey";
    char rel[STORE_ID_LEN + 16], target[256], id[STORE_ID_LEN + 1];
    ssize_t n;

    if (!store_id_valid(name) || idset_has(&cu->removed, name))
        return 0;
    snprintf(rel, sizeof rel, "%s/privkey", name);
    n = readlinkat(dirfd, rel, target, sizeof target - 1);
    if (n < 0)
        return 0; /* no link: no key of ours */
    target[n] = '\0';
    if ((size_t)n != sizeof pre - 1 + STORE_ID_LEN + sizeof post - 1 ||
        strncmp(target, pre, sizeof pre - 1) || strcmp(target + n - (sizeof post - 1), post)) {
        log_warn("keeping every key: certs/%s/privkey points at %s", name, target);
        cu->keep_all_keys = true;
        return 0;
    }
    memcpy(id, target + sizeof pre - 1, STORE_ID_LEN);
    id[STORE_ID_LEN] = '\0';
    return idset_add(&cu->used_keys, id);
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
        rc = collect_dir(cu, "certs", cert_link_entry, e);
    return rc;
}

/* Removes keys/<id>/privkey and keys/<id>. Anything unexpected there (a symlink, another
 * file) is refused before anything is removed. */
static int remove_key_dir(int keys_fd, const char *id, struct err *e)
{
    struct dirent *de;
    struct stat sb;
    DIR *d = NULL;
    int fd, rc = 0;

    fd = openat(keys_fd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return err_sys(e, -errno, "keys/%s is not a directory; refusing it", id);
    if (!(d = fdopendir(fd))) {
        rc = err_sys(e, -errno, "cannot list keys/%s", id);
        close(fd);
        return rc;
    }
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (strcmp(de->d_name, "privkey") ||
            fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode)) {
            rc = err_set(e, -EINVAL,
                         "keys/%s/%s is not the regular file privkey; refusing "
                         "to remove keys/%s",
                         id, de->d_name, id);
            goto out;
        }
    }
    /* unlinkat never follows a symlink, and privkey was just seen to be a regular file. */
    if (unlinkat(fd, "privkey", 0) < 0 && errno != ENOENT) {
        rc = err_sys(e, -errno, "cannot remove keys/%s/privkey", id);
        goto out;
    }
    if (unlinkat(keys_fd, id, AT_REMOVEDIR) < 0)
        rc = err_sys(e, -errno, "cannot remove keys/%s", id);
out:
    closedir(d);
    return rc;
}

static int key_entry(struct cull *cu, int dirfd, const char *name)
{
    struct err e;

    if (!store_id_valid(name) || idset_has(&cu->used_keys, name))
        return 0;
    if (cu->c->dry_run) {
        printf("would remove key %s\n", name);
    } else if (remove_key_dir(dirfd, name, &e) < 0) {
        log_err("%s", err_msg(&e));
        cu->nerrors++;
        return 0;
    } else {
        log_notice("removed key %s", name);
    }
    cu->nkeys++;
    return 0;
}

static int cull_keys(struct cull *cu, struct err *e)
{
    int fd, rc;

    if (cu->keep_all_keys)
        return 0;
    if ((fd = open_dir(&cu->st, "keys")) < 0)
        return errno == ENOENT ? 0 : err_sys(e, -errno, "cannot open %s/keys", cu->st.root);
    rc = each_entry(fd, key_entry, cu, e);
    if (rc == 0 && cu->nkeys > 0 && !cu->c->dry_run && fsync(fd) < 0)
        log_warn("cannot fsync %s/keys: %s", cu->st.root, strerror(errno));
    close(fd);
    return rc;
}

int cmd_cull(const struct cli *c)
{
    struct cull cu = {.c = c, .st = {.lock_fd = -1}};
    int code = EXIT_FAILED, rc;
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
    if (collect_live(&cu, &e) < 0 || collect_dir(&cu, "state", state_entry, &e) < 0 ||
        collect_dir(&cu, "accounts", account_dir_entry, &e) < 0 || cull_certs(&cu, &e) < 0 ||
        cull_keys(&cu, &e) < 0) {
        log_err("%s", err_msg(&e));
        goto out;
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
