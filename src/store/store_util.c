/* store_util: the helpers of store_internal.h shared by the store_*.c files. */
#include "store/store_internal.h"

#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <ftw.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/clock.h"
#include "util/fsio.h"

char *store_pathf(const struct store *st, const char *fmt, ...)
{
    va_list ap;
    char *rel = NULL, *path;
    int n;

    va_start(ap, fmt);
    n = vasprintf(&rel, fmt, ap);
    va_end(ap);
    if (n < 0)
        return NULL;
    path = fsio_join(st->root, rel);
    free(rel);
    return path;
}

bool store_name_valid(const char *s)
{
    return s && s[0] != '\0' && s[0] != '.' && !strchr(s, '/');
}

bool store_is_real_dir(const char *path)
{
    struct stat sb;

    return lstat(path, &sb) == 0 && S_ISDIR(sb.st_mode);
}

int store_ensure_dir(const char *path, mode_t mode, struct err *e)
{
    struct stat sb;

    if (mkdir(path, mode & 07777) == 0) {
        /* mkdir applied the umask: set the mode exactly. */
        if (chmod(path, mode & 07777) < 0)
            return err_sys(e, -errno, "cannot chmod %s", path);
        /* The new entry is durable before anything is written into it. */
        return fsio_fsync_parent(path, e);
    }
    if (errno != EEXIST)
        return err_sys(e, -errno, "cannot create directory %s", path);
    if (lstat(path, &sb) < 0)
        return err_sys(e, -errno, "cannot stat %s", path);
    if (S_ISLNK(sb.st_mode))
        return err_set(e, -ELOOP, "%s is a symbolic link; refusing to follow it", path);
    if (!S_ISDIR(sb.st_mode))
        return err_set(e, -ENOTDIR, "%s exists and is not a directory", path);
    return 0;
}

int store_read_link(const char *path, char **target, struct err *e)
{
    char buf[PATH_MAX + 1];
    ssize_t n;

    /* One readlink(2), no lstat first: it fails with EINVAL for anything but a link. */
    *target = NULL;
    n = readlink(path, buf, sizeof buf);
    if (n < 0 && errno == EINVAL)
        return err_set(e, -EINVAL, "%s is not a symbolic link", path);
    if (n < 0)
        return err_sys(e, -errno, "cannot read link %s", path);
    if ((size_t)n >= sizeof buf)
        return err_set(e, -ENAMETOOLONG, "%s: link target too long", path);
    buf[n] = '\0';
    if (!(*target = strdup(buf)))
        return err_set(e, -ENOMEM, "out of memory");
    return 0;
}

/* The lexical walk: a stack of components, ".." pops, "." and empty ones are skipped. Going
 * below the stack's bottom means leaving the state directory. */
int store_link_resolve(const char *base_rel, const char *target, char **out)
{
    size_t cap = strlen(base_rel) + strlen(target) + 2;
    char *res = NULL, *copy = NULL, *save = NULL, *tok;
    size_t len = 0;
    int rc = 0;

    *out = NULL;
    if (target[0] == '/' || target[0] == '\0')
        return -EXDEV;
    res = calloc(1, cap);
    copy = malloc(cap);
    if (!res || !copy) {
        rc = -ENOMEM;
        goto out;
    }
    snprintf(copy, cap, "%s/%s", base_rel, target);
    for (tok = strtok_r(copy, "/", &save); tok; tok = strtok_r(NULL, "/", &save)) {
        if (strcmp(tok, ".") == 0)
            continue;
        if (strcmp(tok, "..") == 0) {
            char *slash;

            if (len == 0) {
                rc = -EXDEV;
                goto out;
            }
            slash = strrchr(res, '/');
            len = slash ? (size_t)(slash - res) : 0;
            res[len] = '\0';
            continue;
        }
        if (len)
            res[len++] = '/';
        memcpy(res + len, tok, strlen(tok) + 1);
        len += strlen(tok);
    }
    if (len == 0)
        rc = -EXDEV; /* the state directory itself is never a valid link target */
out:
    free(copy);
    if (rc < 0)
        free(res);
    else
        *out = res;
    return rc;
}

