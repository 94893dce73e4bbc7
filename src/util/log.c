#include "util/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/sanitize.h"

static enum log_level g_level = LL_INFO;
static int g_journal = -1; /* -1: not yet read from the environment */

static const char *const level_names[] = {
    "emergency", "alert", "critical", "error", "warning", "notice", "info", "debug",
};

void log_init(void)
{
    const char *js = getenv("JOURNAL_STREAM");

    g_journal = (js && *js) ? 1 : 0;
}

void log_set_level(enum log_level level)
{
    g_level = level;
}

enum log_level log_get_level(void)
{
    return g_level;
}

int log_level_parse(const char *name, enum log_level *out)
{
    for (unsigned i = 0; i < sizeof level_names / sizeof level_names[0]; i++) {
        if (strcasecmp(name, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    if (strcasecmp(name, "warn") == 0) {
        *out = LL_WARN;
        return 0;
    }
    if (strcasecmp(name, "err") == 0 || strcasecmp(name, "crit") == 0) {
        *out = name[1] == 'r' || name[1] == 'R' ? LL_ERR : LL_CRIT;
        return 0;
    }
    return -EINVAL;
}

const char *log_prefix(enum log_level level, int journal, char *buf, unsigned len)
{
    if ((unsigned)level > LL_DEBUG)
        level = LL_DEBUG;
    if (journal)
        snprintf(buf, len, "<%d>", (int)level);
    else if (level == LL_INFO)
        snprintf(buf, len, "acmed: ");
    else
        snprintf(buf, len, "acmed: %s: ", level_names[level]);
    return buf;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char msg[4096];
    char prefix[32];
    const char *p, *nl;
    va_list ap;

    if (level > g_level)
        return;
    if (g_journal < 0)
        log_init();
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    log_prefix(level, g_journal, prefix, sizeof prefix);
    /* One write per line so concurrent writers (hooks sharing stderr) do not interleave
     * inside a line, and journald sees the priority on every line. */
    for (p = msg;; p = nl + 1) {
        char line[sizeof msg];

        nl = strchr(p, '\n');
        /* Defence in depth: whatever reached the message unfiltered cannot forge a line or
         * send a terminal escape (util/sanitize.h). */
        sanitize_log_line(line, sizeof line, p, nl ? (size_t)(nl - p) : strlen(p));
        fprintf(stderr, "%s%s\n", prefix, line);
        if (!nl || !nl[1])
            break;
    }
    fflush(stderr);
}
