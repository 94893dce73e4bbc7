/* trust: walks a path from / the way the kernel resolves it, one component at a time,
 * following symbolic links by hand, and checks the owner and mode of everything it meets
 * (see trust.h). The walk works on path strings: what it establishes is that only root (or
 * we) can change any of it, so nothing can be swapped between this check and the use. */
#include "util/trust.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

/* As the kernel's limit on links followed in one lookup. */
#define TRUST_MAX_LINKS 40

bool trust_owner_ok(const struct stat *st)
{
    return st->st_uid == 0 || st->st_uid == geteuid();
}

bool trust_shared_write(const struct stat *st)
{
    return (st->st_mode & (S_IWGRP | S_IWOTH)) != 0;
}

static int refuse(struct err *e, const char *path, const struct stat *st, const char *why)
{
    return err_set(e, -EPERM, "%s %s (owner uid %u, mode %04o)", path[0] ? path : "/", why,
                   (unsigned)st->st_uid, (unsigned)(st->st_mode & 07777));
}

/* The checks every component gets: its owner, and for a directory its mode. */
static int check_common(const char *path, const struct stat *st, struct err *e)
{
    static const char *const writers[4] = {"", "others", "group", "group and others"};
    char why[96];

    if (!trust_owner_ok(st)) {
        if (geteuid() == 0)
            snprintf(why, sizeof why, "is not owned by root");
        else
            snprintf(why, sizeof why, "is owned by neither root nor uid %u", (unsigned)geteuid());
        return refuse(e, path, st, why);
    }
    if (S_ISDIR(st->st_mode) && trust_shared_write(st) && !(st->st_mode & S_ISVTX)) {
        snprintf(why, sizeof why, "is writable by %s",
                 writers[(st->st_mode & S_IWGRP ? 2 : 0) | (st->st_mode & S_IWOTH ? 1 : 0)]);
        return refuse(e, path, st, why);
    }
    return 0;
}

/* The last component, when it is not a directory: not writable by anyone else, and not a
 * hard link someone may have made in a directory open to others. `dir` holds it. */
static int check_leaf(const char *path, const char *dir, const struct stat *st, struct err *e)
{
    struct stat dst;

    if (trust_shared_write(st))
        return refuse(e, path, st, "is writable by group or others");
    if (st->st_nlink > 1 && !S_ISDIR(st->st_mode)) {
        if (lstat(dir[0] ? dir : "/", &dst) < 0)
            return err_sys(e, -errno, "cannot examine %s", dir[0] ? dir : "/");
        if (trust_shared_write(&dst))
            return refuse(e, path, st,
                          "has several hard links and lies in a directory others can write to");
    }
    return 0;
}

/* Replaces the unwalked rest of the path (from `tail`, which points into rest) with the
 * link's target followed by that tail. */
static int splice_link(char *rest, size_t restsz, const char *target, const char *tail)
{
    char tmp[2 * PATH_MAX];

    if ((size_t)snprintf(tmp, sizeof tmp, "%s%s", target, tail) >= sizeof tmp ||
        strlen(tmp) >= restsz)
        return -ENAMETOOLONG;
    memcpy(rest, tmp, strlen(tmp) + 1);
    return 0;
}

int trust_path(const char *path, struct err *e)
{
    char cur[PATH_MAX] = "", rest[2 * PATH_MAX], target[PATH_MAX];
    struct stat st;
    const char *p;
    size_t curlen = 0;
    int links = 0, n, rc;

    if (!path || !*path)
        return err_set(e, -EINVAL, "empty path");
    if (path[0] != '/' && !getcwd(cur, sizeof cur))
        return err_sys(e, -errno, "cannot resolve %s", path);
    n = snprintf(rest, sizeof rest, "%s/%s", cur, path);
    if (n < 0 || (size_t)n >= sizeof rest)
        return err_set(e, -ENAMETOOLONG, "%s: path too long", path);
    cur[0] = '\0';
    if (lstat("/", &st) < 0)
        return err_sys(e, -errno, "cannot examine /");
    if ((rc = check_common("/", &st, e)) < 0)
        return rc;
    for (p = rest;;) {
        const char *end;
        size_t clen, before = curlen;

        while (*p == '/')
            p++;
        if (!*p)
            return 0; /* ended on a directory, already checked */
        end = strchrnul(p, '/');
        clen = (size_t)(end - p);
        if (clen == 1 && p[0] == '.') {
            p = end;
            continue;
        }
        if (clen == 2 && p[0] == '.' && p[1] == '.') {
            /* cur is a real directory (links are resolved as met): its parent was checked on
             * the way down. */
            char *slash = strrchr(cur, '/');

            if (slash)
                *slash = '\0';
            curlen = strlen(cur);
            p = end;
            continue;
        }
        if (curlen + 1 + clen >= sizeof cur)
            return err_set(e, -ENAMETOOLONG, "%s: path too long", path);
        cur[curlen] = '/';
        memcpy(cur + curlen + 1, p, clen);
        curlen += 1 + clen;
        cur[curlen] = '\0';
        if (lstat(cur, &st) < 0)
            return err_sys(e, -errno, "cannot examine %s", cur);
        if ((rc = check_common(cur, &st, e)) < 0)
            return rc;
        if (S_ISLNK(st.st_mode)) {
            ssize_t tl;

            if (++links > TRUST_MAX_LINKS)
                return err_set(e, -ELOOP, "%s: too many levels of symbolic links", path);
            tl = readlink(cur, target, sizeof target - 1);
            if (tl < 0)
                return err_sys(e, -errno, "cannot read the link %s", cur);
            target[tl] = '\0';
            /* Go on from the directory holding the link (or from / for an absolute target). */
            curlen = target[0] == '/' ? 0 : before;
            cur[curlen] = '\0';
            if (splice_link(rest, sizeof rest, target, end) < 0)
                return err_set(e, -ENAMETOOLONG, "%s: path too long", path);
            p = rest;
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            p = end;
            continue;
        }
        if (*end)
            return err_set(e, -ENOTDIR, "%s is not a directory", cur);
        memcpy(target, cur, curlen + 1);
        cur[before] = '\0';
        return check_leaf(target, cur, &st, e);
    }
}
