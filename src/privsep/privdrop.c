/* privdrop: resolving the worker's user, dropping privileges, exec'ing ourselves. */
#include "privsep/privdrop.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <linux/capability.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

/* getpwnam_r into out; 1 found, 0 not found, negative on a lookup error. */
static int lookup(const char *name, struct privdrop_id *out, struct err *e)
{
    struct passwd pw, *res = NULL;
    char buf[4096];
    int rc;

    rc = getpwnam_r(name, &pw, buf, sizeof buf, &res);
    if (rc != 0 && rc != ENOENT && rc != ESRCH)
        return err_sys(e, -rc, "cannot look up user \"%s\"", name);
    if (!res)
        return 0;
    if (strlen(name) >= sizeof out->name)
        return err_set(e, -ENAMETOOLONG, "user name \"%.64s...\" is too long", name);
    snprintf(out->name, sizeof out->name, "%s", name);
    out->uid = pw.pw_uid;
    out->gid = pw.pw_gid;
    return 1;
}

int privdrop_resolve(const char *user, struct privdrop_id *out, struct err *e)
{
    int rc;

    memset(out, 0, sizeof *out);
    if (user) {
        rc = lookup(user, out, e);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return err_set(e, -ENOENT, "user \"%s\" (user:) does not exist", user);
        if (out->uid == 0)
            return err_set(e, -EINVAL,
                           "user \"%s\" (user:) is root: the worker must run unprivileged", user);
        return 0;
    }
    rc = lookup("acmed", out, e);
    if (rc < 0)
        return rc;
    if (rc == 0) {
        rc = lookup("nobody", out, e);
        if (rc < 0)
            return rc;
        if (rc == 0)
            return err_set(e, -ENOENT, "neither user \"acmed\" nor \"nobody\" exists: set user:");
        out->fallback = true;
    }
    if (out->uid == 0)
        return err_set(e, -EINVAL, "user \"%s\" is root: set user: to an unprivileged user",
                       out->name);
    return 0;
}

int privdrop_self_open(struct err *e)
{
    int fd = open("/proc/self/exe", O_PATH | O_CLOEXEC);

    if (fd < 0)
        return err_sys(e, -errno, "cannot open acmed's own binary (/proc/self/exe)");
    return fd;
}

static int capset_empty(void)
{
    struct __user_cap_header_struct h = {.version = _LINUX_CAPABILITY_VERSION_3, .pid = 0};
    struct __user_cap_data_struct d[2];

    memset(d, 0, sizeof d);
    return (int)syscall(SYS_capset, &h, d);
}

static int check(const struct privdrop_id *id, struct err *e)
{
    struct privdrop_facts f;
    int rc;

    if (setuid(0) == 0 || seteuid(0) == 0)
        return err_set(e, -EPERM, "could regain root after dropping privileges");
    if ((rc = privdrop_facts_read("/proc/self/status", &f, e)) < 0)
        return rc;
    if (f.cap_inh || f.cap_prm || f.cap_eff || f.cap_bnd || f.cap_amb)
        return err_set(e, -EPERM, "capabilities remain after dropping privileges");
    if (f.no_new_privs != 1)
        return err_set(e, -EPERM, "no_new_privs is not set");
    if (f.ngroups != 0)
        return err_set(e, -EPERM, "supplementary groups remain");
    if (f.ruid != id->uid || f.euid != id->uid || f.suid != id->uid || f.rgid != id->gid ||
        f.egid != id->gid || f.sgid != id->gid)
        return err_set(e, -EPERM, "ids are not %s's after dropping privileges", id->name);
    return 0;
}

int privdrop_apply(const struct privdrop_id *id, struct err *e)
{
    if (id->uid == 0)
        return err_set(e, -EINVAL, "refusing to run the worker as root");
    if (setgroups(0, NULL) < 0)
        return err_sys(e, -errno, "cannot drop supplementary groups");
    for (int cap = 0; cap < 64; cap++) {
        if (prctl(PR_CAPBSET_DROP, cap, 0, 0, 0) < 0) {
            if (errno == EINVAL)
                break; /* past the last capability this kernel knows */
            return err_sys(e, -errno, "cannot drop capability %d from the bounding set", cap);
        }
    }
    if (setresgid(id->gid, id->gid, id->gid) < 0)
        return err_sys(e, -errno, "cannot set group id %u", (unsigned)id->gid);
    if (setresuid(id->uid, id->uid, id->uid) < 0)
        return err_sys(e, -errno, "cannot set user id %u (%s)", (unsigned)id->uid, id->name);
    if (prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
        return err_sys(e, -errno, "cannot clear ambient capabilities");
    if (capset_empty() < 0)
        return err_sys(e, -errno, "cannot clear capabilities");
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
        return err_sys(e, -errno, "cannot set no_new_privs");
    return check(id, e);
}

int privdrop_exec_self(int self_fd, char *const argv[], char *const envp[], struct err *e)
{
    syscall(SYS_execveat, self_fd, "", argv, envp, AT_EMPTY_PATH);
    return err_sys(e, -errno, "cannot execute acmed's own binary");
}

static int parse_ids(const char *v, unsigned long out[3])
{
    char *end;

    for (int i = 0; i < 3; i++) {
        errno = 0;
        out[i] = strtoul(v, &end, 10);
        if (errno || end == v)
            return -1;
        v = end;
    }
    return 0;
}

int privdrop_facts_read(const char *path, struct privdrop_facts *f, struct err *e)
{
    FILE *fp = fopen(path, "re");
    char line[512];
    unsigned seen = 0;
    unsigned long ids[3];

    if (!fp)
        return err_sys(e, -errno, "cannot open %s", path);
    memset(f, 0, sizeof *f);
    while (fgets(line, sizeof line, fp)) {
        char *v = strchr(line, ':');

        if (!v)
            continue;
        *v++ = '\0';
        if (!strcmp(line, "CapInh"))
            f->cap_inh = strtoull(v, NULL, 16), seen |= 1;
        else if (!strcmp(line, "CapPrm"))
            f->cap_prm = strtoull(v, NULL, 16), seen |= 2;
        else if (!strcmp(line, "CapEff"))
            f->cap_eff = strtoull(v, NULL, 16), seen |= 4;
        else if (!strcmp(line, "CapBnd"))
            f->cap_bnd = strtoull(v, NULL, 16), seen |= 8;
        else if (!strcmp(line, "CapAmb"))
            f->cap_amb = strtoull(v, NULL, 16), seen |= 16;
        else if (!strcmp(line, "NoNewPrivs"))
            f->no_new_privs = atoi(v), seen |= 32;
        else if (!strcmp(line, "Groups")) {
            int n = 0;

            for (char *p = strtok(v, " \t\n"); p; p = strtok(NULL, " \t\n"))
                n++;
            f->ngroups = n;
            seen |= 64;
        } else if (!strcmp(line, "Uid") && parse_ids(v, ids) == 0) {
            f->ruid = (uid_t)ids[0], f->euid = (uid_t)ids[1], f->suid = (uid_t)ids[2];
            seen |= 128;
        } else if (!strcmp(line, "Gid") && parse_ids(v, ids) == 0) {
            f->rgid = (gid_t)ids[0], f->egid = (gid_t)ids[1], f->sgid = (gid_t)ids[2];
            seen |= 256;
        }
    }
    fclose(fp);
    if (seen != 511)
        return err_set(e, -EPROTO, "%s lacks a capability, NoNewPrivs, Groups, Uid or Gid line",
                       path);
    return 0;
}
