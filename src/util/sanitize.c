/* sanitize: one filter for server text (see sanitize.h). */
#include "util/sanitize.h"

#include <stdlib.h>
#include <string.h>

/* The length of the well-formed, printable UTF-8 character at s (n bytes available), or 0
 * when s starts a control character or an ill-formed sequence (RFC 3629: no overlong forms,
 * no surrogates, nothing above U+10FFFF). */
static size_t char_len(const unsigned char *s, size_t n, bool keep_tab)
{
    size_t want, i;

    if (s[0] == '\t' && keep_tab)
        return 1;
    if (s[0] < 0x20 || s[0] == 0x7f)
        return 0;
    if (s[0] < 0x80)
        return 1;
    if (s[0] >= 0xc2 && s[0] <= 0xdf)
        want = 2;
    else if (s[0] >= 0xe0 && s[0] <= 0xef)
        want = 3;
    else if (s[0] >= 0xf0 && s[0] <= 0xf4)
        want = 4;
    else
        return 0;
    if (n < want)
        return 0;
    for (i = 1; i < want; i++)
        if ((s[i] & 0xc0) != 0x80)
            return 0;
    if (s[0] == 0xc2 && s[1] <= 0x9f) /* C1 controls */
        return 0;
    if ((s[0] == 0xe0 && s[1] < 0xa0) || (s[0] == 0xed && s[1] > 0x9f) ||
        (s[0] == 0xf0 && s[1] < 0x90) || (s[0] == 0xf4 && s[1] > 0x8f))
        return 0;
    return want;
}

static size_t filter(char *dst, size_t size, const char *src, size_t len, bool keep_tab)
{
    const unsigned char *s = (const unsigned char *)src;
    size_t in = 0, out = 0, mark = 0;

    if (size == 0)
        return 0;
    while (in < len) {
        size_t n = char_len(s + in, len - in, keep_tab);
        size_t w = n ? n : 1;
        /* A control character spelled in two bytes (C1) takes one '?'. Measured before the
         * write, which may overwrite the input when dst is src. */
        size_t adv = n ? n
                     : (s[in] == 0xc2 && in + 1 < len && s[in + 1] >= 0x80 && s[in + 1] <= 0x9f)
                         ? 2
                         : 1;

        /* Remember where "..." would go: the last point with room for it and the NUL. */
        if (out + 3 + 1 <= size)
            mark = out;
        if (out + w + 1 > size)
            break;
        if (n)
            memmove(dst + out, s + in, n);
        else
            dst[out] = '?';
        out += w;
        in += adv;
    }
    if (in < len && size >= 4) {
        memcpy(dst + mark, "...", 3);
        out = mark + 3;
    }
    dst[out] = '\0';
    return out;
}

size_t sanitize_into(char *dst, size_t size, const char *src, size_t len)
{
    return filter(dst, size, src, len, false);
}

size_t sanitize_log_line(char *dst, size_t size, const char *src, size_t len)
{
    return filter(dst, size, src, len, true);
}

char *sanitize_dup(const char *s)
{
    return sanitize_dup_max(s, SANITIZE_MAX);
}

char *sanitize_dup_max(const char *s, size_t max)
{
    size_t len, cap;
    char *d;

    if (!s)
        return NULL;
    len = strlen(s);
    cap = len + 1 < max ? len + 1 : max;
    if (cap < 4)
        cap = 4;
    if (!(d = malloc(cap)))
        return NULL;
    sanitize_into(d, cap, s, len);
    return d;
}

bool sanitize_is_clean(const char *s)
{
    size_t len = strlen(s), i = 0;

    if (len >= SANITIZE_MAX)
        return false;
    while (i < len) {
        size_t n = char_len((const unsigned char *)s + i, len - i, false);

        if (!n)
            return false;
        i += n;
    }
    return true;
}