static int cmp_names(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

void store_names_free(char **names, size_t n)
{
    if (!names)
        return;
    for (size_t i = 0; i < n; i++)
        free(names[i]);
    free(names);
}

static bool entry_is_dir(DIR *d, const struct dirent *de)
{
    struct stat sb;

    if (de->d_type == DT_DIR)
        return true;
    if (de->d_type != DT_UNKNOWN)
        return false;
    return fstatat(dirfd(d), de->d_name, &sb, AT_SYMLINK_NOFOLLOW) == 0 && S_ISDIR(sb.st_mode);
}

int store_list_dir(const char *dir, bool dirs_only, char ***names, size_t *n, struct err *e)
{
    DIR *d = opendir(dir);
    struct dirent *de;
    char **v = NULL;
    size_t cnt = 0, cap = 0;
    int rc = 0;

    *names = NULL;
    *n = 0;
    if (!d)
        return errno == ENOENT ? 0 : err_sys(e, -errno, "cannot open directory %s", dir);
    while ((de = readdir(d)) != NULL) {
        if (!store_name_valid(de->d_name) || (dirs_only && !entry_is_dir(d, de)))
            continue;
        if (cnt == cap) {
            size_t ncap = cap ? cap * 2 : 16;
            char **nv = realloc(v, ncap * sizeof *nv);

            if (!nv)
                goto oom;
            v = nv;
            cap = ncap;
        }
        if (!(v[cnt] = strdup(de->d_name)))
            goto oom;
        cnt++;
    }
    if (cnt)
        qsort(v, cnt, sizeof *v, cmp_names);
    *names = v;
    *n = cnt;
    v = NULL;
    goto out;
oom:
    rc = err_set(e, -ENOMEM, "out of memory listing %s", dir);
out:
    store_names_free(v, cnt);
    closedir(d);
    return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    return remove(path) < 0 && errno != ENOENT ? -1 : 0;
}

int store_rmtree(const char *path, struct err *e)
{
    struct stat sb;

    if (lstat(path, &sb) < 0)
        return errno == ENOENT ? 0 : err_sys(e, -errno, "cannot stat %s", path);
    /* FTW_PHYS: symlinks are removed, never followed. */
    if (nftw(path, rm_entry, 16, FTW_DEPTH | FTW_PHYS) != 0)
        return err_sys(e, errno ? -errno : -EIO, "cannot remove %s", path);
    return 0;
}

int store_json_set_time(json_t *o, const char *key, time_t t)
{
    char buf[32];

    if (t == 0)
        return 0;
    clock_rfc3339(t, buf, sizeof buf);
    return json_object_set_new(o, key, json_string(buf));
}

time_t store_json_get_time(const json_t *o, const char *key)
{
    json_t *v = json_object_get(o, key);
    time_t t = 0;

    if (json_is_integer(v))
        return (time_t)json_integer_value(v);
    if (json_is_string(v) && clock_parse_rfc3339(json_string_value(v), &t) == 0)
        return t;
    return 0;
}

char *store_json_get_str(const json_t *o, const char *key, bool *oom)
{
    json_t *v = json_object_get(o, key);
    char *s;

    if (!json_is_string(v))
        return NULL;
    s = strdup(json_string_value(v));
    if (!s)
        *oom = true;
    return s;
}

int store_json_write(const char *path, json_t *o, mode_t mode, struct err *e)
{
    char *text = json_dumps(o, JSON_INDENT(2));
    char *line = NULL;
    int rc;

    if (!text || asprintf(&line, "%s\n", text) < 0) {
        free(text);
        return err_set(e, -ENOMEM, "out of memory writing %s", path);
    }
    rc = fsio_write_atomic(path, line, strlen(line), mode, e);
    free(text);
    free(line);
    return rc;
}

int store_json_read(const char *path, json_t **out, struct err *e)
{
    json_error_t jerr;
    char *text = NULL;
    size_t len = 0;
    json_t *o;
    int rc;

    *out = NULL;
    rc = fsio_read_file(path, STORE_MAX_FILE, &text, &len, e);
    if (rc < 0)
        return rc;
    o = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
    free(text);
    if (!o)
        return err_set(e, -EINVAL, "%s: invalid JSON (line %d: %s)", path, jerr.line, jerr.text);
    if (!json_is_object(o)) {
        json_decref(o);
        return err_set(e, -EINVAL, "%s: not a JSON object", path);
    }
    *out = o;
    return 0;
}
