/* store_certs_cache: state/certs.cache, what loading certs/ derived from files that have not
 * changed since, so that a pass over thousands of certificates neither parses each one (and
 * loads and matches its key) nor opens its url and meta again.
 *
 * One line per certificate, sorted by id: its id, the identities (device, inode, size, mtime
 * and ctime in nanoseconds) of certs/<id> itself, of its cert, url and meta files and of
 * keys/<key-id>/privkey, then what each of them gave: the key id the privkey link names, the
 * account link's dir-id and the revocation markers (the directory's entries: a link or a
 * marker cannot change without changing the directory), the leaf's dates, serial, ARI certID
 * and names (cert), the key's type and size (key, matched against that leaf), the order URL
 * (url) and meta's fields (meta). Each part is used only when the identity of what it came
 * from is what stat(2) says now; an identity of zeros is never equal to anything. Anything
 * else (a missing cache, another version, a line that does not parse or out of order) means
 * reading the files, never trusting the cache. Files changed within the last
 * STORE_CACHE_RACY_S seconds are not recorded: a rewrite in place within the clock's
 * granularity could leave size and times as they were (git's "racily clean" files).
 *
 * The file is read as a stream, merged with the sorted listing of certs/, so its entries are
 * never all in memory at once, and their strings are moved into the certificates loaded. */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/buf.h"
#include "util/fsio.h"
#include "util/log.h"

#define CACHE_MAGIC "acmed certs.cache 3"
#define CACHE_PATH "state/certs.cache"

/* ---- file identities ---- */

static int fstat_of(const char *path, mode_t type, struct store_fstat *out)
{
    struct stat sb;

    memset(out, 0, sizeof *out);
    if (lstat(path, &sb) < 0 || (sb.st_mode & S_IFMT) != type)
        return -1;
    out->dev = (uint64_t)sb.st_dev;
    out->ino = (uint64_t)sb.st_ino;
    out->size = (uint64_t)sb.st_size;
    out->mtime_ns = (int64_t)sb.st_mtim.tv_sec * 1000000000 + sb.st_mtim.tv_nsec;
    out->ctime_ns = (int64_t)sb.st_ctim.tv_sec * 1000000000 + sb.st_ctim.tv_nsec;
    return 0;
}

int store_fstat_get(const char *path, struct store_fstat *out)
{
    return fstat_of(path, S_IFREG, out);
}

int store_fstat_dir(const char *path, struct store_fstat *out)
{
    return fstat_of(path, S_IFDIR, out);
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

    if (f->ino == 0 || clock_gettime(CLOCK_REALTIME, &now) < 0)
        return false;
    limit = ((int64_t)now.tv_sec - STORE_CACHE_RACY_S) * 1000000000 + now.tv_nsec;
    return f->mtime_ns < limit && f->ctime_ns < limit;
}

bool store_cert_stamp_eq(const struct store_cert_stamp *a, const struct store_cert_stamp *b)
{
    const struct store_fstat *x[] = {&a->dir, &a->cert, &a->key, &a->url, &a->meta};
    const struct store_fstat *y[] = {&b->dir, &b->cert, &b->key, &b->url, &b->meta};

    for (size_t i = 0; i < sizeof x / sizeof x[0]; i++)
        if (memcmp(x[i], y[i], sizeof *x[i]) != 0)
            return false;
    return strcmp(a->link_kid, b->link_kid) == 0;
}

bool store_cert_stamp_empty(const struct store_cert_stamp *s)
{
    return s->dir.ino == 0 && s->cert.ino == 0 && s->key.ino == 0 && s->url.ino == 0 &&
           s->meta.ino == 0;
}

/* ---- fields: space-separated tokens; strings escaped ---- */

/* A string token: "-" is NULL, "=" the empty string; otherwise bytes up to ' ', '%', DEL and
 * a leading '-' or '=' are written %XX. */
