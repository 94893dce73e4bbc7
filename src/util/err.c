#include "util/err.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

void err_clear(struct err *e)
{
    if (e) {
        e->code = 0;
        e->msg[0] = '\0';
    }
}

static int norm(int code)
{
    if (code > 0)
        return -code;
    return code == 0 ? -EIO : code;
}

int err_set(struct err *e, int code, const char *fmt, ...)
{
    va_list ap;

    code = norm(code);
    if (!e)
        return code;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    return code;
}

int err_sys(struct err *e, int code, const char *fmt, ...)
{
    va_list ap;
    size_t n;

    code = norm(code);
    if (!e)
        return code;
    e->code = code;
    va_start(ap, fmt);
    vsnprintf(e->msg, sizeof e->msg, fmt, ap);
    va_end(ap);
    n = strlen(e->msg);
    snprintf(e->msg + n, sizeof e->msg - n, ": %s", strerror(-code));
    return code;
}

int err_wrap(struct err *e, const char *fmt, ...)
{
    char prefix[ERR_MSG_MAX];
    char old[ERR_MSG_MAX];
    va_list ap;

    if (!e)
        return -EIO;
    if (e->code == 0)
        e->code = -EIO;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, e->msg, sizeof old);
    if (old[0])
        snprintf(e->msg, sizeof e->msg, "%s: %s", prefix, old);
    else
        snprintf(e->msg, sizeof e->msg, "%s", prefix);
    return e->code;
}

const char *err_msg(const struct err *e)
{
    if (!e || !e->msg[0])
        return "unknown error";
    return e->msg;
}
