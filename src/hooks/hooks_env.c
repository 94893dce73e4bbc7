/* hooks_env: the environment a hook runs with (see hooks_env.h). */
#include "hooks/hooks_env.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/envsafe.h"
#include "util/log.h"

extern char **environ;

static bool env_key_eq(const char *a, const char *b)
{
    size_t la = strcspn(a, "="), lb = strcspn(b, "=");

    return la == lb && memcmp(a, b, la) == 0;
}

/* systemd's hand-over to the daemon itself: a hook that inherited it could speak for acmed
 * (READY=1, WATCHDOG=1) or be taken for it. */
static bool daemon_only(const char *kv)
{
    static const char *const names[] = {"NOTIFY_SOCKET=", "WATCHDOG_PID=", "WATCHDOG_USEC=", NULL};

    for (size_t i = 0; names[i]; i++)
        if (!strncmp(kv, names[i], strlen(names[i])))
            return true;
    return false;
}

/* One entry of the target's challenge.env: false (with a warning) when it must not reach a
 * hook. The desired file's schema refuses these names already; this is the second line, so
 * that the daemon's own value (root's), or none, is what a hook gets whatever happened
 * above. */
static bool target_env_ok(const char *kv)
{
    size_t len = strcspn(kv, "=");

    if (envsafe_name_allowed(kv, len))
        return true;
    if (envsafe_name_valid(kv, len))
        log_warn("hook environment: %.*s from challenge.env dropped: not allowed (it could run "
                 "code in hooks)",
                 (int)len, kv);
    else
        log_warn("hook environment: an entry of challenge.env with an invalid name dropped");
    return false;
}

int hooks_env_build(const char *const *extra, size_t nextra, const char *state_dir, char ***envp,
                    struct err *e)
{
    size_t nenv = 0, nall = 0, n = 0;
    const char **all = NULL;
    char *statedir = NULL, **out = NULL;
    int rc = 0;

    *envp = NULL;
    while (environ && environ[nenv])
        nenv++;
    all = calloc(nenv + nextra + 2, sizeof *all);
    if (!all) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nenv; i++)
        if (!daemon_only(environ[i]))
            all[nall++] = environ[i];
    for (size_t i = 0; i < nextra; i++) {
        const char *kv = extra[i];

        if (!kv || kv[0] == '=' || !strchr(kv, '=')) {
            rc = err_set(e, -EINVAL, "invalid hook environment entry \"%s\"", kv ? kv : "");
            goto out;
        }
        if (target_env_ok(kv))
            all[nall++] = kv;
    }
    if (state_dir) {
        if (asprintf(&statedir, "ACME_STATE_DIR=%s", state_dir) < 0) {
            statedir = NULL;
            rc = err_set(e, -ENOMEM, "out of memory");
            goto out;
        }
        all[nall++] = statedir;
    }
    if (!(out = calloc(nall + 1, sizeof *out))) {
        rc = err_set(e, -ENOMEM, "out of memory");
        goto out;
    }
    for (size_t i = 0; i < nall; i++) {
        bool replaced = false;

        for (size_t k = i + 1; k < nall && !replaced; k++)
            replaced = env_key_eq(all[i], all[k]);
        if (replaced)
            continue;
        if (!(out[n++] = strdup(all[i]))) {
            rc = err_set(e, -ENOMEM, "out of memory");
            goto out;
        }
    }
    *envp = out;
    out = NULL;
out:
    for (size_t i = 0; out && out[i]; i++)
        free(out[i]);
    free(out);
    free(statedir);
    free(all);
    return rc;
}
