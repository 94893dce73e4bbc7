#include "etcd_env.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#define EE_MAX 32
#define EE_LINE 1024

static char lines[EE_MAX][EE_LINE];
static int nlines = -1; /* -1: not read yet */

static void load(void)
{
    const char *path = getenv("ETCD_ENV");
    FILE *f;

    if (nlines >= 0)
        return;
    nlines = 0;
    if (!path || !(f = fopen(path, "r"))) {
        fprintf(stderr,
                "etcd_env: cannot read $ETCD_ENV (%s): run through ctest, which starts "
                "the etcd fixture\n",
                path ? path : "unset");
        return;
    }
    while (nlines < EE_MAX && fgets(lines[nlines], EE_LINE, f)) {
        lines[nlines][strcspn(lines[nlines], "\r\n")] = '\0';
        if (strchr(lines[nlines], '='))
            nlines++;
    }
    fclose(f);
}

const char *ee_get(const char *key)
{
    size_t n = strlen(key);

    load();
    for (int i = 0; i < nlines; i++) {
        if (strncmp(lines[i], key, n) == 0 && lines[i][n] == '=')
            return lines[i] + n + 1;
    }
    fail_msg("etcd_env: %s missing from the fixture environment file %s", key,
             getenv("ETCD_ENV") ? getenv("ETCD_ENV") : "(ETCD_ENV unset)");
    return NULL;
}
