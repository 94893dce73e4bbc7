#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

static void die(const char *what, const char *path)
{
    fprintf(stderr, "testutil: %s %s: %s\n", what, path, strerror(errno));
    abort();
}

char *tu_mkdtemp(const char *prefix)
{
    const char *base = getenv("ACMED_TEST_TMP");
    char tmpl[4096];

    if (!base || !*base)
        base = "/tmp";
    mkdir(base, 0755);
    snprintf(tmpl, sizeof tmpl, "%s/%s-XXXXXX", base, prefix);
    if (!mkdtemp(tmpl))
        die("mkdtemp", tmpl);
    return strdup(tmpl);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

int tu_rmtree(const char *path)
{
    return nftw(path, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

char *tu_read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *data = NULL;
    long n;

    if (!f)
        return NULL;
    if (fseek(f, 0, SEEK_END) != 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) != 0)
        die("seek", path);
    data = malloc((size_t)n + 1);
    if (!data || fread(data, 1, (size_t)n, f) != (size_t)n)
        die("read", path);
    data[n] = '\0';
    fclose(f);
    if (len)
        *len = (size_t)n;
    return data;
}

char *tu_read_data(const char *rel, size_t *len)
{
    const char *base = getenv("ACMED_TEST_DATA");
    char path[4096];
    char *data;

    snprintf(path, sizeof path, "%s/%s", base ? base : "tests/data", rel);
    data = tu_read_file(path, len);
    if (!data)
        die("open", path);
    return data;
}

void tu_write_file(const char *path, const char *content)
{
    FILE *f = fopen(path, "wb");

    if (!f)
        die("create", path);
    if (fputs(content, f) == EOF || fclose(f) != 0)
        die("write", path);
}

static void on_watchdog(uv_timer_t *t)
{
    *(int *)t->data = 1;
}

int tu_run_until(uv_loop_t *loop, const int *flag, uint64_t ms)
{
    uv_timer_t wd;
    int expired = 0;

    uv_timer_init(loop, &wd);
    wd.data = &expired;
    uv_timer_start(&wd, on_watchdog, ms, 0);
    while (!*flag && !expired)
        uv_run(loop, UV_RUN_ONCE);
    uv_close((uv_handle_t *)&wd, NULL);
    uv_run(loop, UV_RUN_NOWAIT);
    return *flag != 0;
}

int tu_wait_unix_listening(const char *path, unsigned ms)
{
    for (unsigned waited = 0; waited <= ms; waited += 20) {
        struct sockaddr_un sun = {.sun_family = AF_UNIX};
        int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0), ok;

        snprintf(sun.sun_path, sizeof sun.sun_path, "%s", path);
        ok = fd >= 0 && connect(fd, (struct sockaddr *)&sun, sizeof sun) == 0;
        if (fd >= 0)
            close(fd);
        if (ok)
            return 1;
        usleep(20000);
    }
    return 0;
}
