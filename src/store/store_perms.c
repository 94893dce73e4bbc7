/* store_perms: who may write where acmed takes its orders from (see store.h, "ownership").
 *
 * acmed runs as root and does what desired/ and conf/ say: it writes files into the webroot
 * paths a desired file names, binds the ports it names, hands its challenge.env to hooks,
 * and (later) runs the signer commands conf/target names. Whoever can write there can
 * therefore act as root, so when we are root we say so, loudly, each time the state is
 * read. We only warn: acmetool's state directories must keep working as they are. */
#include "store/store.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/fsio.h"
#include "util/log.h"
#include "util/trust.h"

/* Warns about path (described by st) when it is not root's alone. Returns 1 when it did. */
static unsigned warn_unless_root(const char *path, const struct stat *st)
{
    const char *what;

    if (st->st_uid == 0 && !trust_shared_write(st))
        return 0;
    if (st->st_uid != 0)
        what = trust_shared_write(st) ? "is not owned by root and is writable by group or others"
                                      : "is not owned by root";
    else
        what = "is writable by group or others";
    log_warn("SECURITY: %s %s (owner uid %u, group gid %u, mode %04o): write access to a "
             "state directory, its desired/ and conf/ is root-equivalent (acmed runs as root "
             "and acts on what they say); make it root's and not writable by group or others "
             "(chown root; chmod go-w)",
             path, what, (unsigned)st->st_uid, (unsigned)st->st_gid,
             (unsigned)(st->st_mode & 07777));
    return 1;
}

/* Checks root/rel (never following a symlink; missing is fine). */
static unsigned check_one(const char *root, const char *rel)
{
    char *path = fsio_join(root, rel);
    struct stat st;
    unsigned n = 0;

    if (path && lstat(path, &st) == 0)
        n = warn_unless_root(path, &st);
    free(path);
    return n;
}

/* Every regular file in root/desired (what desired_load reads; dotfiles are not targets). */
static unsigned check_desired_files(const char *root)
{
    char *dir = fsio_join(root, "desired");
    DIR *d = dir ? opendir(dir) : NULL;
    struct dirent *de;
    unsigned n = 0;

    while (d && (de = readdir(d)) != NULL) {
        struct stat st;
        char *path;

        if (de->d_name[0] == '.' || fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
            !S_ISREG(st.st_mode))
            continue;
        /* The name goes to the log: desired_load shows it escaped, so do the same. */
        path = fsio_join(dir, de->d_name);
        for (char *c = path ? path + strlen(dir) : NULL; c && *c; c++)
            if ((unsigned char)*c < 0x20 || *c == 0x7f)
                *c = '?';
        if (path)
            n += warn_unless_root(path, &st);
        free(path);
    }
    if (d)
        closedir(d);
    free(dir);
    return n;
}

unsigned store_check_ownership(const char *root)
{
    struct stat st;
    struct err e;
    unsigned n = 0;

    if (geteuid() != 0 || !root)
        return 0;
    /* The root itself may be a symlink (store_open follows it); what leads to it counts too,
     * since whoever can write to a directory above it can put another in its place. */
    if (stat(root, &st) == 0 && warn_unless_root(root, &st))
        n++;
    else if (trust_path(root, &e) == -EPERM) {
        log_warn("SECURITY: the state directory %s is not root's alone: %s; whoever can change "
                 "it can act as root",
                 root, e.msg);
        n++;
    }
    n += check_one(root, "desired");
    n += check_one(root, "conf");
    n += check_one(root, "conf/target");
    n += check_one(root, "conf/acmed.yaml");
    n += check_desired_files(root);
    return n;
}

int store_conf_trusted(const char *root, const char *rel, struct err *e)
{
    char *path = fsio_join(root, rel);
    struct err te;
    int rc;

    if (!path)
        return err_set(e, -ENOMEM, "out of memory");
    rc = trust_path(path, &te);
    if (rc == -EPERM)
        err_set(e, rc,
                "%s names a command to run as root but is not root's alone: %s; only a "
                "file root owns and nobody else can write to, in directories likewise, may "
                "name commands",
                path, te.msg);
    else if (rc < 0)
        err_set(e, rc, "%s: %s", path, te.msg);
    free(path);
    return rc;
}
