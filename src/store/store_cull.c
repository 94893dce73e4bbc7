/* store cull: what certs/, keys/ and state/ hold, read without trusting it (no symlink
 * followed, names validated), and the removal of a certificate key directory. `acmed cull`
 * decides; the file system is walked only here. */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "store/store_internal.h"
#include "util/log.h"

void store_ids_free(char **ids, size_t n)
{
    store_names_free(ids, n);
}

/* The entries of <root>/<sub> for which keep(name) holds (after store_name_valid). */
static int list_sub(const struct store *st, const char *sub,
                    bool (*keep)(const char *dir, char *name), char ***out, size_t *n,
                    struct err *e)
{
    char *dir = store_path(st, sub), **v = NULL;
    size_t cnt = 0, kept = 0;
    int rc;

    *out = NULL;
    *n = 0;
    if (!dir)
        return err_set(e, -ENOMEM, "out of memory");
    if ((rc = store_list_dir(dir, false, &v, &cnt, e)) < 0)
        goto out;
    for (size_t i = 0; i < cnt; i++) {
        if (keep(dir, v[i]))
            v[kept++] = v[i];
        else
            free(v[i]);
    }
    *out = v;
    *n = kept;
    v = NULL;
    cnt = 0;
out:
    store_names_free(v, cnt);
    free(dir);
    return rc;
}

static bool keep_id(const char *dir, char *name)
{
    (void)dir;
    return store_id_valid(name);
}

int store_cert_ids(const struct store *st, char ***ids, size_t *n, struct err *e)
{
    return list_sub(st, "certs", keep_id, ids, n, e);
}

int store_key_ids(const struct store *st, char ***ids, size_t *n, struct err *e)
{
    return list_sub(st, "keys", keep_id, ids, n, e);
}

/* A regular file (lstat) named <something>.json; the name is cut to <something>. */
static bool keep_state(const char *dir, char *name)
{
    size_t len = strlen(name);
    char *path = NULL;
    struct stat sb;
    bool yes;

    if (len <= 5 || strcmp(name + len - 5, ".json") || asprintf(&path, "%s/%s", dir, name) < 0)
        return false;
    yes = lstat(path, &sb) == 0 && S_ISREG(sb.st_mode);
    free(path);
    if (yes)
        name[len - 5] = '\0';
    return yes;
}

int store_state_files(const struct store *st, char ***files, size_t *n, struct err *e)
{
    return list_sub(st, "state", keep_state, files, n, e);
}

int store_cert_key_link(const struct store *st, const char *cert_id, char *key_id, struct err *e)
{
    static const char pre[] = "../../keys/", post[] = "/privkey";
    char *path = NULL, *target = NULL;
    size_t len;
    int rc;

    if (!store_id_valid(cert_id))
        return err_set(e, -EINVAL, "invalid certificate id \"%s\"", cert_id ? cert_id : "");
    if (!(path = store_pathf(st, "certs/%s/privkey", cert_id)))
        return err_set(e, -ENOMEM, "out of memory");
    /* No link (or not one): no key of ours. */
    if ((rc = store_read_link(path, &target, e)) < 0) {
        if (rc != -ENOMEM)
            rc = err_set(e, -ENOENT, "certs/%s/privkey is not a link", cert_id);
        goto out;
    }
    len = strlen(target);
    if (len != sizeof pre - 1 + STORE_ID_LEN + sizeof post - 1 ||
        strncmp(target, pre, sizeof pre - 1) || strcmp(target + len - (sizeof post - 1), post)) {
        rc = err_set(e, -EXDEV, "certs/%s/privkey points at %s", cert_id, target);
        goto out;
    }
    memcpy(key_id, target + sizeof pre - 1, STORE_ID_LEN);
    key_id[STORE_ID_LEN] = '\0';
    if (!store_id_valid(key_id))
        rc = err_set(e, -EXDEV, "certs/%s/privkey points at %s", cert_id, target);
out:
    free(target);
    free(path);
    return rc;
}

/* Checks that keys/<id> (open as fd) holds nothing but the regular file privkey. */
static int key_dir_plain(int fd, const char *id, struct err *e)
{
    int dfd = dup(fd), rc = 0;
    struct dirent *de;
    struct stat sb;
    DIR *d;

    if (dfd < 0 || !(d = fdopendir(dfd))) {
        rc = err_sys(e, -errno, "cannot list keys/%s", id);
        if (dfd >= 0)
            close(dfd);
        return rc;
    }
    while (rc == 0 && (de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        if (strcmp(de->d_name, "privkey") ||
            fstatat(fd, de->d_name, &sb, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(sb.st_mode))
            rc = err_set(e, -EINVAL,
                         "keys/%s/%s is not the regular file privkey; refusing to remove "
                         "keys/%s",
                         id, de->d_name, id);
    }
    closedir(d);
    return rc;
}

int store_key_remove(const struct store *st, const char *id, struct err *e)
{
    char *keys = NULL;
    int kfd = -1, fd = -1, rc = 0;

    if (!store_id_valid(id))
        return err_set(e, -EINVAL, "invalid key id \"%s\"", id ? id : "");
    if (!(keys = store_path(st, "keys")))
        return err_set(e, -ENOMEM, "out of memory");
    if ((kfd = open(keys, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        rc = err_sys(e, -errno, "cannot open %s", keys);
        goto out;
    }
    if ((fd = openat(kfd, id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC)) < 0) {
        rc = err_sys(e, errno == ENOENT ? -ENOENT : -EINVAL,
                     "keys/%s is not a directory; refusing it", id);
        goto out;
    }
    if ((rc = key_dir_plain(fd, id, e)) < 0)
        goto out;
    /* unlinkat never follows a symlink, and privkey was just seen to be a regular file. */
    if (unlinkat(fd, "privkey", 0) < 0 && errno != ENOENT) {
        rc = err_sys(e, -errno, "cannot remove keys/%s/privkey", id);
        goto out;
    }
    if (unlinkat(kfd, id, AT_REMOVEDIR) < 0) {
        rc = err_sys(e, -errno, "cannot remove keys/%s", id);
        goto out;
    }
    if (fsync(kfd) < 0)
        log_warn("cannot fsync %s: %s", keys, strerror(errno));
out:
    if (fd >= 0)
        close(fd);
    if (kfd >= 0)
        close(kfd);
    free(keys);
    return rc;
}
