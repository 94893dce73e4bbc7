/* store_certs_cache: state/certs.cache, what loading certs/ derived from files that have not
 * changed since, so that a pass over thousands of certificates does not parse each one (and
 * load and match its key) again.
 *
 * One line per certificate: its id, the identity of its `cert` file (device, inode, size,
 * mtime and ctime in nanoseconds), the leaf's facts (dates, serial, ARI certID, names) and,
 * when its key was found and matched, the key id, the identity of keys/<key-id>/privkey and
 * the key's type and size. An entry is used only when every one of those identities is what
 * stat(2) says now; anything else (a missing cache, another version, a line that does not
 * parse) means parsing the files, never trusting the cache. Files changed within the last
 * STORE_CACHE_RACY_S seconds are not recorded: a rewrite in place within the clock's
 * granularity could leave size and times as they were (git's "racily clean" files). */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "store/store_internal.h"
#include "util/buf.h"
#include "util/fsio.h"
#include "util/log.h"

#define CACHE_MAGIC "acmed certs.cache 1"
#define CACHE_MAX (64 * 1024 * 1024)

int store_fstat_get(const char *path, struct store_fstat *out)
{
    struct stat sb;

    memset(out, 0, sizeof *out);
    if (lstat(path, &sb) < 0 || !S_ISREG(sb.st_mode))
        return -1;
    out->dev = (uint64_t)sb.st_dev;
    out->ino = (uint64_t)sb.st_ino;
    out->size = (uint64_t)sb.st_size;
    out->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    out->ctime_ns = (int64_t)sb.st_ctim.tv_sec * 1000000000 + sb.st_ctim.tv_nsec;
    return 0;
}

bool store_fstat_eq(const struct store_fstat *a, const struct store_fstat *b)
{
    return a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
           a->mtime_ns == b->mtime_ns && a->ctime_ns == b->ctime_ns && a->ino != 0;
}

bool store_fstat_settled(const struct store_fstat *f)
{
    struct timespec now;
    int64_t limit;

    if (clock_gettime(CLOCK_REALTIME, &now) < 0)
        return false;
    limit = ((int64_t)now.tv_sec - STORE_CACHE_RACY_S) * 1000000000 + now.tv_nsec;
    return f->mtime_ns < limit && f->ctime_ns < limit;
}

int store_cert_copy_facts(struct store_cert *dst, const struct store_cert *src)
{
    memcpy(dst->id, src->id, sizeof dst->id);
    memcpy(dst->key_id, src->key_id, sizeof dst->key_id);
    dst->key_is_rsa = src->key_is_rsa;
    dst->key_size = src->key_size;
    dst->not_before = src->not_before;
    dst->not_after = src->not_after;
    if (!(dst->names = calloc(src->nnames ? src->nnames : 1, sizeof *dst->names)))
        return -ENOMEM;
    for (size_t i = 0; i < src->nnames; i++) {
        if (!(dst->names[i] = strdup(src->names[i])))
            return -ENOMEM;
        dst->nnames++;
    }
    if (src->serial_hex && !(dst->serial_hex = strdup(src->serial_hex)))
        return -ENOMEM;
    if (src->ari_cert_id && !(dst->ari_cert_id = strdup(src->ari_cert_id)))
        return -ENOMEM;
    return 0;
}

void store_certs_cache_free(struct store_certs_cache *cc)
{
    if (!cc)
        return;
    for (size_t i = 0; i < cc->n; i++)
        store_cert_clear(&cc->v[i].c);
    free(cc->v);
    memset(cc, 0, sizeof *cc);
}

int store_certs_cache_add(struct store_certs_cache *cc, const struct store_cert_facts *f)
{
    struct store_cert_facts *g, *d;

    if (cc->n == cc->cap) {
        size_t cap = cc->cap ? 2 * cc->cap : 64;

        if (!(g = realloc(cc->v, cap * sizeof *g)))
            return -ENOMEM;
        cc->v = g;
        cc->cap = cap;
    }
    d = &cc->v[cc->n++];
    *d = *f;
    return 0;
}