static int put_str(struct buf *b, const char *s)
{
    char esc[4];
    int rc;

    if (!s)
        return buf_puts(b, " -");
    if (!*s)
        return buf_puts(b, " =");
    rc = buf_puts(b, " ");
    for (const unsigned char *p = (const unsigned char *)s; rc == 0 && *p; p++) {
        if (*p <= ' ' || *p == '%' || *p == 0x7f ||
            (p == (const unsigned char *)s && (*p == '-' || *p == '='))) {
            snprintf(esc, sizeof esc, "%%%02X", *p);
            rc = buf_puts(b, esc);
        } else {
            rc = buf_append(b, p, 1);
        }
    }
    return rc;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* The next token as a string (NULL for "-"; *ok cleared when missing, malformed or on ENOMEM). */
static char *get_str(char **save, bool *ok)
{
    char *t = strtok_r(NULL, " ", save), *s, *d;

    if (!t || !*ok) {
        *ok = false;
        return NULL;
    }
    if (!strcmp(t, "-"))
        return NULL;
    if (!(s = strdup(!strcmp(t, "=") ? "" : t))) {
        *ok = false;
        return NULL;
    }
    for (d = s, t = s; *t; t++) {
        if (*t == '%') {
            int hi = hexval(t[1]), lo = hi < 0 ? -1 : hexval(t[2]);

            if (lo < 0 || (hi == 0 && lo == 0)) {
                free(s);
                *ok = false;
                return NULL;
            }
            *d++ = (char)(hi * 16 + lo);
            t += 2;
        } else {
            *d++ = *t;
        }
    }
    *d = '\0';
    return s;
}

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

static bool get_time(char **save, time_t *out)
{
    int64_t v;

    if (!get_i64(save, &v))
        return false;
    *out = (time_t)v;
    return true;
}

static bool get_fstat(char **save, struct store_fstat *f)
{
    return get_u64(save, &f->dev) && get_u64(save, &f->ino) && get_u64(save, &f->size) &&
           get_i64(save, &f->mtime_ns) && get_i64(save, &f->ctime_ns);
}

/* An id token ("-": none) into out (STORE_ID_LEN + 1). */
static bool get_id(char **save, char *out)
{
    char *t = strtok_r(NULL, " ", save);

    if (!t)
        return false;
    out[0] = '\0';
    if (!strcmp(t, "-"))
        return true;
    if (!store_id_valid(t))
        return false;
    memcpy(out, t, STORE_ID_LEN + 1);
    return true;
}

/* One line into f (released with store_cert_clear(&f->c) whatever the outcome). */
static bool parse_line(char *line, struct store_cert_facts *f)
{
    char *save = NULL, *t = strtok_r(line, " ", &save);
    struct store_cert *c = &f->c;
    struct store_cert_stamp *s = &f->stamp;
    int64_t flags, ksize;
    uint64_t nnames;
    bool ok = true;

    memset(f, 0, sizeof *f);
    if (!t || !store_id_valid(t))
        return false;
    memcpy(c->id, t, STORE_ID_LEN + 1);
    if (!get_fstat(&save, &s->dir) || !get_fstat(&save, &s->cert) || !get_fstat(&save, &s->key) ||
        !get_fstat(&save, &s->url) || !get_fstat(&save, &s->meta) || !get_id(&save, s->link_kid) ||
        !get_i64(&save, &flags) || !get_i64(&save, &ksize) || !get_time(&save, &c->not_before) ||
        !get_time(&save, &c->not_after) || !get_time(&save, &c->ari_start) ||
        !get_time(&save, &c->ari_end) || !get_time(&save, &c->ari_chosen) ||
        !get_time(&save, &c->ari_next_check))
        return false;
    c->revoke_asked = flags & 1;
    c->revoked = flags & 2;
    c->key_is_rsa = flags & 4;
    c->key_size = (int)ksize;
    c->serial_hex = get_str(&save, &ok);
    c->ari_cert_id = get_str(&save, &ok);
    c->account_dir_id = get_str(&save, &ok);
    c->order_url = get_str(&save, &ok);
    c->directory = get_str(&save, &ok);
    c->replaces = get_str(&save, &ok);
    c->replaces_dropped = get_str(&save, &ok);
    c->replaces_dropped_why = get_str(&save, &ok);
    c->csr = get_str(&save, &ok);
    ok = ok && (!c->csr || store_sha256_valid(c->csr));
    if (!ok || !get_u64(&save, &nnames) || nnames > 100000)
        return false;
    if (!(c->names = calloc(nnames ? nnames : 1, sizeof *c->names)))
        return false;
    for (uint64_t i = 0; i < nnames; i++) {
        if (!(c->names[i] = get_str(&save, &ok)))
            return false;
        c->nnames++;
    }
    return strtok_r(NULL, " ", &save) == NULL;
}

/* ---- reading, as a stream ---- */

/* Reads the next entry into r->cur (r->have), or ends the stream (EOF, or a line that does not
 * parse or breaks the order: then r->bad). */
static void next_entry(struct store_certs_cache *r)
{
    char last[STORE_ID_LEN + 1];

    memcpy(last, r->cur.c.id, sizeof last);
    store_cert_clear(&r->cur.c);
    r->have = r->given = false;
    if (!r->f || getline(&r->line, &r->cap, r->f) < 0)
        return;
    r->line[strcspn(r->line, "\n")] = '\0';
    if (!parse_line(r->line, &r->cur) || (last[0] && strcmp(last, r->cur.c.id) >= 0)) {
        log_debug("%s: malformed; the rest is ignored", CACHE_PATH);
        store_cert_clear(&r->cur.c);
        r->bad = true;
        fclose(r->f);
        r->f = NULL;
        return;
    }
    r->have = true;
}

void store_certs_cache_open(const struct store *st, struct store_certs_cache *r)
{
    char *path = store_path(st, CACHE_PATH);
    int fd = path ? open(path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC) : -1;

    memset(r, 0, sizeof *r);
    if (fd >= 0 && !(r->f = fdopen(fd, "r")))
        close(fd);
    if (!r->f) {
        r->bad = true; /* none yet (or unreadable): everything is read from the files */
        goto out;
    }
    /* Fewer, larger reads: the file holds a line per certificate. */
    setvbuf(r->f, NULL, _IOFBF, 64 * 1024);
    if (getline(&r->line, &r->cap, r->f) < 0 || strcmp(r->line, CACHE_MAGIC "\n") != 0) {
        log_debug("%s: not a cache of this version; ignored", path);
        fclose(r->f);
        r->f = NULL;
        r->bad = true;
        goto out;
    }
    next_entry(r);
out:
    free(path);
}

struct store_cert_facts *store_certs_cache_find(struct store_certs_cache *r, const char *id)
{
    while (r->have && strcmp(r->cur.c.id, id) < 0) {
        r->passed += !r->given; /* an entry never asked for */
        next_entry(r);
    }
    if (!r->have || strcmp(r->cur.c.id, id) != 0)
        return NULL;
    r->given = true;
    return &r->cur;
}

bool store_certs_cache_close(struct store_certs_cache *r)
{
    bool rest;

    if (r->have && r->given)
        next_entry(r); /* the last entry asked for: is there another after it? */
    rest = r->have;
    store_cert_clear(&r->cur.c);
    if (r->f)
        fclose(r->f);
    free(r->line);
    rest = rest || r->bad || r->passed > 0;
    memset(r, 0, sizeof *r);
    return rest;
}

/* ---- writing ---- */

static int put_fstat(struct buf *b, const struct store_fstat *f)
{
    return buf_printf(b, " %" PRIu64 " %" PRIu64 " %" PRIu64 " %" PRId64 " %" PRId64, f->dev,
                      f->ino, f->size, f->mtime_ns, f->ctime_ns);
}

static int put_line(struct buf *b, const struct store_cert *c, const struct store_cert_stamp *s)
{
    int flags = (c->revoke_asked ? 1 : 0) | (c->revoked ? 2 : 0) | (c->key_is_rsa ? 4 : 0);
    const char *strs[] = {
        c->serial_hex, c->ari_cert_id,      c->account_dir_id,       c->order_url, c->directory,
        c->replaces,   c->replaces_dropped, c->replaces_dropped_why, c->csr};
    int rc = buf_puts(b, c->id);

    rc = rc < 0 ? rc : put_fstat(b, &s->dir);
    rc = rc < 0 ? rc : put_fstat(b, &s->cert);
    rc = rc < 0 ? rc : put_fstat(b, &s->key);
    rc = rc < 0 ? rc : put_fstat(b, &s->url);
    rc = rc < 0 ? rc : put_fstat(b, &s->meta);
    rc = rc < 0 ? rc
                : buf_printf(b, " %s %d %d %lld %lld %lld %lld %lld %lld",
                             s->link_kid[0] ? s->link_kid : "-", flags, c->key_size,
                             (long long)c->not_before, (long long)c->not_after,
                             (long long)c->ari_start, (long long)c->ari_end,
                             (long long)c->ari_chosen, (long long)c->ari_next_check);
    for (size_t i = 0; rc == 0 && i < sizeof strs / sizeof strs[0]; i++)
        rc = put_str(b, strs[i]);
    rc = rc < 0 ? rc : buf_printf(b, " %zu", c->nnames);
    for (size_t i = 0; rc == 0 && i < c->nnames; i++)
        rc = put_str(b, c->names[i]);
    return rc < 0 ? rc : buf_puts(b, "\n");
}

int store_certs_cache_write(const struct store *st, const struct store_cert *v,
                            const struct store_cert_stamp *s, size_t n, struct err *e)
{
    char *path = store_path(st, CACHE_PATH);
    struct buf b = BUF_INIT;
    int rc;

    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    rc = buf_puts(&b, CACHE_MAGIC "\n");
    for (size_t i = 0; rc == 0 && i < n; i++)
        if (!store_cert_stamp_empty(&s[i]))
            rc = put_line(&b, &v[i], &s[i]);
    if (rc < 0)
        rc = err_set(e, -ENOMEM, "out of memory");
    else
        rc = fsio_write_atomic(path, b.data, b.len, STORE_PRIV_FILE_MODE, e);
    buf_clear(&b);
    free(path);
    return rc;
}
