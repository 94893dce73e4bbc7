/* proc: process-wide hardening (see proc.h). */
#include "util/proc.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <unistd.h>

int proc_harden(struct err *e)
{
    struct rlimit none = {0, 0};
    struct sigaction sa = {.sa_handler = SIG_IGN};

    if (setrlimit(RLIMIT_CORE, &none) < 0)
        return err_sys(e, -errno, "cannot set RLIMIT_CORE to 0");
    if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        return err_sys(e, -errno, "cannot make the process not dumpable");
    sigemptyset(&sa.sa_mask);
    if (sigaction(SIGPIPE, &sa, NULL) < 0)
        return err_sys(e, -errno, "cannot ignore SIGPIPE");
    return 0;
}

int proc_cloexec_all(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *de;
    int changed = 0;

    if (!d)
        return -errno;
    while ((de = readdir(d))) {
        char *end;
        long fd = strtol(de->d_name, &end, 10);
        int flags;

        if (*end || end == de->d_name || fd < 3 || fd == dirfd(d))
            continue;
        flags = fcntl((int)fd, F_GETFD);
        if (flags < 0 || (flags & FD_CLOEXEC))
            continue;
        if (fcntl((int)fd, F_SETFD, flags | FD_CLOEXEC) == 0)
            changed++;
    }
    closedir(d);
    return changed;
}

int proc_mem_read(struct proc_mem *m)
{
    return proc_mem_read_path("/proc/self/status", m);
}

int proc_mem_read_path(const char *path, struct proc_mem *m)
{
    static const char *const names[] = {"VmHWM:", "VmRSS:", "RssAnon:", "RssFile:"};
    long *const dst[] = {&m->hwm, &m->rss, &m->anon, &m->file};
    FILE *f = fopen(path, "re");
    char line[256];
    unsigned found = 0;

    if (!f)
        return -errno;
    while (fgets(line, sizeof line, f)) {
        for (size_t i = 0; i < 4; i++) {
            size_t len = strlen(names[i]);

            if (strncmp(line, names[i], len) == 0) {
                *dst[i] = strtol(line + len, NULL, 10);
                found |= 1u << i;
            }
        }
    }
    fclose(f);
    return found == 0xf ? 0 : -ENOENT;
}

static void memstat_print(void)
{
    struct proc_mem m;

    if (proc_mem_read(&m) == 0)
        fprintf(stderr, "acmed: memstat: VmHWM=%ld VmRSS=%ld RssAnon=%ld RssFile=%ld kB\n", m.hwm,
                m.rss, m.anon, m.file);
}

bool proc_memstat_wanted(void)
{
    const char *v = getenv("ACMED_BENCH_MEMSTAT");

    return v && *v && strcmp(v, "0") != 0;
}

void proc_memstat_at_exit(void)
{
    const char *v = getenv("ACMED_BENCH_MEMSTAT");

    if (v && *v && strcmp(v, "0") != 0)
        atexit(memstat_print);
}