static int cmp_facts(const void *a, const void *b)
{
    return strcmp(((const struct store_cert_facts *)a)->c.id,
                  ((const struct store_cert_facts *)b)->c.id);
}

const struct store_cert_facts *store_certs_cache_find(const struct store_certs_cache *cc,
                                                      const char *id)
{
    struct store_cert_facts k;

    if (!cc || cc->n == 0)
        return NULL;
    memcpy(k.c.id, id, STORE_ID_LEN + 1);
    return bsearch(&k, cc->v, cc->n, sizeof *cc->v, cmp_facts);
}

/* ---- the file ---- */

static bool get_u64(char **save, uint64_t *out)
{
    char *t = strtok_r(NULL, " ", save), *end;

    if (!t)
        return false;
    errno = 0;
    *out = strtoull(t, &end, 10);
    return !errno && *end == '\0' && end != t && t[0] != '-';
}

static bool get_i64(char **save, int64_t *out)
{
    char *t = strtok_r(NULL, " ", save), *end;

    if (!t)
        return false;
    errno = 0;
    *out = strtoll(t, &end, 10);
    return !errno && *end == '\0' && end != t;
}

static bool get_fstat(char **save, struct store_fstat *f)
{
    return get_u64(save, &f->dev) && get_u64(save, &f->ino) && get_u64(save, &f->size) &&
           get_i64(save, &f->mtime_ns) && get_i64(save, &f->ctime_ns);
}

/* A string field: "-" is NULL. *ok is cleared when it is missing or on ENOMEM. */
static char *get_str(char **save, bool *ok)
{
    char *t = strtok_r(NULL, " ", save), *s;

    if (!t || !*ok) {
        *ok = false;
        return NULL;
    }
    if (!strcmp(t, "-"))
        return NULL;
    if (!(s = strdup(t)))
        *ok = false;
    return s;
}

/* One line into f (released with store_cert_clear(&f->c) whatever the outcome). */
static bool parse_line(char *line, struct store_cert_facts *f)
{
    char *save = NULL, *t = strtok_r(line, " ", &save);
    int64_t nb, na, rsa, ksize;
    uint64_t nnames;
    char *kid;
    bool ok = true;

    memset(f, 0, sizeof *f);
    if (!t || !store_id_valid(t))
        return false;
    memcpy(f->c.id, t, STORE_ID_LEN + 1);
    if (!get_fstat(&save, &f->cert) || !get_i64(&save, &nb) || !get_i64(&save, &na))
        return false;
    f->c.not_before = (time_t)nb;
    f->c.not_after = (time_t)na;
    f->c.serial_hex = get_str(&save, &ok);
    f->c.ari_cert_id = get_str(&save, &ok);
    kid = get_str(&save, &ok);
    if (!ok || !f->c.serial_hex || (kid && !store_id_valid(kid))) {
        free(kid);
        return false;
    }
    if (kid)
        memcpy(f->c.key_id, kid, STORE_ID_LEN + 1);
    free(kid);
    if (!get_fstat(&save, &f->key) || !get_i64(&save, &rsa) || !get_i64(&save, &ksize) ||
        !get_u64(&save, &nnames) || nnames > 100000)
        return false;
    f->c.key_is_rsa = rsa != 0;
    f->c.key_size = (int)ksize;
    if (!(f->c.names = calloc(nnames ? nnames : 1, sizeof *f->c.names)))
        return false;
    for (uint64_t i = 0; i < nnames; i++) {
        if (!(f->c.names[i] = get_str(&save, &ok)))
            return false;
        f->c.nnames++;
    }
    return strtok_r(NULL, " ", &save) == NULL;
}

void store_certs_cache_read(const struct store *st, struct store_certs_cache *cc)
{
    char *path = store_path(st, "state/certs.cache"), *text = NULL, *line, *save = NULL;
    size_t len;
    struct err e;
    bool ok = true;

    memset(cc, 0, sizeof *cc);
    if (!path || fsio_read_file(path, CACHE_MAX, &text, &len, &e) < 0)
        goto out; /* none yet (or unreadable): everything is parsed */
    line = strtok_r(text, "\n", &save);
    if (!line || strcmp(line, CACHE_MAGIC) != 0) {
        log_debug("%s: not a cache of this version; ignored", path);
        goto out;
    }
    while (ok && (line = strtok_r(NULL, "\n", &save))) {
        struct store_cert_facts f;

        ok = parse_line(line, &f) && store_certs_cache_add(cc, &f) == 0;
        if (!ok)
            store_cert_clear(&f.c);
    }
    if (ok)
        qsort(cc->v, cc->n, sizeof *cc->v, cmp_facts);
    for (size_t i = 1; ok && i < cc->n; i++)
        ok = strcmp(cc->v[i - 1].c.id, cc->v[i].c.id) != 0;
    if (!ok) {
        log_debug("%s: malformed; ignored", path);
        store_certs_cache_free(cc);
    }
out:
    free(text);
    free(path);
}

static int put_fstat(struct buf *b, const struct store_fstat *f)
{
    char s[128];

    snprintf(s, sizeof s, " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64, f->dev,
             f->ino, f->size, f->mtime_ns, f->ctime_ns);
    return buf_puts(b, s);
}

static int put_line(struct buf *b, const struct store_cert_facts *f)
{
    const struct store_cert *c = &f->c;
    char s[160];
    int rc;

    snprintf(s, sizeof s, "%s", c->id);
    rc = buf_puts(b, s);
    rc = rc < 0 ? rc : put_fstat(b, &f->cert);
    snprintf(s, sizeof s, " %lld %lld %s %s %s", (long long)c->not_before, (long long)c->not_after,
             c->serial_hex && *c->serial_hex ? c->serial_hex : "-",
             c->ari_cert_id ? c->ari_cert_id : "-", c->key_id[0] ? c->key_id : "-");
    rc = rc < 0 ? rc : buf_puts(b, s);
    rc = rc < 0 ? rc : put_fstat(b, &f->key);
    snprintf(s, sizeof s, " %d %d %zu", c->key_is_rsa ? 1 : 0, c->key_size, c->nnames);
    rc = rc < 0 ? rc : buf_puts(b, s);
    for (size_t i = 0; rc == 0 && i < c->nnames; i++) {
        rc = buf_puts(b, " ");
        rc = rc < 0 ? rc : buf_puts(b, c->names[i]);
    }
    return rc < 0 ? rc : buf_puts(b, "\n");
}

/* A field with a space or a newline (which no DNS name, IP address, hex serial or certID
 * has) would not read back: such an entry is left out. */
static bool writable(const struct store_cert *c)
{
    if (!c->serial_hex || !*c->serial_hex || strpbrk(c->serial_hex, " \n") ||
        (c->ari_cert_id && strpbrk(c->ari_cert_id, " \n")))
        return false;
    for (size_t i = 0; i < c->nnames; i++)
        if (!*c->names[i] || !strcmp(c->names[i], "-") || strpbrk(c->names[i], " \n"))
            return false;
    return true;
}

int store_certs_cache_write(const struct store *st, const struct store_certs_cache *cc,
                            struct err *e)
{
    char *path = store_path(st, "state/certs.cache");
    struct buf b = BUF_INIT;
    int rc;

    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    rc = buf_puts(&b, CACHE_MAGIC "\n");
    for (size_t i = 0; rc == 0 && i < cc->n; i++)
        if (writable(&cc->v[i].c))
            rc = put_line(&b, &cc->v[i]);
    if (rc < 0)
        rc = err_set(e, -ENOMEM, "out of memory");
    else
        rc = fsio_write_atomic(path, b.data, b.len, STORE_PRIV_FILE_MODE, e);
    buf_clear(&b);
    free(path);
    return rc;
}
